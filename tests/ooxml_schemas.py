"""Validate every XML part of an xlsx/xlsm package against the ECMA-376 transitional schemas.

The schemas (``sml.xsd``, ``dml-*.xsd``, ``opc-*.xsd``, ``vml-*.xsd``, …) live in
``../shared/ooxml-xsd`` beside the checkout (its README.md).  Tests that need them skip when
the folder or lxml is missing, unless ``SZQA_REQUIRE_SCHEMAS=1`` (CI), which turns the skip into
a failure (:func:`require_schemas`).

How a part is checked (:func:`check_package`):

* its content type comes from ``[Content_Types].xml`` (Override by part name, else Default by
  extension, both case-insensitive as OPC says); a part without one is an error;
* the content type names the schema's root element (:data:`XML_PARTS`); a content type that is
  not in that table is reported as "no schema known" — an error, never a silent pass;
* the relationship types that reach the part must be the ones its content type belongs to
  (a worksheet reached as ``…/chart`` is wrong), and every internal relationship's target must
  exist;
* the part is parsed (well-formedness), Markup Compatibility (ECMA-376 Part 3) is applied as a
  consumer that understands only the namespaces of these schemas would (``mc:Ignorable``
  content dropped, ``mc:AlternateContent`` resolved, ``mc:MustUnderstand`` enforced), then the
  root element's name is compared with the expected one and the tree is validated with lxml's
  ``XMLSchema``;
* VML drawings (``<xml>`` holding ``v:``/``o:``/``x:`` elements, not itself in any schema) are
  checked element by element: the root must be the unqualified ``xml`` and each child is
  validated against ``vml-*.xsd``;
* binary parts (``vbaProject.bin``, printer settings, images) have no XML to validate: they are
  listed as skipped with the reason (:data:`BINARY_PARTS`).

What is not validated: binary parts only (``vbaProject.bin`` and the like, listed as skipped).
The theme is validated: its root ``a:theme`` (``CT_OfficeStyleSheet``) is declared in
``dml-main.xsd``.

Workarounds in the schema set, both applied in memory (the files are never changed):

* ``vml-main.xsd`` reaches ``wml.xsd`` and ``shared-math.xsd``, which import the ``xml:``
  namespace without a ``schemaLocation``, so ``vml-main.xsd`` does not compile on its own
  ("xml:space does not resolve to an attribute declaration").  All schemas are compiled once
  through one generated wrapper that imports ``xml.xsd`` first, by location, and then every
  root schema (:data:`ROOT_SCHEMAS`); it is parsed with the schema folder as its base URL so
  the relative schema locations resolve, and nothing is fetched from the network.
* the copy's ``CT_Textbox`` (``v:textbox``) lacks the ``<xsd:any namespace="##local"
  processContents="skip"/>`` that the published ECMA-376 and ISO/IEC 29500 schemas have, so
  the HTML-like ``<div>`` Excel writes in every button's and comment's text box would be
  rejected; a resolver serves ``vml-main.xsd`` with that one wildcard restored
  (:func:`_patched_vml_main`), reported in :attr:`Schemas.workarounds`.
"""

from __future__ import annotations

import os
import posixpath
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path, PurePosixPath
from urllib.parse import unquote

import pytest

SCHEMAS_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "ooxml-xsd"
SCHEMAS_MISSING = "../shared/ooxml-xsd not found beside the checkout"
REQUIRE_ENV = "SZQA_REQUIRE_SCHEMAS"

ROOT_SCHEMAS = (
    "sml.xsd",
    "dml-main.xsd",
    "dml-chart.xsd",
    "dml-spreadsheetDrawing.xsd",
    "dml-chartDrawing.xsd",
    "opc-contentTypes.xsd",
    "opc-relationships.xsd",
    "opc-coreProperties.xsd",
    "shared-documentPropertiesExtended.xsd",
    "shared-documentPropertiesCustom.xsd",
    "vml-main.xsd",
    "vml-officeDrawing.xsd",
    "vml-spreadsheetDrawing.xsd",
)
"""Every schema the wrapper imports (each brings its own imports)."""

XML_NS = "http://www.w3.org/XML/1998/namespace"
MC_NS = "http://schemas.openxmlformats.org/markup-compatibility/2006"
SML = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
DML = "http://schemas.openxmlformats.org/drawingml/2006/main"
CHART = "http://schemas.openxmlformats.org/drawingml/2006/chart"
XDR = "http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing"
CT = "http://schemas.openxmlformats.org/package/2006/content-types"
PR = "http://schemas.openxmlformats.org/package/2006/relationships"
CP = "http://schemas.openxmlformats.org/package/2006/metadata/core-properties"
EP = "http://schemas.openxmlformats.org/officeDocument/2006/extended-properties"
CUSTOM = "http://schemas.openxmlformats.org/officeDocument/2006/custom-properties"
VML_NAMESPACES = (
    "urn:schemas-microsoft-com:vml",
    "urn:schemas-microsoft-com:office:office",
    "urn:schemas-microsoft-com:office:excel",
)

REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
CT_SML = "application/vnd.openxmlformats-officedocument.spreadsheetml."
CT_DOC = "application/vnd.openxmlformats-officedocument."
RELS_CT = "application/vnd.openxmlformats-package.relationships+xml"
VML_CT = "application/vnd.openxmlformats-officedocument.vmlDrawing"
CONTENT_TYPES_PART = "[Content_Types].xml"


@dataclass(frozen=True)
class XmlKind:
    root: str
    """Clark name ``{namespace}local`` of the root element the content type requires."""
    rel_types: tuple[str, ...]
    """Relationship types that may reach a part of this kind (empty: none is checked)."""


XML_PARTS: dict[str, XmlKind] = {
    CT_SML + "sheet.main+xml": XmlKind(f"{{{SML}}}workbook", (REL + "officeDocument",)),
    CT_SML + "template.main+xml": XmlKind(f"{{{SML}}}workbook", (REL + "officeDocument",)),
    "application/vnd.ms-excel.sheet.macroEnabled.main+xml": XmlKind(
        f"{{{SML}}}workbook", (REL + "officeDocument",)
    ),
    "application/vnd.ms-excel.template.macroEnabled.main+xml": XmlKind(
        f"{{{SML}}}workbook", (REL + "officeDocument",)
    ),
    CT_SML + "worksheet+xml": XmlKind(f"{{{SML}}}worksheet", (REL + "worksheet",)),
    CT_SML + "chartsheet+xml": XmlKind(f"{{{SML}}}chartsheet", (REL + "chartsheet",)),
    CT_SML + "styles+xml": XmlKind(f"{{{SML}}}styleSheet", (REL + "styles",)),
    CT_SML + "sharedStrings+xml": XmlKind(f"{{{SML}}}sst", (REL + "sharedStrings",)),
    CT_SML + "calcChain+xml": XmlKind(f"{{{SML}}}calcChain", (REL + "calcChain",)),
    CT_SML + "sheetMetadata+xml": XmlKind(f"{{{SML}}}metadata", (REL + "sheetMetadata",)),
    CT_SML + "comments+xml": XmlKind(f"{{{SML}}}comments", (REL + "comments",)),
    CT_SML + "table+xml": XmlKind(f"{{{SML}}}table", (REL + "table",)),
    CT_DOC + "drawingml.chart+xml": XmlKind(f"{{{CHART}}}chartSpace", (REL + "chart",)),
    CT_DOC + "drawing+xml": XmlKind(f"{{{XDR}}}wsDr", (REL + "drawing",)),
    # The theme's root, a:theme (CT_OfficeStyleSheet), is declared in dml-main.xsd.
    CT_DOC + "theme+xml": XmlKind(f"{{{DML}}}theme", (REL + "theme",)),
    "application/vnd.openxmlformats-package.core-properties+xml": XmlKind(
        f"{{{CP}}}coreProperties",
        ("http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties",),
    ),
    CT_DOC + "extended-properties+xml": XmlKind(f"{{{EP}}}Properties", (REL + "extended-properties",)),
    CT_DOC + "custom-properties+xml": XmlKind(f"{{{CUSTOM}}}Properties", (REL + "custom-properties",)),
    RELS_CT: XmlKind(f"{{{PR}}}Relationships", ()),
}
"""Content type → what its XML must be.  Anything else is "no schema known"."""

VML_REL_TYPES = (REL + "vmlDrawing",)

BINARY_PARTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "application/vnd.ms-office.vbaProject": (
        "binary (VBA project, an OLE compound file): no XML to validate",
        ("http://schemas.microsoft.com/office/2006/relationships/vbaProject",),
    ),
    CT_SML + "printerSettings": ("binary (printer settings): no XML to validate", (REL + "printerSettings",)),
    "image/png": ("binary (image): no XML to validate", (REL + "image",)),
    "image/jpeg": ("binary (image): no XML to validate", (REL + "image",)),
}
"""Content type → (why it is not validated, the relationship types that may reach it)."""


# -- finding and compiling the schemas ----------------------------------------------------------


def require_schemas(schemas_dir: Path = SCHEMAS_DIR) -> Path:
    """The schema folder, with lxml importable; skip (or fail, see the module doc) otherwise."""
    missing = [f for f in ("xml.xsd", "vml-main.xsd", *ROOT_SCHEMAS) if not (schemas_dir / f).is_file()]
    reason = None
    if not schemas_dir.is_dir():
        reason = f"{SCHEMAS_MISSING} ({schemas_dir})"
    elif missing:
        reason = f"{schemas_dir} lacks {', '.join(sorted(set(missing)))}"
    else:
        try:
            import lxml.etree  # noqa: F401
        except ImportError:
            reason = "lxml is not installed (pip install -e '.[test]')"
    if reason is not None:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{reason} and {REQUIRE_ENV}=1", pytrace=False)
        pytest.skip(reason)
    return schemas_dir


def _wrapper_xsd(schemas_dir: Path) -> bytes:
    imports = [("http://www.w3.org/XML/1998/namespace", "xml.xsd")]
    for name in ROOT_SCHEMAS:
        imports.append((_target_namespace(schemas_dir / name), name))
    lines = [f'  <xsd:import namespace="{ns}" schemaLocation="{loc}"/>' for ns, loc in imports]
    return (
        '<xsd:schema xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
        'targetNamespace="urn:szqa-xl:tests:ooxml-wrapper">\n' + "\n".join(lines) + "\n</xsd:schema>\n"
    ).encode()


def _target_namespace(xsd: Path) -> str:
    from lxml import etree

    ns = etree.parse(str(xsd)).getroot().get("targetNamespace")
    assert ns, f"{xsd.name} has no targetNamespace"
    return ns


@dataclass
class Schemas:
    schema: object
    """The compiled ``lxml.etree.XMLSchema`` of every namespace below."""
    namespaces: frozenset[str]
    """Target namespaces of every schema compiled (what a Markup Compatibility consumer understands)."""
    workarounds: tuple[str, ...]
    """What was changed in the schema set as compiled (see :func:`_patched_vml_main`)."""


XSD_NS = "http://www.w3.org/2001/XMLSchema"


def _patched_vml_main(schemas_dir: Path) -> tuple[bytes | None, str | None]:
    """vml-main.xsd with CT_Textbox as ECMA-376 and ISO/IEC 29500 publish it, if the copy differs.

    Every published edition declares ``CT_Textbox`` as a choice of ``w:txbxContent`` or
    ``<xsd:any namespace="##local" processContents="skip"/>``: the unqualified, HTML-like
    ``<div>``/``<font>`` text that Excel itself writes in the text box of a form button or a
    comment.  The copy in ../shared/ooxml-xsd lacks the wildcard, so every Excel-style button
    would be "invalid"; the wildcard is restored in memory (the file is not changed).  Returns
    (patched bytes, note), or (None, None) when the copy already has it.
    """
    from lxml import etree

    path = schemas_dir / "vml-main.xsd"
    tree = etree.parse(str(path))
    found = tree.getroot().findall(f"{{{XSD_NS}}}complexType[@name='CT_Textbox']")
    assert len(found) == 1, "vml-main.xsd: no single CT_Textbox; revisit _patched_vml_main"
    choice = found[0].find(f"{{{XSD_NS}}}choice")
    assert choice is not None and [etree.QName(c).localname for c in choice] in (
        ["element"],
        ["element", "any"],
    ), "vml-main.xsd: CT_Textbox is not choice(w:txbxContent[, any]); revisit _patched_vml_main"
    if choice.find(f"{{{XSD_NS}}}any") is not None:
        return None, None
    etree.SubElement(choice, f"{{{XSD_NS}}}any", namespace="##local", processContents="skip")
    note = (
        "vml-main.xsd: CT_Textbox lacks the published <xsd:any namespace='##local' "
        "processContents='skip'/> (the HTML-like text Excel writes in a button or comment); "
        "restored in memory"
    )
    return etree.tostring(tree, xml_declaration=True, encoding="utf-8"), note


@cache
def load_schemas(schemas_dir: Path = SCHEMAS_DIR) -> Schemas:
    """Compile all the schemas once (a few tenths of a second); no network access."""
    from lxml import etree

    patched, note = _patched_vml_main(schemas_dir)
    vml_main_uri = (schemas_dir.resolve() / "vml-main.xsd").as_uri()

    class Resolver(etree.Resolver):
        def resolve(self, url, pubid, context):
            if patched is not None and url == vml_main_uri:
                return self.resolve_string(patched, context, base_url=url)
            return None

    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    parser.resolvers.add(Resolver())
    base = schemas_dir.resolve().as_uri() + "/"
    wrapper = etree.fromstring(_wrapper_xsd(schemas_dir), parser, base_url=base + "wrapper.xsd")
    schema = etree.XMLSchema(wrapper)
    return Schemas(schema, frozenset(_compiled_namespaces(schemas_dir)), (note,) if note else ())


def _compiled_namespaces(schemas_dir: Path) -> set[str]:
    from lxml import etree

    seen_files: set[str] = set()
    namespaces = {XML_NS, MC_NS}
    todo = ["xml.xsd", *ROOT_SCHEMAS]
    while todo:
        name = todo.pop()
        if name in seen_files:
            continue
        seen_files.add(name)
        root = etree.parse(str(schemas_dir / name)).getroot()
        namespaces.add(root.get("targetNamespace"))
        for imp in root.iter("{http://www.w3.org/2001/XMLSchema}import"):
            loc = imp.get("schemaLocation")
            if loc:
                todo.append(loc)
    return namespaces


# -- the package --------------------------------------------------------------------------------


@dataclass
class PartResult:
    part: str
    content_type: str | None
    checked_as: str
    """What it was validated as (root element, "VML", …) or why it was skipped."""
    errors: list[str] = field(default_factory=list)
    skipped: bool = False
    """True for parts that have no XML to validate (binary); never for an unknown XML part."""

    @property
    def invalid(self) -> bool:
        return bool(self.errors)


def _ct_lookup(types_xml: bytes) -> tuple[dict[str, str], dict[str, str], list[str]]:
    from lxml import etree

    errors: list[str] = []
    root = etree.fromstring(types_xml, etree.XMLParser(no_network=True, resolve_entities=False))
    overrides: dict[str, str] = {}
    defaults: dict[str, str] = {}
    for el in root:
        if el.tag == f"{{{CT}}}Override":
            name = el.get("PartName", "")
            if name.lower() in overrides:
                errors.append(f"Override {name} appears twice")
            overrides[name.lower()] = el.get("ContentType", "")
        elif el.tag == f"{{{CT}}}Default":
            ext = el.get("Extension", "")
            if ext.lower() in defaults:
                errors.append(f"Default for extension {ext} appears twice")
            defaults[ext.lower()] = el.get("ContentType", "")
    return overrides, defaults, errors


def _content_type(part: str, overrides: dict[str, str], defaults: dict[str, str]) -> str | None:
    found = overrides.get("/" + part.lower())
    if found is not None:
        return found
    segment = part.rsplit("/", 1)[-1]
    if "." not in segment:
        return None
    return defaults.get(segment.rsplit(".", 1)[1].lower())


def _rels_source(rels_part: str) -> str:
    """``xl/_rels/workbook.xml.rels`` → ``xl/workbook.xml``; ``_rels/.rels`` → ``""`` (the package)."""
    p = PurePosixPath(rels_part)
    source = p.name[: -len(".rels")]
    if not source:
        return ""
    folder = p.parent.parent
    return source if str(folder) == "." else f"{folder}/{source}"


def _resolve(source: str, target: str) -> str:
    target = unquote(target)
    if target.startswith("/"):
        joined = target
    else:
        joined = posixpath.join("/" + posixpath.dirname(source), target)
    return posixpath.normpath(joined).lstrip("/")


def _relationships(files: dict[str, bytes]) -> tuple[dict[str, set[str]], dict[str, list[str]]]:
    """Incoming relationship types per part, and errors per .rels part (dangling targets, …)."""
    from lxml import etree

    incoming: dict[str, set[str]] = {}
    errors: dict[str, list[str]] = {}
    lower = {n.lower(): n for n in files}
    for name, data in files.items():
        if not name.endswith(".rels") or PurePosixPath(name).parent.name != "_rels":
            continue
        try:
            root = etree.fromstring(data, etree.XMLParser(no_network=True, resolve_entities=False))
        except etree.XMLSyntaxError:
            continue  # reported when the part itself is validated
        source = _rels_source(name)
        if source and source not in files:
            errors.setdefault(name, []).append(f"relationships of {source}, which is not in the package")
        ids: set[str] = set()
        for rel in root.iter(f"{{{PR}}}Relationship"):
            rid, rtype, target = rel.get("Id"), rel.get("Type", ""), rel.get("Target", "")
            if rid in ids:
                errors.setdefault(name, []).append(f"relationship Id {rid} appears twice")
            ids.add(rid)
            if rel.get("TargetMode") == "External":
                continue
            part = _resolve(source, target)
            actual = lower.get(part.lower())
            if actual is None:
                errors.setdefault(name, []).append(
                    f"relationship {rid} ({rtype.rsplit('/', 1)[-1]}) targets {target!r}, "
                    f"which is not in the package"
                )
                continue
            incoming.setdefault(actual, set()).add(rtype)
    return incoming, errors


def check_package(path: Path | str) -> list[PartResult]:
    """One result per entry of the zip (plus package-level findings), in zip order."""
    from lxml import etree

    schemas = load_schemas()
    with zipfile.ZipFile(path) as zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        names = [i.filename for i in infos]
        files = {i.filename: zf.read(i) for i in infos}
    results: list[PartResult] = []
    dupes = sorted({n for n in names if names.count(n) > 1})
    for n in dupes:
        results.append(PartResult(n, None, "zip entry", [f"zip entry {n!r} appears {names.count(n)} times"]))
    if CONTENT_TYPES_PART not in files:
        results.append(PartResult(CONTENT_TYPES_PART, None, "content types", ["missing from the package"]))
        return results
    try:
        overrides, defaults, ct_errors = _ct_lookup(files[CONTENT_TYPES_PART])
    except etree.XMLSyntaxError as exc:
        results.append(PartResult(CONTENT_TYPES_PART, None, "content types", [f"not well-formed: {exc}"]))
        return results
    lower_names = {n.lower() for n in files}
    for name in overrides:
        if name.lstrip("/") not in lower_names:
            ct_errors.append(f"Override for {name}, which is not in the package")
    incoming, rel_errors = _relationships(files)

    for name in dict.fromkeys(names):
        data = files[name]
        if name == CONTENT_TYPES_PART:
            res = PartResult(name, None, f"{{{CT}}}Types")
            res.errors += ct_errors
            res.errors += _validate_xml(data, f"{{{CT}}}Types", schemas)
            results.append(res)
            continue
        ctype = _content_type(name, overrides, defaults)
        if ctype is None:
            results.append(PartResult(name, None, "?", ["no content type in [Content_Types].xml"]))
            continue
        reached_by = incoming.get(name, set())
        if ctype in BINARY_PARTS:
            why, allowed = BINARY_PARTS[ctype]
            res = PartResult(name, ctype, why, skipped=True)
            res.errors += _rel_type_errors(reached_by, allowed)
            res.skipped = not res.errors
        elif ctype == VML_CT:
            res = PartResult(name, ctype, "VML (each child of <xml> against vml-*.xsd)")
            res.errors += _rel_type_errors(reached_by, VML_REL_TYPES)
            res.errors += _validate_vml(data, schemas)
        elif ctype in XML_PARTS:
            kind = XML_PARTS[ctype]
            res = PartResult(name, ctype, kind.root)
            if kind.rel_types:
                res.errors += _rel_type_errors(reached_by, kind.rel_types)
            res.errors += _validate_xml(data, kind.root, schemas)
        else:
            res = PartResult(name, ctype, "?", [f"no schema known for content type {ctype!r}"])
        res.errors += rel_errors.get(name, [])
        results.append(res)
    return results


def invalid_parts(path: Path | str) -> list[tuple[str, list[str]]]:
    """(part, error messages) for every part that is not valid, including "no schema known"."""
    return [(r.part, r.errors) for r in check_package(path) if r.invalid]


def _rel_type_errors(reached_by: Iterable[str], allowed: tuple[str, ...]) -> list[str]:
    wrong = sorted(set(reached_by) - set(allowed))
    return [f"reached by relationship type {t}, expected {' or '.join(allowed)}" for t in wrong]


# -- one part -----------------------------------------------------------------------------------


def _parse(data: bytes):
    from lxml import etree

    parser = etree.XMLParser(no_network=True, resolve_entities=False, huge_tree=True)
    return etree.fromstring(data, parser)


def _validate_xml(data: bytes, expected_root: str, schemas: Schemas) -> list[str]:
    from lxml import etree

    try:
        root = _parse(data)
    except etree.XMLSyntaxError as exc:
        return [f"not well-formed: {exc}"]
    errors = apply_markup_compatibility(root, schemas.namespaces)
    if root.tag != expected_root:
        return [*errors, short(f"root element is {root.tag}, expected {expected_root}")]
    return errors + _schema_errors(etree.ElementTree(root), schemas)


def _validate_vml(data: bytes, schemas: Schemas) -> list[str]:
    """VML: ``<xml>`` (no namespace, in no schema) whose children are VML elements."""
    from lxml import etree

    try:
        root = _parse(data)
    except etree.XMLSyntaxError as exc:
        return [f"not well-formed: {exc}"]
    errors = apply_markup_compatibility(root, schemas.namespaces)
    if root.tag != "xml":
        return [*errors, f"root element is {root.tag}, expected the unqualified <xml> of a VML drawing"]
    if root.attrib:
        errors.append(f"unexpected attributes on <xml>: {dict(root.attrib)}")
    if (root.text or "").strip():
        errors.append("text directly inside <xml>")
    for child in root:
        if not isinstance(child.tag, str):
            continue  # comments, processing instructions
        if etree.QName(child).namespace not in VML_NAMESPACES:
            errors.append(f"line {child.sourceline}: {child.tag} is not a VML element")
            continue
        errors += _schema_errors(child, schemas)
    return errors


PREFIXES = {
    SML: "x",
    DML: "a",
    CHART: "c",
    XDR: "xdr",
    CT: "ct",
    PR: "pr",
    CP: "cp",
    EP: "ep",
    CUSTOM: "op",
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships": "r",
    "http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes": "vt",
    "http://purl.org/dc/elements/1.1/": "dc",
    "http://purl.org/dc/terms/": "dcterms",
    "urn:schemas-microsoft-com:vml": "v",
    "urn:schemas-microsoft-com:office:office": "o",
    "urn:schemas-microsoft-com:office:excel": "xv",
}
"""Prefixes used in error messages instead of ``{namespace}`` (readability only)."""


def short(message: str) -> str:
    for ns, prefix in PREFIXES.items():
        message = message.replace(f"{{{ns}}}", f"{prefix}:")
    return message


def _schema_errors(tree, schemas: Schemas) -> list[str]:
    schema = schemas.schema
    if schema.validate(tree):
        return []
    return [short(f"line {e.line}: {e.message}") for e in schema.error_log]


# -- Markup Compatibility (ECMA-376 Part 3) -------------------------------------------------------


def _prefixed_namespaces(el, value: str | None) -> list[str]:
    out = []
    for prefix in (value or "").split():
        ns = el.nsmap.get(prefix)
        out.append(ns if ns is not None else f"(undeclared prefix {prefix!r})")
    return out


def apply_markup_compatibility(root, understood: frozenset[str]) -> list[str]:
    """Preprocess ``root`` in place as an MCE consumer that understands ``understood``.

    Returns errors (a non-understood ``mc:MustUnderstand`` namespace, a malformed
    ``mc:AlternateContent``).  A part without any ``mc:`` markup is left untouched.
    """
    errors: list[str] = []
    _mce(root, understood, frozenset(), frozenset(), errors)
    return errors


def _mce(el, understood, ignorable, process, errors) -> None:
    from lxml import etree

    a_ign, a_proc, a_must = (
        f"{{{MC_NS}}}Ignorable",
        f"{{{MC_NS}}}ProcessContent",
        f"{{{MC_NS}}}MustUnderstand",
    )
    if a_must in el.attrib:
        for ns in _prefixed_namespaces(el, el.get(a_must)):
            if ns not in understood:
                errors.append(f"line {el.sourceline}: mc:MustUnderstand names {ns}, which is not understood")
    ignorable = ignorable | set(_prefixed_namespaces(el, el.get(a_ign))) - understood
    if a_proc in el.attrib:
        for qname in el.get(a_proc).split():
            prefix, _, local = qname.rpartition(":")
            process = process | {(el.nsmap.get(prefix), local)}
    for att in list(el.attrib):
        ns = etree.QName(att).namespace
        if ns == MC_NS or (ns is not None and ns in ignorable):
            del el.attrib[att]

    for child in list(el):
        if not isinstance(child.tag, str):
            continue
        q = etree.QName(child)
        if q.namespace == MC_NS and q.localname == "AlternateContent":
            for c in _replace_with_children(el, child, _choose_alternate(child, understood, errors)):
                _mce(c, understood, ignorable, process, errors)
            continue
        if q.namespace in ignorable:
            if (q.namespace, q.localname) in process or (q.namespace, "*") in process:
                for c in _replace_with_children(el, child, list(child)):
                    _mce(c, understood, ignorable, process, errors)
            else:
                _replace_with_children(el, child, [])
            continue
        _mce(child, understood, ignorable, process, errors)


def _replace_with_children(parent, child, new: list) -> list:
    """Put ``new`` (elements) where ``child`` was, keeping the text around it; the new elements."""
    index = parent.index(child)
    tail = child.tail
    parent.remove(child)
    new = [c for c in new if isinstance(c.tag, str)]
    for k, c in enumerate(new):
        parent.insert(index + k, c)
    if tail:
        before = new[-1] if new else (parent[index - 1] if index > 0 else None)
        if before is not None:
            before.tail = (before.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    return new


def _choose_alternate(ac, understood, errors) -> list:
    """The children of the first mc:Choice whose Requires are understood, else of mc:Fallback."""
    from lxml import etree

    choices_done, fallback = False, []
    for branch in ac:
        if not isinstance(branch.tag, str):
            continue
        q = etree.QName(branch)
        if q.namespace != MC_NS or q.localname not in ("Choice", "Fallback"):
            errors.append(f"line {branch.sourceline}: {branch.tag} inside mc:AlternateContent")
        elif q.localname == "Choice":
            requires = _prefixed_namespaces(branch, branch.get("Requires"))
            if choices_done:
                errors.append(f"line {branch.sourceline}: mc:Choice after mc:Fallback")
            elif not requires:
                errors.append(f"line {branch.sourceline}: mc:Choice without Requires")
            elif all(ns in understood for ns in requires):
                return list(branch)
        else:
            if choices_done:
                errors.append(f"line {branch.sourceline}: a second mc:Fallback")
            else:
                choices_done = True
                fallback = list(branch)
    return fallback

"""Builders of hostile and broken scoresheets, and the batch check every hostile case shares.

Nothing here is a committed binary fixture: a small roster is generated and filled
by the simulated examiner (``szqa_xl.demo.fill_scoresheet``) once per session
(:func:`build_kit`), and every bad file is derived from one of those good files at
test time, either through openpyxl (what an examiner's spreadsheet program does)
or by editing the zip and its XML parts directly (what a damaged or malicious file
looks like).

Used by tests/test_hostile.py and tests/test_fuzz.py; ``tests/conftest.py`` registers
this module for pytest's assertion rewriting and provides the ``hostile_kit`` fixture.
"""

from __future__ import annotations

import bisect
import hashlib
import io
import re
import shutil
import struct
import warnings
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from xml.parsers import expat
from xml.sax.saxutils import escape

import pandas as pd

from szqa_xl.consolidation.batch import Consolidation, ReturnRecord, consolidate_dir
from szqa_xl.demo import Score, band_for, fill_scoresheet
from szqa_xl.problems import Problem
from szqa_xl.returns import DEFAULT_TIME_LIMIT
from szqa_xl.returns.reader import expected_layout, split_ref
from szqa_xl.scoresheet.generate import generate, read_manifest
from szqa_xl.scoresheet.layout import COL, SHEET_META, SHEET_SCORES, Issue, plan_scoresheet
from szqa_xl.standards import grid
from szqa_xl.standards.load import builtin_standard
from szqa_xl.xlsx.writer import render

YEAR = 2027
AWARD = "economic"
APPLICANT = ("EC-001", "深圳湾精密制造有限公司")
EXAMINERS = {"E01": "李明", "E02": "王芳", "E03": "陈强", "E04": "刘洋"}
GOOD = ("E01", "E02")
"""The clean returns present in every hostile batch."""
VICTIM = "E03"
"""The examiner whose return is damaged in a hostile batch (so it is never a duplicate of a good one)."""
MARKER = "HOSTILE-MARKER"
"""Placeholder text written by openpyxl and then replaced at XML level by text openpyxl refuses to write."""

COMPARE_COLUMNS = [
    "year",
    "award_category",
    "stage",
    "applicant_id",
    "examiner_id",
    "unit",
    "band",
    "band_index",
    "pct",
    "points",
    "strengths",
    "ofi",
    "evidence",
    "issue_id",
    "file",
]
MERGED = ("accepted", "incomplete")
STATUSES = ("accepted", "incomplete", "rejected", "duplicate", "skipped", "missing")

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
STRICT_NS = "http://purl.oclc.org/ooxml/spreadsheetml/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
OLE_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")

PartEdit = Callable[[bytes], bytes]


# -- the session's good files -----------------------------------------------------------------------


def roster_text(examiners: Iterable[str] = EXAMINERS) -> str:
    head = "applicant_id,applicant_name,award_category,applicant_kind,examiner_id,examiner_name,stage\n"
    rows = [
        f"{APPLICANT[0]},{APPLICANT[1]},{AWARD},organisation,{e},{EXAMINERS[e]},材料评审\n" for e in examiners
    ]
    return head + "".join(rows)


def examiner_scores(award: str, examiner: str) -> dict[str, Score]:
    """A complete, valid, deterministic set of scores; each examiner's differ."""
    std = builtin_standard(award)
    k = int(examiner[1:])
    out = {}
    for i, u in enumerate(std.units()):
        pct = grid.snap(30 + 5 * ((3 * i + 2 * k) % 12))
        out[u.code] = Score(
            band=band_for(std, u.kind, pct, prefer_upper=(i + k) % 2 == 0),
            pct=pct,
            strengths=f"{examiner} 优势 {u.code}：方法系统，覆盖主要业务单元。",
            ofi=f"{examiner} 改进机会 {u.code}：缺少基于数据的定期评价。",
            evidence=f"申报材料 P{10 + i}",
        )
    return out


class Kit:
    """Good scoresheets of one applicant and four examiners, issued, filled and consolidated."""

    def __init__(
        self,
        root: Path,
        manifest: Path,
        issued: dict[str, Path],
        filled: dict[str, Path],
        issue_ids: dict[str, str],
        baseline: pd.DataFrame,
    ):
        self.root = root
        self.manifest = manifest
        self.issued = issued
        self.filled = filled
        self.issue_ids = issue_ids
        self.baseline = baseline
        """Tidy rows of the GOOD returns consolidated on their own (COMPARE_COLUMNS, sorted)."""

    def __repr__(self) -> str:
        return f"Kit({self.root})"

    @property
    def victim(self) -> Path:
        return self.filled[VICTIM]

    def good_names(self) -> list[str]:
        return [self.filled[e].name for e in GOOD]

    def batch(self, dest: Path, examiners: Iterable[str] = GOOD) -> Path:
        """A returns folder holding copies of the clean returns."""
        dest.mkdir(parents=True, exist_ok=True)
        for e in examiners:
            shutil.copyfile(self.filled[e], dest / self.filled[e].name)
        return dest

    def issued_for(self, award: str, year: int, examiner: str, issue_id: str, dest: Path) -> Path:
        """A genuine scoresheet of another award category / year, rendered like ``generate`` does."""
        issue = Issue(
            year=year,
            applicant_id=APPLICANT[0],
            applicant_name=APPLICANT[1],
            examiner_id=examiner,
            examiner_name=EXAMINERS[examiner],
            issue_id=issue_id,
            generated_at="2027-04-01T00:00:00+00:00",
        )
        blank = render(
            plan_scoresheet(builtin_standard(award), issue).workbook, dest.with_suffix(".blank.xlsx")
        )
        fill_scoresheet(blank, dest, examiner_scores(award, examiner))
        blank.unlink()
        return dest


def build_kit(root: Path) -> Kit:
    root.mkdir(parents=True, exist_ok=True)
    roster = root / "roster.csv"
    roster.write_text(roster_text(), encoding="utf-8")
    result = generate(roster, YEAR, root / "issued")
    assert not result.problems, result.problems
    rows = read_manifest(result.manifest)
    issued = {r["examiner_id"]: root / "issued" / r["path"] for r in rows}
    issue_ids = {r["examiner_id"]: r["issue_id"] for r in rows}
    filled = {
        e: fill_scoresheet(p, root / "filled" / p.name, examiner_scores(AWARD, e)) for e, p in issued.items()
    }
    kit = Kit(root, result.manifest, issued, filled, issue_ids, pd.DataFrame())
    clean = kit.batch(root / "clean")
    cons = consolidate_dir(clean, workers=0)
    assert [r.status for r in cons.returns] == ["accepted", "accepted"], [r.problems for r in cons.returns]
    kit.baseline = tidy_of(cons.tidy, kit.good_names())
    assert len(kit.baseline) == 2 * len(builtin_standard(AWARD).units())
    return kit


def tidy_of(tidy: pd.DataFrame, files: Iterable[str]) -> pd.DataFrame:
    """The comparable part of the tidy rows of ``files``, in a stable order."""
    part = tidy[tidy["file"].isin(list(files))][COMPARE_COLUMNS]
    return part.sort_values(["file", "unit"], kind="stable").reset_index(drop=True)


def cell_of(code: str, field: str, award: str = AWARD) -> str:
    """Where the layout puts a unit's cell on 评分表, e.g. ('1.1', 'pct') -> 'H5'."""
    inputs, _ = expected_layout(award, False)
    row = split_ref(inputs[code]["pct"].split("!")[1])[0]
    return f"{COL[field]}{row}"


def first_unit(award: str = AWARD) -> str:
    return builtin_standard(award).units()[0].code


# -- checking a batch ----------------------------------------------------------------------------


def sha256_tree(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@dataclass
class BatchOutcome:
    cons: Consolidation
    folder: Path

    def record(self, name: str) -> ReturnRecord:
        received = [r for r in self.cons.returns if r.status != "missing"]
        found = [r for r in received if r.file == name or PurePosixPath(r.file).name == name]
        assert len(found) == 1, f"{name}: expected one record, got {[(r.file, r.status) for r in found]}"
        return found[0]


def check_batch(
    kit: Kit,
    folder: Path,
    *,
    manifest: bool = False,
    year: int | None = YEAR,
    workers: int = 1,
    time_limit: float = DEFAULT_TIME_LIMIT,
) -> BatchOutcome:
    """Consolidate ``folder`` (clean returns + hostile ones) and check the contract's batch half.

    - consolidation returns (never raises) and no file in the folder changes by one byte;
    - every spreadsheet file gets exactly one record with a known status, and a record that
      is not merged carries at least one problem naming its file;
    - the clean returns are accepted and their numbers and texts equal a clean batch's;
    - a file that is not merged contributes no row.
    """
    before = sha256_tree(folder)
    cons = consolidate_dir(
        folder, manifest=kit.manifest if manifest else None, year=year, workers=workers, time_limit=time_limit
    )
    assert sha256_tree(folder) == before, "an input file was modified, added or removed"
    out = BatchOutcome(cons, folder)
    received = [r for r in cons.returns if r.status != "missing"]
    assert sorted(r.file for r in received) == sorted(before), "every file gets exactly one record"
    for r in cons.returns:
        assert r.status in STATUSES, r
        if r.status not in MERGED:
            assert r.problems, f"{r.file} is {r.status} without a reason"
            assert all(p.message.strip() for p in r.problems), r.problems
        if r.status in ("rejected", "duplicate", "skipped"):
            assert any(p.file == PurePosixPath(r.file).name for p in r.problems), r.problems
            assert not (cons.tidy["file"] == r.file).any(), f"{r.file} is {r.status} but contributed rows"
    for name in kit.good_names():
        rec = out.record(name)
        assert rec.status == "accepted", (name, rec.status, [str(p) for p in rec.problems])
    # dtype may widen (int -> float) when another file leaves a unit unscored; values may not change
    pd.testing.assert_frame_equal(tidy_of(cons.tidy, kit.good_names()), kit.baseline, check_dtype=False)
    return out


def problem(
    rec: ReturnRecord,
    code: str | Iterable[str] | None = None,
    *,
    sheet: str | None = None,
    cell: str | Iterable[str] | None = None,
    words: Iterable[str] = (),
    status: str | Iterable[str] = "rejected",
) -> Problem:
    """Assert the record has this status and a problem with this code/sheet/cell/words; return it."""
    statuses = (status,) if isinstance(status, str) else tuple(status)
    shown = [str(p) for p in rec.problems]
    assert rec.status in statuses, f"{rec.file}: status {rec.status!r}, expected {statuses}: {shown}"
    codes = None if code is None else ((code,) if isinstance(code, str) else tuple(code))
    cells = None if cell is None else ((cell,) if isinstance(cell, str) else tuple(cell))
    candidates = [
        p
        for p in rec.problems
        if (codes is None or p.code in codes)
        and (sheet is None or p.sheet == sheet)
        and (cells is None or p.cell in cells)
    ]
    assert candidates, f"{rec.file}: no problem with code={codes} sheet={sheet} cell={cells}: {shown}"
    p = candidates[0]
    assert p.file == PurePosixPath(rec.file).name, p
    for w in words:
        assert w in p.message, f"{w!r} not in the message {p.message!r}"
    assert "Traceback" not in p.message
    return p


# -- XML located by a real parse -----------------------------------------------------------------
# openpyxl spells its XML one way without lxml and another with it (character references for
# non-ASCII text, namespace declarations on each element that uses them, ``<x/>`` for
# ``<x />``).  Edits of a part openpyxl wrote never search for a spelling: they parse the part
# (expat, with namespaces) and splice at the byte offsets of what they found, so they work on
# any legal spelling and leave everything they do not edit byte for byte as it was.

_START_TAG = re.compile(rb"""<[^\s/>]+(?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*\s*/?>""")
_END_TAG = re.compile(rb"</([^\s>]+)\s*>")
_ATTR = re.compile(rb"""(\s+)([^\s=/>]+)(\s*=\s*)("[^"]*"|'[^']*')""")


@dataclass
class Element:
    """An element as an XML parser reads it, with the byte offsets of its spelling in the part.

    ``name`` and the keys of ``attrs`` are in Clark notation (``{uri}local``); ``attrs`` values and
    ``text`` (the element's own character data) are decoded (character references, CDATA);
    ``spelt`` maps each attribute to its name as written (``r:id``); ``nsmap`` holds the prefixes in
    scope (None: the default namespace), ``declared`` those its start tag declares.
    ``xml[start:tag_end]`` is the start tag, ``xml[tag_end:content_end]`` the content and
    ``xml[start:end]`` the whole element; ``index`` is its place in :func:`elements`' list."""

    name: str
    qname: str
    attrs: dict[str, str]
    spelt: dict[str, str]
    nsmap: dict[str | None, str]
    declared: dict[str | None, str]
    start: int
    tag_end: int
    depth: int
    index: int
    parent: int | None
    content_end: int = -1
    end: int = -1
    chunks: list[str] = field(default_factory=list, repr=False)

    @property
    def local(self) -> str:
        return self.name.rpartition("}")[2]

    @property
    def text(self) -> str:
        return "".join(self.chunks)

    @property
    def empty(self) -> bool:
        """Written as an empty-element tag ``<x …/>``."""
        return self.tag_end == self.end


def main_name(local: str) -> str:
    return f"{{{MAIN_NS}}}{local}"


def _names(expat_name: str) -> tuple[str, str]:
    """expat's ``uri local prefix`` (namespace_prefixes=True) -> (Clark name, name as spelt)."""
    bits = expat_name.split(" ")
    if len(bits) == 1:
        return bits[0], bits[0]
    clark = f"{{{bits[0]}}}{bits[1]}"
    return clark, bits[1] if len(bits) == 2 else f"{bits[2]}:{bits[1]}"


def elements(xml: bytes) -> list[Element]:
    """Every element of the part in document order (it must be well-formed)."""
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.namespace_prefixes = True
    out: list[Element] = []
    stack: list[int] = []
    declared: dict[str | None, str] = {}

    def on_ns(prefix: str | None, uri: str) -> None:
        declared[prefix] = uri

    def on_start(name: str, attrs: dict[str, str]) -> None:
        i = parser.CurrentByteIndex
        tag = _START_TAG.match(xml, i)
        assert tag, f"no start tag at byte {i}"
        clark, qname = _names(name)
        names = {k: _names(k) for k in attrs}
        nsmap = dict(out[stack[-1]].nsmap) if stack else {}
        nsmap.update(declared)
        out.append(
            Element(
                name=clark,
                qname=qname,
                attrs={names[k][0]: v for k, v in attrs.items()},
                spelt={c: s for c, s in names.values()},
                nsmap=nsmap,
                declared=dict(declared),
                start=i,
                tag_end=tag.end(),
                depth=len(stack),
                index=len(out),
                parent=stack[-1] if stack else None,
            )
        )
        stack.append(len(out) - 1)
        declared.clear()

    def on_end(name: str) -> None:
        e = out[stack.pop()]
        if xml[e.tag_end - 2 : e.tag_end] == b"/>":
            e.content_end = e.end = e.tag_end
            return
        i = parser.CurrentByteIndex
        tag = _END_TAG.match(xml, i)
        assert tag and tag.group(1).decode() == e.qname, f"no end tag of {e.qname} at byte {i}"
        e.content_end, e.end = i, tag.end()

    def on_text(data: str) -> None:
        if stack:
            out[stack[-1]].chunks.append(data)

    parser.StartNamespaceDeclHandler = on_ns
    parser.StartElementHandler = on_start
    parser.EndElementHandler = on_end
    parser.CharacterDataHandler = on_text
    parser.Parse(xml, True)
    return out


def find(els: list[Element], tag: str, /, **attrs: str) -> list[Element]:
    """The elements called ``tag`` (Clark notation, or a local name in any namespace) whose
    attributes (unprefixed names) have these values."""
    match = (lambda e: e.name == tag) if tag.startswith("{") else (lambda e: e.local == tag)
    return [e for e in els if match(e) and all(e.attrs.get(k) == v for k, v in attrs.items())]


def the(els: list[Element], tag: str, /, **attrs: str) -> Element:
    found = find(els, tag, **attrs)
    assert len(found) == 1, f"{tag} {attrs}: {len(found)} elements"
    return found[0]


def inside(els: list[Element], parent: Element) -> list[Element]:
    """The descendants of ``parent``, in document order (``els``: all of the part's elements)."""
    assert els[parent.index] is parent
    return els[
        parent.index + 1 : bisect.bisect_left(els, parent.end, lo=parent.index + 1, key=lambda e: e.start)
    ]


def children(els: list[Element], parent: Element) -> list[Element]:
    return [e for e in inside(els, parent) if e.depth == parent.depth + 1]


def splice(xml: bytes, edits: Iterable[tuple[int, int, bytes]]) -> bytes:
    """``xml`` with each byte range ``[a, b)`` replaced; the ranges must not overlap."""
    out, pos = [], 0
    for a, b, new in sorted(edits, key=lambda t: (t[0], t[1])):
        assert a >= pos, "overlapping edits"
        out += [xml[pos:a], new]
        pos = b
    return b"".join([*out, xml[pos:]])


def quote_attr(value: str) -> bytes:
    return ('"' + escape(value, {'"': "&quot;"}) + '"').encode()


def start_tag(
    xml: bytes,
    el: Element,
    values: dict[str, str | None] | None = None,
    renames: dict[str, str] | None = None,
) -> bytes:
    """``el``'s start tag, its attributes named as spelt (``xmlns:r`` too) renamed by ``renames``,
    then set to ``values`` (in place, or added at the end; None removes one)."""
    values, renames = dict(values or {}), renames or {}
    tag = xml[el.start : el.tag_end]
    head = 1 + len(el.qname.encode())
    parts, pos = [tag[:head]], head
    while m := _ATTR.match(tag, pos):
        ws, name, eq, value = m.groups()
        spelt = renames.get(name.decode(), name.decode())
        if spelt in values:
            new = values.pop(spelt)
            if new is not None:
                parts.append(ws + spelt.encode() + eq + quote_attr(new))
        else:
            parts.append(ws + spelt.encode() + eq + value)
        pos = m.end()
    close = tag[pos:]
    assert close.strip() in (b">", b"/>"), close
    added = [b" " + k.encode() + b"=" + quote_attr(v) for k, v in values.items() if v is not None]
    return b"".join([*parts, *added, close])


def respelt(
    xml: bytes, el: Element, content: bytes | None = None, values: dict[str, str | None] | None = None
) -> tuple[int, int, bytes]:
    """The :func:`splice` edit that writes ``el`` with its start tag's attributes set to ``values``
    (see :func:`start_tag`) and its content replaced by ``content`` (None: kept); an empty-element
    tag is opened and closed when it gets content."""
    tag = start_tag(xml, el, values)
    if content is None and el.empty:
        return el.start, el.end, tag
    if content is None:
        content = xml[el.tag_end : el.content_end]
    if el.empty:
        tag = tag[:-2].rstrip() + b">"
    return el.start, el.end, tag + content + f"</{el.qname}>".encode()


def insert_into(tag: str, text: bytes) -> PartEdit:
    """``text`` appended to the content of the one element called ``tag`` (see :func:`find`)."""
    assert text

    def edit(xml: bytes) -> bytes:
        el = the(elements(xml), tag)
        return splice(xml, [respelt(xml, el, xml[el.tag_end : el.content_end] + text)])

    return edit


# -- zip-level editing -----------------------------------------------------------------------------


def zip_parts(path: Path) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(path) as zf:
        return [(i.filename, zf.read(i.filename)) for i in zf.infolist()]


def write_zip(dst: Path, parts: Iterable[tuple[str, bytes]], compression: int = zipfile.ZIP_DEFLATED) -> Path:
    """Write parts in order; duplicates are written as given (zipfile only warns)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        with zipfile.ZipFile(dst, "w", compression) as zf:
            for name, data in parts:
                zf.writestr(name, data)
    return dst


def rewrite_zip(
    src: Path,
    dst: Path,
    edits: dict[str, PartEdit] | None = None,
    drop: Iterable[str] = (),
    add: Iterable[tuple[str, bytes]] = (),
) -> Path:
    """Copy a workbook part by part, editing, dropping or adding parts."""
    edits = edits or {}
    drop = set(drop)
    parts = zip_parts(src)
    missing = set(edits) - {n for n, _ in parts}
    assert not missing, f"no such part(s) in {src.name}: {missing}"
    out = [(n, edits[n](d) if n in edits else d) for n, d in parts if n not in drop]
    return write_zip(dst, [*out, *add])


def sheet_part(path: Path, sheet: str) -> str:
    """The zip part holding a sheet, found through workbook.xml and its relationships (parsed:
    the first ``<sheet>`` of that name, in any namespace and spelling)."""
    parts = dict(zip_parts(path))
    entries = find(elements(parts["xl/workbook.xml"]), "sheet", name=sheet)
    assert entries, f"no sheet {sheet} in {path.name}"
    attrs = entries[0].attrs
    rid = attrs.get(f"{{{REL_NS}}}id") or next(v for k, v in attrs.items() if k.endswith("}id"))
    rels = find(elements(parts["xl/_rels/workbook.xml.rels"]), "Relationship", Id=rid)
    assert rels, f"no relationship {rid} in {path.name}"
    target = rels[0].attrs["Target"]
    return target.lstrip("/") if target.startswith("/") else f"xl/{target}"


def scores_part(path: Path) -> str:
    return sheet_part(path, SHEET_SCORES)


def insert_before(marker: bytes, text: bytes) -> PartEdit:
    """Insert before the last occurrence of ``marker``: for markers the test wrote itself; in a
    part openpyxl wrote, use :func:`insert_into`."""

    def edit(xml: bytes) -> bytes:
        i = xml.rindex(marker)
        return xml[:i] + text + xml[i:]

    return edit


def with_prolog(prolog: bytes) -> PartEdit:
    """Put a DTD (or anything) between the XML declaration (if any) and the root element."""

    def edit(xml: bytes) -> bytes:
        if xml.startswith(b"<?xml"):
            i = xml.index(b"?>") + 2
            return xml[:i] + prolog + xml[i:]
        return b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n' + prolog + xml

    return edit


def excel_escape(text: str) -> str:
    """Text as Excel writes it inside <t>: XML-escaped, control characters and CR as _xHHHH_."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", lambda m: f"_x{ord(m.group()):04X}_", text)


def replace_text(marker: str, text: str) -> PartEdit:
    """Replace every ``<t>marker</t>`` by the text, with xml:space="preserve" as Excel writes it."""

    def edit(xml: bytes) -> bytes:
        els = elements(xml)
        found = [t for t in find(els, main_name("t")) if t.text == marker and not inside(els, t)]
        assert found, "marker not found"
        body = excel_escape(text).encode("utf-8")
        return splice(xml, [respelt(xml, t, body, {"xml:space": "preserve"}) for t in found])

    return edit


def prefixed(qname: str, local: str) -> str:
    """``local`` with the prefix of ``qname`` ("x:c", "v" -> "x:v")."""
    prefix, colon, _ = qname.rpartition(":")
    return f"{prefix}{colon}{local}"


def to_shared_strings(src: Path, dst: Path) -> Path:
    """Move every inline string into xl/sharedStrings.xml, as Excel and LibreOffice save them."""
    parts = zip_parts(src)
    strings: list[bytes] = []

    def share(xml: bytes) -> bytes:
        els = elements(xml)
        edits = []
        for c in find(els, main_name("c"), t="inlineStr"):
            (is_,) = find(children(els, c), main_name("is"))
            body = inside(els, is_)
            # copied verbatim into the sst, whose default namespace is the main one
            assert all(e.qname == e.local and e.name == main_name(e.local) for e in body), "not copyable"
            strings.append(xml[is_.tag_end : is_.content_end])
            v = prefixed(c.qname, "v")
            edits.append(respelt(xml, c, f"<{v}>{len(strings) - 1}</{v}>".encode(), {"t": "s"}))
        return splice(xml, edits)

    out = []
    for name, data in parts:
        if name.startswith("xl/worksheets/"):
            data = share(data)
        out.append((name, data))
    sst = (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        + f'<sst xmlns="{MAIN_NS}" count="{len(strings)}" uniqueCount="{len(strings)}">'.encode()
        + b"".join(b"<si>" + s + b"</si>" for s in strings)
        + b"</sst>"
    )
    rel = (
        b'<Relationship Id="rIdSST" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        b'relationships/sharedStrings" Target="sharedStrings.xml"/>'
    )
    ct = (
        b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
        b'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
    )
    edits = {
        "xl/_rels/workbook.xml.rels": insert_into("Relationships", rel),
        "[Content_Types].xml": insert_into("Types", ct),
    }
    out = [(n, edits[n](d) if n in edits else d) for n, d in out]
    assert strings, "no inline strings to share"
    return write_zip(dst, [*out, ("xl/sharedStrings.xml", sst)])


def patch_declared_size(data: bytes, part: str, size: int) -> bytes:
    """Zip bytes whose central directory declares ``size`` uncompressed bytes for ``part``."""
    name = part.encode()
    out = bytearray(data)
    pos = 0
    patched = False
    while (pos := out.find(b"PK\x01\x02", pos)) != -1:
        name_len = struct.unpack_from("<H", out, pos + 28)[0]
        if bytes(out[pos + 46 : pos + 46 + name_len]) == name:
            struct.pack_into("<I", out, pos + 24, size)
            patched = True
        pos += 4
    assert patched, f"no central directory entry for {part}"
    return bytes(out)


# -- openpyxl-level editing (what a spreadsheet program does) ------------------------------------------


def edit_workbook(src: Path, dst: Path, fn: Callable) -> Path:
    from openpyxl import load_workbook

    wb = load_workbook(src)
    fn(wb)
    dst.parent.mkdir(parents=True, exist_ok=True)
    wb.save(dst)
    return dst


def set_cells(src: Path, dst: Path, values: dict[str, object], data_type: str | None = None) -> Path:
    """Write raw values into 'Sheet!A1' cells; ``data_type`` forces 's' (text) or 'e' (error)."""

    def fn(wb):
        for addr, value in values.items():
            sheet, ref = addr.split("!")
            c = wb[sheet][ref]
            c.value = value
            if data_type is not None:
                c.data_type = data_type

    return edit_workbook(src, dst, fn)


def set_text(src: Path, dst: Path, addr: str, text: str) -> Path:
    """Put any text (control characters, CR, 40,000 characters …) into a cell, as Excel would store it."""
    tmp = dst.with_name(dst.name + ".tmp.xlsx")
    set_cells(src, tmp, {addr: MARKER}, data_type="s")
    rewrite_zip(tmp, dst, {sheet_part(tmp, addr.split("!")[0]): replace_text(MARKER, text)})
    tmp.unlink()
    return dst


def set_meta(src: Path, dst: Path, key: str, value: str) -> Path:
    def fn(wb):
        ws = wb[SHEET_META]
        for row in ws.iter_rows(min_col=1, max_col=2):
            if row[0].value == key:
                row[1].value = value
                row[1].data_type = "s"
                return
        raise AssertionError(f"no metadata key {key}")

    return edit_workbook(src, dst, fn)


def replace_meta_address(src: Path, dst: Path, old: str, new: str) -> Path:
    def fn(wb):
        for row in wb[SHEET_META].iter_rows():
            for c in row:
                if c.value == old:
                    c.value = new
                    return
        raise AssertionError(f"no address {old} in the metadata sheet")

    return edit_workbook(src, dst, fn)


def swap_rows(ws, r1: int, r2: int, max_col: int = 14) -> None:
    """What sorting two rows does: every value of the two rows exchanged."""
    for col in range(1, max_col + 1):
        a, b = ws.cell(r1, col), ws.cell(r2, col)
        a.value, b.value = b.value, a.value


def cfb_file(payload: bytes = b"") -> bytes:
    """An OLE2/CFB container header: what an encrypted .xlsx or a legacy .xls starts with."""
    header = OLE_MAGIC + bytes(16) + struct.pack("<HHHH", 0x3E, 0x3, 0xFFFE, 0x9) + bytes(512 - 32)
    return header + payload + bytes(1024)


# -- whole-file mutations for fuzzing ------------------------------------------------------------------


def flip_bytes(data: bytes, positions: Iterable[int], mask: int = 0xFF) -> bytes:
    out = bytearray(data)
    for p in positions:
        out[p % len(out)] ^= mask or 1
    return bytes(out)


def damage_deflate(data: bytes, part: str) -> bytes:
    """Zip bytes whose ``part`` has a deflate stream zlib refuses (not just a CRC mismatch).

    Overwrites 8 bytes of the compressed data, trying offsets until inflating really fails,
    so the outcome does not depend on the (random) content of the generated file.
    """
    import zlib

    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        info = zf.getinfo(part)
    name_len, extra_len = struct.unpack_from("<HH", data, info.header_offset + 26)
    start = info.header_offset + 30 + name_len + extra_len
    for offset in range(16, info.compress_size - 8, 7):
        out = bytearray(data)
        out[start + offset : start + offset + 8] = b"\xff" * 8
        try:
            zlib.decompress(bytes(out[start : start + info.compress_size]), -15)
        except zlib.error:
            return bytes(out)
    raise AssertionError(f"could not damage the deflate stream of {part}")

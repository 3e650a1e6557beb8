"""Byte-level edits of a returned scoresheet's zip and XML, for tests/test_hostile_xml.py.

Every edit works on the bytes of a good return as openpyxl writes it (``<c r="H5" s="13"
t="n"><v>60</v></c>``, inline strings, no shared strings, no XML declaration) and writes
legal-but-unusual spellings a real parser must read as a spreadsheet does: implied cell
positions, other attribute quoting and order, namespace prefixes, comments, CDATA,
character references, rich-text runs, duplicate or extra zip entries.  The edits locate
what they change by parsing the part (``hf.elements``: names with their namespaces,
attribute values and text decoded, byte offsets of each element), never by searching for
a spelling, so they work the same on either of openpyxl's spellings (with lxml installed
it writes non-ASCII text as character references and declares ``xmlns:r`` on every
``<sheet>``); each asserts that it found exactly what it edits, so a change of the writer
shows up as a failing edit, never as a case that tests nothing.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from pathlib import Path
from xml.sax.saxutils import escape

import hostile_files as hf
from hostile_files import Element

PartEdit = Callable[[bytes], bytes]
Build = Callable[[Path, Path], Path]
"""Make the hostile file ``dst`` from the good file ``src``."""

REL_NS = hf.REL_NS
WORKSHEET_REL = REL_NS + "/worksheet"
WORKSHEET_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"


# -- sheet XML ------------------------------------------------------------------------------------


def cell(xml: bytes, ref: str) -> Element:
    """The one ``<c>`` element whose ``r`` is ``ref`` (any spelling: quotes, order, prefix)."""
    found = hf.find(hf.elements(xml), hf.main_name("c"), r=ref)
    assert len(found) == 1, f"cell {ref}: {len(found)} matches"
    return found[0]


def cell_xml(xml: bytes, ref: str) -> bytes:
    c = cell(xml, ref)
    return xml[c.start : c.end]


def cell_text(xml: bytes, ref: str) -> str | None:
    """The cell's cached value or inline text as a parser reads it (the first ``<v>`` or ``<t>``
    in it), None when it has neither."""
    els = hf.elements(xml)
    (c,) = hf.find(els, hf.main_name("c"), r=ref)
    found = [e for e in hf.inside(els, c) if e.name in (hf.main_name("v"), hf.main_name("t"))]
    return found[0].text if found else None


def replace_cell(ref: str, new: bytes | str) -> PartEdit:
    """Replace the whole cell element at ``ref``."""
    data = new.encode() if isinstance(new, str) else new

    def edit(xml: bytes) -> bytes:
        c = cell(xml, ref)
        assert xml[c.start : c.end] != data, f"cell {ref} is already {data!r}"
        return hf.splice(xml, [(c.start, c.end, data)])

    return edit


def set_cell_attrs(ref: str, values: dict[str, str | None]) -> PartEdit:
    """The cell at ``ref`` with these attributes (named as spelt) set, added or removed."""

    def edit(xml: bytes) -> bytes:
        c = cell(xml, ref)
        tag = hf.start_tag(xml, c, values)
        assert tag != xml[c.start : c.tag_end], f"cell {ref}: {values} changes nothing"
        return hf.splice(xml, [(c.start, c.tag_end, tag)])

    return edit


def chain(*edits: PartEdit) -> PartEdit:
    def edit(xml: bytes) -> bytes:
        for e in edits:
            xml = e(xml)
        return xml

    return edit


def bind_prefix(prefix: str, uri: str = hf.MAIN_NS) -> PartEdit:
    """Declare ``xmlns:prefix`` on the root element."""

    def edit(xml: bytes) -> bytes:
        root = hf.elements(xml)[0]
        assert prefix not in root.nsmap, f"{prefix} is already bound"
        at = root.start + 1 + len(root.qname.encode())
        return hf.splice(xml, [(at, at, f' xmlns:{prefix}="{uri}"'.encode())])

    return edit


def append_rows(rows: bytes | str) -> PartEdit:
    return hf.insert_into(hf.main_name("sheetData"), rows.encode() if isinstance(rows, str) else rows)


def add_merge(merge: bytes | str) -> PartEdit:
    return hf.insert_into(hf.main_name("mergeCells"), merge.encode() if isinstance(merge, str) else merge)


def text_xml(text: str) -> str:
    return escape(text)


def inline_runs(runs: Iterable[str], preserve: bool = False) -> str:
    """``<is>`` content of rich text: one ``<r>`` per run, every other run bold."""
    space = ' xml:space="preserve"' if preserve else ""
    out = []
    for i, run in enumerate(runs):
        props = "<rPr><b/></rPr>" if i % 2 else ""
        out.append(f"<r>{props}<t{space}>{text_xml(run)}</t></r>")
    return "".join(out)


# -- styles ---------------------------------------------------------------------------------------


def cell_style(xml: bytes, ref: str) -> int:
    c = cell(xml, ref)
    assert "s" in c.attrs, f"{ref} has no style"
    return int(c.attrs["s"])


def _cell_xfs(styles: bytes) -> tuple[Element, list[Element]]:
    """The ``<cellXfs>`` element and its ``<xf>`` elements."""
    els = hf.elements(styles)
    xfs = hf.the(els, hf.main_name("cellXfs"))
    return xfs, hf.find(hf.children(els, xfs), hf.main_name("xf"))


def with_number_format(styles: bytes, base_xf: int, num_fmt_id: int, format_code: str | None = None) -> bytes:
    """styles.xml with one more cell format: a copy of ``base_xf`` with another number format
    (a custom one when ``format_code`` is given).  The new format's index is the old count."""
    cell_xfs, xfs = _cell_xfs(styles)
    assert not cell_xfs.empty
    base = xfs[base_xf]
    assert base.attrs.get("numFmtId") != str(num_fmt_id), f"xf {base_xf} already has format {num_fmt_id}"
    xf = hf.start_tag(styles, base, {"numFmtId": str(num_fmt_id), "applyNumberFormat": "1"})
    xf += styles[base.tag_end : base.end]
    edits = [
        (cell_xfs.start, cell_xfs.tag_end, hf.start_tag(styles, cell_xfs, {"count": str(len(xfs) + 1)})),
        (cell_xfs.content_end, cell_xfs.content_end, xf),
    ]
    out = hf.splice(styles, edits)
    if format_code is not None:
        fmt = f'<numFmt numFmtId="{num_fmt_id}" formatCode="{escape(format_code, {chr(34): "&quot;"})}"/>'
        out = hf.insert_into(hf.main_name("numFmts"), fmt.encode())(out)
    return out


def xf_count(styles: bytes) -> int:
    return len(_cell_xfs(styles)[1])


# -- workbook.xml ---------------------------------------------------------------------------------


def sheet_entry(els: list[Element], name: str) -> Element:
    """The one ``<sheet name=…>`` of the spreadsheet namespace in workbook.xml."""
    return hf.the(els, hf.main_name("sheet"), name=name)


def rel_id(entry: Element) -> str:
    return entry.attrs[f"{{{REL_NS}}}id"]


def rel_prefix(el: Element) -> str | None:
    """A prefix bound to the relationships namespace where ``el`` is (its own declarations included)."""
    return next((p for p, uri in el.nsmap.items() if uri == REL_NS and p is not None), None)


# -- whole files ----------------------------------------------------------------------------------


def on_part(part: str | Callable[[Path], str], edit: PartEdit) -> Build:
    """Edit one part (named, or found from the source file, e.g. ``hf.scores_part``)."""

    def build(src: Path, dst: Path) -> Path:
        name = part(src) if callable(part) else part
        return hf.rewrite_zip(src, dst, {name: edit})

    return build


def on_parts(edits: Callable[[Path], dict[str, PartEdit]]) -> Build:
    def build(src: Path, dst: Path) -> Path:
        return hf.rewrite_zip(src, dst, edits(src))

    return build


def then(first: Build, second: Build) -> Build:
    """``second`` applied to the output of ``first``."""

    def build(src: Path, dst: Path) -> Path:
        tmp = dst.with_name(dst.stem + ".step.xlsx")
        first(src, tmp)
        second(tmp, dst)
        tmp.unlink()
        return dst

    return build


def shared(src: Path, dst: Path) -> Path:
    """Every inline string moved to xl/sharedStrings.xml, as Excel, WPS and LibreOffice save."""
    return hf.to_shared_strings(src, dst)


def share_cell(ref: str, si_body: str) -> Build:
    """A file with shared strings whose cell ``ref`` of 评分表 points at a new ``<si>si_body</si>``."""

    def build(src: Path, dst: Path) -> Path:
        parts = dict(hf.zip_parts(src))
        assert "xl/sharedStrings.xml" in parts, "use `then(shared, …)`"
        sst = hf.elements(parts["xl/sharedStrings.xml"])
        index = len(hf.find(hf.children(sst, sst[0]), hf.main_name("si")))

        def edit(xml: bytes) -> bytes:
            c = cell(xml, ref)
            assert c.qname == "c", c.qname
            style = f' s="{c.attrs["s"]}"' if "s" in c.attrs else ""
            return replace_cell(ref, f'<c r="{ref}"{style} t="s"><v>{index}</v></c>')(xml)

        return hf.rewrite_zip(
            src,
            dst,
            {
                hf.scores_part(src): edit,
                "xl/sharedStrings.xml": hf.insert_into(hf.main_name("sst"), f"<si>{si_body}</si>".encode()),
            },
        )

    return build


def add_worksheet(src: Path, dst: Path, part: str, data: bytes, rid: str, workbook: PartEdit) -> Path:
    """Add a worksheet part with its relationship and content type, and edit workbook.xml."""
    rel = f'<Relationship Id="{rid}" Type="{WORKSHEET_REL}" Target="/{part}"/>'.encode()
    ct = f'<Override PartName="/{part}" ContentType="{WORKSHEET_CT}"/>'.encode()
    return hf.rewrite_zip(
        src,
        dst,
        {
            "xl/workbook.xml": workbook,
            "xl/_rels/workbook.xml.rels": hf.insert_into("Relationships", rel),
            "[Content_Types].xml": hf.insert_into("Types", ct),
        },
        add=[(part, data)],
    )


def with_forged_scores(part: str, rid: str, forge: PartEdit, workbook: Callable[[bytes], PartEdit]) -> Build:
    """A second copy of 评分表's part (edited by ``forge``) added as ``part`` under ``rid``;
    ``workbook(original workbook.xml)`` is the edit that makes workbook.xml point at it somehow."""

    def build(src: Path, dst: Path) -> Path:
        parts = dict(hf.zip_parts(src))
        forged = forge(parts[hf.scores_part(src)])
        return add_worksheet(src, dst, part, forged, rid, workbook(parts["xl/workbook.xml"]))

    return build


def twin_part(name: Callable[[str], str], forge: PartEdit, first: bool = False) -> Build:
    """A second entry for 评分表's part under another spelling of its name (``name(original)``),
    holding forged content; placed after (or before) every original entry."""

    def build(src: Path, dst: Path) -> Path:
        parts = hf.zip_parts(src)
        original = hf.scores_part(src)
        twin = (name(original), forge(dict(parts)[original]))
        return hf.write_zip(dst, [twin, *parts] if first else [*parts, twin])

    return build


def zip_bytes(fn: Callable[[bytes, bytes], bytes], forge: Build) -> Build:
    """``fn(good bytes, forged bytes)`` written as the file; ``forge`` makes the forged variant."""

    def build(src: Path, dst: Path) -> Path:
        tmp = dst.with_name(dst.stem + ".forged.xlsx")
        forge(src, tmp)
        dst.write_bytes(fn(src.read_bytes(), tmp.read_bytes()))
        tmp.unlink()
        return dst

    return build


def local_entries_only(data: bytes) -> bytes:
    """The local file headers and data of a one-directory zip, without its central directory."""
    eocd = data.rindex(b"PK\x05\x06")
    (cd_offset,) = struct.unpack_from("<I", data, eocd + 16)
    assert data[cd_offset : cd_offset + 4] == b"PK\x01\x02"
    return data[:cd_offset]

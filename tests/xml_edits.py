"""Byte-level edits of a returned scoresheet's zip and XML, for tests/test_hostile_xml.py.

Every edit works on the bytes of a good return as openpyxl writes it (``<c r="H5" s="13"
t="n"><v>60</v></c>``, inline strings, no shared strings, no XML declaration) and writes
legal-but-unusual spellings a real parser must read as a spreadsheet does: implied cell
positions, other attribute quoting and order, namespace prefixes, comments, CDATA,
character references, rich-text runs, duplicate or extra zip entries.  The edits locate
what they change with exact searches in that known input and assert that they found it,
so a change of the writer shows up as a failing edit, never as a case that tests nothing.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable, Iterable
from pathlib import Path
from xml.sax.saxutils import escape

import hostile_files as hf

PartEdit = Callable[[bytes], bytes]
Build = Callable[[Path, Path], Path]
"""Make the hostile file ``dst`` from the good file ``src``."""

REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
WORKSHEET_REL = REL_NS + "/worksheet"
WORKSHEET_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"


# -- sheet XML ------------------------------------------------------------------------------------


def _cell_span(xml: bytes, ref: str) -> tuple[int, int]:
    """Start and end of the ``<c r="ref" …>…</c>`` (or ``…/>``) element as openpyxl writes it."""
    pattern = re.compile(rb'<c r="' + ref.encode() + rb'"[^>]*?(?:/>|>.*?</c>)', re.S)
    found = list(pattern.finditer(xml))
    assert len(found) == 1, f"cell {ref}: {len(found)} matches"
    return found[0].span()


def cell_xml(xml: bytes, ref: str) -> bytes:
    a, b = _cell_span(xml, ref)
    return xml[a:b]


def replace_cell(ref: str, new: bytes | str) -> PartEdit:
    """Replace the whole cell element at ``ref``."""
    data = new.encode() if isinstance(new, str) else new

    def edit(xml: bytes) -> bytes:
        a, b = _cell_span(xml, ref)
        return xml[:a] + data + xml[b:]

    return edit


def sub_once(old: bytes | str, new: bytes | str) -> PartEdit:
    """Replace the single occurrence of ``old``."""
    o = old.encode() if isinstance(old, str) else old
    n = new.encode() if isinstance(new, str) else new

    def edit(xml: bytes) -> bytes:
        assert xml.count(o) == 1, f"{o[:60]!r} occurs {xml.count(o)} times"
        return xml.replace(o, n)

    return edit


def chain(*edits: PartEdit) -> PartEdit:
    def edit(xml: bytes) -> bytes:
        for e in edits:
            xml = e(xml)
        return xml

    return edit


def bind_prefix(prefix: str, uri: str = hf.MAIN_NS) -> PartEdit:
    """Declare ``xmlns:prefix`` on the root element (the first start tag)."""

    def edit(xml: bytes) -> bytes:
        m = re.search(rb"<(?![?!])[\w:]+", xml)
        assert m
        return xml[: m.end()] + f' xmlns:{prefix}="{uri}"'.encode() + xml[m.end() :]

    return edit


def append_rows(rows: bytes | str) -> PartEdit:
    return hf.insert_before(b"</sheetData>", rows.encode() if isinstance(rows, str) else rows)


def add_merge(merge: bytes | str) -> PartEdit:
    return hf.insert_before(b"</mergeCells>", merge.encode() if isinstance(merge, str) else merge)


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
    m = re.search(rb'\ss="(\d+)"', cell_xml(xml, ref))
    assert m, f"{ref} has no style"
    return int(m.group(1))


def _cell_xfs(styles: bytes) -> tuple[int, int, list[bytes]]:
    """Start and end of the ``<cellXfs>`` content and its ``<xf>`` elements."""
    m = re.search(rb"<cellXfs\b[^>]*>(.*?)</cellXfs>", styles, re.S)
    assert m
    xfs = re.findall(rb"<xf\b[^>]*?(?:/>|>.*?</xf>)", m.group(1), re.S)
    return m.start(1), m.end(1), xfs


def with_number_format(styles: bytes, base_xf: int, num_fmt_id: int, format_code: str | None = None) -> bytes:
    """styles.xml with one more cell format: a copy of ``base_xf`` with another number format
    (a custom one when ``format_code`` is given).  The new format's index is the old count."""
    start, end, xfs = _cell_xfs(styles)
    xf = re.sub(rb'numFmtId="\d+"', f'numFmtId="{num_fmt_id}"'.encode(), xfs[base_xf], count=1)
    xf = re.sub(rb"<xf\b", b'<xf applyNumberFormat="1"', xf, count=1)
    out = styles[:end] + xf + styles[end:]
    out = re.sub(rb'<cellXfs count="\d+"', f'<cellXfs count="{len(xfs) + 1}"'.encode(), out, count=1)
    if format_code is not None:
        fmt = f'<numFmt numFmtId="{num_fmt_id}" formatCode="{escape(format_code, {chr(34): "&quot;"})}"/>'
        out = hf.insert_before(b"</numFmts>", fmt.encode())(out)
    return out


def xf_count(styles: bytes) -> int:
    return len(_cell_xfs(styles)[2])


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
        index = parts["xl/sharedStrings.xml"].count(b"<si>")

        def cell(xml: bytes) -> bytes:
            old = cell_xml(xml, ref)
            head = re.match(rb'<c r="[^"]*"(?: s="\d+")?', old)
            assert head
            return replace_cell(ref, head.group(0) + f' t="s"><v>{index}</v></c>'.encode())(xml)

        return hf.rewrite_zip(
            src,
            dst,
            {
                hf.scores_part(src): cell,
                "xl/sharedStrings.xml": hf.insert_before(b"</sst>", f"<si>{si_body}</si>".encode()),
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
            "xl/_rels/workbook.xml.rels": hf.insert_before(b"</Relationships>", rel),
            "[Content_Types].xml": hf.insert_before(b"</Types>", ct),
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

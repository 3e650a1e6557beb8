"""The only module that opens returned scoresheets.

Every file goes through :func:`preflight` (zip sanity, sizes, XML parts, used
range) before python-calamine sees it, because calamine aborts the whole process
on some hostile files.  Then only the cells named by the metadata sheet are read
and validated against the standard the file was generated from.  Problems are
returned as data; nothing here raises for a bad file, and no file is modified.
"""

from __future__ import annotations

import hashlib
import io
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import cache, lru_cache
from pathlib import Path, PurePosixPath
from typing import NamedTuple

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from . import grid
from .layout import (
    COL,
    DECLARATION_OK,
    DECLARATIONS,
    INPUT_FIELDS,
    LAYOUT_VERSION,
    SHEET_COVER,
    SHEET_META,
    SHEET_SCORES,
    guidance_text,
    plan_scoresheet,
)
from .models import Standard
from .plan import column_index as col_to_num
from .plan import split_ref
from .problems import Problem
from .safety import check_environment
from .standards import builtin_standard
from .standards import fingerprint as _fingerprint

check_environment()


@cache
def _fingerprint_of(award: str) -> str:
    return _fingerprint(builtin_standard(award))


def fingerprint(std: Standard) -> str:
    """The built-in standard's fingerprint, computed once per award category."""
    return _fingerprint_of(std.id)


# -- preflight limits ---------------------------------------------------------
# A returned scoresheet is ~40 KB zipped and ~300 KB unzipped.  The limits leave
# two orders of magnitude of headroom for examiners' text while refusing files
# that would make a reader allocate gigabytes or crash.
MAX_FILE_BYTES = 20 * 1024 * 1024
"""A scoresheet with long comments is well under 1 MB; 20 MB is clearly not one."""
MAX_ENTRIES = 500
"""The template has ~20 zip entries; re-saving by Excel/WPS/LibreOffice adds a few dozen at most."""
MAX_UNCOMPRESSED = 200 * 1024 * 1024
"""Sum of declared uncompressed sizes: a zip bomb declares (or hides) gigabytes."""
MAX_RATIO = 100
"""Apache POI's rule: an entry inflating more than 100:1 is treated as a bomb."""
RATIO_MIN_SIZE = 1024 * 1024
"""Small, highly repetitive XML parts compress well legitimately; check the ratio above 1 MB."""
MAX_ROWS = 1000
"""Used range limit: the template's sheets end before row 100; XFD1048576 crashes calamine."""
MAX_COLS = 64
"""Used range limit: the widest template sheet uses 14 columns (A:N)."""

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
STRICT_NS = "http://purl.oclc.org/ooxml/spreadsheetml/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"

_REF_ATTR = re.compile(rb' r="([A-Z]{0,3})(\d+)"')  # r= of <row> and <c> (whitespace normalised first)
_DIMENSION = re.compile(rb'<(?:\w+:)?dimension\b[^>]*?\bref="(?:[A-Z]+\d+:)?([A-Z]+)(\d+)"')
_ERROR_CELL = re.compile(
    rb'<(?:\w+:)?c\s(?=[^>]*?\st="e")[^>]*?\br="([A-Z]+\d+)"[^>]*>'
    rb"(?:\s*<(?:\w+:)?f\b[^>]*?(?:/>|>[^<]*</(?:\w+:)?f>))?\s*(?:<(?:\w+:)?v>([^<]*)<)?"
)
INPUT_SHEETS = (SHEET_SCORES, SHEET_COVER, SHEET_META)
"""The sheets read cell by cell; the others are checked by their dimension and last row only."""
_MERGE = re.compile(rb'<(?:\w+:)?mergeCell\b[^>]*?\bref="([A-Z]+\d+):([A-Z]+\d+)"')


@dataclass
class Preflight:
    problems: list[Problem]
    sheet_names: list[str] = field(default_factory=list)
    formula_cells: dict[str, set[str]] = field(default_factory=dict)
    error_cells: dict[str, dict[str, str]] = field(default_factory=dict)
    merges: dict[str, list[tuple[str, str]]] = field(default_factory=dict)


_F_TAG = re.compile(rb"<f[\s>/]")  # literal prefix: a fast scan
_PREFIXED_F = re.compile(rb":f[\s>/]")
_F_TAG_PREFIXED = re.compile(rb"<(?:\w+:)?f[\s>/]")  # only for files whose elements carry a prefix
_ATTR = re.compile(rb"""([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")


def _formula_cells(xml: bytes) -> set[str]:
    """References of the cells that hold a formula (``<f>`` is always a cell's first child).

    Each ``<f`` element is found by a literal search; its cell is the start tag
    just before it (``<`` cannot occur inside an attribute value or text, so the
    last ``<`` before ``<f`` opens that tag), when only whitespace lies between.
    The tag's attributes are parsed properly, so neither a ``>`` nor a fake
    ``r="…"`` inside another attribute's value hides or misplaces a formula.
    """
    refs = set()
    prefixed = b":f" in xml and _PREFIXED_F.search(xml) is not None  # rare in practice
    for m in (_F_TAG_PREFIXED if prefixed else _F_TAG).finditer(xml):
        at = m.start()
        tag = xml.rfind(b"<", 0, at)
        end = xml.rfind(b">", tag, at)
        if tag < 0 or end < 0 or (end + 1 != at and xml[end + 1 : at].strip()):
            continue
        if xml.startswith(b'<c r="', tag):  # as every spreadsheet writes it: r is the first attribute
            quote = xml.find(b'"', tag + 6, end)
            if quote > 0:
                refs.add(xml[tag + 6 : quote].decode(errors="replace"))
                continue
        for a in _ATTR.finditer(xml, tag, end):
            if a.group(1) == b"r":
                refs.add((a.group(2) if a.group(2) is not None else a.group(3)).decode(errors="replace"))
                break
    return refs


_FAR_REF = re.compile(rb'r="(?:[A-Z]{0,3}\d{4}|[A-Z]{3}|[C-Z][A-Z]|B[M-Z])')
"""Any attribute ending in r= that could be a reference at row 1000 or beyond or column BM or beyond (a
superset of the cell and row references beyond the limits): a false alarm only costs the exact path."""


def _has_dtd(xml: bytes) -> bool:
    """A DOCTYPE or ENTITY declaration anywhere (``!`` is rare in sheet XML: one fast scan first)."""
    return b"!" in xml and (b"<!DOCTYPE" in xml or b"<!ENTITY" in xml)


_WS = bytes.maketrans(b"\t\n\r", b"   ")


def _sniff(head: bytes) -> str | None:
    """A clerk-readable name for what a non-zip file really is."""
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "这是加密的 Excel 文件或旧版 .xls 文件（OLE 格式），请去掉密码并另存为 .xlsx"
    lowered = head.lstrip().lower()
    if lowered.startswith((b"<!doctype html", b"<html", b"<table")):
        return "这是改了扩展名的 HTML 文件，不是 .xlsx"
    if lowered.startswith(b"<?xml"):
        return "这是 XML 文件（可能是 Excel 2003 XML），不是 .xlsx"
    if b"," in head or b"\t" in head or b";" in head:
        return "这是改了扩展名的文本/CSV 文件，不是 .xlsx"
    return None


@lru_cache(maxsize=64)
def _sheet_parts(wb_xml: bytes, rels_xml: bytes | None) -> tuple[tuple[str, str, str], ...] | Problem:
    """(sheet name, relationship id, zip part) of every sheet, or the problem (without file name).

    Cached by content: the returns of one batch share a handful of distinct
    workbook.xml files, so each is parsed once, not once per file.
    """
    if _has_dtd(wb_xml):
        return Problem("dtd", "工作簿 XML 含 DTD/实体声明（可能是 XML 炸弹或 XXE 攻击），已拒绝", "")
    try:
        root = fromstring(wb_xml, forbid_dtd=True)
    except DefusedXmlException as exc:
        return Problem("bad-xml", f"xl/workbook.xml 无法读取：{exc}", "")
    except Exception as exc:  # ParseError from any XML backend
        return Problem("bad-xml", f"xl/workbook.xml 已损坏：{type(exc).__name__}", "")
    if root.tag.startswith("{" + STRICT_NS):
        return Problem(
            "strict-ooxml", "文件为 Strict Open XML 格式，请在 Excel 中另存为“Excel 工作簿(*.xlsx)”", ""
        )
    targets: dict[str, str] = {}
    if rels_xml is not None:
        try:
            rels = fromstring(rels_xml, forbid_dtd=True)
        except Exception:
            return Problem("bad-xml", "xl/_rels/workbook.xml.rels 已损坏", "")
        for rel in rels:
            target = rel.get("Target", "")
            full = target.lstrip("/") if target.startswith("/") else str(PurePosixPath("xl") / target)
            targets[rel.get("Id", "")] = full
    sheets_el = root.find(f"{{{MAIN_NS}}}sheets")
    out = []
    for sh in [] if sheets_el is None else list(sheets_el):
        rid = sh.get(f"{{{REL_NS}}}id", "")
        out.append((sh.get("name", ""), rid, targets.get(rid, "")))
    return tuple(out)


def preflight(path: Path | str, max_rows: int = MAX_ROWS, max_cols: int = MAX_COLS) -> list[Problem]:
    """Just the problems of :func:`inspect` over every sheet (for callers that only need a yes/no)."""
    return inspect(path, max_rows=max_rows, max_cols=max_cols, read_sheets=None).problems


def inspect(
    path: Path | str,
    max_rows: int = MAX_ROWS,
    max_cols: int = MAX_COLS,
    read_sheets: tuple[str, ...] | None = INPUT_SHEETS,
    data: bytes | None = None,
) -> Preflight:
    """Check a file is a sane, small, non-hostile xlsx before any spreadsheet library opens it.

    ``read_sheets`` are the sheets that will be read afterwards: their XML is
    scanned (used range, DTD, formulas, merges).  Other sheets are only checked
    to exist, since no reader ever opens them.  None scans every sheet.
    ``data`` is the file's content when the caller has already read it.
    """
    path = Path(path)
    name = path.name

    def bad(code: str, message: str, sheet: str = "", cell: str = "") -> Preflight:
        return Preflight([Problem(code, message, name, sheet, cell)])

    try:
        size = path.stat().st_size if data is None else len(data)
        if data is None:
            with path.open("rb") as fh:
                head = fh.read(512)
        else:
            head = data[:512]
    except OSError as exc:
        return bad("unreadable", f"无法读取文件：{exc.strerror or exc}")
    if size == 0:
        return bad("empty-file", "文件为空（0 字节），可能保存或传输未完成")
    if size > MAX_FILE_BYTES:
        return bad("too-large", f"文件过大（{size // 1024 // 1024} MB），评分表通常小于 1 MB")
    if not head.startswith(b"PK\x03\x04"):
        return bad("not-xlsx", _sniff(head) or "不是有效的 .xlsx 文件")
    try:
        zf = zipfile.ZipFile(path if data is None else io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError):
        return bad("corrupt-zip", "文件已损坏或不完整（压缩包无法打开），请重新保存后发送")
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_ENTRIES:
            return bad("too-many-parts", f"文件包含 {len(infos)} 个部件，超过上限 {MAX_ENTRIES}")
        names = [i.filename for i in infos]
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            return bad("duplicate-parts", f"压缩包中有重复部件：{', '.join(dup[:3])}（文件被篡改或损坏）")
        total = sum(i.file_size for i in infos)
        if total > MAX_UNCOMPRESSED:
            return bad("zip-bomb", f"解压后大小 {total // 1024 // 1024} MB 超过上限，疑似压缩炸弹")
        for i in infos:
            if i.file_size > RATIO_MIN_SIZE and i.file_size > MAX_RATIO * max(1, i.compress_size):
                return bad("zip-bomb", f"部件 {i.filename} 压缩比超过 {MAX_RATIO}:1，疑似压缩炸弹")
        if any(i.flag_bits & 0x1 for i in infos):
            return bad("encrypted", "文件已加密，请去掉密码后重新保存")
        if "xl/workbook.xml" not in names:
            return bad("missing-part", "缺少 xl/workbook.xml：不是 Excel 工作簿或已损坏")

        by_name = {i.filename: i for i in infos}

        def read_part(part: str, limit: int = MAX_UNCOMPRESSED) -> bytes:
            content = _member(data, by_name[part], limit) if data is not None else None
            if content is None:  # not the plain case: zipfile's own reader (and its errors)
                with zf.open(part) as fh:
                    content = fh.read(limit + 1)
            if len(content) > limit:
                raise ValueError(f"部件 {part} 实际解压大小超过声明")
            return content

        rels_name = "xl/_rels/workbook.xml.rels"
        unreadable = (ValueError, zipfile.BadZipFile, EOFError, OSError, RuntimeError, zlib.error)
        try:
            wb_xml = read_part("xl/workbook.xml")
        except unreadable as exc:
            return bad("bad-xml", f"xl/workbook.xml 无法读取：{exc}")
        try:
            rels_xml = read_part(rels_name) if rels_name in names else None
        except unreadable:
            return bad("bad-xml", f"{rels_name} 已损坏")
        sheet_parts = _sheet_parts(wb_xml, rels_xml)
        if isinstance(sheet_parts, Problem):
            return Preflight([replace(sheet_parts, file=name)])
        result = Preflight([])
        for sname, rid, part in sheet_parts:
            result.sheet_names.append(sname)
            if part not in names:
                return bad(
                    "missing-part", f"工作表“{sname}”的数据部件缺失（{part or rid}），文件已损坏", sname
                )
            if read_sheets is not None and sname not in read_sheets:
                continue  # never opened by any reader: its content cannot hurt
            try:
                xml = read_part(part)
            except (ValueError, zipfile.BadZipFile, EOFError, OSError, RuntimeError, zlib.error) as exc:
                return bad("corrupt-zip", f"工作表“{sname}”无法解压：{exc}", sname)
            if xml[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00<\x00" in xml[:64]:
                return bad(
                    "encoding",
                    f"工作表“{sname}”不是 UTF-8 编码的 XML（Excel 不会这样保存），文件被改动",
                    sname,
                )
            if _has_dtd(xml):
                return bad(
                    "dtd", f"工作表“{sname}”含 DTD/实体声明（可能是 XML 炸弹或 XXE 攻击），已拒绝", sname
                )
            max_row = max_col = 0
            if _FAR_REF.search(xml) or max_rows < 999 or max_cols < 64:  # exact path only when needed
                refs = _REF_ATTR.findall(xml.translate(_WS))
                max_row = max((int(r) for _, r in refs), default=0)
                max_col = max((col_to_num(c.decode()) for c in {c for c, _ in refs if c}), default=0)
            dim = _DIMENSION.search(xml)
            if dim:
                max_row = max(max_row, int(dim.group(2)))
                max_col = max(max_col, col_to_num(dim.group(1).decode()))
            if max_row > max_rows or max_col > max_cols:
                return bad(
                    "used-range",
                    f"工作表“{sname}”的使用区域超出模板（最远到第 {max_row} 行、第 {max_col} 列），"
                    "可能被粘贴了大量内容或被篡改",
                    sname,
                )
            if sname != SHEET_SCORES:  # only the scoring sheet's inputs are checked cell by cell
                continue
            result.formula_cells[sname] = _formula_cells(xml)
            if b't="e"' in xml:
                result.error_cells[sname] = {
                    ref.decode(): value.decode(errors="replace") for ref, value in _ERROR_CELL.findall(xml)
                }
            at = xml.find(b"mergeCell")
            if at >= 0:  # <mergeCells> follows <sheetData>: scan from there only
                result.merges[sname] = [
                    (a.decode(), b.decode()) for a, b in _MERGE.findall(xml, xml.rfind(b"<", 0, at))
                ]
        for part in ("xl/sharedStrings.xml", "xl/styles.xml"):
            if part in names:
                try:
                    head_xml = read_part(part)
                except (ValueError, zipfile.BadZipFile, EOFError, OSError, RuntimeError, zlib.error):
                    return bad("corrupt-zip", f"部件 {part} 无法解压，文件已损坏")
                if head_xml[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00<\x00" in head_xml[:64]:
                    return bad("encoding", f"部件 {part} 不是 UTF-8 编码的 XML，文件被改动")
                if _has_dtd(head_xml):
                    return bad("dtd", f"部件 {part} 含 DTD/实体声明，已拒绝")
        return result


def _member(data: bytes, info: zipfile.ZipInfo, limit: int) -> bytes | None:
    """A stored or deflated zip member straight from the file's bytes (zipfile's file objects cost
    ~40 us a part), checked as zipfile checks it: local header, name, declared size, CRC.  Returns
    at most ``limit`` + 1 bytes; None for anything else (left to zipfile)."""
    off = info.header_offset
    if (
        info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
        or data[off : off + 4] != b"PK\x03\x04"
    ):
        return None
    name_len, extra_len = struct.unpack_from("<HH", data, off + 26)
    name = info.orig_filename.encode("utf-8" if info.flag_bits & 0x800 else "cp437", errors="replace")
    if data[off + 30 : off + 30 + name_len] != name:
        return None
    start = off + 30 + name_len + extra_len
    raw = data[start : start + info.compress_size]
    if len(raw) != info.compress_size:
        raise zipfile.BadZipFile(f"{info.filename}: truncated")
    cap = min(limit, info.file_size) + 1  # never more than the directory declares (nor the limit)
    if info.compress_type == zipfile.ZIP_STORED:
        content = raw[:cap]
    else:
        inflate = zlib.decompressobj(-15)
        content = inflate.decompress(raw, cap)
        if len(content) < cap and not inflate.eof:
            raise zipfile.BadZipFile(f"{info.filename}: compressed data incomplete")
    if len(content) > limit:
        return content  # the caller reports it
    if len(content) > info.file_size:
        raise ValueError(f"部件 {info.filename} 实际解压大小超过声明")
    if len(content) != info.file_size or zlib.crc32(content) != info.CRC:
        raise zipfile.BadZipFile(f"Bad CRC-32 or size for file {info.filename!r}")
    return content


# -- reading and validating -----------------------------------------------------


class UnitReturn(NamedTuple):
    """One scoring unit as returned (a named tuple: cheap to make, and to send back from a worker)."""

    code: str
    band: str | None
    pct: float | None
    strengths: str
    ofi: str
    evidence: str
    status: str


@dataclass
class ReturnFile:
    """One returned scoresheet, read and judged."""

    path: Path
    name: str
    sha256: str
    size: int
    read_at: str
    status: str = "rejected"  # accepted | incomplete | rejected | skipped
    meta: dict[str, str] = field(default_factory=dict)
    units: dict[str, UnitReturn] = field(default_factory=dict)
    cover: dict[str, object] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def award_category(self) -> str:
        return self.meta.get("award_category", "")

    def key(self) -> tuple[str, str, str, str, str]:
        m = self.meta
        return (
            m.get("year", ""),
            m.get("award_category", ""),
            m.get("stage", ""),
            m.get("applicant_id", ""),
            m.get("examiner_id", ""),
        )


@lru_cache(maxsize=4096)
def _address(addr: str) -> tuple[str, int, int]:
    """'评分表!H12' -> ('评分表', 12, 8)."""
    sheet, ref = addr.split("!")
    return (sheet, *split_ref(ref))


@cache
def _locked_cells(award: str, blank: bool) -> tuple[tuple[str, int, int, object], ...]:
    """(ref, 0-based row, 0-based column, expected value) of every scoring-sheet cell checked on return."""
    std = builtin_standard(award)
    inputs, _ = expected_layout(award, blank)
    out = []
    for unit in std.units():
        row = split_ref(inputs[unit.code]["locked_code"].split("!")[1])[0]
        expected = {
            "code": unit.code,
            "name": unit.name,
            "points": unit.points,
            "requirement": unit.requirement,
            "guidance": guidance_text(unit),
        }
        for key, want in expected.items():
            ref = f"{COL[key]}{row}"
            r, c = split_ref(ref)
            out.append((ref, r - 1, c - 1, want))
    return tuple(out)


@cache
def _input_refs(award: str, blank: bool) -> frozenset[str]:
    inputs, _ = expected_layout(award, blank)
    return frozenset(addrs[k].split("!")[1] for addrs in inputs.values() for k in INPUT_FIELDS)


@cache
def _input_positions(award: str, blank: bool) -> tuple[tuple[int, int, str], ...]:
    """(row, column, ref) of every input cell of the scoring sheet, in reference order."""
    return tuple((*split_ref(ref), ref) for ref in sorted(_input_refs(award, blank)))


@cache
def _template_merges(award: str, blank: bool) -> frozenset[tuple[str, str]]:
    """The merged ranges the layout itself puts on the scoring sheet (none covers an input)."""
    sheet = next(s for s in _template_plan(award, blank).workbook.sheets if s.title == SHEET_SCORES)
    return frozenset(tuple(m.split(":")) for m in sheet.merges)


@cache
def expected_layout(award: str, blank: bool) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """Input and locked cell addresses the layout puts in a scoresheet of this award category."""
    plan = _template_plan(award, blank)
    return plan.inputs, plan.cover_inputs


@cache
def _units(award: str) -> tuple:
    """The scoring units of a built-in standard, listed once."""
    return builtin_standard(award).units()


@cache
def _meta_table(award: str, blank: bool) -> list[list[str]]:
    """The unit address table of the metadata sheet as issued, as calamine reads it (rows of text)."""
    inputs, _ = expected_layout(award, blank)
    keys = list(next(iter(inputs.values())))
    return [["unit", *keys]] + [[code, *(fields[k] for k in keys)] for code, fields in inputs.items()]


@cache
def _template_plan(award: str, blank: bool):
    """The plan of a scoresheet as issued (blank template or personalised), for its fixed layout."""
    from .layout import Issue

    return plan_scoresheet(builtin_standard(award), Issue() if blank else Issue(issue_id="x", year=2000))


def _text(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _describe(v: object) -> str:
    if isinstance(v, bool):
        return f"逻辑值 {v}"
    if isinstance(v, (datetime, date)):
        return f"日期 {v:%Y-%m-%d}"
    if isinstance(v, (time, timedelta)):
        return f"时间 {v}"
    return repr(v)


def read_return(
    path: Path | str,
) -> ReturnFile:
    """Read one returned scoresheet and judge it: accepted, incomplete or rejected (with reasons)."""
    path = Path(path)
    data: bytes | None = None
    size, digest = 0, ""
    try:
        size = path.stat().st_size
        if size <= MAX_FILE_BYTES:  # read once: hashed, checked and parsed from memory
            data = path.read_bytes()
            digest = hashlib.sha256(data).hexdigest()
        else:  # too large to parse; still fingerprinted for the sources sheet, in chunks
            with path.open("rb") as fh:
                digest = hashlib.file_digest(fh, "sha256").hexdigest()
    except OSError:
        pass
    rf = ReturnFile(
        path=path,
        name=path.name,
        sha256=digest,
        size=size,
        read_at=datetime.now(UTC).replace(microsecond=0).isoformat(),
    )
    pre = inspect(path, data=data)
    if pre.problems:
        rf.problems = pre.problems
        return rf
    for needed in INPUT_SHEETS:
        if needed not in pre.sheet_names:
            rf.problems.append(
                Problem(
                    "missing-sheet",
                    f"缺少工作表“{needed}”：不是本系统生成的评分表，或工作表被删除/改名",
                    rf.name,
                    needed,
                )
            )
            return rf
    from python_calamine import CalamineWorkbook

    sheets: dict[str, list[list]] = {}
    current = ""
    try:
        wb = CalamineWorkbook.from_filelike(io.BytesIO(data or b""))
        for current in INPUT_SHEETS:
            sheets[current] = wb.get_sheet_by_name(current).to_python(skip_empty_area=False)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # calamine's errors, and pyo3's PanicException (a BaseException) on
        # values it cannot represent, e.g. a date cell holding -1e66: the file's data is unusable
        detail = f"{type(exc).__name__}: {exc}"[:200]
        rf.problems.append(
            Problem("unreadable", f"工作表“{current}”无法解析，文件已损坏（{detail}）", rf.name, current)
        )
        return rf

    _validate(rf, sheets, pre)
    return rf


def _validate(rf, sheets, pre: Preflight) -> None:
    name = rf.name
    probs = rf.problems

    def add(code, msg, sheet="", cell="", severity="error"):
        probs.append(Problem(code, msg, name, sheet, cell, severity))

    meta: dict[str, str] = {}
    units_table_at = None
    for i, row in enumerate(sheets[SHEET_META]):
        key = _text(row[0]) if row else ""
        if key == "unit":
            units_table_at = i
            break
        if key and key != "key":
            meta[key] = _text(row[1]) if len(row) > 1 else ""
    rf.meta = meta
    award = meta.get("award_category", "")
    try:
        std: Standard = builtin_standard(award)
    except KeyError:
        add(
            "bad-meta",
            f"元数据中的奖项类别 {award!r} 无效（元数据被改动或不是本系统的评分表）",
            SHEET_META,
            "B3",
        )
        return
    if meta.get("layout_version") != LAYOUT_VERSION:
        add(
            "layout-version",
            f"评分表版式 {meta.get('layout_version')!r} 与当前版本 {LAYOUT_VERSION} 不符，请使用新下发的评分表",
            SHEET_META,
        )
        return
    if meta.get("fingerprint") != fingerprint(std):
        add(
            "edition",
            f"评分表依据的标准版本（指纹 {meta.get('fingerprint', '')[:12]}）与当前{std.name_zh}标准"
            f"（{std.edition}，指纹 {fingerprint(std)[:12]}）不一致",
            SHEET_META,
        )
        return
    blank = meta.get("issue_id") == "BLANK"
    exp_inputs, exp_cover = expected_layout(award, blank)
    # The metadata's addresses must be exactly the layout's: an edited metadata sheet is tampering.
    meta_inputs: dict[str, dict[str, str]] = {}
    if units_table_at is not None and sheets[SHEET_META][units_table_at:] == _meta_table(award, blank):
        meta_inputs = exp_inputs  # the common case, compared cell by cell without parsing
    elif units_table_at is not None:
        header = [_text(v) for v in sheets[SHEET_META][units_table_at]]
        for row in sheets[SHEET_META][units_table_at + 1 :]:
            if row and _text(row[0]):
                meta_inputs[_text(row[0])] = {
                    header[j]: _text(row[j]) for j in range(1, min(len(header), len(row)))
                }
    meta_cover = {k.removeprefix("cover."): v for k, v in meta.items() if k.startswith("cover.")}
    if meta_inputs != exp_inputs or meta_cover != exp_cover:
        add("bad-meta", "元数据中的单元格地址与模板不符（元数据工作表被改动）", SHEET_META)
        return

    grids = sheets

    def cell(addr: str):
        sheet, r, c = _address(addr)
        rows = grids[sheet]
        if r - 1 < len(rows) and c - 1 < len(rows[r - 1]):
            v = rows[r - 1][c - 1]
            return None if v == "" else v
        return None

    # Identity: year, applicant, examiner.
    if blank:
        for key in ("year", "applicant_id", "applicant_name", "examiner_id", "examiner_name"):
            v = cell(exp_cover[key]) if key in exp_cover else None
            meta[key] = _text(v).strip()
        labels = {"year": "评审年度", "applicant_id": "申报编号", "examiner_id": "评审员编号"}
        for key, label in labels.items():
            if not meta.get(key):
                add("identity-missing", f"空白模板未填写{label}", "封面", exp_cover[key].split("!")[1])
    # Locked cells: codes, names, points, requirement and guidance text unchanged.
    formula_cells = pre.formula_cells.get(SHEET_SCORES, set())
    merged = pre.merges.get(SHEET_SCORES, [])
    score_rows = grids[SHEET_SCORES]
    for ref, r, c, want in _locked_cells(award, blank):
        got = score_rows[r][c] if r < len(score_rows) and c < len(score_rows[r]) else None
        got = None if got == "" else got
        ok = (
            (isinstance(got, (int, float)) and not isinstance(got, bool) and got == want)
            if isinstance(want, int)
            else _text(got) == want
        )
        if not ok:
            add(
                "locked-changed",
                f"锁定单元格被改动：应为 {str(want)[:30]!r}，实为 {_text(got)[:30]!r}"
                "（行被插入、删除、排序或内容被修改）",
                SHEET_SCORES,
                ref,
            )
            return  # one is enough: every later check relies on the rows being where they were issued

    # Inputs.
    input_refs = _input_refs(award, blank)
    for ref in sorted(input_refs & formula_cells):
        add("formula-input", "填写区含公式：请直接填写数值或文字", SHEET_SCORES, ref)
    errors = pre.error_cells.get(SHEET_SCORES, {})
    for ref in sorted(input_refs & errors.keys()):
        add("error-value", f"填写区是错误值 {errors[ref] or '#VALUE!'}，请重新填写", SHEET_SCORES, ref)
    template_merges = _template_merges(award, blank)
    for a, b in merged:
        if (a, b) in template_merges:
            continue
        r1, c1 = split_ref(a)
        r2, c2 = split_ref(b)
        for r, c, ref in _input_positions(award, blank):
            if r1 <= r <= r2 and c1 <= c <= c2:
                add("merged-input", f"填写区被合并（{a}:{b}），请取消合并", SHEET_SCORES, ref)
                break
    for unit in _units(award):
        addrs = exp_inputs[unit.code]
        band_ref = addrs["band"].split("!")[1]
        pct_ref = addrs["pct"].split("!")[1]
        band_v = cell(addrs["band"])
        pct_v = cell(addrs["pct"])
        band: str | None = None
        pct: float | None = None
        if band_v is not None:
            if isinstance(band_v, str) and band_v.strip() in grid.band_labels(std, unit.kind):
                band = band_v.strip()
            else:
                add(
                    "bad-band",
                    f"{unit.code} 评分区间 {_describe(band_v)} 不是下拉列表中的选项",
                    SHEET_SCORES,
                    band_ref,
                )
        if pct_v is not None:
            if isinstance(pct_v, bool) or not isinstance(pct_v, (int, float)):
                hint = "（请输入数字，如 80，不要带 % 或空格）" if isinstance(pct_v, str) else ""
                add(
                    "pct-not-number",
                    f"{unit.code} 得分率 {_describe(pct_v)} 不是数字{hint}",
                    SHEET_SCORES,
                    pct_ref,
                )
            elif not grid.on_grid(std, float(pct_v)):
                hint = "（看起来是小数形式，应填 0–100 的整数，如 80）" if 0 < pct_v < 1 else ""
                add(
                    "off-grid",
                    f"{unit.code} 得分率 {pct_v:g} 不是 0–100 间 {std.grid_step} 的整数倍{hint}",
                    SHEET_SCORES,
                    pct_ref,
                )
            else:
                pct = float(pct_v)
        status = grid.unit_status(std, unit.kind, band, pct)
        if band is not None and pct is not None and status == grid.STATUS_OUT_OF_BAND:
            add("out-of-band", f"{unit.code} 得分率 {pct:g} 不在所选区间“{band}”内", SHEET_SCORES, pct_ref)
        texts = {k: _text(cell(addrs[k])) for k in ("strengths", "ofi", "evidence")}
        rf.units[unit.code] = UnitReturn(
            unit.code, band, pct, texts["strengths"], texts["ofi"], texts["evidence"], status
        )
        if status in (grid.STATUS_NO_BAND, grid.STATUS_NO_PCT):
            add(
                "incomplete-unit",
                f"{unit.code} {status}",
                SHEET_SCORES,
                band_ref if band is None else pct_ref,
                severity="warning",
            )

    blank_units = [code for code, u in rf.units.items() if u.status == grid.STATUS_BLANK]
    if blank_units:
        first = exp_inputs[blank_units[0]]["band"].split("!")[1]
        add(
            "unscored",
            f"未评分条目 {len(blank_units)} 个：{'、'.join(blank_units)}",
            SHEET_SCORES,
            first,
            severity="warning",
        )

    # Cover: declaration.
    decl_addr = exp_cover["declaration"]
    decl = _text(cell(decl_addr)).strip()
    rf.cover["declaration"] = decl
    rf.cover["date"] = cell(exp_cover["date"])
    if decl == DECLARATIONS[1]:
        add("conflict", "评审员声明与申报方存在利益冲突，该评分不予采用", "封面", decl_addr.split("!")[1])
    elif decl and decl != DECLARATION_OK:
        add(
            "bad-declaration",
            f"利益冲突声明 {decl[:30]!r} 不是下拉列表中的选项",
            "封面",
            decl_addr.split("!")[1],
        )
    elif not decl:
        add("no-declaration", "未选择利益冲突声明", "封面", decl_addr.split("!")[1], severity="warning")

    if rf.errors:
        rf.status = "rejected"
    elif all(u.status == grid.STATUS_OK for u in rf.units.values()) and decl == DECLARATION_OK:
        rf.status = "accepted"
    else:
        rf.status = "incomplete"


def check_issue(
    rf: ReturnFile, year: str | None = None, issued: dict[str, dict[str, str]] | None = None
) -> None:
    """The checks that need context beyond the file: the award year wanted, and the manifest of issued files.

    Adds the problems to ``rf`` and rejects it when any is found; a file already
    rejected is left as it is.
    """
    if rf.status == "rejected":
        return
    meta = rf.meta
    if year is not None and meta.get("year") != year:
        rf.problems.append(
            Problem(
                "wrong-year",
                f"评审年度为 {meta.get('year') or '空'}，本次汇总的是 {year} 年度",
                rf.name,
                "封面",
            )
        )
    if issued is not None:
        rec = issued.get(meta.get("issue_id", ""))
        if rec is None:
            rf.problems.append(
                Problem(
                    "unknown-issue", "发放编号不在发放清单中（不是本次下发的评分表）", rf.name, SHEET_META
                )
            )
        else:
            for key in ("year", "award_category", "stage", "applicant_id", "examiner_id"):
                if rec.get(key, "") != meta.get(key, ""):
                    rf.problems.append(
                        Problem(
                            "manifest-mismatch",
                            f"{key} 为 {meta.get(key)!r}，与发放清单 {rec.get(key)!r} 不符（文件被改动或是他人的评分表）",
                            rf.name,
                            SHEET_META,
                        )
                    )
    if rf.errors:
        rf.status = "rejected"

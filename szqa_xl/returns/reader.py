"""The only module that opens returned scoresheets.

A file is opened as a spreadsheet opens it — the zip as OPC resolves it
(``returns.package``), the workbook found through its relationships, every part
read parsed by a real XML parser (``returns.xmlparts``) — into one view of the
cells of the sheets that matter.  The checks look at that view and the values
merged are taken from it: there is no second reader that could see another
part or another spelling.  Only the cells named by the metadata sheet are read
and validated against the standard the file was generated from.  Problems are
returned as data; nothing here raises for a bad file, and no file is modified.

This module does the reading in the calling process; every caller that reads
returns in bulk or on a user's behalf goes through ``returns.isolation``, which
bounds each file's read in time and memory.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache, lru_cache
from pathlib import Path, PurePosixPath
from typing import NamedTuple

from szqa_xl.problems import Problem
from szqa_xl.returns import package as pkg
from szqa_xl.returns import xmlparts as xp
from szqa_xl.returns.package import MAX_ENTRIES, MAX_FILE_BYTES, MAX_RATIO, MAX_UNCOMPRESSED, RATIO_MIN_SIZE
from szqa_xl.returns.xmlparts import ErrorValue, SheetView, XmlProblem
from szqa_xl.scoresheet.layout import (
    DECLARATION_OK,
    DECLARATIONS,
    INPUT_FIELDS,
    LAYOUT_VERSION,
    SHEET_COVER,
    SHEET_META,
    SHEET_SCORES,
    STYLES,
    Issue,
    plan_scoresheet,
)
from szqa_xl.standards import grid
from szqa_xl.standards.load import builtin_fingerprint, builtin_standard
from szqa_xl.standards.models import Standard
from szqa_xl.xlsx.plan import split_ref

__all__ = [
    "MAX_COLS",
    "MAX_ENTRIES",
    "MAX_FILE_BYTES",
    "MAX_RATIO",
    "MAX_ROWS",
    "MAX_UNCOMPRESSED",
    "RATIO_MIN_SIZE",
    "ReturnFile",
    "UnitReturn",
    "WorkbookView",
    "check_issue",
    "expected_layout",
    "open_view",
    "preflight",
    "read_return",
    "split_ref",
    "template_facts",
]

MAX_ROWS = 1000
"""Used range limit: the template's sheets end before row 100."""
MAX_COLS = 64
"""Used range limit: the widest template sheet uses 14 columns (A:N)."""
MAX_PART_BYTES = 32 * 1024 * 1024
"""Largest inflated XML part that is parsed (a scoring sheet is ~100 KB; 40,000 characters of text ~120 KB)."""
INPUT_SHEETS = (SHEET_COVER, SHEET_SCORES, SHEET_META)
"""The sheets read cell by cell; no code ever reads the others."""


# -- the view -------------------------------------------------------------------------------------


@dataclass
class WorkbookView:
    """The sheets a spreadsheet shows, as parsed: every value the checks see and the reader merges."""

    sheet_names: list[str]
    sheets: dict[str, SheetView] = field(default_factory=dict)
    formats: list[str] = field(default_factory=list)  # number format code of each cell style


def _problem(exc: XmlProblem, name: str, sheet: str = "") -> Problem:
    if sheet:
        return Problem(exc.code, f"工作表“{sheet}”：{exc.message}", name, sheet, exc.cell)
    return Problem(exc.code, exc.message, name, exc.sheet, exc.cell)


@lru_cache(maxsize=64)
def _relationships(data: bytes, part: str) -> dict[str, tuple[str, str, str]]:
    return xp.relationships(data, part)


@lru_cache(maxsize=64)
def _content_types(data: bytes, part: str) -> xp.ContentTypes:
    return xp.content_types(data, part)


@lru_cache(maxsize=64)
def _workbook(data: bytes, part: str) -> tuple[list[xp.SheetEntry], bool]:
    return xp.workbook(data, part)


@lru_cache(maxsize=64)
def _formats(data: bytes, part: str) -> list[str]:
    return xp.number_formats(data, part)


def open_view(
    data: bytes,
    name: str,
    read_sheets: tuple[str, ...] | None = INPUT_SHEETS,
    max_rows: int = MAX_ROWS,
    max_cols: int = MAX_COLS,
) -> WorkbookView | Problem:
    """Open a file's bytes as a spreadsheet would and parse the sheets named (None: every sheet).

    The workbook, relationship and style parts are parsed once per distinct
    content (the returns of one batch share a handful of them); those cached
    results are shared between files and never modified.
    """
    opened = pkg.open_package(data)
    if isinstance(opened, Problem):
        return Problem(opened.code, opened.message, name)
    package = opened
    try:
        return _view(package, name, read_sheets, max_rows, max_cols)
    except XmlProblem as exc:
        return _problem(exc, name)
    except pkg.PartError as exc:
        return Problem("corrupt-zip", str(exc), name)
    finally:
        package.close()


def _view(
    package: pkg.Package, name: str, read_sheets: tuple[str, ...] | None, max_rows: int, max_cols: int
) -> WorkbookView | Problem:
    def part_of(source: str, rels: dict[str, tuple[str, str, str]], wanted: tuple[str, ...]) -> str | None:
        found = [
            pkg.resolve_target(source, target)
            for kind, target, mode in rels.values()
            if kind in wanted and mode != "External"
        ]
        if len(found) > 1:
            raise XmlProblem(
                "duplicate-parts", f"{source} 指向多个同类部件（{', '.join(found[:3])}），文件被改动"
            )
        return found[0] if found else None

    if not package.has("[Content_Types].xml"):  # the package's index: no spreadsheet opens a file without it
        return Problem("missing-part", "缺少 [Content_Types].xml：不是 Excel 工作簿或已损坏", name)
    types = _content_types(package.read("[Content_Types].xml", MAX_PART_BYTES), "[Content_Types].xml")

    def read(part: str, *wanted: str, sheet: str = "") -> bytes:
        """The part, if the package's index gives it one of the ``wanted`` types, which its relationship
        implies: a spreadsheet opens each part by its type (Excel refuses a sheet typed as something else)."""
        got = types.of(part)
        if got not in wanted:
            raise XmlProblem(
                "content-type",
                f"部件 {part} 在 [Content_Types].xml 中的内容类型为 {(got or '（未声明）')[:80]}，"
                f"不是{'工作表' if sheet else '它'}应有的类型；Excel 无法打开此文件，文件已损坏或被改动",
                sheet=sheet,
            )
        return package.read(part, MAX_PART_BYTES)

    if not package.has("_rels/.rels"):
        return Problem("missing-part", "缺少 _rels/.rels：不是 Excel 工作簿或已损坏", name)
    root_rels = _relationships(read("_rels/.rels", xp.CT_RELATIONSHIPS), "_rels/.rels")
    wb_part = part_of("", root_rels, (xp.OFFICE_DOCUMENT, xp.STRICT_OFFICE_DOCUMENT))
    if wb_part is None or not package.has(wb_part):
        return Problem("missing-part", "缺少 xl/workbook.xml：不是 Excel 工作簿或已损坏", name)
    wb_data = read(wb_part, *xp.CT_WORKBOOKS)
    mismatch = _extension_mismatch(name, types.of(wb_part))
    if mismatch is not None:
        return mismatch
    entries, date1904 = _workbook(wb_data, wb_part)
    wb_rels_part = pkg.rels_part(wb_part)
    rels = (
        _relationships(read(wb_rels_part, xp.CT_RELATIONSHIPS), wb_rels_part)
        if package.has(wb_rels_part)
        else {}
    )
    view = WorkbookView([e.name for e in entries])
    wanted = [e for e in entries if read_sheets is None or e.name in read_sheets]
    if not wanted:
        return view
    strings: list[str] = []
    ss_part = part_of(wb_part, rels, (xp.REL_SHARED_STRINGS,))
    if ss_part is not None and package.has(ss_part):
        strings = xp.shared_strings(read(ss_part, xp.CT_SHARED_STRINGS), ss_part)
    formats: list[str] = []
    st_part = part_of(wb_part, rels, (xp.REL_STYLES,))
    if st_part is not None and package.has(st_part):
        formats = _formats(read(st_part, xp.CT_STYLES), st_part)
    for entry in wanted:
        rel = rels.get(entry.rid)
        part = pkg.resolve_target(wb_part, rel[1]) if rel and rel[2] != "External" else ""
        if rel is None or rel[0] != xp.REL_WORKSHEET or not package.has(part):
            return Problem(
                "missing-part",
                f"工作表“{entry.name}”的数据部件缺失（{part or entry.rid}），文件已损坏",
                name,
                entry.name,
            )
        try:
            view.sheets[entry.name] = xp.worksheet(
                read(part, xp.CT_WORKSHEET, sheet=entry.name),
                part,
                strings,
                formats,
                date1904,
                max_rows,
                max_cols,
            )
        except XmlProblem as exc:
            return _problem(exc, name, entry.name)
        except pkg.PartError as exc:
            return Problem("corrupt-zip", f"工作表“{entry.name}”无法解压：{exc}", name, entry.name)
    view.formats = formats
    return _check_other_parts(package, name, view)


def _extension_mismatch(name: str, main_type: str | None) -> Problem | None:
    """A package whose kind (its workbook part's type) is not the one its extension names: Excel refuses
    to open it ("the file format or file extension is not valid"), so it is refused here too.  Found
    when a file is renamed after saving (an .xlsm renamed .xlsx); a name with another extension is
    judged by its content alone."""
    suffix = PurePosixPath(name).suffix.lower()
    if suffix not in xp.WORKBOOK_TYPES:
        return None
    expected, _ = xp.WORKBOOK_TYPES[suffix]
    if main_type == expected:
        return None
    actual = next((what for ct, what in xp.WORKBOOK_TYPES.values() if ct == main_type), main_type)
    return Problem(
        "extension-mismatch",
        f"文件扩展名为 {suffix}，但内容是{actual}：Excel 拒绝打开扩展名与格式不符的文件。"
        "文件可能在保存后被改名；请在 Excel 中按原格式保存后重新发送",
        name,
    )


def _check_other_parts(package: pkg.Package, name: str, view: WorkbookView) -> WorkbookView | Problem:
    """Every other part intact: inflated in full, which makes zipfile check its CRC.

    No reader opens them and their content cannot reach a result, so they are
    not parsed (parsing them costs more than reading the sheets that matter);
    but a part whose compressed data is damaged means the file was damaged on
    its way, and it is sent back rather than merged as if whole.
    """
    for key, info in package.parts.items():
        if key not in package.read_keys:
            try:
                package.read(info.filename, MAX_PART_BYTES)
            except pkg.PartError as exc:
                return Problem("corrupt-zip", str(exc), name)
    return view


def preflight(path: Path | str, max_rows: int = MAX_ROWS, max_cols: int = MAX_COLS) -> list[Problem]:
    """The problems of opening every sheet of a file (for callers that only need a yes/no)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > pkg.MAX_FILE_BYTES:
            return [Problem("too-large", f"文件过大（{size // 1024 // 1024} MB）", path.name)]
        data = path.read_bytes()
    except OSError as exc:
        return [Problem("unreadable", f"无法读取文件：{exc.strerror or exc}", path.name)]
    got = open_view(data, path.name, None, max_rows, max_cols)
    return [got] if isinstance(got, Problem) else []


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


# -- what the template holds -------------------------------------------------------------------------


@dataclass(frozen=True)
class TemplateFacts:
    """What a scoresheet of one award category (blank or personalised) holds as issued."""

    constants: dict[tuple[int, int], object]  # 评分表 cells whatever the issue: codes, names, points, texts
    formulas: dict[str, frozenset[tuple[int, int]]]  # sheet -> cells that hold a formula as issued
    inputs: dict[tuple[int, int], str]  # 评分表 input cell -> the number format issued
    cover_inputs: frozenset[tuple[int, int]]
    merges: frozenset[tuple[int, int, int, int]]


@cache
def _template_plan(award: str, blank: bool, variant: int = 0):
    """The plan of a scoresheet as issued (blank template or personalised), for its fixed layout."""
    if blank:
        return plan_scoresheet(builtin_standard(award), Issue())
    issue = (
        Issue(issue_id="x", year=2000)
        if variant == 0
        else Issue(
            issue_id="y", year=2001, applicant_id="Z", applicant_name="Z", examiner_id="Z", examiner_name="Z"
        )
    )
    return plan_scoresheet(builtin_standard(award), issue)


def _sheet_plan(plan, title: str):
    return next(s for s in plan.workbook.sheets if s.title == title)


@cache
def template_facts(award: str, blank: bool) -> TemplateFacts:
    plan = _template_plan(award, blank)
    other = _sheet_plan(_template_plan(award, blank, 1), SHEET_SCORES)
    other_values = {c.ref: c.value for c in other.cells}
    scores = _sheet_plan(plan, SHEET_SCORES)
    constants: dict[tuple[int, int], object] = {}
    formulas: dict[str, frozenset[tuple[int, int]]] = {}
    for title in (SHEET_SCORES, SHEET_COVER, SHEET_META):
        sheet = _sheet_plan(plan, title)
        formulas[title] = frozenset(split_ref(c.ref) for c in sheet.cells if c.formula)
    for c in scores.cells:
        if not c.formula and c.value not in (None, "") and other_values.get(c.ref) == c.value:
            constants[split_ref(c.ref)] = c.value
    inputs = {}
    styles = {c.ref: c.style for c in scores.cells}
    for fields in plan.inputs.values():
        for key in INPUT_FIELDS:
            ref = fields[key].split("!")[1]
            style = STYLES.get(styles.get(ref) or "")
            inputs[split_ref(ref)] = xp.normal_format((style.number_format if style else None) or "General")
    cover_keys = ("date", "declaration") + (
        ("year", "applicant_id", "applicant_name", "applicant_kind", "examiner_id", "examiner_name")
        if blank
        else ()
    )
    cover_inputs = frozenset(
        split_ref(addr.split("!")[1]) for key, addr in plan.cover_inputs.items() if key in cover_keys
    )
    merges = frozenset(xp.parse_range(m) for m in scores.merges)
    return TemplateFacts(constants, formulas, inputs, cover_inputs, merges)


@cache
def expected_layout(award: str, blank: bool) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """Input and locked cell addresses the layout puts in a scoresheet of this award category."""
    plan = _template_plan(award, blank)
    return plan.inputs, plan.cover_inputs


@cache
def _units(award: str) -> tuple:
    """The scoring units of a built-in standard, listed once."""
    return builtin_standard(award).units()


@lru_cache(maxsize=4096)
def _address(addr: str) -> tuple[str, int, int]:
    """'评分表!H12' -> ('评分表', 12, 8)."""
    sheet, ref = addr.split("!")
    return (sheet, *split_ref(ref))


def _ref(pos: tuple[int, int]) -> str:
    return xp.cell_name(pos)


def _describe(v: object) -> str:
    if isinstance(v, bool):
        return f"逻辑值 {v}"
    if isinstance(v, datetime):
        return f"日期 {v:%Y-%m-%d %H:%M}" if (v.hour or v.minute) else f"日期 {v:%Y-%m-%d}"
    if isinstance(v, date):
        return f"日期 {v:%Y-%m-%d}"
    if isinstance(v, (time, timedelta)):
        return f"时间 {v}"
    return repr(v)


def read_return(path: Path | str) -> ReturnFile:
    """Read one returned scoresheet and judge it: accepted, incomplete or rejected (with reasons).

    Runs in the calling process, unbounded: bulk and interactive callers use
    ``returns.isolation`` instead, which runs this under a time and memory limit.
    """
    path = Path(path)
    data = b""
    size, digest = 0, ""
    unreadable = None
    try:
        size = path.stat().st_size
        if size <= pkg.MAX_FILE_BYTES:  # read once: hashed, checked and parsed from memory
            data = path.read_bytes()
            digest = hashlib.sha256(data).hexdigest()
        else:  # too large to parse; still fingerprinted for the sources sheet, in chunks
            with path.open("rb") as fh:
                digest = hashlib.file_digest(fh, "sha256").hexdigest()
    except OSError as exc:
        unreadable = exc
    rf = ReturnFile(
        path=path,
        name=path.name,
        sha256=digest,
        size=size,
        read_at=datetime.now(UTC).replace(microsecond=0).isoformat(),
    )
    if unreadable is not None:
        rf.problems.append(
            Problem("unreadable", f"无法读取文件：{unreadable.strerror or unreadable}", rf.name)
        )
        return rf
    if size > pkg.MAX_FILE_BYTES:
        rf.problems.append(
            Problem("too-large", f"文件过大（{size // 1024 // 1024} MB），评分表通常小于 1 MB", rf.name)
        )
        return rf
    view = open_view(data, rf.name)
    if isinstance(view, Problem):
        rf.problems.append(view)
        return rf
    for needed in INPUT_SHEETS:
        if needed not in view.sheets:
            rf.problems.append(
                Problem(
                    "missing-sheet",
                    f"缺少工作表“{needed}”：不是本系统生成的评分表，或工作表被删除/改名",
                    rf.name,
                    needed,
                )
            )
            return rf
    _validate(rf, view)
    return rf


def _read_meta(sheet: SheetView) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """(key -> value, unit -> field -> address) from the metadata sheet (no table: no units)."""
    meta: dict[str, str] = {}
    units: dict[str, dict[str, str]] = {}
    table_at = None
    for r in range(1, sheet.max_row + 1):
        key = xp.value_text(sheet.value(r, 1))
        if key == "unit":
            table_at = r
            break
        if key and key != "key":
            meta[key] = xp.value_text(sheet.value(r, 2))
    if table_at is None:
        return meta, units
    header = [xp.value_text(sheet.value(table_at, c)) for c in range(1, sheet.max_col + 1)]
    for r in range(table_at + 1, sheet.max_row + 1):
        code = xp.value_text(sheet.value(r, 1))
        if code:
            units[code] = {
                header[c - 1]: xp.value_text(sheet.value(r, c))
                for c in range(2, len(header) + 1)
                if header[c - 1]
            }
    return meta, units


def _validate(rf: ReturnFile, view: WorkbookView) -> None:
    name = rf.name
    probs = rf.problems

    def add(code, msg, sheet="", cell="", severity="error"):
        probs.append(Problem(code, msg, name, sheet, cell, severity))

    meta_sheet = view.sheets[SHEET_META]
    if meta_sheet.formulas:
        first = _ref(min(meta_sheet.formulas))
        add("locked-formula", "元数据工作表含公式（元数据被改动，不是下发的评分表）", SHEET_META, first)
        return
    bad_meta = [pos for pos, v in meta_sheet.values.items() if isinstance(v, ErrorValue)]
    if bad_meta:
        add("bad-meta", "元数据工作表含错误值（元数据被改动）", SHEET_META, _ref(min(bad_meta)))
        return
    meta, meta_inputs = _read_meta(meta_sheet)
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
    if meta.get("fingerprint") != builtin_fingerprint(std.id):
        add(
            "edition",
            f"评分表依据的标准版本（指纹 {meta.get('fingerprint', '')[:12]}）与当前{std.name_zh}标准"
            f"（{std.edition}，指纹 {builtin_fingerprint(std.id)[:12]}）不一致",
            SHEET_META,
        )
        return
    blank = meta.get("issue_id") == "BLANK"
    exp_inputs, exp_cover = expected_layout(award, blank)
    # The metadata's addresses must be exactly the layout's: an edited metadata sheet is tampering.
    meta_cover = {k.removeprefix("cover."): v for k, v in meta.items() if k.startswith("cover.")}
    if meta_inputs != exp_inputs or meta_cover != exp_cover:
        add("bad-meta", "元数据中的单元格地址与模板不符（元数据工作表被改动）", SHEET_META)
        return
    facts = template_facts(award, blank)

    def cell(addr: str):
        sheet, r, c = _address(addr)
        v = view.sheets[sheet].values.get((r, c))
        return None if v == "" else v

    # Locked cells: codes, names, points, requirement and guidance text unchanged.
    scores = view.sheets[SHEET_SCORES]
    cover = view.sheets[SHEET_COVER]
    for pos, want in facts.constants.items():
        got = scores.values.get(pos)
        if isinstance(want, (int, float)):
            ok = isinstance(got, float) and not isinstance(got, bool) and got == want
        else:
            ok = isinstance(got, str) and not isinstance(got, ErrorValue) and got == want
        if not ok:
            add(
                "locked-changed",
                f"锁定单元格被改动：应为 {str(want)[:30]!r}，实为 {xp.value_text(got)[:30]!r}"
                "（行被插入、删除、排序或内容被修改）",
                SHEET_SCORES,
                _ref(pos),
            )
            return  # one is enough: every later check relies on the rows being where they were issued

    # Formulas where the template has none: in an input cell, or in a locked cell (a forged
    # value behind a cached original).  A shared or array formula's range covers cells too.
    found_formula = False
    for sheet_name, sheet, inputs in (
        (SHEET_SCORES, scores, facts.inputs.keys()),
        (SHEET_COVER, cover, facts.cover_inputs),
    ):
        allowed = facts.formulas[sheet_name]
        for pos in sorted(sheet.formulas - allowed):
            if pos in inputs:
                add(
                    "formula-input",
                    "填写区含公式：请直接填写数值或文字，不要输入以“=”开头的公式",
                    sheet_name,
                    _ref(pos),
                )
            else:
                add(
                    "locked-formula",
                    "锁定单元格被改为公式（文件被改动），请使用下发的评分表重新填写",
                    sheet_name,
                    _ref(pos),
                )
            found_formula = True
        # and none where the template has one: a total or status replaced by a constant shows the
        # examiner (and anyone reading the file) a figure the scores do not give
        for pos in sorted(allowed - sheet.formulas - xp.covered_cells(sheet.formula_ranges, allowed)):
            add(
                "formula-removed",
                "下发的公式被改为固定值或被清除（文件被改动），请使用下发的评分表重新填写",
                sheet_name,
                _ref(pos),
            )
            found_formula = True
        interesting = set(inputs) | (facts.constants.keys() if sheet is scores else set())
        for pos in sorted(xp.covered_cells(sheet.formula_ranges, interesting) - sheet.formulas):
            code = "formula-input" if pos in inputs else "locked-formula"
            add(
                code,
                "单元格被数组公式或共享公式的范围覆盖（文件被改动），请直接填写数值或文字",
                sheet_name,
                _ref(pos),
            )
            found_formula = True
    if found_formula:
        return

    # Identity: year, applicant, examiner.
    if blank:
        for key in ("year", "applicant_id", "applicant_name", "examiner_id", "examiner_name"):
            v = cell(exp_cover[key]) if key in exp_cover else None
            meta[key] = xp.value_text(v).strip()
        labels = {"year": "评审年度", "applicant_id": "申报编号", "examiner_id": "评审员编号"}
        for key, label in labels.items():
            if not meta.get(key):
                add("identity-missing", f"空白模板未填写{label}", "封面", exp_cover[key].split("!")[1])
    # Inputs: error values, merges, number formats.
    formats = view.formats
    for pos, fmt in sorted(facts.inputs.items()):
        v = scores.values.get(pos)
        if isinstance(v, ErrorValue):
            add("error-value", f"填写区是错误值 {v}，请删除后重新填写", SHEET_SCORES, _ref(pos))
            continue
        style = scores.styles.get(pos, 0)
        got = xp.normal_format(formats[style]) if style < len(formats) else "General"
        allowed = {fmt, "General"} | ({"@"} if fmt == "General" else set())
        if got not in allowed and not isinstance(v, (datetime, date, time)):
            add(
                "number-format",
                f"填写区的数字格式被改为 {got[:20]!r}（应为 {fmt!r}），显示的值与实际值不同；"
                "请把单元格格式改回“常规”或使用下发的评分表",
                SHEET_SCORES,
                _ref(pos),
            )
    for pos in sorted(facts.cover_inputs):
        v = cover.values.get(pos)
        if isinstance(v, ErrorValue):
            add("error-value", f"填写区是错误值 {v}，请删除后重新填写", SHEET_COVER, _ref(pos))
    for rng in scores.merges:
        if rng in facts.merges:
            continue
        hit = sorted(xp.covered_cells([rng], facts.inputs.keys()))
        if hit:
            a, b = _ref(rng[:2]), _ref(rng[2:])
            add("merged-input", f"填写区被合并（{a}:{b}），请取消合并", SHEET_SCORES, _ref(hit[0]))
    if rf.errors:
        rf.status = "rejected"
        return

    for unit in _units(award):
        addrs = exp_inputs[unit.code]
        band_ref = addrs["band"].split("!")[1]
        pct_ref = addrs["pct"].split("!")[1]
        band_v = cell(addrs["band"])
        pct_v = cell(addrs["pct"])
        band: str | None = None
        pct: float | None = None
        bad_band = bad_pct = False
        if band_v is not None:
            if isinstance(band_v, str) and band_v.strip() in grid.band_labels(std, unit.kind):
                band = band_v.strip()
            else:
                bad_band = True
                add(
                    "bad-band",
                    f"{unit.code} 评分区间 {_describe(band_v)} 不是下拉列表中的选项",
                    SHEET_SCORES,
                    band_ref,
                )
        if pct_v is not None:
            bad_pct = True
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
                bad_pct = False
        status = grid.unit_status(std, unit.kind, band, pct)
        if band is not None and pct is not None and status == grid.STATUS_OUT_OF_BAND:
            add("out-of-band", f"{unit.code} 得分率 {pct:g} 不在所选区间“{band}”内", SHEET_SCORES, pct_ref)
        texts = {k: xp.value_text(cell(addrs[k])) for k in ("strengths", "ofi", "evidence")}
        rf.units[unit.code] = UnitReturn(
            unit.code, band, pct, texts["strengths"], texts["ofi"], texts["evidence"], status
        )
        if status in (grid.STATUS_NO_BAND, grid.STATUS_NO_PCT) and not (bad_band or bad_pct):
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
    decl = xp.value_text(cell(decl_addr)).strip()
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

"""The writer renders every part of a plan an examiner would notice, read back by an independent reader.

Each plan is written by ``szqa_xl.xlsx.writer`` (XlsxWriter) and read back with openpyxl in
full mode: values, formulas, styles that lock or unlock, merges, widths, heights, hidden
columns, validations with their prompts and messages, highlights, names, sheet states,
protection of sheets and of the workbook's structure.  What XlsxWriter would refuse or
truncate is refused with ``WriteError`` — nothing is dropped silently.
"""

from __future__ import annotations

import subprocess
import sys
import warnings
import zipfile
from datetime import date
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from openpyxl import load_workbook

from szqa_xl.xlsx import writer
from szqa_xl.xlsx.plan import Cell, CondFormat, Sheet, Style, Validation, Workbook

VALIDATIONS = [
    Validation(
        "G5:G20", "list", '"优秀,良好,一般"', prompt_title="评分区间", prompt='第一行\n第二行 "引号" <&>'
    ),
    Validation("$H$5:$H$20", "decimal", "0", "100", operator="between", allow_blank=False),
    Validation("C3", "textLength", "0", operator="greaterThan", error_title='A & "B"', error="x<y"),
    Validation("D4:D4", "date", "DATE(2020,1,1)", "DATE(2030,12,31)", operator="between"),
    Validation("E5", "list", "BANDS_P"),
    Validation("F5", "list", 'INDIRECT(IF(E5="","PCT_ALL","P_"&MATCH(E5,BANDS_P,0)))'),
]
COND_FORMATS = [
    CondFormat("A5:N20", '$N5="未评分"', fill="EDEDED"),
    CondFormat("A5:N20", '$N5<>""', fill="FFC7CE", font_color="9C0006"),
    CondFormat("B2", "TRUE", fill="FFC7CE", font_color="9C0006"),
]
STYLES = {
    "locked": Style(),
    "input": Style(fill="FFF2CC", locked=False, border=True),
    "pct": Style(locked=False, number_format="0"),
    "date": Style(number_format="yyyy-mm-dd"),
}


def _plan(large: bool = False) -> Workbook:
    scores = Sheet(
        "评分表",
        col_widths={"A": 7, "B": 14.5, "AA": 3, "D": 6.25},
        hidden_cols=["C", "D"],
        validations=VALIDATIONS,
        cond_formats=COND_FORMATS,
        freeze="C4",
        print_title_rows="1:3",
        tab_color="1F4E78",
    )
    scores.put("A1", "标题", "locked")
    scores.merges.append("A1:N1")
    scores.put("A2", "=1+1", "locked", formula=True)
    scores.put("B5", "=SUM(A1:A3)", "locked", formula=True)
    scores.put("G5", None, "input")
    scores.put("H5", None, "pct")
    scores.put("L5", "=优势明显", "input")  # text that looks like a formula stays text
    scores.put("M5", "#N/A", "input")  # text that looks like an error stays text
    scores.put("C7", 20, "locked")
    scores.put("C8", 2.5, "locked")
    scores.put("C9", date(2027, 5, 20), "date")
    scores.put("C10", True, "locked")
    scores.row_heights[5] = 60
    scores.row_heights[30] = 12  # a height on a row without cells
    meta = Sheet("_meta", state="veryHidden")
    meta.put("A1", "key")
    lists = Sheet("_lists", state="hidden", protect=False)
    lists.put("A2", "0～5%")
    names = {"BANDS_P": "'_lists'!$A$2:$A$3", "PCT_ALL": "'_lists'!$B$2:$B$22"}
    return Workbook(sheets=[scores, lists, meta], styles=STYLES, names=names, title="测试", large=large)


@pytest.fixture(params=[False, True], ids=["normal", "large"])
def written(request, tmp_path: Path) -> Path:
    path = tmp_path / "plan.xlsx"
    writer.write(_plan(large=request.param), path)
    return path


def test_values_formulas_and_text_that_looks_like_a_formula(written: Path) -> None:
    ws = load_workbook(written)["评分表"]
    assert ws["A1"].value == "标题"
    assert ws["A2"].value == "=1+1" and ws["A2"].data_type == "f"
    assert ws["L5"].value == "=优势明显" and ws["L5"].data_type == "s"
    assert ws["M5"].value == "#N/A" and ws["M5"].data_type == "s"
    assert (ws["C7"].value, ws["C8"].value, ws["C10"].value) == (20, 2.5, True)
    assert ws["C9"].value.date() == date(2027, 5, 20) and ws["C9"].number_format == "yyyy-mm-dd"
    values = load_workbook(written, data_only=True)["评分表"]
    assert values["A2"].value in ("", None)  # no cached 0 for a formula not yet calculated


def test_locks_merges_sizes_and_hidden_columns(written: Path) -> None:
    wb = load_workbook(written)
    ws = wb["评分表"]
    assert ws["A1"].protection.locked and not ws["G5"].protection.locked and not ws["H5"].protection.locked
    assert ws["G5"].fill.fgColor.rgb.endswith("FFF2CC") and ws["H5"].number_format == "0"
    assert [str(m) for m in ws.merged_cells.ranges] == ["A1:N1"]
    assert ws.column_dimensions["C"].hidden and ws.column_dimensions["D"].hidden
    assert not ws.column_dimensions["B"].hidden
    widths = {c: ws.column_dimensions[c].width for c in ("A", "B", "AA")}
    assert widths["A"] < widths["B"] and widths["AA"] < widths["A"]
    assert ws.row_dimensions[5].height == 60 and ws.row_dimensions[30].height == 12
    assert ws.freeze_panes == "C4" and ws.print_title_rows == "$1:$3"
    assert ws.sheet_properties.tabColor.rgb.endswith("1F4E78")
    assert ws.protection.sheet and not wb["_lists"].protection.sheet
    assert [s.sheet_state for s in wb.worksheets] == ["visible", "hidden", "veryHidden"]
    assert {n: wb.defined_names[n].attr_text for n in ("BANDS_P", "PCT_ALL")} == {
        "BANDS_P": "'_lists'!$A$2:$A$3",
        "PCT_ALL": "'_lists'!$B$2:$B$22",
    }


def test_validations_with_their_prompts_and_messages(written: Path) -> None:
    ws = load_workbook(written)["评分表"]
    got = {str(dv.sqref): dv for dv in ws.data_validations.dataValidation}
    assert set(got) == {"G5:G20", "H5:H20", "C3", "D4", "E5", "F5"}
    g = got["G5:G20"]
    assert (g.type, g.formula1, g.prompt, g.promptTitle) == (
        "list",
        '"优秀,良好,一般"',
        '第一行\n第二行 "引号" <&>',
        "评分区间",
    )
    h = got["H5:H20"]
    # ECMA-376's default operator is "between": the attribute may be left out
    assert (h.type, h.operator or "between", h.formula1, h.formula2) == ("decimal", "between", "0", "100")
    assert not h.allow_blank
    c = got["C3"]
    assert (c.type, c.operator, c.errorTitle, c.error) == ("textLength", "greaterThan", 'A & "B"', "x<y")
    assert (got["D4"].formula1, got["D4"].formula2) == ("DATE(2020,1,1)", "DATE(2030,12,31)")
    assert got["E5"].formula1 == "BANDS_P"
    assert got["F5"].formula1 == 'INDIRECT(IF(E5="","PCT_ALL","P_"&MATCH(E5,BANDS_P,0)))'
    assert all(dv.showErrorMessage and dv.errorStyle in (None, "stop") for dv in got.values())


def test_highlights(written: Path) -> None:
    ws = load_workbook(written)["评分表"]
    rules = [(str(cf.sqref), r.formula, r.dxf) for cf in ws.conditional_formatting for r in cf.rules]
    assert [(s, f) for s, f, _ in rules] == [
        ("A5:N20", ['$N5="未评分"']),
        ("A5:N20", ['$N5<>""']),
        ("B2", ["TRUE"]),
    ]
    fills = [d.fill.bgColor.rgb[-6:] for _, _, d in rules]
    assert fills == ["EDEDED", "FFC7CE", "FFC7CE"]
    assert rules[1][2].font.color.rgb.endswith("9C0006")


def test_workbook_structure_is_locked(tmp_path: Path) -> None:
    """XlsxWriter has no workbook protection; writer.lock_structure adds it, where the schema puts it."""
    plan = _plan()
    plan.lock_structure = True
    path = tmp_path / "locked.xlsx"
    writer.write(plan, path)
    assert load_workbook(path).security.lockStructure
    with zipfile.ZipFile(path) as z:
        root = ET.fromstring(z.read("xl/workbook.xml"))
        names = sorted(z.namelist())
    tags = [el.tag.split("}")[1] for el in root]
    assert tags.index("workbookProtection") == tags.index("workbookPr") + 1
    assert tags.index("workbookProtection") < tags.index("bookViews")
    plain = tmp_path / "plain.xlsx"
    plan.lock_structure = False
    writer.write(plan, plain)
    assert not load_workbook(plain).security or not load_workbook(plain).security.lockStructure
    with zipfile.ZipFile(plain) as z:
        assert sorted(z.namelist()) == names  # the same parts: only workbook.xml gained an element


def test_large_mode_writes_the_same_cells(tmp_path: Path) -> None:
    normal, large = tmp_path / "n.xlsx", tmp_path / "l.xlsx"
    writer.write(_plan(False), normal)
    writer.write(_plan(True), large)

    def cells(ws) -> dict:
        return {c.coordinate: c.value for row in ws.iter_rows() for c in row if c.value is not None}

    for title in ("评分表", "_lists", "_meta"):
        assert cells(load_workbook(normal)[title]) == cells(load_workbook(large)[title])


@pytest.mark.parametrize("large", [False, True])
def test_rows_keep_their_heights_when_the_common_one_becomes_the_default(tmp_path: Path, large) -> None:
    """A sheet whose every row has a height gets the most common one as its default row height (so
    XlsxWriter need not keep an object per row); every row still shows the height planned, a row
    with no cells included.  A sheet with a row of no planned height keeps the usual default, so
    that row looks as it did."""
    full = Sheet("全部有行高")
    gap = Sheet("有一行无行高")
    for sh in (full, gap):
        for r in range(1, 41):
            if r != 7:
                sh.put(f"A{r}", f"第{r}行", "locked")
                sh.put(f"C{r}", r, "locked")
            if sh is full or r != 3:
                sh.row_heights[r] = 18.75 if r % 3 else 31.5
    path = tmp_path / "heights.xlsx"
    writer.write(Workbook(sheets=[full, gap], styles=STYLES, large=large), path)
    book = load_workbook(path)
    ws = book["全部有行高"]
    assert ws.sheet_format.defaultRowHeight == 18.75 and ws.sheet_format.customHeight
    for r in range(1, 41):
        shown = ws.row_dimensions[r].height
        assert (shown if shown is not None else ws.sheet_format.defaultRowHeight) == full.row_heights[r], r
    ws = book["有一行无行高"]
    assert ws.sheet_format.defaultRowHeight == 15 and not ws.sheet_format.customHeight
    assert ws.row_dimensions[3].height is None  # as Excel's default, fitted to its text
    assert [ws.row_dimensions[r].height for r in (1, 2, 6, 7)] == [18.75, 18.75, 31.5, 18.75]


@pytest.mark.parametrize("title", ["s", "申报方 O'Brien", "A-1 (2)"])
def test_print_areas_one_or_several_in_their_order(tmp_path: Path, title: str) -> None:
    one, several = (
        Sheet("one", print_areas=["B2:D9"]),
        Sheet(title, print_areas=["A1:R23", "$A$25:$R$42", "T1:X73"]),
    )
    for sh in (one, several):
        sh.put("A1", "x")
    path = tmp_path / "p.xlsx"
    writer.write(Workbook(sheets=[one, several], styles={}, lock_structure=False), path)
    wb = load_workbook(path)
    assert wb["one"].print_area == "'one'!$B$2:$D$9" or wb["one"].print_area == "one!$B$2:$D$9"
    quoted = "'" + title.replace("'", "''") + "'"
    got = wb[title].print_area.replace(f"{title}!", f"{quoted}!") if title == "s" else wb[title].print_area
    assert got == f"{quoted}!$A$1:$R$23,{quoted}!$A$25:$R$42,{quoted}!$T$1:$X$73"


def test_several_print_areas_on_a_sheet_named_with_a_bang_are_refused(tmp_path: Path) -> None:
    sheet = Sheet("a!b", print_areas=["A1:B2", "D1:E2"])
    with pytest.raises(writer.WriteError, match="a!b"):
        writer.write(Workbook(sheets=[sheet], styles={}, lock_structure=False), tmp_path / "x.xlsx")


@pytest.mark.parametrize(
    "case",
    ["text-too-long", "title-too-long", "merge-across-rows-large", "streamed-out-of-order"],
)
def test_what_would_be_lost_is_refused(tmp_path: Path, case: str) -> None:
    sheet = Sheet("s")
    large = False
    expected: type[Exception] = writer.WriteError
    if case == "text-too-long":
        sheet.put("A1", "字" * 32768)
    elif case == "title-too-long":
        sheet.validations.append(Validation("A1", "list", '"a,b"', prompt_title="标" * 33, prompt="p"))
    elif case == "merge-across-rows-large":
        sheet.put("A1", "x")
        sheet.merges.append("A1:B2")
        large = True
    else:
        sheet.cells = iter([sheet_cell("A2"), sheet_cell("A1")])
        sheet.rows_in_order = True
        expected = ValueError
    with pytest.raises(expected), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # XlsxWriter warns as well as refusing
        writer.write(
            Workbook(sheets=[sheet], styles={}, lock_structure=False, large=large), tmp_path / "x.xlsx"
        )


def sheet_cell(ref: str):
    from szqa_xl.xlsx.plan import Cell

    return Cell(ref, "x")


@pytest.mark.parametrize("large", [False, True], ids=["normal", "large"])
def test_a_streamed_sheet_keeps_the_heights_its_planner_sets_while_yielding(
    tmp_path: Path, large: bool
) -> None:
    """The 回收情况 sheet is planned row by row as the writer reads it; each row's height is set as the row
    is yielded (before or after its first cell). Every one must reach the file (once they were all lost)."""
    sh = Sheet("回收情况", rows_in_order=True)

    def rows():
        for r in range(2, 8):
            if r % 2:
                sh.row_heights[r] = 20.0 + r  # before the row's cells
            yield Cell(f"A{r}", f"第{r}行", "locked")
            if not r % 2:
                sh.row_heights[r] = 30.0 + r  # after its first cell, before the next
            yield Cell(f"B{r}", "原因", "locked")
        sh.row_heights[12] = 12.0  # below the last cell

    sh.cells = rows()
    path = tmp_path / "s.xlsx"
    writer.write(Workbook(sheets=[sh], styles=STYLES, large=large), path)
    ws = load_workbook(path)["回收情况"]
    got = {r: ws.row_dimensions[r].height for r in (*range(2, 8), 12)}
    want = {2: 32.0, 3: 23.0, 4: 34.0, 5: 25.0, 6: 36.0, 7: 27.0, 12: 12.0}
    assert got == {r: pytest.approx(h, abs=0.75) for r, h in want.items()}  # XlsxWriter rounds to 0.75 pt


def test_a_height_set_after_its_row_was_flushed_is_refused_not_lost(tmp_path: Path) -> None:
    sh = Sheet("回收情况", rows_in_order=True)

    def rows():
        yield Cell("A2", "x", "locked")
        yield Cell("A3", "y", "locked")
        sh.row_heights[2] = 40.0  # row 2 is already written in constant_memory mode

    sh.cells = rows()
    with pytest.raises(writer.WriteError, match="row 2"):
        writer.write(Workbook(sheets=[sh], styles=STYLES, large=True), tmp_path / "s.xlsx")


_MANY_SHEETS = """
import resource, sys, zipfile
soft, hard = (int(x) for x in sys.argv[2:4])
resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
from szqa_xl.xlsx import writer
from szqa_xl.xlsx.plan import Cell, Sheet, SheetStream, Style, Workbook

def sheet(i):
    return lambda: Sheet(f"S{i}", cells=[Cell("A1", f"sheet {i}", "s")])

plan = Workbook(sheets=SheetStream([sheet(i) for i in range(int(sys.argv[4]))]), styles={"s": Style()}, large=True)
try:
    writer.render(plan, sys.argv[1])
except writer.OpenFilesLimit as exc:
    print("refused:", exc)
print(resource.getrlimit(resource.RLIMIT_NOFILE)[0])
"""


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX limits on open files")
def test_a_large_workbook_of_more_sheets_than_the_usual_open_file_limit(tmp_path):
    """A large (constant_memory) workbook keeps one temporary file open per worksheet until it is
    assembled.  Under a soft limit lower than that (Linux's usual 1,024 against a consolidated
    workbook of 2,000 applicants) it is written whole, every sheet there; under a hard limit too
    low it is refused before anything is written, with both figures in the message."""
    import resource

    out = tmp_path / "many.xlsx"

    def run(soft, hard, sheets):
        proc = subprocess.run(
            [sys.executable, "-c", _MANY_SHEETS, str(out), str(soft), str(hard), str(sheets)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.splitlines()

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1024:
        pytest.skip(f"the hard limit on open files here is {hard}")
    lines = run(128, 1024, 300)
    assert lines[-1] != "128" and int(lines[-1]) <= 1024  # raised as far as needed, within the hard limit
    with zipfile.ZipFile(out) as z:
        sheets = [n for n in z.namelist() if n.startswith("xl/worksheets/sheet")]
        assert len(sheets) == 300
        assert "sheet 299" in z.read("xl/worksheets/sheet300.xml").decode()
    out.unlink()
    lines = run(128, 128, 300)
    assert lines[0].startswith("refused:") and "300 worksheets" in lines[0] and "allows 128" in lines[0]
    assert lines[-1] == "128"
    assert not out.exists() and list(tmp_path.iterdir()) == []

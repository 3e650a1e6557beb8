"""The examiner scoresheet (spec §2): formulas recalculated in LibreOffice agree with the
Python arithmetic, only input cells are editable, dropdowns and metadata are right."""

from __future__ import annotations

import datetime as dt
import random
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from openpyxl import load_workbook
from openpyxl.utils.cell import column_index_from_string, coordinate_from_string, get_column_letter
from python_calamine import CalamineWorkbook

from szqa_xl.scoresheet.layout import (
    DECLARATION_OK,
    DECLARATIONS,
    HEADER_ROW,
    HEADERS,
    INPUT_FIELDS,
    SHEET_COVER,
    SHEET_LISTS,
    SHEET_META,
    SHEET_SCORES,
    Issue,
    ScoresheetPlan,
    plan_scoresheet,
)
from szqa_xl.standards import grid
from szqa_xl.standards.load import builtin_standard, fingerprint
from szqa_xl.standards.models import AWARD_IDS, KIND_ZH, Standard
from szqa_xl.xlsx.writer import render

SEED = 20270520
YEAR = 2027
ALL_STATUSES = {
    grid.STATUS_OK,
    grid.STATUS_BLANK,
    grid.STATUS_NO_BAND,
    grid.STATUS_NO_PCT,
    grid.STATUS_OFF_GRID,
    grid.STATUS_OUT_OF_BAND,
    grid.STATUS_BAD_BAND,
}
IDENTITY_KEYS = ("year", "applicant_id", "applicant_name", "applicant_kind", "examiner_id", "examiner_name")
OFF_GRID_VALUES = (42, 7, 12.5, 101, -5, 103)
TYPO_BAND = "90-100%"  # ASCII hyphen instead of ～: not a label of any guide


def issue_for(award: str) -> Issue:
    return Issue(
        year=YEAR,
        stage="材料评审",
        applicant_id=f"{award[:2].upper()}-001",
        applicant_name="深圳湾测试申报单位",
        applicant_kind="organisation",
        examiner_id="E01",
        examiner_name="李明",
        issue_id=f"{award}-0123456789abcdef",
        generated_at="2027-04-01T08:00:00+00:00",
    )


def ref_rc(ref: str) -> tuple[int, int]:
    """'评分表!G5' or 'G5' -> 0-based (row, col)."""
    col, row = coordinate_from_string(ref.split("!")[-1])
    return row - 1, column_index_from_string(col) - 1


def at(table: list[list], ref: str):
    r, c = ref_rc(ref)
    if r >= len(table) or c >= len(table[r]):
        return ""
    return table[r][c]


def row_of_code(table: list[list], code: str) -> int:
    """1-based row whose column A holds ``code`` (found by content, not by the plan)."""
    rows = [i + 1 for i, row in enumerate(table) if row and str(row[0]) == code]
    assert len(rows) == 1, f"code {code} appears in column A on rows {rows}"
    return rows[0]


def cover_value(table: list[list], label: str):
    for row in table:
        if len(row) > 2 and row[1] == label:
            return row[2]
    raise AssertionError(f"cover has no row labelled {label!r}")


# --- filled scoresheets, recalculated by LibreOffice in one run ----------------


@dataclass
class Entry:
    scenario: str
    band: str | None
    pct: float | None


def random_entries(std: Standard, rng: random.Random, complete: bool) -> dict[str, Entry]:
    """Seeded examiner input: every kind of slip at least once (unless ``complete``)."""
    units = list(std.units())
    scenarios = ["ok", "edge", "blank", "out_of_band", "off_grid", "no_pct", "no_band", "bad_band"]
    order = units[:]
    rng.shuffle(order)
    plan: dict[str, str] = {}
    for i, u in enumerate(order):
        if complete:
            plan[u.code] = rng.choice(("ok", "edge"))
        elif i < len(scenarios):
            plan[u.code] = scenarios[i]
        else:
            plan[u.code] = rng.choice(("ok", "ok", "ok", "edge", "blank", "blank"))
    out = {}
    for u in units:
        bands = std.guide(u.kind).bands
        labels = grid.band_labels(std, u.kind)
        i = rng.randrange(len(bands))
        inside = grid.band_values(std, bands[i])
        outside = [p for p in std.grid() if p not in inside]
        sc = plan[u.code]
        band, pct = {
            "ok": (labels[i], rng.choice(inside)),
            "edge": (labels[i], rng.choice((bands[i].min, bands[i].max))),
            "blank": (None, None),
            "out_of_band": (labels[i], rng.choice(outside)),
            "off_grid": (labels[i], rng.choice(OFF_GRID_VALUES)),
            "no_pct": (labels[i], None),
            "no_band": (None, rng.choice(std.grid())),
            "bad_band": (TYPO_BAND, rng.choice(std.grid())),
        }[sc]
        out[u.code] = Entry(sc, band, pct)
    return out


# Hand-written cases: (award, unit code, band, pct, status shown, score shown or None).
EXPLICIT = [
    ("economic", "1.1", "50～65%", 60, grid.STATUS_OK, 12.0),
    ("economic", "1.2", "50～65%", 70, grid.STATUS_OUT_OF_BAND, None),
    ("economic", "1.3", "70～85%", 42, grid.STATUS_OFF_GRID, None),
    ("economic", "2.1", "30～45%", None, grid.STATUS_NO_PCT, None),
    ("economic", "2.2", None, 55, grid.STATUS_NO_BAND, None),
    ("economic", "2.3", TYPO_BAND, 95, grid.STATUS_BAD_BAND, None),
    ("economic", "3.1", "0～5%", 0, grid.STATUS_OK, 0.0),
    ("economic", "3.2", "90～100%", 100, grid.STATUS_OK, 25.0),
    ("economic", "3.3", "70～85%", 12.5, grid.STATUS_OFF_GRID, None),
    ("economic", "4.1", "10～25%", 105, grid.STATUS_OFF_GRID, None),
    ("economic", "4.2", "50～65%", 7, grid.STATUS_OFF_GRID, None),
    ("economic", "4.3", None, None, grid.STATUS_BLANK, None),
    ("culture", "1.1.1", "一般水平 0～20%", 20, grid.STATUS_OK, 6.0),
    ("culture", "1.1.2", "较好水平 20～40%", 20, grid.STATUS_OK, 6.0),
    ("culture", "1.2.1", "较好水平 20～40%", 45, grid.STATUS_OUT_OF_BAND, None),
    ("culture", "1.2.2", "优秀水平 60～80%", None, grid.STATUS_NO_PCT, None),
    ("culture", "3.1.1", "一般水平 0～20%", 10, grid.STATUS_BAD_BAND, None),  # process label on a result row
    ("culture", "3.1.2", "80～100%", 85, grid.STATUS_OK, 42.5),
]


@dataclass
class Filled:
    award: str
    variant: str
    std: Standard
    plan: ScoresheetPlan
    entries: dict[str, Entry]
    source: Path
    recalculated: Path | None = None


def fill(src: Path, dst: Path, plan: ScoresheetPlan, entries: dict[str, Entry], probes: bool) -> None:
    """Type the entries into the input cells at the plan's addresses, as an examiner would.

    With ``probes``, the conditional-format formulas are copied into spare cells (column
    P grey rule, Q red rule) of every body row so LibreOffice evaluates them too.
    """
    wb = load_workbook(src)
    for code, e in entries.items():
        for key, value in (("band", e.band), ("pct", e.pct)):
            sheet, ref = plan.inputs[code][key].split("!")
            wb[sheet][ref] = value
        if e.band is not None:
            sheet, ref = plan.inputs[code]["strengths"].split("!")
            wb[sheet][ref] = f"{code} 方法系统"
    cover = wb[SHEET_COVER]
    cover[plan.cover_inputs["declaration"].split("!")[1]] = DECLARATION_OK
    cover[plan.cover_inputs["date"].split("!")[1]] = dt.date(2027, 5, 20)
    if probes:
        ws = wb[SHEET_SCORES]
        rules = [(cf.sqref, cf.formula) for sh in plan.workbook.sheets for cf in sh.cond_formats]
        (body, grey), (_, red) = rules
        first, last = (int(re.sub(r"\D", "", part)) for part in body.split(":"))
        for r in range(first, last + 1):
            ws[f"P{r}"] = "=" + re.sub(r"\$J\d+", f"$J{r}", grey)
            ws[f"Q{r}"] = "=" + re.sub(r"\$J\d+", f"$J{r}", red)
    wb.save(dst)


@pytest.fixture(scope="session")
def recalculated(tmp_path_factory: pytest.TempPathFactory, lo_convert) -> dict[tuple[str, str], Filled]:
    """Every award category filled at random (seeded) twice, plus the hand-written cases;
    all recalculated by LibreOffice headless in a single soffice run."""
    root = tmp_path_factory.mktemp("recalc")
    rng = random.Random(SEED)
    filled: dict[tuple[str, str], Filled] = {}
    for award in AWARD_IDS:
        std = builtin_standard(award)
        plan = plan_scoresheet(std, issue_for(award))
        blank = render(plan.workbook, root / f"{award}_issued.xlsx")
        variants = {"mixed": random_entries(std, rng, False), "complete": random_entries(std, rng, True)}
        explicit = {code: Entry("explicit", b, p) for a, code, b, p, _, _ in EXPLICIT if a == award}
        if explicit:
            variants["explicit"] = explicit
        for variant, entries in variants.items():
            dst = root / "in" / f"{award}_{variant}.xlsx"
            dst.parent.mkdir(exist_ok=True)
            fill(blank, dst, plan, entries, probes=variant == "mixed")
            filled[award, variant] = Filled(award, variant, std, plan, entries, dst)
    outs = lo_convert([f.source for f in filled.values()], "xlsx", root / "out")
    for f, out in zip(filled.values(), outs, strict=True):
        f.recalculated = out
    return filled


def sheet_table(path: Path, name: str) -> list[list]:
    return CalamineWorkbook.from_path(str(path)).get_sheet_by_name(name).to_python(skip_empty_area=False)


def expected_unit(std: Standard, code: str, e: Entry) -> tuple[str, float | None]:
    unit = std.unit(code)
    status = grid.unit_status(std, unit.kind, e.band, e.pct)
    return status, grid.unit_score(unit.points, e.pct) if status == grid.STATUS_OK else None


RANDOM_CASES = [(a, v) for a in AWARD_IDS for v in ("mixed", "complete")]


@pytest.mark.libreoffice
@pytest.mark.parametrize(("award", "variant"), RANDOM_CASES)
def test_unit_status_score_and_band_text_match_python(recalculated, award, variant):
    """Each row's 状态, 得分 and 所选区间描述 after LibreOffice recalculation equal the Python twin."""
    f = recalculated[award, variant]
    table = sheet_table(f.recalculated, SHEET_SCORES)
    wrong = []
    seen = set()
    for code, e in f.entries.items():
        status, score = expected_unit(f.std, code, e)
        seen.add(status)
        row = row_of_code(table, code)
        got_status, got_score, got_text = at(table, f"J{row}"), at(table, f"I{row}"), at(table, f"K{row}")
        unit = f.std.unit(code)
        idx = grid.band_index(f.std, unit.kind, e.band) if e.band else None
        want_text = "\n".join(f.std.guide(unit.kind).bands[idx].descriptors) if idx is not None else ""
        if got_status != status:
            wrong.append(
                f"{code} ({e.scenario}: {e.band!r}, {e.pct!r}): 状态 {got_status!r}, expected {status!r}"
            )
        if score is None and got_score != "":
            wrong.append(f"{code}: 得分 {got_score!r} shown for a row that is {status}")
        if score is not None and got_score != pytest.approx(score):
            wrong.append(f"{code}: 得分 {got_score!r}, expected {score}")
        if got_text != want_text:
            wrong.append(f"{code}: 所选区间描述 {str(got_text)[:30]!r}…, expected {want_text[:30]!r}…")
    assert not wrong, "\n".join(wrong)
    if variant == "mixed":
        assert seen == ALL_STATUSES, "the random fill should exercise every status word"
    else:
        assert seen == {grid.STATUS_OK}


@pytest.mark.libreoffice
@pytest.mark.parametrize(("award", "variant"), RANDOM_CASES)
def test_subtotals_total_and_progress_match_python(recalculated, award, variant):
    """Category subtotals and counts, the total row and the cover's progress/total after recalculation."""
    f = recalculated[award, variant]
    table = sheet_table(f.recalculated, SHEET_SCORES)
    units = f.std.units()
    scores = {code: expected_unit(f.std, code, e) for code, e in f.entries.items()}
    n_ok_all, total = 0, 0.0
    for cat in f.std.categories:
        codes = [u.code for u in units if u.category_code == cat.code]
        ok = [scores[c][1] for c in codes if scores[c][0] == grid.STATUS_OK]
        row = row_of_code(table, cat.code)
        assert at(table, f"C{row}") == cat.points
        assert at(table, f"I{row}") == pytest.approx(sum(ok)), f"subtotal of category {cat.code}"
        assert at(table, f"J{row}") == f"{len(ok)}/{len(codes)}", f"count of category {cat.code}"
        n_ok_all += len(ok)
        total += sum(ok)
    total_row = row_of_code(table, "总分")
    assert at(table, f"C{total_row}") == 500
    assert at(table, f"I{total_row}") == pytest.approx(total)
    assert at(table, f"J{total_row}") == f"{n_ok_all}/{len(units)}"
    done = n_ok_all == len(units)
    assert at(table, f"E{total_row}") == ("全部条目已评分" if done else "尚有条目未完成评分（见“状态”列）")
    cover = sheet_table(f.recalculated, SHEET_COVER)
    assert cover_value(cover, "评分进度") == f"已评 {n_ok_all} / {len(units)}"
    assert cover_value(cover, "已评条目得分合计") == pytest.approx(total)
    if done:
        assert cover_value(cover, "总分（满分500）") == pytest.approx(total)
    else:
        assert cover_value(cover, "总分（满分500）") == "未完成"
    assert variant == "mixed" or done


@pytest.mark.libreoffice
@pytest.mark.parametrize(
    ("award", "code", "band", "pct", "status", "score"), EXPLICIT, ids=[f"{a}-{c}" for a, c, *_ in EXPLICIT]
)
def test_hand_written_cases(recalculated, award, code, band, pct, status, score):
    """Out-of-band, off-grid (42, 12.5, 105), missing band or pct, a typed band, zero and boundary scores."""
    f = recalculated[award, "explicit"]
    unit = f.std.unit(code)
    assert grid.unit_status(f.std, unit.kind, band, pct) == status, "the Python twin disagrees"
    table = sheet_table(f.recalculated, SHEET_SCORES)
    row = row_of_code(table, code)
    assert at(table, f"J{row}") == status
    assert at(table, f"I{row}") == ("" if score is None else pytest.approx(score))


@pytest.mark.libreoffice
@pytest.mark.parametrize("award", AWARD_IDS)
def test_conditional_formats_grey_unscored_and_red_inconsistent_rows(recalculated, award):
    """The two conditional-format rules, evaluated by LibreOffice on every body row."""
    f = recalculated[award, "mixed"]
    table = sheet_table(f.recalculated, SHEET_SCORES)
    total_row = row_of_code(table, "总分")
    checked = 0
    for r in range(HEADER_ROW + 1, total_row):
        status = at(table, f"J{r}")
        grey, red = at(table, f"P{r}"), at(table, f"Q{r}")
        is_unit = status in ALL_STATUSES
        assert grey is (status == grid.STATUS_BLANK), f"row {r} ({status}) grey={grey}"
        assert red is (is_unit and status not in (grid.STATUS_OK, grid.STATUS_BLANK)), (
            f"row {r} ({status}) red={red}"
        )
        checked += is_unit
    assert checked == len(f.std.units())


# --- protection, validation, names and metadata (no LibreOffice needed) -------


@pytest.fixture(scope="module")
def issued_files(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[tuple[str, bool], tuple[Path, ScoresheetPlan]]:
    root = tmp_path_factory.mktemp("issued")
    out = {}
    for award in AWARD_IDS:
        std = builtin_standard(award)
        for blank in (False, True):
            plan = plan_scoresheet(std, Issue() if blank else issue_for(award))
            path = render(plan.workbook, root / f"{award}_{'blank' if blank else 'issued'}.xlsx")
            out[award, blank] = (path, plan)
    return out


BOTH = [pytest.param(a, b, id=f"{a}-{'blank' if b else 'issued'}") for a in AWARD_IDS for b in (False, True)]


def unlocked_cells(ws) -> set[str]:
    return {
        c.coordinate
        for row in ws.iter_rows(min_row=1, max_row=ws.max_row + 2, max_col=ws.max_column + 2)
        for c in row
        if not c.protection.locked
    }


@pytest.mark.parametrize(("award", "blank"), BOTH)
def test_only_input_cells_are_unlocked(issued_files, award, blank):
    path, plan = issued_files[award, blank]
    wb = load_workbook(path)
    want = {
        a.split("!")[1] for fields in plan.inputs.values() for k, a in fields.items() if k in INPUT_FIELDS
    }
    assert len(want) == 5 * len(builtin_standard(award).units())
    assert unlocked_cells(wb[SHEET_SCORES]) == want
    cover_refs = {k: a.split("!")[1] for k, a in plan.cover_inputs.items()}
    cover_want = {cover_refs["date"], cover_refs["declaration"]}
    if blank:  # the examiner writes who and what on a blank template
        cover_want |= {cover_refs[k] for k in IDENTITY_KEYS}
    assert unlocked_cells(wb[SHEET_COVER]) == cover_want
    for name in ("评分指南", "关键术语"):
        assert unlocked_cells(wb[name]) == set(), f"{name} must be read-only"


@pytest.mark.parametrize(("award", "blank"), BOTH)
def test_sheets_and_structure_are_protected_and_helpers_very_hidden(issued_files, award, blank):
    path, _ = issued_files[award, blank]
    wb = load_workbook(path)
    states = {ws.title: ws.sheet_state for ws in wb.worksheets}
    assert states == {
        SHEET_COVER: "visible",
        SHEET_SCORES: "visible",
        "评分指南": "visible",
        "关键术语": "visible",
        SHEET_LISTS: "veryHidden",
        SHEET_META: "veryHidden",
    }
    for ws in wb.worksheets:
        if ws.sheet_state == "visible":
            assert ws.protection.sheet, f"sheet {ws.title} is not protected"
    assert wb.security is not None and wb.security.lockStructure
    assert wb.worksheets[wb.index(wb.active)].title == SHEET_COVER, "the file opens on the cover"


def validations_by_cell(ws) -> dict[str, list]:
    out: dict[str, list] = {}
    for dv in ws.data_validations.dataValidation:
        for rng in dv.sqref.ranges:
            for row in ws.iter_rows(
                min_row=rng.min_row, max_row=rng.max_row, min_col=rng.min_col, max_col=rng.max_col
            ):
                for c in row:
                    out.setdefault(c.coordinate, []).append(dv)
    return out


@pytest.mark.parametrize(("award", "blank"), BOTH)
def test_every_input_has_a_stopping_validation(issued_files, award, blank):
    """Band and pct cells carry dropdowns that refuse anything else; text cells cap length."""
    path, plan = issued_files[award, blank]
    std = builtin_standard(award)
    wb = load_workbook(path)
    ws = wb[SHEET_SCORES]
    dvs = validations_by_cell(ws)
    for ws_any in (ws, wb[SHEET_COVER]):
        for dv in ws_any.data_validations.dataValidation:
            assert dv.showErrorMessage is True, f"{ws_any.title}!{dv.sqref} lets a wrong value through"
            # ECMA-376 18.3.1.32: errorStyle defaults to "stop" when the attribute is left out
            assert dv.errorStyle in (None, "stop"), f"{ws_any.title}!{dv.sqref} only warns"
            assert dv.error, f"{ws_any.title}!{dv.sqref} has no error text"
    for unit in std.units():
        s = "P" if unit.kind == "process" else "R"
        refs = {k: plan.inputs[unit.code][k].split("!")[1] for k in INPUT_FIELDS}
        for key, ref in refs.items():
            assert len(dvs.get(ref, [])) == 1, (
                f"{unit.code} {key} ({ref}): {len(dvs.get(ref, []))} validations"
            )
        band = dvs[refs["band"]][0]
        assert (band.type, band.formula1) == ("list", f"BANDS_{s}")
        for label in grid.band_labels(std, unit.kind):
            assert label in band.prompt, f"{unit.code}: band prompt does not list {label}"
        pct = dvs[refs["pct"]][0]
        assert pct.type == "list"
        assert (
            f'{refs["band"]}=""' in pct.formula1
            and f'"{s}_"&MATCH({refs["band"]},BANDS_{s},0)' in pct.formula1
        )
        for key in ("strengths", "ofi", "evidence"):
            dv = dvs[refs[key]][0]
            assert (dv.type, dv.operator, dv.formula1) == ("textLength", "lessThanOrEqual", "32767")
    cover_dvs = validations_by_cell(wb[SHEET_COVER])
    decl = cover_dvs[plan.cover_inputs["declaration"].split("!")[1]]
    assert [(d.type, d.formula1) for d in decl] == [("list", "DECLARATIONS")]
    date = cover_dvs[plan.cover_inputs["date"].split("!")[1]]
    assert [d.type for d in date] == ["date"]


@pytest.mark.parametrize("award", AWARD_IDS)
def test_validation_boxes_say_what_the_cell_expects(issued_files, award):
    """A strength typed as "=优势明显" (a bullet) is refused as a formula, not as "too long": the box says
    that a leading = + - makes a formula and how to write it; every input box names what it wants."""
    path, plan = issued_files[award, False]
    wb = load_workbook(path)
    dvs = validations_by_cell(wb[SHEET_SCORES])
    unit = builtin_standard(award).units()[0]
    refs = {k: plan.inputs[unit.code][k].split("!")[1] for k in INPUT_FIELDS}
    for key in ("strengths", "ofi"):
        dv = dvs[refs[key]][0]
        assert "过长" not in dv.errorTitle, "a formula is not a text that is too long"
        assert "“=”" in dv.error and "公式" in dv.error and "·" in dv.error, dv.error
        assert "“=”" in dv.prompt, "the prompt warns before the examiner types"
    assert "▼" in dvs[refs["band"]][0].error and "列表" in dvs[refs["band"]][0].error
    pct_error = dvs[refs["pct"]][0].error
    assert "整数倍" in pct_error and "%" in pct_error and "区间" in pct_error
    for ws in (wb[SHEET_SCORES], wb[SHEET_COVER]):
        for dv in ws.data_validations.dataValidation:
            assert len(dv.error) <= 255 and len(dv.prompt or "") <= 255, "Excel cuts longer boxes"


@pytest.mark.parametrize(("award", "blank"), BOTH)
def test_inputs_look_alike_and_the_state_is_shown_in_the_status_column(issued_files, award, blank):
    """No conditional format greys or reddens a cell to fill in: every input keeps the input fill,
    the unscored/inconsistent state is coloured in 状态 only."""
    path, plan = issued_files[award, blank]
    ws = load_workbook(path)[SHEET_SCORES]
    inputs = {
        a.split("!")[1] for fields in plan.inputs.values() for k, a in fields.items() if k in INPUT_FIELDS
    }
    fills = {ws[ref].fill.fgColor.rgb for ref in inputs}
    assert fills == {"FFFFF2CC"}, fills
    covered = set()
    for cf in ws.conditional_formatting:
        for cr in cf.sqref.ranges:
            assert cr.min_col == cr.max_col == 10, f"conditional format on {cr.coord}: not the 状态 column J"
            covered |= {f"J{r}" for r in range(cr.min_row, cr.max_row + 1)}
    assert not covered & inputs
    status_cells = {f"J{plan.inputs[u]['band'].split('!')[1][1:]}" for u in plan.inputs}
    assert status_cells <= covered


def name_values(wb, name: str) -> list:
    dn = wb.defined_names[name]
    ((sheet, ref),) = list(dn.destinations)
    return [row[0].value for row in wb[sheet][ref.replace("$", "")]]


@pytest.mark.parametrize("award", AWARD_IDS)
def test_dropdown_lists_are_the_guide_bands_and_their_grid_values(issued_files, award):
    """BANDS_P/BANDS_R hold the guide's band labels; P_i/R_i exactly the grid values of band i,
    so choosing a band narrows the 得分率 dropdown to that band ("P_"&MATCH(band, BANDS_P, 0))."""
    path, _ = issued_files[award, False]
    std = builtin_standard(award)
    wb = load_workbook(path)
    for kind, s in (("process", "P"), ("result", "R")):
        bands = std.guide(kind).bands
        labels = [(f"{b.level} " if b.level else "") + f"{b.min}～{b.max}%" for b in bands]
        assert name_values(wb, f"BANDS_{s}") == labels
        assert name_values(wb, f"BMIN_{s}") == [b.min for b in bands]
        assert name_values(wb, f"BMAX_{s}") == [b.max for b in bands]
        assert name_values(wb, f"BDESC_{s}") == ["\n".join(b.descriptors) for b in bands]
        for label in labels:
            i = labels.index(label) + 1  # what MATCH(label, BANDS_s, 0) returns
            b = bands[i - 1]
            assert name_values(wb, f"{s}_{i}") == list(range(b.min, b.max + 1, std.grid_step)), label
        assert f"{s}_{len(bands) + 1}" not in wb.defined_names
    assert name_values(wb, "PCT_ALL") == list(range(0, 101, std.grid_step))
    assert name_values(wb, "DECLARATIONS") == list(DECLARATIONS)


def meta_tables(wb) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """The key/value block and the unit address table of ``_meta``."""
    rows = [[c.value for c in r] for r in wb[SHEET_META].iter_rows()]
    kv, units, header = {}, {}, None
    for row in rows[1:]:
        if row[0] is None:
            continue
        if row[0] == "unit":
            header = row
        elif header is None:
            kv[row[0]] = "" if row[1] is None else row[1]
        else:
            units[row[0]] = {h: v for h, v in zip(header[1:], row[1:], strict=False) if h}
    return kv, units


@pytest.mark.parametrize(("award", "blank"), BOTH)
def test_meta_names_every_input_cell(issued_files, award, blank):
    """``_meta`` addresses equal the plan, and each points at the right column of the row
    whose code cell holds that unit code."""
    path, plan = issued_files[award, blank]
    std = builtin_standard(award)
    wb = load_workbook(path)
    kv, units = meta_tables(wb)
    assert units == plan.inputs
    assert list(units) == [u.code for u in std.units()]
    ws = wb[SHEET_SCORES]
    table = [[c.value for c in r] for r in ws.iter_rows()]
    header = {v: get_column_letter(i + 1) for i, v in enumerate(table[HEADER_ROW - 1]) if v}
    for code, fields in units.items():
        row = row_of_code(table, code)
        for key in (*INPUT_FIELDS, "locked_code", "locked_name", "locked_points"):
            sheet, ref = fields[key].split("!")
            field = key.removeprefix("locked_")
            assert sheet == SHEET_SCORES
            assert ref == f"{header[HEADERS[field]]}{row}", f"{code} {key} -> {ref}"
        assert ws[fields["locked_points"].split("!")[1]].value == std.unit(code).points
    assert {k.removeprefix("cover."): v for k, v in kv.items() if k.startswith("cover.")} == plan.cover_inputs
    cover = wb[SHEET_COVER]
    labels = {
        "year": "评审年度",
        "date": "评审日期",
        "declaration": "利益冲突声明",
        "applicant_id": "申报编号",
    }
    for key, label in labels.items():
        if key in plan.cover_inputs:
            r = int(plan.cover_inputs[key].split("!C")[1])
            assert cover[f"B{r}"].value == label, f"cover.{key} is not the {label} cell"
    issue = Issue() if blank else issue_for(award)
    assert kv["award_category"] == award
    assert kv["fingerprint"] == fingerprint(std)
    assert kv["issue_id"] == issue.issue_id
    assert kv["year"] == ("" if blank else str(YEAR))
    assert kv["applicant_id"] == issue.applicant_id and kv["examiner_id"] == issue.examiner_id
    assert kv["unit_count"] == str(len(std.units()))
    assert kv["total_cell"] == f"{SHEET_SCORES}!I{row_of_code(table, '总分')}"


@pytest.mark.parametrize("award", AWARD_IDS)
def test_scoring_sheet_shows_the_standard_text(issued_files, award):
    """Each row shows code, name, points, kind, 基本要求 and every guidance point, wrapped."""
    path, _ = issued_files[award, False]
    std = builtin_standard(award)
    ws = load_workbook(path)[SHEET_SCORES]
    table = [[c.value for c in r] for r in ws.iter_rows()]
    for u in std.units():
        r = row_of_code(table, u.code)
        second = next(
            (
                x.detail_name
                for c in std.categories
                for i in c.items
                for x in (i, *i.sub_items)
                if x.code == u.code
            ),
            None,
        )
        assert ws[f"B{r}"].value == (f"{u.name}（{second}）" if second else u.name)
        assert ws[f"C{r}"].value == u.points
        assert ws[f"D{r}"].value == KIND_ZH[u.kind]
        assert ws[f"E{r}"].value == u.requirement
        guidance = ws[f"F{r}"].value
        for g in u.guidance:
            assert g.text in guidance, f"{u.code}: guidance point {g.code or g.title} missing"
        assert ws[f"E{r}"].alignment.wrap_text and ws[f"F{r}"].alignment.wrap_text


@pytest.mark.parametrize("award", AWARD_IDS)
def test_identity_on_cover_and_title(issued_files, award):
    path, plan = issued_files[award, False]
    std = builtin_standard(award)
    issue = issue_for(award)
    wb = load_workbook(path)
    cover = {r[1].value: r[2].value for r in wb[SHEET_COVER].iter_rows(min_row=3) if r[1].value}
    assert cover["评审年度"] == YEAR
    assert cover["奖项类别"].startswith(std.name_zh)
    assert cover["申报编号"] == issue.applicant_id
    assert cover["申报组织/项目"] == issue.applicant_name
    assert cover["申报类型"] == "组织"
    assert cover["评审员编号"] == issue.examiner_id and cover["评审员"] == issue.examiner_name
    subtitle = wb[SHEET_SCORES]["A2"].value
    assert f"{YEAR}年度" in subtitle and issue.applicant_name in subtitle and issue.examiner_name in subtitle


@pytest.mark.parametrize("award", AWARD_IDS)
def test_frozen_header_and_print_setup(issued_files, award):
    """Header stays in view; prints A3 landscape (guidance readable on paper), one page wide, titles repeated."""
    path, _ = issued_files[award, False]
    ws = load_workbook(path)[SHEET_SCORES]
    assert ws.freeze_panes == "C4"
    assert ws.print_title_rows == "$1:$3"
    assert ws.page_setup.orientation == "landscape"
    assert int(ws.page_setup.paperSize) == int(ws.PAPERSIZE_A3)
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    setup = ws.page_setup  # an attribute left out takes its ECMA-376 default (fitToWidth/fitToHeight: 1)
    assert (int(setup.fitToWidth or 1), int(1 if setup.fitToHeight is None else setup.fitToHeight)) == (1, 0)

"""End-to-end consolidation: roster → scoresheets → known returns → consolidated.xlsx + scores.csv.

Every file is filled with values chosen here, and every number the package
produces (scores.csv, ``cons.stats``, ``cons.applicants``, ``cons.examiners``,
the consolidated workbook) is compared with an independent computation written
with the ``statistics`` module and plain Python, never with the package's own
arithmetic.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import shutil
import statistics
import zipfile
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook

from szqa_xl.consolidation.batch import consolidate_dir, scores_csv, write_outputs, write_scores_csv
from szqa_xl.consolidation.core import Thresholds
from szqa_xl.demo import Score, fill_scoresheet
from szqa_xl.returns.reader import read_return
from szqa_xl.scoresheet.generate import generate, read_manifest
from szqa_xl.standards.load import builtin_standard
from szqa_xl.xlsx import libreoffice

YEAR = 2027
STAGE = "材料评审"
APPLICANTS = {  # applicant id: (name, award category, kind, panel)
    "EC-01": ("深圳甲精密制造有限公司", "economic", "organisation", ("E01", "E02", "E03", "E04")),
    "EC-02": ("深圳乙新能源有限公司", "economic", "organisation", ("E01", "E02", "E03")),
    "CU-01": ("丙区数字阅读推广项目", "culture", "project", ("E05", "E06", "E07", "E08")),
}
EXAMINERS = {
    "E01": "李明",
    "E02": "王芳",
    "E03": "陈强",
    "E04": "刘洋",
    "E05": "黄磊",
    "E06": "周婷",
    "E07": "吴刚",
    "E08": "郑丽",
}
# The applicant's level and each examiner's bias (percentage points): E01/E05 lenient, E02/E06 severe.
LEVEL = {"EC-01": 60, "EC-02": 65, "CU-01": 50}
OFFSET = {"E01": 10, "E02": -10, "E03": 0, "E04": 5, "E05": 10, "E06": -5, "E07": 0, "E08": 5}
# Deliberate disagreements: (applicant, unit) -> examiner -> (pct, pick the upper band at a shared boundary).
OVERRIDES: dict[tuple[str, str], dict[str, tuple[int, bool]]] = {
    # four examiners, bands 5 and 1 apart, median 57.5 -> consensus 60
    ("EC-01", "1.1"): {"E01": (90, False), "E02": (20, False), "E03": (55, False), "E04": (60, False)},
    # 40-point result item: range 65% = 26 points (>= 25), median 62.5 -> 65
    ("EC-01", "1.3"): {"E01": (95, False), "E02": (30, False), "E03": (60, False), "E04": (65, False)},
    # median 67.5 -> 70
    ("EC-01", "5.3"): {"E01": (70, False), "E02": (60, False), "E03": (65, False), "E04": (75, False)},
    # one band apart and a small range: not flagged
    ("EC-02", "2.1"): {"E01": (70, False), "E02": (65, False), "E03": (65, False)},
    # culture bands share their boundaries: 40 in 较好 (20～40) or 优良 (40～60) is the examiner's choice
    ("CU-01", "1.1.1"): {"E05": (40, True), "E06": (40, False), "E07": (60, True)},
    ("CU-01", "3.2.1"): {"E05": (20, False), "E06": (20, True), "E07": (80, True)},
}
BLANK_UNITS = {("CU-01", "E07"): {"3.1.1", "3.2.2", "3.3.2"}}  # left entirely blank
BAND_ONLY = {("CU-01", "E07"): {"2.2.1"}}  # a band chosen but no percentage
INJECTION = {
    ("EC-01", "E01", "1.1"): ('=HYPERLINK("http://evil.example","点击")', "普通改进机会"),
    ("EC-01", "E02", "1.2"): ("+SUM(1,2)", "-2 个环节未闭环"),
    ("EC-02", "E03", "3.1"): ("@SUM(A1:A9)", "改进机会"),
}
NOT_RETURNED = ("CU-01", "E08")
DUPLICATED = ("EC-02", "E01")
TAMPERED = ("EC-01", "E02")
TAMPERED_UNIT = "2.1"
OLD_YEAR = ("EC-01", "E01")  # also issued a year earlier; that old return is sent in too


@dataclass(frozen=True)
class Planned:
    band: int | None  # index of the chosen band in the unit's scoring guide
    pct: int | None
    label: str | None
    strengths: str
    ofi: str
    evidence: str


def band_text(band) -> str:
    """The dropdown text of a band, as an examiner sees it (written out here on purpose)."""
    return f"{band.level} {band.min}～{band.max}%" if band.level else f"{band.min}～{band.max}%"


def planned_scores(applicant: str, examiner: str) -> dict[str, Planned]:
    """The values the test's examiner writes into the scoresheet; absent units stay blank."""
    award = APPLICANTS[applicant][1]
    std = builtin_standard(award)
    out: dict[str, Planned] = {}
    for i, unit in enumerate(std.units()):
        if unit.code in BLANK_UNITS.get((applicant, examiner), set()):
            continue
        pct, upper = OVERRIDES.get((applicant, unit.code), {}).get(examiner, (None, False))
        if pct is None:
            pct = min(100, max(0, LEVEL[applicant] + 5 * ((i * 3) % 5 - 2) + OFFSET[examiner]))
        bands = std.guide(unit.kind).bands
        containing = [k for k, b in enumerate(bands) if b.min <= pct <= b.max]
        idx = containing[-1] if upper else containing[0]
        strengths, ofi = INJECTION.get(
            (applicant, examiner, unit.code),
            (f"{examiner}：{unit.code} 方法系统，覆盖主要业务", f"{examiner}：{unit.code} 缺少定期评价"),
        )
        keep_pct = unit.code not in BAND_ONLY.get((applicant, examiner), set())
        out[unit.code] = Planned(
            idx, pct if keep_pct else None, band_text(bands[idx]), strengths, ofi, f"申报材料 P{i + 3}"
        )
    return out


def to_scores(plan: dict[str, Planned]) -> dict[str, Score]:
    return {code: Score(p.label, p.pct, p.strengths, p.ofi, p.evidence) for code, p in plan.items()}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def snap_half_up(value: float, step: int = 5) -> int:
    """Nearest multiple of ``step``, halves up (62.5 -> 65), computed with decimal rounding."""
    q = (Decimal(str(value)) / step).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return int(q) * step


def csv_neutral(text: str) -> str:
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@dataclass
class Scenario:
    root: Path
    sheets: Path
    manifest: Path
    returns: Path
    out: Path
    issued: list[dict[str, str]]
    plans: dict[tuple[str, str], dict[str, Planned]]  # every merged (applicant, examiner)
    names: dict[str, str]  # role -> file name inside returns/
    tampered_row: int
    hashes_before: dict[str, str]
    cons: object = None
    paths: dict[str, Path] = field(default_factory=dict)


def _return_name(issued: list[dict[str, str]], applicant: str, examiner: str) -> str:
    (row,) = [r for r in issued if r["applicant_id"] == applicant and r["examiner_id"] == examiner]
    return Path(row["path"]).name


def _hashes(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): sha256(p) for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    root = tmp_path_factory.mktemp("consolidate-e2e")
    roster = root / "roster.csv"
    lines = ["applicant_id,applicant_name,award_category,applicant_kind,examiner_id,examiner_name,stage"]
    for aid, (name, award, kind, panel) in APPLICANTS.items():
        lines += [f"{aid},{name},{award},{kind},{e},{EXAMINERS[e]},{STAGE}" for e in panel]
    roster.write_text("\n".join(lines) + "\n", encoding="utf-8")
    sheets = root / "scoresheets"
    result = generate(roster, YEAR, sheets)
    assert not result.problems and result.manifest is not None
    issued = read_manifest(result.manifest)
    assert len(issued) == sum(len(a[3]) for a in APPLICANTS.values())

    returns = root / "returns"
    plans = {}
    names = {}
    for row in issued:
        key = (row["applicant_id"], row["examiner_id"])
        if key == NOT_RETURNED:
            names["missing"] = Path(row["path"]).name
            continue
        plan = planned_scores(*key)
        fill_scoresheet(sheets / row["path"], returns / Path(row["path"]).name, to_scores(plan))
        plans[key] = plan

    # duplicate: the same return saved a second time under another name
    dup_src = _return_name(issued, *DUPLICATED)
    names["duplicate"] = f"副本_{dup_src}"
    shutil.copyfile(returns / dup_src, returns / names["duplicate"])
    names["duplicate_of"] = dup_src

    # tampered: a locked points cell edited in a copy of a good return
    good = _return_name(issued, *TAMPERED)
    wb = load_workbook(returns / good)
    ws = wb["评分表"]
    (row_no,) = [c.row for c in ws["A"] if c.value == TAMPERED_UNIT]
    ws[f"C{row_no}"] = ws[f"C{row_no}"].value + 10
    names["tampered"] = f"篡改_{good}"
    wb.save(returns / names["tampered"])

    # wrong year: a scoresheet issued for the previous year, filled in and sent back
    old_roster = root / "old_roster.csv"
    aid, eid = OLD_YEAR
    name, award, kind, _ = APPLICANTS[aid]
    old_roster.write_text(
        lines[0] + f"\n{aid},{name},{award},{kind},{eid},{EXAMINERS[eid]},{STAGE}\n", encoding="utf-8"
    )
    old = generate(old_roster, YEAR - 1, root / "old_scoresheets")
    assert not old.problems
    names["wrong_year"] = old.files[0].name
    assert names["wrong_year"].startswith(f"{YEAR - 1}_")
    fill_scoresheet(old.files[0], returns / names["wrong_year"], to_scores(planned_scores(aid, eid)))

    incomplete_key = next(iter(BLANK_UNITS))
    names["incomplete"] = _return_name(issued, *incomplete_key)

    sc = Scenario(
        root=root,
        sheets=sheets,
        manifest=result.manifest,
        returns=returns,
        out=root / "out",
        issued=issued,
        plans=plans,
        names=names,
        tampered_row=row_no,
        hashes_before=_hashes(returns),
    )
    sc.cons = consolidate_dir(returns, manifest=result.manifest, workers=0)
    sc.paths = write_outputs(sc.cons, sc.out)
    return sc


# -- the independent computation ------------------------------------------------------------


@dataclass
class UnitExpect:
    points: int
    pcts: dict[str, int]  # examiner -> pct (scored only)
    bands: dict[str, int]
    n: int = 0
    median: float = math.nan
    mean: float = math.nan
    min: float = math.nan
    max: float = math.nan
    range_points: float = math.nan
    spread_bands: float = math.nan
    flag: bool = False
    consensus: float = math.nan


def expected_units(sc: Scenario, thresholds: Thresholds = Thresholds()) -> dict[tuple[str, str], UnitExpect]:
    out = {}
    for aid, (_, award, _, panel) in APPLICANTS.items():
        for unit in builtin_standard(award).units():
            e = UnitExpect(unit.points, {}, {})
            for ex in panel:
                p = sc.plans.get((aid, ex), {}).get(unit.code)
                if p is not None and p.pct is not None:
                    e.pcts[ex] = p.pct
                    e.bands[ex] = p.band
            vals = list(e.pcts.values())
            e.n = len(vals)
            if vals:
                e.median = statistics.median(vals)
                e.mean = statistics.fmean(vals)
                e.min, e.max = min(vals), max(vals)
                e.range_points = (e.max - e.min) * unit.points / 100
                e.spread_bands = max(e.bands.values()) - min(e.bands.values())
                e.flag = e.spread_bands >= thresholds.bands_apart or e.range_points >= thresholds.range_points
                e.consensus = snap_half_up(e.median)
            out[(aid, unit.code)] = e
    return out


@dataclass
class ApplicantExpect:
    award: str
    totals: dict[str, float]
    complete: list[str]
    incomplete: list[str]
    median_total: float
    mean_total: float
    consensus_total: float
    flags: int
    rank: int = 0


def expected_applicants(sc: Scenario) -> dict[str, ApplicantExpect]:
    units = expected_units(sc)
    out = {}
    for aid, (_, award, _, panel) in APPLICANTS.items():
        std_units = builtin_standard(award).units()
        totals, complete, incomplete = {}, [], []
        for ex in panel:
            plan = sc.plans.get((aid, ex))
            if plan is None:
                continue
            scored = [u for u in std_units if u.code in plan and plan[u.code].pct is not None]
            totals[ex] = sum(u.points * plan[u.code].pct / 100 for u in scored)
            (complete if len(scored) == len(std_units) else incomplete).append(ex)
        ue = [units[(aid, u.code)] for u in std_units]
        out[aid] = ApplicantExpect(
            award=award,
            totals=totals,
            complete=complete,
            incomplete=incomplete,
            median_total=statistics.median(totals[e] for e in complete),
            mean_total=statistics.fmean(totals[e] for e in complete),
            consensus_total=sum(e.points * e.consensus / 100 for e in ue if not math.isnan(e.consensus)),
            flags=sum(e.flag for e in ue),
        )
    for a in out.values():
        a.rank = 1 + sum(
            1 for b in out.values() if b.award == a.award and b.consensus_total > a.consensus_total
        )
    return out


def expected_leniency(sc: Scenario) -> dict[str, tuple[int, int, float]]:
    """examiner -> (files, units counted, mean deviation from the panel median)."""
    units = expected_units(sc)
    devs: dict[str, list[float]] = {}
    files: dict[str, int] = {}
    for _aid, ex in sc.plans:
        files[ex] = files.get(ex, 0) + 1
    for (_aid, _code), e in units.items():
        if e.n < 2:
            continue
        for ex, pct in e.pcts.items():
            devs.setdefault(ex, []).append(pct - e.median)
    return {ex: (files[ex], len(d), statistics.fmean(d)) for ex, d in devs.items()}


def approx_equal(got, want) -> bool:
    if want is None or (isinstance(want, float) and math.isnan(want)):
        return got is None or (isinstance(got, float) and math.isnan(got))
    return got is not None and got == pytest.approx(want)


# -- 1. every number equals the independent computation --------------------------------------


def test_scenario_has_the_intended_shape(scenario: Scenario) -> None:
    units = expected_units(scenario)
    assert units[("EC-01", "1.1")].median == 57.5 and units[("EC-01", "1.1")].consensus == 60
    assert units[("EC-01", "1.3")].median == 62.5 and units[("EC-01", "1.3")].consensus == 65
    assert units[("EC-01", "1.3")].range_points == 26 and units[("EC-01", "1.3")].flag
    assert units[("EC-02", "2.1")].spread_bands == 1 and not units[("EC-02", "2.1")].flag
    assert units[("CU-01", "1.1.1")].spread_bands == 2 and units[("CU-01", "1.1.1")].range_points == 6
    assert units[("CU-01", "3.3.2")].n == 2  # E07 left it blank, E08 never returned


def test_scores_csv_every_value(scenario: Scenario) -> None:
    text = scenario.paths["csv"].read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    header = next(csv.reader(io.StringIO(text)))
    tidy_order = [
        "year",
        "award_category",
        "stage",
        "applicant_id",
        "examiner_id",
        "unit",
        "band",
        "pct",
        "points",
    ]
    assert [h for h in header if h in tidy_order] == tidy_order
    got = {(r["applicant_id"], r["examiner_id"], r["unit"]): r for r in rows}
    assert len(got) == len(rows), "one row per (applicant, examiner, unit)"
    want_keys = {
        (aid, ex, u.code)
        for (aid, ex) in scenario.plans
        for u in builtin_standard(APPLICANTS[aid][1]).units()
    }
    assert set(got) == want_keys
    for (aid, ex, code), r in got.items():
        unit = next(u for u in builtin_standard(APPLICANTS[aid][1]).units() if u.code == code)
        p = scenario.plans[(aid, ex)].get(code)
        assert r["year"] == str(YEAR)
        assert r["award_category"] == APPLICANTS[aid][1]
        assert r["stage"] == STAGE
        assert r["applicant_name"] == APPLICANTS[aid][0]
        assert r["examiner_name"] == EXAMINERS[ex]
        assert r["unit_points"] == str(unit.points)
        if p is None or p.pct is None:  # not scored: blank, never 0
            assert (r["pct"], r["points"]) == ("", ""), (aid, ex, code, r)
        else:
            assert float(r["pct"]) == p.pct
            assert float(r["points"]) == pytest.approx(unit.points * p.pct / 100)
            assert r["band"] == p.label
        if p is not None:
            assert r["strengths"] == csv_neutral(p.strengths)
            assert r["ofi"] == csv_neutral(p.ofi)
            assert r["evidence"] == p.evidence
        else:
            assert (r["strengths"], r["ofi"], r["evidence"]) == ("", "", "")


def test_unit_stats_every_value(scenario: Scenario) -> None:
    want = expected_units(scenario)
    st = scenario.cons.stats
    assert len(st) == len(want)
    for _, s in st.iterrows():
        assert (s["year"], s["stage"]) == (YEAR, STAGE)
        e = want[(s["applicant_id"], s["unit"])]
        where = (s["applicant_id"], s["unit"])
        assert s["unit_points"] == e.points, where
        assert s["n"] == e.n, where
        for col in ("median", "mean", "min", "max", "range_points", "spread_bands", "consensus"):
            v = s[col]
            got = None if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)) else float(v)
            assert approx_equal(got, getattr(e, col)), (where, col, got, getattr(e, col))
        assert bool(s["flag"]) == e.flag, where


def test_applicant_summary_every_value(scenario: Scenario) -> None:
    want = expected_applicants(scenario)
    ap = scenario.cons.applicants
    assert sorted(ap["applicant_id"]) == sorted(want)
    for _, a in ap.iterrows():
        e = want[a["applicant_id"]]
        assert a["applicant_name"] == APPLICANTS[a["applicant_id"]][0]
        assert a["examiners"] == len(e.totals)
        assert a["complete_examiners"] == len(e.complete)
        assert sorted(a["incomplete_examiners"]) == sorted(e.incomplete)
        assert set(a["totals"]) == set(e.totals)
        for ex, total in e.totals.items():
            assert a["totals"][ex] == pytest.approx(total), (a["applicant_id"], ex)
        assert a["median_total"] == pytest.approx(e.median_total)
        assert a["mean_total"] == pytest.approx(e.mean_total)
        assert a["consensus_total"] == pytest.approx(e.consensus_total)
        assert a["flags"] == e.flags
        assert a["rank"] == e.rank
        assert bool(a["consensus_complete"]) is True


def test_examiner_leniency_every_value(scenario: Scenario) -> None:
    want = expected_leniency(scenario)
    ex = scenario.cons.examiners.set_index("examiner_id")
    assert sorted(ex.index) == sorted(want)
    for eid, (files, n, mean_dev) in want.items():
        assert ex.loc[eid, "files"] == files
        assert ex.loc[eid, "units_scored"] == n
        assert ex.loc[eid, "mean_deviation"] == pytest.approx(mean_dev)
    # the lenient examiners come out positive, the severe ones negative
    assert ex.loc["E01", "mean_deviation"] > 0 and ex.loc["E05", "mean_deviation"] > 0
    assert ex.loc["E02", "mean_deviation"] < 0 and ex.loc["E06", "mean_deviation"] < 0


def _header_map(ws, row: int) -> dict[str, int]:
    return {str(c.value).split("\n")[0]: c.column for c in ws[row] if c.value is not None}


def _unit_rows(ws) -> dict[str, int]:
    rows = {}
    for r in range(5, ws.max_row + 1):
        v = ws.cell(r, 1).value
        if v == "总分":
            rows["总分"] = r
            break
        rows[v] = r
    return rows


def _overview_rows(ws) -> dict[str, int]:
    cols = _header_map(ws, 3)
    return {
        ws.cell(r, cols["申报编号"]).value: r
        for r in range(4, ws.max_row + 1)
        if ws.cell(r, cols["申报编号"]).value
    }


def test_workbook_overview_shows_the_numbers(scenario: Scenario) -> None:
    want = expected_applicants(scenario)
    wb = load_workbook(scenario.paths["workbook"])
    assert wb.sheetnames[0] == "总览"
    assert {"评审员", "回收情况", "来源", "说明", *APPLICANTS} <= set(wb.sheetnames)
    ws = wb["总览"]
    cols = _header_map(ws, 3)
    rows = _overview_rows(ws)
    assert set(rows) == set(APPLICANTS)
    for aid, e in want.items():
        r = rows[aid]
        assert ws.cell(r, cols["年度"]).value == YEAR
        assert ws.cell(r, cols["奖项类别"]).value == builtin_standard(e.award).name_zh
        assert ws.cell(r, cols["申报组织/项目"]).value == APPLICANTS[aid][0]
        assert ws.cell(r, cols["评审员数"]).value == len(e.totals)
        assert ws.cell(r, cols["完成数"]).value == len(e.complete)
        shown = [
            ws.cell(r, cols[f"评审员{i}总分"]).value
            for i in range(1, 5)
            if ws.cell(r, cols[f"评审员{i}总分"]).value
        ]
        assert shown == [
            f"{ex}: {e.totals[ex]:.1f}{'（未完成）' if ex in e.incomplete else ''}" for ex in sorted(e.totals)
        ]
        assert ws.cell(r, cols["总分中位数"]).value == pytest.approx(e.median_total)
        assert ws.cell(r, cols["总分平均"]).value == pytest.approx(e.mean_total)
        assert ws.cell(r, cols["分歧条目"]).value == e.flags
        assert ws.cell(r, cols["工作表"]).value == aid
        formula = ws.cell(r, cols["共识总分"]).value
        assert isinstance(formula, str) and formula.startswith(f"='{aid}'!"), formula


def test_workbook_charts_point_at_their_own_sheets(scenario: Scenario) -> None:
    """The overview's consensus-total chart and, per applicant, the category profile and the spread chart."""
    wb = load_workbook(scenario.paths["workbook"])
    titles = {}
    for ws in wb.worksheets:
        for chart in ws._charts:
            refs = [s.val.numRef.f for s in chart.series] + [
                s.cat.strRef.f if s.cat.strRef else s.cat.numRef.f for s in chart.series
            ]
            assert all(r.startswith((f"'{ws.title}'!", f"{ws.title}!")) for r in refs), (ws.title, refs)
            text = "".join(r.t for p in chart.title.tx.rich.p for r in (p.r or []))
            titles.setdefault(ws.title, []).append(text)
    assert titles.pop("总览") == ["共识总分"]
    applicants = len(scenario.cons.applicants)
    assert len(titles) == applicants
    assert all(t == ["类目得分率（共识，%）", "评审员分歧：各条目极差（分）"] for t in titles.values())


def test_workbook_applicant_sheets_show_the_numbers(scenario: Scenario) -> None:
    units = expected_units(scenario)
    wb = load_workbook(scenario.paths["workbook"])
    for aid, (_, award, _, panel) in APPLICANTS.items():
        ws = wb[aid]
        cols = _header_map(ws, 4)
        rows = _unit_rows(ws)
        returned = [ex for ex in panel if (aid, ex) in scenario.plans]
        assert [h for h in cols if h in EXAMINERS] == returned
        for ex in returned:
            assert ws.cell(4, cols[ex]).value == f"{ex}\n{EXAMINERS[ex]}"
        std_units = builtin_standard(award).units()
        assert [k for k in rows if k != "总分"] == [u.code for u in std_units]
        for u in std_units:
            r, e = rows[u.code], units[(aid, u.code)]
            assert ws.cell(r, cols["分值"]).value == u.points
            for ex in returned:
                assert ws.cell(r, cols[ex]).value == e.pcts.get(ex), (aid, u.code, ex)
            for label, want in (
                ("中位数%", e.median),
                ("平均%", e.mean),
                ("最低%", e.min),
                ("最高%", e.max),
                ("极差(分)", e.range_points),
                ("区间差", e.spread_bands),
                ("建议共识%", e.consensus),
            ):
                assert approx_equal(ws.cell(r, cols[label]).value, want), (aid, u.code, label)
            assert (ws.cell(r, cols["标记"]).value == "讨论") is e.flag, (aid, u.code)
            # the suggested consensus is locked (the consensus is typed in the panel workbook only);
            # its score follows by formula
            assert ws.cell(r, cols["建议共识%"]).protection.locked is True
            assert str(ws.cell(r, cols["共识得分"]).value).startswith("=")


def _print_areas(ws) -> list[tuple[int, int, int, int]]:
    """The sheet's print areas as (first row, first col, last row, last col), 1-based."""
    from openpyxl.utils.cell import range_boundaries

    assert ws.print_area, ws.title
    return [
        (r1, c1, r2, c2)
        for c1, r1, c2, r2 in (
            range_boundaries(a.rpartition("!")[2].replace("$", "")) for a in ws.print_area.split(",")
        )
    ]


def _assert_charts_printed_whole(ws, scores: list[tuple[int, int, int, int]]) -> None:
    """Each of the sheet's two charts lies whole within one print area of the scores; they do not overlap."""
    boxes = [
        (c.anchor._from.row + 1, c.anchor._from.col + 1, c.anchor.to.row + 1, c.anchor.to.col + 1)
        for c in ws._charts
    ]
    assert len(boxes) == 2, ws.title
    for r1, _c1, r2, c2 in boxes:
        assert any(a <= r1 and r2 <= b and c2 <= d for a, _, b, d in scores), (ws.title, boxes, scores)
    (a1, b1, a2, b2), (c1, d1, c2, d2) = boxes
    assert a2 < c1 or c2 < a1 or b2 < d1 or d2 < b1, (ws.title, boxes)


def test_applicant_sheets_print_scores_and_comments_on_pages_of_their_own(scenario: Scenario) -> None:
    """Printed, an applicant sheet is the scores (with the charts) fitted to a page's width, then the
    comments on pages of their own: never both side by side, shrunk, with empty score columns printed
    beside every page of comments. Nothing the sheet shows is left out of print."""
    wb = load_workbook(scenario.paths["workbook"])
    for aid, (name, *_rest) in APPLICANTS.items():
        ws = wb[aid]
        assert ws.print_title_rows == "$4:$4" and ws.page_setup.orientation == "landscape"
        assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToWidth in (1, None)
        areas = _print_areas(ws)
        header = [c.value for c in ws[4]]
        gap = header.index(None) + 1  # the blank column between the scores and the comments
        assert header[gap - 2] == "说明" and header[gap] == "编号" and header[gap + 4] == "佐证材料/页码"
        scores = [a for a in areas if a[3] < gap]
        comments = [a for a in areas if a[1] > gap]
        assert len(scores) + len(comments) == len(areas), areas  # no part spans both tables
        assert all((a[1], a[3]) == (1, gap - 1) for a in scores), areas
        assert scores[0][0] == 1 and _unit_rows(ws)["总分"] <= scores[0][2], areas
        comment_rows = [r for r in range(5, ws.max_row + 1) if ws.cell(r, gap + 1).value is not None]
        assert comment_rows, f"{aid} has comments"
        assert comments == [(1, gap + 1, max(comment_rows), gap + 5)], areas
        assert ws.cell(1, gap + 1).value == f"{aid} {name} · 优势与改进机会"
        _assert_charts_printed_whole(ws, scores)
        for row in ws.iter_rows():
            for c in row:
                if c.value is not None:
                    assert any(r1 <= c.row <= r2 and c1 <= c.column <= c2 for r1, c1, r2, c2 in areas), (
                        c.coordinate
                    )


def test_charts_of_a_panel_with_one_return_stay_within_the_scores(scenario: Scenario, tmp_path: Path) -> None:
    """A scores table of one examiner's column is too narrow for the two charts side by side: the
    second goes below the first, not over the comments."""
    returns = tmp_path / "returns"
    returns.mkdir()
    (one,) = [
        p for p in scenario.returns.iterdir() if p.name.startswith(f"{YEAR}_") and "_EC-02_E01_" in p.name
    ]
    shutil.copyfile(one, returns / one.name)
    cons = consolidate_dir(returns, workers=0)
    ws = load_workbook(write_outputs(cons, tmp_path / "out", workers=0)["workbook"])["EC-02"]
    header = [c.value for c in ws[4]]
    assert [h for h in header if h and "\n" in h] == ["E01\n李明"]
    areas = _print_areas(ws)
    gap = header.index(None) + 1
    _assert_charts_printed_whole(ws, [a for a in areas if a[3] < gap])


@pytest.mark.libreoffice
def test_applicant_sheets_printed_by_libreoffice(scenario: Scenario, lo_convert, tmp_path: Path) -> None:
    """As LibreOffice prints them: every applicant's comments come on pages without the scores'
    columns, and its scores on pages without the comments' columns."""
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler) not installed")
    import subprocess

    (pdf,) = lo_convert([scenario.paths["workbook"]], "pdf", tmp_path / "pdf")
    out = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True, timeout=120, check=True
    )
    pages = out.stdout.decode("utf-8").split("\f")
    for aid, (name, *_rest) in APPLICANTS.items():
        scores = [p for p in pages if f"{aid} {name}" in p and "中位数%" in p]
        comments = [p for p in pages if f"{aid} 第" in p and "佐证材料/页码" in p]
        assert scores and comments, aid
        assert not any("佐证材料/页码" in p for p in scores), aid
        assert not any("中位数%" in p for p in comments), aid
        assert any(f"{aid} {name} · 优势与改进机会" in p for p in comments), aid


def test_injection_text_is_text_in_the_workbook(scenario: Scenario) -> None:
    wb = load_workbook(scenario.paths["workbook"])
    ws = wb["EC-01"]
    texts = [c for row in ws.iter_rows() for c in row if isinstance(c.value, str) and "HYPERLINK" in c.value]
    assert texts, "the strength text is gathered on the applicant sheet"
    assert all(c.data_type == "s" for c in texts)


# -- 2. missing, duplicate, incomplete and rejected returns ----------------------------------


def test_returns_are_reconciled_with_reasons(scenario: Scenario) -> None:
    names = scenario.names
    by_file = {}
    for rec in scenario.cons.returns:
        by_file.setdefault(Path(rec.file).name, []).append(rec)
    assert all(len(v) == 1 for v in by_file.values())
    recs = {k: v[0] for k, v in by_file.items()}
    statuses = {k: r.status for k, r in recs.items()}

    assert statuses[names["missing"]] == "missing"
    assert "未收到" in recs[names["missing"]].reasons
    assert recs[names["missing"]].examiner_id == NOT_RETURNED[1]

    assert statuses[names["duplicate"]] == "duplicate"
    assert statuses[names["duplicate_of"]] == "accepted"
    assert names["duplicate_of"] in recs[names["duplicate"]].reasons

    rec = recs[names["tampered"]]
    assert rec.status == "rejected"
    assert f"评分表!C{scenario.tampered_row}" in rec.reasons
    assert any(p.file == names["tampered"] for p in rec.problems)

    rec = recs[names["wrong_year"]]
    assert rec.status == "rejected"
    assert rec.year == str(YEAR - 1)
    codes = {p.code for p in rec.problems}
    assert codes & {"wrong-year", "unknown-issue"}, rec.reasons
    assert str(YEAR - 1) in rec.reasons or "发放清单" in rec.reasons
    assert all(p.file == names["wrong_year"] for p in rec.problems)

    rec = recs[names["incomplete"]]
    assert rec.status == "incomplete"
    merged = {(aid, ex) for aid, ex in scenario.plans}
    accepted = {k for k, r in recs.items() if r.status == "accepted"}
    assert len(accepted) == len(merged) - 1  # every other return is accepted
    assert sum(1 for r in scenario.cons.returns if r.status == "rejected") == 2


def test_incomplete_return_says_what_is_missing(scenario: Scenario) -> None:
    """An incomplete return is listed with its reasons: the unscored units, by sheet!cell."""
    rec = next(r for r in scenario.cons.returns if Path(r.file).name == scenario.names["incomplete"])
    assert rec.status == "incomplete"
    # the unit with a band but no percentage names its percentage cell
    assert "2.2.1" in rec.reasons and "评分表!H" in rec.reasons
    # the units left entirely blank are named too
    for code in sorted(BLANK_UNITS[next(iter(BLANK_UNITS))]):
        assert code in rec.reasons, (
            f"incomplete return's reasons do not mention blank unit {code}: {rec.reasons!r}"
        )


def test_returns_sheet_lists_every_record(scenario: Scenario) -> None:
    wb = load_workbook(scenario.paths["workbook"])
    ws = wb["回收情况"]
    cols = _header_map(ws, 3)
    rows = {}
    for r in range(4, ws.max_row + 1):
        f = ws.cell(r, cols["文件"]).value
        if f:
            rows[Path(f).name] = (
                ws.cell(r, cols["状态"]).value,
                ws.cell(r, cols["原因（工作表!单元格）"]).value,
            )
    assert len(rows) == len(scenario.cons.returns)
    n = scenario.names
    assert rows[n["missing"]][0] == "未返回"
    assert rows[n["duplicate"]][0] == "重复" and n["duplicate_of"] in rows[n["duplicate"]][1]
    assert rows[n["tampered"]][0] == "拒收"
    assert f"评分表!C{scenario.tampered_row}" in rows[n["tampered"]][1]
    assert rows[n["wrong_year"]][0] == "拒收" and rows[n["wrong_year"]][1]
    assert rows[n["incomplete"]][0] == "已接收（未完成）"
    assert rows[n["duplicate_of"]][0] == "已接收"


def test_sources_sheet_has_hashes_of_received_files(scenario: Scenario) -> None:
    wb = load_workbook(scenario.paths["workbook"])
    ws = wb["来源"]
    got = {ws.cell(r, 1).value: ws.cell(r, 2).value for r in range(4, ws.max_row + 1) if ws.cell(r, 1).value}
    assert got == scenario.hashes_before


# -- 5. scores.csv is the tidy frame; deterministic ------------------------------------------


def test_scores_csv_is_cons_tidy(scenario: Scenario) -> None:
    rows = list(csv.DictReader(io.StringIO(scenario.paths["csv"].read_text(encoding="utf-8-sig"))))
    tidy = scenario.cons.tidy
    for col in (
        "year",
        "award_category",
        "stage",
        "applicant_id",
        "examiner_id",
        "unit",
        "band",
        "pct",
        "points",
    ):
        assert col in tidy.columns
    assert len(tidy) == len(rows)
    for r, (_, t) in zip(rows, tidy.iterrows(), strict=True):
        assert (r["applicant_id"], r["examiner_id"], r["unit"]) == (
            t["applicant_id"],
            t["examiner_id"],
            t["unit"],
        )
        if r["pct"] == "":
            assert math.isnan(t["pct"]) and math.isnan(t["points"])
        else:
            assert float(r["pct"]) == t["pct"] and float(r["points"]) == pytest.approx(t["points"])
        assert r["strengths"] == csv_neutral(t["strengths"])
    # the frame keeps the examiner's raw text; only the CSV is neutralised
    raw = tidy[(tidy["applicant_id"] == "EC-01") & (tidy["examiner_id"] == "E01") & (tidy["unit"] == "1.1")]
    assert raw["strengths"].iloc[0].startswith("=HYPERLINK")


@pytest.mark.parametrize("rows_per_chunk", [1, 7, 10_000])
def test_scores_csv_written_in_chunks_equals_whole_frame(
    scenario: Scenario, tmp_path: Path, rows_per_chunk
) -> None:
    """scores.csv is streamed a chunk of rows at a time (comments fetched from the store per chunk):
    byte for byte what the whole tidy frame gives, wherever the chunks are cut."""
    out = tmp_path / "scores.csv"
    write_scores_csv(scenario.cons, out, rows_per_chunk=rows_per_chunk)
    assert out.read_bytes() == scores_csv(scenario.cons.tidy).encode("utf-8-sig")
    assert out.read_bytes() == scenario.paths["csv"].read_bytes()


def test_consolidation_keeps_comments_out_of_its_frames(scenario: Scenario) -> None:
    """The in-memory frames hold scores only; every comment comes back from the store, unchanged."""
    cons = scenario.cons
    assert not {"strengths", "ofi", "evidence"} & set(cons.scores.columns)
    tidy = cons.tidy
    assert (tidy["strengths"] != "").any()
    for (_, s), (_, t) in zip(cons.scores.iterrows(), tidy.iterrows(), strict=True):
        assert (s["applicant_id"], s["examiner_id"], s["unit"]) == (
            t["applicant_id"],
            t["examiner_id"],
            t["unit"],
        )


def test_injection_is_neutralised_in_csv(scenario: Scenario) -> None:
    rows = list(csv.DictReader(io.StringIO(scenario.paths["csv"].read_text(encoding="utf-8-sig"))))
    got = {(r["applicant_id"], r["examiner_id"], r["unit"]): r for r in rows}
    for (aid, ex, code), (strengths, ofi) in INJECTION.items():
        assert got[(aid, ex, code)]["strengths"] == "'" + strengths
        assert got[(aid, ex, code)]["ofi"] == csv_neutral(ofi)
    # no cell of the file starts with a formula lead
    for r in rows:
        for v in r.values():
            assert not v.startswith(("=", "+", "@")), v


def test_default_workers_give_byte_identical_outputs_and_never_touch_inputs(
    scenario: Scenario, tmp_path: Path
) -> None:
    again = consolidate_dir(scenario.returns, manifest=scenario.manifest)  # default worker processes
    paths = write_outputs(again, tmp_path / "again")
    assert paths["csv"].read_bytes() == scenario.paths["csv"].read_bytes()
    assert again.summary() == scenario.cons.summary()
    assert [(r.status, r.file, r.reasons) for r in again.returns] == [
        (r.status, r.file, r.reasons) for r in scenario.cons.returns
    ]
    # 6. no returned file was modified (nor any file added to the returns folder)
    assert _hashes(scenario.returns) == scenario.hashes_before


def test_workbook_is_the_same_whether_helpers_write_some_sheets_or_not(
    scenario: Scenario, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A forked helper writes scores.csv while the workbook is written: the files are the same as from
    one process, comments (read from the store by the helper) included, and the same again where
    fork is not used."""
    parts = {}
    for workers in (1, 2, 3):
        paths = write_outputs(scenario.cons, tmp_path / f"workers{workers}", workers=workers)
        assert paths["csv"].read_bytes() == scenario.paths["csv"].read_bytes()
        with zipfile.ZipFile(paths["workbook"]) as z:  # docProps/core.xml holds the time of writing
            parts[workers] = {n: z.read(n) for n in z.namelist() if n != "docProps/core.xml"}
    # where fork is not used (Windows, macOS) the same work runs in this process
    import szqa_xl.xlsx.forking

    monkeypatch.setattr(szqa_xl.xlsx.forking, "can_fork", lambda: False)
    paths = write_outputs(scenario.cons, tmp_path / "no-fork", workers=2)
    assert paths["csv"].read_bytes() == scenario.paths["csv"].read_bytes()
    with zipfile.ZipFile(paths["workbook"]) as z:
        parts["no fork"] = {n: z.read(n) for n in z.namelist() if n != "docProps/core.xml"}
    assert parts[2] == parts[1]
    assert parts[3] == parts[1]
    assert parts["no fork"] == parts[1]
    sheets = [n for n in parts[1] if n.startswith("xl/worksheets/sheet")]
    assert len(sheets) == len(APPLICANTS) + 5
    texts = sheets + ["xl/sharedStrings.xml"]  # a workbook of this size keeps its texts there
    assert any(
        "方法系统，覆盖主要业务".encode() in parts[1].get(n, b"") for n in texts
    )  # examiners' comments


def test_workbook_flushed_row_by_row_shows_the_same_cells(
    scenario: Scenario, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above ``LARGE_SCORE_ROWS`` the workbook is written in constant_memory mode (texts inline, rows
    flushed as they go): read by another reader (calamine), every sheet shows the same cells as the
    workbook written with its cells kept, and the same sheets in the same order."""
    from python_calamine import CalamineWorkbook

    from szqa_xl.consolidation import report

    assert len(scenario.cons.scores) <= report.LARGE_SCORE_ROWS
    monkeypatch.setattr(report, "LARGE_SCORE_ROWS", 0)
    flushed = write_outputs(scenario.cons, tmp_path / "flushed")["workbook"]
    with zipfile.ZipFile(flushed) as z, zipfile.ZipFile(scenario.paths["workbook"]) as k:
        assert "xl/sharedStrings.xml" not in z.namelist()
        assert "xl/sharedStrings.xml" in k.namelist()
    a, b = (
        CalamineWorkbook.from_path(str(flushed)),
        CalamineWorkbook.from_path(str(scenario.paths["workbook"])),
    )
    assert a.sheet_names == b.sheet_names and len(a.sheet_names) == len(APPLICANTS) + 5
    for name in a.sheet_names:
        assert a.get_sheet_by_name(name).to_python() == b.get_sheet_by_name(name).to_python(), name


def test_a_consolidation_run_in_a_thread_spawns_its_readers_and_gives_the_same_files(
    scenario: Scenario, tmp_path: Path
) -> None:
    """Beside another thread nothing is forked (a child would inherit that thread's locks held
    forever): the readers are spawned and the outputs written in this process, to the same files."""
    from concurrent.futures import ThreadPoolExecutor

    import szqa_xl.returns.isolation

    def run():
        method = szqa_xl.returns.isolation._context().get_start_method()
        cons = consolidate_dir(scenario.returns, manifest=scenario.manifest, workers=2)
        return method, cons, write_outputs(scenario.cons, tmp_path / "from-a-thread", workers=2)

    with ThreadPoolExecutor(max_workers=1) as ex:
        method, cons, paths = ex.submit(run).result(timeout=600)
    assert method == "spawn"
    assert [(r.status, r.file, r.reasons) for r in cons.returns] == [
        (r.status, r.file, r.reasons) for r in scenario.cons.returns
    ]
    assert scores_csv(cons.tidy) == scores_csv(scenario.cons.tidy)
    assert paths["csv"].read_bytes() == scenario.paths["csv"].read_bytes()
    with zipfile.ZipFile(paths["workbook"]) as a, zipfile.ZipFile(scenario.paths["workbook"]) as b:
        assert {n: a.read(n) for n in a.namelist() if n != "docProps/core.xml"} == {
            n: b.read(n) for n in b.namelist() if n != "docProps/core.xml"
        }


# -- 6. outputs are not overwritten without force --------------------------------------------


def test_write_outputs_refuses_to_overwrite(scenario: Scenario, tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_outputs(scenario.cons, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(FileExistsError):
        write_outputs(scenario.cons, out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    (out / "consolidated.xlsx").unlink()  # one existing output is enough to refuse
    with pytest.raises(FileExistsError):
        write_outputs(scenario.cons, out)
    paths = write_outputs(scenario.cons, out, force=True)
    assert paths["workbook"].exists() and paths["csv"].read_bytes() == before["scores.csv"]
    assert _hashes(scenario.returns) == scenario.hashes_before


def test_thresholds_are_passed_through(scenario: Scenario) -> None:
    loose = Thresholds(bands_apart=1, range_points=5)
    cons = consolidate_dir(scenario.returns, manifest=scenario.manifest, workers=0, thresholds=loose)
    want = expected_units(scenario, loose)
    got = {(s["applicant_id"], s["unit"]): bool(s["flag"]) for _, s in cons.stats.iterrows()}
    assert got == {k: e.flag for k, e in want.items()}
    assert sum(got.values()) > sum(bool(f) for f in scenario.cons.stats["flag"])


# -- 3. a return re-saved by LibreOffice ------------------------------------------------------


@pytest.mark.libreoffice
def test_return_resaved_by_libreoffice_is_accepted_unchanged(
    scenario: Scenario, require_soffice: str, tmp_path: Path
) -> None:
    name = _return_name(scenario.issued, "CU-01", "E05")
    src = tmp_path / "src" / name
    src.parent.mkdir()
    shutil.copyfile(scenario.returns / name, src)
    resaved = libreoffice.recalculate(src, tmp_path / "lo")
    assert sha256(resaved) != sha256(src)
    a, b = read_return(src), read_return(resaved)
    assert a.status == "accepted", [str(p) for p in a.problems]
    assert b.status == "accepted", [str(p) for p in b.problems]
    assert b.meta["issue_id"] == a.meta["issue_id"]
    plan = scenario.plans[("CU-01", "E05")]
    for code, p in plan.items():
        ua, ub = a.units[code], b.units[code]
        assert (ub.band, ub.pct, ub.strengths, ub.ofi, ub.evidence) == (
            ua.band,
            ua.pct,
            ua.strengths,
            ua.ofi,
            ua.evidence,
        )
        assert (ub.band, ub.pct, ub.strengths) == (p.label, p.pct, p.strengths)


# -- 4. the consolidated workbook in a real spreadsheet engine -------------------------------


def _totals_after_recalc(path: Path) -> tuple[dict[str, float], dict[str, float], dict[str, int]]:
    """(applicant sheet 总分 of 共识得分, overview 共识总分, overview 排名) from a recalculated workbook."""
    wb = load_workbook(path, data_only=True)
    sheet_totals = {}
    for aid in APPLICANTS:
        ws = wb[aid]
        cols = _header_map(ws, 4)
        sheet_totals[aid] = ws.cell(_unit_rows(ws)["总分"], cols["共识得分"]).value
    ws = wb["总览"]
    cols = _header_map(ws, 3)
    rows = _overview_rows(ws)
    overview = {aid: ws.cell(r, cols["共识总分"]).value for aid, r in rows.items()}
    ranks = {aid: ws.cell(r, cols["排名"]).value for aid, r in rows.items()}
    return sheet_totals, overview, ranks


def _ranks(totals: dict[str, float]) -> dict[str, int]:
    award = {aid: APPLICANTS[aid][1] for aid in totals}
    return {a: 1 + sum(1 for b in totals if award[b] == award[a] and totals[b] > totals[a]) for a in totals}


@pytest.mark.libreoffice
def test_consolidated_workbook_recalculates_and_follows_consensus_edits(
    scenario: Scenario, require_soffice: str, tmp_path: Path
) -> None:
    want = expected_applicants(scenario)
    units = expected_units(scenario)
    src = tmp_path / "consolidated.xlsx"
    shutil.copyfile(scenario.paths["workbook"], src)
    recalc = libreoffice.recalculate(src, tmp_path / "lo1")
    sheet_totals, overview, ranks = _totals_after_recalc(recalc)
    for aid, e in want.items():
        assert sheet_totals[aid] == pytest.approx(e.consensus_total), aid
        assert overview[aid] == pytest.approx(e.consensus_total), aid
        assert ranks[aid] == e.rank, aid

    # examiner totals and per-unit consensus scores by formula agree with Python too
    wb = load_workbook(recalc, data_only=True)
    for aid, (_, award, _, _) in APPLICANTS.items():
        ws = wb[aid]
        cols, rows = _header_map(ws, 4), _unit_rows(ws)
        for ex, total in want[aid].totals.items():
            shown = ws.cell(rows["总分"], cols[ex]).value
            if ex in want[aid].incomplete:
                assert shown == "未完成"
            else:
                assert shown == pytest.approx(total), (aid, ex)
        for u in builtin_standard(award).units():
            assert ws.cell(rows[u.code], cols["共识得分"]).value == pytest.approx(
                u.points * units[(aid, u.code)].consensus / 100
            )

    # the meeting changes one consensus percentage: the lower-ranked economic applicant's
    # biggest possible gain, which is enough to overtake the leader
    econ = sorted((a for a in APPLICANTS if APPLICANTS[a][1] == "economic"), key=lambda a: want[a].rank)
    leader, chaser = econ
    u = max(
        builtin_standard("economic").units(),
        key=lambda u: u.points * (100 - units[(chaser, u.code)].consensus),
    )
    old = units[(chaser, u.code)].consensus
    new = 100
    delta_points = u.points * (new - old) / 100
    assert want[chaser].consensus_total + delta_points > want[leader].consensus_total, "scenario must flip"

    wb = load_workbook(src)
    ws = wb[chaser]
    cols, rows = _header_map(ws, 4), _unit_rows(ws)
    assert ws.cell(rows[u.code], cols["建议共识%"]).value == old
    ws.cell(rows[u.code], cols["建议共识%"]).value = new
    edited = tmp_path / "edited" / "consolidated_edited.xlsx"
    edited.parent.mkdir()
    wb.save(edited)
    sheet2, overview2, ranks2 = _totals_after_recalc(libreoffice.recalculate(edited, tmp_path / "lo2"))
    for aid in APPLICANTS:
        change = delta_points if aid == chaser else 0
        assert sheet2[aid] - sheet_totals[aid] == pytest.approx(change), aid
        assert overview2[aid] - overview[aid] == pytest.approx(change), aid
    assert ranks2 == _ranks(overview2)
    assert ranks2[chaser] == 1 and ranks2[leader] == 2


def test_bad_and_lock_files_do_not_stop_the_batch(scenario: Scenario, tmp_path: Path) -> None:
    returns = tmp_path / "returns"
    shutil.copytree(scenario.returns, returns)
    (returns / "损坏.xlsx").write_bytes(b"PK\x03\x04" + b"\x00garbage" * 50)
    (returns / "~$锁定文件.xlsx").write_bytes(b"lock")
    cons = consolidate_dir(returns, manifest=scenario.manifest, workers=0)
    recs = {Path(r.file).name: r for r in cons.returns}
    assert recs["损坏.xlsx"].status == "rejected" and recs["损坏.xlsx"].reasons
    assert recs["~$锁定文件.xlsx"].status == "skipped"
    assert cons.tidy.equals(scenario.cons.tidy)
    assert cons.stats.equals(scenario.cons.stats)


def test_nothing_to_merge_still_writes_outputs(scenario: Scenario, tmp_path: Path) -> None:
    cons = consolidate_dir(scenario.returns, manifest=scenario.manifest, year=YEAR - 1, workers=0)
    assert cons.tidy.empty and cons.applicants.empty
    assert {r.status for r in cons.returns} <= {"rejected", "missing"}
    paths = write_outputs(cons, tmp_path / "out")
    lines = paths["csv"].read_text(encoding="utf-8-sig").splitlines()
    assert len(lines) == 1 and lines[0].startswith("year,award_category,stage,applicant_id")
    assert "回收情况" in load_workbook(paths["workbook"]).sheetnames

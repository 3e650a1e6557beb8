"""Two stages end to end (the demo: 材料评审 → 现场核查): the shortlist is exactly the top N of an independent
ranking, the 现场核查 scoresheets carry the earlier consensus, the final ranking is the rule applied by hand."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from openpyxl import load_workbook
from pydantic import ValidationError

from szqa_xl.consensus.build import read_index
from szqa_xl.demo import SECOND_STAGE
from szqa_xl.scoresheet.layout import SHEET_CHECKS, SHEET_PREVIOUS
from szqa_xl.stages.final import RankingRule, final_ranking
from szqa_xl.stages.shortlist import shortlist
from szqa_xl.standards.load import builtin_standard


@pytest.fixture(scope="module")
def demo(demo_year):
    return demo_year


def panel_totals(folder: Path) -> dict[tuple[str, str], float]:
    """(award, applicant) -> consensus total, from the panel workbooks' cells and the standard's points."""
    index = read_index(folder)
    out = {}
    for name in index["current"].values():
        entry = index["panels"][name]
        std = builtin_standard(entry["key"][1])
        ws = load_workbook(folder / name)["共识表"]
        out[(entry["key"][1], entry["key"][3])] = sum(
            u.points * float(ws[entry["inputs"][u.code]["pct"].split("!")[1]].value) / 100
            for u in std.units()
        )
    return out


def roster_applicants(path: Path) -> set[tuple[str, str]]:
    with path.open(encoding="utf-8-sig") as fh:
        return {(r["award_category"], r["applicant_id"]) for r in csv.DictReader(fh)}


def test_the_shortlist_is_the_top_two_of_each_category(demo):
    totals = panel_totals(demo.panels)
    want = set()
    for award in {a for a, _ in totals}:
        ranked = sorted(((t, aid) for (a, aid), t in totals.items() if a == award), reverse=True)
        want |= {(award, aid) for _, aid in ranked[:2]}
    roster = demo.stage2 / f"{SECOND_STAGE}名单.csv"
    assert roster_applicants(roster) == want
    with roster.open(encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["stage"] for r in rows} == {SECOND_STAGE}
    # the same panels: each shortlisted applicant keeps the examiners of its 材料评审 panel
    index = read_index(demo.panels)
    panels = {
        (e["key"][1], e["key"][3]): {x[0] for x in e["examiners"]}
        for e in (index["panels"][n] for n in index["current"].values())
    }
    for key in want:
        assert {r["examiner_id"] for r in rows if (r["award_category"], r["applicant_id"]) == key} == panels[
            key
        ]


def test_min_score_and_ties_at_the_cut(demo):
    sl = shortlist(demo.results.parent, min_score=250)
    assert {c.applicant_id for c in sl.chosen} == {c.applicant_id for c in sl.candidates if c.total >= 250}
    with pytest.raises(ValueError):
        shortlist(demo.results.parent)


def test_the_second_stage_scoresheets_carry_the_earlier_consensus(demo):
    with (demo.results.parent / "consensus_units.csv").open(encoding="utf-8-sig") as fh:
        units = list(csv.DictReader(fh))
    files = sorted((demo.stage2 / "1_scoresheets").rglob("*.xlsx"))
    assert files
    for path in files[:3]:
        wb = load_workbook(path)
        meta = {r[0].value: r[1].value for r in wb["_meta"].iter_rows() if r[0].value}
        assert meta["stage"] == SECOND_STAGE
        mine = {u["unit"]: u for u in units if u["applicant_id"] == meta["applicant_id"]}
        prev = wb[SHEET_PREVIOUS]
        seen = 0
        for row in prev.iter_rows(min_row=3):
            code = row[0].value
            if code in mine:
                want = mine[code]
                assert row[3].value == float(want["pct"]), (path.name, code)
                assert (row[6].value or "") == want["ofi"]
                seen += 1
        assert seen == len(mine) == len(builtin_standard(meta["award_category"]).units())
        checks = [r[4].value for r in wb[SHEET_CHECKS].iter_rows(min_row=3) if r[4].value]
        ofi_lines = [ln for u in mine.values() for ln in u["ofi"].splitlines() if ln.strip()]
        strength_lines = [ln for u in mine.values() for ln in u["strengths"].splitlines() if ln.strip()]
        assert len(checks) == len(ofi_lines) + len(strength_lines)
        assert set(ofi_lines) <= set(checks)
        assert wb[SHEET_PREVIOUS]["D3"].protection.locked and wb[SHEET_PREVIOUS].protection.sheet  # locked


def test_the_final_ranking_is_the_rule_applied_by_hand(demo):
    stage1 = panel_totals(demo.panels)
    stage2 = panel_totals(demo.stage2 / "3_consolidated" / "consensus")
    with (demo.final.parent / "final.csv").open(encoding="utf-8-sig") as fh:
        table = list(csv.DictReader(fh))
    for award in {a for a, _ in stage2}:
        by_hand = sorted(
            (
                (0.4 * stage1[(award, aid)] + 0.6 * stage2[(award, aid)], aid)
                for (a, aid) in stage2
                if a == award
            ),
            reverse=True,
        )
        rows = [r for r in table if r["award_category"] == award and r["rank"]]
        assert [r["applicant_id"] for r in rows] == [aid for _, aid in by_hand]
        for r, (score, _aid) in zip(rows, by_hand, strict=True):
            assert float(r["final"]) == pytest.approx(score, abs=0.005)  # final.csv: 2 decimals
        unranked = [r for r in table if r["award_category"] == award and not r["rank"]]
        assert all(r["note"] == f"未进入{SECOND_STAGE}" for r in unranked)
    last = final_ranking(
        [demo.results.parent, demo.stage2 / "4_results"],
        RankingRule(rule="last", stages=("材料评审", SECOND_STAGE)),
    )
    for r in last:
        if r.rank is not None:
            assert r.final == pytest.approx(stage2[(r.award_category, r.applicant_id)])


@pytest.mark.parametrize(
    "bad",
    [
        {
            "rule": "weights",
            "stages": ["材料评审", "现场核查"],
            "weights": {"材料评审": 0.5, "现场核查": 0.6},
        },
        {"rule": "weights", "stages": ["材料评审"], "weights": {"现场核查": 1}},
        {"rule": "last", "stages": ["材料评审", "材料评审"]},
        {"rule": "median", "stages": ["材料评审"]},
        {"rule": "last", "stages": ["材料评审"], "weight": 1},
    ],
)
def test_a_wrong_rule_file_is_refused(bad):
    with pytest.raises(ValidationError):
        RankingRule.model_validate(bad)


def test_the_industry_of_the_roster_reaches_the_final_ranking_and_its_distribution(demo):
    from szqa_xl.demo import SAMPLE_ROSTER

    with SAMPLE_ROSTER.open(encoding="utf-8-sig") as fh:
        industry = {r["applicant_id"]: r["industry"] for r in csv.DictReader(fh)}
    with (demo.final.parent / "final.csv").open(encoding="utf-8-sig") as fh:
        table = list(csv.DictReader(fh))
    assert {r["applicant_id"]: r["industry"] for r in table} == industry
    wb = load_workbook(demo.final)
    ws = wb["经济类最终排名"]
    texts = [c.value for row in ws.iter_rows() for c in row if c.value is not None]
    assert any(isinstance(t, str) and t.startswith("按行业分布") for t in texts)
    ranked = {r["industry"] for r in table if r["award_category"] == "economic"}
    assert ranked <= set(texts)

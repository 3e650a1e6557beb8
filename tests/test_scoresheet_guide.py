"""The 评分指南 sheet an examiner reads before scoring: how to read the 评审细则 (the organisation or the
project variant), the scoring principles, every band with its descriptors and, beside it, what the
quantity and quality words it uses mean (注) — compared with the standard's data, read back from the file."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from openpyxl import load_workbook

from szqa_xl.scoresheet.layout import SHEET_GUIDE, SHEET_SCORES, Issue, plan_scoresheet
from szqa_xl.standards.load import builtin_standard
from szqa_xl.standards.models import AWARD_IDS
from szqa_xl.xlsx.writer import render

ISSUE = Issue(
    year=2027,
    applicant_id="X-001",
    applicant_name="测试申报单位",
    examiner_id="E01",
    examiner_name="李明",
    issue_id="guide-test",
)


def texts_of(path: Path, sheet: str) -> list[str]:
    ws = load_workbook(path)[sheet]
    return [c.value for row in ws.iter_rows() for c in row if isinstance(c.value, str)]


@pytest.fixture(scope="module")
def sheets(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Path]:
    root = tmp_path_factory.mktemp("guide")
    out = {}
    for award in AWARD_IDS:
        std = builtin_standard(award)
        for kind in (*std.applicant_kinds, "blank"):
            issue = Issue() if kind == "blank" else dataclasses.replace(ISSUE, applicant_kind=kind)
            out[award, kind] = render(plan_scoresheet(std, issue).workbook, root / f"{award}_{kind}.xlsx")
    return out


@pytest.mark.parametrize("award", AWARD_IDS)
def test_the_reading_intro_for_the_applicants_kind(sheets, award):
    std = builtin_standard(award)
    assert std.reading_intro(), f"{award}: the standard has no 评审细则 introduction"
    for kind in std.applicant_kinds:
        cells = texts_of(sheets[award, kind], SHEET_GUIDE)
        for para in std.reading_intro(kind):
            assert para in cells, f"{award} {kind}: paragraph missing: {para[:30]}"
        other = {"organisation": "project", "project": "organisation"}[kind]
        if other in std.applicant_kinds:
            only_other = set(std.reading_intro(other)) - set(std.reading_intro(kind))
            assert not only_other & set(cells), f"{award} {kind}: shows the {other} variant"
    blank = texts_of(sheets[award, "blank"], SHEET_GUIDE)
    for para in std.reading_intro(None):  # a blank template: as published, both variants
        assert para in blank


@pytest.mark.parametrize("award", AWARD_IDS)
def test_the_scoring_principles_and_factors(sheets, award):
    std = builtin_standard(award)
    kind = std.applicant_kinds[0]
    cells = texts_of(sheets[award, kind], SHEET_GUIDE)
    joined = "\n".join(cells)
    assert std.principles_text(kind), f"{award}: no 评分原则"
    for para in std.principles_text(kind):
        assert para in cells
    sp = std.scoring_principles
    for f in (*sp.process_factors, *sp.result_factors):
        assert f"{f.code}　{f.name}（{f.name_en}）" in joined
    for c in sp.considerations:
        assert f"· {c}" in joined


@pytest.mark.parametrize("award", AWARD_IDS)
def test_every_band_with_its_descriptors_and_the_note_terms_beside_it(sheets, award):
    std = builtin_standard(award)
    ws = load_workbook(sheets[award, std.applicant_kinds[0]])[SHEET_GUIDE]
    rows = {
        ws.cell(r, 3).value: (ws.cell(r, 1).value, ws.cell(r, 4).value)
        for r in range(1, ws.max_row + 1)
        if ws.cell(r, 3).value
    }
    terms = [t for k in ("process", "result") for t in std.guide(k).note_terms()]
    for kind in ("process", "result"):
        for band in std.guide(kind).bands:
            text = "\n".join(band.descriptors)
            assert text in rows, f"{award} {kind} {band.label}: descriptors missing"
            rng, meanings = rows[text]
            assert rng.startswith(f"{band.min}～{band.max}")
            # independent of the layout's matcher: a term counts where it occurs outside a longer term
            want = []
            for t in terms:
                longer = [u.term for u in terms if u.term != t.term and t.term in u.term]
                bare = re.sub("|".join(map(re.escape, longer)), "", text) if longer else text
                if t.term in bare:
                    want.append(f"{t.term}：{t.meaning}")
            assert (meanings or "") == "\n".join(want), f"{award} {kind} {band.label}"


def test_the_economic_bands_say_what_da_duoshu_means(tmp_path):
    """The 10–25 % process band is written in 大多数: the examiner sees 大于50%，小于80% beside it."""
    std = builtin_standard("economic")
    path = render(plan_scoresheet(std, ISSUE).workbook, tmp_path / "economic.xlsx")
    ws = load_workbook(path)[SHEET_GUIDE]
    band = next(b for b in std.guide("process").bands if (b.min, b.max) == (10, 25))
    row = next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 3).value == "\n".join(band.descriptors))
    assert "大多数" in ws.cell(row, 3).value
    meanings = ws.cell(row, 4).value
    assert "大多数：" in meanings and "多数：" not in meanings.replace("大多数：", "")
    assert any(isinstance(c.value, str) and c.value.startswith("注：") for r in ws.iter_rows() for c in r)


@pytest.mark.parametrize("award", AWARD_IDS)
def test_the_scoring_sheet_tells_the_examiner_where_to_read_them(sheets, award):
    std = builtin_standard(award)
    subtitle = load_workbook(sheets[award, std.applicant_kinds[0]])[SHEET_SCORES]["A2"].value
    assert f"“{SHEET_GUIDE}”" in subtitle and "评分原则" in subtitle


def test_second_names_of_the_detail_rules_are_shown_beside_the_names(tmp_path):
    std = builtin_standard("management")
    ws = load_workbook(render(plan_scoresheet(std, ISSUE).workbook, tmp_path / "m.xlsx"))[SHEET_SCORES]
    names = {ws.cell(r, 1).value: ws.cell(r, 2).value for r in range(4, ws.max_row + 1)}
    unit = std.unit("1.1.1")
    assert names["1.1.1"] == f"{unit.name}（确定方向）"

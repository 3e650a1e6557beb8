"""The final ranking across stages, by a rule kept in a small, validated YAML file::

    rule: weights            # or: last
    stages: [材料评审, 现场核查]
    weights: {材料评审: 0.4, 现场核查: 0.6}   # rule "weights" only; they sum to 1

``weights``: the final score is the weighted sum of the applicant's consensus totals of every
stage listed (an applicant that did not reach them all is listed, not ranked).  ``last``: the
last listed stage the applicant reached replaces the earlier ones; applicants are ranked among
those that reached the last stage, the others listed after.  Ranks are per award category
(competition ranking: ties share a place).  The tool never re-orders by industry.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from szqa_xl.stages.shortlist import Candidate, read_results
from szqa_xl.standards.load import builtin_standard
from szqa_xl.standards.models import AWARD_IDS
from szqa_xl.xlsx.plan import Sheet, Style, Workbook, column_letter
from szqa_xl.xlsx.textsafe import cell_text, csv_safe


class RankingRule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    rule: Literal["weights", "last"]
    stages: tuple[str, ...] = Field(min_length=1)
    weights: dict[str, float] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> RankingRule:
        if len(set(self.stages)) != len(self.stages):
            raise ValueError("stages: a stage is listed twice")
        if self.rule == "weights":
            if set(self.weights) != set(self.stages):
                raise ValueError(f"weights: give one weight per stage ({', '.join(self.stages)})")
            if any(w < 0 for w in self.weights.values()) or abs(sum(self.weights.values()) - 1) > 1e-9:
                raise ValueError("weights: non-negative and summing to 1")
        elif self.weights:
            raise ValueError("weights: only for rule 'weights'")
        return self

    def describe(self) -> str:
        if self.rule == "weights":
            return "最终得分 = " + " + ".join(f"{w:g}×{s}" for s, w in self.weights.items())
        return f"最终得分 = 所进入的最后阶段的共识总分（按 {' → '.join(self.stages)}）"


def load_rule(path: Path | str) -> RankingRule:
    """The rule file, validated (a ValueError names what is wrong)."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    return RankingRule.model_validate(data)


@dataclass
class FinalRow:
    year: str
    award_category: str
    applicant_id: str
    applicant_name: str
    totals: dict[str, float]  # stage -> consensus total
    final: float | None
    rank: int | None
    note: str = ""
    industry: str = ""


def final_ranking(results: list[Path | str], rule: RankingRule) -> list[FinalRow]:
    by_applicant: dict[tuple[str, str, str], dict[str, Candidate]] = {}
    for path in results:
        for c in read_results(path):
            if c.stage not in rule.stages:
                continue
            by_applicant.setdefault((c.year, c.award_category, c.applicant_id), {})[c.stage] = c
    rows: list[FinalRow] = []
    for (year, award, aid), stages in by_applicant.items():
        totals = {s: stages[s].total for s in rule.stages if s in stages}
        name = next(iter(stages.values())).applicant_name
        industry = next((c.industry for c in stages.values() if c.industry), "")
        if rule.rule == "weights":
            missing = [s for s in rule.stages if s not in totals]
            final = None if missing else sum(rule.weights[s] * totals[s] for s in rule.stages)
            note = f"未进入{'、'.join(missing)}" if missing else ""
        else:
            reached = [s for s in rule.stages if s in totals]
            final = totals[rule.stages[-1]] if rule.stages[-1] in totals else None
            note = "" if final is not None else f"止于{reached[-1]}"
        rows.append(FinalRow(year, award, aid, name, totals, final, None, note, industry))
    order = {a: i for i, a in enumerate(AWARD_IDS)}
    out: list[FinalRow] = []
    for key in sorted({(r.year, r.award_category) for r in rows}, key=lambda k: (k[0], order.get(k[1], 99))):
        group = [r for r in rows if (r.year, r.award_category) == key]
        ranked = sorted(
            (r for r in group if r.final is not None), key=lambda r: (-round(r.final, 6), r.applicant_id)
        )
        prev, place = None, 0
        for i, r in enumerate(ranked, start=1):
            if round(r.final, 6) != prev:
                place, prev = i, round(r.final, 6)
            r.rank = place
        rest = sorted((r for r in group if r.final is None), key=lambda r: r.applicant_id)
        out += ranked + rest
    return out


def final_csv(rows: list[FinalRow], rule: RankingRule) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(
        [
            "year",
            "award_category",
            "rank",
            "applicant_id",
            "applicant_name",
            "industry",
            *rule.stages,
            "final",
            "note",
        ]
    )
    for r in rows:
        w.writerow(
            [
                csv_safe(str(v))
                for v in (
                    r.year,
                    r.award_category,
                    "" if r.rank is None else r.rank,
                    r.applicant_id,
                    r.applicant_name,
                    r.industry,
                    *("" if s not in r.totals else f"{r.totals[s]:.2f}" for s in rule.stages),
                    "" if r.final is None else f"{r.final:.2f}",
                    r.note,
                )
            ]  # fmt: skip
        )
    return buf.getvalue()


STYLES = {
    "title": Style(bold=True, size=15, color="1F3864"),
    "subtitle": Style(size=10, color="404040", wrap=True, valign="top"),
    "header": Style(
        bold=True, color="FFFFFF", fill="1F4E78", wrap=True, halign="center", valign="center", border=True
    ),
    "text": Style(border=True, wrap=True),
    "int": Style(border=True, halign="center", number_format="0"),
    "num": Style(border=True, halign="center", number_format="0.0"),
    "bold": Style(border=True, halign="center", bold=True, number_format="0.0"),
}


def plan_final(rows: list[FinalRow], rule: RankingRule) -> Workbook:
    """final.xlsx: per award category, each stage's total beside the final score and rank."""
    wb = Workbook(sheets=[], styles=STYLES, title="最终排名", lock_structure=False)
    for year, award in dict.fromkeys((r.year, r.award_category) for r in rows):
        std = builtin_standard(award)
        group = [r for r in rows if (r.year, r.award_category) == (year, award)]
        sh = Sheet(f"{std.name_zh}最终排名"[:31], freeze="D4", print_title_rows="3:3")
        heads = [
            "名次",
            "申报编号",
            "申报组织/项目",
            "行业",
            *(f"{s}\n共识总分" for s in rule.stages),
            "最终得分",
            "说明",
        ]
        last = column_letter(len(heads))
        sh.put("A1", f"{year}年度 · {std.name_zh} · 最终排名", "title")
        sh.put(
            "A2",
            rule.describe() + "。名次相同者并列；行业代表性、均衡由评审委员会斟酌，本表不据此调整。",
            "subtitle",
        )
        sh.merges += [f"A1:{last}1", f"A2:{last}2"]
        sh.row_heights[2] = 30
        for j, h in enumerate(heads, start=1):
            sh.put(f"{column_letter(j)}3", h, "header")
        sh.row_heights[3] = 32
        sh.col_widths = {
            column_letter(j): w for j, w in enumerate([6, 10, 30, 12, *([11] * len(rule.stages)), 10, 16], 1)
        }
        for i, r in enumerate(group):
            row = 4 + i
            values = [
                (r.rank, "int"),
                (cell_text(r.applicant_id), "text"),
                (cell_text(r.applicant_name), "text"),
                (cell_text(r.industry), "text"),
            ]
            values += [(r.totals.get(s), "num") for s in rule.stages]
            values += [(r.final, "bold"), (r.note, "text")]
            for j, (v, style) in enumerate(values, start=1):
                sh.put(f"{column_letter(j)}{row}", v, style)
        # The distribution by industry, for the committee's 行业代表性 / 均衡 (never used to re-order).
        r = 4 + len(group) + 1
        sh.put(f"A{r}", "按行业分布（供评审委员会斟酌行业代表性／均衡，不改变名次）", "subtitle")
        sh.merges.append(f"A{r}:{last}{r}")
        r += 1
        for j, h in enumerate(("行业", "已排名", "名次", "未进入最后阶段"), start=1):
            sh.put(f"{column_letter(j + 1)}{r}", h, "header")
        r += 1
        for industry in sorted({x.industry or "（未填）" for x in group}):
            mine = [x for x in group if (x.industry or "（未填）") == industry]
            ranked = sorted(x.rank for x in mine if x.rank is not None)
            sh.put(f"B{r}", cell_text(industry), "text")
            sh.put(f"C{r}", len(ranked), "int")
            sh.put(f"D{r}", "、".join(map(str, ranked)), "text")
            sh.put(f"E{r}", len(mine) - len(ranked), "int")
            r += 1
        wb.sheets.append(sh)
    return wb

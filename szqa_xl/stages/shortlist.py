"""The next stage's roster from a stage's results: the top N per award category, or every applicant
at or above a score (差额选拔: more candidates than awards go on).  Pure, apart from reading files."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from szqa_xl.problems import Problem
from szqa_xl.scoresheet.roster import read_roster
from szqa_xl.standards.models import AWARD_IDS

ROSTER_COLUMNS = [
    "applicant_id", "applicant_name", "award_category", "applicant_kind", "examiner_id", "examiner_name", "stage",
    "industry",
]  # fmt: skip


@dataclass
class Candidate:
    year: str
    award_category: str
    stage: str
    rank: int
    applicant_id: str
    applicant_name: str
    applicant_kind: str
    total: float
    examiners: list[tuple[str, str]]
    chosen: bool = False
    industry: str = ""


@dataclass
class Shortlist:
    candidates: list[Candidate]  # every applicant of the results, in rank order per award category
    rule: str  # "top 3" / "score ≥ 300"
    problems: list[Problem] = field(default_factory=list)

    @property
    def chosen(self) -> list[Candidate]:
        return [c for c in self.candidates if c.chosen]

    def cut(self, award: str) -> tuple[float | None, float | None]:
        """(lowest total shortlisted, highest total left out) in one award category."""
        inside = [c.total for c in self.candidates if c.award_category == award and c.chosen]
        out = [c.total for c in self.candidates if c.award_category == award and not c.chosen]
        return (min(inside) if inside else None, max(out) if out else None)


def _results_csv(path: Path) -> Path:
    return path / "results.csv" if path.is_dir() else path


def read_results(path: Path | str) -> list[Candidate]:
    """The applicants of a results.csv (``szqa finalize``), or of the results folder holding it."""
    with _results_csv(Path(path)).open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    out = []
    for r in rows:
        examiners = [tuple(x.split("=", 1)) for x in (r.get("examiner_ids") or "").split(";") if "=" in x]
        out.append(
            Candidate(
                year=r["year"],
                award_category=r["award_category"],
                stage=r["stage"],
                rank=int(r["rank"]),
                applicant_id=r["applicant_id"].lstrip("'"),
                applicant_name=r["applicant_name"].lstrip("'"),
                applicant_kind=r["applicant_kind"],
                total=float(r["consensus_total"]),
                examiners=examiners,  # type: ignore[arg-type]
                industry=(r.get("industry") or "").lstrip("'"),
            )
        )
    order = {a: i for i, a in enumerate(AWARD_IDS)}
    out.sort(key=lambda c: (order.get(c.award_category, 99), c.rank, c.applicant_id))
    return out


def shortlist(results: Path | str, top: int | None = None, min_score: float | None = None) -> Shortlist:
    """Who goes on: ``top`` N per award category by rank (an applicant tied with the N-th goes on too,
    so the shortlist may hold more than N; the cut says so), or every applicant whose consensus total
    is at least ``min_score``.  Exactly one of the two."""
    if (top is None) == (min_score is None):
        raise ValueError("give exactly one of top and min_score")
    candidates = read_results(results)
    for c in candidates:
        c.chosen = c.rank <= top if top is not None else c.total >= float(min_score)  # type: ignore[arg-type]
    rule = f"每类前 {top} 名" if top is not None else f"共识总分 ≥ {min_score:g}"
    return Shortlist(candidates, rule)


def next_roster(sl: Shortlist, stage: str, roster: Path | str | None = None) -> tuple[str, list[Problem]]:
    """The next stage's roster (CSV text): the shortlisted applicants with the same panels, or with the
    examiners a roster file gives for them (its other applicants are left out)."""
    rows: list[list[str]] = []
    problems: list[Problem] = []
    chosen = {(c.award_category, c.applicant_id): c for c in sl.chosen}
    if roster is None:
        for c in sl.chosen:
            if not c.examiners:
                problems.append(
                    Problem(
                        "no-examiners",
                        f"{c.applicant_id} 的评审组成员不在结果中：请用 --roster 指定",
                        c.applicant_id,
                    )
                )
            for e, n in c.examiners:
                rows.append(
                    [
                        c.applicant_id,
                        c.applicant_name,
                        c.award_category,
                        c.applicant_kind,
                        e,
                        n,
                        stage,
                        c.industry,
                    ]
                )
    else:
        given, probs = read_roster(roster, default_stage=stage)
        problems += probs
        covered = set()
        for r in given:
            key = (r.award_category, r.applicant_id)
            if key in chosen:
                covered.add(key)
                rows.append([r.applicant_id, r.applicant_name, r.award_category, r.applicant_kind,
                             r.examiner_id, r.examiner_name, stage, r.industry or chosen[key].industry])  # fmt: skip
        for key, c in chosen.items():
            if key not in covered:
                problems.append(
                    Problem("no-examiners", f"名单中没有入围的 {c.applicant_id} 的评审员", str(roster))
                )
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(ROSTER_COLUMNS)
    w.writerows(rows)
    return buf.getvalue(), problems

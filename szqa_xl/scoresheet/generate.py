"""Issuing scoresheets: one file per roster row, plus a manifest."""

from __future__ import annotations

import csv
import io
import os
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from szqa_xl.problems import Problem
from szqa_xl.scoresheet.layout import Issue, PreviousStage, plan_scoresheet
from szqa_xl.scoresheet.roster import RosterRow, read_roster
from szqa_xl.standards.load import builtin_fingerprint, builtin_standard
from szqa_xl.xlsx.atomic import write_text
from szqa_xl.xlsx.forking import run_shared
from szqa_xl.xlsx.writer import render

MANIFEST_COLUMNS = (
    "issue_id",
    "fingerprint",
    "year",
    "award_category",
    "stage",
    "applicant_id",
    "applicant_name",
    "applicant_kind",
    "examiner_id",
    "examiner_name",
    "path",
    "industry",
)
_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')


def safe_name(text: str, limit: int = 60) -> str:
    """A file-name-safe version of a Chinese or Latin name."""
    cleaned = _UNSAFE.sub("_", text).strip(" ._") or "_"
    return cleaned[:limit]


def scoresheet_path(row: RosterRow, year: int) -> Path:
    """year/category/applicant/年度_类别_申报编号_评审员.xlsx, relative to the output folder."""
    std = builtin_standard(row.award_category)
    folder = (
        Path(str(year)) / f"{std.id}_{std.name_zh}" / safe_name(f"{row.applicant_id}_{row.applicant_name}")
    )
    stage = f"_{safe_name(row.stage)}" if row.stage != "材料评审" else ""
    name = safe_name(
        f"{year}_{std.name_zh}_{row.applicant_id}{stage}_{row.examiner_id}_{row.examiner_name}", 120
    )
    return folder / f"{name}.xlsx"


@dataclass
class GenerateResult:
    out_dir: Path
    manifest: Path | None
    files: list[Path] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def generate(
    roster: Path | str,
    year: int,
    out_dir: Path | str,
    stage: str = "材料评审",
    progress: Callable[[int, int], None] | None = None,
    now: datetime | None = None,
    previous: dict[tuple[str, str], PreviousStage] | None = None,
    workers: int = 2,
) -> GenerateResult:
    """Write one scoresheet per roster row; nothing is written when the roster has problems.

    ``previous`` ((award category, applicant id) -> the previous stage's consensus) seeds a later
    stage's scoresheets; an applicant of the roster without one is a problem of the roster.
    The scoresheets are independent: ``workers`` - 1 forked helpers write them with this process
    (``xlsx.forking.run_shared``; one process where fork is not used); the issue ids and the
    manifest are made here, in roster order."""
    out_dir = Path(out_dir)
    rows, problems = read_roster(roster, default_stage=stage)
    if previous is not None:
        for row in rows:
            if (builtin_standard(row.award_category).id, row.applicant_id) not in previous:
                problems.append(
                    Problem(
                        "no-previous",
                        f"{row.applicant_id} 不在上一阶段的共识结果中（该申报方未进入本阶段？）",
                        str(roster),
                    )
                )
    if problems:
        return GenerateResult(out_dir, None, [], problems)
    stamp = (now or datetime.now(UTC)).replace(microsecond=0).isoformat()
    here = os.getpid()

    def _render_one(std, issue, seed, path, i: int, n: int) -> None:
        render(plan_scoresheet(std, issue, seed).workbook, path)
        if progress and os.getpid() == here:  # jobs are taken in order: about i + 1 are done
            progress(i + 1, n)

    manifest_rows = []
    files = []
    jobs = []
    for i, row in enumerate(rows):
        std = builtin_standard(row.award_category)
        issue = Issue(
            year=year,
            stage=row.stage,
            applicant_id=row.applicant_id,
            applicant_name=row.applicant_name,
            applicant_kind=row.applicant_kind,
            examiner_id=row.examiner_id,
            examiner_name=row.examiner_name,
            issue_id=uuid.uuid4().hex,
            generated_at=stamp,
            industry=row.industry,
        )
        rel = scoresheet_path(row, year)
        seed = None if previous is None else previous[(std.id, row.applicant_id)]
        jobs.append(partial(_render_one, std, issue, seed, out_dir / rel, i, len(rows)))
        files.append(out_dir / rel)
        manifest_rows.append(
            {
                "issue_id": issue.issue_id,
                "fingerprint": builtin_fingerprint(std.id),
                "year": year,
                "award_category": std.id,
                "stage": row.stage,
                "applicant_id": row.applicant_id,
                "applicant_name": row.applicant_name,
                "applicant_kind": row.applicant_kind,
                "examiner_id": row.examiner_id,
                "examiner_name": row.examiner_name,
                "path": rel.as_posix(),
                "industry": row.industry,
            }
        )
    run_shared(jobs, workers - 1)
    if progress:
        progress(len(rows), len(rows))
    manifest = out_dir / "manifest.csv"
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=MANIFEST_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(manifest_rows)
    write_text(manifest, buf.getvalue(), encoding="utf-8-sig")
    return GenerateResult(out_dir, manifest, files, [])


def generate_blank(award: str, out: Path | str) -> Path:
    """A blank template of one award category (examiner fills in who and what)."""
    std = builtin_standard(award)
    return render(plan_scoresheet(std, Issue()).workbook, out)


def read_manifest(path: Path | str) -> list[dict[str, str]]:
    text = Path(path).read_text(encoding="utf-8-sig")
    return list(csv.DictReader(text.splitlines()))

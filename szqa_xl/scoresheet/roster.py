"""Reading a roster (CSV or xlsx) into issue rows, with every problem reported per row."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from szqa_xl.problems import Problem
from szqa_xl.standards.load import resolve_standard
from szqa_xl.standards.models import AWARD_IDS, Standard

COLUMNS = (
    "applicant_id",
    "applicant_name",
    "award_category",
    "applicant_kind",
    "examiner_id",
    "examiner_name",
)
OPTIONAL = ("stage", "industry")  # industry (行业): carried through to the final ranking
KIND_WORDS = {
    "organisation": "organisation",
    "organization": "organisation",
    "组织": "organisation",
    "project": "project",
    "项目": "project",
}


@dataclass(frozen=True)
class RosterRow:
    line: int  # 1-based row in the roster file, header = 1
    applicant_id: str
    applicant_name: str
    award_category: str  # award id
    applicant_kind: str
    examiner_id: str
    examiner_name: str
    stage: str
    industry: str = ""


def _cell_text(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _read_table(path: Path) -> tuple[list[str], list[list[str]]]:
    """Header and data rows of a CSV or of the first sheet of an xlsx."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        from python_calamine import CalamineWorkbook

        from szqa_xl.returns.reader import preflight

        problems = preflight(path, max_rows=100_000, max_cols=64)
        if problems:
            raise ValueError("; ".join(p.message for p in problems))
        table = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
    else:
        table = list(csv.reader(path.read_text(encoding="utf-8-sig").splitlines()))
    if not table:
        return [], []
    header = [_cell_text(h).strip() for h in table[0]]
    return header, [[_cell_text(v) for v in row] for row in table[1:]]


def read_roster(path: Path | str, default_stage: str = "材料评审") -> tuple[list[RosterRow], list[Problem]]:
    """All rows, and every problem found (unknown category, duplicate pair, missing column, …)."""
    path = Path(path)
    name = path.name
    try:
        header, table = _read_table(path)
    except (OSError, UnicodeDecodeError, ValueError, csv.Error) as exc:
        return [], [Problem("roster-unreadable", f"无法读取名单：{exc}", name)]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        return [], [Problem("roster-missing-column", f"名单缺少列：{', '.join(missing)}", name, "", "1")]
    rows: list[RosterRow] = []
    problems: list[Problem] = []
    seen: dict[tuple[str, str, str, str], int] = {}
    std_cache: dict[str, Standard] = {}
    for i, values in enumerate(table, start=2):
        raw = dict(zip(header, values, strict=False))
        vals = {k: (raw.get(k) or "").strip() for k in COLUMNS + OPTIONAL}
        if not any(vals.values()):
            continue
        where = f"第{i}行"
        empty = [
            k for k in ("applicant_id", "applicant_name", "award_category", "examiner_id") if not vals[k]
        ]
        if empty:
            problems.append(Problem("roster-empty", f"{where}：{', '.join(empty)} 为空", name, "", str(i)))
            continue
        cat = vals["award_category"]
        try:
            std = std_cache.get(cat) or resolve_standard(cat)
        except (KeyError, ValueError, OSError):
            problems.append(
                Problem(
                    "roster-unknown-category",
                    f"{where}：未知奖项类别 {cat!r}（可用：{', '.join(AWARD_IDS)} 或 经济类 等）",
                    name,
                    "",
                    str(i),
                )
            )
            continue
        std_cache[cat] = std
        kind = KIND_WORDS.get(vals["applicant_kind"].lower() or "organisation")
        if kind is None or kind not in std.applicant_kinds:
            problems.append(
                Problem(
                    "roster-bad-kind",
                    f"{where}：申报类型 {vals['applicant_kind']!r} 不适用于{std.name_zh}"
                    f"（可用：{', '.join(std.applicant_kinds)}）",
                    name,
                    "",
                    str(i),
                )
            )
            continue
        stage = vals["stage"] or default_stage
        key = (std.id, stage, vals["applicant_id"], vals["examiner_id"])
        if key in seen:
            problems.append(
                Problem(
                    "roster-duplicate",
                    f"{where}：申报方 {vals['applicant_id']} 与评审员 {vals['examiner_id']} "
                    f"在{stage}阶段重复（同第{seen[key]}行）",
                    name,
                    "",
                    str(i),
                )
            )
            continue
        seen[key] = i
        rows.append(
            RosterRow(
                i,
                vals["applicant_id"],
                vals["applicant_name"],
                std.id,
                kind,
                vals["examiner_id"],
                vals["examiner_name"] or vals["examiner_id"],
                stage,
                vals["industry"],
            )
        )
    return rows, problems

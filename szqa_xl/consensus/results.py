"""Final results from the panels' consensus records: ranks, subtotals, examiner totals, agreement.

Ranking (within one award category and stage): by consensus total, highest first;
ties broken by the consensus points of the result (结果) units, then by the median
of the examiners' complete totals; applicants equal on all three share a rank
(competition ranking: 1, 2, 2, 4).  Pure planning; files are written by
:func:`write_results` through the one writer.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path

from szqa_xl.consensus.record import PanelRecord
from szqa_xl.consolidation.agreement import agreement
from szqa_xl.standards import grid
from szqa_xl.standards.load import builtin_standard
from szqa_xl.standards.models import AWARD_IDS
from szqa_xl.xlsx.plan import Sheet, Style, Workbook, column_letter
from szqa_xl.xlsx.textsafe import cell_text, csv_safe

RANKING_RULE = (
    "排名规则：同一奖项类别、同一评审阶段内按共识总分从高到低；总分相同时依次比较结果类条目共识得分、"
    "评审员完整评分总分的中位数；三者均相同者名次并列。"
)


@dataclass(frozen=True)
class ResultRow:
    record: PanelRecord
    total: float
    result_points: float
    categories: dict[str, float]
    examiner_totals: tuple[float | None, ...]
    median_total: float | None
    mean_total: float | None
    flags: int
    icc21: float | None
    icc21_ci: tuple[float | None, float | None]
    alpha: float | None
    reading_zh: str
    rank: int = 0


def _median(values: list[float]) -> float | None:
    if not values:
        return None
    s = sorted(values)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def result_row(rec: PanelRecord) -> ResultRow:
    std = builtin_standard(rec.award_category)
    units = std.units()
    k = len(rec.examiners)
    totals: list[float | None] = []
    for j in range(k):
        pcts = [rec.units[u.code].examiner_pcts[j] if rec.units.get(u.code) else None for u in units]
        if any(p is None for p in pcts):
            totals.append(None)
        else:
            totals.append(sum(grid.unit_score(u.points, p) for u, p in zip(units, pcts, strict=True)))
    done = [t for t in totals if t is not None]
    flags = 0
    for u in units:
        uc = rec.units.get(u.code)
        vals = [p for p in (uc.examiner_pcts if uc else ()) if p is not None]
        if len(vals) >= 2:
            bands = [
                min(i for i, b in enumerate(std.guide(u.kind).bands) if b.min <= v <= b.max) for v in vals
            ]
            if (max(vals) - min(vals)) * u.points / 100 >= 25 or max(bands) - min(bands) >= 2:
                flags += 1
    matrix = [[p for p in rec.units[u.code].examiner_pcts] for u in units if rec.units.get(u.code)]
    ag = agreement(matrix) if matrix and k >= 2 else None
    pts = rec.unit_points(std)
    return ResultRow(
        record=rec,
        total=rec.total(std),
        result_points=sum(v or 0.0 for u in units if u.kind == "result" for v in [pts[u.code]]),
        categories=rec.category_points(std),
        examiner_totals=tuple(totals),
        median_total=_median(done),
        mean_total=sum(done) / len(done) if done else None,
        flags=flags,
        icc21=ag.icc21.value if ag else None,
        icc21_ci=(ag.icc21.ci_low, ag.icc21.ci_high) if ag else (None, None),
        alpha=ag.alpha if ag else None,
        reading_zh=ag.reading_zh if ag else "无法计算",
    )


def _sort_key(r: ResultRow) -> tuple:
    return (
        -round(r.total, 6),
        -round(r.result_points, 6),
        -(r.median_total if r.median_total is not None else -1),
    )


def rank(records: list[PanelRecord]) -> list[ResultRow]:
    """Every record as a ranked result row, grouped by (year, award category in the committee's order, stage)."""
    rows = [result_row(r) for r in records]
    out: list[ResultRow] = []
    groups: dict[tuple, list[ResultRow]] = {}
    for r in rows:
        groups.setdefault((r.record.year, r.record.award_category, r.record.stage), []).append(r)
    order = {a: i for i, a in enumerate(AWARD_IDS)}
    for key in sorted(groups, key=lambda g: (g[0], order.get(g[1], 99), g[2])):
        group = sorted(groups[key], key=lambda r: (*_sort_key(r), r.record.applicant_id))
        prev, place = None, 0
        for i, r in enumerate(group, start=1):
            if _sort_key(r) != prev:
                place, prev = i, _sort_key(r)
            out.append(ResultRow(**{**r.__dict__, "rank": place}))
    return out


CSV_COLUMNS = [
    "year", "award_category", "stage", "rank", "applicant_id", "applicant_name", "applicant_kind",
    "consensus_total", "result_points", "median_examiner_total", "mean_examiner_total", "examiners",
    "flags", "icc21", "icc21_low", "icc21_high", "alpha", "agreement", "categories", "leader", "signed_on",
    "source_file", "source_sha256", "examiner_ids", "industry",
]  # fmt: skip


UNIT_COLUMNS = [
    "year",
    "award_category",
    "stage",
    "applicant_id",
    "unit",
    "pct",
    "band",
    "reason",
    "strengths",
    "ofi",
]


def consensus_units_csv(records: list[PanelRecord]) -> str:
    """Per applicant and unit, what the panel agreed: the next stage's scoresheets are seeded from it."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(UNIT_COLUMNS)
    for rec in records:
        std = builtin_standard(rec.award_category)
        for u in std.units():
            uc = rec.units.get(u.code)
            band = rec.band_of(std, u.code)
            w.writerow(
                [
                    csv_safe(str(v))
                    for v in (
                        rec.year,
                        rec.award_category,
                        rec.stage,
                        rec.applicant_id,
                        u.code,
                        "" if uc is None or uc.pct is None else f"{uc.pct:g}",
                        band.label if band else "",
                        uc.reason if uc else "",
                        uc.strengths if uc else "",
                        uc.ofi if uc else "",
                    )
                ]  # fmt: skip
            )
    return buf.getvalue()


def _r(v: float | None, nd: int = 2) -> str:
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{nd}f}"


def results_csv(rows: list[ResultRow]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for r in rows:
        rec = r.record
        w.writerow(
            [
                csv_safe(str(v))
                for v in (
                    rec.year,
                    rec.award_category,
                    rec.stage,
                    r.rank,
                    rec.applicant_id,
                    rec.applicant_name,
                    rec.applicant_kind,
                    _r(r.total, 2),  # exact: unit points are multiples of 0.05
                    _r(r.result_points, 2),
                    _r(r.median_total, 1),
                    _r(r.mean_total, 1),
                    len(rec.examiners),
                    r.flags,
                    _r(r.icc21, 3),
                    _r(r.icc21_ci[0], 3),
                    _r(r.icc21_ci[1], 3),
                    _r(r.alpha, 3),
                    r.reading_zh,
                    ";".join(f"{c}={v:.1f}" for c, v in r.categories.items()),
                    rec.leader,
                    rec.signed_on,
                    rec.source_file,
                    rec.source_sha256,
                    ";".join(f"{e}={n}" for e, n in rec.examiners),
                    rec.extra.get("industry", ""),
                )
            ]
        )
    return buf.getvalue()


STYLES = {
    "title": Style(bold=True, size=15, color="1F3864", valign="center"),
    "subtitle": Style(size=10, color="404040", wrap=True, valign="top"),
    "header": Style(
        bold=True, color="FFFFFF", fill="1F4E78", wrap=True, halign="center", valign="center", border=True
    ),
    "text": Style(border=True, wrap=True),
    "int": Style(border=True, halign="center", number_format="0"),
    "num": Style(border=True, halign="center", number_format="0.0"),
    "num3": Style(border=True, halign="center", number_format="0.000"),
    "bold": Style(border=True, halign="center", bold=True, number_format="0.0"),
}


def plan_results(rows: list[ResultRow], problems: list[tuple[str, str, str]]) -> Workbook:
    """results.xlsx: a sheet per award category (and stage) in the committee's order, then the files."""
    wb = Workbook(sheets=[], styles=STYLES, title="评审结果", lock_structure=False)
    groups: dict[tuple, list[ResultRow]] = {}
    for r in rows:
        groups.setdefault((r.record.year, r.record.award_category, r.record.stage), []).append(r)
    for (year, award, stage), group in groups.items():
        std = builtin_standard(award)
        title = f"{std.name_zh}_{stage}"[:31]
        sh = Sheet(title, freeze="D4", print_title_rows="3:3", protect=True)
        sh.put("A1", f"{year}年度 · {std.name_zh} · {stage} · 评审结果", "title")
        sh.put(
            "A2",
            RANKING_RULE + " 一致性：ICC(2,1) 为双向随机、绝对一致的单人组内相关系数，读法（Koo & Li）："
            "<0.5 差，0.5–0.75 中等，0.75–0.9 良好，>0.9 优秀。",
            "subtitle",
        )
        heads = [
            "名次",
            "申报编号",
            "申报组织/项目",
            "共识总分",
            *(f"{c.code} {c.name}\n({c.points})" for c in std.categories),
            "结果类得分",
            "评审员总分中位数",
            "评审员总分均值",
            "评审员数",
            "分歧条目",
            "ICC(2,1)",
            "95% 区间",
            "α",
            "一致性",
        ]
        last = column_letter(len(heads))
        sh.merges += [f"A1:{last}1", f"A2:{last}2"]
        sh.row_heights[2] = 44
        for j, h in enumerate(heads, start=1):
            sh.put(f"{column_letter(j)}3", h, "header")
        sh.row_heights[3] = 44
        widths = [6, 10, 28, 9, *([9] * len(std.categories)), 9, 10, 10, 7, 7, 8, 13, 7, 8]
        sh.col_widths = {column_letter(j): w for j, w in enumerate(widths, start=1)}
        for i, r in enumerate(group):
            row = 4 + i
            rec = r.record
            cells = [
                (r.rank, "int"),
                (cell_text(rec.applicant_id), "text"),
                (cell_text(rec.applicant_name), "text"),
                (r.total, "bold"),
            ]
            cells += [(r.categories.get(c.code, 0.0), "num") for c in std.categories]
            ci = "" if r.icc21_ci[0] is None else f"{r.icc21_ci[0]:.2f}–{r.icc21_ci[1]:.2f}"
            cells += [
                (r.result_points, "num"),
                (r.median_total, "num"),
                (r.mean_total, "num"),
                (len(rec.examiners), "int"),
                (r.flags, "int"),
                (r.icc21, "num3"),
                (ci, "text"),
                (r.alpha, "num3"),
                (r.reading_zh, "text"),
            ]
            for j, (v, style) in enumerate(cells, start=1):
                sh.put(f"{column_letter(j)}{row}", v, style)
        wb.sheets.append(sh)
    files = Sheet("共识表读取", freeze="A4", print_title_rows="3:3")
    files.put("A1", "共识表读取情况", "title")
    files.put("A2", "每份共识表：已采用、拒收（原因及单元格）或缺失。", "subtitle")
    for j, h in enumerate(("状态", "文件", "原因（工作表!单元格）"), start=1):
        files.put(f"{column_letter(j)}3", h, "header")
    files.col_widths = {"A": 10, "B": 60, "C": 90}
    for i, (name, status, reasons) in enumerate(problems):
        files.put(f"A{4 + i}", status, "text")
        files.put(f"B{4 + i}", cell_text(name), "text")
        files.put(f"C{4 + i}", cell_text(reasons), "text")
        files.row_heights[4 + i] = max(18.0, 14.0 * (reasons.count("\n") + 1))
    wb.sheets.append(files)
    return wb


def reports_available() -> bool:
    """Whether feedback reports can be written here (python-docx, which needs lxml, imports)."""
    try:
        import docx  # noqa: F401
    except ImportError:
        return False
    return True


def finalize_outputs(
    fin,
    out_dir: Path | str,
    force: bool = False,
    with_examiners: bool = False,
    pdf: bool = True,
    reports: bool | None = None,
) -> dict[str, Path]:
    """results.xlsx, results.csv and a feedback report per applicant (docx, and PDF where LibreOffice
    is present) under ``out_dir``; refuses to overwrite without ``force``.  Each file is written atomically.

    ``reports`` None: written where python-docx is installed; the returned dict then has no
    ``feedback`` entry when they were not."""
    from szqa_xl.xlsx.atomic import atomic_path
    from szqa_xl.xlsx.libreoffice import soffice, to_pdf_many
    from szqa_xl.xlsx.writer import write

    out = Path(out_dir)
    targets = {
        "workbook": out / "results.xlsx",
        "csv": out / "results.csv",
        "units": out / "consensus_units.csv",
        "feedback": out / "feedback",
    }
    existing = [p for p in (targets["workbook"], targets["csv"]) if p.exists()]
    if existing and not force:
        raise FileExistsError(", ".join(str(p) for p in existing))
    out.mkdir(parents=True, exist_ok=True)
    rows = rank(fin.records)
    reads = [
        (
            name,
            {"accepted": "已采用", "rejected": "拒收", "duplicate": "重复"}.get(st, st),
            "\n".join(
                f"{p.sheet + '!' + p.cell + ' ' if p.sheet and p.cell else ''}{p.message}" for p in probs
            ),
        )
        for name, st, probs in fin.reads
    ]
    reads += [(name, "缺失", "索引中有此共识表，文件夹中未找到") for _key, name in fin.missing]
    with (
        atomic_path(targets["csv"]) as tmp_csv,
        atomic_path(targets["units"]) as tmp_units,
        atomic_path(targets["workbook"]) as tmp_wb,
    ):
        Path(tmp_csv).write_text(results_csv(rows), encoding="utf-8-sig")
        Path(tmp_units).write_text(consensus_units_csv([r.record for r in rows]), encoding="utf-8-sig")
        write(plan_results(rows, reads), tmp_wb)
    if reports is None:
        reports = reports_available()
    if not reports:
        targets.pop("feedback")  # no reports: nothing written there
        return targets
    from szqa_xl.consensus import feedback

    targets["feedback"].mkdir(exist_ok=True)
    written = []
    for r in rows:
        std = builtin_standard(r.record.award_category)
        path = targets["feedback"] / feedback.feedback_filename(r.record, std)
        feedback.write_feedback(r.record, std, path, with_examiners=with_examiners)
        written.append(path)
    if pdf and soffice() is not None:  # one LibreOffice start for every report
        to_pdf_many(written, targets["feedback"])
    return targets

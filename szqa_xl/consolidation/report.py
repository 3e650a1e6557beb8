"""Plan of the consolidated workbook for the consensus meeting (pure; rendered by ``writer``)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from functools import partial
from itertools import chain

import pandas as pd

from szqa_xl.consolidation.batch import STATUS_ZH, Consolidation
from szqa_xl.consolidation.core import GROUP, GroupRows
from szqa_xl.scoresheet.layout import text_height
from szqa_xl.standards.load import builtin_standard
from szqa_xl.standards.models import AWARD_IDS, KIND_ZH
from szqa_xl.xlsx.plan import (
    PX_PER_CM,
    Cell,
    Chart,
    CondFormat,
    Sheet,
    SheetStream,
    Style,
    Workbook,
    column_letter,
)
from szqa_xl.xlsx.textsafe import cell_text, split_for_cells

TITLE_HEIGHT = 22.0  # a row of the 15 pt title
CHART_WIDTH_CM, CHART_HEIGHT_CM = 14.0, 7.0  # an applicant sheet's two charts

STYLES: dict[str, Style] = {
    "title": Style(bold=True, size=15, color="1F3864", valign="center"),
    "subtitle": Style(size=10, color="404040"),
    "subtitle_wrap": Style(size=10, color="404040", wrap=True, valign="top"),
    "header": Style(
        bold=True, color="FFFFFF", fill="1F4E78", wrap=True, halign="center", valign="center", border=True
    ),
    "text": Style(border=True, wrap=True),
    "plain": Style(border=True),
    "center": Style(border=True, halign="center"),
    "num": Style(border=True, halign="center", number_format="0.0"),
    "num3": Style(border=True, halign="center", number_format="0.000"),
    "int": Style(border=True, halign="center", number_format="0"),
    "flag": Style(border=True, halign="center", bold=True, color="C00000"),
    "suggested": Style(fill="DDEBF7", border=True, halign="center", number_format="0"),
    "total": Style(bold=True, fill="FCE4D6", border=True, halign="center", number_format="0.0"),
    "total_label": Style(bold=True, fill="FCE4D6", border=True),
    "cat": Style(bold=True, fill="D9E1F2", border=True),
    "note": Style(wrap=True, size=9, color="595959"),
    "bad": Style(border=True, wrap=True, color="9C0006"),
}

LARGE_SCORE_ROWS = 25_000
"""Score rows (one per return and scoring unit; ~16 per return) above which the consolidated
workbook is written row by row in XlsxWriter's ``constant_memory`` mode, so that memory does not
grow with the number of returns.  Below it XlsxWriter keeps the cells until the end and writes each
distinct text once, in the shared strings, instead of every text inline: measured at 1,000 returns
(16,340 rows), 1.9 s instead of 2.7 s and a file 10 % smaller, for ~64 MiB more at the peak."""

_SHEET_BAD = re.compile(r"[\[\]:*?/\\'!]")  # Excel's forbidden characters, the quote and the "!" of refs


def _num(v) -> float | None:
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        return None
    return float(v)


def _sheet_names(keys: list[tuple], used: set[str]) -> dict[tuple, str]:
    """A unique, legal sheet name per applicant key (year, award, stage, applicant)."""
    out = {}
    stages = {k[2] for k in keys}
    for key in keys:
        base = _SHEET_BAD.sub("_", str(key[3]))
        if len(stages) > 1:
            base = f"{base}_{key[2]}"
        name = base[:31] or "_"
        n = 2
        while name in used:
            suffix = f"~{n}"
            name = base[: 31 - len(suffix)] + suffix
            n += 1
        used.add(name)
        out[key] = name
    return out


def plan_consolidated(cons: Consolidation) -> Workbook:
    """The consolidated workbook; its sheets are planned one at a time as the writer takes them.

    Only one applicant sheet's plan exists at any moment; above ``LARGE_SCORE_ROWS``
    the writer also flushes each sheet's rows as it goes, so memory does not grow
    with the number of applicants.
    """
    large = len(cons.scores) > LARGE_SCORE_ROWS
    wb = Workbook(sheets=[], styles=STYLES, title="共识评审汇总", lock_structure=False, large=large)
    used = {"总览", "评审员", "回收情况", "来源", "说明"}
    keys = [tuple(r[g] for g in GROUP) for _, r in cons.applicants.iterrows()]
    names = _sheet_names(keys, used)
    consensus_cells = {
        key: _consensus_total_cell(int(n), len(builtin_standard(key[1]).units()))
        for key, n in zip(keys, cons.applicants["examiners"], strict=True)
    }
    # An applicant's rows are index look-ups into columns taken once, not a pandas frame (and its
    # per-call overhead) per applicant.
    scores = GroupRows(
        cons.scores, ["unit", "examiner_id", "examiner_name", "applicant_name", "pct", "file_no"]
    )
    stats = GroupRows(cons.stats, ["unit", *_STAT_FIELDS, "flag", "consensus"])

    def applicant(key: tuple) -> Sheet:
        text_key = tuple(str(v) for v in key)
        tidy, unit_stats = scores.rows(cons.score_rows[text_key]), stats.rows(cons.stat_rows[text_key])
        sh, cell = _applicant_sheet(cons, key, names[key], tidy, unit_stats)
        if cell != consensus_cells[key]:
            raise AssertionError(
                f"consensus total of {names[key]} at {cell}, overview expects {consensus_cells[key]}"
            )
        return sh

    makers: list[Callable[[], Sheet]] = [partial(_overview, cons, names, consensus_cells)]
    makers += [partial(applicant, key) for key in keys]
    makers += [partial(f, cons) for f in (_examiners, _returns, _sources, _about)]
    wb.sheets = SheetStream(makers)
    return wb


_STAT_FIELDS = ("median", "mean", "min", "max", "range_points", "spread_bands")


def _consensus_total_cell(examiners: int, units: int) -> str:
    """Where an applicant sheet puts its consensus total: the 共识得分 column of the total row."""
    return f"{column_letter(4 + examiners + 9)}{5 + units}"


def _overview(cons: Consolidation, names: dict, consensus_cells: dict) -> Sheet:
    sh = Sheet("总览", freeze="A4", print_title_rows="3:3", tab_color="1F4E78")
    sh.put("A1", "深圳市市长质量奖 共识评审汇总 · 总览", "title")
    c = cons.counts()
    sh.put(
        "A2",
        f"生成于 {cons.created_at}；已合并 {c['accepted'] + c['incomplete']} 份（未完成 {c['incomplete']}），"
        f"拒收 {c['rejected']}，重复 {c['duplicate']}，未返回 {c['missing']}。此处“共识总分”按建议共识（中位数）计算，仅供会前参考；最终共识在各共识表中形成，由 szqa finalize 汇总为评审结果。",
        "subtitle",
    )
    max_ex = int(cons.applicants["examiners"].max()) if len(cons.applicants) else 0
    headers = ["排名", "年度", "奖项类别", "评审阶段", "申报编号", "申报组织/项目", "评审员数", "完成数"]
    headers += [f"评审员{i + 1}总分" for i in range(max_ex)]
    headers += ["总分中位数", "总分平均", "共识总分", "分歧条目", "工作表", "ICC(2,1)", "一致性"]
    for j, h in enumerate(headers, start=1):
        sh.put(f"{column_letter(j)}3", h, "header")
    widths = [6, 7, 9, 10, 12, 26, 8, 8] + [18] * max_ex + [10, 10, 10, 9, 12, 9, 8]
    agree = _agreement_by_key(cons)
    sh.col_widths = {column_letter(j): w for j, w in enumerate(widths, start=1)}
    sh.row_heights[3] = 30
    n = len(cons.applicants)
    col = {h: column_letter(j) for j, h in enumerate(headers, start=1)}
    first, last = 4, 3 + max(n, 1)
    for i, (_, a) in enumerate(cons.applicants.iterrows()):
        r = 4 + i
        key = tuple(a[g] for g in GROUP)
        std = builtin_standard(a["award_category"])
        cons_ref = f"{col['共识总分']}{r}"
        sh.put(
            f"A{r}",
            f"=COUNTIFS(${col['奖项类别']}${first}:${col['奖项类别']}${last},{col['奖项类别']}{r},"
            f"${col['评审阶段']}${first}:${col['评审阶段']}${last},{col['评审阶段']}{r},"
            f'${col["共识总分"]}${first}:${col["共识总分"]}${last},">"&{cons_ref})+1',
            "int",
            formula=True,
        )
        sh.put(f"B{r}", _num(a["year"]) if str(a["year"]).isdigit() else a["year"], "center")
        sh.put(f"C{r}", std.name_zh, "center")
        sh.put(f"D{r}", a["stage"], "center")
        sh.put(f"E{r}", cell_text(str(a["applicant_id"])), "plain")
        sh.put(f"F{r}", cell_text(str(a["applicant_name"])), "text")
        sh.put(f"G{r}", int(a["examiners"]), "int")
        sh.put(f"H{r}", int(a["complete_examiners"]), "int")
        for j, (ex, total) in enumerate(sorted(a["totals"].items())):
            mark = "（未完成）" if ex in a["incomplete_examiners"] else ""
            sh.put(f"{column_letter(9 + j)}{r}", f"{ex}: {total:.1f}{mark}", "center")
        sh.put(f"{col['总分中位数']}{r}", _num(a["median_total"]), "num")
        sh.put(f"{col['总分平均']}{r}", _num(a["mean_total"]), "num")
        sh.put(cons_ref, f"='{names[key]}'!{consensus_cells[key]}", "total", formula=True)
        sh.put(f"{col['分歧条目']}{r}", int(a["flags"]), "flag" if a["flags"] else "int")
        sh.put(f"{col['工作表']}{r}", names[key], "plain")
        icc, reading = agree.get(tuple(str(k) for k in key), (None, "无法计算"))
        sh.put(f"{col['ICC(2,1)']}{r}", icc, "num3")
        sh.put(f"{col['一致性']}{r}", reading, "center")
    if n:
        sh.charts.append(
            Chart(
                "bar",
                f"A{last + 3}",
                "共识总分",
                f"'总览'!${col['共识总分']}$3:${col['共识总分']}${last}",
                f"'总览'!$E${first}:$E${last}",
                y_title="分",
                width_cm=18,
                height_cm=max(6.0, 0.8 * n + 3),
            )
        )
    return sh


def _agreement_by_key(cons: Consolidation) -> dict[tuple, tuple[float | None, str]]:
    """(year, award, stage, applicant) as text -> (ICC(2,1), Koo & Li reading)."""
    frame = cons.agreement
    if frame is None or not len(frame):
        return {}
    out = {}
    for row in frame.itertuples(index=False):
        key = tuple(str(getattr(row, g)) for g in GROUP)
        out[key] = (_num(row.icc21), row.reading_zh)
    return out


COMMENT_WIDTHS = (7, 12, 44, 44, 24)
"""Widths of the comment table's columns: unit, examiner, strengths, OFIs, evidence."""


def _applicant_sheet(
    cons: Consolidation, key: tuple, name: str, tidy: dict[str, list], stats: dict[str, list]
) -> tuple[Sheet, str]:
    """One applicant's sheet from its rows of the scores and of the unit statistics (columns as lists)."""
    year, award, stage, applicant = key
    std = builtin_standard(award)
    unit_stats = {
        u: {f: stats[f][i] for f in (*_STAT_FIELDS, "flag", "consensus")} for i, u in enumerate(stats["unit"])
    }
    examiners = sorted(set(tidy["examiner_id"]))
    ex_names: dict[str, str] = {}
    for e, n in zip(tidy["examiner_id"], tidy["examiner_name"], strict=True):
        ex_names.setdefault(e, n)
    sh = Sheet(name, freeze="C5", print_title_rows="4:4")
    # Every row has its height (the title's 15 pt, the subtitle's one line, a gap of one line), so the
    # writer may make the most common one the sheet's default (see xlsx.writer._common_height).  The
    # subtitle and the gap are one line as the tables' one-line rows are: at 10,000 returns the two
    # rows' own heights were 4,000 row records XlsxWriter keeps until the workbook is closed (~1.2 MiB).
    one_line = text_height("", COMMENT_WIDTHS[0])
    sh.row_heights.update({1: TITLE_HEIGHT, 2: one_line, 3: one_line})
    app_name = tidy["applicant_name"][0] if tidy["applicant_name"] else ""
    sh.put("A1", cell_text(f"{applicant} {app_name}"), "title")
    sh.put(
        "A2",
        f"{year}年度 · {std.name_zh} · {stage} · 评审员 {len(examiners)} 人。共识得分率与理由在 consensus 文件夹中"
        f"本申报方的共识表里填写（此处“建议共识%”为中位数取最近的5的倍数，仅供会前参考，不可修改）。"
        f"标记：区间相差≥{cons.thresholds.bands_apart}档或极差≥{cons.thresholds.range_points:g}分。",
        "subtitle",
    )
    headers = ["编号", "评分项目", "分值", "类型"]
    headers += [f"{e}\n{ex_names[e]}" for e in examiners]
    headers += [
        "中位数%",
        "平均%",
        "最低%",
        "最高%",
        "极差(分)",
        "区间差",
        "标记",
        "建议共识%",
        "共识得分",
        "说明",
    ]
    col = {}
    for j, h in enumerate(headers, start=1):
        sh.put(f"{column_letter(j)}4", cell_text(h), "header")
        col[h.split("\n")[0]] = column_letter(j)
    sh.row_heights[4] = 32
    widths = [7, 14, 6, 6] + [10] * len(examiners) + [8, 8, 7, 7, 8, 7, 6, 10, 9, 30]
    sh.col_widths = {column_letter(j): w for j, w in enumerate(widths, start=1)}
    units = std.units()
    first = 5
    last = first + len(units) - 1
    pct_lookup = dict(zip(zip(tidy["unit"], tidy["examiner_id"], strict=True), tidy["pct"], strict=True))
    for i, unit in enumerate(units):
        r = first + i
        st = unit_stats.get(unit.code)
        sh.put(f"A{r}", unit.code, "center")
        sh.put(f"B{r}", unit.name, "text")
        sh.put(f"C{r}", unit.points, "int")
        sh.put(f"D{r}", KIND_ZH[unit.kind], "center")
        for e in examiners:
            v = pct_lookup.get((unit.code, e))
            sh.put(f"{col[e]}{r}", _num(v), "int")
        for label, field, style in (
            ("中位数%", "median", "num"),
            ("平均%", "mean", "num"),
            ("最低%", "min", "int"),
            ("最高%", "max", "int"),
            ("极差(分)", "range_points", "num"),
            ("区间差", "spread_bands", "int"),
        ):
            sh.put(f"{col[label]}{r}", _num(st[field]) if st is not None else None, style)
        flagged = st is not None and st["flag"] is not pd.NA and bool(st["flag"])
        sh.put(f"{col['标记']}{r}", "讨论" if flagged else "", "flag")
        sh.put(f"{col['建议共识%']}{r}", _num(st["consensus"]) if st is not None else None, "suggested")
        sh.put(
            f"{col['共识得分']}{r}",
            f'=IF({col["建议共识%"]}{r}="","",C{r}*{col["建议共识%"]}{r}/100)',
            "num",
            formula=True,
        )
        sh.put(f"{col['说明']}{r}", "讨论后在共识表中定" if flagged else None, "text")
    total_r = last + 1
    sh.put(f"A{total_r}", "总分", "total_label")
    sh.put(f"B{total_r}", None, "total_label")
    sh.put(f"C{total_r}", f"=SUM(C{first}:C{last})", "total", formula=True)
    sh.put(f"D{total_r}", None, "total_label")
    for e in examiners:
        c = col[e]
        sh.put(
            f"{c}{total_r}",
            f'=IF(COUNT({c}{first}:{c}{last})={len(units)},SUMPRODUCT($C${first}:$C${last},{c}{first}:{c}{last})/100,"未完成")',
            "total",
            formula=True,
        )
    for label in ("中位数%", "平均%", "最低%", "最高%", "极差(分)", "区间差", "标记", "建议共识%"):
        sh.put(f"{col[label]}{total_r}", None, "total_label")
    cons_total = f"{col['共识得分']}{total_r}"
    sh.put(cons_total, f"=SUM({col['共识得分']}{first}:{col['共识得分']}{last})", "total", formula=True)
    sh.put(
        f"{col['说明']}{total_r}",
        f'=IF(COUNT({col["建议共识%"]}{first}:{col["建议共识%"]}{last})={len(units)},"","尚有条目无共识得分率")',
        "total_label",
        formula=True,
    )
    sh.cond_formats.append(
        CondFormat(f"A{first}:{col['说明']}{last}", f'${col["标记"]}{first}="讨论"', fill="FDE9D9")
    )

    # Category profile table + chart, spread chart.
    r = total_r + 2
    sh.put(f"A{r}", "类目", "header")
    sh.put(f"B{r}", "名称", "header")
    sh.put(f"C{r}", "分值", "header")
    sh.put(f"D{r}", "共识得分率%", "header")
    sh.row_heights[r] = 32  # the headers wrap in the narrow columns of the scores table above
    prof_first = r + 1
    for j, cat in enumerate(std.categories):
        rr = prof_first + j
        sh.put(f"A{rr}", cat.code, "center")
        sh.put(f"B{rr}", cat.name, "text")
        sh.put(f"C{rr}", cat.points, "int")
        idx = [i for i, u in enumerate(units) if u.category_code == cat.code]  # contiguous rows
        a, b = first + idx[0], first + idx[-1]
        sh.put(f"D{rr}", f"=SUM({col['共识得分']}{a}:{col['共识得分']}{b})/C{rr}*100", "num", formula=True)
    prof_last = prof_first + len(std.categories) - 1
    chart_row = prof_last + 2
    sh.charts.append(
        Chart(
            "bar",
            f"A{chart_row}",
            "类目得分率（共识，%）",
            f"'{name}'!$D${r}:$D${prof_last}",
            f"'{name}'!$B${prof_first}:$B${prof_last}",
            y_title="%",
            y_max=100,
            width_cm=CHART_WIDTH_CM,
            height_cm=CHART_HEIGHT_CM,
        )
    )
    # the spread chart beside the first (the scores, the profile and both charts then fit one page),
    # or below it when the scores table is too narrow for both (a panel of one or two returns)
    chart_px = CHART_WIDTH_CM * PX_PER_CM
    beside, edge = _column_at(sh.col_widths, chart_px + 0.5 * PX_PER_CM)
    if edge + chart_px <= _width_px(sh.col_widths, 1, len(headers)):
        spread_anchor = (column_letter(beside), chart_row)
    else:
        spread_anchor = ("A", _rows_under(sh, chart_row, CHART_HEIGHT_CM) + 2)
    sh.charts.append(
        Chart(
            "col",
            f"{spread_anchor[0]}{spread_anchor[1]}",
            "评审员分歧：各条目极差（分）",
            f"'{name}'!${col['极差(分)']}$4:${col['极差(分)']}${last}",
            f"'{name}'!$A${first}:$A${last}",
            y_title="分",
            width_cm=CHART_WIDTH_CM,
            height_cm=CHART_HEIGHT_CM,
        )
    )

    # Strengths and OFIs, per unit, with their examiner: a table of its own columns to the right of the
    # scores (one wide cell per text, no merged spans), its header on the frozen header row.
    c0 = len(headers) + 2
    comment_cols = [column_letter(c0 + k) for k in range(5)]
    for letter, h, w in zip(
        comment_cols, ("编号", "评审员", "优势", "改进机会", "佐证材料/页码"), COMMENT_WIDTHS, strict=True
    ):
        sh.put(f"{letter}4", h, "header")
        sh.col_widths[letter] = w
    code_col, who_col, text_cols = comment_cols[0], comment_cols[1], comment_cols[2:]
    r = first
    comments: dict[str, list] = {}
    texts = cons.comments.of_files(tidy["file_no"])
    for f, u, e, en in zip(
        tidy["file_no"], tidy["unit"], tidy["examiner_id"], tidy["examiner_name"], strict=True
    ):
        found = texts.get((f, u))
        if found and any(found):
            comments.setdefault(u, []).append((e, en, found))
    for unit in units:
        for examiner_id, examiner_name, found in comments.get(unit.code, []):
            parts = [split_for_cells(cell_text(str(v or ""))) for v in found]
            for k in range(max(len(p) for p in parts)):
                sh.put(f"{code_col}{r}", unit.code if k == 0 else f"{unit.code}（续）", "center")
                sh.put(f"{who_col}{r}", cell_text(f"{examiner_id} {examiner_name}"), "text")
                height = max(18.0, sh.row_heights.get(r, 0.0))
                for letter, p, w in zip(text_cols, parts, COMMENT_WIDTHS[2:], strict=True):
                    text = p[k] if k < len(p) else ""
                    sh.put(f"{letter}{r}", text, "text")
                    height = max(height, text_height(text, w))
                sh.row_heights[r] = min(409.0, height)
                r += 1
    # Printed fitted to the page's width, in parts each on pages of its own (Excel drops manual page
    # breaks when it fits the width): the scores with the profile and charts below them, or, when
    # that would not fit one page, the scores, then the profile and charts; then the comments.
    bottom = max(prof_last, _rows_under(sh, spread_anchor[1], CHART_HEIGHT_CM))
    right = col["说明"]
    spans = [(1, len(headers))]  # the columns of each part
    comments_area = []
    if r > first:
        sh.put(f"{code_col}1", cell_text(f"{applicant} {app_name} · 优势与改进机会"), "title")
        comments_area = [f"{code_col}1:{comment_cols[-1]}{r - 1}"]
        spans.append((c0, c0 + len(comment_cols) - 1))
    scale = min(1.0, PAGE_WIDTH_PX / max(_width_px(sh.col_widths, a, b) for a, b in spans))
    if sum(sh.row_heights.get(row, ROW_PT) for row in range(1, bottom + 1)) * scale <= PAGE_HEIGHT_PT:
        sh.print_areas = [f"A1:{right}{bottom}", *comments_area]
    else:
        sh.print_areas = [f"A1:{right}{total_r}", f"A{total_r + 2}:{right}{bottom}", *comments_area]
    return sh, cons_total


PAGE_WIDTH_PX = (29.7 / 2.54 - 0.8) * 96
"""What an A4 landscape page prints across, in pixels at 100 % (the writer's 0.4 in side margins). The
columns' pixel widths are those of the default font (Calibri 11); a wider font makes the columns wider
and the fitted scale smaller, so a part judged to fit one page still does."""
PAGE_HEIGHT_PT = (21.0 / 2.54 - 1.0) * 72 * 0.96
"""What it prints down, in points (0.5 in top and bottom margins), less 4 % to spare."""


ROW_PT = 15.0
"""The height of a row given none: the least an applicant sheet's rows have (the writer may make a
larger one the default), so estimates of how far down something reaches are never short."""


def _col_px(widths: dict[str, float], j: int) -> int:
    """Column ``j`` (1-based) across, in pixels: a column of w characters is int(7w + 0.5) + 5
    pixels wide, as Excel and XlsxWriter size it."""
    return int(7 * widths.get(column_letter(j), 8.43) + 0.5) + 5


def _width_px(widths: dict[str, float], first: int, last: int) -> int:
    """Columns ``first``..``last`` (1-based) across, in pixels."""
    return sum(_col_px(widths, j) for j in range(first, last + 1))


def _column_at(widths: dict[str, float], px: float) -> tuple[int, int]:
    """The first column (1-based) whose left edge is at least ``px`` from the sheet's left edge, and
    that edge in pixels."""
    j, edge = 1, 0
    while edge < px:
        edge += _col_px(widths, j)
        j += 1
    return j, edge


def _rows_under(sh: Sheet, row: int, height_cm: float) -> int:
    """The last row a chart ``height_cm`` high anchored at ``row`` reaches (a row without a height
    taken at ``ROW_PT``, so the answer is never short of the chart's end)."""
    need = height_cm / 2.54 * 72  # points
    while need > 0:
        need -= sh.row_heights.get(row, ROW_PT)
        row += 1
    return row - 1


def _examiners(cons: Consolidation) -> Sheet:
    sh = Sheet("评审员", freeze="A4")
    sh.put("A1", "评审员宽严度（仅供参考）", "title")
    sh.put(
        "A2",
        "平均偏差 = 该评审员得分率与同组评审中位数之差的平均（百分点）；正值偏宽，负值偏严。仅统计至少两名评审员评分的条目。",
        "subtitle_wrap",
    )
    sh.merges.append("A2:F2")  # wrapped within the table's width: printed whole, not cut at its edge
    sh.row_heights[2] = 30
    headers = ["评审员编号", "评审员", "评分表数", "已评条目", "平均偏差（百分点）", "平均绝对偏差"]
    for j, h in enumerate(headers, start=1):
        sh.put(f"{column_letter(j)}3", h, "header")
    sh.col_widths = {"A": 12, "B": 14, "C": 10, "D": 10, "E": 16, "F": 14}
    for i, (_, e) in enumerate(cons.examiners.iterrows()):
        r = 4 + i
        sh.put(f"A{r}", cell_text(str(e["examiner_id"])), "plain")
        sh.put(f"B{r}", cell_text(str(e["examiner_name"])), "plain")
        sh.put(f"C{r}", int(e["files"]), "int")
        sh.put(f"D{r}", int(e["units_scored"]), "int")
        sh.put(f"E{r}", _num(e["mean_deviation"]), "num")
        sh.put(f"F{r}", _num(e["mean_abs_deviation"]), "num")
    frame = cons.category_agreement
    r = 4 + len(cons.examiners) + 2
    sh.put(
        f"A{r}",
        "评审组一致性（组内相关系数 ICC(2,1)：双向随机、绝对一致、单人；Krippendorff α：区间尺度）",
        "header",
    )
    sh.merges.append(f"A{r}:F{r}")
    r += 1
    sh.put(
        f"A{r}",
        "读法（Koo & Li 2016）：<0.5 差，0.5–0.75 中等，0.75–0.9 良好，>0.9 优秀。各申报方的 ICC 见总览；"
        "类别的 ICC 为其各评审组的中位数（括号内为最低–最高），α 合并该类别全部评分单元计算。",
        "subtitle_wrap",
    )
    sh.merges.append(f"A{r}:F{r}")
    sh.row_heights[r] = 30
    r += 1
    for j, h in enumerate(
        ("奖项类别", "评审阶段", "评审组数", "ICC(2,1) 中位数", "（最低–最高）", "α / 一致性"), start=1
    ):
        sh.put(f"{column_letter(j)}{r}", h, "header")
    r += 1
    for row in [] if frame is None else frame.to_dict("records"):
        std = builtin_standard(row["award_category"])
        low, high = row["icc21_min"], row["icc21_max"]
        alpha = row["alpha"]
        sh.put(f"A{r}", std.name_zh, "plain")
        sh.put(f"B{r}", row["stage"], "plain")
        sh.put(f"C{r}", int(row["panels"]), "int")
        sh.put(f"D{r}", _num(row["icc21_median"]), "num3")
        sh.put(f"E{r}", "" if low is None else f"{low:.2f}–{high:.2f}", "center")
        sh.put(f"F{r}", f"{'' if alpha is None else f'{alpha:.3f} / '}{row['reading_zh']}", "center")
        r += 1
    return sh


def _returns(cons: Consolidation) -> Sheet:
    sh = Sheet("回收情况", freeze="A4", print_title_rows="3:3")
    sh.put("A1", "评分表回收情况", "title")
    c = cons.counts()
    sh.put("A2", "；".join(f"{STATUS_ZH[k]} {c[k]}" for k in STATUS_ZH), "subtitle")
    headers = [
        "状态",
        "文件",
        "发放编号",
        "年度",
        "奖项类别",
        "评审阶段",
        "申报编号",
        "申报组织/项目",
        "评审员编号",
        "评审员",
        "原因（工作表!单元格）",
    ]
    for j, h in enumerate(headers, start=1):
        sh.put(f"{column_letter(j)}3", h, "header")
    sh.col_widths = dict(zip("ABCDEFGHIJK", [14, 40, 14, 7, 10, 10, 10, 20, 10, 10, 70], strict=True))
    order = {"rejected": 0, "duplicate": 1, "missing": 2, "incomplete": 3, "accepted": 4, "skipped": 5}
    sh.cells = chain(
        sh.cells, _returns_rows(cons, sh, sorted(cons.returns, key=lambda x: (order[x.status], x.file)))
    )
    sh.rows_in_order = True  # one row per file: streamed to the writer, not held
    return sh


def _returns_rows(cons: Consolidation, sh: Sheet, records: list) -> Iterator[Cell]:
    for i, rec in enumerate(records):
        r = 4 + i
        award = (
            builtin_standard(rec.award_category).name_zh
            if rec.award_category in AWARD_IDS
            else rec.award_category
        )
        values = [
            STATUS_ZH[rec.status],
            rec.file,
            rec.issue_id[:12],
            rec.year,
            award,
            rec.stage,
            rec.applicant_id,
            rec.applicant_name,
            rec.examiner_id,
            rec.examiner_name,
            rec.reasons,
        ]
        sh.row_heights[r] = min(
            409.0, max(18.0, 14.0 * (rec.reasons.count("\n") + 1 + len(rec.reasons) // 45))
        )
        for j, v in enumerate(values, start=1):
            style = "bad" if rec.status in ("rejected", "duplicate", "missing") and j in (1, 11) else "text"
            yield Cell(f"{column_letter(j)}{r}", split_for_cells(cell_text(str(v)))[0], style)


def _sources(cons: Consolidation) -> Sheet:
    sh = Sheet("来源", freeze="A4")
    sh.put("A1", "来源文件（原始评审资料存档核对用）", "title")
    sh.put("A2", f"返回文件夹：{cell_text(cons.returns_dir)}", "subtitle")
    headers = ["文件", "SHA-256", "大小（字节）", "发放编号", "读取时间", "状态"]
    for j, h in enumerate(headers, start=1):
        sh.put(f"{column_letter(j)}3", h, "header")
    sh.col_widths = {"A": 50, "B": 68, "C": 12, "D": 34, "E": 22, "F": 14}
    rows = sorted((rec for rec in cons.returns if rec.status not in ("missing",)), key=lambda x: x.file)
    sh.cells = chain(
        sh.cells,
        (
            Cell(f"{column_letter(j)}{4 + i}", cell_text(v) if isinstance(v, str) else v, "plain")
            for i, rec in enumerate(rows)
            for j, v in enumerate(
                [rec.file, rec.sha256, rec.size, rec.issue_id, rec.read_at, STATUS_ZH[rec.status]], start=1
            )
        ),
    )
    sh.rows_in_order = True  # one row per file: streamed to the writer, not held
    return sh


def _about(cons: Consolidation) -> Sheet:
    sh = Sheet("说明")
    sh.col_widths = {"A": 24, "B": 80}
    sh.put("A1", "汇总说明", "title")
    rows = [
        ("生成时间", cons.created_at),
        ("返回文件夹", cell_text(cons.returns_dir)),
        (
            "分歧标记",
            f"区间相差 ≥ {cons.thresholds.bands_apart} 档，或得分极差 ≥ {cons.thresholds.range_points:g} 分",
        ),
        (
            "建议共识%",
            "各评审员得分率的中位数，取最近的 5 的倍数（x.5 向上取整）；共识表中共识得分率的默认值",
        ),
        (
            "共识在哪里填写",
            "consensus 文件夹中每个申报方一份共识表：共识得分率、理由、优势、改进机会、关键主题与组长签认；本汇总表不可填写共识，二者不会不一致",
        ),
        ("未完成", "空白条目视为未评分，不按 0 分计算；未完成评分表的总分显示“未完成”"),
        ("评审员宽严度", "仅供参考，不用于调整分数"),
    ]
    for i, (k, v) in enumerate(rows, start=3):
        sh.put(f"A{i}", k, "cat")
        sh.put(f"B{i}", v, "text")
    return sh

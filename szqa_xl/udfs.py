"""Excel functions (UDFs) and button macros of the secretariat workbook, via xlwings.

Every UDF is thin: parse the cells (:mod:`szqa_xl.excel.converters`), call one core function,
format the result.  A UDF never raises into Excel: bad input gives a text starting with
"错误：", an unfinished score sheet gives "未完成（已评 n/m）" rather than a low total.

Import on Windows with the xlwings.conf sheet's ``UDF Modules = szqa_xl.udfs`` and
"Import Functions".  The workbook's 运行 button does not need this module: it runs
``szqa_secretariat.main()`` through the template's ``SampleCall``.  The ``macro_*`` subs below
are the same steps for Alt+F8 once the functions are imported (they then appear in the
generated ``xlwings_udfs`` VBA module).

On Linux and macOS the xlwings decorators are no-ops, so this module imports and its
functions can be called (and tested) as plain Python.  Only the BSD-licensed part of
xlwings is used.  UDF parameters carry no type hints on purpose: xlwings would take
them as converters.
"""

from __future__ import annotations

import xlwings as xw

from szqa_xl.excel.converters import (
    CELL,
    DEFAULT_AWARD,
    FUNCTION_CATEGORY,
    RANGE_2D,
    InputError,
    check_on_grid,
    error_text,
    incomplete_text,
    parse_award,
    parse_bool,
    parse_kind,
    parse_path,
    parse_year,
    pct_value,
    pct_values,
    points_values,
    table,
)
from szqa_xl.standards import grid

# -- UDFs -----------------------------------------------------------------------------


@xw.func(category=FUNCTION_CATEGORY)
@xw.arg("points", doc="各评分单元的分值（如 D3:D20）", **RANGE_2D)
@xw.arg("pcts", doc="同样大小的得分率区域（如 E3:E20），整数百分比", **RANGE_2D)
@xw.arg("award", doc="可选：奖项类别（如 经济类），只用于网格步长", **CELL)
def szqa_weighted_total(points, pcts, award=None):
    """加权总分：Σ 分值 × 得分率 / 100。有空白得分率时返回“未完成（已评 n/m）”。"""
    try:
        std = parse_award(award, default=DEFAULT_AWARD)
        pts = points_values(points)
        pc = pct_values(pcts)
        if len(pts) != len(pc):
            raise InputError(f"分值区域有 {len(pts)} 格，得分率区域有 {len(pc)} 格，应一样大")
        check_on_grid(std, pc)
        rows = [
            (i, p, q)
            for i, (p, q) in enumerate(zip(pts, pc, strict=True), start=1)
            if p is not None or q is not None
        ]
        for i, p, q in rows:
            if p is None:
                raise InputError(f"第{i}格有得分率 {q:g} 但没有分值")
        scored = [(p, q) for _, p, q in rows if q is not None]
        if not rows:
            raise InputError("没有评分单元（分值区域为空）")
        if len(scored) < len(rows):
            return incomplete_text(len(scored), len(rows))
        return round(sum(grid.unit_score(p, q) for p, q in scored), 6)
    except Exception as exc:
        return error_text(exc)


@xw.func(category=FUNCTION_CATEGORY)
@xw.arg("pct", doc="得分率（整数百分比，如 65 或 65%）", **CELL)
@xw.arg("award", doc="奖项类别（如 经济类、文化类 或 economic）", **CELL)
@xw.arg("kind", doc="评分指南：过程 或 结果", **CELL)
@xw.arg("all_bands", doc="可选：TRUE 时在共享边界（如 20）列出两个区间", **CELL)
def szqa_band(pct, award, kind, all_bands=False):
    """得分率所在的评分区间（与评分表下拉框中的文字相同）；共享边界取较低区间。"""
    try:
        std = parse_award(award)
        k = parse_kind(kind)
        p = pct_value(pct)
        if p is None:
            return ""
        check_on_grid(std, [p])
        bands = std.guide(k).bands
        if parse_bool(all_bands, "all_bands"):
            return " / ".join(grid.band_label(bands[i]) for i in grid.bands_of_pct(std, k, p))
        i = grid.band_of_pct(std, k, p)
        if i is None:
            raise InputError(f"得分率 {p:g} 不在任何区间内")
        return grid.band_label(bands[i])
    except Exception as exc:
        return error_text(exc)


@xw.func(category=FUNCTION_CATEGORY)
@xw.arg("pcts", doc="一行评审员得分率（如 E3:I3），空白表示未评", **RANGE_2D)
@xw.arg("award", doc="可选：奖项类别，只用于网格步长", **CELL)
def szqa_consensus(pcts, award=None):
    """默认共识得分率：各评审员得分率的中位数，取到最近的网格值（62.5 → 65）。"""
    try:
        std = parse_award(award, default=DEFAULT_AWARD)
        values = pct_values(pcts)
        check_on_grid(std, values)
        scored = [v for v in values if v is not None]
        if not scored:
            return "无评分"
        return grid.consensus(scored, std.grid_step)
    except Exception as exc:
        return error_text(exc)


@xw.func(category=FUNCTION_CATEGORY)
@xw.arg("pcts", doc="一行评审员得分率（如 E3:I3），空白表示未评", **RANGE_2D)
@xw.arg("award", doc="奖项类别（如 经济类）", **CELL)
@xw.arg("kind", doc="评分指南：过程 或 结果", **CELL)
def szqa_spread(pcts, award, kind):
    """评审员分歧：最低与最高得分率相隔几个区间（0 = 同一区间）。"""
    try:
        std = parse_award(award)
        k = parse_kind(kind)
        values = pct_values(pcts)
        check_on_grid(std, values)
        return grid.spread_in_bands(std, k, [v for v in values if v is not None])
    except Exception as exc:
        return error_text(exc)


@xw.func(category=FUNCTION_CATEGORY)
@xw.arg("returns_dir", doc="回收文件夹（完整路径）", **CELL)
@xw.arg("manifest", doc="可选：发放清单 manifest.csv", **CELL)
@xw.arg("award_year", doc="可选：评审年度", **CELL)
@xw.arg("refresh", doc="可选：改变此值即重新读取文件夹", **CELL)
@xw.arg("base_dir", doc="可选：相对路径的起点（工作簿所在文件夹）", **CELL)
def szqa_consolidate(returns_dir, manifest=None, award_year=None, refresh=None, base_dir=None):
    """回收文件汇总：与 szqa consolidate 写出的 scores.csv 相同的表（动态数组，自动溢出）。"""
    del refresh  # only there so that changing it makes Excel call the function again
    try:
        folder = parse_path(returns_dir, "回收文件夹", base_dir)
        if folder is None:
            return "请在「控制」表填写回收文件夹"
        if not folder.is_dir():
            raise InputError(f"回收文件夹不存在：{folder}")
        mf = parse_path(manifest, "发放清单", base_dir)
        if mf is not None and not mf.is_file():
            raise InputError(f"发放清单不存在：{mf}")
        from szqa_xl.consolidation import batch

        # each file is read in an isolated worker (time and memory bounded), never in Excel's Python process
        cons = batch.consolidate_dir(folder, manifest=mf, year=parse_year(award_year), workers=1)
        tidy = cons.tidy[batch.SCORES_CSV_COLUMNS]
        return table(batch.SCORES_CSV_COLUMNS, tidy.itertuples(index=False))
    except Exception as exc:
        return error_text(exc)


# -- macros (Alt+F8 after Import Functions; the 运行 button runs szqa_secretariat.main) --------


@xw.sub
def macro_generate():
    """「生成评分表」：按「控制」表的名单、年度、阶段生成评分表和发放清单。"""
    _run_macro("generate")


@xw.sub
def macro_consolidate():
    """「汇总回收文件」：读取回收文件夹，写出 consolidated.xlsx 和 scores.csv。"""
    _run_macro("consolidate")


@xw.sub
def macro_open_output():
    """「打开输出文件夹」。"""
    _run_macro("open_output")


def _run_macro(action: str) -> None:
    """One step for the calling workbook, read from and reported on its 控制 sheet."""
    from szqa_xl.excel import secretariat

    secretariat.run_in_book(xw.Book.caller(), action)


__all__ = [
    "macro_consolidate",
    "macro_generate",
    "macro_open_output",
    "szqa_band",
    "szqa_consensus",
    "szqa_consolidate",
    "szqa_spread",
    "szqa_weighted_total",
]

"""The only module that writes .xlsx files: renders a :mod:`plan` through XlsxWriter's public API.

Every part of the package — cells, styles, merges, columns, rows, validations,
conditional formats, charts, defined names, protection, page setup, properties
— is written by XlsxWriter.  The one thing it does not offer, workbook structure
protection (its maintainer declined the feature), is added afterwards in
:func:`lock_structure`: one element put into ``xl/workbook.xml`` through a real
XML parser, the rest of the package copied unchanged.

Large plans (``Workbook.large``) are written in XlsxWriter's ``constant_memory``
mode: a sheet's rows are written in order and flushed, so memory does not grow
with the number of rows.  In that mode a row once left cannot be written again,
so cells are sorted by position, row heights are set as their row is reached,
and a merge must lie within one row (a longer one is refused as a planning bug
rather than losing cells).  In that mode XlsxWriter also keeps one temporary file
open per worksheet until the package is assembled: :func:`room_for_open_files`
makes sure the process may hold that many (Linux's usual limit is 1,024, and a
consolidated workbook of 2,000 applicants needs more).
"""

from __future__ import annotations

import datetime
import gc
import io
import math
import os
import re
import shutil
import tempfile
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from xml.etree import ElementTree as ET

import xlsxwriter
from xlsxwriter.utility import quote_sheetname, xl_cell_to_rowcol, xl_range_abs

from szqa_xl.xlsx.atomic import atomic_path
from szqa_xl.xlsx.plan import PX_PER_CM, Sheet, Style, Validation, Workbook, column_index, split_ref
from szqa_xl.xlsx.plan import Cell as PlanCell
from szqa_xl.xlsx.plan import Chart as PlanChart
from szqa_xl.xlsx.textsafe import cell_text

FONT_NAME = "等线"
BORDER_COLOR = "#A6A6A6"
FOOTER = "&C&A 第 &P 页 / 共 &N 页"
TEXT_LIMIT = 32767
PAPER = {"A4": 9, "A3": 8}
"""XlsxWriter's paper codes (ECMA-376 Part 1, 18.3.1.64 pageSetup@paperSize)."""

_OPERATORS = {
    None: "between",
    "between": "between",
    "notBetween": "not between",
    "equal": "==",
    "notEqual": "!=",
    "greaterThan": ">",
    "lessThan": "<",
    "greaterThanOrEqual": ">=",
    "lessThanOrEqual": "<=",
}
_VALIDATE = {"list": "list", "textLength": "length", "date": "date", "whole": "integer", "decimal": "decimal"}


class WriteError(RuntimeError):
    """XlsxWriter refused part of a plan (a planning bug: nothing is ever dropped silently)."""


class OpenFilesLimit(OSError):
    """The system does not let this process hold the files a large workbook needs open at once
    (a limit of the environment, raised before anything is written)."""


def _files_open_now() -> int:
    """Descriptors this process holds (Linux and macOS list them; elsewhere a generous guess)."""
    for folder in ("/proc/self/fd", "/dev/fd"):
        try:
            return len(os.listdir(folder))
        except OSError:
            continue
    return 64


def room_for_open_files(count: int) -> None:
    """Let this process open ``count`` more files at once: the soft limit on open files is raised
    as far as needed (never above the hard limit, and never lowered; it stays raised, as it would
    after ``ulimit -n``).  OpenFilesLimit, naming both figures, when the hard limit is too low.
    Without POSIX resource limits (Windows: 8,192 files a process) nothing is changed."""
    try:
        import resource
    except ImportError:
        return
    need = _files_open_now() + count + 32  # a margin for what the process opens meanwhile
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= need:
        return
    if hard != resource.RLIM_INFINITY and hard < need:
        raise OpenFilesLimit(
            f"writing this workbook keeps a file open for each of its {count} worksheets, {need} open "
            f"files with those of this process; this system allows {hard} (`ulimit -Hn`): raise that "
            "limit and run again"
        )
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
    except (OSError, ValueError) as exc:
        raise OpenFilesLimit(
            f"writing this workbook keeps a file open for each of its {count} worksheets; this process "
            f"may open {soft} files (`ulimit -n`) and could not raise that to {need}: {exc}"
        ) from None


def _format_options(style: Style) -> dict:
    opts: dict = {
        "font_name": FONT_NAME,
        "font_size": style.size,
        "valign": "vcenter" if style.valign == "center" else style.valign,
        "locked": style.locked,
    }
    if style.bold:
        opts["bold"] = True
    if style.italic:
        opts["italic"] = True
    if style.color:
        opts["font_color"] = "#" + style.color
    if style.fill:
        opts.update(pattern=1, bg_color="#" + style.fill)
    if style.wrap:
        opts["text_wrap"] = True
    if style.halign:
        opts["align"] = style.halign
    if style.border:
        opts.update(border=1, border_color=BORDER_COLOR)
    if style.number_format:
        opts["num_format"] = style.number_format
    return opts


def _check(code: int | None, what: str) -> None:
    if code not in (None, 0):
        raise WriteError(f"XlsxWriter refused {what} (code {code})")


def _write_cell(ws, row: int, col: int, cell: PlanCell, fmt) -> None:
    """One planned cell through XlsxWriter; WriteError naming the cell if it refuses it.

    Runs once per cell of every workbook: the cell's name is put into words only
    when something is refused.
    """
    value = cell.value
    code: int | None = None
    if isinstance(value, str):
        if cell.formula:
            if cell.array:
                code = ws.write_dynamic_array_formula(row, col, row, col, value, fmt, "")
            else:
                code = ws.write_formula(row, col, value, fmt, "")
            what = "the formula"
        else:
            text = cell_text(value)  # never a formula or an error value from text
            if len(text) > TEXT_LIMIT:
                raise WriteError(
                    f"{ws.name}!{cell.ref}: {len(text)} characters, more than a cell holds ({TEXT_LIMIT})"
                )
            if text:
                code = ws.write_string(row, col, text, fmt)
                what = "the text"
            elif fmt is not None:
                ws.write_blank(row, col, None, fmt)
    elif value is None:
        if fmt is not None:
            ws.write_blank(row, col, None, fmt)
    elif isinstance(value, bool):
        ws.write_boolean(row, col, value, fmt)
    elif isinstance(value, (int, float)):
        if math.isnan(value) or math.isinf(value):
            if fmt is not None:
                ws.write_blank(row, col, None, fmt)
        else:
            ws.write_number(row, col, value, fmt)
    elif isinstance(value, (datetime.date, datetime.time, datetime.timedelta)):
        code = ws.write_datetime(row, col, value, fmt)
        what = "the date"
    else:
        raise TypeError(f"cannot write {type(value).__name__} to cell {ws.name}!{cell.ref}")
    if code:
        _check(code, f"{what} in {ws.name}!{cell.ref}")


def _ordered(sp: Sheet) -> Iterable[tuple[int, int, PlanCell]]:
    """(row, column, cell), 0-based, in row order; a streamed sheet is checked to come in that order."""
    if sp.rows_in_order:
        last = -1
        for cell in sp.cells:
            r, c = split_ref(cell.ref)
            if r - 1 < last:
                raise ValueError(
                    f"{sp.title}: cell {cell.ref} after row {last + 1} in a sheet planned in row order"
                )
            last = r - 1
            yield r - 1, c - 1, cell
        return
    placed = [(*split_ref(cell.ref), cell) for cell in sp.cells]
    placed.sort(key=lambda t: (t[0], t[1]))
    for r, c, cell in placed:
        yield r - 1, c - 1, cell


COMMON_HEIGHT_ROWS = 16


def _common_height(heights: dict[int, float]) -> float | None:
    """The height most rows of a sheet share, to be the sheet's default row height, when every row
    from the first to the last planned one has a height (no row of the content changes; only the
    empty rows below it take that height) and at least ``COMMON_HEIGHT_ROWS`` rows share it.
    XlsxWriter keeps two objects for every row given a height, until the package is assembled:
    a consolidated workbook of 2,000 applicant sheets held 164,000 of them (~47 MiB)."""
    if len(heights) < COMMON_HEIGHT_ROWS or len(heights) != max(heights):
        return None
    height, rows = Counter(heights.values()).most_common(1)[0]
    return height if rows >= COMMON_HEIGHT_ROWS else None


def _sheet(wb, sp: Sheet, formats: dict, dxf: Callable, constant: bool, plain) -> None:
    ws = wb.add_worksheet(sp.title)
    for letter, width in sp.col_widths.items():
        c = column_index(letter) - 1
        ws.set_column(c, c, width, None, {"hidden": letter in sp.hidden_cols})
    for letter in sp.hidden_cols:
        if letter not in sp.col_widths:
            c = column_index(letter) - 1
            ws.set_column(c, c, None, None, {"hidden": True})
    merges: dict[tuple[int, int], tuple[int, int]] = {}
    covered: set[tuple[int, int]] = set()
    for m in sp.merges:
        a, _, b = m.partition(":")
        (r1, c1), (r2, c2) = split_ref(a), split_ref(b or a)
        if constant and r1 != r2:
            raise WriteError(f"{sp.title}: merge {m} spans rows, which constant_memory mode would lose")
        merges[(r1 - 1, c1 - 1)] = (r2 - 1, c2 - 1)
        covered.update((r - 1, c - 1) for r in range(r1, r2 + 1) for c in range(c1, c2 + 1))
    common = None if sp.rows_in_order else _common_height(sp.row_heights)
    if common is not None:
        ws.set_default_row(common)
    heights = sorted((r - 1, h) for r, h in sp.row_heights.items() if h != common)
    h = 0
    applied: dict[int, float] = {}
    reached = -1

    def rows_up_to(row: int) -> None:
        """Heights of the rows up to ``row``; a row before it has no cells (they come in order): in
        constant_memory mode XlsxWriter writes a row only with a cell, so it gets a plain blank one."""
        nonlocal h
        while h < len(heights) and heights[h][0] <= row:
            r, height = heights[h]
            ws.set_row(r, height)
            if constant and r < row:
                ws.write_blank(r, 0, None, plain)
            h += 1

    def streamed_rows_up_to(row: int) -> None:
        """The same for a streamed sheet, whose planner sets each row's height as it yields the row:
        looked up as each row is reached, never from a copy taken before the cells were planned."""
        nonlocal reached
        for r in range(reached + 1, row + 1) if row < 1 << 30 else ():
            height = sp.row_heights.get(r + 1)
            if height is not None:
                ws.set_row(r, height)
                applied[r] = height
                if constant and r < row:
                    ws.write_blank(r, 0, None, plain)
        if row < 1 << 30:
            reached = max(reached, row)
            height = sp.row_heights.get(row + 1)
            if height is not None and applied.get(row) != height:  # set after the row's first cell
                ws.set_row(row, height)
                applied[row] = height
            return
        for r1, height in sorted(sp.row_heights.items()):  # the end: rows below the last cell, and
            r = r1 - 1  # any height set after its row was passed (lost in constant_memory mode)
            if applied.get(r) == height:
                continue
            if constant and r < reached:
                raise WriteError(f"{sp.title}: height of row {r1} set after the row was written")
            ws.set_row(r, height)
            if constant and r > reached:
                ws.write_blank(r, 0, None, plain)

    if sp.rows_in_order:
        rows_up_to = streamed_rows_up_to
    for row, col, cell in _ordered(sp):
        rows_up_to(row)
        fmt = formats.get(cell.style)
        end = merges.pop((row, col), None)
        if end is not None:  # XlsxWriter's way: the range with its format, then the value in its first cell
            _check(ws.merge_range(row, col, end[0], end[1], "", fmt), f"the merge at {sp.title}!{cell.ref}")
        elif (row, col) in covered:
            continue  # merge_range has written the covered cells with the merge's format
        _write_cell(ws, row, col, cell, fmt)
    rows_up_to(1 << 30)
    for (row, _col), _end in merges.items():  # a merge whose first cell the plan left out
        raise WriteError(f"{sp.title}: merge at row {row + 1} has no planned first cell")
    for v in sp.validations:
        _validation(ws, v)
    for cf in sp.cond_formats:
        first, *rest = cf.sqref.replace("$", "").split()
        opts = {"type": "formula", "criteria": "=" + cf.formula, "format": dxf(cf.fill, cf.font_color)}
        if rest:
            opts["multi_range"] = cf.sqref
        _check(ws.conditional_format(first, opts), f"a conditional format on {sp.title}!{cf.sqref}")
    for ch in sp.charts:
        ws.insert_chart(ch.anchor, _chart(wb, ch))
    for b in sp.buttons:
        opts = {"caption": b.caption, "macro": b.macro, "width": b.width_px, "height": b.height_px}
        _check(ws.insert_button(b.cell, opts), f"the button at {sp.title}!{b.cell}")
    if sp.vba_name:
        ws.set_vba_name(sp.vba_name)
    if sp.freeze:
        ws.freeze_panes(sp.freeze)
    if sp.state == "hidden":
        ws.hide()
    elif sp.state == "veryHidden":
        ws.very_hidden()
    if sp.tab_color:
        ws.set_tab_color("#" + sp.tab_color)
    ws.set_paper(PAPER[sp.paper])
    if sp.landscape:
        ws.set_landscape()
    else:
        ws.set_portrait()
    if sp.fit_width:
        ws.fit_to_pages(1, 0)
    ws.set_margins(left=0.4, right=0.4, top=0.5, bottom=0.5)
    if sp.print_title_rows:
        first, _, last = sp.print_title_rows.partition(":")
        ws.repeat_rows(int(first) - 1, int(last or first) - 1)
    if sp.print_areas:
        _print_areas(wb, ws, sp)
    ws.set_footer(FOOTER)
    if sp.protect:
        ws.protect(
            "",
            {
                "format_columns": True,
                "format_rows": True,
                "select_locked_cells": True,
                "select_unlocked_cells": True,
            },
        )
    return ws


def _validation(ws, v: Validation) -> None:
    first, *rest = v.sqref.replace("$", "").split()
    opts: dict = {
        "validate": _VALIDATE[v.kind],
        "ignore_blank": v.allow_blank,
        "show_input": bool(v.prompt),
        "show_error": v.show_error,
        "error_type": "stop",
        "error_title": v.error_title,
        "error_message": v.error,
    }
    if v.prompt_title:
        opts["input_title"] = v.prompt_title
    if v.prompt:
        opts["input_message"] = v.prompt
    if v.kind == "list":
        opts["source"] = v.formula1 if v.formula1.startswith('"') else "=" + v.formula1
        if v.formula1.startswith('"'):
            opts["source"] = v.formula1.strip('"').split(",")
    else:
        opts["criteria"] = _OPERATORS[v.operator]
        one = _operand(v.formula1)
        if v.formula2 is not None:
            opts["minimum"], opts["maximum"] = one, _operand(v.formula2)
        else:
            opts["value"] = one
    if rest:
        opts["multi_range"] = v.sqref.replace("$", "")
    _check(ws.data_validation(first, opts), f"the validation of {ws.name}!{v.sqref}")


def _operand(text: str) -> object:
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return "=" + text


_SHEET_REF = re.compile(r"^(?:'((?:[^']|'')+)'|([^!]+))!(.+)$")


def _print_areas(wb, ws, sp: Sheet) -> None:
    """The sheet's print areas. Several are one defined name listing them, as Excel itself writes
    them (`_xlnm.Print_Area`, ECMA-376 Part 1, 18.2.5); Excel and LibreOffice print each on pages of
    its own. XlsxWriter's ``print_area`` takes one range only."""
    bounds = []
    for area in sp.print_areas:
        a, _, b = area.replace("$", "").partition(":")
        (r1, c1), (r2, c2) = split_ref(a), split_ref(b or a)
        bounds.append((r1 - 1, c1 - 1, r2 - 1, c2 - 1))
    if len(bounds) == 1:
        _check(ws.print_area(*bounds[0]), f"the print area of {sp.title}")
        return
    if "!" in sp.title:  # define_name reads "sheet!name" with one "!"
        raise WriteError(f"{sp.title}: a sheet with several print areas cannot have '!' in its name")
    sheet = quote_sheetname(sp.title)
    refs = ",".join(f"{sheet}!{xl_range_abs(*b)}" for b in bounds)
    # define_name takes the sheet's name between plain quotes (it strips them, nothing more)
    _check(wb.define_name(f"'{sp.title}'!_xlnm.Print_Area", refs), f"the print areas of {sp.title}")


def _ref_parts(ref: str) -> tuple[str, int, int, int, int]:
    """ "'Sheet'!$B$1:$D$9" -> ('Sheet', 0, 1, 8, 3)."""
    m = _SHEET_REF.match(ref)
    if m is None:
        raise ValueError(f"bad chart reference {ref!r}")
    sheet = (m.group(1) or "").replace("''", "'") or m.group(2)
    a, _, b = m.group(3).replace("$", "").partition(":")
    r1, c1 = xl_cell_to_rowcol(a)
    r2, c2 = xl_cell_to_rowcol(b or a)
    return sheet, r1, c1, r2, c2


def _chart(wb, ch: PlanChart):
    chart = wb.add_chart({"type": "bar" if ch.kind == "bar" else "column"})
    sheet, r1, c1, r2, c2 = _ref_parts(ch.data_ref)
    cat_sheet, cr1, cc1, cr2, cc2 = _ref_parts(ch.cats_ref)
    for col in range(c1, c2 + 1):
        chart.add_series(
            {
                "name": [sheet, r1, col],
                "categories": [cat_sheet, cr1, cc1, cr2, cc2],
                "values": [sheet, r1 + 1, col, r2, col],
            }
        )
    chart.set_title({"name": ch.title})
    value_axis: dict = {"min": 0}
    if ch.y_max is not None:
        value_axis["max"] = ch.y_max
    if ch.y_title:
        value_axis["name"] = ch.y_title
    (chart.set_x_axis if ch.kind == "bar" else chart.set_y_axis)(value_axis)
    if c1 == c2:
        chart.set_legend({"none": True})
    chart.set_size({"width": round(ch.width_cm * PX_PER_CM), "height": round(ch.height_cm * PX_PER_CM)})
    return chart


def write(
    plan: Workbook, path: Path | str, workers: int = 1, sheets_done: Callable[[], None] | None = None
) -> None:
    """Write the plan to ``path`` as is (callers that manage atomicity themselves).

    Sheets are planned one by one (a :class:`SheetStream` is read once), so a
    lazily planned workbook is never held whole; with ``Workbook.large`` each
    sheet's rows are flushed as they are written.  ``sheets_done`` is called once
    every sheet is planned, before the package is assembled (a caller may start
    other work meanwhile).  ``workers`` is accepted for callers that share it
    with other steps; one workbook is written by one process.
    """
    del workers
    path = Path(path)
    if plan.large:
        room_for_open_files(len(plan.sheets))
    with tempfile.TemporaryDirectory(prefix="szqa-xl-") as tmp:
        options = {
            "constant_memory": plan.large,
            # a small workbook is assembled in memory: no temporary file per part (~4 ms a workbook)
            "in_memory": not plan.large,
            "tmpdir": tmp,
            "strings_to_numbers": False,
            "strings_to_formulas": False,
            "strings_to_urls": False,
        }
        suffix = ".xlsm" if plan.vba_project else ".xlsx"  # XlsxWriter names the package by its extension
        target = Path(tmp) / f"book{suffix}" if plan.lock_structure or plan.vba_project else path
        wb = xlsxwriter.Workbook(str(target), options)
        if plan.vba_project:
            _check(wb.add_vba_project(plan.vba_project), f"the VBA project {plan.vba_project}")
            wb.set_vba_name(plan.vba_name)
        formats = {name: wb.add_format(_format_options(style)) for name, style in plan.styles.items()}
        dxfs: dict = {}
        plain = wb.add_format()

        def dxf(fill: str, font: str | None):
            key = (fill, font)
            if key not in dxfs:
                opts = {"bg_color": "#" + fill}
                if font:
                    opts["font_color"] = "#" + font
                dxfs[key] = wb.add_format(opts)
            return dxfs[key]

        sheets = plan.sheets if isinstance(plan.sheets, list) else iter(plan.sheets)
        worksheets = []
        visible = []
        for i, sp in enumerate(sheets):
            worksheets.append(_sheet(wb, sp, formats, dxf, plan.large, plain))
            if sp.state == "visible":
                visible.append(i)
        for name, ref in plan.names.items():
            _check(wb.define_name(name, "=" + ref), f"the defined name {name}")
        properties = {"title": plan.title, "author": "szqa-xl"}
        if plan.created is not None:
            properties["created"] = plan.created
        wb.set_properties(properties)
        for key, value in plan.custom_properties.items():
            _check(wb.set_custom_property(key, value), f"the document property {key}")
        active = plan.active if plan.active in visible else visible[0]
        worksheets[active].activate()
        if sheets_done is not None:
            sheets_done()
        wb.close()
        if plan.lock_structure:
            lock_structure(target, path)
        elif target != path:
            shutil.move(target, path)
    if plan.large or len(worksheets) > 50:
        # XlsxWriter's objects of a workbook of many sheets (a worksheet per applicant) reference each
        # other: freed by the cycle collector, which may run much later.  Collected now, their memory
        # is reused by what comes next (measured at 10,000 returns: a peak of 518 MiB becomes 431 MiB).
        del wb, worksheets
        gc.collect()


MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_BEFORE_PROTECTION = {f"{{{MAIN_NS}}}{t}" for t in ("fileVersion", "fileSharing", "workbookPr")}


def lock_structure(src: Path, dst: Path) -> None:
    """Copy the package ``src`` to ``dst`` with ``<workbookProtection lockStructure="1"/>`` in its workbook.

    XlsxWriter has no workbook structure protection.  The element goes where
    ECMA-376 puts it in ``CT_Workbook`` (after ``fileVersion``, ``fileSharing``,
    ``workbookPr``); the part is parsed and re-serialised by ElementTree with the
    namespaces XlsxWriter declares; every other part is copied byte for byte.
    """
    with zipfile.ZipFile(src) as zin:
        xml = zin.read("xl/workbook.xml")
        for _event, (prefix, uri) in ET.iterparse(io.BytesIO(xml), events=("start-ns",)):
            ET.register_namespace(prefix, uri)  # keep XlsxWriter's prefixes (the default one and r:)
        root = ET.fromstring(xml)
        at = 0
        for i, child in enumerate(root):
            if child.tag in _BEFORE_PROTECTION:
                at = i + 1
        root.insert(at, ET.Element(f"{{{MAIN_NS}}}workbookProtection", {"lockStructure": "1"}))
        new = ET.tostring(root, encoding="UTF-8", xml_declaration=True)
        with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
            for info in zin.infolist():
                data = new if info.filename == "xl/workbook.xml" else zin.read(info)
                zout.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)


def render(plan: Workbook, path: Path | str) -> Path:
    """Write the plan to ``path`` atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        write(plan, tmp)
    return path

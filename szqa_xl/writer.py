"""The only module that writes .xlsx files: renders a :mod:`plan` with openpyxl."""

from __future__ import annotations

from copy import copy
from pathlib import Path

from openpyxl import Workbook as XLWorkbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.chart import BarChart, Reference
from openpyxl.formatting.rule import FormulaRule
from openpyxl.styles import Alignment, Border, Font, PatternFill, Protection, Side
from openpyxl.utils.cell import column_index_from_string, coordinate_from_string
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.workbook.protection import WorkbookProtection
from openpyxl.worksheet.cell_range import CellRange, MultiCellRange
from openpyxl.worksheet.datavalidation import DataValidation

from .atomic import atomic_path
from .plan import Style, Workbook
from .textsafe import cell_text

FONT_NAME = "等线"
_THIN = Side(style="thin", color="A6A6A6")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)


def _style_parts(style: Style) -> dict:
    return {
        "font": Font(
            name=FONT_NAME, bold=style.bold, italic=style.italic, size=style.size, color=style.color
        ),
        "fill": PatternFill("solid", fgColor=style.fill) if style.fill else PatternFill(),
        "alignment": Alignment(wrap_text=style.wrap, horizontal=style.halign, vertical=style.valign),
        "border": _BORDER if style.border else Border(),
        "protection": Protection(locked=style.locked),
        "number_format": style.number_format or "General",
    }


def _ref_range(ref: str):
    """'Sheet'!$A$1:$B$2 -> (sheet, 'A1:B2')."""
    sheet, cells = ref.rsplit("!", 1)
    return sheet.strip("'"), cells.replace("$", "")


def _split(ref: str) -> tuple[int, int]:
    """'AB12' -> (12, 28)."""
    col, row = coordinate_from_string(ref)
    return row, column_index_from_string(col)


def _placed_cells(row: list[tuple[int, WriteOnlyCell]], row_idx: int):
    """Rows appended by :func:`build` are (column, cell) pairs already holding value and style."""
    for col, cell in row:
        cell.column, cell.row = col, row_idx
        yield cell


def build(plan: Workbook) -> XLWorkbook:
    """An openpyxl workbook from a plan (not saved).

    Write-only mode: rows are streamed to the file as they are appended, so
    memory does not grow with the size of the workbook, and each style is
    resolved once and copied as a StyleArray rather than re-registered per cell.
    """
    wb = XLWorkbook(write_only=True)
    style_cache: dict[str, object] = {}

    def styled(ws, name: str):
        if name not in style_cache:
            probe = WriteOnlyCell(ws)
            p = _style_parts(plan.styles[name])
            probe.font, probe.fill, probe.alignment = p["font"], p["fill"], p["alignment"]
            probe.border, probe.protection, probe.number_format = (
                p["border"],
                p["protection"],
                p["number_format"],
            )
            style_cache[name] = probe._style
        return style_cache[name]

    sheets = {sp.title: wb.create_sheet(sp.title) for sp in plan.sheets}
    for sp in plan.sheets:
        ws = sheets[sp.title]
        grid: dict[int, dict[int, object]] = {}
        for cell in sp.cells:
            row, col = _split(cell.ref)
            c = WriteOnlyCell(ws)
            value = cell.value
            if isinstance(value, str):
                if cell.formula:
                    c._value, c.data_type = value, "f"
                else:  # never a formula or an error value from text
                    c._value, c.data_type = cell_text(value), "s"
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                c._value, c.data_type = value, "n"
            else:
                c.value = value
            if cell.style:
                c._style = copy(styled(ws, cell.style))
            grid.setdefault(row, {})[col] = c
        # Plan merges never overlap: register them at once (MultiCellRange.add is quadratic).
        ws.merged_cells = MultiCellRange([CellRange(rng) for rng in sp.merges])
        for col, width in sp.col_widths.items():
            ws.column_dimensions[col].width = width
        for col in sp.hidden_cols:
            ws.column_dimensions[col].hidden = True
        for row, height in sp.row_heights.items():
            ws.row_dimensions[row].height = height
        for v in sp.validations:
            dv = DataValidation(
                type=v.kind,
                formula1=v.formula1,
                formula2=v.formula2,
                operator=v.operator,
                allow_blank=v.allow_blank,
                showErrorMessage=True,
                showInputMessage=bool(v.prompt),
                errorStyle="stop",
                errorTitle=v.error_title,
                error=v.error,
                promptTitle=v.prompt_title,
                prompt=v.prompt,
            )
            dv.add(v.sqref)
            ws.data_validations.append(dv)
        for cf in sp.cond_formats:
            font = Font(color=cf.font_color) if cf.font_color else None
            ws.conditional_formatting.add(
                cf.sqref,
                FormulaRule(formula=[cf.formula], fill=PatternFill("solid", bgColor=cf.fill), font=font),
            )
        for ch in sp.charts:
            chart = BarChart()
            chart.type = "bar" if ch.kind == "bar" else "col"
            chart.title = ch.title
            chart.width, chart.height = ch.width_cm, ch.height_cm
            if ch.y_title:
                chart.y_axis.title = ch.y_title
            dsheet, drange = _ref_range(ch.data_ref)
            csheet, crange = _ref_range(ch.cats_ref)
            data = Reference(sheets[dsheet], range_string=f"'{dsheet}'!{drange}")
            cats = Reference(sheets[csheet], range_string=f"'{csheet}'!{crange}")
            chart.add_data(data, titles_from_data=True)
            chart.set_categories(cats)
            ws.add_chart(chart, ch.anchor)
        if sp.freeze:
            ws.freeze_panes = sp.freeze
        ws.sheet_state = sp.state
        if sp.tab_color:
            ws.sheet_properties.tabColor = sp.tab_color
        ws.page_setup.paperSize = "9"  # A4
        ws.page_setup.orientation = "landscape" if sp.landscape else "portrait"
        if sp.fit_width:
            ws.sheet_properties.pageSetUpPr.fitToPage = True
            ws.page_setup.fitToWidth = 1
            ws.page_setup.fitToHeight = 0
        ws.page_margins.left = ws.page_margins.right = 0.4
        ws.page_margins.top = ws.page_margins.bottom = 0.5
        ws.print_options.gridLines = False
        if sp.print_title_rows:
            ws.print_title_rows = sp.print_title_rows
        ws.oddFooter.center.text = "&A 第 &P 页 / 共 &N 页"
        if sp.protect:
            ws.protection.sheet = True
            ws.protection.formatColumns = False
            ws.protection.formatRows = False
            ws.protection.selectLockedCells = False
            ws.protection.selectUnlockedCells = False
        ws._values_to_row = _placed_cells  # rows are already cells: skip openpyxl's re-wrapping
        for r in range(1, max(grid, default=0) + 1):
            ws.append(sorted(grid.get(r, {}).items()))
    for name, ref in plan.names.items():
        wb.defined_names[name] = DefinedName(name, attr_text=ref)
    if plan.lock_structure:
        wb.security = WorkbookProtection(lockStructure=True)
    wb.properties.title = plan.title
    wb.properties.creator = "szqa-xl"
    visible = [i for i, s in enumerate(plan.sheets) if s.state == "visible"]
    wb.active = plan.active if plan.active in visible else visible[0]
    return wb


def write(plan: Workbook, path: Path | str) -> None:
    """Write the plan to ``path`` as is (callers that manage atomicity themselves)."""
    build(plan).save(path)


def render(plan: Workbook, path: Path | str) -> Path:
    """Write the plan to ``path`` atomically."""
    path = Path(path)
    wb = build(plan)
    with atomic_path(path) as tmp:
        wb.save(tmp)
    return path

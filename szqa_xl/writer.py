"""The only module that writes .xlsx files: renders a :mod:`plan` with openpyxl plus a fast cell serialiser."""

from __future__ import annotations

import datetime
import math
import re
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple
from xml.sax.saxutils import escape

from openpyxl import Workbook as XLWorkbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.chart import BarChart, Reference
from openpyxl.chart import Series as SeriesFactory
from openpyxl.chart._chart import ChartBase
from openpyxl.styles import Alignment, Border, Font, PatternFill, Protection, Side
from openpyxl.styles.differential import DifferentialStyle
from openpyxl.utils.datetime import to_excel
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.workbook.protection import WorkbookProtection
from openpyxl.xml.functions import Element, fromstring, tostring

from .atomic import atomic_path
from .forking import can_fork, forked
from .plan import Cell as PlanCell
from .plan import Chart as PlanChart
from .plan import CondFormat, Sheet, SheetStream, Style, Workbook, column_index, split_ref
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


_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def _cell_xml(ref: str, cell: PlanCell, style_id: int) -> str:
    """One ``<c>`` element, in the form openpyxl writes it (inline strings, no shared-string table)."""
    s = f' s="{style_id}"' if style_id else ""
    value = cell.value
    kind = type(value)
    if kind is str:
        if cell.formula:
            return f'<c r="{ref}"{s}><f>{value[1:].translate(_ESCAPES)}</f><v></v></c>'
        text = cell_text(value)  # never a formula or an error value from text
        if not text:
            return f'<c r="{ref}"{s}/>'
        space = ' xml:space="preserve"' if text[0].isspace() or text[-1].isspace() else ""
        return f'<c r="{ref}"{s} t="inlineStr"><is><t{space}>{text.translate(_ESCAPES)}</t></is></c>'
    if value is None:
        return f'<c r="{ref}"{s}/>' if style_id else ""
    if kind is bool:
        return f'<c r="{ref}"{s} t="b"><v>{int(value)}</v></c>'
    if isinstance(value, (int, float)):  # bool is taken above
        if math.isnan(value) or math.isinf(value):
            return f'<c r="{ref}"{s}/>'
        return f'<c r="{ref}"{s} t="n"><v>{value:.16g}</v></c>'
    if isinstance(value, str):  # a str subclass
        return _cell_xml(ref, PlanCell(ref, str(value), cell.style, cell.formula), style_id)
    if isinstance(value, (datetime.date, datetime.time, datetime.timedelta)):
        return f'<c r="{ref}"{s} t="n"><v>{to_excel(value):.16g}</v></c>'
    raise TypeError(f"cannot write {type(value).__name__} to cell {ref}")


def _sheet_rows(sp: Sheet, style_id: Callable[[str | None], int]) -> Iterator[str]:
    """The ``<row>`` elements of a sheet's ``<sheetData>``, rows and cells in order.

    A sheet whose cells come in row order (``rows_in_order``, e.g. a generator
    over thousands of list rows) is streamed a row at a time, never held whole.
    """
    heights = sp.row_heights

    def row_xml(r: int, cells: list[tuple[int, str, PlanCell]]) -> str:
        ht = f' ht="{heights[r]:g}" customHeight="1"' if r in heights else ""
        body = "".join(
            _cell_xml(ref, c, style_id(c.style)) for _, ref, c in sorted(cells, key=lambda t: t[0])
        )
        return f'<row r="{r}"{ht}>{body}</row>' if body else f'<row r="{r}"{ht}/>'

    if sp.rows_in_order:
        current, pending = 0, []
        for cell in sp.cells:
            row, col = split_ref(cell.ref)
            if row != current and pending:
                if row < current:
                    raise ValueError(
                        f"{sp.title}: cell {cell.ref} after row {current} in a sheet planned in row order"
                    )
                yield row_xml(current, pending)
                pending = []
            current = row
            pending.append((col, cell.ref, cell))
        if pending:
            yield row_xml(current, pending)
        return
    rows: dict[int, list[tuple[int, str, PlanCell]]] = {}
    for cell in sp.cells:
        row, col = split_ref(cell.ref)
        rows.setdefault(row, []).append((col, cell.ref, cell))
    for r in sorted(rows.keys() | heights.keys()):
        yield row_xml(r, rows.get(r, []))


def _merge_xml(merges: list[str]) -> str:
    if not merges:
        return ""
    body = "".join(f'<mergeCell ref="{m}"/>' for m in merges)
    return f'<mergeCells count="{len(merges)}">{body}</mergeCells>'


_ATTR_ESCAPES = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#09;"}
)


def _range_xml(sqref: str) -> str:
    """A single cell or range as openpyxl normalises it: no $ signs, a one-cell range as the cell."""
    a, _, b = sqref.replace("$", "").partition(":")
    return a if not b or a == b else f"{a}:{b}"


def _cols_xml(sp: Sheet) -> str:
    """``<cols>`` as openpyxl writes it (a hidden column without a width gets openpyxl's default 13)."""
    letters = sorted(sp.col_widths.keys() | set(sp.hidden_cols), key=column_index)
    if not letters:
        return ""
    cols = []
    for letter in letters:
        n = column_index(letter)
        hidden = ' hidden="1"' if letter in sp.hidden_cols else ""
        width = sp.col_widths.get(letter, 13)
        cols.append(f'<col{hidden} width="{width:.16g}" customWidth="1" min="{n}" max="{n}" />')
    return f"<cols>{''.join(cols)}</cols>"


def _validations_xml(sp: Sheet) -> str:
    """``<dataValidations>`` as openpyxl writes it."""
    if not sp.validations:
        return ""
    out = []
    for v in sp.validations:
        attrs = [
            ("sqref", _range_xml(v.sqref)),
            ("showDropDown", "0"),
            ("showInputMessage", "1" if v.prompt else "0"),
            ("showErrorMessage", "1"),
            ("allowBlank", "1" if v.allow_blank else "0"),
            ("errorTitle", v.error_title),
            ("error", v.error),
            ("promptTitle", v.prompt_title),
            ("prompt", v.prompt),
            ("type", v.kind),
            ("errorStyle", "stop"),
            ("operator", v.operator),
        ]
        head = "".join(f' {k}="{str(val).translate(_ATTR_ESCAPES)}"' for k, val in attrs if val is not None)
        formulas = "".join(
            f"<{tag}>{f.translate(_ESCAPES)}</{tag}>"
            for tag, f in (("formula1", v.formula1), ("formula2", v.formula2))
            if f is not None
        )
        out.append(f"<dataValidation{head}>{formulas}</dataValidation>")
    return f'<dataValidations count="{len(out)}">{"".join(out)}</dataValidations>'


def _cond_formats_xml(sp: Sheet, dxf_id: Callable[[CondFormat], int]) -> str:
    """``<conditionalFormatting>`` elements as openpyxl writes them: rules grouped by range in order of
    first use, priorities counted over the sheet, each rule's look registered by ``dxf_id``."""
    groups: dict[str, list[str]] = {}
    for priority, cf in enumerate(sp.cond_formats, start=1):
        rule = (
            f'<cfRule type="expression" priority="{priority}" dxfId="{dxf_id(cf)}">'
            f"<formula>{cf.formula.translate(_ESCAPES)}</formula></cfRule>"
        )
        groups.setdefault(_range_xml(cf.sqref), []).append(rule)
    return "".join(
        f'<conditionalFormatting sqref="{sqref}">{"".join(rules)}</conditionalFormatting>'
        for sqref, rules in groups.items()
    )


def _skeleton(ws, sp: Sheet) -> None:
    """What openpyxl writes of a sheet: everything but its cells, merges, columns, validations and
    conditional formats (serialised here: openpyxl's objects for them cost milliseconds a sheet)."""
    for ch in sp.charts:
        ws.add_chart(_SerialisedChart(ch))
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


_CHART_REF = re.compile(r"(?<=<c:f>)[^<]*(?=</c:f>)")
_chart_templates: dict[tuple, list[str]] = {}
"""Chart XML split around its three references (series title, categories, values), per chart shape."""


def _chart_xml(ch: PlanChart) -> bytes:
    """The chart part's XML, as openpyxl writes it.

    openpyxl builds and serialises a chart in ~3 ms; a consolidated workbook has two
    per applicant sheet, all alike but for their references.  So each shape (kind,
    title, axis title) of one series is built by openpyxl once, and later charts of
    that shape get the references openpyxl's own series factory computes put into that XML.
    """
    data = Reference(range_string=ch.data_ref)
    if data.min_col != data.max_col:  # several series: built every time
        return _openpyxl_chart_xml(ch).encode("utf-8")
    series = SeriesFactory(data, title_from_data=True)
    refs = (series.tx.strRef.f, str(Reference(range_string=ch.cats_ref)), series.val.numRef.f)
    key = (ch.kind, ch.title, ch.y_title)
    pieces = _chart_templates.get(key)
    if pieces is None:
        xml = _openpyxl_chart_xml(ch)
        pieces = _CHART_REF.split(xml)
        if len(pieces) != 4 or _CHART_REF.findall(xml) != [escape(r) for r in refs]:
            raise RuntimeError(f"unexpected chart XML from openpyxl for {key}")
        _chart_templates[key] = pieces
    a, b, c, d = pieces
    return "".join((a, escape(refs[0]), b, escape(refs[1]), c, escape(refs[2]), d)).encode("utf-8")


def _openpyxl_chart_xml(ch: PlanChart) -> str:
    chart = BarChart()
    chart.type = "bar" if ch.kind == "bar" else "col"
    chart.title = ch.title
    if ch.y_title:
        chart.y_axis.title = ch.y_title
    chart.add_data(Reference(range_string=ch.data_ref), titles_from_data=True)
    chart.set_categories(Reference(range_string=ch.cats_ref))
    # re-read once so the chart namespace gets its usual "c:" prefix, as in every earlier file
    return tostring(fromstring(tostring(chart._write()))).decode("utf-8")


class _SerialisedChart(ChartBase):
    """A chart already turned into (compressed) XML: all openpyxl's package writer needs of it.

    openpyxl writes charts only when the whole workbook is saved, and a live chart
    object takes ~17 KB: thousands of applicant sheets' charts would make memory
    grow with N.  So each chart is serialised as soon as its sheet is planned
    (nothing in a chart's XML depends on where it ends up in the package).  The
    package writer gets an empty placeholder from ``_write``; :func:`_assemble`
    puts the real XML in the chart's part (``path``, known once the package is written).
    ``ChartBase.__init__`` is deliberately not called: only the anchor, the size
    and ``_write`` are used by the drawing and package writers.
    """

    def __init__(self, ch: PlanChart) -> None:
        self.anchor, self.width, self.height = ch.anchor, ch.width_cm, ch.height_cm
        self._id = 1
        self.xml = zlib.compress(_chart_xml(ch))

    def _write(self):
        return Element("placeholder")

    def __hash__(self) -> int:
        return id(self)


def write(
    plan: Workbook, path: Path | str, workers: int = 1, sheets_done: Callable[[], None] | None = None
) -> None:
    """Write the plan to ``path`` as is (callers that manage atomicity themselves).

    openpyxl (write-only mode) writes every part of the package except the cells
    and merged ranges: styles, validations, conditional formats, charts, names,
    protection, page setup. Cells and merges, the bulk of a large workbook, are
    serialised here straight to XML, one sheet at a time into a temporary file,
    and spliced into each worksheet part when the package is assembled. Sheets
    are planned one by one, so a lazily planned workbook is never held in memory
    whole; with ``workers`` > 1 and a :class:`SheetStream`, forked helper processes
    plan and serialise a share of the sheets (the file is the same either way).
    ``sheets_done`` is called when every sheet is serialised and only this process's
    work remains (a caller may start other work on the cores the helpers leave free).
    """
    with tempfile.TemporaryDirectory(prefix="szqa-xl-") as tmp:
        wb = XLWorkbook(write_only=True)
        # Every style registered up front, in the plan's order: ids known before any sheet is
        # serialised, in whichever process, and the same for every run.
        host = _StyleHost(wb)
        style_ids = {None: 0, **{name: _style_id(host, style) for name, style in plan.styles.items()}}
        dxf_ids = _dxf_registry(wb)
        bodies: list[tuple[object, _Body, bytes]] = []  # (worksheet, its body file, the XML after its merges)
        visible: list[int] = []
        serialised = _serialise_sheets(plan.sheets, style_ids, Path(tmp), workers)
        if sheets_done is not None:
            sheets_done()
        for i, (sp, body) in enumerate(serialised):
            ws = wb.create_sheet(sp.title)
            if sp.state == "visible":
                visible.append(i)
            _skeleton(ws, sp)
            after_merges = _cond_formats_xml(sp, dxf_ids) + _validations_xml(sp)
            bodies.append((ws, body, after_merges.encode("utf-8")))
        for name, ref in plan.names.items():
            wb.defined_names[name] = DefinedName(name, attr_text=ref)
        if plan.lock_structure:
            wb.security = WorkbookProtection(lockStructure=True)
        wb.properties.title = plan.title
        wb.properties.creator = "szqa-xl"
        wb.active = plan.active if plan.active in visible else visible[0]
        skeleton = Path(tmp) / "skeleton.xlsx"
        wb.save(skeleton)  # assigns every chart its part name
        charts = {c.path[1:]: c.xml for ws, _, _ in bodies for c in ws._charts}
        parts = {ws.path[1:]: (body, after) for ws, body, after in bodies}
        _assemble(skeleton, parts, charts, Path(path))


class _StyleHost:
    """Stands in for a worksheet when styles are registered with the workbook (all a cell asks of it)."""

    def __init__(self, wb: XLWorkbook) -> None:
        self.parent = wb


class _Body(NamedTuple):
    """A file holding a sheet's ``<cols>``, then its rows, then its ``<mergeCells>``."""

    path: Path
    cols_end: int
    rows_end: int


def _serialise_sheet(sp: Sheet, style_ids: dict, tmp: Path, i: int) -> tuple[Sheet, _Body]:
    """Write a sheet's columns, rows and merges to a file; the sheet without them (small) and the file."""
    path = tmp / f"sheet{i}.xml"
    with open(path, "wb") as f:
        f.write(_cols_xml(sp).encode("utf-8"))
        cols_end = f.tell()
        for chunk in _sheet_rows(sp, style_ids.__getitem__):
            f.write(chunk.encode("utf-8"))
        rows_end = f.tell()
        f.write(_merge_xml(sp.merges).encode("utf-8"))
    header = replace(sp, cells=[], merges=[], row_heights={}, col_widths={}, hidden_cols=[])
    return header, _Body(path, cols_end, rows_end)


def _dxf_registry(wb: XLWorkbook) -> Callable[[CondFormat], int]:
    """The workbook's index of a conditional format's look, registered on first use (as openpyxl's
    sheet writer does, sheet by sheet, so the file is the same)."""

    def dxf_id(cf: CondFormat) -> int:
        font = Font(color=cf.font_color) if cf.font_color else None
        return wb._differential_styles.add(
            DifferentialStyle(font=font, fill=PatternFill("solid", bgColor=cf.fill))
        )

    return dxf_id


PARALLEL_MIN_SHEETS = 24
"""Fewer sheets than this are written in one process: forking would cost more than it saves."""


def _serialise_sheets(
    sheets: list[Sheet] | SheetStream, style_ids: dict, tmp: Path, workers: int
) -> list[tuple[Sheet, _Body]]:
    """Every sheet planned and serialised, in sheet order; shared with forked helpers when worth it.

    Helpers are forked (they inherit the plan's makers and data; only the small
    sheet headers come back pickled) and take every ``workers``-th sheet.
    """
    if isinstance(sheets, list):
        return [_serialise_sheet(sp, style_ids, tmp, i) for i, sp in enumerate(sheets)]
    makers = sheets.take_makers()
    n = len(makers)
    if workers < 2 or n < PARALLEL_MIN_SHEETS or not can_fork():
        return [_serialise_sheet(make(), style_ids, tmp, i) for i, make in enumerate(makers)]

    def share(indices: list[int]) -> list[tuple[int, Sheet, _Body]]:
        return [(i, *_serialise_sheet(makers[i](), style_ids, tmp, i)) for i in indices]

    done: dict[int, tuple[Sheet, _Body]] = {}
    with forked(share, workers - 1) as submit:
        futures = [submit(list(range(k, n, workers))) for k in range(1, workers)]
        for i in range(0, n, workers):
            done[i] = _serialise_sheet(makers[i](), style_ids, tmp, i)
        for fut in futures:
            for i, *result in fut.result():
                done[i] = tuple(result)  # type: ignore[assignment]
    return [done[i] for i in range(n)]


def _style_id(ws, style: Style) -> int:
    """Register a plan style with the workbook once; its index in the cell formats."""
    probe = WriteOnlyCell(ws)
    p = _style_parts(style)
    probe.font, probe.fill, probe.alignment = p["font"], p["fill"], p["alignment"]
    probe.border, probe.protection, probe.number_format = p["border"], p["protection"], p["number_format"]
    return probe.style_id


_SHEET_DATA = re.compile(rb"<sheetData\s*/>|<sheetData>\s*</sheetData>")
_PROTECTION = re.compile(rb"<sheetProtection[^>]*/>")


def _assemble(
    skeleton: Path, bodies: dict[str, tuple[_Body, bytes]], charts: dict[str, bytes], out: Path
) -> None:
    """Copy the skeleton package to ``out``, each worksheet part with its body and the XML after its
    merges spliced in, each chart part with its (compressed) XML.

    In openpyxl's worksheet part (written without columns, validations and
    conditional formats) ``<sheetData>`` directly follows ``<sheetFormatPr>``, where
    ``<cols>`` belongs; what follows it is the optional ``<sheetProtection>``, then
    the place of ``<mergeCells>``, ``<conditionalFormatting>`` and ``<dataValidations>``.
    """
    with (
        zipfile.ZipFile(skeleton) as src,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as dst,
    ):
        for info in src.infolist():
            data = src.read(info)
            target = zipfile.ZipInfo(info.filename, date_time=info.date_time)
            target.compress_type = zipfile.ZIP_DEFLATED
            if info.filename in charts:
                dst.writestr(target, zlib.decompress(charts[info.filename]))
                continue
            if info.filename not in bodies:
                dst.writestr(target, data)
                continue
            body, after_merges = bodies[info.filename]
            m = _SHEET_DATA.search(data)
            if m is None:
                raise RuntimeError(f"no empty <sheetData> in {info.filename} of the openpyxl skeleton")
            head, tail = data[: m.start()], data[m.end() :]
            p = _PROTECTION.match(tail)
            protection, tail = (tail[: p.end()], tail[p.end() :]) if p else (b"", tail)
            with dst.open(target, "w", force_zip64=True) as w, open(body.path, "rb") as f:
                w.write(head + f.read(body.cols_end) + b"<sheetData>")
                remaining = body.rows_end - body.cols_end
                while remaining:
                    chunk = f.read(min(remaining, 1 << 20))
                    w.write(chunk)
                    remaining -= len(chunk)
                w.write(b"</sheetData>" + protection + f.read() + after_merges + tail)


def render(plan: Workbook, path: Path | str) -> Path:
    """Write the plan to ``path`` atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        write(plan, tmp)
    return path

"""An independent reading of a worksheet part, for tests: ElementTree builds the whole tree, then a
walk over it.  This is how the reader parsed worksheets before it streamed them (a different
parser front end, a different walk); the two must agree on every sheet, value and refusal."""

from __future__ import annotations

import re
from datetime import datetime
from xml.etree.ElementTree import Element

from openpyxl.styles.numbers import is_date_format, is_timedelta_format
from openpyxl.utils.datetime import CALENDAR_MAC_1904, CALENDAR_WINDOWS_1900, from_excel

from szqa_xl.returns.xmlparts import (
    _M,
    CELL_TYPES,
    STRICT_NS,
    T_C,
    T_DIMENSION,
    T_F,
    T_IS,
    T_MERGE,
    T_ROW,
    T_SHEETDATA,
    T_V,
    ErrorValue,
    SheetView,
    UsedRange,
    XmlProblem,
    cell_name,
    parse_range,
    parse_ref,
    root_of,
    text_of,
    unescape,
)

_XML_SPACE = " \t\r\n"
_DOUBLE = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]{1,3})?")
"""A number as a cell holds it (XML Schema's double without INF/NaN; the exponent, like the text, kept
short, as the reader bounds them), after XML white space only."""


def _int(text: str | None, part: str) -> int:
    """A style or row number: ASCII digits between XML white space (written here, not imported, so that
    the reader's parse of numbers is checked too)."""
    t = (text or "").strip(_XML_SPACE)
    if not t or len(t) > 10 or not all("0" <= ch <= "9" for ch in t):
        raise XmlProblem("bad-xml", f"{part} 中编号 {str(text)[:20]!r} 无效，文件被改动")
    return int(t)


def _number(text: str, pos: tuple[int, int]) -> float:
    if len(text) > 64 or _DOUBLE.fullmatch(text.strip(_XML_SPACE)) is None:
        raise XmlProblem("bad-xml", f"数值 {text[:20]!r} 无效，文件被改动", cell_name(pos))
    return float(text)


def tree_worksheet(
    data: bytes,
    part: str,
    strings: list[str],
    formats: list[str],
    date1904: bool,
    max_rows: int,
    max_cols: int,
) -> SheetView:
    """Parse a worksheet part; raises XmlProblem (``used-range``, ``bad-xml``, ``dtd`` …).

    Rows and cells without ``r=`` take the position after the previous one, as
    in a spreadsheet; positions must increase (a repeated or backward position
    is two values for one cell).
    """
    root = root_of(data, part)
    if root.tag != _M + "worksheet":
        raise XmlProblem("bad-xml", f"{part} 不是工作表，文件已损坏或被改动")
    _structure(root, part)
    view = SheetView()
    limits = (max_rows, max_cols)
    date_styles = {i for i, code in enumerate(formats) if is_date_format(code)}
    blocks = [el for el in root if el.tag == T_SHEETDATA]
    if len(blocks) > 1:
        raise XmlProblem("bad-xml", f"{part} 含多个单元格数据区，文件被改动")
    for el in root:
        if el.tag == T_DIMENSION:
            r1, c1, r2, c2 = parse_range(el.get("ref", "A1"))
            if r2 > max_rows or c2 > max_cols:
                raise UsedRange(r2, c2, limits)
        elif el.tag == _M + "mergeCells":
            view.merges.extend(parse_range(m.get("ref", "")) for m in el if m.tag == T_MERGE)
    row_no = 0
    refs: dict = {}
    for row in blocks[0] if blocks else ():
        if row.tag != T_ROW:
            continue
        r = row.get("r")
        new = _int(r, part) if r is not None else row_no + 1
        if new > max_rows:
            raise UsedRange(new, 1, limits)
        if new <= row_no:
            raise XmlProblem("bad-xml", f"第 {new} 行重复或顺序颠倒，文件被改动")
        row_no = new
        col_no = 0
        for c in row:
            if c.tag != T_C:
                continue
            ref = c.get("r")
            if ref is not None:
                rc = refs.get(ref)
                if rc is None:
                    rc = parse_ref(ref)
                    refs[ref] = rc
                rr, cc = rc
                if cc > max_cols:
                    raise UsedRange(rr, cc, limits)
                if rr != row_no:
                    raise XmlProblem("bad-xml", f"单元格 {ref} 不在它所在的第 {row_no} 行，文件被改动", ref)
                if cc <= col_no:
                    raise XmlProblem("bad-xml", f"单元格 {ref} 重复或顺序颠倒，文件被改动", ref)
            else:
                cc = col_no + 1
                if cc > max_cols:
                    raise UsedRange(row_no, cc, limits)
            col_no = cc
            _cell(c, (row_no, cc), view, strings, formats, date_styles, date1904, part)
        if col_no > view.max_col:
            view.max_col = col_no
    view.max_row = row_no
    return view


_EXT = _M + "extLst"
_PLACE = {T_SHEETDATA: _M + "worksheet", T_ROW: T_SHEETDATA, T_C: T_ROW, T_V: T_C, T_IS: T_C}
"""Elements that hold cells or values -> the one parent each may have."""
_ONLY = {
    T_SHEETDATA: {T_ROW},
    T_ROW: {T_C, _EXT},
    T_C: {T_F, T_V, T_IS, _EXT},
    T_IS: {_M + "t", _M + "r", _M + "rPh", _M + "phoneticPr"},
}
"""Parents -> the only children they may have."""


def _structure(root: Element, part: str) -> None:
    """Refuse what another program could read as cells or values the walk below does not see: a
    Strict-namespace element anywhere, a cell element outside its place, an unknown child in the
    sheet's data, a second inline string in a cell, a run of an inline string with two texts."""
    for parent in root.iter():
        ptag = parent.tag
        allowed = _ONLY.get(ptag)
        for child in parent:
            tag = child.tag
            if tag.startswith("{" + STRICT_NS + "}"):
                raise XmlProblem("bad-xml", f"{part}: Strict element {tag}")
            if tag in _PLACE and _PLACE[tag] != ptag:
                raise XmlProblem("bad-xml", f"{part}: {tag} inside {ptag}")
            if allowed is not None and tag not in allowed:
                raise XmlProblem("bad-xml", f"{part}: {tag} inside {ptag}")
            if ptag == T_IS and tag == _M + "r":
                kids = [k.tag for k in child]
                if any(k not in (_M + "rPr", _M + "t") for k in kids) or kids.count(_M + "t") > 1:
                    raise XmlProblem("bad-xml", f"{part}: a run of {kids}")
        if ptag == T_C and len(parent.findall(T_IS)) > 1:
            raise XmlProblem("bad-xml", f"{part}: two inline strings in a cell")


def _cell(
    el: Element,
    pos: tuple[int, int],
    view: SheetView,
    strings: list[str],
    formats: list[str],
    date_styles: frozenset[int],
    date1904: bool,
    part: str,
) -> None:
    kind = el.get("t", "n")
    if kind not in CELL_TYPES:
        raise XmlProblem("bad-xml", f"单元格类型 {kind[:10]!r} 无效，文件被改动", cell_name(pos))
    s = el.get("s")
    style = 0
    if s is not None:
        style = _int(s, part)
        if style >= len(formats) and (formats or style):
            raise XmlProblem("bad-xml", f"单元格样式 {style} 不存在，文件被改动", cell_name(pos))
        view.styles[pos] = style
    if len(el) == 0:  # no value, no formula: an empty (styled) cell
        if kind == "e":
            view.values[pos] = ErrorValue("#VALUE!")
        return
    f = el.find(T_F)
    if f is not None:
        view.formulas.add(pos)
        ref = f.get("ref")
        if ref and f.get("t") in ("array", "dataTable"):  # their results fill the whole range; a shared
            # formula's ref only bounds the cells that carry their own <f t="shared">, found above
            view.formula_ranges.append(parse_range(ref))
    vs = el.findall(T_V)
    if len(vs) > 1:
        raise XmlProblem("bad-xml", "单元格有多个值，文件被改动", cell_name(pos))
    v_text = None
    if vs:
        if len(vs[0]):
            raise XmlProblem("bad-xml", "单元格的值里含其他元素，文件被改动", cell_name(pos))
        v_text = vs[0].text or ""
    value: object = None
    if kind == "inlineStr" and vs:
        raise XmlProblem("bad-xml", "an inline string cell with a value", cell_name(pos))
    if kind == "inlineStr":
        inline = el.find(T_IS)
        value = text_of(inline, part) if inline is not None else None
    elif v_text is None or (v_text == "" and kind != "str"):
        value = None  # an empty <v> (a formula not yet calculated) holds nothing
    elif kind == "s":
        index = v_text.strip(" \t\r\n")
        if not (index.isascii() and index.isdigit()) or len(index) > 9 or int(index) >= len(strings):
            raise XmlProblem("bad-xml", f"共享字符串编号 {index[:12]!r} 不存在，文件被改动", cell_name(pos))
        value = strings[int(index)]
    elif kind == "n":
        value = _number(v_text, pos)
        if style in date_styles:
            value = _date(value, date1904, formats[style])
    elif kind == "str":
        value = unescape(v_text)
    elif kind == "b":
        if v_text.strip(" \t\r\n") not in ("0", "1"):
            raise XmlProblem("bad-xml", f"逻辑值 {v_text[:10]!r} 无效，文件被改动", cell_name(pos))
        value = v_text.strip(" \t\r\n") == "1"
    elif kind == "e":
        value = ErrorValue(v_text.strip(" \t\r\n") or "#VALUE!")
    elif kind == "d":
        try:
            value = datetime.fromisoformat(v_text.strip(" \t\r\n"))
        except ValueError as exc:
            raise XmlProblem("bad-xml", f"日期值 {v_text[:20]!r} 无效，文件被改动", cell_name(pos)) from exc
    if kind == "e" and value is None:
        value = ErrorValue("#VALUE!")
    if value is not None:
        view.values[pos] = value


def _date(serial: float, date1904: bool, code: str) -> object:
    """A date-formatted number as openpyxl converts it (the reader has its own conversion): a
    duration for an elapsed-time format, else a point in time; a number no date can show stays
    the number it is."""
    try:
        return from_excel(
            serial,
            CALENDAR_MAC_1904 if date1904 else CALENDAR_WINDOWS_1900,
            timedelta=is_timedelta_format(code),
        )
    except (OverflowError, ValueError):
        return serial

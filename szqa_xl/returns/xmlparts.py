"""The XML parts of a returned workbook, parsed by a real XML parser into plain values.

Every part is parsed by expat (DTDs, entity declarations and external
references refused before the tree is built), so every
legal spelling — attribute quoting and order, namespace prefixes, comments,
CDATA, character references, cells whose position is implied by their order —
is read as a spreadsheet reads it.  Nothing here is decided by a regular
expression over XML; the only patterns are over short attribute values and
cell texts that the parser has already delivered.  Time is linear in the
part's size; the used range counts implied positions.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from functools import lru_cache
from xml.etree.ElementTree import Element, ParseError, fromstring
from xml.parsers import expat

from szqa_xl.returns.package import part_key
from szqa_xl.xlsx.plan import column_letter

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
STRICT_NS = "http://purl.oclc.org/ooxml/spreadsheetml/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
CONTENT_TYPES_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
OFFICE_DOCUMENT = REL_NS + "/officeDocument"
STRICT_OFFICE_DOCUMENT = "http://purl.oclc.org/ooxml/officeDocument/relationships/officeDocument"
REL_WORKSHEET = REL_NS + "/worksheet"
REL_SHARED_STRINGS = REL_NS + "/sharedStrings"
REL_STYLES = REL_NS + "/styles"

_M = "{" + MAIN_NS + "}"
T_ROW, T_C, T_V, T_F, T_IS, T_T, T_R, T_SI = (_M + t for t in ("row", "c", "v", "f", "is", "t", "r", "si"))
T_SHEETDATA, T_MERGE, T_DIMENSION = _M + "sheetData", _M + "mergeCell", _M + "dimension"
T_RPR, T_RPH, T_PHONETICPR, T_EXTLST = _M + "rPr", _M + "rPh", _M + "phoneticPr", _M + "extLst"
_S = "{" + STRICT_NS + "}"
MC_ALTERNATE_CONTENT = "{http://schemas.openxmlformats.org/markup-compatibility/2006}AlternateContent"

_REF = re.compile(r"([A-Z]{1,3})([1-9][0-9]{0,6})")
_XML_SPACE = " \t\r\n"
"""The only characters XML counts as white space (``str.strip()`` and ``\\s`` take far more: no-break
and ideographic spaces, vertical tab, U+0085 …, which a spreadsheet does not skip around a number)."""
_NUMBER = re.compile(r"[ \t\r\n]*[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,3})?[ \t\r\n]*")
_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
CELL_TYPES = frozenset({"n", "s", "str", "inlineStr", "b", "e", "d"})

BUILTIN_FORMATS = {
    0: "General", 1: "0", 2: "0.00", 3: "#,##0", 4: "#,##0.00", 9: "0%", 10: "0.00%", 11: "0.00E+00",
    12: "# ?/?", 13: "# ??/??", 14: "mm-dd-yy", 15: "d-mmm-yy", 16: "d-mmm", 17: "mmm-yy",
    18: "h:mm AM/PM", 19: "h:mm:ss AM/PM", 20: "h:mm", 21: "h:mm:ss", 22: "m/d/yy h:mm",
    37: "#,##0 ;(#,##0)", 38: "#,##0 ;[Red](#,##0)", 39: "#,##0.00;(#,##0.00)", 40: "#,##0.00;[Red](#,##0.00)",
    45: "mm:ss", 46: "[h]:mm:ss", 47: "mmss.0", 48: "##0.0E+0", 49: "@",
}  # fmt: skip
"""ECMA-376 Part 1, 18.8.30: the number formats a file may use by id without declaring them."""
_DATE_IDS = frozenset({*range(14, 23), 45, 46, 47, *range(27, 37), *range(50, 59)})


class XmlProblem(Exception):
    """A part that cannot be read as a spreadsheet reads it (reported as data by the caller)."""

    def __init__(self, code: str, message: str, cell: str = "", sheet: str = "") -> None:
        super().__init__(message)
        self.code, self.message, self.cell, self.sheet = code, message, cell, sheet


class ErrorValue(str):
    """A cell holding an error (``t="e"``): ``#N/A``, ``#REF!`` …  Never a blank."""


def unescape(text: str) -> str:
    """Excel's ``_xHHHH_`` escapes (control characters in strings; ``_x005F_`` is a literal ``_``)."""
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text) if "_x" in text else text


class _Refused(Exception):
    pass


class _RootReached(Exception):
    pass


def _refuse(*_args: object) -> None:
    raise _Refused


def _root_reached(*_args: object) -> None:
    raise _RootReached


def _refusing(parser: expat.XMLParserType) -> expat.XMLParserType:
    """``parser`` with a DOCTYPE and every kind of declaration inside one refused (``_Refused``)."""
    parser.StartDoctypeDeclHandler = _refuse
    parser.EntityDeclHandler = _refuse
    parser.ExternalEntityRefHandler = _refuse
    parser.NotationDeclHandler = _refuse
    return parser


def _dtd(part: str) -> XmlProblem:
    return XmlProblem("dtd", f"{part} 含 DTD/实体声明（可能是 XML 炸弹或 XXE 攻击），已拒绝")


def _malformed(part: str, line: int) -> XmlProblem:
    return XmlProblem("bad-xml", f"{part} 不是有效的 XML（第 {line} 行附近），文件已损坏或被改动")


def _encoding(part: str) -> XmlProblem:
    return XmlProblem("bad-xml", f"{part} 声明的字符编码无法读取（应为 UTF-8），文件已损坏或被改动")


def root_of(data: bytes, part: str) -> Element:
    """The whole part as a tree, parsed by expat with DTDs and entity declarations refused.

    Two passes, both expat.  The first reads the prolog: a DOCTYPE (the only
    place entity declarations can be) is refused there, and the pass stops at
    the root element's start tag, since XML allows a document type declaration
    nowhere after it (one that came later would make the document not
    well-formed, which the second pass reports).  So no entity is ever
    declared, let alone expanded.  The second pass builds the tree in C
    (ElementTree's accelerated parser); defusedxml's parser would do the same
    in one pure Python pass, ten times slower.  The code that walks the tree
    descends only the few levels a spreadsheet part has, so no nesting depth
    can make it recurse.
    """
    guard = _refusing(expat.ParserCreate())
    guard.StartElementHandler = _root_reached
    try:
        try:
            guard.Parse(data, True)
        except _RootReached:
            pass
        return fromstring(data)
    except _Refused as exc:
        raise _dtd(part) from exc
    except (expat.ExpatError, ParseError) as exc:
        raise _malformed(part, getattr(exc, "lineno", None) or getattr(exc, "position", (0, 0))[0]) from exc
    except ValueError as exc:  # expat: "multi-byte encodings are not supported" (GBK, GB18030 …)
        raise _encoding(part) from exc


def parse_ref(ref: str) -> tuple[int, int]:
    """'H12' -> (12, 8); raises XmlProblem for anything a cell reference cannot be."""
    m = _REF.fullmatch(ref)
    if m is None:
        raise XmlProblem("bad-xml", f"单元格引用 {ref[:20]!r} 无效，文件被改动", ref[:20])
    col = 0
    for ch in m.group(1):
        col = col * 26 + ord(ch) - 64
    return int(m.group(2)), col


def parse_range(ref: str) -> tuple[int, int, int, int]:
    """'A1:C3' (or 'A1') -> (r1, c1, r2, c2)."""
    a, _, b = ref.strip().partition(":")
    r1, c1 = parse_ref(a)
    r2, c2 = parse_ref(b) if b else (r1, c1)
    return min(r1, r2), min(c1, c2), max(r1, r2), max(c1, c2)


def text_of(el: Element, part: str) -> str:
    """The text of an ``<si>`` or ``<is>``: its ``<t>`` and its runs' ``<t>`` in order, phonetic runs left
    out.  Any other element in it, or a run with more than one ``<t>``, is refused: other programs read
    them otherwise (a Strict-namespace ``<t>`` as text, only the last ``<t>`` of a run)."""
    if len(el) == 1 and el[0].tag == T_T and not len(el[0]):  # the usual plain string
        return unescape(el[0].text or "")
    pieces = []
    for child in el:
        tag = child.tag
        if tag == T_T:
            pieces.append(_t(child, part))
        elif tag == T_R:
            texts = 0
            for t in child:
                if t.tag == T_T:
                    texts += 1
                    pieces.append(_t(t, part))
                elif t.tag != T_RPR:
                    raise _foreign_in(part, t.tag)
            if texts > 1:
                raise XmlProblem("bad-xml", f"{part} 的文本中一段含多个文本元素，文件被改动")
        elif tag not in (T_RPH, T_PHONETICPR):
            raise _foreign_in(part, tag)
    return unescape("".join(pieces))


def _foreign_in(part: str, tag: str) -> XmlProblem:
    local = tag.rpartition("}")[2][:30]
    return XmlProblem("bad-xml", f"{part} 中含不应有的元素 {local!r}，文件被改动")


def _no_strict_children(root: Element, part: str) -> None:
    """Refuse a Strict-namespace element among the root's children, or an mc:AlternateContent holding a
    SpreadsheetML element (LibreOffice reads both as if they were plain ones: a second sheet list, a
    forged sheet entry, a second workbookPr …).  Excel's own wrappers hold other namespaces only."""
    for child in root:
        tag = child.tag
        if tag.startswith(_S):
            raise _foreign_in(part, tag)
        if tag == MC_ALTERNATE_CONTENT:
            for el in child.iter():
                if el.tag.startswith((_M, _S)):
                    raise _foreign_in(part, el.tag)


def _t(el: Element, part: str) -> str:
    if len(el):
        raise XmlProblem("bad-xml", f"{part} 的文本元素里含其他元素，文件被改动")
    return el.text or ""


# -- workbook, relationships, shared strings, styles -----------------------------------------------


def relationships(data: bytes, part: str) -> dict[str, tuple[str, str, str]]:
    """Id -> (type, target, target mode) of a relationships part."""
    root = root_of(data, part)
    if root.tag != f"{{{PKG_REL_NS}}}Relationships":
        raise XmlProblem("bad-xml", f"{part} 不是关系部件，文件被改动")
    out: dict[str, tuple[str, str, str]] = {}
    for rel in root:
        if rel.tag != f"{{{PKG_REL_NS}}}Relationship":
            continue
        rid = rel.get("Id", "")
        if rid in out:
            raise XmlProblem("bad-xml", f"{part} 中关系编号 {rid!r} 重复，文件被改动")
        out[rid] = (rel.get("Type", ""), rel.get("Target", ""), rel.get("TargetMode", "Internal"))
    return out


CT_RELATIONSHIPS = "application/vnd.openxmlformats-package.relationships+xml"
_CT_SML = "application/vnd.openxmlformats-officedocument.spreadsheetml."
WORKBOOK_TYPES = {
    ".xlsx": (_CT_SML + "sheet.main+xml", "普通工作簿（.xlsx）"),
    ".xltx": (_CT_SML + "template.main+xml", "模板（.xltx）"),
    ".xlsm": ("application/vnd.ms-excel.sheet.macroenabled.main+xml", "启用宏的工作簿（.xlsm）"),
    ".xltm": ("application/vnd.ms-excel.template.macroenabled.main+xml", "启用宏的模板（.xltm）"),
}
"""File extension -> (the workbook part's content type, as compared: case-folded; what it is, for messages):
each kind of spreadsheet package Excel opens as a workbook, which it opens only under its own extension
(.xlsb and add-ins are not spreadsheetml workbooks a scoresheet can be saved as)."""
CT_WORKBOOKS = frozenset(ct for ct, _ in WORKBOOK_TYPES.values())
CT_WORKSHEET = _CT_SML + "worksheet+xml"
CT_SHARED_STRINGS = _CT_SML + "sharedstrings+xml"
CT_STYLES = _CT_SML + "styles+xml"


@dataclass(frozen=True)
class ContentTypes:
    """A package's content types: by file extension (``Default``) and by part (``Override``), both keyed
    as OPC compares them (case-insensitively; part names rooted, ``/`` only)."""

    defaults: dict[str, str]
    overrides: dict[str, str]

    def of(self, part: str) -> str | None:
        """The media type of ``part`` as compared (type/subtype, case-folded, parameters dropped), None if
        the package declares none: its Override, else the Default for its extension."""
        key = part_key(part)
        found = self.overrides.get(key)
        if found is None:
            name = key.rpartition("/")[2]
            found = self.defaults.get(name.rpartition(".")[2]) if "." in name else None
        return None if found is None else found.split(";")[0].strip().casefold()


def content_types(data: bytes, part: str) -> ContentTypes:
    """The package's content types part, checked as OPC defines it (ECMA-376 Part 2, 10.1.2.2).

    Only ``Default`` (with ``Extension`` and ``ContentType``) and ``Override``
    (with ``PartName`` and ``ContentType``) may be listed, each extension and
    part name once (compared case-insensitively, as OPC compares them).  A
    spreadsheet finds each part's type here, so a package whose index is broken
    is refused (Excel does not open it as it was written) rather than read by
    its relationships alone; the caller checks that every part it reads has the
    type its relationship implies.
    """
    root = root_of(data, part)
    if root.tag != f"{{{CONTENT_TYPES_NS}}}Types":
        raise XmlProblem("bad-xml", f"{part} 不是内容类型清单，文件已损坏或被改动")
    default_tag, override_tag = f"{{{CONTENT_TYPES_NS}}}Default", f"{{{CONTENT_TYPES_NS}}}Override"
    required = {default_tag: "Extension", override_tag: "PartName"}
    found: dict[str, dict[str, str]] = {default_tag: {}, override_tag: {}}
    for el in root:
        key_attr = required.get(el.tag)
        if key_attr is None:
            raise XmlProblem(
                "bad-xml", f"{part} 含未知的元素 {el.tag.rpartition('}')[2][:30]!r}，文件已损坏或被改动"
            )
        key, media = el.get(key_attr), el.get("ContentType")
        if key is None or media is None:
            missing = key_attr if key is None else "ContentType"
            raise XmlProblem("bad-xml", f"{part} 中有内容类型声明缺少 {missing}，文件已损坏或被改动")
        folded = part_key(key) if el.tag == override_tag else key.casefold()
        if folded in found[el.tag]:
            raise XmlProblem("bad-xml", f"{part} 中 {key[:60]!r} 的内容类型声明了两次，文件被改动")
        found[el.tag][folded] = media
    return ContentTypes(found[default_tag], found[override_tag])


@dataclass(frozen=True)
class SheetEntry:
    name: str
    rid: str
    state: str


def workbook(data: bytes, part: str) -> tuple[list[SheetEntry], bool]:
    """The sheets the workbook lists (in order) and whether its dates count from 1904."""
    root = root_of(data, part)
    if root.tag.startswith("{" + STRICT_NS):
        raise XmlProblem(
            "strict-ooxml", "文件为 Strict Open XML 格式，请在 Excel 中另存为“Excel 工作簿(*.xlsx)”"
        )
    if root.tag != _M + "workbook":
        raise XmlProblem("bad-xml", f"{part} 不是 Excel 工作簿，文件已损坏")
    _no_strict_children(root, part)
    lists = [el for el in root if el.tag == _M + "sheets"]
    if len(lists) != 1:
        raise XmlProblem("duplicate-sheet", f"{part} 中工作表清单有 {len(lists)} 份（应为 1 份），文件被改动")
    entries: list[SheetEntry] = []
    seen: set[str] = set()
    for sh in lists[0]:
        if sh.tag != _M + "sheet":  # a sheet in another spelling or wrapped: LibreOffice lists it
            raise _foreign_in(part, sh.tag)
        name = sh.get("name", "")
        if name.casefold() in seen:
            raise XmlProblem("duplicate-sheet", f"工作表“{name}”在工作簿中出现两次，文件被改动", sheet=name)
        seen.add(name.casefold())
        entries.append(SheetEntry(name, sh.get(f"{{{REL_NS}}}id", ""), sh.get("state", "visible")))
    prs = root.findall(_M + "workbookPr")
    if len(prs) > 1:  # LibreOffice takes the last, Excel the first
        raise XmlProblem("bad-xml", f"{part} 含多个工作簿属性元素，文件被改动")
    flag = prs[0].get("date1904", "false").strip(_XML_SPACE) if prs else "false"
    if flag not in ("1", "true", "0", "false"):  # xsd:boolean; "TRUE" is 1904 to one program, 1900 to another
        raise XmlProblem("bad-xml", f"{part} 中日期系统 {flag[:10]!r} 无效，文件被改动")
    return entries, flag in ("1", "true")


def shared_strings(data: bytes, part: str) -> list[str]:
    """Every shared string, as a spreadsheet shows it (``count`` and ``uniqueCount`` are only hints)."""
    root = root_of(data, part)
    out = []
    for el in root:
        if el.tag == T_SI:
            out.append(text_of(el, part))
        elif el.tag != T_EXTLST:  # a wrapped or Strict <si> would shift every later string's number
            raise _foreign_in(part, el.tag)
    return out


def number_formats(data: bytes, part: str) -> list[str]:
    """The number format code of every cell style (``cellXfs``), by style index."""
    root = root_of(data, part)
    _no_strict_children(root, part)
    custom: dict[int, str] = {}
    fmts = root.find(_M + "numFmts")
    for f in [] if fmts is None else fmts:
        if f.tag != _M + "numFmt":
            raise _foreign_in(part, f.tag)
        custom[_int(f.get("numFmtId"), part)] = f.get("formatCode", "")
    xfs = root.find(_M + "cellXfs")
    codes = []
    for xf in [] if xfs is None else xfs:
        if xf.tag != _M + "xf":  # another spelling of a style would shift the later styles' numbers
            raise _foreign_in(part, xf.tag)
        fid = _int(xf.get("numFmtId", "0"), part)
        codes.append(custom.get(fid, BUILTIN_FORMATS.get(fid, f"#{fid}")))
    return codes


def _index(text: str) -> int | None:
    """A style, row, format or shared string number: up to 10 ASCII digits between XML white space.
    (``str.isdigit()`` and ``int()`` alone also take Arabic-Indic, full-width, Devanagari … digits and
    Unicode spaces, which a spreadsheet does not read as a number; an ASCII string's digits are 0-9.)"""
    digits = text.strip(_XML_SPACE)
    if 0 < len(digits) <= 10 and digits.isascii() and digits.isdigit():
        return int(digits)
    return None


def _int(text: str | None, part: str) -> int:
    n = None if text is None else _index(text)
    if n is None:
        raise XmlProblem("bad-xml", f"{part} 中编号 {str(text)[:20]!r} 无效，文件被改动")
    return n


_DATE_TOKENS = re.compile(r"[dmyhs]")
_ELAPSED = re.compile(r"\[(?:h+|m+|s+)\]", re.IGNORECASE)
_QUOTED = re.compile(r'"[^"]*"|\\.|\[[^\]]*\]|_.|\*.')


def is_date_format(code: str) -> bool:
    """A number format that shows a number as a date or time (quoted text, escapes and colours aside)."""
    bare = _QUOTED.sub("", code.split(";")[0]).lower()
    return bare != "general" and _DATE_TOKENS.search(bare) is not None


@lru_cache(maxsize=64)
def _date_styles(formats: tuple[str, ...]) -> frozenset[int]:
    """The style indexes whose number format shows a date or time (returns share a few style tables)."""
    return frozenset(i for i, code in enumerate(formats) if is_date_format(code))


def normal_format(code: str) -> str:
    """A format code as compared with the template's: ``General`` in any case, otherwise as written."""
    return "General" if code.strip().lower() == "general" else code


# -- worksheets ---------------------------------------------------------------------------------------


@dataclass
class SheetView:
    """One worksheet as a spreadsheet sees it: values by (row, column), formulas, merges, styles."""

    values: dict[tuple[int, int], object] = field(default_factory=dict)
    formulas: set[tuple[int, int]] = field(default_factory=set)
    formula_ranges: list[tuple[int, int, int, int]] = field(default_factory=list)
    styles: dict[tuple[int, int], int] = field(default_factory=dict)
    merges: list[tuple[int, int, int, int]] = field(default_factory=list)
    max_row: int = 0
    max_col: int = 0

    def value(self, row: int, col: int) -> object:
        return self.values.get((row, col))


class UsedRange(XmlProblem):
    def __init__(self, row: int, col: int, limits: tuple[int, int]) -> None:
        super().__init__(
            "used-range",
            f"使用区域超出模板（到第 {row} 行、第 {col} 列，上限 {limits[0]} 行 {limits[1]} 列），"
            "可能被粘贴了大量内容或被篡改",
        )


def worksheet(
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

    A worksheet is the one large part a return has, so it is read in one
    streaming expat pass rather than built as a tree: DTDs and entity
    declarations are refused by the same parser (a DOCTYPE can only come before
    the root element), and character data is buffered by expat, so a text
    spelled as thousands of character references still arrives as one string.
    Only the elements a spreadsheet reads are looked at (``dimension``,
    ``sheetData/row/c/{f,v,is}``, ``mergeCells/mergeCell``); the content of any
    other element is skipped whatever it holds.

    The parser's callbacks run once per element, so they are closures over
    local state (cheaper to reach than an object's attributes), with the state
    of the element being read kept apart from the stack of those it is in.
    """
    view = SheetView()
    values, styles, formulas = view.values, view.styles, view.formulas
    date_styles = _date_styles(tuple(formats))
    n_formats = len(formats)
    stack: list[int] = []  # the states of the elements the current one is in
    push, pop = stack.append, stack.pop
    where = _DOC  # the state of the element being read (its content decides what comes next)
    blocks = 0  # sheetData elements seen
    row_no = col_no = max_col = 0
    texts: list[str] | None = None  # character data of the <v> or <t> being read
    # the cell being read
    pos = (0, 0)
    kind = "n"
    style = 0
    children = 0
    formula = False
    v_texts: list[str] = []  # the text of each <v>
    nested_text = False  # an element inside a <t> of its inline string
    inline: list[str] | None = None  # the text pieces of its (first) <is>
    inlines = 0
    run_texts = 0  # <t> elements in the run being read

    def on_data(text: str) -> None:
        if texts is not None:
            texts.append(text)

    def on_start(name: str, attrs: dict[str, str]) -> None:
        nonlocal where, blocks, row_no, col_no, texts, pos, kind, style, children, formula, v_texts
        nonlocal nested_text, inline, inlines, run_texts
        push(where)
        if where == _CELL:
            if name == N_EXTLST:
                where = _SKIP
                return
            children += 1
            if name == N_V:
                texts = []
                where = _V
            elif name == N_IS:
                inlines += 1
                if inlines > 1:  # Excel reads the first, LibreOffice shows the last
                    raise XmlProblem("bad-xml", "单元格有多个文本值，文件被改动", cell_name(pos))
                inline = []
                where = _IS
            elif name == N_F:
                if not formula:
                    formula = True
                    ref = attrs.get("ref")
                    if ref and attrs.get("t") in ("array", "dataTable"):  # their results fill the whole
                        # range; a shared formula's ref only bounds the cells with their own <f t="shared">
                        view.formula_ranges.append(parse_range(ref))
                where = _LEAF
            else:  # another program may read it as part of the cell (a Strict or wrapped <v>, …)
                raise _foreign(name, part, pos)
        elif where == _IS or where == _RUN:
            if name == N_T:
                if where == _RUN:
                    run_texts += 1
                    if run_texts > 1:  # a run has one text; LibreOffice shows only the last
                        raise XmlProblem(
                            "bad-xml", "单元格文本的一段含多个文本元素，文件被改动", cell_name(pos)
                        )
                texts = []
                where = _TEXT
            elif name == N_R and where == _IS:
                run_texts = 0
                where = _RUN
            elif (where == _IS and name in _IGNORED_IN_TEXT) or (where == _RUN and name == N_RPR):
                where = _SKIP  # phonetic runs, a run's font: not part of the text shown
            else:
                raise _foreign(name, part, pos)
        elif where == _ROW:
            if name != N_C:
                if name != N_EXTLST:
                    raise _foreign(name, part, (row_no, 0))
                where = _SKIP
                return
            where = _CELL
            ref = attrs.get("r")
            if ref is not None:
                rc = _REF_CACHE.get(ref)
                if rc is None:
                    rc = parse_ref(ref)
                    if len(_REF_CACHE) < 100_000:
                        _REF_CACHE[ref] = rc
                rr, cc = rc
                if cc > max_cols:
                    raise UsedRange(rr, cc, (max_rows, max_cols))
                if rr != row_no:
                    raise XmlProblem("bad-xml", f"单元格 {ref} 不在它所在的第 {row_no} 行，文件被改动", ref)
                if cc <= col_no:
                    raise XmlProblem("bad-xml", f"单元格 {ref} 重复或顺序颠倒，文件被改动", ref)
            else:
                cc = col_no + 1
                if cc > max_cols:
                    raise UsedRange(row_no, cc, (max_rows, max_cols))
            col_no = cc
            pos = (row_no, cc)
            kind = attrs.get("t", "n")
            if kind not in CELL_TYPES:
                raise XmlProblem("bad-xml", f"单元格类型 {kind[:10]!r} 无效，文件被改动", cell_name(pos))
            s = attrs.get("s")
            style = 0
            if s is not None:
                style = _STYLE_CACHE.get(s)
                if style is None:
                    style = _int(s, part)
                if style >= n_formats and (n_formats or style):
                    raise XmlProblem("bad-xml", f"单元格样式 {style} 不存在，文件被改动", cell_name(pos))
                styles[pos] = style
            children = 0
            formula = False
            v_texts = []
            inline = None
            inlines = 0
            nested_text = False
        elif where == _SHEETDATA:
            if name != N_ROW:
                raise _foreign(name, part, (row_no, 0))
            where = _ROW
            r = attrs.get("r")
            new = _int(r, part) if r is not None else row_no + 1
            if new > max_rows:
                raise UsedRange(new, 1, (max_rows, max_cols))
            if new <= row_no:
                raise XmlProblem("bad-xml", f"第 {new} 行重复或顺序颠倒，文件被改动")
            row_no = new
            col_no = 0
        elif where == _SKIP or where == _LEAF:
            if _misplaced(name):  # cells outside the sheet's data,
                raise _foreign(name, part, (0, 0))  # e.g. in mc:AlternateContent, which others read
            where = _SKIP
        elif where == _TEXT:  # refused if the cell is read as an inline string (see on_end)
            if _misplaced(name):
                raise _foreign(name, part, pos)
            nested_text = True
            where = _SKIP
        elif where == _V:
            raise XmlProblem("bad-xml", "单元格的值里含其他元素，文件被改动", cell_name(pos))
        elif where == _ROOT:
            if name == N_SHEETDATA:
                blocks += 1
                if blocks > 1:
                    raise XmlProblem("bad-xml", f"{part} 含多个单元格数据区，文件被改动")
                where = _SHEETDATA
            elif name == N_DIMENSION:
                r1, c1, r2, c2 = parse_range(attrs.get("ref", "A1"))
                if r2 > max_rows or c2 > max_cols:
                    raise UsedRange(r2, c2, (max_rows, max_cols))
                where = _SKIP
            elif name == N_MERGECELLS:
                where = _MERGES
            elif _misplaced(name):
                raise _foreign(name, part, (0, 0))
            else:
                where = _SKIP
        elif where == _DOC:
            if name != N_WORKSHEET:
                raise XmlProblem("bad-xml", f"{part} 不是工作表，文件已损坏或被改动")
            where = _ROOT
        elif where == _MERGES and name == N_MERGE:
            view.merges.append(parse_range(attrs.get("ref", "")))
            where = _SKIP
        elif _misplaced(name):
            raise _foreign(name, part, (0, 0))
        else:
            where = _SKIP

    def on_end(_name: str) -> None:
        nonlocal where, texts, max_col
        ended = where
        where = pop()
        if ended == _CELL:
            if not children:  # no value, no formula: an empty (styled) cell
                if kind == "e":
                    values[pos] = ErrorValue("#VALUE!")
                return
            if formula:
                formulas.add(pos)
            if len(v_texts) > 1:
                raise XmlProblem("bad-xml", "单元格有多个值，文件被改动", cell_name(pos))
            if kind == "inlineStr" and v_texts:  # Excel shows the text, LibreOffice nothing
                raise XmlProblem("bad-xml", "文本单元格同时含数值，文件被改动", cell_name(pos))
            if nested_text and kind == "inlineStr":
                raise XmlProblem("bad-xml", f"{part} 的文本元素里含其他元素，文件被改动", cell_name(pos))
            if kind == "inlineStr":  # the two kinds a scoresheet is mostly made of, decided here
                value = unescape("".join(inline)) if inline is not None else None
            elif kind == "n" and v_texts and v_texts[0] and style not in date_styles:
                value = _number(v_texts[0], pos)
            else:
                value = _value(
                    kind,
                    v_texts[0] if v_texts else None,
                    inline,
                    style,
                    pos,
                    strings,
                    formats,
                    date_styles,
                    date1904,
                )
            if value is not None:
                values[pos] = value
        elif ended == _V:
            v_texts.append("".join(texts or ()))
            texts = None
        elif ended == _TEXT:
            if inline is not None:  # a <t> is read only in the cell's first <is>, or a run of it
                inline.append("".join(texts or ()))
            texts = None
        elif ended == _ROW:
            if col_no > max_col:
                max_col = col_no

    parser = _refusing(expat.ParserCreate(namespace_separator="}"))
    parser.buffer_text = True
    parser.buffer_size = 1 << 16
    parser.StartElementHandler = on_start
    parser.EndElementHandler = on_end
    parser.CharacterDataHandler = on_data
    try:
        parser.Parse(data, True)
    except _Refused as exc:
        raise _dtd(part) from exc
    except expat.ExpatError as exc:
        raise _malformed(part, exc.lineno) from exc
    except ValueError as exc:  # a multi-byte encoding declared (GBK, GB18030 …): expat reads none
        raise _encoding(part) from exc
    view.max_row = row_no
    view.max_col = max_col
    return view


# Where the streaming reader is, by the element it is inside.
_SKIP, _ROOT, _SHEETDATA, _MERGES, _ROW, _CELL, _V, _IS, _RUN, _TEXT, _LEAF, _DOC = range(12)
_NS_M = MAIN_NS + "}"  # expat's spelling of a name in the main namespace, with "}" as the separator
_NS_STRICT = STRICT_NS + "}"
"""A Strict SpreadsheetML name: refused anywhere in a (transitional) worksheet, as LibreOffice reads such
an element as if it were the transitional one (a second value, a forged cell …)."""
N_WORKSHEET, N_SHEETDATA, N_DIMENSION, N_MERGECELLS, N_MERGE, N_ROW, N_C, N_F, N_V, N_IS, N_T, N_R = (
    _NS_M + t
    for t in (
        "worksheet",
        "sheetData",
        "dimension",
        "mergeCells",
        "mergeCell",
        "row",
        "c",
        "f",
        "v",
        "is",
        "t",
        "r",
    )
)
N_EXTLST, N_RPR, N_RPH, N_PHONETICPR = (_NS_M + t for t in ("extLst", "rPr", "rPh", "phoneticPr"))
_IGNORED_IN_TEXT = frozenset({N_RPH, N_PHONETICPR})
_CELL_ELEMENTS = frozenset({N_SHEETDATA, N_ROW, N_C, N_V, N_IS})
"""Elements that hold cells or their values: refused anywhere but in their place in ``sheetData``."""


def _misplaced(name: str) -> bool:
    """An element that holds cells or values (in either namespace) found outside its place in
    ``sheetData``: refused, as another program may read it (inside mc:AlternateContent, a Strict twin …)."""
    return name in _CELL_ELEMENTS or name.startswith(_NS_STRICT)


def _foreign(name: str, part: str, pos: tuple[int, int]) -> XmlProblem:
    """An element where a spreadsheet's cells are, which the reader does not read and another program
    might (a Strict-namespace twin, a cell wrapped in mc:AlternateContent …): the file is refused."""
    where = cell_name(pos) if pos[0] and pos[1] else ""
    local = name.rpartition("}")[2][:30]
    return XmlProblem("bad-xml", f"{part} 的单元格数据中含不应有的元素 {local!r}，文件被改动", where)


_REF_CACHE: dict[str, tuple[int, int]] = {}
"""Cell references already parsed (the same few hundred recur in every return)."""
_STYLE_CACHE: dict[str, int] = {str(i): i for i in range(512)}


def _value(
    kind: str,
    v_text: str | None,
    inline: list[str] | None,
    style: int,
    pos: tuple[int, int],
    strings: list[str],
    formats: list[str],
    date_styles: frozenset[int],
    date1904: bool,
) -> object:
    """A cell's value from its type, the text of its ``<v>`` (None: none) and of its ``<is>``."""
    value: object = None
    if kind == "inlineStr":
        value = unescape("".join(inline)) if inline is not None else None
    elif v_text is None or (v_text == "" and kind != "str"):
        value = None  # an empty <v> (a formula not yet calculated) holds nothing
    elif kind == "s":
        index = _index(v_text)
        if index is None or index >= len(strings):
            raise XmlProblem("bad-xml", f"共享字符串编号 {v_text[:12]!r} 不存在，文件被改动", cell_name(pos))
        value = strings[index]
    elif kind == "n":
        value = _number(v_text, pos)
        if style in date_styles:
            value = _date(value, date1904, formats[style])
    elif kind == "str":
        value = unescape(v_text)
    elif kind == "b":
        if v_text.strip(_XML_SPACE) not in ("0", "1"):
            raise XmlProblem("bad-xml", f"逻辑值 {v_text[:10]!r} 无效，文件被改动", cell_name(pos))
        value = v_text.strip(_XML_SPACE) == "1"
    elif kind == "e":
        value = ErrorValue(v_text.strip(_XML_SPACE) or "#VALUE!")
    elif kind == "d":
        try:
            value = datetime.fromisoformat(v_text.strip(_XML_SPACE))
        except ValueError as exc:
            raise XmlProblem("bad-xml", f"日期值 {v_text[:20]!r} 无效，文件被改动", cell_name(pos)) from exc
    if kind == "e" and value is None:
        value = ErrorValue("#VALUE!")
    return value


def _number(text: str, pos: tuple[int, int]) -> float:
    if len(text) > 64 or _NUMBER.fullmatch(text) is None:
        raise XmlProblem("bad-xml", f"数值 {text[:20]!r} 无效，文件被改动", cell_name(pos))
    return float(text)


def _date(serial: float, date1904: bool, code: str) -> object:
    """A date-formatted number as the date, time or duration a spreadsheet shows (openpyxl's
    conversion, with the workbook's epoch); a number no date can show stays the number it is."""
    if _ELAPSED.search(code.split(";")[0]):  # [h]:mm:ss and the like: a duration, not a point in time
        try:
            return timedelta(days=serial)
        except OverflowError:
            return serial
    try:
        return serial_datetime(serial, date1904)
    except (OverflowError, ValueError):
        return serial


_EPOCHS = {False: datetime(1899, 12, 30), True: datetime(1904, 1, 1)}


def serial_datetime(serial: float, date1904: bool) -> datetime | time:
    """An Excel date serial as the point in time a spreadsheet shows: days since the workbook's epoch
    (1900 or 1904 system), the time of day to the millisecond; below 1, a time of day alone.  In the
    1900 system a serial below 60 is a day later, for Excel counts a 29 February 1900 that never was.
    openpyxl's ``from_excel`` to the letter (a test holds them equal): importing openpyxl for it cost
    each reader process a tenth of a second, every return's cover holding a date."""
    day, fraction = divmod(serial, 1)
    diff = timedelta(milliseconds=round(fraction * 86_400_000))
    if 0 <= serial < 1 and diff.days == 0:
        return (datetime.min + diff).time()
    if 0 < serial < 60 and not date1904:
        day += 1
    return _EPOCHS[date1904] + timedelta(days=day) + diff


def value_text(v: object) -> str:
    """A parsed cell value as text: blank for none, a whole float without its ".0"."""
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def cell_name(pos: tuple[int, int]) -> str:
    """(12, 8) -> 'H12'."""
    return f"{column_letter(pos[1])}{pos[0]}"


def covered_cells(ranges: list[tuple[int, int, int, int]], cells) -> set[tuple[int, int]]:
    """The cells (of a small, fixed set) that lie inside any of the ranges: linear in the ranges."""
    if not ranges:
        return set()
    by_row: dict[int, list[int]] = {}
    for r, c in cells:
        by_row.setdefault(r, []).append(c)
    rows = sorted(by_row)
    hit: set[tuple[int, int]] = set()
    for r1, c1, r2, c2 in ranges:
        if r1 == r2 and c1 == c2:
            if c1 in by_row.get(r1, ()):
                hit.add((r1, c1))
            continue
        for r in rows[bisect_left(rows, r1) : bisect_right(rows, r2)]:
            for c in by_row[r]:
                if c1 <= c <= c2:
                    hit.add((r, c))
    return hit

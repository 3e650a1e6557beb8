"""The XML layer of the reader on its own: what is refused, and how each legal spelling reads."""

from __future__ import annotations

from xml.sax.saxutils import escape

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from szqa_xl.returns import xmlparts as xp

M = xp.MAIN_NS


@pytest.mark.parametrize(
    ("doc", "outcome"),
    [
        (b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>', "dtd"),
        (b"<!-- " + b"x" * 50_000 + b" --><!DOCTYPE a><a/>", "dtd"),  # after a long comment
        (b'<?pi x?>\n<!DOCTYPE a SYSTEM "file:///etc/passwd"><a/>', "dtd"),
        (b"<a/><!DOCTYPE a>", "bad-xml"),  # a DOCTYPE after the root is not well-formed
        (b"<a><!DOCTYPE a></a>", "bad-xml"),
        (b"<!doctype a><a/>", "bad-xml"),  # lower case: not XML at all
        (b"<a>&e;</a>", "bad-xml"),  # an entity nobody declared
        ('<!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>'.encode("utf-16"), "dtd"),
        ('<?xml version="1.0" encoding="UTF-16"?><a>文</a>'.encode("utf-16"), "a"),
        (b"\xef\xbb\xbf<a/>", "a"),  # a byte order mark
        (b"", "bad-xml"),
    ],
)
def test_prolog_guard(doc: bytes, outcome: str) -> None:
    try:
        got = xp.root_of(doc, "part").tag
    except xp.XmlProblem as exc:
        got = exc.code
    assert got == outcome


def _sheet(cells: str, formats: list[str] | None = None) -> xp.SheetView:
    xml = f'<worksheet xmlns="{M}" xmlns:x="{M}"><sheetData>{cells}</sheetData></worksheet>'.encode()
    return xp.worksheet(xml, "sheet", ["甲", "乙"], formats or ["General"], False, 1000, 64)


@pytest.mark.parametrize(
    ("cells", "want"),
    [
        ('<row r="2"><c r="B2"><v>65</v></c></row>', {(2, 2): 65.0}),
        ("<row><c><v>1</v></c><c><v>2</v></c></row>", {(1, 1): 1.0, (1, 2): 2.0}),  # implied positions
        ("<row r='3'><c r = 'C3' t = 's'><v> 1 </v></c></row>", {(3, 3): "乙"}),
        ('<row r="1"><c r="A1"><v>6<!-- x -->5</v></c></row>', {(1, 1): 65.0}),
        ('<row r="1"><c r="A1"><v><![CDATA[65]]></v></c></row>', {(1, 1): 65.0}),
        ('<row r="1"><c r="A1"><v>&#54;&#x35;</v></c></row>', {(1, 1): 65.0}),
        ('<x:row r="1"><x:c r="A1" t="inlineStr"><x:is><x:t>x</x:t></x:is></x:c></x:row>', {(1, 1): "x"}),
        (
            '<row r="1"><c r="A1" t="inlineStr"><is><r><t>+86 0755 </t></r><r><t>热线</t></r>'
            "<rPh><t>ignored</t></rPh></is></c></row>",
            {(1, 1): "+86 0755 热线"},
        ),
        (
            '<row r="1"><c r="A1" t="inlineStr"><is><t>a_x000D_b_x005F_x0001_</t></is></c></row>',
            {(1, 1): "a\rb_x0001_"},
        ),
        (
            '<row r="1"><c r="A1" t="b"><v>1</v></c><c r="B1" t="e"><v>#N/A</v></c></row>',
            {(1, 1): True, (1, 2): "#N/A"},
        ),
        ('<row r="1"><c r="A1"><f>1+1</f><v></v></c></row>', {}),  # not calculated yet: no value
    ],
)
def test_cells_read_as_a_spreadsheet_reads_them(cells: str, want: dict) -> None:
    assert _sheet(cells).values == want


@pytest.mark.parametrize(
    ("cells", "code"),
    [
        ('<row r="2"/><row r="2"/>', "bad-xml"),  # the same row twice
        ('<row r="1"><c r="B1"/><c r="A1"/></row>', "bad-xml"),  # backwards
        ('<row r="1"><c r="A2"/></row>', "bad-xml"),  # a cell outside its row
        ('<row r="1"><c r="A1" t=" e"><v>1</v></c></row>', "bad-xml"),  # not a cell type
        ('<row r="1"><c r="A1"><v>1_0</v></c></row>', "bad-xml"),  # Python would read 10
        ('<row r="1"><c r="A1"><v>nan</v></c></row>', "bad-xml"),
        ('<row r="1"><c r="A1" t="s"><v>7</v></c></row>', "bad-xml"),  # no such shared string
        ('<row r="1"><c r="A1"><v>1</v><v>2</v></c></row>', "bad-xml"),  # two values
        ('<row r="1001"/>', "used-range"),
        ("<row>" + "<c/>" * 65 + "</row>", "used-range"),  # a column implied by order
    ],
)
def test_what_is_refused(cells: str, code: str) -> None:
    with pytest.raises(xp.XmlProblem) as info:
        _sheet(cells)
    assert info.value.code == code


@pytest.mark.parametrize(
    ("code", "is_date"),
    [
        ("yyyy-mm-dd", True),
        ("h:mm", True),
        ('0" d"', False),
        ("General", False),
        ("0%", False),
        ("[Red]0", False),
    ],
)
def test_date_formats(code: str, is_date: bool) -> None:
    assert xp.is_date_format(code) is is_date


def test_elapsed_time_is_a_duration() -> None:
    """3 in a cell formatted [h]:mm:ss shows 72:00:00: a duration, not 3 January 1900."""
    from datetime import timedelta

    view = _sheet('<row r="1"><c r="A1" s="1"><v>3</v></c></row>', ["General", "[h]:mm:ss"])
    assert view.values == {(1, 1): timedelta(days=3)}


# -- the streaming worksheet reader against a tree walk (tests/tree_worksheet.py) ------------------

_PREFIXES = ("", "x:")
_TEXTS = ("65", " 1 ", "1", "0", "1e3", "-0.5", "甲乙", "a_x000D_b", "+86 热线", "", "#N/A", "2027-05-20")
_NOT_ASCII = (
    "\u00a065",
    "65\u3000",
    "\u0661",
    "\n\t1 ",
)  # NBSP, ideographic space, Arabic-Indic 1; XML space
_MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"

_FITTING = {
    None: ("65", " 1 ", "1e3", "-0.5"),
    "n": ("65", "0"),
    "s": ("0", " 1 "),
    "b": ("0", "1"),
    "e": ("#N/A",),
}
_FITTING["d"] = ("2027-05-20", "2027-05-20T08:30:00")


@st.composite
def _text_spelling(draw, text: str) -> str:
    """One of the legal spellings of a text inside an element: plain, character references, CDATA,
    split by a comment or a processing instruction."""
    how = draw(st.sampled_from(("plain", "refs", "cdata", "comment", "pi")))
    if how == "refs":
        return "".join(f"&#{ord(ch)};" if k % 2 == 0 else f"&#x{ord(ch):x};" for k, ch in enumerate(text))
    if how == "cdata":
        return f"<![CDATA[{text}]]>"
    if how in ("comment", "pi") and len(text) > 1:
        cut = draw(st.integers(1, len(text) - 1))
        mid = "<!-- n -->" if how == "comment" else "<?pi x?>"
        return escape(text[:cut]) + mid + escape(text[cut:])
    return escape(text)


@st.composite
def _cell_xml(draw, p: str, row: int, col: int, explicit: bool) -> str:
    attrs = []
    if explicit:
        attrs.append(f'r="{xp.column_letter(col)}{row}"')
    kind = draw(
        st.sampled_from((None, None, "n", "str", "str", "inlineStr", "inlineStr", "s", "b", "e", "d", "zz"))
    )
    if kind:
        attrs.append(f"t='{kind}'")
    if draw(st.booleans()):
        attrs.append(f's="{draw(st.integers(0, 3))}"')
    attrs = draw(st.permutations(attrs))
    body = []
    parts = (
        "v",
        "v",
        "v",
        "v",
        "f",
        "is",
        "is",
        "rich",
        "junk",
        "nested",
        "strict",
        "mc",
        "two-t",
        "v-strict",
    )
    # "v" twice now and then: refused; so are Strict names, wrapped values, a run of two texts
    for part in draw(
        st.lists(st.sampled_from(parts), max_size=3).map(lambda ps: ps[:1] + sorted(set(ps[1:])))
    ):
        pool = (_TEXTS, _NOT_ASCII, _FITTING.get(kind, _TEXTS), _FITTING.get(kind, _TEXTS))
        text = draw(st.sampled_from(draw(st.sampled_from(pool))))
        if part == "v":
            body.append(f"<{p}v>{draw(_text_spelling(text))}</{p}v>")
        elif part == "f":
            ref = draw(st.sampled_from(("", ' t="array" ref="A1:B2"', ' t="shared" ref="A1:A9" si="0"')))
            body.append(f"<{p}f{ref}>1+1</{p}f>")
        elif part == "is":
            body.append(f"<{p}is><{p}t>{draw(_text_spelling(text))}</{p}t></{p}is>")
        elif part == "rich":
            body.append(
                f"<{p}is><{p}r><{p}rPr/><{p}t>{escape(text)}</{p}t></{p}r><{p}rPh><{p}t>x</{p}t></{p}rPh>"
                f"<{p}r><{p}t xml:space='preserve'> {escape(text)}</{p}t></{p}r></{p}is>"
            )
        elif part == "strict":
            body.append(f'<v xmlns="{xp.STRICT_NS}">{escape(text)}</v>')
        elif part == "v-strict":
            body.append(f'<{p}v>{escape(text)}</{p}v><s:v xmlns:s="{xp.STRICT_NS}">9</s:v>')
        elif part == "mc":
            body.append(
                f'<mc:AlternateContent xmlns:mc="{_MC}"><mc:Choice Requires="zz"><{p}v>9</{p}v></mc:Choice>'
                f"<mc:Fallback><{p}v>{escape(text)}</{p}v></mc:Fallback></mc:AlternateContent>"
            )
        elif part == "two-t":
            body.append(f"<{p}is><{p}r><{p}t>{escape(text)}</{p}t><{p}t>x</{p}t></{p}r></{p}is>")
        elif part == "junk":
            body.append(f"<{p}extLst><{p}v>9</{p}v></{p}extLst>")
        else:
            body.append(
                f"<{p}v>1<{p}b/></{p}v>" if draw(st.booleans()) else f"<{p}is><{p}t>a<{p}b/></{p}t></{p}is>"
            )
    return f"<{p}c {' '.join(attrs)}>{''.join(body)}</{p}c>" if body else f"<{p}c {' '.join(attrs)}/>"


@st.composite
def _sheet_xml(draw) -> bytes:
    p = draw(st.sampled_from(_PREFIXES))
    rows = []
    prev_row = 0
    for _ in range(draw(st.integers(0, 4))):
        explicit_row = draw(st.booleans())
        row = prev_row + (draw(st.sampled_from((1, 1, 1, 2, 3, 0))) if explicit_row else 1)  # 0: again
        prev_row = row
        cells, prev_col = [], 0
        for _ in range(draw(st.integers(0, 4))):
            explicit = draw(st.booleans())
            col = max(1, prev_col + (draw(st.sampled_from((1, 1, 1, 2, 0))) if explicit else 1))  # 0: again
            prev_col = col
            cells.append(draw(_cell_xml(p, row, col, explicit)))
        r = f' r="{row}"' if explicit_row else ""
        rows.append(f"<{p}row{r}>{''.join(cells)}</{p}row>")
    head = draw(st.sampled_from(("", "", f'<{p}dimension ref="A1:C9"/>', f"<{p}dimension ref='A1:ZZ9'/>")))
    tail = draw(st.sampled_from(("", f'<{p}mergeCells><{p}mergeCell ref="A1:B1"/></{p}mergeCells>')))
    extra = draw(
        st.sampled_from(
            (
                "",
                "",
                "",
                f"<{p}sheetData/>",
                f"<{p}sheetPr><{p}row r='1'/></{p}sheetPr>",
                f'<mc:AlternateContent xmlns:mc="{_MC}"><mc:Fallback><{p}sheetData><{p}row r="1">'
                f'<{p}c r="A1"><{p}v>9</{p}v></{p}c></{p}row></{p}sheetData></mc:Fallback></mc:AlternateContent>',
                f'<mc:AlternateContent xmlns:mc="{_MC}"><mc:Choice Requires="x14"><{p}cols/></mc:Choice>'
                "</mc:AlternateContent>",  # Excel's own kind: no cells in it, read as usual
            )
        )
    )
    xmlns = f'xmlns:x="{M}"' if p else f'xmlns="{M}"'
    return f"<{p}worksheet {xmlns}>{head}<{p}sheetData>{''.join(rows)}</{p}sheetData>{extra}{tail}</{p}worksheet>".encode()


def _outcome(parse, data: bytes):
    try:
        v = parse(data, "sheet", ["甲", "乙"], ["General", "0", "yyyy-mm-dd", "[h]:mm"], False, 50, 20)
    except xp.XmlProblem as exc:
        return ("refused", exc.code)
    return (v.values, v.formulas, v.formula_ranges, v.styles, v.merges, v.max_row, v.max_col)


@settings(max_examples=400, deadline=None)
@given(_sheet_xml())
def test_streaming_reader_reads_as_the_tree_walk(data: bytes) -> None:
    """Every sheet — legal spellings, unknown elements, refusals — reads the same by expat's stream
    as by a tree built whole and walked (the two differ at most in which refusal is named first
    when a sheet has two faults; both refuse)."""
    from tree_worksheet import tree_worksheet

    got, want = _outcome(xp.worksheet, data), _outcome(tree_worksheet, data)
    if want[0] == "refused" and got[0] == "refused":
        return
    assert got == want


@settings(max_examples=3000, deadline=None)
@given(
    st.one_of(
        st.floats(min_value=-1e6, max_value=3e6, allow_nan=False),
        st.floats(min_value=-2, max_value=62),
        st.integers(min_value=-800_000, max_value=3_000_000).map(float),
        st.sampled_from(
            [0.0, 1.0, 59.0, 59.999999, 60.0, 60.5, 61.0, 0.9999999999, 1e-12, -0.5, 2958465.99999999]
        ),
    ),
    st.booleans(),
)
def test_date_serials_as_openpyxl_converts_them(serial: float, date1904: bool) -> None:
    """The reader's date conversion gives what openpyxl's ``from_excel`` gives (the oracle), or fails
    the same way, in both date systems."""
    from openpyxl.utils.datetime import CALENDAR_MAC_1904, CALENDAR_WINDOWS_1900, from_excel

    def outcome(fn):
        try:
            return fn()
        except (OverflowError, ValueError) as exc:
            return type(exc)

    want = outcome(lambda: from_excel(serial, CALENDAR_MAC_1904 if date1904 else CALENDAR_WINDOWS_1900))
    got = outcome(lambda: xp.serial_datetime(serial, date1904))
    assert got == want and type(got) is type(want)

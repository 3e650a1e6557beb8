"""The XML layer of the reader on its own: what is refused, and how each legal spelling reads."""

from __future__ import annotations

import pytest

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

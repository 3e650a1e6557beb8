"""A workbook plan: cells, styles, formulas, validations, names, protection.

Layout code builds these plain objects; ``writer.render`` is the only code that
turns them into an .xlsx.  Keeping the plan free of openpyxl makes every layout
decision testable in memory.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal, NamedTuple

SheetState = Literal["visible", "hidden", "veryHidden"]


PX_PER_CM = 96 / 2.54
"""Pixels per centimetre at 100 %, as Excel and XlsxWriter size charts and columns."""


def column_letter(index: int) -> str:
    """1 -> 'A', 28 -> 'AB'."""
    letters = ""
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


_REF = re.compile(r"\$?([A-Z]{1,3})\$?([0-9]+)")


def column_index(letters: str) -> int:
    """'A' -> 1, 'AB' -> 28."""
    n = 0
    for ch in letters:
        n = n * 26 + (ord(ch) - 64)
    return n


@lru_cache(maxsize=1 << 12)
def split_ref(ref: str) -> tuple[int, int]:
    """'H12' (or '$H$12') -> (row 12, column 8), both 1-based.

    Cached for the few hundred cells that every scoresheet, applicant sheet and panel workbook
    repeats (the six blank templates have 638 between them).  The cache is kept small: the long
    sheets of a large consolidation (a row per return or per score) add refs seen once each, and
    a cache of 65,536 held ~15 MiB of them until the process ended."""
    m = _REF.fullmatch(ref)
    if m is None:
        raise ValueError(f"bad cell reference {ref!r}")
    return int(m.group(2)), column_index(m.group(1))


@dataclass(frozen=True)
class Style:
    """Cell look and lock state, in plain values."""

    bold: bool = False
    size: float = 10
    color: str | None = None  # font RGB hex
    fill: str | None = None  # background RGB hex
    wrap: bool = False
    halign: str | None = None  # left | center | right
    valign: str = "top"
    border: bool = False
    locked: bool = True
    number_format: str | None = None
    italic: bool = False


class Cell(NamedTuple):
    """One cell of a plan (a named tuple: a large sheet plans hundreds of thousands of them)."""

    ref: str
    value: Any
    style: str | None = None
    formula: bool = False  # only then may a string starting with "=" become a formula
    array: bool = False  # a dynamic-array formula (spills in Excel 365), with ``formula``


@dataclass(frozen=True)
class Validation:
    sqref: str
    kind: Literal["list", "textLength", "date", "whole", "decimal"]
    formula1: str
    formula2: str | None = None
    operator: str | None = None
    prompt_title: str | None = None
    prompt: str | None = None
    error_title: str = "输入无效"
    error: str = "请从下拉列表中选择。"
    allow_blank: bool = True
    show_error: bool = True  # False: the list only suggests, any other entry is accepted


@dataclass(frozen=True)
class CondFormat:
    sqref: str
    formula: str
    fill: str
    font_color: str | None = None


@dataclass(frozen=True)
class Chart:
    kind: Literal["bar", "col"]
    anchor: str
    title: str
    data_ref: str  # "Sheet!$B$1:$D$9" with a header row
    cats_ref: str
    y_title: str | None = None
    y_max: float | None = None  # the value axis runs from 0 (never a truncated axis) to this, or automatic
    width_cm: float = 16
    height_cm: float = 8


@dataclass(frozen=True)
class Button:
    """A form-control button that runs a macro of the workbook's VBA project."""

    cell: str
    caption: str
    macro: str
    width_px: int = 120
    height_px: int = 30


@dataclass
class Sheet:
    title: str
    cells: list[Cell] | Iterator[Cell] = field(default_factory=list)
    styles_by_range: list[tuple[str, str]] = field(default_factory=list)
    merges: list[str] = field(default_factory=list)
    col_widths: dict[str, float] = field(default_factory=dict)
    row_heights: dict[int, float] = field(default_factory=dict)
    validations: list[Validation] = field(default_factory=list)
    cond_formats: list[CondFormat] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    freeze: str | None = None
    state: SheetState = "visible"
    protect: bool = True
    landscape: bool = True
    paper: Literal["A4", "A3"] = "A4"
    fit_width: bool = True
    print_title_rows: str | None = None
    # ranges printed ("A1:R60"), each on pages of its own, in this order; none: all that is used
    print_areas: list[str] = field(default_factory=list)
    tab_color: str | None = None
    hidden_cols: list[str] = field(default_factory=list)
    buttons: list[Button] = field(default_factory=list)
    vba_name: str | None = None  # the sheet's code name in a macro-enabled workbook
    rows_in_order: bool = False  # cells come row by row (may be an iterator): the writer streams them

    def put(self, ref: str, value: Any, style: str | None = None, formula: bool = False) -> None:
        self.cells.append(Cell(ref, value, style, formula))


class SheetStream:
    """Sheets planned one at a time, to be read once (by the writer): a large plan never exists whole.

    Each sheet is planned by one of ``makers`` (functions of no arguments,
    independent of each other), so a writer may also hand some of them to
    another process.
    """

    def __init__(self, makers: Sequence[Callable[[], Sheet]]) -> None:
        self._makers: Sequence[Callable[[], Sheet]] | None = makers

    def take_makers(self) -> Sequence[Callable[[], Sheet]]:
        """The sheet makers, in sheet order (the stream is then used up)."""
        if self._makers is None:
            raise RuntimeError("a SheetStream can be read only once")
        makers, self._makers = self._makers, None
        return makers

    def __iter__(self) -> Iterator[Sheet]:
        return (make() for make in self.take_makers())

    def __len__(self) -> int:
        """The number of sheets (known before they are planned); 0 once the stream is read."""
        return len(self._makers) if self._makers is not None else 0


@dataclass
class Workbook:
    sheets: list[Sheet] | SheetStream
    styles: dict[str, Style]
    names: dict[str, str] = field(default_factory=dict)  # defined name -> "'Sheet'!$A$1:$A$5"
    lock_structure: bool = True
    title: str = ""
    active: int = 0
    # large: rows written in order and flushed (XlsxWriter's constant_memory); merges within a row
    large: bool = False
    vba_project: str | None = None  # path of a vbaProject.bin to embed, byte for byte (an .xlsm)
    vba_name: str | None = None  # the workbook's code name in its VBA project
    custom_properties: dict[str, str] = field(default_factory=dict)
    created: Any = None  # a fixed creation time (datetime) for a reproducible file; None: now

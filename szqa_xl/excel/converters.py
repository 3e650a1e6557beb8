"""Converter options and input parsing shared by the xlwings UDFs (:mod:`szqa_xl.udfs`) and their tests.

The option dictionaries are written here once and applied with ``@xw.arg("x", **RANGE_2D)``;
the tests feed the UDFs values of the shapes these options make xlwings produce.  The
parsing helpers turn whatever a cell can hold (blank, ``"80%"``, ``85.0``, ``0.85`` from a
cell formatted as a percentage, full-width digits …) into the whole percentages of the
core (:mod:`szqa_xl.standards.grid`), or raise :class:`InputError` with a message meant for a cell.

No xlwings import here: this module works everywhere.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path

from szqa_xl.standards.load import builtin_standard, builtin_standards
from szqa_xl.standards.models import AWARD_IDS, KIND_ZH, Kind, Standard

# -- xlwings converter options (the one place they are written) -------------------

RANGE_2D: dict = dict(ndim=2, empty=None)
"""A block of cells, a row, a column or a single cell: always a list of rows; blanks → None."""

CELL: dict = dict(empty=None)
"""One value (a cell or a literal): a blank cell → None."""

# The consolidation table is returned as a plain list of rows with no ``@xw.ret`` options:
# Excel 365/2021 spills it natively.  ``expand="table"`` would switch xlwings to its legacy
# array emulation, which fights native spilling, so it is deliberately not used.

FUNCTION_CATEGORY = "深圳市市长质量奖"
"""Category of the UDFs in Excel's Insert Function dialog."""

# -- texts shown in cells -----------------------------------------------------------

ERROR_PREFIX = "错误："
DEFAULT_AWARD = AWARD_IDS[0]
"""Used only for its grid step when a UDF is given no award category (all share 5 %)."""


class InputError(ValueError):
    """Bad input to a UDF; ``str(exc)`` is the text the cell shows."""

    def __init__(self, message: str):
        super().__init__(ERROR_PREFIX + message)


def error_text(exc: BaseException) -> str:
    """The cell text for any exception: InputError as is, anything else named."""
    if isinstance(exc, InputError):
        return str(exc)
    return f"{ERROR_PREFIX}{type(exc).__name__}: {exc}"


def incomplete_text(scored: int, total: int) -> str:
    return f"未完成（已评 {scored}/{total}）"


# -- shapes ---------------------------------------------------------------------------


def flatten(value: object) -> list:
    """Cells of a scalar, a row/column list or a list of rows, in reading order."""
    if isinstance(value, (list, tuple)):
        out: list = []
        for v in value:
            if isinstance(v, (list, tuple)):
                out.extend(v)
            else:
                out.append(v)
        return out
    return [value]


def is_blank(v: object) -> bool:
    if v is None:
        return True
    if isinstance(v, float) and math.isnan(v):
        return True
    return isinstance(v, str) and not v.strip()


def _text(v: object) -> str:
    return unicodedata.normalize("NFKC", str(v)).strip()


# -- numbers and percentages --------------------------------------------------------


def _number(v: object, what: str) -> float:
    """A real number from a number cell or numeric text; bools and other text are errors."""
    if isinstance(v, bool):
        raise InputError(f"{what}是逻辑值 {v}，应为数字")
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        x = float(v)
    else:
        s = _text(v).replace(",", "")
        try:
            x = float(s)
        except ValueError:
            raise InputError(f"{what}“{v}”不是数字") from None
    if not math.isfinite(x):
        raise InputError(f"{what}不是有限的数字")
    return x


def _pct_cell(v: object, what: str) -> tuple[float, bool]:
    """(value, written_as_percent) of one non-blank cell: ``"80%"`` → (80, True), ``0.8`` → (0.8, False)."""
    if isinstance(v, str):
        s = _text(v)
        if s.endswith("%"):
            return _number(s[:-1], what), True
    return _number(v, what), False


def _clean(x: float) -> float:
    """Round away binary noise such as 0.85 * 100 = 85.00000000000001."""
    return round(x, 9) + 0.0


def pct_values(value: object, what: str = "得分率") -> list[float | None]:
    """Whole percentages (0–100) of the cells, None for blanks.

    Numbers are whole percentages (85 = 85 %).  When every number of the range lies in
    0–1 and one of them has a fractional part, the cells hold Excel percentages
    (``85%`` is stored as 0.85) and are scaled by 100.  Text such as ``"80%"`` is
    always a whole percentage.  Grid checks are left to :func:`check_on_grid`.
    """
    cells = flatten(value)
    parsed: list[tuple[float, bool] | None] = []
    for i, v in enumerate(cells, start=1):
        where = f"{what}第{i}格" if len(cells) > 1 else what
        parsed.append(None if is_blank(v) else _pct_cell(v, where))
    plain = [x for x, explicit in filter(None, parsed) if not explicit]
    fractions = bool(plain) and all(0 <= x <= 1 for x in plain) and any(0 < x < 1 for x in plain)
    out: list[float | None] = []
    for p in parsed:
        if p is None:
            out.append(None)
        else:
            x, explicit = p
            out.append(_clean(x * 100) if fractions and not explicit else _clean(x))
    return out


def pct_value(value: object, what: str = "得分率") -> float | None:
    """One percentage (see :func:`pct_values`); a range of more than one cell is an error."""
    cells = flatten(value)
    if len(cells) != 1:
        raise InputError(f"{what}应为一个单元格，而不是 {len(cells)} 个")
    return pct_values(cells, what)[0]


def check_on_grid(std: Standard, pcts: Sequence[float | None], what: str = "得分率") -> None:
    """Raise InputError naming the first percentage that is not on the standard's grid."""
    from szqa_xl.standards import grid

    for i, p in enumerate(pcts, start=1):
        if p is not None and not grid.on_grid(std, p):
            where = f"{what}第{i}格" if len(pcts) > 1 else what
            shown = f"{p:g}"
            raise InputError(
                f"{where} {shown} 不在评分网格上（应为 0～100 之间 {std.grid_step} 的整数倍，如 "
                f"{', '.join(str(v) for v in std.grid()[:4])}…100）"
            )


def points_values(value: object, what: str = "分值") -> list[float | None]:
    """Positive unit points of the cells, None for blanks."""
    cells = flatten(value)
    out: list[float | None] = []
    for i, v in enumerate(cells, start=1):
        where = f"{what}第{i}格" if len(cells) > 1 else what
        if is_blank(v):
            out.append(None)
            continue
        x = _number(v, where)
        if x <= 0:
            raise InputError(f"{where} {x:g} 不是正数")
        out.append(_clean(x))
    return out


# -- words ----------------------------------------------------------------------------

KIND_WORDS: dict[str, Kind] = {
    "process": "process",
    "result": "result",
    "results": "result",
    "p": "process",
    "r": "result",
    **{zh: kind for kind, zh in KIND_ZH.items()},  # 过程, 结果
    "过程类": "process",
    "结果类": "result",
    "过程指南": "process",
    "结果指南": "result",
}


def parse_kind(value: object) -> Kind:
    if is_blank(value):
        raise InputError("缺少评分指南类型（过程 或 结果）")
    kind = KIND_WORDS.get(_text(value).lower())
    if kind is None:
        raise InputError(f"评分指南类型“{value}”无效，应为 过程 或 结果（process / result）")
    return kind


def parse_award(value: object, default: str | None = None) -> Standard:
    """A built-in standard from an award id (economic), 经济类 or 经济; never a file path."""
    if is_blank(value):
        if default is None:
            raise InputError("缺少奖项类别（如 经济类 或 economic）")
        return builtin_standard(default)
    s = _text(value)
    if s.lower() in AWARD_IDS:
        return builtin_standard(s.lower())
    for std in builtin_standards():
        if s in (std.name_zh, std.name_zh.removesuffix("类")):
            return std
    names = "、".join(std.name_zh for std in builtin_standards())
    raise InputError(f"未知奖项类别“{value}”，应为 {names} 或 {', '.join(AWARD_IDS)}")


def parse_year(value: object, required: bool = False) -> int | None:
    if is_blank(value):
        if required:
            raise InputError("缺少评审年度")
        return None
    x = _number(value, "评审年度")
    if x != int(x) or not 2000 <= x <= 2100:
        raise InputError(f"评审年度 {value} 无效，应为四位年份如 2027")
    return int(x)


def parse_int(value: object, what: str, default: int) -> int:
    if is_blank(value):
        return default
    x = _number(value, what)
    if x != int(x) or x < 0:
        raise InputError(f"{what} {value} 应为非负整数")
    return int(x)


def parse_float(value: object, what: str, default: float) -> float:
    if is_blank(value):
        return default
    x = _number(value, what)
    if x < 0:
        raise InputError(f"{what} {value} 不能为负数")
    return x


YES_WORDS = {"是", "y", "yes", "true", "1", "1.0", "对", "覆盖"}
NO_WORDS = {"否", "n", "no", "false", "0", "0.0", "不", ""}


def parse_bool(value: object, what: str) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    s = _text(value).lower()
    if s in YES_WORDS:
        return True
    if s in NO_WORDS:
        return False
    raise InputError(f"{what}“{value}”应为 是 或 否")


def parse_path(value: object, what: str, base_dir: Path | str | None = None) -> Path | None:
    """A path from a cell; a relative one is taken from ``base_dir`` (the workbook's folder).

    Without a base folder a relative path is an error: Excel's working folder is not the
    workbook's, so guessing would read the wrong files.
    """
    if is_blank(value):
        return None
    s = str(value).strip().strip('"').strip()
    p = Path(s).expanduser()
    if _is_absolute(s):
        return p
    if base_dir is None or is_blank(base_dir):
        raise InputError(f"{what}“{s}”是相对路径，请填写完整路径（如 D:\\评审\\2027\\回收）")
    return Path(str(base_dir).strip()) / p


def _is_absolute(s: str) -> bool:
    """Absolute on this machine, or a Windows drive/UNC path (so that tests on Linux agree)."""
    if Path(s).is_absolute():
        return True
    return (len(s) > 2 and s[1] == ":" and s[2] in "\\/") or s.startswith("\\\\")


# -- tables -----------------------------------------------------------------------------


def cell_value(v: object) -> object:
    """A value Excel can hold: numbers as int/float, missing as "", anything else as text."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return v
    try:
        import numpy as np

        if isinstance(v, np.generic):
            v = v.item()
    except ImportError:  # pragma: no cover - numpy comes with pandas
        pass
    if isinstance(v, float):
        return "" if math.isnan(v) else v
    if isinstance(v, int):
        return v
    try:
        import pandas as pd

        if v is pd.NA or v is pd.NaT:
            return ""
    except ImportError:  # pragma: no cover
        pass
    return str(v)


def table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> list[list[object]]:
    """[header] + rows with every value made Excel-safe (see :func:`cell_value`)."""
    return [list(header)] + [[cell_value(v) for v in row] for row in rows]

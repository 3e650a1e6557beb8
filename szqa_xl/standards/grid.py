"""Scoring arithmetic on the guide's grid: bands, percentages, unit scores, status.

Percentages are whole numbers 0–100 (the sheet's 得分率 column), never fractions.
These functions are the Python twin of the scoresheet's native formulas; tests
check one against the other after LibreOffice recalculates.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from szqa_xl.standards.models import Band, Kind, Standard

# Status words shown in the scoresheet's 状态 column (and checked by consolidation).
STATUS_OK = "已评"
STATUS_BLANK = "未评分"
STATUS_NO_BAND = "缺评分区间"
STATUS_NO_PCT = "缺得分率"
STATUS_OFF_GRID = "非网格值"
STATUS_OUT_OF_BAND = "超出区间"
STATUS_BAD_BAND = "区间无效"


def band_label(band: Band) -> str:
    """The text an examiner picks in the band dropdown, unique within a guide."""
    if band.level:
        return f"{band.level} {band.min}～{band.max}%"
    return f"{band.min}～{band.max}%"


_LABELS: dict[tuple[int, str], tuple[Standard, list[str]]] = {}


def band_labels(std: Standard, kind: Kind) -> list[str]:
    """Dropdown labels of a guide's bands (computed once per standard object and kind)."""
    hit = _LABELS.get((id(std), kind))
    if hit is None or hit[0] is not std:
        hit = _LABELS[(id(std), kind)] = (std, [band_label(b) for b in std.guide(kind).bands])
    return list(hit[1])


def band_values(std: Standard, band: Band) -> list[int]:
    """Grid percentages inside a band (closed range)."""
    return [p for p in std.grid() if band.min <= p <= band.max]


def band_index(std: Standard, kind: Kind, label: str) -> int | None:
    """0-based index of the band with that dropdown label, or None."""
    try:
        return band_labels(std, kind).index(label)
    except ValueError:
        return None


def bands_of_pct(std: Standard, kind: Kind, pct: float) -> list[int]:
    """Indices of every band containing pct (two at a shared boundary such as 20)."""
    return [i for i, b in enumerate(std.guide(kind).bands) if b.min <= pct <= b.max]


def band_of_pct(std: Standard, kind: Kind, pct: float) -> int | None:
    """The lowest band containing pct: where ranges share a boundary the lower band is used."""
    found = bands_of_pct(std, kind, pct)
    return found[0] if found else None


def on_grid(std: Standard, pct: float) -> bool:
    return 0 <= pct <= 100 and float(pct) == int(pct) and int(pct) % std.grid_step == 0


def snap(value: float, step: int = 5) -> int:
    """Nearest grid value, halves rounded up (62.5 → 65), clamped to 0–100."""
    snapped = math.floor(value / step + 0.5) * step
    return int(min(100, max(0, snapped)))


def unit_score(points: int, pct: float) -> float:
    return points * pct / 100


def unit_status(std: Standard, kind: Kind, band: str | None, pct: float | None) -> str:
    """What the 状态 column shows for a row: the Python twin of its formula."""
    if band in (None, "") and pct is None:
        return STATUS_BLANK
    if band in (None, ""):
        return STATUS_NO_BAND
    idx = band_index(std, kind, band)
    if idx is None:
        return STATUS_BAD_BAND
    if pct is None:
        return STATUS_NO_PCT
    if not on_grid(std, pct):
        return STATUS_OFF_GRID
    b = std.guide(kind).bands[idx]
    if not b.min <= pct <= b.max:
        return STATUS_OUT_OF_BAND
    return STATUS_OK


def median(values: Sequence[float]) -> float:
    s = sorted(values)
    n = len(s)
    if not n:
        raise ValueError("median of nothing")
    mid = n // 2
    return float(s[mid]) if n % 2 else (s[mid - 1] + s[mid]) / 2


def consensus(values: Iterable[float], step: int = 5) -> int:
    """Default consensus percentage: the median snapped to the grid."""
    return snap(median(list(values)), step)


def spread_in_bands(std: Standard, kind: Kind, pcts: Iterable[float]) -> int:
    """How many bands apart the lowest and highest percentages are (0 = same band)."""
    idx = [band_of_pct(std, kind, p) for p in pcts]
    idx = [i for i in idx if i is not None]
    return max(idx) - min(idx) if idx else 0

"""Pure pandas core of consolidation: tidy scores in, statistics out.

No file I/O here: :mod:`batch` reads returns into a tidy long frame, these
functions compute per-unit, per-applicant and per-examiner tables, and
:mod:`report` plans the consolidated workbook from them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from szqa_xl.standards import grid
from szqa_xl.standards.load import builtin_standard

TIDY_COLUMNS = [
    "year",
    "award_category",
    "stage",
    "applicant_id",
    "applicant_name",
    "examiner_id",
    "examiner_name",
    "unit",
    "kind",
    "unit_points",
    "band",
    "band_index",
    "pct",
    "points",
    "strengths",
    "ofi",
    "evidence",
    "issue_id",
    "file",
]
"""Columns of the tidy long frame: one row per (returned file, scoring unit).

``points`` is the awarded score (unit_points × pct / 100); ``pct`` is blank for
an unscored unit, never 0.
"""

GROUP = ["year", "award_category", "stage", "applicant_id"]


@dataclass(frozen=True)
class Thresholds:
    """When a unit is flagged for discussion at the consensus meeting."""

    bands_apart: int = 2
    range_points: float = 25.0


def rows_by_key(frame: pd.DataFrame) -> dict[tuple[str, ...], np.ndarray]:
    """Group key (its ``GROUP`` values as text) -> the positions of its rows, groups in the order of
    their first row; a row whose key is missing belongs to none (as groupby leaves it out)."""
    if not len(frame):
        return {}
    groups = frame.groupby(GROUP, sort=False, observed=True).indices
    ordered = sorted(groups.items(), key=lambda kv: kv[1][0])
    return {tuple(str(v) for v in key): index for key, index in ordered}


class GroupRows:
    """Some columns of a frame, for taking the rows of one group at a time as plain lists.

    ``rows(index)`` is what ``frame[name].to_numpy(dtype=object)[index].tolist()`` gives for each
    column (``nan`` for a missing category or float, ``pd.NA`` for a missing nullable value), but
    the columns stay in their own compact dtypes meanwhile: no object copy of the whole frame with
    a Python object per value, which held ~23 MiB of a 10,000-return consolidation (this: 0.7 MiB)
    while its workbook was being written.  Only one group's values are boxed at a time.
    """

    def __init__(self, frame: pd.DataFrame, names: list[str]) -> None:
        self._takers = {n: _taker(frame[n]) for n in names}

    def rows(self, index) -> dict[str, list]:
        """Column name -> the values at ``index`` (positions), in that order."""
        return {n: take(index) for n, take in self._takers.items()}


def _taker(column: pd.Series):
    """A function of positions giving the column's values there as a list of Python objects."""
    dtype = column.dtype
    if isinstance(dtype, pd.CategoricalDtype) and dtype.categories.dtype.kind in "OT":
        codes = column.array.codes  # the categorical's own codes (read-only), not a copy
        lookup = np.empty(len(dtype.categories) + 1, dtype=object)
        lookup[:-1] = dtype.categories.to_numpy(dtype=object)
        lookup[-1] = np.nan  # code -1: a missing category
        return lambda index: lookup[codes[index]].tolist()
    if isinstance(dtype, np.dtype) and dtype.kind in "biuf":
        values = column.to_numpy()
        return lambda index: values[index].tolist()
    if isinstance(dtype, (pd.BooleanDtype, pd.Int64Dtype, pd.Float64Dtype)):
        missing = column.isna().to_numpy()
        values = column.to_numpy(dtype=dtype.numpy_dtype, na_value=dtype.numpy_dtype.type(0))

        def take(index) -> list:
            out = values[index].tolist()
            for i in np.flatnonzero(missing[index]).tolist():
                out[i] = pd.NA
            return out

        return take
    boxed = column.to_numpy(dtype=object)  # any other dtype: as the object copy itself
    return lambda index: boxed[index].tolist()


def empty_tidy() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in TIDY_COLUMNS})


def unit_stats(tidy: pd.DataFrame, thresholds: Thresholds = Thresholds()) -> pd.DataFrame:
    """Per applicant and unit: n, median, mean, min, max, range in points, spread in bands, flag, consensus."""
    keys = GROUP + ["unit"]
    scored = tidy.dropna(subset=["pct"])
    cols = keys + [
        "kind",
        "unit_points",
        "n",
        "median",
        "mean",
        "min",
        "max",
        "range_points",
        "spread_bands",
        "flag",
        "consensus",
    ]
    if tidy.empty:
        return pd.DataFrame(columns=cols)
    base = (
        tidy.groupby(keys, sort=False, dropna=False, observed=True)
        .agg(kind=("kind", "first"), unit_points=("unit_points", "first"))
        .reset_index()
    )
    if scored.empty:
        stats = base.assign(n=0)
    else:
        agg = (
            scored.groupby(keys, sort=False, observed=True)
            .agg(
                n=("pct", "size"),
                median=("pct", "median"),
                mean=("pct", "mean"),
                min=("pct", "min"),
                max=("pct", "max"),
                bmin=("band_index", "min"),
                bmax=("band_index", "max"),
            )
            .reset_index()
        )
        stats = base.merge(agg, on=keys, how="left")
    stats["n"] = stats["n"].fillna(0).astype(int)
    for c in ("median", "mean", "min", "max", "bmin", "bmax"):
        if c not in stats:
            stats[c] = np.nan
    stats["range_points"] = (stats["max"] - stats["min"]) * stats["unit_points"].astype(float) / 100
    stats["spread_bands"] = (stats["bmax"] - stats["bmin"]).astype("Float64")
    stats["flag"] = (stats["spread_bands"].fillna(0) >= thresholds.bands_apart) | (
        stats["range_points"].fillna(0) >= thresholds.range_points
    )
    steps = stats["award_category"].map(lambda a: builtin_standard(a).grid_step)
    stats["consensus"] = [
        grid.snap(m, s) if pd.notna(m) else np.nan for m, s in zip(stats["median"], steps, strict=True)
    ]
    return stats[cols]


def examiner_totals(tidy: pd.DataFrame) -> pd.DataFrame:
    """Per returned file: total points, units scored, complete or not."""
    keys = GROUP + ["examiner_id", "examiner_name"]
    if tidy.empty:
        return pd.DataFrame(columns=keys + ["total", "scored", "units", "complete"])
    out = (
        tidy.groupby(keys, sort=False, observed=True)
        .agg(
            total=("points", lambda s: float(s.sum(min_count=0))),
            scored=("pct", "count"),
            units=("unit", "size"),
        )
        .reset_index()
    )
    out["complete"] = out["scored"] == out["units"]
    return out


def applicant_summary(tidy: pd.DataFrame, stats: pd.DataFrame) -> pd.DataFrame:
    """Per applicant: examiners, their totals, median/mean of complete totals, consensus total, rank."""
    cols = GROUP + [
        "applicant_name",
        "examiners",
        "complete_examiners",
        "totals",
        "incomplete_examiners",
        "median_total",
        "mean_total",
        "consensus_total",
        "consensus_complete",
        "flags",
        "rank",
    ]
    if tidy.empty:
        return pd.DataFrame(columns=cols)
    totals = examiner_totals(tidy)
    names = tidy.groupby(GROUP, sort=False, observed=True)["applicant_name"].first().to_dict()
    st = stats.assign(cons_points=stats["unit_points"].astype(float) * stats["consensus"] / 100)
    by_applicant = st.groupby(GROUP, sort=False, observed=True).agg(
        consensus_total=("cons_points", "sum"),
        scored_units=("consensus", "count"),
        units=("unit", "size"),
        flags=("flag", "sum"),
    )
    # One pass over the per-file totals in plain Python: a pandas call per applicant costs
    # more than the whole arithmetic.
    per: dict[tuple, dict] = {}
    for t in totals[GROUP + ["examiner_id", "total", "complete"]].itertuples(index=False, name=None):
        key, ex, total, complete = t[:4], t[4], t[5], t[6]
        acc = per.setdefault(key, {"totals": {}, "complete": [], "incomplete": []})
        acc["totals"][ex] = total
        if complete:
            acc["complete"].append(total)  # complete totals: median and mean
        else:
            acc["incomplete"].append(ex)
    agg = {tuple(k): v for k, v in zip(by_applicant.index, by_applicant.to_dict("records"), strict=True)}
    rows = []
    for key, acc in per.items():
        a = agg[key]
        done = acc["complete"]
        rows.append(
            {
                **dict(zip(GROUP, key, strict=True)),
                "applicant_name": names[key],
                "examiners": len(acc["totals"]),
                "complete_examiners": len(done),
                "totals": acc["totals"],
                "incomplete_examiners": sorted(acc["incomplete"]),
                "median_total": float(np.median(done)) if done else np.nan,
                "mean_total": float(np.mean(done)) if done else np.nan,
                "consensus_total": float(a["consensus_total"]),
                "consensus_complete": bool(a["scored_units"] == a["units"]),
                "flags": int(a["flags"]),
            }
        )
    out = pd.DataFrame(rows)
    out["rank"] = (
        out.groupby(["year", "award_category", "stage"], observed=True)["consensus_total"]
        .rank(method="min", ascending=False)
        .astype(int)
    )
    return out.sort_values(["year", "award_category", "stage", "rank", "applicant_id"]).reset_index(
        drop=True
    )[cols]


def examiner_leniency(tidy: pd.DataFrame, stats: pd.DataFrame) -> pd.DataFrame:
    """Per examiner: mean deviation (percentage points) of their scores from the panel median. Advisory."""
    cols = ["examiner_id", "examiner_name", "files", "units_scored", "mean_deviation", "mean_abs_deviation"]
    scored = tidy.dropna(subset=["pct"])
    if scored.empty:
        return pd.DataFrame(columns=cols)
    merged = scored.merge(stats[GROUP + ["unit", "median", "n"]], on=GROUP + ["unit"])
    merged = merged[merged["n"] >= 2]
    merged["dev"] = merged["pct"].astype(float) - merged["median"]
    files = tidy.groupby("examiner_id", observed=True)["file"].nunique()
    out = (
        merged.groupby(["examiner_id"], sort=True, observed=True)
        .agg(
            examiner_name=("examiner_name", "first"),
            units_scored=("pct", "size"),
            mean_deviation=("dev", "mean"),
            mean_abs_deviation=("dev", lambda s: float(s.abs().mean())),
        )
        .reset_index()
    )
    out["files"] = out["examiner_id"].map(files).astype(int)
    return out[cols]

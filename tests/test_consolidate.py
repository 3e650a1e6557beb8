"""The pure pandas core of consolidation, on small hand-made tidy frames."""

from __future__ import annotations

import csv
import io
import math

import pandas as pd
import pytest

from szqa_xl.consolidation.batch import scores_csv
from szqa_xl.consolidation.core import (
    TIDY_COLUMNS,
    Thresholds,
    applicant_summary,
    examiner_leniency,
    unit_stats,
)

# Three economic units (real codes and points): 1.1 process 20, 1.2 process 20, 1.3 result 40.
# Economic process/result bands: 0–5, 10–25, 30–45, 50–65, 70–85, 90–100 → index 0..5.
UNITS = {"1.1": ("process", 20), "1.2": ("process", 20), "1.3": ("result", 40)}


def band_index(pct: float) -> int:
    bounds = [(0, 5), (10, 25), (30, 45), (50, 65), (70, 85), (90, 100)]
    return next(i for i, (lo, hi) in enumerate(bounds) if lo <= pct <= hi)


def tidy_frame(
    scores: dict[tuple[str, str], dict[str, float | None]], award: str = "economic"
) -> pd.DataFrame:
    """{(applicant, examiner): {unit: pct or None}} → a tidy frame with the package's columns."""
    rows = []
    for (applicant, examiner), units in scores.items():
        for code, pct in units.items():
            kind, points = UNITS[code]
            rows.append(
                {
                    "year": 2027,
                    "award_category": award,
                    "stage": "材料评审",
                    "applicant_id": applicant,
                    "applicant_name": f"{applicant} 名称",
                    "examiner_id": examiner,
                    "examiner_name": f"{examiner} 姓名",
                    "unit": code,
                    "kind": kind,
                    "unit_points": points,
                    "band": None if pct is None else f"band{band_index(pct)}",
                    "band_index": None if pct is None else band_index(pct),
                    "pct": pct,
                    "points": None if pct is None else points * pct / 100,
                    "strengths": "",
                    "ofi": "",
                    "evidence": "",
                    "issue_id": f"{applicant}-{examiner}",
                    "file": f"{applicant}_{examiner}.xlsx",
                }
            )
    return pd.DataFrame(rows, columns=TIDY_COLUMNS)


def stat(stats: pd.DataFrame, applicant: str, unit: str) -> pd.Series:
    (row,) = [r for _, r in stats.iterrows() if r["applicant_id"] == applicant and r["unit"] == unit]
    return row


def is_blank(v) -> bool:
    return v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))


# -- consensus: the median snapped to the grid, halves up ----------------------------------


@pytest.mark.parametrize(
    "pcts, median, consensus",
    [
        ([60, 65], 62.5, 65),  # even count: mean of the middle two, half rounds up
        ([55, 60], 57.5, 60),
        ([0, 5], 2.5, 5),
        ([95, 100], 97.5, 100),
        ([20, 60, 65, 90], 62.5, 65),
        ([50, 55, 100], 55, 55),  # odd count: the middle value
        ([70], 70, 70),
        ([60, 60], 60, 60),
    ],
)
def test_consensus_is_median_snapped_half_up(pcts, median, consensus) -> None:
    tidy = tidy_frame({("A", f"E{i}"): {"1.3": p} for i, p in enumerate(pcts)})
    s = stat(unit_stats(tidy), "A", "1.3")
    assert s["n"] == len(pcts)
    assert s["median"] == median
    assert s["consensus"] == consensus
    assert s["mean"] == pytest.approx(sum(pcts) / len(pcts))
    assert (s["min"], s["max"]) == (min(pcts), max(pcts))
    assert s["range_points"] == pytest.approx((max(pcts) - min(pcts)) * 40 / 100)


def test_blanks_are_not_scored_not_zero() -> None:
    tidy = tidy_frame(
        {
            ("A", "E1"): {"1.1": 60, "1.2": None, "1.3": None},
            ("A", "E2"): {"1.1": 70, "1.2": 50, "1.3": None},
        }
    )
    stats = unit_stats(tidy)
    s12 = stat(stats, "A", "1.2")
    assert s12["n"] == 1 and s12["median"] == 50 and s12["min"] == 50  # the blank is not a 0
    s13 = stat(stats, "A", "1.3")
    assert s13["n"] == 0
    for col in ("median", "mean", "min", "max", "range_points", "consensus"):
        assert is_blank(s13[col]), col
    assert not s13["flag"]
    (a,) = [r for _, r in applicant_summary(tidy, stats).iterrows()]
    assert a["consensus_total"] == pytest.approx(20 * 65 / 100 + 20 * 50 / 100)  # 1.1 median 65
    assert not a["consensus_complete"]
    assert a["complete_examiners"] == 0 and is_blank(a["median_total"])
    assert sorted(a["incomplete_examiners"]) == ["E1", "E2"]
    assert a["totals"] == {"E1": pytest.approx(12.0), "E2": pytest.approx(14.0 + 10.0)}


# -- thresholds -----------------------------------------------------------------------------


def test_default_thresholds_flag_two_bands_or_25_points() -> None:
    tidy = tidy_frame(
        {
            ("A", "E1"): {"1.1": 50, "1.2": 50, "1.3": 30},
            ("A", "E2"): {"1.1": 70, "1.2": 90, "1.3": 95},
        }
    )
    stats = unit_stats(tidy)
    one_band = stat(stats, "A", "1.1")  # 50 (band 3) vs 70 (band 4); 4 points
    assert (one_band["spread_bands"], one_band["range_points"], one_band["flag"]) == (1, 4, False)
    two_bands = stat(stats, "A", "1.2")  # band 3 vs band 5; 8 points
    assert (two_bands["spread_bands"], two_bands["flag"]) == (2, True)
    wide = stat(stats, "A", "1.3")  # band 2 vs 5; 26 points
    assert wide["range_points"] == pytest.approx(26) and wide["flag"]


def test_thresholds_are_configurable() -> None:
    tidy = tidy_frame(
        {
            ("A", "E1"): {"1.1": 50, "1.2": 50, "1.3": 50},
            ("A", "E2"): {"1.1": 70, "1.2": 55, "1.3": 65},
        }
    )
    default = unit_stats(tidy)
    assert not default["flag"].any()
    loose = unit_stats(tidy, Thresholds(bands_apart=1))
    assert {r["unit"]: bool(r["flag"]) for _, r in loose.iterrows()} == {
        "1.1": True,
        "1.2": False,
        "1.3": False,
    }
    assert loose["flag"].sum() > default["flag"].sum()
    by_points = unit_stats(tidy, Thresholds(bands_apart=9, range_points=6))  # 1.3: 15% of 40 = 6 points
    assert {r["unit"]: bool(r["flag"]) for _, r in by_points.iterrows()} == {
        "1.1": False,
        "1.2": False,
        "1.3": True,
    }
    strict = unit_stats(tidy, Thresholds(bands_apart=5, range_points=100))
    assert not strict["flag"].any()


def test_range_points_threshold_is_inclusive() -> None:
    tidy = tidy_frame({("A", "E1"): {"1.3": 30}, ("A", "E2"): {"1.3": 60}})  # 30% of 40 = 12 points
    assert bool(stat(unit_stats(tidy, Thresholds(bands_apart=9, range_points=12)), "A", "1.3")["flag"])
    assert not bool(stat(unit_stats(tidy, Thresholds(bands_apart=9, range_points=12.5)), "A", "1.3")["flag"])


# -- per applicant ---------------------------------------------------------------------------


def test_applicant_summary_totals_median_and_rank() -> None:
    tidy = tidy_frame(
        {
            ("A", "E1"): {"1.1": 60, "1.2": 60, "1.3": 60},  # 48
            ("A", "E2"): {"1.1": 80, "1.2": 80, "1.3": 80},  # 64
            ("B", "E1"): {"1.1": 70, "1.2": 70, "1.3": 70},  # 56
            ("B", "E2"): {"1.1": 70, "1.2": 70, "1.3": None},  # incomplete, 28
            ("C", "E1"): {"1.1": 70, "1.2": 70, "1.3": 70},  # 56
        }
    )
    stats = unit_stats(tidy)
    ap = {r["applicant_id"]: r for _, r in applicant_summary(tidy, stats).iterrows()}
    assert ap["A"]["totals"] == {"E1": pytest.approx(48), "E2": pytest.approx(64)}
    assert ap["A"]["median_total"] == pytest.approx(56) and ap["A"]["mean_total"] == pytest.approx(56)
    assert ap["A"]["consensus_total"] == pytest.approx(56)  # every median is 70
    assert ap["B"]["complete_examiners"] == 1 and ap["B"]["incomplete_examiners"] == ["E2"]
    assert ap["B"]["median_total"] == pytest.approx(56)  # the incomplete total is left out
    assert ap["B"]["consensus_total"] == pytest.approx(56)
    # ties share the better rank
    assert {k: int(v["rank"]) for k, v in ap.items()} == {"A": 1, "B": 1, "C": 1}


def test_rank_is_within_award_category() -> None:
    econ = tidy_frame({("A", "E1"): {"1.1": 50}, ("B", "E1"): {"1.1": 90}})
    other = tidy_frame({("C", "E1"): {"1.1": 10}}, award="culture")
    tidy = pd.concat([econ, other], ignore_index=True)
    stats = unit_stats(tidy)
    ap = {r["applicant_id"]: int(r["rank"]) for _, r in applicant_summary(tidy, stats).iterrows()}
    assert ap == {"A": 2, "B": 1, "C": 1}


# -- leniency --------------------------------------------------------------------------------


def test_leniency_sign_lenient_positive_severe_negative() -> None:
    tidy = tidy_frame(
        {
            ("A", "LEN"): {"1.1": 80, "1.2": 90, "1.3": 70},
            ("A", "MID"): {"1.1": 60, "1.2": 60, "1.3": 60},
            ("A", "SEV"): {"1.1": 40, "1.2": 50, "1.3": 30},
            ("B", "LEN"): {"1.1": 70},
            ("B", "SEV"): {"1.1": 60},
        }
    )
    ex = examiner_leniency(tidy, unit_stats(tidy)).set_index("examiner_id")
    # A medians are 60; B median 65: LEN +20 +30 +10 +5, SEV -20 -10 -30 -5, MID 0
    assert ex.loc["LEN", "mean_deviation"] == pytest.approx(65 / 4)
    assert ex.loc["SEV", "mean_deviation"] == pytest.approx(-65 / 4)
    assert ex.loc["MID", "mean_deviation"] == pytest.approx(0)
    assert ex.loc["LEN", "mean_abs_deviation"] == pytest.approx(65 / 4)
    assert ex.loc["LEN", "files"] == 2 and ex.loc["MID", "files"] == 1
    assert ex.loc["LEN", "units_scored"] == 4


def test_leniency_ignores_units_scored_by_one_examiner() -> None:
    tidy = tidy_frame({("A", "E1"): {"1.1": 90, "1.2": 50}, ("A", "E2"): {"1.1": 70, "1.2": None}})
    ex = examiner_leniency(tidy, unit_stats(tidy)).set_index("examiner_id")
    assert ex.loc["E1", "units_scored"] == 1  # 1.2 has one score only
    assert ex.loc["E1", "mean_deviation"] == pytest.approx(10)
    assert ex.loc["E2", "mean_deviation"] == pytest.approx(-10)


# -- scores.csv from a frame ------------------------------------------------------------------


def test_scores_csv_blanks_and_injection() -> None:
    tidy = tidy_frame({("A", "E1"): {"1.1": 65, "1.2": None, "1.3": 55}})
    tidy.loc[0, "strengths"] = "=1+1"
    tidy.loc[0, "ofi"] = "+cmd"
    tidy.loc[0, "evidence"] = "@SUM(A1)"
    tidy.loc[2, "strengths"] = "-3 个问题"
    tidy.loc[2, "ofi"] = "正常文本 =1+1"
    rows = list(csv.DictReader(io.StringIO(scores_csv(tidy))))
    assert [r["unit"] for r in rows] == ["1.1", "1.2", "1.3"]
    assert (rows[0]["pct"], rows[0]["points"]) == ("65", "13")
    assert (rows[1]["pct"], rows[1]["points"], rows[1]["band"]) == ("", "", "")
    assert (rows[2]["pct"], rows[2]["points"]) == ("55", "22")
    assert (rows[0]["strengths"], rows[0]["ofi"], rows[0]["evidence"]) == ("'=1+1", "'+cmd", "'@SUM(A1)")
    assert rows[2]["strengths"] == "'-3 个问题"
    assert rows[2]["ofi"] == "正常文本 =1+1"  # only a leading formula character matters
    assert rows[0]["year"] == "2027" and rows[0]["unit_points"] == "20"
    assert scores_csv(tidy) == scores_csv(tidy.copy())


# -- GroupRows: an applicant's rows taken from compact columns -------------------------------------


def _same(a: list, b: list) -> bool:
    """Equal value by value, and of the same type (nan is nan, pd.NA is pd.NA, NaT is NaT)."""
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        if type(x) is not type(y):
            return False
        if isinstance(x, float) and math.isnan(x):
            if not math.isnan(y):
                return False
        elif x is pd.NA or x is pd.NaT:
            if y is not x:
                return False
        elif x != y:
            return False
    return True


def _every_kind_of_column(n: int, seed: int) -> pd.DataFrame:
    import numpy as np

    rng = np.random.default_rng(seed)
    gaps = rng.random(n) < 0.3
    words = np.array(["1.1", "优势", "O'Brien", "=SUM(A1)", ""], dtype=object)[rng.integers(0, 5, n)]
    floats = rng.random(n) * 100
    return pd.DataFrame(
        {
            "category": pd.Series(np.where(gaps, None, words), dtype="category"),
            "category_object": pd.Series(np.where(gaps, None, words), dtype=object).astype("category"),
            "int_category": pd.Series(rng.integers(0, 3, n)).astype("category"),
            "float64": np.where(gaps, np.nan, floats),
            "int64": rng.integers(-5, 10_000, n),
            "bool": rng.random(n) < 0.5,
            "Float64": pd.array(np.where(gaps, None, floats), dtype="Float64"),
            "Int64": pd.array(np.where(gaps, None, rng.integers(0, 9, n)), dtype="Int64"),
            "boolean": pd.array(np.where(gaps, None, rng.random(n) < 0.5), dtype="boolean"),
            "object": pd.Series(np.where(gaps, None, words), dtype=object),
            "datetime": pd.Series(pd.date_range("2026-01-01", periods=n, freq="h")).where(~gaps),
        }
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_group_rows_are_the_object_columns_values(seed: int) -> None:
    """What the consolidated workbook writes for an applicant (each value and its type, missing ones
    included) is what an object copy of the whole column gives at the applicant's rows."""
    import numpy as np

    from szqa_xl.consolidation.core import GroupRows

    frame = _every_kind_of_column(500, seed)
    rows = GroupRows(frame, list(frame.columns))
    rng = np.random.default_rng(seed)
    indexes = [
        np.arange(500),
        np.array([], dtype=np.intp),
        rng.permutation(500)[:37],
        np.array([499, 0, 499]),
    ]
    for index in indexes:
        got = rows.rows(index)
        assert list(got) == list(frame.columns)
        for name in frame.columns:
            expected = frame[name].to_numpy(dtype=object)[index].tolist()
            assert _same(got[name], expected), (name, got[name][:5], expected[:5])

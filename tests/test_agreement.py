"""Panel agreement statistics (szqa_xl.consolidation.agreement) against published values.

Sources of the reference values:

* Shrout & Fleiss (1979), Table 2 (6 targets × 4 judges): ICC(2,1) = .29, ICC(2,4) = .62,
  ICC(3,1) = .71; ANOVA of their Table 1/2: BMS = 11.24, JMS = 32.49, EMS = 1.02.
* The 95 % intervals for the same data as R's ``psych::ICC`` prints them, reproduced in
  github.com/dwoll/RExRepos (md/interRaterICC.md) and in the tutorial "Measurement
  Reliability in R: Alpha, ICC, Agreement" (psych::ICC(ratings)$results rounded to 3 places):
  ICC2 [0.019, 0.761], ICC2k [0.071, 0.927], ICC3 [0.342, 0.946].  They are also checked here
  against the McGraw & Wong (1996) formulas written out independently in this file.
* Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C (4 observers ×
  12 units with missing values): nominal α = .743, ordinal α = .815, interval α = .849, and its
  coincidence matrix (n = 40; n_c = 9, 13, 10, 5, 3).  The same data are DescTools'
  ``KrippAlpha`` example ("the 'C' data from Krippendorff").
* Upper critical values of F from published tables (atozmath.com F distribution table,
  4 decimals): F.95(1,1) = 161.4476, F.975(1,1) = 647.7890, F.99(1,1) = 4052.1807,
  F.95(2,1) = 199.5000, F.95(1,2) = 18.5128, F.975(1,2) = 38.5063, F.95(1,3) = 10.1280,
  F.95(3,3) = 9.2766, F.95(5,3) = 9.0135, F.975(5,3) = 14.8848, F.95(10,3) = 8.7855;
  F.975(5,15) = 3.576 (the value the task quotes; α = 0.025 tables print 3.58).
"""

from __future__ import annotations

import math
import sys
from fractions import Fraction
from itertools import permutations

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from szqa_xl.consolidation.agreement import (
    AGREEMENT_COLUMNS,
    KOO_LI,
    agreement,
    agreement_table,
    coincidence_matrix,
    f_cdf,
    f_quantile,
    icc,
    koo_li,
    krippendorff_alpha_interval,
    regularized_beta,
)

SHROUT_FLEISS = [
    [9, 2, 5, 8],
    [6, 1, 3, 2],
    [8, 4, 6, 8],
    [7, 1, 2, 6],
    [10, 5, 6, 9],
    [6, 2, 4, 7],
]

_ = None
KRIPPENDORFF_C = {  # observers × units, as printed in the paper
    "A": [1, 2, 3, 3, 2, 1, 4, 1, 2, _, _, _],
    "B": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, _, 3],
    "C": [_, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, _],
    "D": [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, _],
}
KRIPP_UNITS = [list(u) for u in zip(*KRIPPENDORFF_C.values(), strict=True)]  # units × observers


# -- F distribution and the incomplete beta function ----------------------------------------------


@pytest.mark.parametrize(
    ("p", "d1", "d2", "table"),
    [
        (0.95, 1, 1, 161.4476),
        (0.975, 1, 1, 647.7890),
        (0.99, 1, 1, 4052.1807),
        (0.95, 2, 1, 199.5000),
        (0.95, 1, 2, 18.5128),
        (0.975, 1, 2, 38.5063),
        (0.95, 1, 3, 10.1280),
        (0.95, 3, 3, 9.2766),
        (0.95, 5, 3, 9.0135),
        (0.975, 5, 3, 14.8848),
        (0.95, 10, 3, 8.7855),
    ],
)
def test_f_quantile_matches_published_table(p: float, d1: int, d2: int, table: float) -> None:
    assert f_quantile(p, d1, d2) == pytest.approx(table, abs=5e-5)


def test_f_quantile_of_the_brief() -> None:
    assert round(f_quantile(0.975, 5, 15), 3) == 3.576


@pytest.mark.parametrize("p", [0.01, 0.025, 0.3, 0.5, 0.8, 0.95, 0.975, 0.999])
def test_f_quantile_closed_forms(p: float) -> None:
    # F(2,2): CDF x / (1 + x), so the quantile is p / (1 − p)
    assert f_quantile(p, 2, 2) == pytest.approx(p / (1 - p), rel=1e-12)
    # F(1,1): CDF (2/π) arctan(√x), so the quantile is tan²(π p / 2)
    assert f_quantile(p, 1, 1) == pytest.approx(math.tan(math.pi * p / 2) ** 2, rel=1e-11)


@pytest.mark.parametrize(("d1", "d2"), [(5, 15), (3.7, 11.2), (1, 40), (24, 2.5), (0.8, 0.6)])
def test_f_quantile_reciprocal_and_inverse(d1: float, d2: float) -> None:
    for p in (0.025, 0.2, 0.5, 0.9, 0.975):
        x = f_quantile(p, d1, d2)
        assert f_cdf(x, d1, d2) == pytest.approx(p, abs=1e-12)
        assert x == pytest.approx(1 / f_quantile(1 - p, d2, d1), rel=1e-11)


def test_f_quantile_rejects_bad_arguments() -> None:
    for args in [(0.0, 1, 1), (1.0, 1, 1), (0.5, 0, 1), (0.5, 1, -2), (0.5, 1, math.inf)]:
        with pytest.raises(ValueError):
            f_quantile(*args)


@given(
    x=st.floats(0.001, 0.999),
    a=st.floats(0.1, 60),
    b=st.floats(0.1, 60),
)
@example(x=0.5, a=54.400051810150806, b=54.400051810150806)
def test_regularized_beta_identities(x: float, a: float, b: float) -> None:
    assert regularized_beta(x, a, 1.0) == pytest.approx(x**a, rel=1e-10, abs=1e-300)
    assert regularized_beta(x, 1.0, b) == pytest.approx(-math.expm1(b * math.log1p(-x)), rel=1e-10)
    # I_x(a, b) is exp(a ln x + b ln(1-x) - ln B(a, b)) times a continued fraction: each of those
    # terms is rounded to its own magnitude (ln Γ(60) ≈ 181), so the identity holds to a few ulps of
    # their sum, not of 1 (found by this test: a = b = 54.4, x = 0.5 gives 1 - 1.0e-13).
    terms = abs(a * math.log(x)) + abs(b * math.log1p(-x))
    terms += abs(math.lgamma(a)) + abs(math.lgamma(b)) + abs(math.lgamma(a + b))
    tolerance = 16 * sys.float_info.epsilon * (terms + 1)
    assert regularized_beta(x, a, b) + regularized_beta(1 - x, b, a) == pytest.approx(1.0, abs=tolerance)


@pytest.mark.parametrize(("n", "p"), [(10, 0.3), (25, 0.5), (40, 0.91), (7, 0.02)])
def test_regularized_beta_against_binomial_tail(n: int, p: float) -> None:
    # P(X ≥ j) for X ~ Bin(n, p) equals I_p(j, n − j + 1), exactly summable
    for j in range(1, n + 1):
        tail = sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(j, n + 1))
        assert regularized_beta(p, j, n - j + 1) == pytest.approx(tail, rel=1e-10, abs=1e-15)


# -- ICC on Shrout & Fleiss (1979) ---------------------------------------------------------------


def test_shrout_fleiss_table_2_values() -> None:
    t = icc(SHROUT_FLEISS)
    assert (t.n_targets, t.n_raters, t.n_complete) == (6, 4, 6)
    assert (round(t.ms_targets, 2), round(t.ms_raters, 2), round(t.ms_error, 2)) == (11.24, 32.49, 1.02)
    assert round(t.icc21.value, 2) == 0.29
    assert round(t.icc2k.value, 2) == 0.62
    assert round(t.icc31.value, 2) == 0.71
    assert (t.icc21.kind, t.icc2k.kind, t.icc31.kind) == ("ICC(2,1)", "ICC(2,k)", "ICC(3,1)")
    assert t.icc21.reason is t.icc2k.reason is t.icc31.reason is None


def test_shrout_fleiss_intervals_as_psych_prints_them() -> None:
    t = icc(SHROUT_FLEISS)
    assert (round(t.icc21.ci_low, 3), round(t.icc21.ci_high, 3)) == (0.019, 0.761)
    assert (round(t.icc2k.ci_low, 3), round(t.icc2k.ci_high, 3)) == (0.071, 0.927)
    assert (round(t.icc31.ci_low, 3), round(t.icc31.ci_high, 3)) == (0.342, 0.946)


def _mcgraw_wong_reference(x: np.ndarray, conf: float) -> dict[str, tuple[float, float, float]]:
    """McGraw & Wong (1996) Table 7 written out directly, in their own a/b form."""
    n, k = x.shape
    g = x.mean()
    msr = k * ((x.mean(axis=1) - g) ** 2).sum() / (n - 1)
    msc = n * ((x.mean(axis=0) - g) ** 2).sum() / (k - 1)
    mse = ((x - x.mean(axis=1)[:, None] - x.mean(axis=0)[None, :] + g) ** 2).sum() / ((n - 1) * (k - 1))
    q = 1 - (1 - conf) / 2
    # case 3, ICC(C,1)
    c1 = (msr - mse) / (msr + (k - 1) * mse)
    f_obs = msr / mse
    fl = f_obs / f_quantile(q, n - 1, (n - 1) * (k - 1))
    fu = f_obs * f_quantile(q, (n - 1) * (k - 1), n - 1)
    # case 2A, ICC(A,1) and ICC(A,k)
    r = (msr - mse) / (msr + (k - 1) * mse + k * (msc - mse) / n)
    a = k * r / (n * (1 - r))
    b = 1 + k * r * (n - 1) / (n * (1 - r))
    v = (a * msc + b * mse) ** 2 / ((a * msc) ** 2 / (k - 1) + (b * mse) ** 2 / ((n - 1) * (k - 1)))
    f1, f2 = f_quantile(q, n - 1, v), f_quantile(q, v, n - 1)
    ak = (msr - mse) / (msr + (msc - mse) / n)
    return {
        "ICC(3,1)": (c1, (fl - 1) / (fl + k - 1), (fu - 1) / (fu + k - 1)),
        "ICC(2,1)": (
            r,
            n * (msr - f1 * mse) / (f1 * (k * msc + (k * n - k - n) * mse) + n * msr),
            n * (f2 * msr - mse) / (k * msc + (k * n - k - n) * mse + n * f2 * msr),
        ),
        "ICC(2,k)": (
            ak,
            n * (msr - f1 * mse) / (f1 * (msc - mse) + n * msr),
            n * (f2 * msr - mse) / (msc - mse + n * f2 * msr),
        ),
    }


@pytest.mark.parametrize("conf", [0.95, 0.90, 0.99])
def test_intervals_equal_mcgraw_wong_formulas(conf: float) -> None:
    ref = _mcgraw_wong_reference(np.array(SHROUT_FLEISS, dtype=float), conf)
    t = icc(SHROUT_FLEISS, confidence=conf)
    for res in (t.icc21, t.icc2k, t.icc31):
        assert (res.value, res.ci_low, res.ci_high) == pytest.approx(ref[res.kind], rel=1e-10)


def test_uses_complete_rows_only_and_counts_them() -> None:
    extra = [[5, None, 4, 6], [None, None, None, 3], [None, None, None, None]]
    base, more = icc(SHROUT_FLEISS), icc(SHROUT_FLEISS + extra)
    assert (more.n_targets, more.n_complete) == (9, 6)
    assert more.icc21 == base.icc21 and more.icc2k == base.icc2k and more.icc31 == base.icc31


def test_examiner_without_any_score_is_left_out() -> None:
    with_empty = [row + [None] for row in SHROUT_FLEISS]
    t = icc(with_empty)
    assert t.n_raters == 4 and t.icc21 == icc(SHROUT_FLEISS).icc21


def test_list_array_and_dataframe_inputs_agree() -> None:
    rows = [[80, 75, None], [60, 65, 55], [90, 85, 95], [40, None, 45], [70, 70, 65]]
    arr = np.array(rows, dtype=float)
    frame = pd.DataFrame(rows, columns=["e1", "e2", "e3"]).astype("Float64")  # pd.NA cells
    results = [agreement(m) for m in (rows, arr, frame, pd.DataFrame(arr))]
    assert all(r == results[0] for r in results)
    assert results[0].n_complete == 3 and results[0].alpha_units == 5


def test_rejects_what_is_not_a_matrix() -> None:
    for bad in ([1, 2, 3], [[1, 2], [3]], [[1, "x"]], [[1.0, math.inf], [2.0, 3.0]]):
        with pytest.raises(ValueError):
            agreement(bad)


# -- Krippendorff's alpha -------------------------------------------------------------------------


def _reference_alpha(units: list[list[int | None]], metric: str) -> Fraction:
    """Alpha by brute force over the pairs, in exact arithmetic (Krippendorff 2011, section C)."""
    pairable = [[v for v in u if v is not None] for u in units]
    pairable = [u for u in pairable if len(u) >= 2]
    o: dict[tuple[int, int], Fraction] = {}
    for u in pairable:
        for i, j in permutations(range(len(u)), 2):
            o[(u[i], u[j])] = o.get((u[i], u[j]), Fraction(0)) + Fraction(1, len(u) - 1)
    values = sorted({v for u in pairable for v in u})
    n_c = {c: sum(w for (a, _), w in o.items() if a == c) for c in values}
    n = sum(n_c.values())

    def delta2(c: int, k: int) -> Fraction:
        if metric == "nominal":
            return Fraction(int(c != k))
        if metric == "interval":
            return Fraction((c - k) ** 2)
        lo, hi = min(c, k), max(c, k)  # ordinal
        return (sum(n_c[g] for g in values if lo <= g <= hi) - (n_c[c] + n_c[k]) / 2) ** 2

    d_o = sum(w * delta2(c, k) for (c, k), w in o.items())
    d_e = sum(n_c[c] * n_c[k] * delta2(c, k) for c in values for k in values)
    return 1 - (n - 1) * d_o / d_e


def test_krippendorff_2011_example_published_values() -> None:
    # the test-side computation reproduces all the paper's values: the data are transcribed right
    assert round(float(_reference_alpha(KRIPP_UNITS, "nominal")), 3) == 0.743
    assert round(float(_reference_alpha(KRIPP_UNITS, "ordinal")), 3) == 0.815
    assert round(float(_reference_alpha(KRIPP_UNITS, "interval")), 3) == 0.849
    alpha = krippendorff_alpha_interval(KRIPP_UNITS)
    assert round(alpha, 3) == 0.849
    assert alpha == pytest.approx(float(_reference_alpha(KRIPP_UNITS, "interval")), rel=1e-12)
    res = agreement(KRIPP_UNITS)
    assert (res.alpha, res.alpha_units, res.alpha_reason) == (alpha, 11, None)  # unit 12 has 1 value


def test_krippendorff_2011_coincidence_matrix() -> None:
    values, o = coincidence_matrix(KRIPP_UNITS)
    assert values.tolist() == [1, 2, 3, 4, 5]
    third = 1 / 3
    expected = [
        [7, 4 * third, third, third, 0],
        [4 * third, 10, 4 * third, third, 0],
        [third, 4 * third, 8, third, 0],
        [third, third, third, 4, 0],
        [0, 0, 0, 0, 3],
    ]
    assert o == pytest.approx(np.array(expected), abs=1e-12)
    assert o.sum(axis=1).tolist() == pytest.approx([9, 13, 10, 5, 3]) and o.sum() == pytest.approx(40)


def _alpha_from_coincidences(matrix: object) -> float:
    values, o = coincidence_matrix(matrix)
    n_c = o.sum(axis=1)
    d2 = (values[:, None] - values[None, :]) ** 2
    return 1 - (o.sum() - 1) * (o * d2).sum() / (np.outer(n_c, n_c) * d2).sum()


# -- properties -----------------------------------------------------------------------------------

GRID = st.integers(0, 20).map(lambda i: 5.0 * i)  # a percentage on the 5-point grid


@st.composite
def panels(draw: st.DrawFn, missing: bool = True) -> np.ndarray:
    n, k = draw(st.integers(2, 8)), draw(st.integers(2, 6))
    cell = st.one_of(st.just(math.nan), GRID) if missing else GRID
    return np.array([[draw(cell) for _ in range(k)] for _ in range(n)])


def _values(res: object) -> list[float | None]:
    out = [res.alpha]
    for i in (res.icc21, res.icc2k, res.icc31):
        out += [i.value, i.ci_low, i.ci_high]
    return out


def _same(a: list[float | None], b: list[float | None]) -> bool:
    return all(
        (x is None and y is None)
        or (x is not None and y is not None and math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9))
        for x, y in zip(a, b, strict=True)
    )


PROPS = settings(max_examples=150, deadline=None)


@PROPS
@given(targets=st.lists(GRID, min_size=2, max_size=10), k=st.integers(2, 7))
def test_perfect_agreement_gives_one(targets: list[float], k: int) -> None:
    assume(len(set(targets)) > 1)
    res = agreement([[t] * k for t in targets])
    for i in (res.icc21, res.icc2k, res.icc31):
        assert (i.value, i.ci_low, i.ci_high, i.reason) == (1.0, 1.0, 1.0, None)
    assert res.alpha == pytest.approx(1.0, abs=1e-12)
    assert (res.reading, res.reading_zh) == ("excellent", "优秀")


@PROPS
@given(x=panels(), data=st.data())
def test_permuting_raters_or_targets_changes_nothing(x: np.ndarray, data: st.DataObject) -> None:
    rows = data.draw(st.permutations(range(x.shape[0])))
    cols = data.draw(st.permutations(range(x.shape[1])))
    base = _values(agreement(x))
    assert _same(base, _values(agreement(x[rows])))
    assert _same(base, _values(agreement(x[:, cols])))


@PROPS
@given(x=panels(), shift=st.integers(-300, 300).map(float))
def test_adding_a_constant_changes_nothing(x: np.ndarray, shift: float) -> None:
    assert _same(_values(agreement(x)), _values(agreement(x + shift)))


@PROPS
@given(x=panels(missing=False))
def test_mean_of_k_is_at_least_single_rater_and_inside_the_interval(x: np.ndarray) -> None:
    t = icc(x)
    for i in (t.icc21, t.icc2k, t.icc31):
        if i.value is not None and i.ci_low is not None:
            assert i.ci_low <= i.value + 1e-12 and i.value <= i.ci_high + 1e-12
            assert i.value <= 1 + 1e-12
    if t.icc21.value is not None and t.icc21.value > 0:
        assert t.icc2k.value >= t.icc21.value


@PROPS
@given(x=panels(), lonely=st.lists(st.tuples(GRID, st.integers(0, 5)), max_size=4))
def test_alpha_ignores_units_with_fewer_than_two_values(
    x: np.ndarray, lonely: list[tuple[float, int]]
) -> None:
    k = x.shape[1]
    extra = np.full((len(lonely) + 1, k), math.nan)  # one all-blank unit plus single-value units
    for r, (v, c) in enumerate(lonely, start=1):
        extra[r, c % k] = v
    before, after = agreement(x), agreement(np.vstack([x, extra]))
    assert (before.alpha is None) == (after.alpha is None)
    if before.alpha is not None:
        assert after.alpha == pytest.approx(before.alpha, rel=1e-12, abs=1e-12)
    assert after.alpha_units == before.alpha_units
    if not np.isnan(x).all(axis=0).any():  # same raters: incomplete rows also leave the ICCs alone
        assert after.icc21 == before.icc21 and after.n_complete == before.n_complete


@PROPS
@given(x=panels())
def test_alpha_equals_the_explicit_coincidence_matrix(x: np.ndarray) -> None:
    alpha = krippendorff_alpha_interval(x)
    pairable = x[(~np.isnan(x)).sum(axis=1) >= 2]
    values = pairable[~np.isnan(pairable)]
    if values.size == 0 or np.ptp(values) == 0:
        assert alpha is None
    else:
        assert alpha == pytest.approx(_alpha_from_coincidences(x), rel=1e-9, abs=1e-12)


# -- edge cases -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("matrix", "icc_reason", "alpha_reason"),
    [
        ([[80] * 5] * 4, "no variance", "no variation"),
        ([[60, 70, 80, 75, 65]], "fewer than 2 targets", None),
        ([[60], [70], [80]], "fewer than 2 raters", "no unit"),
        ([[None, None], [None, None]], "fewer than 2 raters", "no unit"),
        ([], "fewer than 2 raters", "no unit"),
        ([[60, None], [None, 70], [80, None]], "fewer than 2 targets", "no unit"),
    ],
)
def test_degenerate_matrices_give_none_with_a_reason(
    matrix: list, icc_reason: str, alpha_reason: str | None
) -> None:
    res = agreement(matrix)
    for i in (res.icc21, res.icc2k, res.icc31):
        assert (i.value, i.ci_low, i.ci_high) == (None, None, None)
        assert icc_reason in i.reason
    assert (res.reading, res.reading_zh) == ("n/a", "无法计算")
    if alpha_reason is None:
        assert res.alpha is not None and res.alpha_reason is None
    else:
        assert res.alpha is None and alpha_reason in res.alpha_reason


def test_all_equal_counts_are_reported() -> None:
    res = agreement([[80] * 5] * 4)
    assert (res.n_targets, res.n_raters, res.n_complete, res.alpha_units) == (4, 5, 4, 4)


def test_residual_only_2x2_does_not_divide_by_zero() -> None:
    # MSR = MSC = 0, MSE > 0: the ICC(2,1) denominator is exactly 0 for n = k = 2
    res = icc([[1, 2], [2, 1]])
    assert res.icc21.value is None and "denominator" in res.icc21.reason
    assert res.icc2k.value is None
    assert res.icc31.value == pytest.approx(-1.0)


def test_raters_differing_by_a_constant_on_identical_targets() -> None:
    # MSR = MSE = 0 < MSC: ICC(2,1) = 0 exactly, ICC(3,1) is 0/0, the interval has no df
    res = icc([[60, 70], [60, 70], [60, 70]])
    assert res.icc21.value == 0.0 and res.icc21.ci_low is None and res.icc21.reason
    assert res.icc31.value is None and res.icc31.reason


def test_additive_rater_offsets_are_perfect_consistency_not_agreement() -> None:
    res = icc([[50, 60], [70, 80], [90, 100]])
    assert (res.icc31.value, res.icc31.ci_low, res.icc31.ci_high) == (1.0, 1.0, 1.0)
    assert 0 < res.icc21.value < 1 and res.icc21.ci_low < res.icc21.value < res.icc21.ci_high


def test_confidence_must_be_a_probability() -> None:
    with pytest.raises(ValueError):
        icc(SHROUT_FLEISS, confidence=1.0)


# -- Koo & Li -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "key"),
    [
        (-0.4, "poor"),
        (0.0, "poor"),
        (0.4999999, "poor"),
        (0.5, "moderate"),
        (0.7499999, "moderate"),
        (0.75, "good"),
        (0.8, "good"),
        (0.9, "good"),
        (0.9000001, "excellent"),
        (1.0, "excellent"),
        (None, "n/a"),
        (math.nan, "n/a"),
    ],
)
def test_koo_li_boundaries(value: float | None, key: str) -> None:
    assert koo_li(value) == (key, KOO_LI[key])


def test_koo_li_chinese_labels() -> None:
    assert [koo_li(v)[1] for v in (0.3, 0.6, 0.8, 0.95)] == ["差", "中等", "良好", "优秀"]


def test_agreement_reads_icc21() -> None:
    res = agreement(SHROUT_FLEISS)  # ICC(2,1) = 0.29
    assert (res.reading, res.reading_zh) == ("poor", "差")


# -- long frames ----------------------------------------------------------------------------------


def _tidy() -> pd.DataFrame:
    rows = []
    for applicant, matrix in (("A01", SHROUT_FLEISS), ("A02", KRIPP_UNITS)):
        for u, scores in enumerate(matrix, start=1):
            for e, pct in enumerate(scores, start=1):
                rows.append(
                    {
                        "year": 2025,
                        "award_category": "组织",
                        "stage": "资料评审",
                        "applicant_id": applicant,
                        "unit": f"U{u}",
                        "examiner_id": f"E{e}",
                        "pct": np.nan if pct is None else pct,
                    }
                )
    return pd.DataFrame(rows)


def test_agreement_table_per_applicant_and_pooled() -> None:
    tidy = _tidy()
    per = agreement_table(tidy, ["year", "award_category", "stage", "applicant_id"])
    assert list(per.columns) == ["year", "award_category", "stage", "applicant_id", *AGREEMENT_COLUMNS]
    a01 = per.set_index("applicant_id").loc["A01"]
    assert a01["icc21"] == pytest.approx(icc(SHROUT_FLEISS).icc21.value)
    assert a01["icc2k_low"] == pytest.approx(icc(SHROUT_FLEISS).icc2k.ci_low)
    assert (a01["reading"], a01["note"]) == ("poor", "")
    a02 = per.set_index("applicant_id").loc["A02"]
    assert a02["alpha"] == pytest.approx(krippendorff_alpha_interval(KRIPP_UNITS))
    assert (a02["n_targets"], a02["n_complete"], a02["alpha_units"]) == (12, 8, 11)

    pooled = agreement_table(tidy, ["year", "award_category", "stage"], target=["applicant_id", "unit"])
    assert len(pooled) == 1 and pooled.loc[0, "n_targets"] == 18
    assert pooled.loc[0, "alpha"] == pytest.approx(krippendorff_alpha_interval(SHROUT_FLEISS + KRIPP_UNITS))


def test_agreement_table_refuses_duplicate_scores() -> None:
    tidy = _tidy()
    with pytest.raises(ValueError, match="share a group"):
        agreement_table(pd.concat([tidy, tidy.iloc[:1]]), ["applicant_id"])


def test_agreement_table_reads_each_group_as_its_own_matrix() -> None:
    """Rows in any order, cells missing as absent rows or as NaN, raters whose ids sort differently as
    text and as numbers, a rater who scored nothing: each group's figures are those of its own targets ×
    raters matrix, built here cell by cell."""
    rng = np.random.default_rng(7)
    tidy = _tidy()
    tidy["examiner_id"] = tidy["examiner_id"].map({"E1": "E10", "E2": "E2", "E3": "E9", "E4": "E1"})
    tidy = tidy.drop(index=rng.choice(len(tidy), size=6, replace=False))
    ghost = tidy[tidy["examiner_id"] == "E2"].assign(examiner_id="E7", pct=np.nan)
    tidy = pd.concat([tidy, ghost]).sample(frac=1.0, random_state=3).reset_index(drop=True)
    per = agreement_table(tidy, ["applicant_id"]).set_index("applicant_id")
    for applicant, part in tidy.groupby("applicant_id"):
        units = sorted(set(part["unit"]))
        raters = sorted(set(part["examiner_id"]) - {"E7"})
        cells = {(u, e): p for u, e, p in zip(part["unit"], part["examiner_id"], part["pct"], strict=True)}
        matrix = [[cells.get((u, e), np.nan) for e in raters] for u in units]
        want = agreement(matrix)
        got = per.loc[applicant]
        assert (got["n_targets"], got["n_raters"], got["n_complete"]) == (
            want.n_targets,
            want.n_raters,
            want.n_complete,
        )
        for name, value in (("icc21", want.icc21.value), ("icc2k", want.icc2k.value), ("alpha", want.alpha)):
            assert got[name] == pytest.approx(value, nan_ok=True), (applicant, name)

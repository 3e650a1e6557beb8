"""Agreement of an examiner panel: ICC(2,1), ICC(2,k), ICC(3,1) with confidence intervals,
Krippendorff's alpha (interval metric) and the Koo & Li (2016) reading of an ICC.

Pure code, no I/O.  A *matrix* is targets × raters: one row per scoring unit (the targets),
one column per examiner (the raters), a cell the examiner's percentage; ``None``/``NaN`` is a
missing cell (a unit left blank).  A list of lists, a numpy array or a pandas DataFrame is
accepted.  A column without a single score is dropped before anything is computed: an
examiner who scored nothing has no ratings, and keeping the column would make every row
incomplete.

Intraclass correlation (Shrout & Fleiss 1979; McGraw & Wong 1996)
-----------------------------------------------------------------
Computed on the *complete* rows only (every rater scored the target); ``n`` is their number,
``k`` the number of raters.  From the two-way ANOVA without replication (grand mean ``x̄``,
row means ``x̄ᵢ.``, column means ``x̄.ⱼ``)::

    MSR = k Σᵢ (x̄ᵢ. − x̄)² / (n − 1)                          between targets
    MSC = n Σⱼ (x̄.ⱼ − x̄)² / (k − 1)                          between raters
    MSE = Σᵢⱼ (xᵢⱼ − x̄ᵢ. − x̄.ⱼ + x̄)² / ((n − 1)(k − 1))      residual

    ICC(2,1) = (MSR − MSE) / (MSR + (k − 1) MSE + k (MSC − MSE) / n)   S&F case 2, M&W ICC(A,1)
    ICC(2,k) = (MSR − MSE) / (MSR + (MSC − MSE) / n)                   S&F case 2, M&W ICC(A,k)
    ICC(3,1) = (MSR − MSE) / (MSR + (k − 1) MSE)                       S&F case 3, M&W ICC(C,1)

Confidence intervals (level ``1 − α``, two-sided; McGraw & Wong 1996, Table 7, with the 1996
erratum; Shrout & Fleiss 1979, eqs. 6–7 for ICC(3,1))::

    ICC(3,1):  F₀ = MSR / MSE,  F_L = F₀ / F(1 − α/2; n − 1, (n − 1)(k − 1)),
               F_U = F₀ · F(1 − α/2; (n − 1)(k − 1), n − 1),
               bounds (F_L − 1) / (F_L + k − 1)  and  (F_U − 1) / (F_U + k − 1)

    ICC(2,1):  with ρ̂ = ICC(2,1),  a = k ρ̂ / (n (1 − ρ̂)),  b = 1 + k ρ̂ (n − 1) / (n (1 − ρ̂)),
               Satterthwaite's  v = (a MSC + b MSE)² / ((a MSC)² / (k − 1) + (b MSE)² / ((n − 1)(k − 1))),
               F* = F(1 − α/2; n − 1, v),  F** = F(1 − α/2; v, n − 1),
               lower = n (MSR − F* MSE) / (F* (k MSC + (kn − k − n) MSE) + n MSR)
               upper = n (F** MSR − MSE) / (k MSC + (kn − k − n) MSE + n F** MSR)

    ICC(2,k):  the ICC(2,1) bounds carried through Spearman–Brown, L ↦ k L / (1 + (k − 1) L),
               which is algebraically McGraw & Wong's ICC(A,k) interval
               n (MSR − F* MSE) / (F* (MSC − MSE) + n MSR)  (and likewise for the upper bound).

These are the intervals R's ``psych::ICC`` and pingouin's ``intraclass_corr`` report.  ``v`` is
computed in the form obtained by multiplying ``a`` and ``b`` by ``n (1 − ρ̂)``, which is finite at
ρ̂ = 1.  ``F(p; d₁, d₂)`` is the F quantile, computed here from the regularized incomplete beta
function (:func:`f_quantile`), so no scipy is needed.  Bounds are not clipped to [−1, 1].

Degenerate cases never divide by zero; the value is ``None`` and :attr:`ICC.reason` says why:
fewer than 2 raters or fewer than 2 complete targets; all complete scores equal (no variance at
all, so the ICC is 0/0); a denominator that is not positive (e.g. 2 × 2 data whose only
variation is the residual).  Sums of squares below 1e-12 of the total are taken as exact zeros
(rounding noise), so perfect agreement gives exactly 1 with the interval [1, 1].

Krippendorff's alpha, interval metric (Krippendorff 2011, "Computing Krippendorff's
Alpha-Reliability")
-------------------------------------------------------------------------------------------------
Units are the rows; a unit with ``m_u ≥ 2`` values is *pairable*, the others are dropped.  The
coincidence matrix counts, for values c and k, every ordered pair of values from different
raters within a unit, each pair weighted by ``1 / (m_u − 1)``::

    o_ck = Σ_u (number of c–k pairs in u) / (m_u − 1),   n_c = Σ_k o_ck,   n = Σ_c n_c
    α = 1 − D_o / D_e = 1 − (n − 1) Σ_c Σ_k o_ck δ²_ck / Σ_c Σ_k n_c n_k δ²_ck,   δ²_ck = (c − k)²

For the interval metric both sums reduce without building the V × V matrix (V distinct
values): within a unit Σ over ordered pairs (xᵢ − xⱼ)² = 2 m_u SS_u, with SS_u the unit's sum
of squared deviations from its mean, and over all pairable values Σ n_c n_k δ² = 2 n SS, so::

    α = 1 − (n − 1) Σ_u [m_u / (m_u − 1)] SS_u / (n · SS)

:func:`coincidence_matrix` builds the explicit matrix (the tests check one against the other).
No pairable unit, or no variation among the pairable values (D_e = 0), gives ``None``.

Koo & Li (2016) reading of an ICC
---------------------------------
Koo T.K., Li M.Y. (2016), J. Chiropr. Med. 15(2):155–163: "values less than 0.5, between 0.5 and
0.75, between 0.75 and 0.9, and greater than 0.90 are indicative of poor, moderate, good, and
excellent reliability".  At the boundaries: 0.5 → moderate, 0.75 → good, 0.9 → good (only
*greater than* 0.9 is excellent); ``None``/NaN → ``("n/a", "无法计算")``.

References: Shrout P.E., Fleiss J.L. (1979), Psychol. Bull. 86(2):420–428.  McGraw K.O.,
Wong S.P. (1996), Psychol. Methods 1(1):30–46, erratum 1(4):390.  Krippendorff K. (2011),
Computing Krippendorff's Alpha-Reliability, Annenberg School for Communication, U. Pennsylvania.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "ICC",
    "ICCTable",
    "Agreement",
    "KOO_LI",
    "AGREEMENT_COLUMNS",
    "icc",
    "krippendorff_alpha_interval",
    "coincidence_matrix",
    "agreement",
    "agreement_table",
    "koo_li",
    "regularized_beta",
    "f_cdf",
    "f_quantile",
]

_ZERO = 1e-12  # sums of squares (and denominators) below this fraction of their scale are zeros

KOO_LI: dict[str, str] = {
    "poor": "差",
    "moderate": "中等",
    "good": "良好",
    "excellent": "优秀",
    "n/a": "无法计算",
}
"""Koo & Li (2016) reading: English key → Chinese label for the sheet."""


@dataclass(frozen=True)
class ICC:
    """One intraclass correlation with its confidence interval.

    ``value`` is ``None`` when the coefficient is undefined, ``ci_low``/``ci_high`` when the
    interval is; ``reason`` then says why (``None`` when everything was computed).
    """

    kind: str  # "ICC(2,1)", "ICC(2,k)" or "ICC(3,1)"
    value: float | None
    ci_low: float | None
    ci_high: float | None
    reason: str | None = None


@dataclass(frozen=True)
class ICCTable:
    """ICCs of one matrix and the ANOVA they come from (complete rows only)."""

    n_targets: int  # rows of the matrix
    n_raters: int  # columns holding at least one score (k)
    n_complete: int  # rows scored by all n_raters raters: the targets the ICCs use (n)
    ms_targets: float | None  # MSR
    ms_raters: float | None  # MSC
    ms_error: float | None  # MSE
    icc21: ICC
    icc2k: ICC
    icc31: ICC
    confidence: float = 0.95


@dataclass(frozen=True)
class Agreement:
    """Panel agreement for one applicant (or one pooled group)."""

    n_targets: int
    n_raters: int
    n_complete: int
    icc21: ICC
    icc2k: ICC
    icc31: ICC
    alpha: float | None  # Krippendorff's alpha, interval metric
    alpha_units: int  # pairable units (scored by at least 2 raters) alpha used
    alpha_reason: str | None
    reading: str  # Koo & Li key of icc21 ("poor" … "excellent", "n/a")
    reading_zh: str  # the same in Chinese (差 / 中等 / 良好 / 优秀 / 无法计算)


# -- input ----------------------------------------------------------------------------------------


def _as_matrix(matrix: object) -> np.ndarray:
    """Targets × raters as a float array with NaN for missing cells; empty columns dropped."""
    if isinstance(matrix, pd.DataFrame):
        arr = matrix.apply(pd.to_numeric, errors="raise").to_numpy(dtype=float, na_value=np.nan)
    else:
        try:
            arr = np.array(matrix, dtype=float)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"not a targets × raters matrix of numbers: {exc}") from exc
    if arr.size == 0:
        return np.empty((arr.shape[0] if arr.ndim == 2 else 0, 0))
    if arr.ndim != 2:
        raise ValueError(f"expected a 2-D targets × raters matrix, got {arr.ndim} dimension(s)")
    if np.isinf(arr).any():
        raise ValueError("scores must be finite (use None or NaN for a missing cell)")
    return arr[:, ~np.isnan(arr).all(axis=0)]


# -- F distribution -------------------------------------------------------------------------------


def _beta_continued_fraction(x: float, a: float, b: float) -> float:
    """Continued fraction of I_x(a, b) (DLMF 8.17.22), evaluated by the modified Lentz method."""
    tiny = 1e-300

    def step(value: float) -> float:
        return tiny if abs(value) < tiny else value

    c = 1.0
    d = 1.0 / step(1.0 - (a + b) * x / (a + 1.0))
    h = d
    for m in range(1, 100_000):
        # even step: d_{2m} = m (b − m) x / ((a + 2m − 1)(a + 2m))
        num = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
        d = 1.0 / step(1.0 + num * d)
        c = step(1.0 + num / c)
        h *= d * c
        # odd step: d_{2m+1} = −(a + m)(a + b + m) x / ((a + 2m)(a + 2m + 1))
        num = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
        d = 1.0 / step(1.0 + num * d)
        c = step(1.0 + num / c)
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            return h
    raise ArithmeticError(f"incomplete beta: no convergence for x={x}, a={a}, b={b}")  # pragma: no cover


def regularized_beta(x: float, a: float, b: float) -> float:
    """The regularized incomplete beta function I_x(a, b) for a, b > 0 and 0 ≤ x ≤ 1."""
    if not (a > 0 and b > 0):
        raise ValueError(f"a and b must be positive (a={a}, b={b})")
    if not 0.0 <= x <= 1.0:
        raise ValueError(f"x must lie in [0, 1] (x={x})")
    if x == 0.0 or x == 1.0:
        return x
    log_front = a * math.log(x) + b * math.log1p(-x) - (math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b))
    if x < (a + 1.0) / (a + b + 2.0):  # the fraction converges fast here
        return math.exp(log_front) * _beta_continued_fraction(x, a, b) / a
    return 1.0 - math.exp(log_front) * _beta_continued_fraction(1.0 - x, b, a) / b


def f_cdf(x: float, d1: float, d2: float) -> float:
    """P(F ≤ x) for F with (d1, d2) degrees of freedom: I_{d1 x / (d1 x + d2)}(d1/2, d2/2)."""
    if x <= 0:
        return 0.0
    if math.isinf(x):
        return 1.0
    return regularized_beta(d1 * x / (d1 * x + d2), d1 / 2, d2 / 2)


def _f_sf(x: float, d1: float, d2: float) -> float:
    """P(F > x) = I_{d2 / (d1 x + d2)}(d2/2, d1/2), accurate in the upper tail."""
    if x <= 0:
        return 1.0
    return regularized_beta(d2 / (d1 * x + d2), d2 / 2, d1 / 2)


NO_INTERVAL = "interval not computed (intervals=False)"
"""The reason given when only the point values were asked for (the F quantiles cost most of the time)."""


def f_quantile(p: float, d1: float, d2: float) -> float:
    """The p-quantile of the F distribution with (d1, d2) degrees of freedom (any positive reals).

    Brackets the root and bisects on a log scale to a relative precision of about 1e-14; for
    p > 0.5 it solves P(F > x) = 1 − p, which keeps the upper tail accurate.  Returns ``inf``
    when the quantile exceeds 1e300.
    """
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must lie strictly between 0 and 1 (p={p})")
    if not (d1 > 0 and d2 > 0 and math.isfinite(d1) and math.isfinite(d2)):
        raise ValueError(f"degrees of freedom must be positive and finite (d1={d1}, d2={d2})")
    upper = p > 0.5
    q = 1.0 - p

    def below(x: float) -> bool:  # True when x lies below the quantile
        return _f_sf(x, d1, d2) > q if upper else f_cdf(x, d1, d2) < p

    lo, hi = 1.0, 1.0
    if below(1.0):
        while below(hi):
            lo, hi = hi, hi * 2.0
            if hi > 1e300:
                return math.inf
    else:
        while not below(lo):
            lo, hi = lo / 2.0, lo
            if lo < 1e-300:
                return 0.0
    while hi / lo - 1.0 > 1e-14:
        mid = math.sqrt(lo * hi)
        if mid <= lo or mid >= hi:
            break
        if below(mid):
            lo = mid
        else:
            hi = mid
    return math.sqrt(lo * hi)


# -- ICC ------------------------------------------------------------------------------------------


def _none(kind: str, reason: str) -> ICC:
    return ICC(kind, None, None, None, reason)


def _spearman_brown(r: float | None, k: int) -> float | None:
    """k r / (1 + (k − 1) r); None when 1 + (k − 1) r ≤ 0 (the mean-of-k value is unbounded)."""
    if r is None:
        return None
    den = 1.0 + (k - 1) * r
    return None if den <= _ZERO else k * r / den


def icc(matrix: object, *, confidence: float = 0.95, intervals: bool = True) -> ICCTable:
    """ICC(2,1), ICC(2,k) and ICC(3,1) with ``confidence`` intervals (see the module docstring).

    Uses only the targets every rater scored; :attr:`ICCTable.n_complete` says how many.
    Never raises for degenerate data: an undefined coefficient is ``None`` with a reason.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie strictly between 0 and 1 (got {confidence})")
    x = _as_matrix(matrix)
    n_targets, k = x.shape
    complete = x[~np.isnan(x).any(axis=1)] if k else x[:0]
    n = complete.shape[0]

    def table(i21: ICC, i2k: ICC, i31: ICC, ms: tuple[float | None, ...] = (None, None, None)) -> ICCTable:
        return ICCTable(n_targets, k, n, *ms, icc21=i21, icc2k=i2k, icc31=i31, confidence=confidence)

    reason = None
    if k < 2:
        reason = f"fewer than 2 raters with a score ({k})"
    elif n < 2:
        reason = f"fewer than 2 targets scored by all {k} raters ({n})"
    if reason:
        return table(_none("ICC(2,1)", reason), _none("ICC(2,k)", reason), _none("ICC(3,1)", reason))

    dev = complete - complete.mean()
    row = dev.mean(axis=1, keepdims=True)
    col = dev.mean(axis=0, keepdims=True)
    ss_total = float((dev**2).sum())
    ss_r = float(k * (row**2).sum())
    ss_c = float(n * (col**2).sum())
    ss_e = float(((dev - row - col) ** 2).sum())
    if ss_total == 0.0:
        reason = f"all {n * k} complete scores are equal: no variance, ICC undefined (0/0)"
        return table(_none("ICC(2,1)", reason), _none("ICC(2,k)", reason), _none("ICC(3,1)", reason))
    ss_r, ss_c, ss_e = (0.0 if s <= _ZERO * ss_total else s for s in (ss_r, ss_c, ss_e))
    msr, msc, mse = ss_r / (n - 1), ss_c / (k - 1), ss_e / ((n - 1) * (k - 1))
    ms = (msr, msc, mse)
    q = 1.0 - (1.0 - confidence) / 2.0

    # ICC(3,1), consistency
    den31 = msr + (k - 1) * mse
    if den31 <= 0.0:
        i31 = _none("ICC(3,1)", "no variance between targets and no residual: ICC(3,1) undefined (0/0)")
    else:
        v31 = (msr - mse) / den31
        if mse == 0.0:
            i31 = ICC("ICC(3,1)", v31, 1.0, 1.0)
        elif not intervals:
            i31 = ICC("ICC(3,1)", v31, None, None, NO_INTERVAL)
        else:
            f0, df2 = msr / mse, (n - 1) * (k - 1)
            fl = f0 / f_quantile(q, n - 1, df2)
            fu = f0 * f_quantile(q, df2, n - 1)
            i31 = ICC("ICC(3,1)", v31, (fl - 1) / (fl + k - 1), (fu - 1) / (fu + k - 1))

    # ICC(2,1), absolute agreement
    den21 = msr + (k - 1) * mse + k * (msc - mse) / n
    if den21 <= _ZERO * (msr + (k - 1) * mse + k * msc / n):
        reason = "ICC(2,1) denominator is not positive (variation is residual only): undefined"
        i21 = _none("ICC(2,1)", reason)
        return table(i21, _none("ICC(2,k)", reason), i31, ms)
    rho = (msr - mse) / den21
    if intervals:
        low, high, ci_reason = _ci_icc21(rho, n, k, msr, msc, mse, q)
    else:
        low, high, ci_reason = None, None, NO_INTERVAL
    i21 = ICC("ICC(2,1)", rho, low, high, ci_reason)

    # ICC(2,k): Spearman–Brown of ICC(2,1), value and bounds
    v2k = _spearman_brown(rho, k)
    if v2k is None:
        i2k = _none("ICC(2,k)", "ICC(2,k) denominator is not positive (ICC(2,1) ≤ −1/(k−1)): undefined")
    else:
        low_k = None if low is None else _spearman_brown(low, k)
        high_k = None if high is None else _spearman_brown(high, k)
        why = ci_reason
        if why is None and (low_k is None or high_k is None):
            why = "a confidence bound is unbounded (ICC(2,1) bound ≤ −1/(k−1))"
        i2k = ICC("ICC(2,k)", v2k, low_k, high_k, why)
    return table(i21, i2k, i31, ms)


def _ci_icc21(
    rho: float, n: int, k: int, msr: float, msc: float, mse: float, q: float
) -> tuple[float | None, float | None, str | None]:
    """McGraw & Wong's (1996) interval for ICC(A,1) = ICC(2,1); see the module docstring."""
    if msc == 0.0 and mse == 0.0:  # perfect agreement: both bounds are n·MSR / (n·MSR)
        return 1.0, 1.0, None
    # a, b of McGraw & Wong multiplied by n (1 − ρ), so that ρ = 1 stays finite
    a = k * rho
    b = n * (1 + (k - 1) * rho) - k * rho
    num = (k - 1) * (n - 1) * (a * msc + b * mse) ** 2
    den = (n - 1) * (a * msc) ** 2 + (b * mse) ** 2
    v = num / den if den > 0 else math.nan
    if not (math.isfinite(v) and v > 1e-6):
        return None, None, "confidence interval undefined (Satterthwaite degrees of freedom not positive)"
    f_star, f_2star = f_quantile(q, n - 1, v), f_quantile(q, v, n - 1)
    if not (math.isfinite(f_star) and math.isfinite(f_2star)):
        return None, None, "confidence interval undefined (F quantile out of range)"
    c = k * msc + (k * n - k - n) * mse
    den_low = f_star * c + n * msr
    den_high = c + n * f_2star * msr
    low = n * (msr - f_star * mse) / den_low if den_low > 0 else None
    high = n * (f_2star * msr - mse) / den_high if den_high > 0 else None
    why = None if low is not None and high is not None else "a confidence bound is undefined"
    return low, high, why


# -- Krippendorff's alpha -------------------------------------------------------------------------


def _alpha(x: np.ndarray) -> tuple[float | None, int, str | None]:
    """(alpha, pairable units, reason) for a float matrix with NaN (rows = units)."""
    m = (~np.isnan(x)).sum(axis=1) if x.size else np.zeros(x.shape[0], dtype=int)
    pairable = x[m >= 2]
    units = pairable.shape[0]
    if units == 0:
        return None, 0, "no unit scored by at least 2 raters"
    m_u = m[m >= 2].astype(float)
    values = pairable[~np.isnan(pairable)]
    n = float(values.size)
    ss = float(((values - values.mean()) ** 2).sum())
    if ss == 0.0:
        return None, units, "all pairable values are equal: no variation, alpha undefined (D_e = 0)"
    ss_u = np.nansum((pairable - np.nanmean(pairable, axis=1, keepdims=True)) ** 2, axis=1)
    observed = float((m_u / (m_u - 1) * ss_u).sum())
    return 1.0 - (n - 1) * observed / (n * ss), units, None


def krippendorff_alpha_interval(matrix: object) -> float | None:
    """Krippendorff's alpha with the interval metric δ² = (c − k)²; rows are units, columns raters.

    Units with fewer than 2 values are dropped.  ``None`` when no unit is pairable or all
    pairable values are equal (alpha is 0/0 there); :func:`agreement` also gives the reason.
    """
    return _alpha(_as_matrix(matrix))[0]


def coincidence_matrix(matrix: object) -> tuple[np.ndarray, np.ndarray]:
    """Krippendorff's coincidence matrix: (the distinct pairable values, o) with o[c, k] = o_ck.

    Only units with at least 2 values count; each ordered pair of values from different raters
    in unit u adds 1 / (m_u − 1).  Row sums are n_c, the grand total n (pairable values).
    """
    x = _as_matrix(matrix)
    m = (~np.isnan(x)).sum(axis=1) if x.size else np.zeros(x.shape[0], dtype=int)
    pairable = x[m >= 2]
    values = np.unique(pairable[~np.isnan(pairable)])
    counts = np.zeros((pairable.shape[0], values.size))
    rows, cols = np.nonzero(~np.isnan(pairable))
    np.add.at(counts, (rows, np.searchsorted(values, pairable[rows, cols])), 1.0)
    weight = 1.0 / (m[m >= 2] - 1.0)
    o = (counts * weight[:, None]).T @ counts - np.diag((counts * weight[:, None]).sum(axis=0))
    return values, o


# -- reading and summary --------------------------------------------------------------------------


def koo_li(value: float | None) -> tuple[str, str]:
    """Koo & Li (2016) reading of an ICC as (key, Chinese label).

    < 0.5 poor 差; 0.5 ≤ v < 0.75 moderate 中等; 0.75 ≤ v ≤ 0.9 good 良好; > 0.9 excellent 优秀;
    ``None`` or NaN → ("n/a", "无法计算").  The value is compared as given (not rounded).
    """
    if value is None or math.isnan(value):
        key = "n/a"
    elif value < 0.5:
        key = "poor"
    elif value < 0.75:
        key = "moderate"
    elif value <= 0.9:
        key = "good"
    else:
        key = "excellent"
    return key, KOO_LI[key]


def agreement(matrix: object, *, confidence: float = 0.95, intervals: bool = True) -> Agreement:
    """ICCs, Krippendorff's alpha (interval) and the Koo & Li reading of ICC(2,1) for one matrix."""
    x = _as_matrix(matrix)
    table = icc(x, confidence=confidence, intervals=intervals)
    alpha, units, why = _alpha(x)
    key, zh = koo_li(table.icc21.value)
    return Agreement(
        n_targets=table.n_targets,
        n_raters=table.n_raters,
        n_complete=table.n_complete,
        icc21=table.icc21,
        icc2k=table.icc2k,
        icc31=table.icc31,
        alpha=alpha,
        alpha_units=units,
        alpha_reason=why,
        reading=key,
        reading_zh=zh,
    )


AGREEMENT_COLUMNS = [
    "n_targets",
    "n_raters",
    "n_complete",
    "icc21",
    "icc21_low",
    "icc21_high",
    "icc2k",
    "icc2k_low",
    "icc2k_high",
    "alpha",
    "alpha_units",
    "reading",
    "reading_zh",
    "note",
]
"""Columns :func:`agreement_table` adds after the ``by`` columns."""


def agreement_table(
    scores: pd.DataFrame,
    by: Sequence[str],
    *,
    target: str | Sequence[str] = "unit",
    rater: str = "examiner_id",
    value: str = "pct",
    confidence: float = 0.95,
    intervals: bool = True,
) -> pd.DataFrame:
    """:func:`agreement` per group of a long frame (e.g. the tidy frame of :mod:`core`).

    Per applicant: ``by=GROUP`` (year, award_category, stage, applicant_id), ``target="unit"``.
    Per award category, pooling the applicants' units as targets:
    ``by=["year", "award_category", "stage"]``, ``target=["applicant_id", "unit"]``.
    A rater with two rows for one target raises ``ValueError``.  ``note`` joins the reasons
    of whatever could not be computed.
    """
    by = list(by)
    targets = [target] if isinstance(target, str) else list(target)
    keys = by + targets + [rater]
    dup = scores.duplicated(subset=keys, keep=False)
    if dup.any():
        first = scores.loc[dup, keys].iloc[0].to_dict()
        raise ValueError(f"{int(dup.sum())} rows share a group, target and rater, e.g. {first}")
    values = pd.to_numeric(scores[value], errors="raise").astype(float).to_numpy()
    # Every target and every rater numbered once, in sorted order (as a pivot orders its rows and
    # columns): a group's matrix is then built from those numbers, not by a pivot per group.
    target_no = scores.groupby(targets, sort=True, dropna=False, observed=True).ngroup().to_numpy()
    rater_no = scores.groupby(rater, sort=True, dropna=False, observed=True).ngroup().to_numpy()
    frame = scores[by].assign(_row=np.arange(len(scores)))
    out = []
    for group, part in frame.groupby(by, sort=True, dropna=False, observed=True):
        rows = part["_row"].to_numpy()
        t_ids, t_at = np.unique(target_no[rows], return_inverse=True)
        r_ids, r_at = np.unique(rater_no[rows], return_inverse=True)
        wide = np.full((len(t_ids), len(r_ids)), np.nan)
        wide[t_at, r_at] = values[rows]  # one value per target and rater: duplicates are refused above
        res = agreement(wide, confidence=confidence, intervals=intervals)
        notes = dict.fromkeys(r for r in (res.icc21.reason, res.icc2k.reason, res.alpha_reason) if r)
        out.append(
            [*(group if isinstance(group, tuple) else (group,))]
            + [
                res.n_targets,
                res.n_raters,
                res.n_complete,
                res.icc21.value,
                res.icc21.ci_low,
                res.icc21.ci_high,
                res.icc2k.value,
                res.icc2k.ci_low,
                res.icc2k.ci_high,
                res.alpha,
                res.alpha_units,
                res.reading,
                res.reading_zh,
                "; ".join(notes),
            ]
        )
    return pd.DataFrame(out, columns=by + AGREEMENT_COLUMNS)

"""Statistics shared by the studies: intervals over seeds, correlations, paired tests, crossings.

Conventions
- Inputs are array-likes of floats; non-finite entries are dropped where a function says so
  (intervals, sign test) and propagate otherwise (correlations give NaN).
- Intervals are returned as ``(estimate, low, high)`` floats; degenerate inputs (too few
  values) give NaN bounds rather than exceptions, so a failed run shows up as NaN in a table.
- Everything with randomness (the bootstrap) takes an explicit seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = ["seed_interval", "bootstrap_ci", "spearman", "pearson", "SignTest", "sign_test", "first_crossing"]


def seed_interval(values, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and Student-t confidence interval over seeds (NaN half-width for one seed).

    Non-finite values (diverged runs) are dropped first; the interval is
    mean -+ t_{(1+level)/2, n-1} * sd / sqrt(n) with the sample sd (ddof=1)."""
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    m = float(v.mean())
    if len(v) < 2:
        return m, np.nan, np.nan
    h = float(stats.t.ppf(0.5 + level / 2, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v)))
    return m, m - h, m + h


def bootstrap_ci(values, statistic=np.mean, level: float = 0.95, *, n_resamples: int = 9999, seed: int = 0,
                 method: str = "BCa") -> tuple[float, float, float]:
    """statistic(values) and its bootstrap confidence interval (scipy.stats.bootstrap).

    Non-finite values are dropped. statistic(sample) -> float (numpy reducing functions such as
    np.mean, np.median work vectorised). Fewer than 2 values give NaN bounds; identical values
    give the degenerate interval (v, v). method: "BCa" | "percentile" | "basic"."""
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return np.nan, np.nan, np.nan
    est = float(statistic(v))
    if len(v) < 2:
        return est, np.nan, np.nan
    if np.all(v == v[0]):
        return est, est, est
    res = stats.bootstrap((v,), statistic, confidence_level=level, n_resamples=n_resamples, method=method,
                          rng=np.random.default_rng(seed), vectorized=None)
    return est, float(res.confidence_interval.low), float(res.confidence_interval.high)


def _spearman_result(x, y):
    """r as the Pearson correlation of scipy's average ranks through np.corrcoef of the two rank
    vectors (the studies' former hand-rolled formula, kept bitwise; scipy.stats.spearmanr's own
    corrcoef call on the stacked ranks can differ in the last bit); p from scipy.stats.spearmanr."""
    r = float(np.corrcoef(stats.rankdata(x), stats.rankdata(y))[0, 1])
    return _Result(r, stats.spearmanr(x, y).pvalue)


@dataclass(frozen=True)
class _Result:
    statistic: float
    pvalue: float


def _correlation(fn, x, y, with_pvalue):
    x, y = np.asarray(x, float).ravel(), np.asarray(y, float).ravel()
    if x.shape != y.shape:
        raise ValueError(f"x and y need the same length, got {len(x)} and {len(y)}")
    if len(x) < 2 or not (np.isfinite(x).all() and np.isfinite(y).all()) or np.all(x == x[0]) or np.all(y == y[0]):
        r = p = float("nan")  # undefined; scipy would warn
    else:
        res = fn(x, y)
        r, p = float(res.statistic), float(res.pvalue)
    return (r, p) if with_pvalue else r


def spearman(x, y, *, with_pvalue: bool = False):
    """Spearman rank correlation: Pearson correlation of average ranks (scipy.stats.rankdata),
    equal to scipy.stats.spearmanr's statistic to rounding.

    NaN if either side is constant, has fewer than 2 entries, or any non-finite entry.
    with_pvalue: return (r, p) with scipy's two-sided p-value."""
    return _correlation(_spearman_result, x, y, with_pvalue)


def pearson(x, y, *, with_pvalue: bool = False):
    """Pearson correlation (scipy.stats.pearsonr); NaN cases and with_pvalue as for spearman."""
    return _correlation(stats.pearsonr, x, y, with_pvalue)


@dataclass(frozen=True)
class SignTest:
    n_pos: int  # pairs with a > b
    n_neg: int  # pairs with a < b
    n_ties: int  # pairs with a == b (dropped, as in the classical sign test)
    pvalue: float  # exact binomial p-value of n_pos out of n_pos + n_neg at p = 1/2; NaN without pairs


def sign_test(a, b=None, *, alternative: str = "two-sided") -> SignTest:
    """Paired sign-count test (scipy.stats.binomtest) of a against b (default 0).

    Pairs with a non-finite side are dropped. alternative "greater": a tends to exceed b."""
    a = np.asarray(a, float).ravel()
    b = np.zeros_like(a) if b is None else np.broadcast_to(np.asarray(b, float).ravel(), a.shape)
    ok = np.isfinite(a) & np.isfinite(b)
    d = a[ok] - b[ok]
    n_pos, n_neg = int((d > 0).sum()), int((d < 0).sum())
    p = float(stats.binomtest(n_pos, n_pos + n_neg, 0.5, alternative=alternative).pvalue) if n_pos + n_neg else np.nan
    return SignTest(n_pos, n_neg, int((d == 0).sum()), p)


def first_crossing(t, y, level) -> float:
    """First t where y (sampled on increasing t) reaches level (y >= level), linearly interpolated
    between the last record below and the first at or above; t[0] if y[0] >= level; NaN if never.

    NaN records never count as reached (a NaN just before the crossing gives NaN)."""
    t, y = np.asarray(t, float), np.asarray(y, float)
    above = np.nonzero(y >= level)[0]
    if len(above) == 0:
        return float("nan")
    i = above[0]
    if i == 0:
        return float(t[0])
    return float(t[i - 1] + (level - y[i - 1]) * (t[i] - t[i - 1]) / (y[i] - y[i - 1]))

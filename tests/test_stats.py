"""spdl.stats against scipy and hand-computed values, and identity with the studies' former copies."""

import numpy as np
import pytest
from scipy import stats as sps

from spdl import stats


def test_seed_interval_t_based():
    v = np.array([1.0, 2.0, 4.0, np.nan, np.inf])
    m, lo, hi = stats.seed_interval(v)
    half = sps.t.ppf(0.975, 2) * np.std([1, 2, 4], ddof=1) / np.sqrt(3)
    assert m == pytest.approx(7 / 3) and lo == pytest.approx(7 / 3 - half) and hi == pytest.approx(7 / 3 + half)
    m90 = stats.seed_interval(v, level=0.9)
    assert lo < m90[1] < m90[2] < hi  # narrower at 90 %
    m, lo, hi = stats.seed_interval([5.0])
    assert m == 5.0 and np.isnan(lo) and np.isnan(hi)


def test_seed_interval_covers_the_mean():
    rng = np.random.default_rng(0)
    hits = sum(lo <= 1.0 <= hi for lo, hi in (stats.seed_interval(rng.normal(1.0, 2.0, 5))[1:] for _ in range(2000)))
    assert hits / 2000 == pytest.approx(0.95, abs=0.015)  # binomial sd 0.005


def test_bootstrap_ci():
    rng = np.random.default_rng(1)
    v = rng.normal(3.0, 1.0, 40)
    est, lo, hi = stats.bootstrap_ci(v, seed=2)
    assert est == pytest.approx(v.mean()) and lo < est < hi
    t = stats.seed_interval(v)
    assert lo == pytest.approx(t[1], abs=0.1) and hi == pytest.approx(t[2], abs=0.1)  # ~ normal theory at n = 40
    assert stats.bootstrap_ci(v, seed=2) == (est, lo, hi)  # reproducible
    med = stats.bootstrap_ci(v, np.median, method="percentile", n_resamples=999)
    assert med[0] == pytest.approx(np.median(v)) and med[1] <= med[0] <= med[2]
    assert stats.bootstrap_ci([2.0, 2.0, 2.0]) == (2.0, 2.0, 2.0)
    one = stats.bootstrap_ci([1.0, np.nan])
    assert one[0] == 1.0 and np.isnan(one[1]) and all(np.isnan(stats.bootstrap_ci([])))


def test_correlations_match_scipy_and_the_former_hand_rolled_spearman():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(2, 30))
    y[:5] = y[0]  # ties
    assert stats.spearman(x, y) == pytest.approx(sps.spearmanr(x, y).statistic, abs=1e-15)
    assert stats.pearson(x, y) == sps.pearsonr(x, y).statistic
    r, p = stats.spearman(x, y, with_pvalue=True)
    assert p == sps.spearmanr(x, y).pvalue
    # mislabeled_phases' former spearman: Pearson correlation of midranks (bitwise the same)
    from spdl.studies.mislabeled_phases import midranks
    assert stats.spearman(x, y) == float(np.corrcoef(midranks(x), midranks(y))[0, 1])
    assert stats.spearman([1, 2, 3], [3, 5, 9]) == 1.0 and stats.spearman([1, 2, 3], [3, 2, 1]) == -1.0
    for bad in (([1, 1, 1], [1, 2, 3]), ([1, 2], [np.nan, 1]), ([1], [2])):
        assert np.isnan(stats.spearman(*bad)) and np.isnan(stats.pearson(*bad))
    with pytest.raises(ValueError):
        stats.spearman([1, 2, 3], [1, 2])


def test_sign_test():
    a = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 1.0, np.nan])
    b = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0])
    res = stats.sign_test(a, b)
    assert (res.n_pos, res.n_neg, res.n_ties) == (7, 0, 1)
    assert res.pvalue == pytest.approx(2 * 0.5**7)  # exact two-sided binomial
    assert stats.sign_test(a, b, alternative="greater").pvalue == pytest.approx(0.5**7)
    assert stats.sign_test(a - b) == res  # b defaults to 0
    assert np.isnan(stats.sign_test([1.0], [1.0]).pvalue)


def test_first_crossing():
    assert stats.first_crossing([1, 2, 3], [0.0, 0.25, 0.75], 0.5) == pytest.approx(2.5)
    assert stats.first_crossing([1, 2, 3], [0.6, 0.25, 0.75], 0.5) == 1.0
    assert stats.first_crossing([1, 2, 3, 4], [0.0, 0.9, 0.1, 0.9], 0.5) == pytest.approx(1 + 0.5 / 0.9)
    assert stats.first_crossing([1, 2, 3], [0.0, 0.5, 1.0], 0.5) == 2.0  # reached exactly
    assert np.isnan(stats.first_crossing([1, 2], [0.0, 0.1], 0.5))
    assert np.isnan(stats.first_crossing([1, 2, 3], [0.0, np.nan, 0.9], 0.5))  # NaN record before: undefined


def test_studies_use_the_shared_functions():
    from spdl.studies import mislabeled_phases as mp
    from spdl.studies import sgd_noise_flatness as snf

    assert mp.spearman is stats.spearman and snf.seed_interval is stats.seed_interval
    rng = np.random.default_rng(3)
    t, y = np.sort(rng.uniform(0, 10, 20)), np.sort(rng.uniform(0, 1, 20))
    assert snf.crossing(t, y) == stats.first_crossing(t, y, 0.5)

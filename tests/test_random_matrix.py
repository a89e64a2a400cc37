"""spdl.random_matrix against independent numerics: quadrature of the density, SVDs of random matrices.

Moved from test_deep_linear_theory.py with the functions; tolerances are justified next to each assertion.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, optimize
from scipy.sparse.linalg import eigsh

from spdl import random_matrix as rm

ASPECTS = [0.25, 0.5, 0.75, 1.0]


def _haar_column(n, k, rng):
    """n x k matrix with Haar-distributed orthonormal columns (QR of a Gaussian matrix, sign-fixed)."""
    q, r = np.linalg.qr(rng.standard_normal((n, k)))
    d = np.sign(np.diag(r))
    d[d == 0] = 1.0
    return q * d


# ---------------------------------------------------------------------------
# Marchenko-Pastur
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("A", ASPECTS + [2.0])
def test_mp_density_normalisation_and_second_moment(A):
    lo, hi = abs(1 - np.sqrt(A)), 1 + np.sqrt(A)
    norm, _ = integrate.quad(lambda s: rm.mp_density(s, A), lo, hi, limit=200)
    m2, _ = integrate.quad(lambda s: s**2 * rm.mp_density(s, A), lo, hi, limit=200)
    # quad on a bounded integrand with sqrt edges: ~1e-8 accuracy
    assert norm == pytest.approx(1.0, abs=1e-6)
    # E[s^2] = (1/N3) E tr Z Z^T = N1 * (1/N1) = 1 for A <= 1; for A > 1 the
    # N1 non-zero values carry tr Z Z^T = N3, i.e. mean A.
    assert m2 == pytest.approx(max(A, 1.0), abs=1e-6)
    # zero outside the support, finite at the A = 1 hard edge
    assert rm.mp_density(hi + 1e-3, A) == 0.0
    assert rm.mp_density(lo - 1e-3, A) == 0.0 or lo == 0.0
    if A == 1.0:
        assert rm.mp_density(0.0, A) == pytest.approx(2 / np.pi)
        assert rm.mp_density(1e-8, A) == pytest.approx(2 / np.pi, rel=1e-6)


def test_noise_normalisation_trace():
    # (1/N3) tr Z Z^T for Z (N3 x N1) with variance 1/N1 entries: mean of
    # N3*N1 chi^2_1/N1 terms / N3, relative std sqrt(2/(N1 N3)) ~ 2e-3.
    rng = np.random.default_rng(0)
    Z = rng.standard_normal((300, 600)) / np.sqrt(600)
    assert np.trace(Z @ Z.T) / 300 == pytest.approx(1.0, abs=0.01)


@pytest.mark.parametrize("A", [0.5, 1.0])
def test_mp_quantiles_invert_the_cdf(A):
    # independent inversion check: quad of the density above each quantile
    n = 37
    q = rm.mp_quantiles(n, A)
    hi = 1 + np.sqrt(A)
    for i in [0, 5, 18, 30, n - 1]:
        mass, _ = integrate.quad(lambda s: rm.mp_density(s, A), q[i], hi, limit=200)
        # grid inversion is accurate to ~1e-6 in probability
        assert mass == pytest.approx((i + 0.5) / n, abs=1e-5)


# ---------------------------------------------------------------------------
# Spiked random matrices
# ---------------------------------------------------------------------------


def _top_triplet(M):
    """Top singular triplet of M (n3 <= n1) via Lanczos on M M^T."""
    C = M @ M.T
    w, u = eigsh(C, k=1, which="LA", tol=1e-10)
    s = np.sqrt(w[0])
    u = u[:, 0]
    v = M.T @ u / s
    return s, u, v


@pytest.mark.parametrize("A", [0.25, 0.5, 1.0])
def test_spiked_formulas_vs_random_matrices(A):
    n1 = 2000
    n3 = int(A * n1)
    res = {}
    for seed in range(2):
        rng = np.random.default_rng(100 + seed)
        Z = rng.standard_normal((n3, n1)) / np.sqrt(n1)
        u = _haar_column(n3, 1, rng)[:, 0]
        v = _haar_column(n1, 1, rng)[:, 0]
        for sb in (1.5, 3.0):
            s, uh, vh = _top_triplet(sb * np.outer(u, v) + Z)
            res.setdefault(sb, []).append((s, abs(uh @ u) * abs(vh @ v)))
    for sb, vals in res.items():
        s_emp, O_emp = np.mean(vals, axis=0)
        # fluctuations of the outlier are O(N^-1/2) ~ 2% of O(1) quantities at
        # N = 2000, averaged over 2 seeds; the observed errors are < 1%.
        assert s_emp == pytest.approx(rm.spiked_shat(sb, A), rel=0.02)
        assert abs(O_emp - rm.spiked_overlap(sb, A)) < 0.05


def test_spiked_below_threshold():
    A, n1 = 0.5, 2000
    n3 = int(A * n1)
    sb = 0.6  # below A^(1/4) = 0.84
    assert rm.detection_threshold(A) == pytest.approx(0.8409, abs=1e-4)
    assert rm.spiked_shat(sb, A) == pytest.approx(1 + np.sqrt(A))
    assert rm.spiked_overlap(sb, A) == 0.0
    rng = np.random.default_rng(7)
    Z = rng.standard_normal((n3, n1)) / np.sqrt(n1)
    u = _haar_column(n3, 1, rng)[:, 0]
    v = _haar_column(n1, 1, rng)[:, 0]
    s, uh, vh = _top_triplet(sb * np.outer(u, v) + Z)
    O = abs(uh @ u) * abs(vh @ v)
    # the top value sits at the bulk edge up to Tracy-Widom O(N^-2/3) ~ 1%
    assert s == pytest.approx(1 + np.sqrt(A), rel=0.03)
    # below threshold the overlap vanishes as N -> infinity; at N = 2000 it
    # is a few 1e-2 at most
    assert O < 0.2


@pytest.mark.parametrize("A", ASPECTS + [2.0])
def test_shat_to_sbar_inverts(A):
    sb = np.linspace(A**0.25 + 1e-3, 20, 200)
    np.testing.assert_allclose(rm.shat_to_sbar(rm.spiked_shat(sb, A), A), sb, rtol=1e-9)
    assert rm.shat_to_sbar(1 + np.sqrt(A), A) == pytest.approx(A**0.25)
    assert np.isnan(rm.shat_to_sbar(0.9 * (1 + np.sqrt(A)), A))
    # continuity at threshold: shat -> bulk edge, O -> 0
    assert rm.spiked_shat(A**0.25 * (1 + 1e-9), A) == pytest.approx(1 + np.sqrt(A), rel=1e-6)
    assert rm.spiked_overlap(A**0.25 * (1 + 1e-9), A) < 1e-3


def test_spiked_transpose_invariance():
    # A > 1 through the transposed problem: M^T = sqrt(A) (M') with noise
    # variance 1/n3 and SNR sbar/sqrt(A) at aspect 1/A.
    sb = np.array([1.5, 3.0, 8.0])
    A = 2.0
    np.testing.assert_allclose(
        rm.spiked_shat(sb, A), np.sqrt(A) * rm.spiked_shat(sb / np.sqrt(A), 1 / A), rtol=1e-12
    )
    np.testing.assert_allclose(
        rm.spiked_overlap(sb, A), rm.spiked_overlap(sb / np.sqrt(A), 1 / A), rtol=1e-12
    )


@pytest.mark.parametrize("A", [0.25, 1.0, 2.0])
def test_mp_cdf_matches_quadrature_and_inverts_quantiles(A):
    lo, hi = rm.mp_support(A)
    for s in np.linspace(lo, hi, 7)[1:-1]:
        mass, _ = integrate.quad(lambda x: rm.mp_density(x, A), lo, s, limit=200)
        assert rm.mp_cdf(s, A) == pytest.approx(mass, abs=1e-6)
    q = rm.mp_quantiles(25, A)[::-1]  # ascending quantiles at (i - 0.5) / n
    np.testing.assert_allclose(rm.mp_cdf(q, A), (np.arange(1, 26) - 0.5) / 25, atol=1e-6)
    assert rm.mp_cdf(lo - 0.1, A) == 0.0 and rm.mp_cdf(hi + 0.1, A) == 1.0 and rm.mp_cdf(-1.0, A) == 0.0
    assert np.all(np.diff(rm.mp_cdf(np.linspace(0, hi + 1, 200), A)) >= 0)
    assert np.isnan(rm.mp_cdf(np.nan, A))


def test_mp_cdf_matches_empirical_singular_values():
    rng = np.random.default_rng(3)
    n3, n1 = 500, 1000
    s = np.linalg.svd(rng.standard_normal((n3, n1)) / np.sqrt(n1), compute_uv=False)
    grid = np.linspace(0.4, 1.6, 13)
    emp = (s[None, :] <= grid[:, None]).mean(1)
    # Kolmogorov distance of a spectrum at N = 500 is O(1/N) by rigidity: 0.01 is generous
    assert np.max(np.abs(emp - rm.mp_cdf(grid, 0.5))) < 0.01


def test_bad_aspect_is_refused():
    for bad in (0.0, -1.0, np.nan):
        with pytest.raises(ValueError, match="aspect"):
            rm.mp_density(1.0, bad)
        with pytest.raises(ValueError, match="aspect"):
            rm.mp_cdf(1.0, bad)


# ---------------------------------------------------------------------------
# Quadrature of the Marchenko-Pastur law
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("A", [0.25, 0.5, 1.0, 2.0])
def test_mp_integral_matches_quad(A):
    # independent: scipy quad of f * density in s, over the whole law and over its top 30 %
    lo, hi = rm.mp_support(A)

    def f(s):
        return 1.0 / (1.0 + np.exp(-8.0 * (s - 1.0))) + s**3  # a sigmoid, as the mode trajectories

    whole = integrate.quad(lambda s: f(s) * rm.mp_density(s, A), lo, hi, limit=400)[0]
    assert rm.mp_integral(f, A) == pytest.approx(whole, rel=1e-9)
    s_c = optimize.brentq(lambda x: rm.mp_cdf(x, A) - 0.7, lo + 1e-9, hi - 1e-9)
    top = integrate.quad(lambda s: f(s) * rm.mp_density(s, A), s_c, hi, limit=400)[0]
    # the quantile bound comes from the tabulated CDF (~1e-6 in probability)
    assert rm.mp_integral(f, A, 0.7, 1.0) == pytest.approx(top, rel=1e-5)
    # leading axes of f are kept
    both = rm.mp_integral(lambda s: np.stack([s**2, np.ones_like(s)]), A)
    np.testing.assert_allclose(both, [max(A, 1.0), 1.0], rtol=1e-10)


def test_mp_integral_vs_large_random_matrix():
    # empirical average of f over the singular values of one 1500 x 3000 noise matrix (A = 1/2):
    # linear statistics of the spectrum fluctuate by O(1/N), far below 1e-3
    rng = np.random.default_rng(3)
    n3, n1 = 1500, 3000
    Z = rng.standard_normal((n3, n1)) / np.sqrt(n1)
    s = np.sqrt(np.clip(np.linalg.eigvalsh(Z @ Z.T), 0, None))

    def f(x):
        return np.exp(-x) + x**4

    assert np.mean(f(s)) == pytest.approx(rm.mp_integral(f, 0.5), rel=1e-3)
    top = np.sort(s)[int(0.6 * n3):]  # the top 40 % of the modes
    assert np.sum(f(top)) / n3 == pytest.approx(rm.mp_integral(f, 0.5, 0.6, 1.0), rel=2e-3)


def test_mp_integral_refuses_bad_bounds():
    with pytest.raises(ValueError):
        rm.mp_integral(np.ones_like, 0.5, 0.8, 0.2)

"""Tests of the M-estimation study: replica theory vs independent numerics, solvers vs independent solves."""

import itertools

import numpy as np
import pytest
from scipy import integrate, optimize, stats

from spdl.studies import m_estimation as me


# --- smoothed densities and Fisher information --------------------------------------------------


@pytest.mark.parametrize("sd", [0.5, 1.0, 2.0])
def test_fisher_information_of_a_gaussian(sd):
    """J of N(0, sd^2) is 1/sd^2; by quadrature of the score on the density itself."""
    assert me.fisher_information(0.0, "gaussian", sd) == pytest.approx(1 / sd ** 2)
    x = np.linspace(-12 * sd, 12 * sd, 20001)
    p = np.exp(me.log_smoothed_density(x, 0.0, "gaussian", sd))
    score = np.gradient(np.log(p), x)
    assert integrate.simpson(score ** 2 * p, x=x) == pytest.approx(1 / sd ** 2, rel=1e-6)
    # smoothing by N(0, q) gives the Gaussian of variance sd^2 + q
    assert me.fisher_information(0.7, "gaussian", sd) == pytest.approx(1 / (sd ** 2 + 0.7))


@pytest.mark.parametrize("q", [0.01, 0.3, 4.0])
def test_laplace_smoothed_density_against_numerical_convolution(q):
    for x in (0.0, 0.4, 3.0):
        direct = integrate.quad(lambda u: 0.5 * np.exp(-abs(u)) * stats.norm.pdf(x - u, scale=np.sqrt(q)),
                                -60, 60, points=[0.0, x], limit=400)[0]
        assert np.exp(me.log_smoothed_density(x, q)) == pytest.approx(direct, rel=1e-7)
    x = np.linspace(-5, 5, 2001)
    numeric = np.gradient(me.log_smoothed_density(x, q), x)
    np.testing.assert_allclose(me.smoothed_score(x, q)[5:-5], numeric[5:-5], atol=2e-4)
    numeric2 = np.gradient(me.smoothed_score(x, q), x)
    np.testing.assert_allclose(me._score_derivative(x, q)[5:-5], numeric2[5:-5], atol=5e-3)


def test_laplace_fisher_information_limits():
    """I(q) -> J = 1/b^2 as q -> 0 and -> 1/(2 b^2 + q) (Gaussian-like) as q -> inf."""
    assert me.fisher_information(1e-6, "laplace", 1.0) == pytest.approx(1.0, rel=2e-3)
    assert me.fisher_information(1e-6, "laplace", 2.0) == pytest.approx(0.25, rel=2e-3)
    assert me.fisher_information(400.0) == pytest.approx(1 / 402.0, rel=1e-3)
    i = [me.fisher_information(q) for q in (0.01, 0.1, 1.0, 10.0)]
    assert np.all(np.diff(i) < 0)


# --- unregularised estimators ------------------------------------------------------------------


@pytest.mark.parametrize("noise", me.NOISES)
@pytest.mark.parametrize("alpha", [1.5, 4.0])
def test_least_squares_formula_solves_the_general_equations(noise, alpha):
    """q = sigma^2/(alpha-1), c = kappa/(1-kappa) is a root of the general convex-loss equations."""
    q = float(me.q_least_squares(alpha, noise))
    assert q == pytest.approx(me.variance(noise) / (alpha - 1))
    kappa = 1 / alpha
    res = me.m_equations_residual(q, kappa / (1 - kappa), alpha, "ls", noise)
    np.testing.assert_allclose(res, 0, atol=1e-8)


def test_least_squares_simulation_matches_exact_mean():
    """Mean LS error over draws vs sigma^2 P/(N-P-1) (exact inverse-Wishart mean)."""
    rng = np.random.default_rng(0)
    n, p = 90, 30
    errs = []
    for _ in range(60):
        x, y, s0 = me.make_problem(rng, n, p, "gaussian", 1.0)
        errs.append(np.mean((me.solve_ls(x, y) - s0) ** 2))
    assert abs(np.mean(errs) - p / (n - p - 1)) < 4 * np.std(errs) / np.sqrt(len(errs))


@pytest.mark.parametrize("noise", me.NOISES)
def test_lad_root_solves_the_general_equations(noise):
    alpha = 3.0
    q = me.q_lad(alpha, noise)
    # threshold from P(|x| < c) = kappa, found here by an independent bisection on the first equation
    c = optimize.brentq(lambda c: me.m_equations_residual(q, c, alpha, "lad", noise)[0],
                                            1e-6, 50)
    np.testing.assert_allclose(me.m_equations_residual(q, c, alpha, "lad", noise), 0, atol=1e-5)


def test_laplace_replica_values():
    """Spec table (Laplace(1) noise) and orderings."""
    assert 0.527 <= me.q_optimal(4.0) <= 0.532
    assert 2.31 <= me.q_lad(2.0) <= 2.345
    for alpha in (1.3, 2.0, 5.0, 20.0):
        assert me.q_optimal(alpha) < min(me.q_lad(alpha), me.q_least_squares(alpha))
    # Cramer-Rao-like limit: q_opt -> 1/(alpha J) from above (I(q) < J = 1), slowly
    ratio = [a * me.q_optimal(a) for a in (10.0, 100.0, 1000.0)]
    assert np.all(np.diff(ratio) < 0) and ratio[-1] > 1 and ratio[-1] < 1.05


def test_gaussian_noise_optimum_is_least_squares():
    for alpha in (1.5, 3.0):
        assert me.q_optimal(alpha, "gaussian") == pytest.approx(me.q_least_squares(alpha, "gaussian"), rel=1e-8)


def test_bad_inputs():
    with pytest.raises(ValueError):
        me.q_optimal(0.8)
    with pytest.raises(ValueError):
        me.q_lad(1.0)
    with pytest.raises(ValueError):
        me.q_least_squares(0.5)
    with pytest.raises(ValueError):
        me.fisher_information(0.1, "cauchy")


# --- the optimal loss --------------------------------------------------------------------------


def test_optimal_loss_approaches_absolute_value():
    """rho_opt -> |x| + log 2 (the Laplace ML loss) as q -> 0, uniformly on |x| <= 5."""
    x = np.linspace(-5, 5, 1001)
    gaps = []
    for q in (0.3, 0.03, 1e-3):
        val, _ = me.OptimalLoss(q)(x)
        gaps.append(np.max(np.abs(val - np.abs(x) - np.log(2))))
    assert np.all(np.diff(gaps) < 0)
    assert gaps[-1] < 0.03


@pytest.mark.parametrize("q", [0.2, 1.0, 5.0])
def test_optimal_loss_is_even_convex_with_unit_tail_slope(q):
    loss = me.OptimalLoss(q)
    x = np.linspace(-30, 30, 3001)
    val, der = loss(x)
    np.testing.assert_allclose(val, val[::-1], atol=1e-12)
    assert np.all(np.diff(der) >= -1e-9)          # convex: rho' non-decreasing
    assert der[-1] == pytest.approx(1.0, abs=1e-6)  # linear tails of slope 1
    assert val[-1] - 30 - np.log(2) == pytest.approx(0.0, abs=1e-5)
    t = me.optimal_loss_table(q)
    assert t["d2rho"][0] > 0  # quadratic near 0
    # the derivative table is the derivative of the value table
    np.testing.assert_allclose(np.gradient(t["rho"], t["x"])[3:-3], t["drho"][3:-3], atol=1e-4)


def test_optimal_loss_for_gaussian_noise_is_quadratic_and_gives_least_squares():
    loss = me.OptimalLoss(0.8, "gaussian", 1.5)
    x = np.linspace(-6, 6, 101)
    val, der = loss(x)
    np.testing.assert_allclose(der, x / 1.5 ** 2, atol=1e-6)
    rng = np.random.default_rng(1)
    xm, y, _ = me.make_problem(rng, 80, 20, "gaussian", 1.5)
    s, cert = me.solve_m_estimator(xm, y, loss)
    assert cert < 1e-6
    np.testing.assert_allclose(s, me.solve_ls(xm, y), atol=1e-6)


def test_optimal_loss_solution_is_stationary():
    rng = np.random.default_rng(2)
    x, y, s0 = me.make_problem(rng, 120, 40)
    loss = me.OptimalLoss(me.q_optimal(3.0))
    s, cert = me.solve_m_estimator(x, y, loss)
    assert cert < 1e-6
    _, der = loss(y - x @ s)
    assert np.abs(x.T @ der).max() < 1e-5


# --- LAD as a linear program -------------------------------------------------------------------


def test_lad_lp_against_vertex_enumeration():
    """An L1 regression optimum interpolates P data points: enumerate all P-subsets (independent solve)."""
    rng = np.random.default_rng(3)
    n, p = 9, 3
    x, y, _ = me.make_problem(rng, n, p)
    best = np.inf
    for rows in itertools.combinations(range(n), p):
        sub = x[list(rows)]
        if abs(np.linalg.det(sub)) < 1e-12:
            continue
        s = np.linalg.solve(sub, y[list(rows)])
        best = min(best, np.abs(y - x @ s).sum())
    s_lp, status = me.solve_lad(x, y)
    assert status == 0
    assert np.abs(y - x @ s_lp).sum() == pytest.approx(best, rel=1e-9)


# --- regularised estimators --------------------------------------------------------------------


def test_ridge_closed_form_equals_general_equations():
    for alpha, lam in itertools.product((0.4, 1.0, 2.5), (0.1, 1.0, 3.0)):
        q_gen, _ = me.regularised_state(alpha, "l2", lam)
        assert q_gen == pytest.approx(float(me.q_ridge(alpha, lam)), rel=1e-6)


def test_best_ridge_is_the_linear_mmse():
    """Best ridge lambda = sigma_eps^2 / sigma_s^2 = 1/2 for N(0,1) noise and Laplace(1) signal."""
    for alpha in (0.5, 2.0):
        q, lam = me.best_ridge(alpha)
        assert lam == pytest.approx(0.5, rel=1e-4)


def test_soft_threshold_moments_against_quadrature():
    mu, sd, t = 0.7, 0.9, 0.5
    soft = lambda v: np.sign(v) * max(abs(v) - t, 0.0)  # noqa: E731
    pdf = lambda v: stats.norm.pdf(v, mu, sd)  # noqa: E731
    err = integrate.quad(lambda v: (soft(v) - mu) ** 2 * pdf(v), -20, 20, points=[-t, t])[0]
    frac = 1 - (stats.norm.cdf(t, mu, sd) - stats.norm.cdf(-t, mu, sd))
    got = me.soft_threshold_moments(mu, sd, t)
    assert got[0] == pytest.approx(err, rel=1e-8)
    assert got[1] == pytest.approx(frac, rel=1e-10)


def test_regularised_optimum_beats_map_and_ridge():
    for alpha in (0.5, 1.0, 3.0):
        q_opt, a = me.q_optimal_regularised(alpha)
        assert q_opt < min(me.q_lasso(alpha), me.best_ridge(alpha)[0])
        assert a == pytest.approx((1 + q_opt) / alpha)


def test_batched_solvers_match_one_by_one():
    rng = np.random.default_rng(4)
    r, n, p = 3, 30, 20
    x = rng.standard_normal((r, n, p)) / np.sqrt(p)
    y = rng.standard_normal((r, n))
    s_r = me.solve_ridge(x, y, 0.7)
    s_l, kkt, _ = me.solve_lasso(x, y, 0.3)
    assert np.all(kkt < 1e-8)
    for k in range(r):
        np.testing.assert_allclose(s_r[k], np.linalg.solve(x[k].T @ x[k] + 0.7 * np.eye(p), x[k].T @ y[k]),
                                   atol=1e-10)
        s1, _, _ = me.solve_lasso(x[k:k + 1], y[k:k + 1], 0.3)
        np.testing.assert_allclose(s_l[k], s1[0], atol=1e-7)


def test_check_config_messages():
    good = {"theory": {"unregularised": {"kappa": {"max": 0.9}, "noises": ["laplace"]}},
            "unregularised": {"p": 100, "alphas": [2.0], "noises": ["laplace"]},
            "regularised": {"p": 100, "alphas": [0.5]}}
    assert me.check_config(good) == []
    bad = {"theory": {"unregularised": {"kappa": {"max": 1.0}, "noises": ["laplace"]}},
           "unregularised": {"p": 100, "alphas": [0.9], "noises": ["gaussian"]},
           "regularised": {"p": 10, "alphas": [0.1]}}
    msgs = me.check_config(bad)
    assert len(msgs) == 4
    assert all(m.startswith("m_estimation.") for m in msgs)

"""Optimal M-estimation in high dimensions: replica theory and estimators.

References: M. Advani & S. Ganguli, "Statistical mechanics of optimal convex
inference in high dimensions", Phys. Rev. X 6, 031034 (2016), arXiv:1601.04650;
M. Advani & S. Ganguli, "An equivalence between high dimensional Bayes optimal
inference and M-estimation", NeurIPS 2016, arXiv:1609.07060.  The unregularised
equations are in the form of N. El Karoui et al., PNAS 110, 14557 (2013).

Conventions
-----------
* ``y = X s0 + eps`` with ``X`` of shape ``(N, P)``, entries i.i.d. ``N(0, 1/P)``;
  ``alpha = N / P`` (measurement density), ``kappa = 1 / alpha``.
* Error ``q = |s_hat - s0|^2 / P``; ``x_mu . (s_hat - s0)`` then has variance q.
* Noise (and prior) densities are symmetric: ``"laplace"`` with scale b
  (density ``exp(-|x|/b) / (2b)``, variance ``2 b^2``) or ``"gaussian"`` with
  standard deviation ``scale``.  ``p_q = p * N(0, q)`` is the density smoothed
  by a Gaussian of variance q, in closed form for both families.

Theory (no Monte Carlo): every expectation is a 1-D quadrature against a
smoothed density on a fine grid (the densities are even, so on x >= 0), or a
Gauss-Laguerre rule over a Laplace signal with closed-form Gaussian
expectations of the soft threshold; unknowns are found by ``scipy.optimize.brentq``.

Simulations: least squares by ``lstsq``, LAD as a linear program (HiGHS),
the optimal loss by L-BFGS on its tabulated (smooth, convex) form, LASSO by
FISTA on the Gram matrix (batched over repeats), ridge in closed form
(batched).  All numpy/scipy.
"""

from __future__ import annotations

import numpy as np
from scipy import integrate, interpolate, optimize
from scipy.special import log_ndtr, ndtr

__all__ = [
    "NOISES",
    "log_smoothed_density",
    "smoothed_score",
    "fisher_information",
    "variance",
    "q_least_squares",
    "q_lad",
    "q_optimal",
    "m_equations_residual",
    "optimal_loss_table",
    "OptimalLoss",
    "soft_threshold_moments",
    "regularised_state",
    "q_ridge",
    "best_ridge",
    "q_lasso",
    "q_optimal_regularised",
    "data_saving",
    "crossover_alpha",
    "make_problem",
    "sample_noise",
    "solve_ls",
    "solve_lad",
    "solve_m_estimator",
    "solve_ridge",
    "solve_lasso",
    "check_config",
]

NOISES = ("laplace", "gaussian")
_LOG_HALF = np.log(0.5)


def _check_noise(noise):
    if noise not in NOISES:
        raise ValueError(f"unknown noise {noise!r}; expected one of {NOISES}")


def variance(noise: str, scale: float = 1.0) -> float:
    """Variance of the (unsmoothed) noise density."""
    _check_noise(noise)
    return 2.0 * scale ** 2 if noise == "laplace" else scale ** 2


# ---------------------------------------------------------------------------
# Smoothed densities p_q = p * N(0, q) (spec, "Unregularised theory")
# ---------------------------------------------------------------------------


def _laplace_parts(x, q):
    """log of the two terms of Laplace(1) * N(0, q): p_q = e^{q/2}/2 (A + B)."""
    sq = np.sqrt(q)
    la = -x + log_ndtr((x - q) / sq)
    lb = x + log_ndtr(-(x + q) / sq)
    return la, lb


def log_smoothed_density(x, q, noise="laplace", scale=1.0):
    """``log p_q(x)`` for ``p_q = p_noise * N(0, q)`` (closed form, stable in the tails)."""
    _check_noise(noise)
    x = np.asarray(x, dtype=float)
    if noise == "gaussian":
        v = scale ** 2 + q
        return -0.5 * x ** 2 / v - 0.5 * np.log(2 * np.pi * v)
    if q <= 0:
        return -np.abs(x) / scale - np.log(2 * scale)
    u, qs = x / scale, q / scale ** 2  # Laplace(b) * N(0,q) = (1/b) [Laplace(1) * N(0, q/b^2)](x/b)
    la, lb = _laplace_parts(u, qs)
    return _LOG_HALF + 0.5 * qs + np.logaddexp(la, lb) - np.log(scale)


def smoothed_score(x, q, noise="laplace", scale=1.0):
    """Score ``(log p_q)'(x)``; for Laplace the Gaussian-density terms cancel exactly."""
    _check_noise(noise)
    x = np.asarray(x, dtype=float)
    if noise == "gaussian":
        return -x / (scale ** 2 + q)
    if q <= 0:
        return -np.sign(x) / scale
    la, lb = _laplace_parts(x / scale, q / scale ** 2)
    return np.tanh(0.5 * (lb - la)) / scale


def _score_derivative(x, q, noise="laplace", scale=1.0):
    """``(log p_q)''(x)``: for Laplace, d/dx tanh((lb-la)/2) with la' = -1 + phi/Phi terms."""
    x = np.asarray(x, dtype=float)
    if noise == "gaussian":
        return np.full_like(x, -1.0 / (scale ** 2 + q))
    u, qs = x / scale, q / scale ** 2
    sq = np.sqrt(qs)
    la, lb = _laplace_parts(u, qs)
    # d/du log Phi(w) = phi(w)/Phi(w) = exp(log phi(w) - log Phi(w))
    wa, wb = (u - qs) / sq, -(u + qs) / sq
    mills = lambda w: np.exp(-0.5 * w ** 2 - 0.5 * np.log(2 * np.pi) - log_ndtr(w))  # noqa: E731
    dla = -1.0 + mills(wa) / sq
    dlb = 1.0 - mills(wb) / sq
    t = np.tanh(0.5 * (lb - la))
    return 0.5 * (1 - t ** 2) * (dlb - dla) / scale ** 2


def _grid(q, noise, scale, n=20001):
    """Half-grid x >= 0 covering the smoothed density (the densities are even)."""
    width = np.sqrt(variance(noise, scale) + q)
    tail = 45.0 * scale if noise == "laplace" else 0.0
    hi = 14.0 * width + tail
    return np.linspace(0.0, hi, n)


def _expect_even(f_vals, x, p):
    """``E[f(x)]`` for an even density p tabulated on x >= 0 (Simpson)."""
    return 2.0 * integrate.simpson(f_vals * p, x=x)


def fisher_information(q, noise="laplace", scale=1.0):
    """``I(q) = E[(log p_q)'^2]`` of the smoothed density (1-D quadrature); ``I(0) = J``."""
    _check_noise(noise)
    if noise == "gaussian":
        return 1.0 / (scale ** 2 + q)
    if q <= 0:
        return 1.0 / scale ** 2
    x = _grid(q, noise, scale)
    p = np.exp(log_smoothed_density(x, q, noise, scale))
    return _expect_even(smoothed_score(x, q, noise, scale) ** 2, x, p)


# ---------------------------------------------------------------------------
# Unregularised M-estimation (spec, "Unregularised theory")
# ---------------------------------------------------------------------------


def _check_kappa(alpha):
    alpha = float(alpha)
    if not alpha > 1:
        raise ValueError(f"unregularised M-estimation needs alpha > 1, got {alpha}")
    return 1.0 / alpha


def q_least_squares(alpha, noise="laplace", scale=1.0):
    """``q_LS = sigma^2 kappa / (1 - kappa) = sigma^2 / (alpha - 1)``."""
    alpha = np.asarray(alpha, dtype=float)
    if np.any(alpha <= 1):
        raise ValueError("least squares needs alpha > 1")
    return variance(noise, scale) / (alpha - 1)


def m_equations_residual(q, c, alpha, loss, noise="laplace", scale=1.0):
    """Residuals of the two equations for a convex loss, x = eps + sqrt(q) z:

    ``E[prox'_{c rho}(x)] - (1 - kappa)`` and ``E[(x - prox_{c rho}(x))^2] - kappa q``.
    ``loss`` is ``"ls"`` (rho = x^2/2) or ``"lad"`` (rho = |x|).  Used by the tests
    to check the closed forms against the general equations.
    """
    kappa = 1.0 / alpha
    dens = lambda x: np.exp(log_smoothed_density(x, q, noise, scale))  # noqa: E731

    def expect(f, breaks=()):  # 2 * int_0^inf f p (even integrands), adaptive quadrature split at kinks
        edges = [0.0, *breaks, np.inf]
        return 2 * sum(integrate.quad(lambda x: f(x) * dens(x), lo, hi, epsabs=1e-13, epsrel=1e-11, limit=200)[0]
                       for lo, hi in zip(edges[:-1], edges[1:]))

    if loss == "ls":
        eq1 = 1 / (1 + c)
        eq2 = expect(lambda x: (c * x / (1 + c)) ** 2)
    elif loss == "lad":
        eq1 = expect(lambda x: 0.0 * x, ()) if c <= 0 else 2 * integrate.quad(dens, c, np.inf, epsabs=1e-13)[0]
        eq2 = expect(lambda x: np.minimum(x, c) ** 2, (c,))
    else:
        raise ValueError(f"unknown loss {loss!r}")
    return eq1 - (1 - kappa), eq2 - kappa * q


def _lad_gap(q, kappa, noise, scale):
    """For LAD: threshold c from P(|x| < c) = kappa, then E[min(x^2, c^2)] - kappa q."""
    x = _grid(q, noise, scale)
    p = np.exp(log_smoothed_density(x, q, noise, scale))
    mass = 2 * integrate.cumulative_simpson(p, x=x, initial=0.0)  # P(|x| < x_i)
    c = np.interp(kappa, mass, x)
    inside = 2 * integrate.cumulative_simpson(x ** 2 * p, x=x, initial=0.0)
    second = np.interp(c, x, inside) + c ** 2 * (1 - kappa)
    return second - kappa * q


def q_lad(alpha, noise="laplace", scale=1.0):
    """Replica error of least absolute deviations: prox = soft threshold at c (spec)."""
    kappa = _check_kappa(alpha)
    f = lambda lq: _lad_gap(np.exp(lq), kappa, noise, scale)  # noqa: E731
    lo, hi = np.log(1e-8), np.log(variance(noise, scale) * 100 / (1 - kappa) ** 2 + 1)
    return float(np.exp(optimize.brentq(f, lo, hi, xtol=1e-12, rtol=1e-12)))


def q_optimal(alpha, noise="laplace", scale=1.0):
    """Error of the optimal convex M-estimator: ``q I(q) = kappa`` (spec)."""
    kappa = _check_kappa(alpha)
    f = lambda lq: np.exp(lq) * fisher_information(np.exp(lq), noise, scale) - kappa  # noqa: E731
    lo, hi = np.log(1e-10), np.log(variance(noise, scale) * 100 / (1 - kappa) + 1)
    return float(np.exp(optimize.brentq(f, lo, hi, xtol=1e-12, rtol=1e-12)))


def crossover_alpha(noise="laplace", scale=1.0, bracket=(2.0, 6.0)):
    """alpha at which LAD and LS have equal replica error."""
    f = lambda a: q_lad(a, noise, scale) - float(q_least_squares(a, noise, scale))  # noqa: E731
    return float(optimize.brentq(f, *bracket, xtol=1e-6))


def optimal_loss_table(q, noise="laplace", scale=1.0, y_max=None, n=4001):
    """The optimal loss ``rho_opt(x) = -min_y [log p_q(y) + (x-y)^2/(2q)]`` on x >= 0.

    Parametrised by the minimiser y: ``x = y + q (log p_q)'(y)`` (the prox of
    ``q rho_opt`` is ``x -> x + q (log p_q)'(x)``), ``rho = -log p_q(y) - q score^2/2``,
    ``rho' = -score(y)``, ``rho'' = -score'/(1 + q score')``.
    Returns dict of arrays x, rho, drho, d2rho (x increasing from 0).
    """
    if y_max is None:
        y_max = 12.0 * np.sqrt(variance(noise, scale) + q) + 5 * q
    y = np.linspace(0.0, y_max, n)
    s = smoothed_score(y, q, noise, scale)
    ds = _score_derivative(y, q, noise, scale)
    x = y + q * s
    rho = -log_smoothed_density(y, q, noise, scale) - 0.5 * q * s ** 2
    return {"x": x, "rho": rho, "drho": -s, "d2rho": -ds / (1 + q * ds)}


class OptimalLoss:
    """Even, convex, C^1 loss from :func:`optimal_loss_table` (cubic Hermite, linear tails)."""

    def __init__(self, q, noise="laplace", scale=1.0, n=4001):
        t = optimal_loss_table(q, noise, scale, n=n)
        keep = np.concatenate([[True], np.diff(t["x"]) > 1e-12])
        self.x, self.rho, self.drho = t["x"][keep], t["rho"][keep], t["drho"][keep]
        self.spline = interpolate.CubicHermiteSpline(self.x, self.rho, self.drho)
        self.dspline = self.spline.derivative()
        self.x_end, self.slope_end, self.rho_end = self.x[-1], self.drho[-1], self.rho[-1]

    def __call__(self, r):
        """Values and derivatives of rho at residuals r."""
        a = np.abs(r)
        inside = a <= self.x_end
        ac = np.minimum(a, self.x_end)
        val = np.where(inside, self.spline(ac), self.rho_end + self.slope_end * (a - self.x_end))
        der = np.where(inside, self.dspline(ac), self.slope_end)
        return val, np.sign(r) * der


# ---------------------------------------------------------------------------
# Regularised estimators: square loss + separable regulariser (spec)
# ---------------------------------------------------------------------------

_LAGUERRE = np.polynomial.laguerre.laggauss(80)


def soft_threshold_moments(mu, sd, t):
    """Closed-form ``E[(eta(v) - mu)^2]`` and ``E[eta'(v)]`` for ``v = mu + sd z``, eta = soft(., t)."""
    mu, sd, t = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (mu, sd, t)))
    a, b = (t - mu) / sd, (-t - mu) / sd
    pa, pb = np.exp(-0.5 * a ** 2) / np.sqrt(2 * np.pi), np.exp(-0.5 * b ** 2) / np.sqrt(2 * np.pi)
    Qa, Pb = ndtr(-a), ndtr(b)
    upper = sd ** 2 * (Qa + a * pa) - 2 * sd * t * pa + t ** 2 * Qa
    lower = sd ** 2 * (Pb - b * pb) - 2 * sd * t * pb + t ** 2 * Pb
    mid = mu ** 2 * (ndtr(a) - Pb)
    return upper + mid + lower, Qa + Pb


def _prior_expect(fn, prior_scale):
    """``E[fn(s0)]`` for a Laplace(prior_scale) signal (Gauss-Laguerre, fn even in s0)."""
    nodes, weights = _LAGUERRE
    return np.sum(weights * fn(prior_scale * nodes), axis=-1)


def regularised_state(alpha, regulariser, lam, noise_std=1.0, prior_scale=1.0):
    """Solve the (q, c) equations for square loss + ``lam * sigma(s)`` (spec, Regularised theory).

    ``a = kappa (q + sigma_eps^2)``, ``t = kappa (1 + c) lam``; ``q = E[(prox - s0)^2]``,
    ``c/(1+c) = kappa E[prox']`` over ``s0 ~ Laplace(prior_scale)``, Gaussian noise.
    ``regulariser`` is ``"l1"`` (LASSO; MAP at lam = noise_std^2/prior_scale) or ``"l2"``
    (ridge, ``lam s^2/2``).  Returns (q, c).
    """
    kappa = 1.0 / float(alpha)
    s2 = noise_std ** 2

    def moments(a, c):
        t = kappa * (1 + c) * lam
        if regulariser == "l1":
            return _prior_expect(lambda s: np.stack(soft_threshold_moments(s, np.sqrt(a), t)), prior_scale)
        if regulariser == "l2":
            shrink = 1.0 / (1.0 + t)
            err = (1 - shrink) ** 2 * 2 * prior_scale ** 2 + shrink ** 2 * a
            return np.array([err, shrink])
        raise ValueError(f"unknown regulariser {regulariser!r}")

    def c_of(a):
        g = lambda u: u - kappa * moments(a, u / (1 - u))[1]  # noqa: E731  u = c/(1+c)
        u = optimize.brentq(g, 1e-14, 1 - 1e-12, xtol=1e-15, rtol=1e-13)
        return u / (1 - u)

    def gap(lq):
        q = np.exp(lq)
        a = kappa * (q + s2)
        return moments(a, c_of(a))[0] - q

    lq = optimize.brentq(gap, np.log(1e-10), np.log(1e4), xtol=1e-13, rtol=1e-13)
    q = float(np.exp(lq))
    return q, float(c_of(kappa * (q + s2)))


def q_ridge(alpha, lam, noise_std=1.0, signal_var=2.0):
    """Ridge closed form (spec; code qThyL2.m): b = 1-k-k lam, c = -k lam, d = (-b + sqrt(b^2-4c))/2."""
    kappa = 1.0 / np.asarray(alpha, dtype=float)
    lam = np.asarray(lam, dtype=float)
    b, c = 1 - kappa - kappa * lam, -kappa * lam
    d = (-b + np.sqrt(b ** 2 - 4 * c)) / 2
    return (signal_var * d ** 2 + noise_std ** 2 * kappa) / ((1 + d) ** 2 - kappa)


def best_ridge(alpha, noise_std=1.0, signal_var=2.0):
    """Ridge at the lam minimising the closed form; returns (q, lam)."""
    res = optimize.minimize_scalar(lambda ll: q_ridge(alpha, np.exp(ll), noise_std, signal_var),
                                   bounds=(np.log(1e-4), np.log(1e3)), method="bounded",
                                   options={"xatol": 1e-10})
    return float(res.fun), float(np.exp(res.x))


def q_lasso(alpha, lam=1.0, noise_std=1.0, prior_scale=1.0):
    """LASSO ``1/2|y - X s|^2 + lam |s|_1`` error; MAP for Laplace prior and N(0,1) noise at lam = 1."""
    return regularised_state(alpha, "l1", lam, noise_std, prior_scale)[0]


def q_optimal_regularised(alpha, noise_std=1.0, prior_scale=1.0):
    """Optimal regularised M-estimator, Gaussian noise: ``q = a - a^2 J_s(a)``, ``a = kappa (sigma^2 + q)``.

    (``a = kappa / I(q)`` with ``I(q) = 1 / (sigma^2 + q)`` for Gaussian noise; ``J_s``
    is the Fisher information of the Laplace prior smoothed by N(0, a).)
    Returns (q, a).
    """
    kappa = 1.0 / float(alpha)

    def gap(lq):
        q = np.exp(lq)
        a = kappa * (noise_std ** 2 + q)
        return a - a ** 2 * fisher_information(a, "laplace", prior_scale) - q

    q = float(np.exp(optimize.brentq(gap, np.log(1e-10), np.log(1e4), xtol=1e-13, rtol=1e-13)))
    return q, kappa * (noise_std ** 2 + q)


def data_saving(alpha_opt, noise_std=1.0, prior_scale=1.0, lam=1.0):
    """``1 - alpha_opt / alpha_MAP`` where MAP reaches the optimum's error at alpha_MAP."""
    target = q_optimal_regularised(alpha_opt, noise_std, prior_scale)[0]
    f = lambda la: q_lasso(np.exp(la), lam, noise_std, prior_scale) - target  # noqa: E731
    alpha_map = float(np.exp(optimize.brentq(f, np.log(alpha_opt), np.log(alpha_opt) + 5, xtol=1e-10)))
    return 1 - alpha_opt / alpha_map


# ---------------------------------------------------------------------------
# Simulations
# ---------------------------------------------------------------------------


def sample_noise(rng, shape, noise="laplace", scale=1.0):
    _check_noise(noise)
    return rng.laplace(0.0, scale, shape) if noise == "laplace" else rng.normal(0.0, scale, shape)


def make_problem(rng, n, p, noise="laplace", scale=1.0, signal="gaussian", signal_scale=1.0):
    """One draw ``(X, y, s0)``; X entries N(0, 1/P); signal Gaussian or Laplace."""
    x = rng.standard_normal((n, p)) / np.sqrt(p)
    s0 = sample_noise(rng, p, signal, signal_scale)
    return x, x @ s0 + sample_noise(rng, n, noise, scale), s0


def solve_ls(x, y):
    return np.linalg.lstsq(x, y, rcond=None)[0]


def solve_lad(x, y, method="highs-ipm"):
    """LAD ``min_s |y - X s|_1`` through its dual linear program (HiGHS).

    Dual: ``max y^T w`` s.t. ``X^T w = 0``, ``-1 <= w <= 1`` (P equality rows
    instead of N); the primal solution is minus the multiplier of the equality
    constraints.  Returns (s, status) with status 0 on success (NaNs otherwise).
    """
    n, p = x.shape
    res = optimize.linprog(-y, A_eq=x.T, b_eq=np.zeros(p), bounds=(-1, 1), method=method)
    if res.status != 0:
        return np.full(p, np.nan), int(res.status)
    return -res.eqlin.marginals, 0


def solve_m_estimator(x, y, loss, s_init=None, gtol=1e-9, maxiter=5000):
    """Minimise ``sum rho(y - X s)`` by L-BFGS; ``loss(r) -> (rho, rho')``.

    Returns (s, certificate) with certificate ``|X^T rho'(r)|_inf / |X^T sign-scale|``,
    the relative stationarity at the solution.
    """
    def f(s):
        val, der = loss(y - x @ s)
        return val.sum(), -(x.T @ der)

    s0 = solve_ls(x, y) if s_init is None else s_init
    res = optimize.minimize(f, s0, jac=True, method="L-BFGS-B",
                            options={"gtol": gtol, "ftol": 1e-15, "maxiter": maxiter, "maxcor": 20})
    grad = f(res.x)[1]
    scale = np.abs(x).sum(0).max()
    return res.x, float(np.abs(grad).max() / scale)


def solve_ridge(x, y, lam):
    """Batched ridge ``(X^T X + lam I)^{-1} X^T y``; x (R, N, P), y (R, N)."""
    p = x.shape[-1]
    gram = np.einsum("rnp,rnk->rpk", x, x) + lam * np.eye(p)
    return np.linalg.solve(gram, np.einsum("rnp,rn->rp", x, y)[..., None])[..., 0]


def solve_lasso(x, y, lam, tol=1e-9, max_iter=20000):
    """Batched FISTA (with adaptive restart) for ``1/2|y - X s|^2 + lam |s|_1``.

    x (R, N, P), y (R, N).  Stops when the KKT violation of every member is below
    ``tol`` (relative to lam).  Returns (s, kkt, iterations): the per-member KKT
    violation is the certificate.
    """
    gram = np.einsum("rnp,rnk->rpk", x, x)
    xty = np.einsum("rnp,rn->rp", x, y)
    lip = np.linalg.eigvalsh(gram)[:, -1][:, None]
    s = np.zeros_like(xty)
    z, t = s.copy(), np.ones((len(s), 1))
    kkt = np.full(len(s), np.inf)
    it = 0
    for it in range(1, max_iter + 1):
        grad = np.einsum("rpk,rk->rp", gram, z) - xty
        v = z - grad / lip
        s_new = np.sign(v) * np.maximum(np.abs(v) - lam / lip, 0)
        t_new = (1 + np.sqrt(1 + 4 * t ** 2)) / 2
        restart = (np.sum((z - s_new) * (s_new - s), axis=1, keepdims=True) > 0)
        t_new = np.where(restart, 1.0, t_new)
        mom = np.where(restart, 0.0, (t - 1) / t_new)
        z = s_new + mom * (s_new - s)
        s, t = s_new, t_new
        if it % 25 == 0:
            kkt = _lasso_kkt(gram, xty, s, lam)
            if np.all(kkt < tol):
                break
    kkt = _lasso_kkt(gram, xty, s, lam)
    return s, kkt, it


def _lasso_kkt(gram, xty, s, lam):
    """max over coordinates of the subgradient-condition violation, relative to lam."""
    g = xty - np.einsum("rpk,rk->rp", gram, s)  # = X^T (y - X s), must equal lam sign(s) / lie in [-lam, lam]
    on = s != 0
    viol = np.where(on, np.abs(g - lam * np.sign(s)), np.maximum(np.abs(g) - lam, 0))
    return viol.max(axis=1) / lam


# ---------------------------------------------------------------------------
# Config checks the schema cannot express
# ---------------------------------------------------------------------------


def check_config(section: dict) -> list[str]:
    """Cross-field checks of ``config["m_estimation"]``; one message per problem, key first."""
    msgs = []
    unreg = section.get("unregularised", {})
    for a in unreg.get("alphas", []):
        if a <= 1:
            msgs.append(f"m_estimation.unregularised.alphas: {a} <= 1 (unregularised estimators need N > P)")
    kmax = section.get("theory", {}).get("unregularised", {}).get("kappa", {}).get("max")
    if kmax is not None and kmax >= 1:
        msgs.append(f"m_estimation.theory.unregularised.kappa.max: {kmax} must be < 1 (alpha > 1)")
    for key in ("unregularised", "regularised"):
        sub = section.get(key, {})
        for a in sub.get("alphas", []):
            if "p" in sub and int(round(a * sub["p"])) < 2:
                msgs.append(f"m_estimation.{key}.alphas: alpha={a} with p={sub['p']} gives fewer than 2 samples")
    noises = section.get("theory", {}).get("unregularised", {}).get("noises")
    for n in unreg.get("noises", []):
        if noises is not None and n not in noises:
            msgs.append(f"m_estimation.unregularised.noises: {n!r} has no theory curve "
                        "(add it to theory.unregularised.noises)")
    return msgs

"""Deep linear generalisation dynamics: theory and task construction.

Reference: A. K. Lampinen & S. Ganguli, "An analytic theory of generalization
dynamics and transfer learning in deep linear networks", ICLR 2019
(arXiv:1809.10374), with the mode dynamics of Saxe, McClelland & Ganguli,
ICLR 2014 (arXiv:1312.6120); equation references below are to Lampinen &
Ganguli's paper.

Conventions (shared by every function in this module)
-----------------------------------------------------
* Teacher ``Wbar = sum_a sbar_a u_a v_a^T`` of shape ``(N3, N1)``; aspect ratio
  ``A = N3 / N1``.
* Noise ``Z`` has i.i.d. entries ``N(0, 1/N1)`` (``sigma_z = 1``), so with
  ``P = N1`` one-hot inputs ``Sigma31 = Wbar + Z`` and the teacher singular
  values are signal-to-noise ratios.  With this normalisation
  ``(1/N3) tr Z Z^T -> 1``, i.e. the mean squared noise singular value is 1
  for ``A <= 1``.
* Time is measured in units of ``tau = 1/lr`` (``t = epochs * lr``).
* A mode of the student is described by its singular value ``s``; the product
  of the student's weight matrices at initialisation has singular values
  ``eps`` ("product init eps"), each of the ``D = n_layers`` matrices carrying
  ``eps^(1/D)``.
* ``A > 1`` (more outputs than inputs) is supported everywhere: the
  Benaych-Georges--Nadakuditi formulas are invariant under transposition with
  this noise normalisation (checked analytically: transposing maps
  ``(sbar, A) -> (sbar/sqrt(A), 1/A)`` and rescales by ``sqrt(A)``, which leaves
  ``shat(sbar)``, ``O(sbar)`` and the threshold ``A^(1/4)`` unchanged), and the
  Marchenko-Pastur law of the ``min(N1, N3)`` non-zero noise singular values is
  supported on ``[|1 - sqrt(A)|, 1 + sqrt(A)]`` with density
  ``sqrt(4A - (s^2-1-A)^2) / (pi min(A, 1) s)``.

All functions are pure numpy/scipy and broadcast over their array arguments.
"""

from __future__ import annotations

import functools

import numpy as np
from scipy import integrate, interpolate
from scipy.special import expit, log_expit

# Random-matrix theory (spiked rectangular random matrices) lives in
# spdl.random_matrix, shared with other studies; re-exported here.
from spdl.random_matrix import (
    detection_threshold,
    mp_cdf,
    mp_density,
    mp_integral,
    mp_quantiles,
    shat_to_sbar,
    spiked_overlap,
    spiked_shat,
)

__all__ = [
    "detection_threshold",
    "mp_cdf",
    "mp_density",
    "mp_quantiles",
    "spiked_shat",
    "spiked_overlap",
    "shat_to_sbar",
    "mode_trajectory",
    "transition_time",
    "noise_spectrum",
    "theory_errors",
    "varying_p_theory",
    "optimal_stopping",
    "nongradient_optimum",
    "nongradient_estimate",
    "make_teacher",
    "make_task",
    "aligned_init",
    "train_error",
    "test_error",
    "member_minima",
    "mean_curve",
    "transfer_table",
]


# ---------------------------------------------------------------------------
# Mode dynamics (Lampinen & Ganguli 2019, "Mode dynamics" and "Depth D")
# ---------------------------------------------------------------------------
#
# A training-aligned mode with target shat obeys (balanced init, D matrices)
#     tau ds/dt = D s^(2 - 2/D) (shat - s),     s(0) = eps.
# D = 2: logistic, closed form.  D = 1: linear relaxation.  D >= 3: with
# x = s/shat, p = 2 - 2/D, q = 2/D the time is
#     t = [Phi(x) - Phi(x0)] / (D shat^p),   x0 = eps/shat,
# where Phi is an exact antiderivative of 1/(x^p (1-x)) on (0, 1):
#     Phi(x) = x^(q-1)/(q-1) + x^q/q - ln(1-x) - R(x),
#     R(x)   = int_0^x (1 - y^q)/(1 - y) dy
# (check: Phi' = x^(q-2) + x^(q-1) + x^q/(1-x) = 1/(x^p (1-x))).  R is a
# bounded, smooth integral; with y = x w^D it becomes
#     R(x) = int_0^1 D x w^(D-1) (1 - x^q w^2)/(1 - x w^D) dw,
# whose integrand is a rational function of w without poles near [0, 1] (the
# real pole at w = x^(-1/D) is cancelled by the numerator because q = 2/D), so
# Gauss-Legendre quadrature is exact to machine precision.  For D = 4 this
# reproduces the closed form 2 t shat^(3/2) = [arctanh u - 1/u]_{u0}^{u},
# u = sqrt(s/shat) (tested).  s(t) is obtained by inverting Phi in the logit
# variable z = ln(x/(1-x)), where dPhi/dz = x^(q-1) >= 1 (monotone, concave):
# a Hermite-interpolated table of the inverse (error ~1e-11) gives the start
# and Newton steps polish it to
# machine precision.
#
# If shat < eps the mode decays from eps to shat (never needed for TA students
# with eps << noise singular values, but handled): that branch is integrated
# with scipy's solve_ivp in w = ln(s - shat), dw/dt = -D (shat + e^w)^p, at
# rtol 1e-11.

_GL_X, _GL_W = np.polynomial.legendre.leggauss(32)
_GL_X = 0.5 * (_GL_X + 1.0)
_GL_W = 0.5 * _GL_W


@functools.lru_cache(maxsize=16)
def _gl_powers(D: int):
    """Gauss-Legendre nodes' powers w^2, w^D and weights * w^(D-1) for R."""
    return _GL_X**2, _GL_X**D, _GL_W * _GL_X ** (D - 1)


def _R(x, D):
    """R(x) = int_0^x (1 - y^q)/(1 - y) dy, q = 2/D, for 0 <= x <= 1."""
    q = 2.0 / D
    x = np.asarray(x, dtype=float)
    w2, wD, cw = _gl_powers(D)
    xe = x[..., None]
    ratio = (1.0 - (x**q)[..., None] * w2) / (1.0 - xe * wD)
    return D * x * (ratio @ cw)


def _phi_z(z, D):
    """Phi as a function of z = logit(x), D >= 3."""
    q = 2.0 / D
    lx = log_expit(z)
    return (
        np.exp((q - 1.0) * lx) / (q - 1.0)
        + np.exp(q * lx) / q
        - log_expit(-z)
        - _R(expit(z), D)
    )


@functools.lru_cache(maxsize=16)
def _phi_inverse_spline(D: int):
    """Cubic Hermite interpolant of z(Phi) on a dense z grid (exact slopes)."""
    q = 2.0 / D
    z = np.linspace(-100.0, 100.0, 20_001)  # z = 100 must stay the last node
    phi = _phi_z(z, D)
    dz_dphi = np.exp((1.0 - q) * log_expit(z))
    return interpolate.CubicHermiteSpline(phi, z, dz_dphi, extrapolate=False), phi[0], phi[-1]


def _invert_phi(target, D):
    """Solve Phi(z) = target for z (vectorised), D >= 3.

    Hermite interpolation of the inverse (error ~1e-10) followed by Newton
    steps on the points not yet converged; Phi is increasing and concave in z,
    so Newton converges monotonically once left of the root.
    """
    q = 2.0 / D
    spline, pmin, pmax = _phi_inverse_spline(D)
    target = np.asarray(target, dtype=float)
    shape = target.shape
    target = target.ravel()
    z = spline(np.clip(target, pmin, pmax))
    # beyond z = 100 (x = 1 - e^-z == 1 in double precision) Phi(z) = z + const
    # to machine precision: the mode has converged, no Newton step needed
    hi = target >= pmax
    z[hi] = 100.0 + (target[hi] - pmax)
    active = np.nonzero(~hi)[0]
    for _ in range(60):
        if active.size == 0:
            break
        za = z[active]
        step = (_phi_z(za, D) - target[active]) / np.exp((q - 1.0) * log_expit(za))
        z[active] = za - step
        # Newton is quadratic: after a step of size d the error is O(d^2)
        active = active[np.abs(step) > 1e-8 * (1.0 + np.abs(za))]
    return z.reshape(shape)


def _decay_branch(t, shat, eps, D):
    """s(t) for 0 <= shat < eps (monotone decay to shat), by ODE integration."""
    p = 2.0 - 2.0 / D
    t = np.asarray(t, dtype=float)
    if np.any(t < 0):
        raise ValueError("negative times are not supported when shat < eps")
    tu, inv = np.unique(t, return_inverse=True)
    t_end = tu[-1]
    if t_end == 0:
        return np.full(t.shape, eps)

    def rhs(_, w):
        return -D * (shat + np.exp(w)) ** p

    w0 = np.log(eps - shat)
    sol = integrate.solve_ivp(
        rhs, (0.0, t_end), [w0], t_eval=tu, method="DOP853", rtol=1e-11, atol=1e-12
    )
    if not sol.success:  # pragma: no cover - defensive
        raise RuntimeError(sol.message)
    return (shat + np.exp(sol.y[0]))[inv].reshape(t.shape)


def mode_trajectory(t, shat, eps, n_layers=2):
    """Singular value ``s(t)`` of a training-aligned mode (Lampinen & Ganguli 2019).

    Solves ``tau ds/dt = D s^(2-2/D) (shat - s)``, ``s(0) = eps``, with ``t`` in
    units of ``tau`` and ``D = n_layers`` weight matrices (2 = one hidden
    layer).  Broadcasts over ``t``, ``shat`` and ``eps``.

    * ``D = 2``: closed form ``shat e^{2 shat t} / (e^{2 shat t} - 1 + shat/eps)``,
      evaluated as ``1 / ((1 - e^{-2 shat t})/shat + e^{-2 shat t}/eps)`` (no
      overflow; ``shat = 0`` gives ``eps / (1 + 2 eps t)``).
    * ``D = 1``: ``s = shat + (eps - shat) e^{-t}``.
    * ``D >= 3``: exact inversion of the quadrature ``t(s)`` (module notes);
      ``shat = eps`` stays at eps; ``0 <= shat < eps`` decays monotonically to
      shat (ODE integration).  ``shat < 0`` raises ``ValueError``.
    """
    D = int(n_layers)
    if D < 1 or D != n_layers:
        raise ValueError(f"n_layers must be a positive integer, got {n_layers!r}")
    t, sh, ep = np.broadcast_arrays(
        np.asarray(t, dtype=float), np.asarray(shat, dtype=float), np.asarray(eps, dtype=float)
    )
    if np.any(~(ep > 0)):
        raise ValueError("eps must be > 0")
    if D == 1:
        out = sh + (ep - sh) * np.exp(-t)
    elif D == 2:
        x = 2.0 * sh * t
        small = np.abs(sh) < 1e-300
        sh_safe = np.where(small, 1.0, sh)
        g = np.where(small, 2.0 * t, -np.expm1(-x) / sh_safe)
        with np.errstate(over="ignore"):
            out = 1.0 / (g + np.exp(-x) / ep)
    else:
        if np.any(sh < 0):
            raise ValueError("shat must be >= 0 for n_layers >= 3")
        p = 2.0 - 2.0 / D
        out = np.empty(t.shape)
        grow = sh > ep
        if np.any(grow):
            # Phi(eps/shat) depends on (shat, eps) only: evaluate it before
            # broadcasting against t
            sh_e, ep_e = np.broadcast_arrays(
                np.asarray(shat, dtype=float), np.asarray(eps, dtype=float)
            )
            g_e = sh_e > ep_e
            phi0 = np.zeros(sh_e.shape)
            z0 = np.log(ep_e[g_e]) - np.log(sh_e[g_e] - ep_e[g_e])  # logit(eps/shat)
            phi0[g_e] = _phi_z(z0, D)
            phi0 = np.broadcast_to(phi0, t.shape)
            sg, tg = sh[grow], t[grow]
            target = phi0[grow] + D * sg**p * tg
            z = _invert_phi(target, D)
            out[grow] = sg * expit(z)
        const = sh == ep
        out[const] = ep[const]
        decay = sh < ep
        if np.any(decay):
            pairs = np.stack([sh[decay], ep[decay]], axis=-1)
            upairs, pinv = np.unique(pairs, axis=0, return_inverse=True)
            pinv = pinv.reshape(-1)
            td = t[decay]
            res = np.empty(td.shape)
            for j, (shj, epj) in enumerate(upairs):
                m = pinv == j
                res[m] = _decay_branch(td[m], shj, epj, D)
            out[decay] = res
    return out[()] if out.ndim == 0 else out


def transition_time(shat, eps, n_layers=2):
    """Time (units of tau) at which a TA mode reaches ``s = shat/2``.

    ``D = 2``: ``ln(shat/eps - 1) / (2 shat)`` (Lampinen & Ganguli 2019; follows from the
    closed form by setting ``s = shat/2``).  ``D >= 3``:
    ``[Phi(1/2) - Phi(eps/shat)] / (D shat^(2-2/D))`` (exact, module notes).
    ``D = 1``: ``ln(2 (1 - eps/shat))``.  Defined for ``shat > eps``; when
    ``shat/2 <= eps < shat`` the value is <= 0 (the crossing of the trajectory
    continued backwards in time); ``nan`` for ``shat <= eps`` (no crossing).
    """
    D = int(n_layers)
    sh, ep = np.broadcast_arrays(np.asarray(shat, dtype=float), np.asarray(eps, dtype=float))
    ok = sh > ep
    sh_s = np.where(ok, sh, 2.0)
    ep_s = np.where(ok, ep, 1.0)
    if D == 1:
        val = np.log(2.0 * (1.0 - ep_s / sh_s))
    elif D == 2:
        val = np.log(sh_s / ep_s - 1.0) / (2.0 * sh_s)
    else:
        p = 2.0 - 2.0 / D
        z0 = np.log(ep_s) - np.log(sh_s - ep_s)
        val = (_phi_z(np.zeros(1), D)[0] - _phi_z(z0, D)) / (D * sh_s**p)
    out = np.where(ok, val, np.nan)
    return out[()] if out.ndim == 0 else out


# ---------------------------------------------------------------------------
# Error curves (Lampinen & Ganguli 2019, "Error curves (TA student)")
# ---------------------------------------------------------------------------


def noise_spectrum(n1, n3, rank):
    """The ``min(n1, n3) - rank`` typical noise singular values, descending.

    ``mp_quantiles(min(n1, n3) - rank, n3/n1)``.  For ``n3 > n1`` this uses the
    ``A > 1`` form of the MP law (module notes), which equals
    ``sqrt(n3/n1)`` times the quantiles at aspect ``n1/n3`` -- i.e. the
    transposed problem with its noise variance ``1/n3`` rescaled back to
    ``1/n1``.  (Using aspect ``n1/n3`` *without* the ``sqrt(n3/n1)`` factor
    would be wrong by that factor.)
    """
    m = min(int(n1), int(n3)) - int(rank)
    return mp_quantiles(max(m, 0), n3 / n1)


def theory_errors(t, sbar, n1, n2, n3, eps, n_layers=2, n_nodes=256):
    """Theoretical ``(train, test)`` errors of a training-aligned student.

    Lampinen & Ganguli 2019, "Error curves", with the Marchenko-Pastur averages taken by
    quadrature of the MP density (``spdl.random_matrix.mp_integral``, ``n_nodes`` Gauss-Legendre
    nodes), as the authors integrate it:

    * there are ``m = min(n1, n3) - rank`` noise modes, distributed by the MP law at
      ``A = n3/n1``; the student has ``n2`` modes: it learns the teacher modes and the top
      ``n_in = min(n2, min(n1, n3)) - rank`` noise modes ("in", the top fraction ``n_in/m`` of
      the law); the remaining noise modes ("out") are never learned. If ``n2 < rank`` only the
      ``n2`` teacher modes with largest ``shat`` are learned (the others keep ``s = 0``).
    * ``test = [m <s(t,shat)^2>_in + sum_a ((s_a - sbar_a)^2 + 2 s_a sbar_a (1 - O_a))] / sum_a sbar_a^2``
    * ``train = [m <shat^2>_out + m <(s(t,shat) - shat)^2>_in + sum_a (s_a - shat_a)^2]
      / (sum_a shat_a^2 + m <shat^2>)``

    where ``<g>_in = int_{top n_in/m} g p``, ``<g>_out`` the rest, ``shat_a = spiked_shat(sbar_a, A)``,
    ``O_a = spiked_overlap(sbar_a, A)``, ``s_a = mode_trajectory(t, shat_a, eps, n_layers)``.
    Inputs are one-hot with ``P = n1``. For ``P = r n1`` whitened inputs (``X X^T = r I``, learning
    rate lr/r) the dynamics map exactly onto ``P = n1`` at SNR ``sbar sqrt(r)``, time
    ``t / sqrt(r)`` (one hidden layer) and initial scale ``eps sqrt(r)`` (see :func:`varying_p_theory`): pass all
    three, the initial scale too (without it the predicted minimum at r = 8 moves by ~9 %).
    Returns two arrays of shape ``np.shape(t)``.
    """
    t = np.asarray(t, dtype=float)
    sbar = np.atleast_1d(np.asarray(sbar, dtype=float))
    if sbar.ndim != 1 or np.any(sbar <= 0):
        raise ValueError("sbar must be a 1-d array of positive teacher singular values")
    A = n3 / n1
    rank = sbar.size
    m = min(int(n1), int(n3))
    if rank > m:
        raise ValueError("rank exceeds min(n1, n3)")
    n_noise = m - rank
    n_in = max(min(int(n2), m) - rank, 0)
    split = 1.0 - n_in / n_noise if n_noise else 1.0  # the "in" modes are the law's top n_in/m

    def mp(g, lo, hi):
        return n_noise * mp_integral(g, A, lo, hi, n_nodes=n_nodes) if n_noise else 0.0

    shat_a = spiked_shat(sbar, A)
    O_a = spiked_overlap(sbar, A)
    s_a = mode_trajectory(t[..., None], shat_a, eps, n_layers)
    if n2 < rank:
        learned = np.zeros(rank, dtype=bool)
        learned[np.argsort(-shat_a, kind="stable")[: int(n2)]] = True
        s_a = np.where(learned, s_a, 0.0)

    def s_noise(sh):
        return mode_trajectory(t[..., None], sh, eps, n_layers)

    test_num = mp(lambda sh: s_noise(sh) ** 2, split, 1.0) + np.sum(
        (s_a - sbar) ** 2 + 2.0 * s_a * sbar * (1.0 - O_a), axis=-1
    )
    test = test_num / np.sum(sbar**2)
    train_num = (
        mp(lambda sh: sh**2, 0.0, split)
        + mp(lambda sh: (s_noise(sh) - sh) ** 2, split, 1.0)
        + np.sum((s_a - shat_a) ** 2, axis=-1)
    )
    train = train_num / (np.sum(shat_a**2) + mp(lambda sh: sh**2, 0.0, 1.0))
    return train, test


def varying_p_theory(t, sbar, p_ratio, n1, n2, n3, eps, n_layers=2, n_nodes=256):
    """``(train, test)`` of a TA student on ``P = p_ratio n1`` samples (Fig. 6).

    ``r = p_ratio >= 1`` (whitened inputs ``X X^T = r I``, learning rate ``lr / r``): the gradient
    flow of ``W`` targets ``Wbar + Z'`` with noise of variance ``1/(r n1)``; in units
    ``W'' = sqrt(r) W`` this is the ``P = n1`` problem at SNR ``sbar sqrt(r)``, initial scale
    ``eps sqrt(r)`` and time ``t / r^(1 - 1/D)`` (the mode ODE ``ds/dt = D s^(2-2/D) (shat - s)``
    picks up that factor; ``t / sqrt(r)`` for one hidden layer); errors are normalised by the
    teacher, so they do not change.

    ``r < 1`` (one-hot inputs on ``P`` of the ``n1`` directions, the same rule ``lr / r`` for the
    learning rate): only the seen block ``W[:, :P]`` moves. Its target ``Wbar[:, :P] + Z_P`` is, in
    units ``W' = W / sqrt(r)``, the ``n1' = P`` problem (noise variance ``1/P``, aspect
    ``n3 / P``) at the same SNR ``sbar`` (a Haar input direction keeps a fraction ``r`` of its
    norm in the seen block, in expectation), initial scale ``eps / sqrt(r)`` and time
    ``t r^(-1/D)`` (``t / sqrt(r)`` again for one hidden layer). The ``n1 - P`` unseen
    directions form a frozen subspace: gradients never reach them, so the student keeps its
    initial weights there (the ``k - P`` TA modes, ``k = min(n1, n2, n3)``, whose singular vectors
    lie there stay at ``eps``), never learns the teacher's part there (a fraction ``1 - r`` of
    ``sum sbar^2``) and fits no noise there. Hence
    ``test = r test' + (1 - r) + max(k - P, 0) eps^2 / sum sbar^2`` (the cross term of the frozen
    init with the unseen teacher averages to zero) and ``train = train'`` (the training data live
    in the seen block). ``t`` is the time of the ``P``-sample run in units of ``tau = 1/lr``.
    (Derived; both branches checked by GD in the tests.)
    """
    r = float(p_ratio)
    D = int(n_layers)
    sbar = np.atleast_1d(np.asarray(sbar, dtype=float))
    t = np.asarray(t, dtype=float)
    if r >= 1.0:
        return theory_errors(t / r ** (1.0 - 1.0 / D), sbar * np.sqrt(r), n1, n2, n3,
                             eps * np.sqrt(r), n_layers=D, n_nodes=n_nodes)
    P = int(round(r * n1))
    if P < 1 or abs(P - r * n1) > 1e-9 * n1:
        raise ValueError(f"p_ratio * n1 = {r * n1} must be a positive integer")
    if sbar.size > min(P, int(n3)):
        raise ValueError("rank exceeds min(P, n3): the seen block cannot hold the teacher's modes")
    train, test_seen = theory_errors(t * r ** (-1.0 / D), sbar, P, n2, n3, eps / np.sqrt(r),
                                     n_layers=D, n_nodes=n_nodes)
    n_frozen = max(min(int(n1), int(n2), int(n3)) - P, 0)
    return train, r * test_seen + (1.0 - r) + n_frozen * eps**2 / np.sum(sbar**2)


def optimal_stopping(t, test):
    """``(min_test, t_opt)`` of a sampled test curve (Lampinen & Ganguli 2019, "Optimal early
    stopping").  Minimises over the last axis of ``test`` (so an ensemble of
    curves is accepted); ties resolve to the first (earliest) minimum.
    """
    t = np.asarray(t, dtype=float)
    test = np.asarray(test, dtype=float)
    idx = np.argmin(test, axis=-1)
    min_test = np.take_along_axis(test, idx[..., None], axis=-1)[..., 0]
    t_opt = t[idx] if t.ndim == 1 else np.take_along_axis(t, idx[..., None], axis=-1)[..., 0]
    return min_test[()], t_opt[()]


def nongradient_optimum(sbar, aspect):
    """Test error of the non-gradient optimum (Lampinen & Ganguli 2019, "Non-gradient optimum"):

    ``sum_a sbar_a^2 (1 - O_a^2) / sum_a sbar_a^2`` -- keeping mode ``a`` at
    singular value ``sbar_a O_a`` along the noisy singular vectors leaves
    ``sbar_a^2 (1 - O_a^2)``; modes below threshold (``O = 0``) contribute
    ``sbar_a^2``.  ``sbar`` is the list of teacher singular values (last axis).
    """
    sbar = np.atleast_1d(np.asarray(sbar, dtype=float))
    O = spiked_overlap(sbar, aspect)
    return np.sum(sbar**2 * (1.0 - O**2), axis=-1) / np.sum(sbar**2, axis=-1)


def nongradient_estimate(sigma31, aspect):
    """Non-gradient optimal estimate of ``Wbar`` from one noisy matrix.

    SVD ``sigma31 = Uhat diag(shat) Vhat^T``; keep the modes with
    ``shat > 1 + sqrt(A)``; set their singular value to ``sbar O(sbar)`` with
    ``sbar = shat_to_sbar(shat)``; drop the rest.  Assumes noise variance
    ``1/N1`` in ``sigma31`` (one-hot inputs, P = N1).  Returns the estimated
    ``W`` (same shape as ``sigma31``).
    """
    sigma31 = np.asarray(sigma31, dtype=float)
    U, sh, Vt = np.linalg.svd(sigma31, full_matrices=False)
    keep = sh > 1.0 + np.sqrt(aspect)
    sb = shat_to_sbar(sh[keep], aspect)
    new = sb * spiked_overlap(sb, aspect)
    return (U[:, keep] * new) @ Vt[keep]


# ---------------------------------------------------------------------------
# Tasks and students (Lampinen & Ganguli 2019, setup)
# ---------------------------------------------------------------------------


def _haar_columns(n, k, rng):
    """``n x k`` matrix with Haar-distributed orthonormal columns."""
    g = rng.standard_normal((n, k))
    q, r = np.linalg.qr(g)
    d = np.sign(np.diag(r))
    d[d == 0] = 1.0
    return q * d


def make_teacher(n1, n3, sbar, rng):
    """Teacher ``Wbar = sum_a sbar_a u_a v_a^T`` (Lampinen & Ganguli 2019, setup).

    ``u`` (``n3 x r``) and ``v`` (``n1 x r``) have Haar-random orthonormal
    columns drawn from ``rng`` (u first, then v).  Returns ``(Wbar, U, V)``.
    """
    sbar = np.atleast_1d(np.asarray(sbar, dtype=float))
    r = sbar.size
    U = _haar_columns(int(n3), r, rng)
    V = _haar_columns(int(n1), r, rng)
    return (U * sbar) @ V.T, U, V


def make_task(n1, n3, sbar, seed, noise_std=1.0, n_samples=None):
    """One noisy teacher task (Lampinen & Ganguli 2019, setup).

    Draw order from ``np.random.default_rng(seed)``: teacher (u, v), then the
    input rotation (only when ``P > n1``), then the noise.

    * Inputs ``X`` (``n1 x P``), ``P = n_samples`` (default ``n1``):
      ``P = n1``: identity (one-hot); ``P < n1``: the first ``P`` one-hot
      vectors (``X = I[:, :P]``); ``P > n1``: the first ``n1`` rows of a Haar
      orthogonal ``P x P`` matrix times ``sqrt(P/n1)``, so that
      ``X X^T = (P/n1) I`` exactly (every input direction sees ``P/n1`` times
      the data; then ``Sigma31 = (P/n1) Wbar + Z X^T`` and the least-squares
      solution ``Sigma31 (X X^T)^-1 = Wbar + noise of variance 1/P``, i.e.
      effective SNR ``sbar sqrt(P/n1)`` in units of variance ``1/n1``).
    * ``Z ~ N(0, noise_std^2/n1)``, shape ``(n3, P)``; ``Yhat = Wbar X + Z``;
      ``Sigma31 = Yhat X^T`` (``n3 x n1``).
    * Thin SVD ``Sigma31 = Uhat diag(shat) Vhat^T`` with ``Uhat`` (``n3 x k``),
      ``Vhat`` (``n1 x k``, right singular vectors as *columns*),
      ``k = min(n1, n3)``, ``shat`` descending.

    Returns a dict with keys ``Wbar, U, V, sbar, X, Z, Yhat, Sigma31, Uhat,
    shat, Vhat, n1, n3, P, aspect, noise_std, seed``.
    """
    n1, n3 = int(n1), int(n3)
    P = n1 if n_samples is None else int(n_samples)
    sbar = np.atleast_1d(np.asarray(sbar, dtype=float))
    rng = np.random.default_rng(seed)
    Wbar, U, V = make_teacher(n1, n3, sbar, rng)
    if P == n1:
        X = np.eye(n1)
    elif P < n1:
        X = np.eye(n1)[:, :P].copy()
    else:
        Q = _haar_columns(P, P, rng)
        X = np.sqrt(P / n1) * Q[:n1, :]
    Z = rng.standard_normal((n3, P)) * (noise_std / np.sqrt(n1))
    Yhat = Wbar @ X + Z
    Sigma31 = Yhat @ X.T
    Uh, sh, Vt = np.linalg.svd(Sigma31, full_matrices=False)
    return {
        "Wbar": Wbar,
        "U": U,
        "V": V,
        "sbar": sbar,
        "X": X,
        "Z": Z,
        "Yhat": Yhat,
        "Sigma31": Sigma31,
        "Uhat": Uh,
        "shat": sh,
        "Vhat": Vt.T.copy(),
        "n1": n1,
        "n3": n3,
        "P": P,
        "aspect": n3 / n1,
        "noise_std": float(noise_std),
        "seed": seed,
    }


def aligned_init(uhat, vhat, n2, eps, n_layers=2):
    """Training-aligned (TA) student weights (spec, Setup, "Initialisation").

    Returns ``[W_1 (n2 x n1), W_2 (n2 x n2), ..., W_D (n3 x n2)]`` (input ->
    output order, float64) with ``W_D ... W_1 = eps Uhat[:, :k] Vhat[:, :k]^T``,
    ``k = min(n2, uhat.shape[1], vhat.shape[1])``.  Each matrix has singular
    values ``eps^(1/D)`` on the k used hidden directions:
    ``W_1 = c [Vhat_k^T; 0]``, ``W_D = c [Uhat_k, 0]``, hidden-to-hidden
    ``W_l = c diag(1_k, 0_{n2-k})`` with ``c = eps^(1/D)``.  Unused hidden
    units (``k < n2``) are exactly zero, which keeps the network balanced
    (``W_{l+1}^T W_{l+1} = W_l W_l^T``) and makes them a fixed point of
    gradient descent.  ``vhat`` holds right singular vectors as columns.
    """
    D = int(n_layers)
    if D < 2:
        raise ValueError("aligned_init needs at least 2 weight matrices")
    uhat = np.asarray(uhat, dtype=float)
    vhat = np.asarray(vhat, dtype=float)
    n3, n1 = uhat.shape[0], vhat.shape[0]
    n2 = int(n2)
    k = min(n2, uhat.shape[1], vhat.shape[1])
    c = float(eps) ** (1.0 / D)
    W1 = np.zeros((n2, n1))
    W1[:k] = c * vhat[:, :k].T
    WD = np.zeros((n3, n2))
    WD[:, :k] = c * uhat[:, :k]
    mid = np.zeros((n2, n2))
    mid[np.arange(k), np.arange(k)] = c
    return [W1] + [mid.copy() for _ in range(D - 2)] + [WD]


def train_error(W, X, Yhat):
    """``||W X - Yhat||_F^2 / ||Yhat||_F^2`` (spec, Setup, "Errors").

    ``W`` may carry leading ensemble axes (``(..., n3, n1)``); ``X`` and
    ``Yhat`` broadcast against it.  Returns an array of the leading shape.
    """
    W = np.asarray(W, dtype=float)
    R = W @ np.asarray(X, dtype=float) - np.asarray(Yhat, dtype=float)
    Y = np.asarray(Yhat, dtype=float)
    num = np.sum(R * R, axis=(-2, -1))
    den = np.sum(Y * Y, axis=(-2, -1))
    return (num / den)[()]


def test_error(W, Wbar):
    """``||W - Wbar||_F^2 / ||Wbar||_F^2`` (spec, Setup, "Errors"); ``W`` may
    carry leading ensemble axes."""
    W = np.asarray(W, dtype=float)
    Wbar = np.asarray(Wbar, dtype=float)
    R = W - Wbar
    return (np.sum(R * R, axis=(-2, -1)) / np.sum(Wbar * Wbar, axis=(-2, -1)))[()]


# pytest would otherwise try to collect ``test_error`` when imported in tests.
test_error.__test__ = False


def make_transfer_task(n1, n3, sbar_a, sbar_b, q, seed, noise_var):
    """Two rank-1 tasks on shared one-hot inputs (spec, Transfer).

    ``Wbar_A = sbar_a u_A v_A^T`` and ``Wbar_B = sbar_b u_B v_B^T`` (separate
    ``n3``-dimensional output blocks) with input alignment ``v_A . v_B = q``.
    Task A (u_A, v_A, its noise) comes from its own stream ``(seed, 0)``, so it is
    the same draw for every ``sbar_b`` and ``q``; task B from ``(seed, 1)``.
    Noise entries have variance ``noise_var``. Returns ``Wbar_a, Yhat_a, Wbar_b, Yhat_b``.
    """
    rng_a, rng_b = (np.random.default_rng([seed, k]) for k in (0, 1))
    u_a, v_a = _haar_columns(n3, 1, rng_a)[:, 0], _haar_columns(n1, 1, rng_a)[:, 0]
    z_a = rng_a.standard_normal((n3, n1)) * np.sqrt(noise_var)
    u_b = _haar_columns(n3, 1, rng_b)[:, 0]
    w = rng_b.standard_normal(n1)
    w -= (w @ v_a) * v_a
    v_b = q * v_a + np.sqrt(max(1.0 - q * q, 0.0)) * w / np.linalg.norm(w)
    z_b = rng_b.standard_normal((n3, n1)) * np.sqrt(noise_var)
    Wbar_a, Wbar_b = sbar_a * np.outer(u_a, v_a), sbar_b * np.outer(u_b, v_b)
    return {"Wbar_a": Wbar_a, "Yhat_a": Wbar_a + z_a, "Wbar_b": Wbar_b, "Yhat_b": Wbar_b + z_b}


def time_tolerant_log_distance(t, sim, t_fine, theory_fine, delta):
    """Per point ``min |ln sim(t) - ln theory(t')|`` over ``t' in [t (1 - delta), t (1 + delta)]``.

    Compares a simulated error curve with theory while allowing transition times to be off by a
    relative ``delta`` (finite-size fluctuations of shat shift transitions, and for deep networks the
    transitions are so steep that a tiny shift is a large vertical gap). ``theory_fine`` is the
    theory on the dense, sorted grid ``t_fine``.
    """
    t, sim = np.asarray(t, float), np.asarray(sim, float)
    ln_th = np.log(np.asarray(theory_fine, float))
    out = np.empty_like(sim)
    for i, (ti, yi) in enumerate(zip(t, np.log(sim))):
        lo, hi = np.searchsorted(t_fine, [ti * (1 - delta), ti * (1 + delta)])
        window = ln_th[max(lo - 1, 0):max(hi + 1, lo + 1)]
        window = window if window.size else ln_th[[np.argmin(np.abs(t_fine - ti))]]
        out[i] = np.min(np.abs(yi - window))
    return out


# ---------------------------------------------------------------------------
# Divergence: an outcome per member, never data
# ---------------------------------------------------------------------------


def member_minima(t, curves, diverged):
    """``(min, t_opt)`` over time of every member's curve (columns of ``curves``, shape (R, E));
    NaN for a member that diverged (its curve stops at the blow-up, and what came before is not
    the minimum of a finished run)."""
    curves = np.asarray(curves, dtype=float)
    diverged = np.asarray(diverged, dtype=bool)
    mins = np.where(diverged, np.nan, np.min(np.where(diverged, 0.0, curves), axis=0))
    t_opt = np.where(diverged, np.nan, np.asarray(t, dtype=float)[np.argmin(np.where(diverged, 0.0, curves), axis=0)])
    return mins, t_opt


def mean_curve(curves, diverged):
    """Mean over the members that did not diverge (NaN everywhere when all did)."""
    curves = np.asarray(curves, dtype=float)
    ok = ~np.asarray(diverged, dtype=bool)
    return curves[:, ok].mean(1) if ok.any() else np.full(curves.shape[0], np.nan)


def transfer_table(runs, keys=("sbar_a", "sbar_b", "q")):
    """Mean and s.e.m. of the transfer per condition over the runs that did not diverge, with the
    number of runs ``n`` and of diverged runs ``n_diverged`` (a condition whose runs all diverged
    has a NaN mean). ``runs``: a DataFrame with the columns ``keys``, ``transfer``, ``diverged``."""
    keys = list(keys)
    counts = runs.groupby(keys).agg(n=("transfer", "size"), n_diverged=("diverged", "sum"))
    stats = runs[~runs.diverged.astype(bool)].groupby(keys).transfer.agg(["mean", "sem"])
    return counts.join(stats).reset_index()[keys + ["mean", "sem", "n", "n_diverged"]]

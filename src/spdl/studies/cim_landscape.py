"""Landscape geometry of the classical coherent Ising machine (CIM).

Reference: A. Yamamura, H. Mabuchi & S. Ganguli, "Geometric landscape annealing
as an optimization principle underlying the coherent Ising machine",
Phys. Rev. X 14, 031054 (2024), arXiv:2309.08119.  The paper's own equations
and parameters were not available to us: this module implements the standard
classical CIM amplitude model fixed by the study spec (section "Model"), so
every result here is a check of *our chosen model*, not of the paper's numbers.

Model (spec, "Model")
---------------------
Gain (pump) ``p``, net linear gain ``a = p - 1``, coupling ``beta``, SK couplings
``J`` (symmetric, ``J_ij ~ N(0, 1/N)``, ``J_ii = 0``)::

    E_p(x) = sum_i V(x_i) - (beta/2) x^T J x,   V(x) = x^4/4 - a x^2/2
    dx/dt  = -grad E_p = -x^3 + a x + beta J x
    H(x)   = diag(3 x^2 - a) - beta J

Binary read-out ``s = sign(x)``, spin energy per spin ``e(s) = -(1/2N) s^T J s``
(Parisi ground state -0.7633 as N -> inf).

Derived facts used below (spec, "Derived facts")
------------------------------------------------
* flat phase: for ``a < -beta lambda_max(J)`` E_p is strictly convex, the origin
  is its only critical point (:func:`convexity_threshold`);
* at a critical point ``E = sum_i [V(x_i) - x_i V'(x_i)/2]`` (:func:`critical_energy`);
* annealed Kac-Rice complexity (:func:`kac_rice`), our derivation.

Array conventions: ``x`` has shape ``(..., N)``; ``J`` is ``(N, N)`` or a stack
broadcastable against the leading axes of ``x`` (``x @ J`` is ``J x`` because J
is symmetric).  Everything is numpy/scipy and deterministic for a seed.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

__all__ = [
    "PARISI_E0",
    "instance_seed",
    "sk_couplings",
    "parisi_finite_n",
    "energy",
    "gradient",
    "hessian",
    "critical_energy",
    "convexity_threshold",
    "spin_energy",
    "linear_schedule",
    "slowed_schedule",
    "anneal",
    "greedy_descent",
    "spectral_states",
    "enumerate_states",
    "brute_force_states",
    "newton",
    "descend",
    "dedupe_sign",
    "chao1",
    "census",
    "fd_hessian",
    "rigid_minima",
    "kac_rice",
    "kac_rice_curve",
    "check_config",
]

PARISI_E0 = -0.7633  # SK ground-state energy per spin, N -> inf (spec [recalled])
FINITE_N_COEF = 0.7  # e0(N) ~ e0 + 0.7 N^(-2/3) (spec [recalled])
BRAY_MOORE_RATE = 0.1992  # (1/N) ln #(single-flip-stable states) (spec [recalled])


# ---------------------------------------------------------------------------
# Instances and the energy landscape (spec "Model")
# ---------------------------------------------------------------------------


def instance_seed(seed: int, tag: str, n: int) -> int:
    """Seed for one family of instances: numpy SeedSequence of (config seed, tag bytes, N)."""
    return int(np.random.SeedSequence([int(seed), *tag.encode(), int(n)]).generate_state(1)[0])


def sk_couplings(n: int, count: int, seed: int) -> np.ndarray:
    """``count`` SK coupling matrices ``(count, n, n)``: symmetric, N(0, 1/n) off the diagonal, zero diagonal."""
    if n < 2 or count < 1:
        raise ValueError(f"need n >= 2 and count >= 1, got n={n}, count={count}")
    g = np.random.default_rng(seed).standard_normal((count, n, n)) / np.sqrt(n)
    upper = np.triu(g, 1)
    return upper + upper.transpose(0, 2, 1)


def parisi_finite_n(n):
    """Finite-N SK ground-state estimate ``e0 + 0.7 N^(-2/3)`` (spec, recalled)."""
    return PARISI_E0 + FINITE_N_COEF * np.asarray(n, dtype=float) ** (-2 / 3)


def _potential(x, p):
    a = p - 1.0
    x2 = x * x
    return x2 * (0.25 * x2 - 0.5 * a), x * (x2 - a), 3.0 * x2 - a


def energy(x, J, p, beta):
    """``E_p(x)`` over the leading axes of ``x``."""
    x = np.asarray(x, dtype=float)
    V, _, _ = _potential(x, p)
    return V.sum(-1) - 0.5 * beta * np.sum(x * (x @ J), -1)


def gradient(x, J, p, beta):
    """``grad E_p = x^3 - (p-1) x - beta J x``."""
    x = np.asarray(x, dtype=float)
    return x * (x * x - (p - 1.0)) - beta * (x @ J)


def hessian(x, J, p, beta):
    """Analytic Hessian ``diag(3 x^2 - (p-1)) - beta J`` with shape ``(..., N, N)``."""
    x = np.asarray(x, dtype=float)
    H = np.array(np.broadcast_to(-beta * np.asarray(J, dtype=float), x.shape[:-1] + 2 * x.shape[-1:]))
    np.einsum("...ii->...i", H)[...] += 3.0 * x * x - (p - 1.0)
    return H


def critical_energy(x, p):
    """Energy identity at a critical point: ``E = sum_i [V(x_i) - x_i V'(x_i)/2]``."""
    V, dV, _ = _potential(np.asarray(x, dtype=float), p)
    return (V - 0.5 * x * dV).sum(-1)


def convexity_threshold(J, beta):
    """Gain ``p_c = 1 - beta lambda_max(J)`` below which E_p is strictly convex.

    ``H(x) >= (-(p-1) - beta lambda_max) I`` for every x (because 3x^2 >= 0), so
    for ``p < p_c`` the origin is the unique critical point; at ``p > p_c`` the
    origin has index >= 1 (its Hessian is ``-(p-1) - beta J``).
    """
    lam = np.linalg.eigvalsh(np.asarray(J, dtype=float))[..., -1]
    return 1.0 - beta * lam


def spin_energy(s, J):
    """``e(s) = -(1/2N) s^T J s`` per spin, over the leading axes of ``s``.

    Broadcasting follows ``s @ J`` (matmul): a stack ``J`` of shape ``(I, N, N)``
    pairs with ``s`` of shape ``(I, R, N)``; one state per instance is ``(I, 1, N)``.
    """
    s = np.asarray(s, dtype=float)
    return -0.5 * np.sum(s * (s @ J), -1) / s.shape[-1]


# ---------------------------------------------------------------------------
# Annealing (Fig. 1, Fig. 4)
# ---------------------------------------------------------------------------


def linear_schedule(p_start, p_end, T, dt):
    """Gain at each Euler step of a linear ramp of duration ``T``: ``round(T/dt)`` values."""
    steps = int(round(T / dt))
    return p_start + (p_end - p_start) * (np.arange(steps) + 0.5) / steps


def slowed_schedule(p_start, p_end, T, dt, window, slow_fraction):
    """Piecewise-linear ramp that spends ``slow_fraction`` of the time in ``window = (p_lo, p_hi)``.

    Our design (spec, Experiments 3): the window is where the census shows the
    number of minima growing fastest; outside it the ramp is uniform.
    """
    lo, hi = max(window[0], p_start), min(window[1], p_end)
    if not (p_start < lo < hi < p_end) or not 0 < slow_fraction < 1:
        raise ValueError(f"window {window} must lie inside ({p_start}, {p_end}), 0 < slow_fraction < 1")
    outside = (lo - p_start) + (p_end - hi)
    t_knots = np.array([0.0, (1 - slow_fraction) * T * (lo - p_start) / outside, 0.0, T])
    t_knots[2] = t_knots[1] + slow_fraction * T
    p_knots = np.array([p_start, lo, hi, p_end])
    steps = int(round(T / dt))
    return np.interp((np.arange(steps) + 0.5) * T / steps, t_knots, p_knots)


def anneal(J, schedule, dt, beta, x0, n_records=100, noise=0.0, rng=None, blowup=1e6):
    """Euler integration of ``dx/dt = -x^3 + (p(t)-1) x + beta J x`` (+ optional noise).

    ``J``: ``(I, N, N)``; ``x0``: ``(I, R, N)`` (R runs per instance), all in one
    array.  ``schedule``: gain at each step.  Records ``e(sign x)`` at about
    ``n_records`` steps.  A trajectory that becomes non-finite or exceeds
    ``blowup`` is frozen and flagged in ``diverged`` (its energies are NaN).
    Returns a dict with ``step`` (recorded step indices, after that step),
    ``p`` (gain there), ``e`` ``(n_rec, I, R)``, ``x`` (final), ``diverged`` ``(I, R)``.
    """
    J = np.asarray(J, dtype=float)
    x = np.array(x0, dtype=float)
    sched = np.asarray(schedule, dtype=float)
    steps = len(sched)
    rec = np.unique(np.linspace(0, steps - 1, n_records).round().astype(int))
    out = np.full((len(rec),) + x.shape[:-1], np.nan)
    diverged = np.zeros(x.shape[:-1], bool)
    amp = np.sqrt(2 * noise * dt) if noise > 0 else 0.0
    k = 0
    for t, p in enumerate(sched):
        drift = -x**3 + (p - 1.0) * x + beta * (x @ J)
        x_new = x + dt * drift
        if amp:
            x_new += amp * rng.standard_normal(x.shape)
        bad = ~np.all(np.isfinite(x_new) & (np.abs(x_new) < blowup), -1)
        if bad.any():
            diverged |= bad
            x_new[bad] = x[bad]
        x = x_new
        if k < len(rec) and t == rec[k]:
            e = spin_energy(np.where(x >= 0, 1.0, -1.0), J)
            out[k] = np.where(diverged, np.nan, e)
            k += 1
    return {"step": rec + 1, "p": sched[rec], "e": out, "x": x, "diverged": diverged}


def greedy_descent(s, J, max_flips=None):
    """Steepest single-flip descent of ``e(s)``, vectorised over the leading axes of ``s``.

    At each step every member flips the spin with the largest energy decrease
    (most negative ``s_i h_i``, ``h = J s``) while one exists.  ``J`` broadcasts
    against ``s`` as in :func:`spin_energy`.  Returns (final s, number of flips).
    """
    s = np.array(s, dtype=float)
    J = np.asarray(J, dtype=float)
    n = s.shape[-1]
    Jb = np.broadcast_to(J, s.shape[:-1] + (n, n)).reshape(-1, n, n)
    sf = s.reshape(-1, n)
    h = np.einsum("bij,bj->bi", Jb, sf)
    flips = np.zeros(len(sf), int)
    rows = np.arange(len(sf))
    for _ in range(max_flips or 50 * n):
        gain = sf * h
        i = gain.argmin(-1)
        act = gain[rows, i] < 0
        if not act.any():
            break
        b, i = rows[act], i[act]
        sf[b, i] *= -1
        h[b] += 2 * sf[b, i][:, None] * Jb[b, :, i]
        flips[b] += 1
    return sf.reshape(s.shape), flips.reshape(s.shape[:-1])


def spectral_states(J):
    """Sign of the top eigenvector of each ``J`` (spectral rounding), shape ``(..., N)``."""
    _, v = np.linalg.eigh(np.asarray(J, dtype=float))
    top = v[..., :, -1]
    return np.where(top >= 0, 1.0, -1.0)


# ---------------------------------------------------------------------------
# Exhaustive enumeration (Gray code) — ground states and single-flip-stable states
# ---------------------------------------------------------------------------


def _spin_table(bits: int) -> np.ndarray:
    k = np.arange(2**bits)[:, None]
    return np.where((k >> np.arange(bits)) & 1, -1.0, 1.0)


def enumerate_states(J, chunk_bits: int = 14):
    """Exhaustive scan of all ``2^N`` spin states of one instance (N <= 26).

    The last spin is fixed to +1 (global flip symmetry).  The remaining spins
    are split into ``L = min(chunk_bits, N-1)`` low spins, tabulated once as a
    ``(2^L, L)`` array, and high spins visited in Gray-code order: one high spin
    flips per chunk and the high spins' local field is updated by one column of
    J.  Within a chunk energies and local fields of all ``2^L`` states are numpy
    array operations, so memory stays at ``O(2^L N)``.

    Returns ``e0`` (ground energy per spin), ``s0`` (a ground state, last spin +1)
    and ``n_stable`` (number of single-flip-stable states, both signs counted:
    ``s_i (J s)_i >= 0`` for all i).
    """
    J = np.asarray(J, dtype=float)
    n = J.shape[0]
    if n > 26:
        raise ValueError(f"enumeration of 2^{n} states is too large (N <= 26)")
    L = min(chunk_bits, n - 1)
    lo, hi = np.arange(L), np.arange(L, n)  # hi includes the fixed last spin
    SL = _spin_table(L)
    A = SL @ J[lo, :]  # (2^L, N): low-spin part of every local field
    qL = np.sum(SL * A[:, lo], 1)
    sH = np.ones(len(hi))
    f = J[:, hi] @ sH  # field of the high spins on everyone
    best_e, best_s, n_stable = np.inf, None, 0
    K = len(hi) - 1  # free high spins (the last is fixed)
    for k in range(2**K):
        if k:
            j = (k & -k).bit_length() - 1  # Gray code: flip bit = trailing zeros of k
            sH[j] = -sH[j]
            f += 2 * sH[j] * J[:, hi[j]]
        c = sH @ f[hi]
        quad = qL + 2 * SL @ f[lo] + c  # s^T J s
        i = quad.argmax()
        if -0.5 * quad[i] / n < best_e:
            best_e = -0.5 * quad[i] / n
            best_s = np.concatenate([SL[i], sH])
        h_lo = A[:, lo] + f[lo]
        h_hi = A[:, hi] + f[hi]
        stable = np.all(SL * h_lo >= 0, 1) & np.all(sH * h_hi >= 0, 1)
        n_stable += int(stable.sum())
    return {"e0": best_e, "s0": best_s, "n_stable": 2 * n_stable}


def brute_force_states(J):
    """Reference for :func:`enumerate_states` by listing all ``2^N`` states at once (small N)."""
    J = np.asarray(J, dtype=float)
    n = J.shape[0]
    S = _spin_table(n)
    h = S @ J
    e = -0.5 * np.sum(S * h, 1) / n
    i = e.argmin()
    s0 = S[i] * S[i, -1]
    return {"e0": e[i], "s0": s0, "n_stable": int(np.all(S * h >= 0, 1).sum()), "energies": e}


# ---------------------------------------------------------------------------
# Critical-point census (Fig. 2)
# ---------------------------------------------------------------------------


def _solve(H, g):
    try:
        return np.linalg.solve(H, g[..., None])[..., 0]
    except np.linalg.LinAlgError:  # an exactly singular member: least squares one by one
        return np.stack([np.linalg.lstsq(h, v, rcond=None)[0] for h, v in zip(H, g)])


def newton(x, J, p, beta, max_iter=60, tol=1e-11, max_step=1.0, line_search=True):
    """Damped Newton on ``grad E_p = 0`` for a batch ``(B, N)`` with the analytic Hessian.

    Steps longer than ``max_step`` are shortened to it; members whose gradient
    norm drops below ``tol`` stop (then two more full steps polish them to
    round-off).  Returns ``x``, ``converged`` and the final gradient norm.
    """
    x = np.array(x, dtype=float)
    active = np.ones(len(x), bool)
    polish = np.zeros(len(x), int)
    with np.errstate(over="ignore", invalid="ignore"):
        return _newton_loop(x, active, polish, J, p, beta, max_iter, tol, max_step, line_search)


def _newton_loop(x, active, polish, J, p, beta, max_iter, tol, max_step, line_search):
    for _ in range(max_iter):
        if not active.any():
            break
        idx = np.flatnonzero(active)
        xa = x[idx]
        g = gradient(xa, J, p, beta)
        g2 = np.sum(g * g, -1)
        dx = _solve(hessian(xa, J, p, beta), g)
        norm = np.linalg.norm(dx, axis=-1)
        t = np.minimum(1.0, max_step / np.maximum(norm, 1e-300))
        # backtracking on the merit |g|^2: the Newton direction is a descent direction for it
        todo = np.ones(len(idx), bool)
        for _ in range(30 if line_search else 1):
            trial = xa[todo] - t[todo, None] * dx[todo]
            gt = gradient(trial, J, p, beta)
            good = np.sum(gt * gt, -1) <= (1 - 1e-4 * t[todo]) * g2[todo] if line_search else np.ones(len(gt), bool)
            sel = np.flatnonzero(todo)
            xa[sel[good]] = trial[good]
            todo[sel[good]] = False
            t[sel[~good]] *= 0.5
            if not todo.any():
                break
        stalled = todo  # no decrease found: a local minimum of |g|^2 that is not a zero
        x[idx] = xa
        gn = np.linalg.norm(gradient(xa, J, p, beta), axis=-1)
        polish[idx[gn < tol]] += 1
        lost = ~(gn < 1e12)  # non-finite or running away: give up on that start
        active[idx[(polish[idx] >= 3) | lost | (stalled & (gn >= tol))]] = False
    gn = np.linalg.norm(gradient(x, J, p, beta), axis=-1)
    ok = np.all(np.isfinite(x), -1) & (gn < tol)
    return x, ok, gn


def descend(x, J, p, beta, steps, dt):
    """Damped descent: ``steps`` Euler steps of the gradient flow (batch ``(B, N)``)."""
    x = np.array(x, dtype=float)
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(steps):
            x -= dt * gradient(x, J, p, beta)
    return x


def dedupe_sign(X, tol=1e-7):
    """Group points equal up to the global sign (``|x - y| < tol`` or ``|x + y| < tol``).

    Points are first merged exactly on a grid of spacing ``tol/100`` (converged
    Newton points agree to round-off), then the distinct grid points are joined
    by a KD-tree search within ``tol`` of each other or of each other's mirror
    image.  Returns (representatives, label of every row, multiplicity of each group).
    """
    X = np.asarray(X, dtype=float)
    m = len(X)
    if m == 0:
        return X, np.zeros(0, int), np.zeros(0, int)
    _, first0, inv = np.unique(np.round(X / (tol / 100)), axis=0, return_index=True, return_inverse=True)
    inv = inv.reshape(-1)
    U = X[first0]
    k0 = len(U)
    tree = cKDTree(U)
    pairs = tree.query_pairs(tol, output_type="ndarray")
    mirror = cKDTree(-U).sparse_distance_matrix(tree, tol, output_type="ndarray")
    rows = np.concatenate([pairs[:, 0], mirror["i"], np.arange(k0)])
    cols = np.concatenate([pairs[:, 1], mirror["j"], np.arange(k0)])
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(k0, k0))
    k, lab_u = connected_components(graph, directed=False)
    labels = lab_u[inv]
    first = np.full(k, m)
    np.minimum.at(first, labels, np.arange(m))
    return X[first], labels, np.bincount(labels, minlength=k)


def chao1(multiplicity):
    """Chao1 lower-bound estimate of the number of distinct points from hit counts."""
    mult = np.asarray(multiplicity)
    f1, f2 = np.sum(mult == 1), np.sum(mult == 2)
    return len(mult) + (f1 * (f1 - 1) / (2 * (f2 + 1)))


def census(J, p, beta, n_traj, seed, snapshots=(0, 4, 8, 12, 20, 32, 48, 72, 104, 144, 192, 240),
           dt=0.05, newton_iter=60, tol=1e-11, dedupe_tol=1e-7, line_search=False):
    """Critical points of ``E_p`` for one instance ``J`` (N <= ~30): damped descent, then Newton.

    Our design (spec, Experiments 2): ``n_traj`` gradient-descent trajectories
    from Gaussian starts of scale ``sqrt(max(p-1+beta, 0.1))``; the states at the
    Euler steps ``snapshots`` (early ones lie near high-index saddles, late ones
    near minima and index-1 saddles) and the origin start Newton on
    ``grad E_p = 0`` with the analytic Hessian.  Converged points are
    deduplicated up to the global sign.  Returns arrays over distinct points:
    ``x`` (first non-negligible coordinate >= 0), ``energy`` (E_p),
    ``energy_identity``, ``index``, ``lam_min``, ``eigs``, ``grad_norm``,
    ``hits`` (starts that reached the point), ``n_converged``, ``n_starts``.
    The census is a lower bound where critical points are exponentially many;
    :func:`chao1` on ``hits`` estimates what was missed.
    """
    J = np.asarray(J, dtype=float)
    n = J.shape[0]
    rng = np.random.default_rng(seed)
    amp = np.sqrt(max(p - 1.0 + beta, 0.1))
    x = amp * rng.standard_normal((n_traj, n))
    snaps, done = [np.zeros((1, n))], 0
    for k in sorted(set(int(s) for s in snapshots)):
        x = descend(x, J, p, beta, k - done, dt)
        done = k
        snaps.append(x.copy())
    starts = np.concatenate(snaps)
    x, ok, gn = newton(starts, J, p, beta, max_iter=newton_iter, tol=tol, line_search=line_search)
    reps, labels, hits = dedupe_sign(x[ok], dedupe_tol)
    first_big = np.argmax(np.abs(reps) > 1e-6, axis=-1) if len(reps) else np.zeros(0, int)
    sgn = np.sign(reps[np.arange(len(reps)), first_big]) if len(reps) else np.zeros(0)
    reps = reps * np.where(sgn == 0, 1.0, sgn)[:, None]
    lam = np.linalg.eigvalsh(hessian(reps, J, p, beta)) if len(reps) else np.zeros((0, n))
    order = np.argsort(energy(reps, J, p, beta), kind="stable")
    reps, lam, hits = reps[order], lam[order], hits[order]
    return {
        "x": reps,
        "energy": energy(reps, J, p, beta),
        "energy_identity": critical_energy(reps, p),
        "index": np.sum(lam < 0, -1),
        "lam_min": lam[:, 0] if len(reps) else np.zeros(0),
        "eigs": lam,
        "grad_norm": np.linalg.norm(gradient(reps, J, p, beta), axis=-1),
        "hits": hits,
        "n_converged": int(ok.sum()),
        "n_starts": len(starts),
    }


def fd_hessian(x, J, p, beta, h=1e-5):
    """Central finite-difference Hessian from the analytic gradient, batch ``(B, N)`` -> ``(B, N, N)``."""
    x = np.asarray(x, dtype=float)
    n = x.shape[-1]
    e = h * np.eye(n)
    gp = gradient(x[..., None, :] + e, J, p, beta)
    gm = gradient(x[..., None, :] - e, J, p, beta)
    H = (gp - gm) / (2 * h)
    return 0.5 * (H + np.swapaxes(H, -1, -2))


def rigid_minima(J, p, beta, patterns, tol=1e-11):
    """Newton from ``sqrt(p-1) s`` for each sign pattern ``s`` (rows of ``patterns``).

    Returns a boolean per pattern: converged to a minimum (all Hessian
    eigenvalues > 0) whose signs equal ``s`` ("a minimum near sqrt(p-1) s").
    """
    s = np.asarray(patterns, dtype=float)
    x, ok, _ = newton(np.sqrt(p - 1.0) * s, J, p, beta, tol=tol)
    lam_min = np.linalg.eigvalsh(hessian(x, J, p, beta))[:, 0]
    return ok & (lam_min > 0) & np.all(np.sign(x) == s, -1)


# ---------------------------------------------------------------------------
# Annealed Kac-Rice complexity (Fig. 3) — our derivation, spec "Derived facts"
# ---------------------------------------------------------------------------


def _pastur(d, w, beta, z, g0=None, iters=4000):
    """Stieltjes transform ``g(z) = sum_k w_k / (z - beta^2 g - d_k)`` of (law of d) boxplus semicircle."""
    g = -1j if g0 is None else g0
    for _ in range(iters):
        g_new = np.sum(w / (z - beta**2 * g - d))
        if abs(g_new - g) < 1e-13:
            return g_new
        g = 0.5 * g + 0.5 * g_new
    return g


def kac_rice(p, beta=1.0, mu=0.0, init=(1.0, 1.0), n_grid=4001, eta=1e-9, start=None):
    """Annealed complexity ``Sigma = (1/N) ln E #crit`` of E_p at an energy multiplier ``mu``.

    Our derivation (spec, "Derived facts", unchecked by the paper): with nu the
    empirical law of the coordinates of a critical point, q = <x^2>,
    m = <x V'>, s2 = <V'^2>,

        S[nu] = H(nu) - (s2 - m^2/(2q)) / (2 beta^2 q) - 1/2 ln(2 pi beta^2 q)
                + Re[ <ln(z - beta^2 g - V''(x))>_nu + beta^2 g^2 / 2 ] + mu e[nu],

    g the Stieltjes transform of the Hessian spectrum rho_nu = (law of V'') boxplus
    semicircle(radius 2 beta) at z = 0 + i0 and e = <V - x V'/2> the energy per
    spin.  The stationarity condition gives

        nu(x) ~ |V''(x) + beta^2 g| exp(-V'^2/(2 beta^2 q) + m x V'/(2 beta^2 q^2)
                  + [s2/(2 beta^2 q^2) - m^2/(2 beta^2 q^3) - 1/(2q)] x^2 + mu (V - x V'/2)),

    solved as a fixed point of (q, m, s2) with scipy.optimize.root; the density
    is on a grid.  ``init = (q, m)``-style start given as (q, spread).  Returns a
    dict with ``sigma`` (S without the mu term: the complexity at energy ``e``),
    ``e``, ``q``, ``index`` (fraction of negative Hessian eigenvalues,
    ``1 - Im F / pi``), ``converged``.  Not implemented: the quenched (replica)
    complexity, the count restricted to minima, and the self-averaging of the
    found solution (several starts should be compared; the largest S is the sup).
    """
    a = p - 1.0
    L = 2.0 * np.sqrt(max(a, 0.0) + 2 * beta) + 2.5
    x = np.linspace(-L, L, n_grid)
    dx = x[1] - x[0]
    V, dV, d2V = _potential(x, p)
    eV = V - 0.5 * x * dV
    z = 1j * eta

    def density(q, m, s2, g):
        b2 = beta**2
        logw = (-dV**2 / (2 * b2 * q) + m * x * dV / (2 * b2 * q**2)
                + (s2 / (2 * b2 * q**2) - m**2 / (2 * b2 * q**3) - 1 / (2 * q)) * x**2
                + mu * eV + np.log(np.abs(d2V + b2 * g) + 1e-300))
        logw -= logw.max()
        w = np.exp(logw)
        return w / (w.sum() * dx)

    def unpack(v):
        return np.exp(v[0]), v[1], np.exp(v[2]), v[3] - 1j * abs(v[4])

    def residual(v):
        q, m, s2, g = unpack(v)
        w = density(q, m, s2, g) * dx
        g_new = np.sum(w / (z - beta**2 * g - d2V))
        return [np.log(np.sum(w * x**2)) - v[0], np.sum(w * x * dV) - m,
                np.log(np.sum(w * dV**2)) - v[2], g_new.real - g.real,
                -g_new.imag - abs(v[4])]

    q0, spread = init
    nu0 = np.exp(-((np.abs(x) - np.sqrt(max(a, 0.0))) ** 2) / (2 * spread**2))
    nu0 /= nu0.sum() * dx
    w0 = nu0 * dx
    g0 = _pastur(d2V, w0, beta, 1e-3j)
    v0 = [np.log(q0 * max(np.sum(w0 * x**2), 1e-3)), np.sum(w0 * x * dV),
          np.log(max(np.sum(w0 * dV**2), 1e-6)), g0.real, -g0.imag]
    if start is not None:
        v0 = start
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        sol = optimize.root(residual, v0, method="hybr", options={"xtol": 1e-11})
    q, m, s2, g = unpack(sol.x)
    nu = density(q, m, s2, g)
    w = nu * dx
    b2 = beta**2
    ent = -np.sum(w * np.log(np.maximum(nu, 1e-300)))
    F = np.sum(w * np.log(z - b2 * g - d2V + 0j)) + b2 * g**2 / 2
    sigma = (ent - (s2 - m**2 / (2 * q)) / (2 * b2 * q) - 0.5 * np.log(2 * np.pi * b2 * q) + F.real)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        resid = np.max(np.abs(residual(sol.x)))
    return {"sigma": float(sigma), "e": float(np.sum(w * eV)), "q": float(q), "m": float(m),
            "index": float(1 - F.imag / np.pi), "g": complex(g),
            "converged": bool(np.isfinite(sigma) and resid < 1e-7), "v": sol.x, "x": x, "nu": nu}


def kac_rice_curve(ps, beta=1.0, n_grid=4001, inits=((1.0, 0.3), (1.0, 1.0), (0.5, 0.1)), step=0.25):
    """Total annealed complexity over a gain grid (our derivation, see :func:`kac_rice`).

    The variational equations are continued from the rigid end ``p - 1 = 20 beta``
    (where the solution is the 3^N mixture) down the gains on a grid of spacing
    ``step``; fresh starts ``inits`` are tried (largest ``S`` kept) only where the
    continuation fails to converge to a solution with ``q > 1e-3``.  A
    gain with no such solution or with ``S <= 0`` reports ``Sigma = 0``: the
    origin alone (count 1), which is exact below the convexity threshold.
    Returns arrays ``p``, ``sigma``, ``q``, ``index``, ``e`` and ``nontrivial``.
    """
    ps = np.asarray(ps, dtype=float)
    top = max(1.0 + 20 * beta, ps.max())  # rigid end: a reliable start for the continuation
    above = np.geomspace(top - ps.max() + 1, 1, 6)[:-1] + ps.max() - 1 if top > ps.max() else np.zeros(0)
    fine = np.concatenate([above, np.union1d(ps, np.arange(ps.max(), ps.min(), -step))[::-1]])
    out = {k: np.zeros(len(ps)) for k in ("sigma", "q", "index", "e")}
    out["nontrivial"] = np.zeros(len(ps), bool)
    prev = None
    for p in fine:
        best = None
        if prev is not None:
            r = kac_rice(p, beta, n_grid=n_grid, start=prev)
            best = r if r["converged"] and r["q"] > 1e-3 else None
        if best is None:  # fresh starts only where the continuation is lost
            good = [r for r in (kac_rice(p, beta, init=i, n_grid=n_grid) for i in inits)
                    if r["converged"] and r["q"] > 1e-3]
            best = max(good, key=lambda r: r["sigma"]) if good else None
        if best is not None:
            prev = best["v"]
        for k in np.flatnonzero(ps == p):
            if best is not None and best["sigma"] > 0:
                out["nontrivial"][k] = True
                for key in ("sigma", "q", "index", "e"):
                    out[key][k] = best[key]
    out["p"] = ps
    return out


# ---------------------------------------------------------------------------
# Configuration checks a schema cannot express
# ---------------------------------------------------------------------------


def check_config(section: dict) -> list[str]:
    """Cross-field checks of ``config["cim_landscape"]``; messages start with the key."""
    msgs = []
    beta = section.get("beta", 1.0)
    an = section.get("anneal", {})
    if an:
        if an["p_start"] >= an["p_end"]:
            msgs.append(f"cim_landscape.anneal.p_start: {an['p_start']} must be below p_end={an['p_end']}")
        # Euler stability near the read-out: the stiffest Hessian direction is
        # about 2 (a_max + 2 beta) + 4 beta (amplitudes^2 ~ a + 2 beta)
        stiff = 2 * (an["p_end"] - 1 + 2 * beta) + 4 * beta
        if an["dt"] * stiff >= 1.5:
            msgs.append(f"cim_landscape.anneal.dt: {an['dt']} is too large for p_end={an['p_end']} "
                        f"(need dt * {stiff:.3g} < 1.5)")
    sc = section.get("schedules", {})
    if sc:
        if sc["p_start"] >= sc["p_end"]:
            msgs.append(f"cim_landscape.schedules.p_start: {sc['p_start']} must be below p_end={sc['p_end']}")
        missing = [n for n in sc["n"] if n not in section.get("census", {}).get("n", [])]
        if missing:
            msgs.append(f"cim_landscape.schedules.n: {missing} need a census at the same N "
                        "(cim_landscape.census.n) to place the slow window")
    return msgs

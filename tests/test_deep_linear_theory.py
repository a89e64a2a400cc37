"""Tests of spdl.deep_linear against independent numerics.

Every test compares the closed-form / tabulated theory with something computed
a different way: scipy quadrature, scipy ODE integration, explicit gradient
descent, or SVDs of large random matrices.  Tolerances are justified next to
each assertion (finite size N, number of seeds, discretisation step).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, optimize

from spdl.studies import deep_linear as dl

# ---------------------------------------------------------------------------
# Noise spectrum (the Marchenko-Pastur law itself is tested in test_random_matrix.py)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("n3,n1", [(1000, 2000), (800, 800), (1000, 500)])
def test_mp_quantiles_match_random_matrix(n3, n1):
    rng = np.random.default_rng(1)
    Z = rng.standard_normal((n3, n1)) / np.sqrt(n1)
    m = min(n1, n3)
    small = Z @ Z.T if n3 <= n1 else Z.T @ Z
    s = np.sqrt(np.clip(np.linalg.eigvalsh(small), 0, None))[::-1]
    q = dl.noise_spectrum(n1, n3, 0)
    assert q.shape == (m,)
    assert np.all(np.diff(q) < 0)  # descending
    # eigenvalue rigidity: individual singular values fluctuate around their
    # quantiles by O(N^-2/3) at the edges (~0.01 at N = 1000), much less in
    # the bulk; 0.02 is ~2x the worst edge deviation seen.
    assert np.max(np.abs(s - q)) < 0.02


def test_random_matrix_laws_are_re_exported():
    from spdl import random_matrix as rm

    for name in ("detection_threshold", "mp_density", "mp_quantiles", "spiked_shat", "spiked_overlap",
                 "shat_to_sbar"):
        assert getattr(dl, name) is getattr(rm, name)


# ---------------------------------------------------------------------------
# Mode dynamics
# ---------------------------------------------------------------------------


def _ode(shat, eps, D, t):
    """solve_ivp of tau ds/dt = D s^(2-2/D)(shat - s) in log s (tight tol)."""
    sol = integrate.solve_ivp(
        lambda _, y: D * np.exp(y) ** (1 - 2 / D) * (shat - np.exp(y)),
        (0, t[-1]),
        [np.log(eps)],
        t_eval=t,
        method="DOP853",
        rtol=1e-11,
        atol=1e-12,
    )
    assert sol.success
    return np.exp(sol.y[0])


SHATS = [0.0, 5e-4, 0.3, 1.0, 4.0, 10.0]


def test_mode_trajectory_two_layers_closed_form_and_ode():
    eps = 1e-3
    t = np.linspace(0, 12, 241)
    for sh in SHATS:
        s = dl.mode_trajectory(t, sh, eps, 2)
        if sh > 0:
            e = np.exp(2 * sh * t)
            closed = sh * e / (e - 1 + sh / eps)  # spec formula, as written
            np.testing.assert_allclose(s, closed, rtol=1e-12)
        # ODE at rtol 1e-11: agreement to ~1e-9
        np.testing.assert_allclose(s, _ode(sh, eps, 2, t), rtol=1e-8)
    # broadcasting over t and shat
    out = dl.mode_trajectory(t[:, None], np.array(SHATS)[None, :], eps, 2)
    assert out.shape == (t.size, len(SHATS))


@pytest.mark.parametrize("D", [3, 4])
def test_mode_trajectory_deep_vs_ode(D):
    eps = 1e-3
    t = np.linspace(0, 60, 121)
    for sh in SHATS:
        s = dl.mode_trajectory(t, sh, eps, D)
        np.testing.assert_allclose(s, _ode(sh, eps, D, t), rtol=1e-8)
        assert np.all(np.diff(s) >= 0) if sh > eps else np.all(np.diff(s) <= 0)
    out = dl.mode_trajectory(t[:, None], np.array(SHATS)[None, :], eps, D)
    assert out.shape == (t.size, len(SHATS))


def test_mode_trajectory_four_layers_arctanh_closed_form():
    # tau ds/dt = 4 s^(3/2)(shat - s) integrates to
    # 2 shat^(3/2) t = [arctanh(u) - 1/u]_{u0}^{u},  u = sqrt(s/shat)
    eps = 1e-5
    for sh in (0.3, 1.0, 4.0):
        t = np.linspace(0, 2.0 / (sh**1.5 * np.sqrt(eps)), 60)
        s = dl.mode_trajectory(t, sh, eps, 4)
        u, u0 = np.sqrt(s / sh), np.sqrt(eps / sh)
        keep = u < 1 - 1e-8  # arctanh loses precision at convergence
        t_back = (np.arctanh(u[keep]) - 1 / u[keep] - np.arctanh(u0) + 1 / u0) / (2 * sh**1.5)
        np.testing.assert_allclose(t_back, t[keep], rtol=1e-8, atol=1e-9)


def _gd_chain(shat, eps, D, lr, t_eval):
    """Plain gradient descent on L = 0.5 (shat - prod_i a_i)^2 for a balanced
    chain of D scalars a_i(0) = eps^(1/D); returns the product at t_eval."""
    shat = np.asarray(shat, float)
    a = np.full((D,) + shat.shape, eps ** (1.0 / D))
    steps = np.round(np.asarray(t_eval) / lr).astype(int)
    out = np.empty((len(steps),) + shat.shape)
    k = 0
    for n in range(steps[-1] + 1):
        if n == steps[k]:
            out[k] = np.prod(a, axis=0)
            k += 1
            if k == len(steps):
                break
        prod = np.prod(a, axis=0)
        a = a + lr * (shat - prod) * prod / a
    return out


@pytest.mark.parametrize("D,lr,T", [(2, 2e-4, 5.0), (4, 1e-3, 25.0)])
def test_mode_trajectory_vs_gradient_descent(D, lr, T):
    # independent check of the mode equation itself: lr -> 0 limit of GD
    shat = np.array([0.5, 1.0, 4.0])
    eps = 1e-3
    t = np.linspace(0, T, 26)
    gd = _gd_chain(shat, eps, D, lr, t)
    th = dl.mode_trajectory(t[:, None], shat[None, :], eps, D)
    # Euler error: relative time shift ~ lr*shat/2 accumulated over the
    # transition -> |ds| <~ 1% of shat for these lr
    assert np.max(np.abs(gd - th) / shat) < 0.01


@pytest.mark.parametrize("D", [2, 3, 4])
def test_transition_time(D):
    eps = 1e-4
    for sh in (0.4, 1.0, 4.0):
        t_star = dl.transition_time(sh, eps, D)
        if D == 2:
            assert t_star == pytest.approx(np.log(sh / eps - 1) / (2 * sh), rel=1e-12)
        # crossing time of the ODE solution (event location)
        ev = lambda _, y: np.exp(y[0]) - sh / 2  # noqa: E731
        ev.terminal = True
        sol = integrate.solve_ivp(
            lambda _, y: D * np.exp(y) ** (1 - 2 / D) * (sh - np.exp(y)),
            (0, 1e4),
            [np.log(eps)],
            events=ev,
            method="DOP853",
            rtol=1e-11,
            atol=1e-12,
        )
        assert t_star == pytest.approx(sol.t_events[0][0], rel=1e-7)
        assert dl.mode_trajectory(t_star, sh, eps, D) == pytest.approx(sh / 2, rel=1e-9)
    assert np.isnan(dl.transition_time(1e-5, 1e-4, D))


# ---------------------------------------------------------------------------
# Error curves: theory vs exact TA solution on sampled noise
# ---------------------------------------------------------------------------


def _simulated_ta_errors(t, sbar, n1, n2, n3, eps, D, seeds):
    trs, tes = [], []
    for seed in seeds:
        task = dl.make_task(n1, n3, sbar, seed)
        k = min(n2, n1, n3)
        s = dl.mode_trajectory(t[:, None], task["shat"][None, :k], eps, D)
        W = np.einsum("ik,tk,jk->tij", task["Uhat"][:, :k], s, task["Vhat"][:, :k])
        trs.append(dl.train_error(W, task["X"], task["Yhat"]))
        tes.append(dl.test_error(W, task["Wbar"]))
    return np.mean(trs, axis=0), np.mean(tes, axis=0)


@pytest.mark.parametrize(
    "sbar,n2,D,T",
    [
        ([4.0], 50, 2, 10.0),
        ([12.0, 8.0, 4.0], 50, 2, 10.0),
        ([4.0], 20, 2, 10.0),
        ([4.0], 50, 4, 300.0),
        ([12.0, 8.0, 4.0], 50, 4, 300.0),
    ],
)
def test_theory_errors_vs_simulated_ta_student(sbar, n2, D, T):
    n1, n3, eps = 100, 50, 1e-5
    t = np.linspace(0, T, 101)
    tr_sim, te_sim = _simulated_ta_errors(t, sbar, n1, n2, n3, eps, D, range(10))
    tr_th, te_th = dl.theory_errors(t, sbar, n1, n2, n3, eps, D)
    assert tr_th.shape == te_th.shape == t.shape
    d_tr = np.abs(np.log(tr_sim) - np.log(tr_th))
    d_te = np.abs(np.log(te_sim) - np.log(te_th))
    # Finite size N1 = 100: the empirical outlier is ~1% below the N -> inf
    # shat on average and fluctuates by O(N^-1/2) ~ 3% per seed; the top noise
    # values fluctuate by O(N^-2/3) ~ 5% (N = 50).  This moves the steep
    # transitions in time by a few per cent per seed (t* ~ ln(shat/eps)/shat
    # for D = 2, ~ shat^(-3/2) for D = 4, where the teacher transition takes
    # only ~0.5% of t*), so the seed average is a mixture of transitioned and
    # not-yet-transitioned students near t*.  Hence two checks:
    # (1) away from the transitions the curves agree to a few per cent:
    #     mean vertical |d ln| < 0.05;
    # (2) everywhere, ln(sim) lies within 0.15 of the range of ln(theory) over
    #     the window [0.9 t, 1.1 t].
    assert np.mean(d_tr) < 0.05 and np.mean(d_te) < 0.05
    shifts = 1.0 + 0.1 * np.linspace(-1.0, 1.0, 61)
    tr_sh, te_sh = dl.theory_errors(t[:, None] * shifts[None, :], sbar, n1, n2, n3, eps, D)
    assert tr_sh.shape == (t.size, shifts.size)
    for sim, th in ((tr_sim, tr_sh), (te_sim, te_sh)):
        lo = np.log(th.min(axis=1)) - 0.15
        hi = np.log(th.max(axis=1)) + 0.15
        assert np.all((np.log(sim) >= lo) & (np.log(sim) <= hi))
    # the purely vertical deviation is bounded too (observed maxima: 0.15 for
    # D = 2, 0.62 at the D = 4 teacher transition)
    assert np.max(d_tr) < 0.3 * D and np.max(d_te) < 0.3 * D
    # qualitative claims: train decreases monotonically, test is
    # non-monotonic with an interior minimum (overfitting of noise modes)
    assert np.all(np.diff(tr_th) <= 1e-15)
    assert np.all(np.diff(tr_sim) <= 1e-15)
    for te in (te_th, te_sim):
        i = np.argmin(te)
        assert 0 < i < t.size - 1
        assert te[-1] > 2 * te[i] and te[0] > 2 * te[i]
    # optimally stopped errors agree closely (both at the plateau)
    assert dl.optimal_stopping(t, te_sim)[0] == pytest.approx(
        dl.optimal_stopping(t, te_th)[0], rel=0.1
    )


def test_theory_errors_out_modes_plateau():
    # with n2 < min(n1, n3) the unlearned noise modes (the bottom of the MP law) leave a train floor;
    # independent check: scipy quad of the density up to the quantile that splits off the learned modes
    n1, n2, n3, eps = 100, 20, 50, 1e-5
    A, m = n3 / n1, min(n1, n3) - 1
    tr, _ = dl.theory_errors(np.array([1e4]), [4.0], n1, n2, n3, eps)
    lo, hi = 1 - np.sqrt(A), 1 + np.sqrt(A)
    split = 1 - (n2 - 1) / m  # probability mass of the modes never learned

    def mass(x):
        return integrate.quad(lambda s: dl.mp_density(s, A), lo, x, limit=200)[0]

    s_c = optimize.brentq(lambda x: mass(x) - split, lo, hi, xtol=1e-12)
    out = m * integrate.quad(lambda s: s**2 * dl.mp_density(s, A), lo, s_c, limit=200)[0]
    floor = out / (dl.spiked_shat(4.0, A) ** 2 + m * 1.0)  # mean square of the MP law is 1 at A <= 1
    # the quantile split is read off a tabulated CDF (~1e-6 in probability)
    assert tr[0] == pytest.approx(floor, rel=1e-5)


def test_theory_errors_quadrature_converged():
    # 256 Gauss-Legendre nodes vs 2048: the sigmoids of the noise modes are smooth at D = 2
    t = np.linspace(0, 10, 50)
    a = dl.theory_errors(t, [4.0, 2.0], 100, 50, 50, 1e-5)
    b = dl.theory_errors(t, [4.0, 2.0], 100, 50, 50, 1e-5, n_nodes=2048)
    np.testing.assert_allclose(a, b, rtol=1e-9)


def test_varying_p_mapping_vs_gradient_descent():
    # P = r N1 whitened inputs, learning rate lr / r, TA init at eps: every mode of the GD solution
    # follows the P = N1 mode ODE at SNR sqrt(r) x (its singular value of Sigma31 / r), time t / sqrt(r) and
    # initial scale eps sqrt(r), scaled back by 1/sqrt(r) (the map behind dl.varying_p_theory)
    n1, n2, n3, r, eps, lr, steps = 20, 10, 10, 4, 1e-3, 2e-3, 3000
    task = dl.make_task(n1, n3, [1.5], seed=7, n_samples=r * n1)
    X, Y = task["X"], task["Yhat"]
    W1, W2 = dl.aligned_init(task["Uhat"], task["Vhat"], n2, eps)
    for _ in range(steps):
        R = W2 @ W1 @ X - Y
        g1, g2 = W2.T @ R @ X.T, R @ X.T @ W1.T
        W1, W2 = W1 - (lr / r) * g1, W2 - (lr / r) * g2
    s_gd = np.linalg.svd(W2 @ W1, compute_uv=False)[:n2]
    t = steps * lr
    shat_mapped = np.sqrt(r) * task["shat"][:n2] / r
    s_th = dl.mode_trajectory(t / np.sqrt(r), shat_mapped, eps * np.sqrt(r)) / np.sqrt(r)
    # forward Euler with step lr on modes of strength <= ~2.5: time error O(lr shat) ~ 0.5 %
    np.testing.assert_allclose(np.sort(s_gd), np.sort(s_th), rtol=0.02, atol=1e-6)
    # varying_p_theory is theory_errors at the mapped arguments
    tt = np.linspace(0, 5, 7)
    np.testing.assert_allclose(dl.varying_p_theory(tt, [1.5], r, n1, n2, n3, eps),
                               dl.theory_errors(tt / 2, [3.0], n1, n2, n3, 2 * eps), rtol=1e-12)


def _gd_two_layer(task, n2, eps, lr, steps, record):
    """Plain full-batch GD of a TA two-layer student; test errors at the steps in ``record``."""
    X, Y = task["X"], task["Yhat"]
    W1, W2 = dl.aligned_init(task["Uhat"], task["Vhat"], n2, eps)
    W0, errs = W2 @ W1, []
    for i in range(steps + 1):
        if i in record:
            errs.append(dl.test_error(W2 @ W1, task["Wbar"]))
        R = W2 @ W1 @ X - Y
        W1, W2 = W1 - lr * (W2.T @ R @ X.T), W2 - lr * (R @ X.T @ W1.T)
    return np.array(errs), W0, W2 @ W1


def test_varying_p_below_n1_frozen_subspace_vs_gradient_descent():
    # P = r N1 < N1 one-hot inputs, learning rate lr / r: the unseen columns keep their initial weights
    # exactly, the seen block's modes follow the n1' = P mode ODE at time t / sqrt(r), start eps / sqrt(r),
    # scaled by sqrt(r), and the mean test error over seeds follows dl.varying_p_theory
    n1, n2, n3, eps, lr, r = 40, 20, 20, 1e-3, 5e-3, 0.5
    P, steps = int(r * n1), 2400
    record = list(range(0, steps + 1, 200))
    curves = []
    for seed in range(8):
        task = dl.make_task(n1, n3, [2.0], seed=seed, n_samples=P)
        errs, W0, W = _gd_two_layer(task, n2, eps, lr / r, steps, set(record))
        curves.append(errs)
        np.testing.assert_array_equal(W[:, P:], W0[:, P:])  # frozen subspace: no gradient ever reaches it
        if seed == 0:
            sh = task["shat"][:P]  # the P non-zero singular values of Sigma31 (the seen block)
            s_th = np.sqrt(r) * dl.mode_trajectory(steps * lr / np.sqrt(r), sh / np.sqrt(r), eps / np.sqrt(r))
            s_gd = np.linalg.svd(W[:, :P], compute_uv=False)
            # forward Euler, mapped step lr / sqrt(r) on modes <= ~3: time error ~2 %
            np.testing.assert_allclose(np.sort(s_gd), np.sort(s_th), rtol=0.03, atol=1e-6)
    t = np.array(record) * lr
    th = dl.varying_p_theory(t, [2.0], r, n1, n2, n3, eps)[1]
    mean = np.mean(curves, axis=0)
    # optimally stopped error: the frozen teacher fraction 1 - ||v_P||^2 fluctuates by ~0.1 per seed
    # (Beta law), 8 seeds -> s.e. 0.04 on a minimum of ~0.76
    assert mean.min() == pytest.approx(th.min(), rel=0.08)
    # late time: at n1' = P = 20 the theory's MP average overshoots the fitted noise by ~6-10 %, as it
    # does at P = N1 with the same sizes (finite size, not the frozen subspace)
    assert mean[-1] == pytest.approx(th[-1], rel=0.15)
    # at t = 0 the student (scale eps) leaves the whole teacher unlearned: error 1 - O(eps / sbar)
    assert th[0] == pytest.approx(1.0, abs=1e-3) and mean[0] == pytest.approx(1.0, abs=1e-3)
    # at a fixed teacher, optimal stopping is monotone in P while the late-time error peaks at P = N1
    mins, lates = [], []
    for rr in (0.25, 0.5, 0.75, 1.0, 2.0, 4.0):
        tt = np.linspace(0, 12 * np.sqrt(rr), 400)
        te = dl.varying_p_theory(tt, [2.0], rr, n1, n2, n3, eps)[1]
        mins.append(te.min())
        lates.append(te[-1])
    assert np.all(np.diff(mins) < 0)
    assert int(np.argmax(lates)) == 3


def test_varying_p_below_n1_rejects_fractional_sample_counts():
    with pytest.raises(ValueError, match="integer"):
        dl.varying_p_theory([1.0], [2.0], 0.33, 40, 20, 20, 1e-3)


def test_optimal_stopping_first_minimum():
    t = np.arange(6.0)
    curve = np.array([3.0, 1.0, 2.0, 1.0, 4.0, 5.0])
    assert dl.optimal_stopping(t, curve) == (1.0, 1.0)
    m, to = dl.optimal_stopping(t, np.stack([curve, curve[::-1]]))
    np.testing.assert_allclose(m, [1.0, 1.0])
    np.testing.assert_allclose(to, [1.0, 2.0])


# ---------------------------------------------------------------------------
# Non-gradient optimum
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("snr", [1.0, 2.0, 4.0, 8.0])
@pytest.mark.parametrize("rank_profile", [[1.0], [3.0, 2.0, 1.0]])
def test_nongradient_optimum_beats_stopped_gd(snr, rank_profile):
    sbar = snr * np.array(rank_profile)
    t = np.linspace(0, 15, 3001)
    _, te = dl.theory_errors(t, sbar, 100, 50, 50, 1e-5)
    ng = dl.nongradient_optimum(sbar, 0.5)
    # exact inequality: per teacher mode (s - sbar)^2 + 2 s sbar (1 - O)
    # = (s - sbar O)^2 + sbar^2 (1 - O^2) >= sbar^2 (1 - O^2); noise adds >= 0
    assert ng <= te.min() + 1e-12
    assert 0 <= ng <= 1


@pytest.mark.parametrize("sbar", [[2.0], [3.0], [6.0, 4.0, 2.0]])
def test_nongradient_estimate_on_simulated_data(sbar):
    n1, n3 = 400, 200
    errs = []
    for seed in range(6):
        task = dl.make_task(n1, n3, sbar, seed)
        W = dl.nongradient_estimate(task["Sigma31"], n3 / n1)
        assert W.shape == (n3, n1)
        errs.append(dl.test_error(W, task["Wbar"]))
    # finite-size O(N^-1/2) fluctuations of shat and O; mean of 6 seeds at
    # n1 = 400 deviates by < 0.01 (observed), tolerance 0.05
    assert abs(np.mean(errs) - dl.nongradient_optimum(sbar, n3 / n1)) < 0.05


# ---------------------------------------------------------------------------
# Task construction and TA students
# ---------------------------------------------------------------------------


def test_make_task_one_hot():
    n1, n3 = 60, 30
    sbar = [5.0, 2.0]
    task = dl.make_task(n1, n3, sbar, seed=3)
    Wbar, U, V = task["Wbar"], task["U"], task["V"]
    np.testing.assert_allclose(U.T @ U, np.eye(2), atol=1e-12)
    np.testing.assert_allclose(V.T @ V, np.eye(2), atol=1e-12)
    np.testing.assert_allclose(np.linalg.svd(Wbar, compute_uv=False)[:2], sbar, rtol=1e-12)
    np.testing.assert_array_equal(task["X"], np.eye(n1))
    np.testing.assert_allclose(task["Sigma31"], Wbar + task["Z"], atol=1e-12)
    S = task["Uhat"] @ np.diag(task["shat"]) @ task["Vhat"].T
    np.testing.assert_allclose(S, task["Sigma31"], atol=1e-10)
    assert task["Vhat"].shape == (n1, n3) and task["Uhat"].shape == (n3, n3)
    # same seed -> same task
    np.testing.assert_array_equal(dl.make_task(n1, n3, sbar, seed=3)["Yhat"], task["Yhat"])
    # noise variance 1/n1 (relative std of the estimate ~ sqrt(2/(n1 n3)) ~ 3%)
    assert np.var(task["Z"]) * n1 == pytest.approx(1.0, rel=0.12)


@pytest.mark.parametrize("P", [25, 150])
def test_make_task_other_P(P):
    n1, n3 = 50, 20
    task = dl.make_task(n1, n3, [3.0], seed=4, n_samples=P)
    X = task["X"]
    assert X.shape == (n1, P) and task["Yhat"].shape == (n3, P)
    if P > n1:
        np.testing.assert_allclose(X @ X.T, (P / n1) * np.eye(n1), atol=1e-10)
    else:
        np.testing.assert_array_equal(X, np.eye(n1)[:, :P])
    np.testing.assert_allclose(task["Sigma31"], task["Yhat"] @ X.T, atol=1e-12)
    S = task["Uhat"] @ np.diag(task["shat"]) @ task["Vhat"].T
    np.testing.assert_allclose(S, task["Sigma31"], atol=1e-10)


@pytest.mark.parametrize("D", [2, 4])
@pytest.mark.parametrize("n2", [10, 40])
def test_aligned_init_product(D, n2):
    n1, n3, eps = 30, 20, 1e-3
    task = dl.make_task(n1, n3, [4.0], seed=5)
    Ws = dl.aligned_init(task["Uhat"], task["Vhat"], n2, eps, D)
    assert len(Ws) == D
    assert Ws[0].shape == (n2, n1) and Ws[-1].shape == (n3, n2)
    assert all(W.shape == (n2, n2) for W in Ws[1:-1])
    assert all(W.dtype == np.float64 for W in Ws)
    prod = Ws[0]
    for W in Ws[1:]:
        prod = W @ prod
    k = min(n2, n1, n3)
    expect = eps * task["Uhat"][:, :k] @ task["Vhat"][:, :k].T
    np.testing.assert_allclose(prod, expect, atol=1e-14)
    for W in Ws:  # each layer carries eps^(1/D) on the k used directions
        sv = np.linalg.svd(W, compute_uv=False)
        np.testing.assert_allclose(sv[:k], eps ** (1 / D), rtol=1e-10)
        assert np.all(sv[k:] < 1e-12)
    for Wa, Wb in zip(Ws[:-1], Ws[1:]):  # balanced
        np.testing.assert_allclose(Wb.T @ Wb, Wa @ Wa.T, atol=1e-14)


@pytest.mark.parametrize("D,lr,T,eps", [(2, 1e-3, 8.0, 1e-3), (4, 2e-3, 25.0, 1e-2)])
def test_aligned_network_gd_follows_modes(D, lr, T, eps):
    # full-matrix GD on L = 0.5 ||W_D..W_1 X - Yhat||^2 from aligned_init
    # (tau = 1/lr) must follow Uhat diag(s(t, shat)) Vhat^T
    n1, n2, n3 = 20, 10, 10
    task = dl.make_task(n1, n3, [3.0], seed=6)
    X, Y = task["X"], task["Yhat"]
    Ws = dl.aligned_init(task["Uhat"], task["Vhat"], n2, eps, D)
    n_steps = int(round(T / lr))
    for _ in range(n_steps):
        fwd = [X]
        for W in Ws:
            fwd.append(W @ fwd[-1])
        G = fwd[-1] - Y  # dL/d(output)
        grads = [None] * D
        for i in range(D - 1, -1, -1):
            grads[i] = G @ fwd[i].T
            G = Ws[i].T @ G
        Ws = [W - lr * g for W, g in zip(Ws, grads)]
    prod = Ws[0]
    for W in Ws[1:]:
        prod = W @ prod
    s = dl.mode_trajectory(T, task["shat"], eps, D)
    W_th = task["Uhat"] @ np.diag(s) @ task["Vhat"].T
    # Euler discretisation at this lr: relative error ~ lr * shat * ln(1/eps)
    assert np.linalg.norm(prod - W_th) / np.linalg.norm(W_th) < 0.02


def test_error_functions_vectorised():
    rng = np.random.default_rng(8)
    n1, n3 = 12, 7
    X = rng.standard_normal((n1, 15))
    Y = rng.standard_normal((n3, 15))
    Wbar = rng.standard_normal((n3, n1))
    Ws = rng.standard_normal((4, 3, n3, n1))
    tr = dl.train_error(Ws, X, Y)
    te = dl.test_error(Ws, Wbar)
    assert tr.shape == te.shape == (4, 3)
    for i in range(4):
        for j in range(3):
            W = Ws[i, j]
            assert tr[i, j] == pytest.approx(
                np.linalg.norm(W @ X - Y) ** 2 / np.linalg.norm(Y) ** 2, rel=1e-12
            )
            assert te[i, j] == pytest.approx(
                np.linalg.norm(W - Wbar) ** 2 / np.linalg.norm(Wbar) ** 2, rel=1e-12
            )
    assert dl.test_error(Wbar, Wbar) == 0.0

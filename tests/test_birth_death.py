"""spdl.studies.birth_death: exact energy vs quadrature, vectorised birth-death vs a slow loop,
population/mass conservation, batch independence, checkpoint resume, the student-teacher loop."""
import math

import numpy as np
import pytest
from scipy import integrate

from spdl.studies import birth_death as bd

MIX = bd.Mixture()



# ---------------------------------------------------------------- exact energy
def test_constant_by_quadrature_matches_gaussian_product_identity():
    yj, cj, sj = (np.array(a, float) for a in (MIX.centers, MIX.weights, MIX.variances))
    closed = 0.5 * sum(cj[a] * cj[b] * bd.gauss(yj[a], yj[b], sj[a] + sj[b])
                       for a in range(3) for b in range(3)) / 9
    assert MIX.constant() == pytest.approx(closed, abs=1e-12)
    assert MIX.constant() == pytest.approx(0.068868, abs=1e-6)  # the spec's exact value
    assert MIX.constant() - 0.206 / 3 == pytest.approx(2.0e-4, abs=1e-5)  # the notebook's constant is low


def test_F_and_dF_against_quadrature_and_differences():
    for y in (-2.7, -0.3, 1.1):
        val, _ = integrate.quad(lambda x: MIX.target(x) * bd.gauss(x, y, MIX.phi_var), -np.inf, np.inf,
                                epsabs=1e-13)
        assert MIX.F(y) == pytest.approx(val, abs=1e-11)
        h = 1e-5
        assert MIX.dF(y) == pytest.approx((MIX.F(y + h) - MIX.F(y - h)) / (2 * h), abs=1e-8)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_energy_equals_half_squared_distance_by_quadrature(seed):
    g = np.random.default_rng(seed)
    n = 7
    y, c = g.uniform(-3, 3, (1, n)), g.standard_normal((1, n))
    E, *_ = bd.mixture_terms(MIX, y, c, MIX.constant())
    fn = lambda x: MIX.target(x) - MIX.f_n(np.atleast_1d(x), y[0], c[0])[0]  # noqa: E731
    quad, _ = integrate.quad(lambda x: fn(x) ** 2, -np.inf, np.inf, epsabs=1e-14, epsrel=1e-12, limit=200)
    assert E[0] == pytest.approx(0.5 * quad, abs=1e-8)


def test_gd_velocities_are_minus_n_times_the_energy_gradient():
    g = np.random.default_rng(3)
    n = 5
    y, c = g.uniform(-2, 2, (1, n)), g.standard_normal((1, n))
    Cf = MIX.constant()
    _, vy, vc, V = bd.mixture_terms(MIX, y, c, Cf)
    h = 1e-6
    for i in range(n):
        for arr, vel in ((y, vy), (c, vc)):
            up, dn = arr.copy(), arr.copy()
            up[0, i] += h
            dn[0, i] -= h
            args_up = (up, c) if arr is y else (y, up)
            args_dn = (dn, c) if arr is y else (y, dn)
            grad = (bd.mixture_terms(MIX, *args_up, Cf)[0] - bd.mixture_terms(MIX, *args_dn, Cf)[0]) / (2 * h)
            assert -n * grad[0] == pytest.approx(vel[0, i], abs=1e-6)
    assert np.allclose(V, -c * vc)


def test_potential_and_rates_match_a_slow_pair_loop():
    g = np.random.default_rng(4)
    B, n = 2, 6
    y, c = g.uniform(-3, 3, (B, n)), g.standard_normal((B, n))
    _, _, _, V = bd.mixture_terms(MIX, y, c, MIX.constant())
    for b in range(B):
        for i in range(n):
            interaction = sum(bd.gauss(y[b, i], y[b, j], 2 * MIX.phi_var) * c[b, j] for j in range(n)) / n
            F = sum(w * bd.gauss(y[b, i], m, s + MIX.phi_var)
                    for m, w, s in zip(MIX.centers, MIX.weights, MIX.variances)) / len(MIX.centers)
            assert V[b, i] == pytest.approx(c[b, i] * (interaction - F), abs=1e-13)
    # run_mixture's birth-death growth rate is -alpha V (no mean subtraction): a particle with
    # V > 0 (it raises the energy) can only die, one with V < 0 only duplicate
    alpha = 0.05
    growth = -alpha * V
    assert ((growth < 0) == (V > 0)).all()


# ---------------------------------------------------------------- birth-death step
def _random_case(g, B, n, D, scale):
    P = g.standard_normal((B, n, D))
    growth = g.uniform(-scale, scale, (B, n))
    u, key, v = g.random((B, n)), g.random((B, 2 * n)), g.random((B, n))
    fill = g.standard_normal((B, n, D)) + 10.0  # recognisable prior particles
    from_prior = g.random(B) < 0.5
    return P, growth, u, key, v, fill, from_prior


@pytest.mark.parametrize("scale", [0.3, 1.5])
def test_resample_matches_slow_reference_loop(scale):
    g = np.random.default_rng(11)
    for _ in range(40):
        case = _random_case(g, 6, 7, 2, scale)
        out, kills, births, m, pop = bd.resample(*case)
        ref, rk, rb, rm = bd.resample_reference(*case)
        assert np.array_equal(out, ref)
        assert np.array_equal(kills, rk) and np.array_equal(births, rb) and np.array_equal(m, rm)
        assert (pop == 7).all() and out.shape == case[0].shape


def test_resample_edge_cases_all_killed_and_all_duplicated():
    g = np.random.default_rng(5)
    P, _, u, key, v, fill, _ = _random_case(g, 4, 6, 1, 1.0)
    from_prior = np.array([False, True, False, True])
    growth = np.array([[-2.0] * 6, [-2.0] * 6, [2.0] * 6, [2.0] * 6])
    out, kills, births, m, pop = bd.resample(P, growth, u, key, v, fill, from_prior)
    ref, *_ = bd.resample_reference(P, growth, u, key, v, fill, from_prior)
    assert np.array_equal(out, ref)
    assert np.array_equal(out[0], P[0])  # cloning cannot restore an extinct population: unchanged
    assert np.array_equal(out[1], fill[1])  # the prior restores it
    assert (kills == [6, 6, 0, 0]).all() and (births == [0, 0, 6, 6]).all() and (m == [0, 0, 12, 12]).all()
    for b in (2, 3):  # every particle duplicated, then n of the 2n kept: a multiset of originals
        assert set(out[b, :, 0]) <= set(P[b, :, 0])
    assert (pop == 6).all()


def test_no_rates_is_a_permutation_and_callable_fill_draws_only_what_is_needed():
    g = np.random.default_rng(2)
    P, _, u, key, v, _, _ = _random_case(g, 3, 5, 2, 1.0)
    out, kills, births, m, pop = bd.resample(P, np.zeros((3, 5)), u, key, v, None, np.zeros(3, bool))
    assert (kills == 0).all() and (births == 0).all() and (m == 5).all()
    for b in range(3):
        assert sorted(map(tuple, out[b])) == sorted(map(tuple, P[b]))
    asked = []
    growth = np.full((3, 5), -0.5)
    bd.resample(P, growth, u, key, v, lambda cnt: asked.append(cnt.copy()) or np.zeros((3, 5, 2)),
                np.ones(3, bool))
    assert np.array_equal(asked[0], 5 - (5 - (u < 0.5).sum(1)))


def test_expected_offspring_is_one_plus_rate():
    """Mass transport of one step: a particle with centred rate r has on average 1 + r descendants
    (to first order; the population is restored with clones of uniformly chosen survivors)."""
    g = np.random.default_rng(0)
    n, T = 12, 40000
    r = np.linspace(-0.3, 0.3, n)
    r -= r.mean()
    P = np.broadcast_to(np.arange(n, dtype=float)[None, :, None], (T, n, 1))  # particle ids
    out, _, _, m, pop = bd.resample(P, np.broadcast_to(r, (T, n)), g.random((T, n)), g.random((T, 2 * n)),
                                    g.random((T, n)), None, np.zeros(T, bool))
    counts = np.stack([(out[..., 0] == i).sum(1) for i in range(n)], axis=1).mean(0)
    assert (pop == n).all()
    assert abs(m.mean() - n) < 0.05  # centred rates conserve mass on average
    assert np.allclose(counts, 1 + r, atol=0.03)
    assert counts.sum() == pytest.approx(n)  # the population is exactly n


# ---------------------------------------------------------------- mixture runs
def _runs(steps=120, quench=40, n=16, checkpoint=None, progress=None, rows=None):
    y0, c0 = bd.mixture_init("spread", n, [0, 1])
    Y, C = np.concatenate([y0] * 3), np.concatenate([c0] * 3)
    scheme, seeds = np.repeat([bd.GD, bd.CLONE, bd.PRIOR], 2), np.tile([0, 1], 3)
    alpha = np.full(6, 0.3)
    if rows is not None:
        Y, C, scheme, seeds, alpha = Y[rows], C[rows], scheme[rows], seeds[rows], alpha[rows]
    return bd.run_mixture(MIX, Y, C, scheme=scheme, alpha=alpha, seeds=seeds, steps=steps, quench=quench,
                          dt=1e-2, snapshots=[0, steps], checkpoint=checkpoint, checkpoint_every=30,
                          progress=progress)


def test_mixture_population_constant_quench_monotone_and_batch_independent():
    r = _runs()
    assert (r["population"] == 16).all()
    assert r["kills"][:, 2:].sum() > 0 and r["births"][:, 2:].sum() > 0  # birth-death did act
    assert r["kills"][-40:].sum() == 0 and r["kills"][:, :2].sum() == 0  # no events in GD or quench
    assert (np.diff(r["energy"][-41:], axis=0) <= 1e-12).all()  # GD at dt = 1e-2 descends
    assert np.array_equal(r["energy"][0], np.tile(r["energy"][0, :2], 3))  # a seed's particles in every scheme
    for row in range(6):
        alone = _runs(rows=[row])
        assert np.array_equal(alone["energy"][:, 0], r["energy"][:, row])
        assert np.array_equal(alone["y"][0], r["y"][row])
    E_final, *_ = bd.mixture_terms(MIX, r["y"], r["c"], MIX.constant())
    assert np.allclose(E_final, r["energy"][-1])
    assert np.array_equal(r["snap_y_120"], r["y"])


class _Interrupt(Exception):
    pass


class _StopAfter:
    def __init__(self, k):
        self.k = k

    def write(self, text):
        if text.strip():
            self.k -= 1
            if self.k < 0:
                raise _Interrupt

    def flush(self):
        pass


def test_mixture_checkpoint_resume_is_bitwise(tmp_path):
    ckpt = tmp_path / "ck.npz"
    full = _runs()
    with pytest.raises(_Interrupt):
        _runs(checkpoint=str(ckpt), progress=_StopAfter(7))  # dies after step 84, checkpoint at 60
    assert ckpt.exists()
    resumed = _runs(checkpoint=str(ckpt))
    assert not ckpt.exists()
    for k in ("energy", "kills", "births", "y", "c"):
        assert np.array_equal(full[k], resumed[k]), k


def test_first_time_below():
    E = np.array([[3.0, 3.0], [2.0, 3.0], [0.5, 3.0]])
    assert np.array_equal(bd.first_time_below(E, 1.0, 0.1), [0.2, np.inf])


# ---------------------------------------------------------------- student-teacher
VARIANTS = [bd.StudentRun("sgd", "notebook", "gd"), bd.StudentRun("clone", "notebook", "clone", 1.0),
            bd.StudentRun("prior", "notebook", "prior", 0.5),
            bd.StudentRun("mf_clone", "mean_field", "clone", 0.5, True)]
KW = dict(d=6, teacher_units=3, n=8, batch=16, lr=0.05, steps=40, record_at=[0, 10, 40], test_size=64,
          prior_std_scale=1.0, mf_c_scale=1.0)


def test_teacher_and_student_initialisation():
    W, c = bd.make_teacher(50, 10, 3)
    assert np.allclose(np.linalg.norm(W, axis=1) * np.abs(c), 1.0)
    assert (np.abs(c) <= 1 / math.sqrt(10)).all()
    w, cs = bd.init_student(50, 50, 3, 0.1)
    assert w.std() == pytest.approx(1 / math.sqrt(50), rel=0.05) and (np.abs(cs) <= 0.1).all()


def test_student_loss_matches_direct_formula_and_members_are_independent(one_thread):
    import torch

    r = bd.run_student(VARIANTS, [0, 1], **KW)
    E = len(VARIANTS) * 2
    assert r["test_loss"].shape == (3, E) and np.isfinite(r["test_loss"]).all()
    assert (r["population"] == 8).all()
    assert r["kills"][-1, 2:].sum() > 0 and r["kills"][:, :2].sum() == 0  # only birth-death members resample
    # step 0: the test loss of seed 0's notebook student computed by hand (MSE without 1/2)
    W, c = bd.make_teacher(6, 3, bd.student_seed("teacher", 0))
    w, cs = bd.init_student(6, 8, bd.student_seed("student", 0), 1 / math.sqrt(8))
    x = bd.sphere_inputs(torch.Generator().manual_seed(bd.student_seed("test", 0)), (64, 6)).double().numpy()
    f = np.maximum(x @ w.T, 0) @ cs
    t = np.maximum(x @ W.T, 0) @ c
    assert r["test_loss"][0, 0] == pytest.approx(np.mean((f - t) ** 2), rel=1e-5)
    # the mean-field member starts from the same w with c ~ U(-1, 1) and output (1/n) sum c_i ReLU(w_i.x)
    w_mf, c_mf = bd.init_student(6, 8, bd.student_seed("student", 0), 1.0)
    f_mf = np.maximum(x @ w_mf.T, 0) @ c_mf / 8
    assert r["test_loss"][0, 6] == pytest.approx(np.mean((f_mf - t) ** 2), rel=1e-5)
    # a variant alone gives the same numbers as inside the stacked batch
    for v in range(len(VARIANTS)):
        alone = bd.run_student([VARIANTS[v]], [0, 1], **KW)
        assert np.array_equal(alone["test_loss"], r["test_loss"][:, r["variant"] == v])
        assert np.array_equal(alone["W1"], r["W1"][r["variant"] == v])
    # alpha 0 is plain SGD: no resampling, the same numbers as the SGD member
    same = bd.run_student([bd.StudentRun("a", "notebook", "gd"), bd.StudentRun("b", "notebook", "prior", 0.0)],
                          [0], **KW)
    assert np.array_equal(same["test_loss"][:, 0], same["test_loss"][:, 1])


def test_student_sgd_step_matches_a_hand_written_step(one_thread):
    """One step of each parametrisation against numpy: fresh batch, MSE gradient, lr (x n, / n for mean field)."""
    import torch

    kw = {**KW, "steps": 1, "record_at": [0, 1]}
    r = bd.run_student([bd.StudentRun("sgd", "notebook", "gd"), bd.StudentRun("mf", "mean_field", "gd")], [0], **kw)
    W, c = bd.make_teacher(6, 3, bd.student_seed("teacher", 0))
    x = bd.sphere_inputs(torch.Generator().manual_seed(bd.student_seed("data", 0)), (16, 6)).double().numpy()
    t = np.maximum(x @ W.T, 0) @ c
    n, lr = 8, KW["lr"]
    for e, (scale, c_scale) in enumerate([(1.0, 1 / math.sqrt(n)), (1.0 / n, 1.0)]):
        w, cs = bd.init_student(6, n, bd.student_seed("student", 0), c_scale)
        h = x @ w.T
        err = np.maximum(h, 0) @ cs * scale - t
        g_c = 2 * scale * (np.maximum(h, 0) * err[:, None]).mean(0)  # dL/dc, L = mean err^2
        g_w = 2 * scale * ((err[:, None] * cs * (h > 0))[:, :, None] * x[:, None, :]).mean(0)
        step = lr * (n if scale < 1 else 1)  # mean field: per-particle step lr n
        assert np.allclose(r["c"][e], cs - step * g_c, atol=2e-5)
        assert np.allclose(r["W1"][e], w - step * g_w, atol=2e-5)


def test_student_checkpoint_resume_is_bitwise(tmp_path, one_thread):
    ckpt = tmp_path / "st.pt"
    kw = {**KW, "steps": 50, "checkpoint_every": 20}
    full = bd.run_student(VARIANTS, [0], **kw)

    def stop(params, k):
        if k == 30:
            raise _Interrupt

    with pytest.raises(_Interrupt):
        bd.run_student(VARIANTS, [0], checkpoint=str(ckpt), observe=stop, **kw)
    assert ckpt.exists()
    resumed = bd.run_student(VARIANTS, [0], checkpoint=str(ckpt), **kw)
    for k in ("test_loss", "kills", "births", "projection", "W1"):
        assert np.array_equal(full[k], resumed[k]), k


def test_check_config_messages():
    bad = {"dynamics": {"dt": 0.01}, "spread": {"steps": 100, "quench": 100, "check_time": 5.0},
           "sweep": {"steps": 50, "quench": 60, "alpha": [0.01, 0.05]},
           "student": {"d": 5, "teacher_units": 8, "variants": [{"name": "a"}, {"name": "a"}]}}
    msgs = bd.check_config(bad)
    for key in ("spread.quench", "spread.check_time", "sweep.quench", "sweep.alpha", "student.teacher_units",
                "student.variants"):
        assert any(m.startswith(f"birth_death.{key}") for m in msgs), key
    ok = {"dynamics": {"dt": 0.01}, "spread": {"steps": 3000, "quench": 1000, "check_time": 10.0},
          "sweep": {"steps": 50, "quench": 10, "alpha": [0, 0.05]}}
    assert bd.check_config(ok) == []

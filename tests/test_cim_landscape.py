"""Tests of spdl.studies.cim_landscape against independent computations.

Each test checks the library against something computed another way:
finite differences, an exact polynomial solve (resultant / Groebner basis),
brute-force listing of all spin states, one-by-one loops, or a closed form.
The model is our chosen classical CIM model (see the module docstring).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from spdl.studies import cim_landscape as cl

BETA = 1.0


def test_couplings_are_sk_and_deterministic():
    J = cl.sk_couplings(200, 3, seed=7)
    assert np.array_equal(J, cl.sk_couplings(200, 3, seed=7))
    assert not np.array_equal(J, cl.sk_couplings(200, 3, seed=8))
    assert np.allclose(J, J.transpose(0, 2, 1))
    assert np.all(np.diagonal(J, axis1=1, axis2=2) == 0)
    off = J[:, np.triu_indices(200, 1)[0], np.triu_indices(200, 1)[1]]
    # 3 x 19900 entries of variance 1/200: sample variance within ~1%
    assert off.var() * 200 == pytest.approx(1.0, rel=0.03)
    with pytest.raises(ValueError):
        cl.sk_couplings(1, 1, 0)


@pytest.mark.parametrize("p", [-1.0, 1.5, 4.0])
def test_gradient_and_hessian_match_finite_differences(p):
    rng = np.random.default_rng(0)
    J = cl.sk_couplings(9, 1, 3)[0]
    x = 1.3 * rng.standard_normal((5, 9))
    h = 1e-6
    eye = np.eye(9)
    fd_grad = np.stack([(cl.energy(x + h * eye[i], J, p, BETA) - cl.energy(x - h * eye[i], J, p, BETA)) / (2 * h)
                        for i in range(9)], -1)
    # central differences of a quartic: error ~ h^2 * |E'''| + round-off 1e-16 |E| / h
    assert np.allclose(cl.gradient(x, J, p, BETA), fd_grad, atol=1e-7)
    H = cl.hessian(x, J, p, BETA)
    assert H.shape == (5, 9, 9)
    assert np.allclose(H, cl.fd_hessian(x, J, p, BETA, h=1e-5), atol=1e-8)
    # one point, no batch axis
    assert np.allclose(cl.hessian(x[0], J, p, BETA), H[0])


def test_energy_identity_holds_only_at_critical_points():
    J = cl.sk_couplings(12, 1, 4)[0]
    c = cl.census(J, 2.5, BETA, 60, seed=1)
    assert len(c["x"]) > 5
    assert np.all(c["grad_norm"] < 1e-10)
    assert np.allclose(c["energy"], c["energy_identity"], atol=1e-10)
    x = np.random.default_rng(2).standard_normal(12)
    assert abs(cl.energy(x, J, 2.5, BETA) - cl.critical_energy(x, 2.5)) > 1e-3


# ---------------------------------------------------------------------------
# The census against independent exhaustive solutions of grad E = 0
# ---------------------------------------------------------------------------


def _exact_critical_points_n2(J, p, beta):
    """All real solutions for N = 2 by elimination: x2 = (x1^3 - a x1)/b, then a degree-9 polynomial in x1."""
    a, b = p - 1.0, beta * J[0, 1]
    # x2^3 - a x2 - b x1 = 0 with x2 = (x1^3 - a x1)/b; multiply by b^3
    x2b = np.polynomial.Polynomial([0, -a, 0, 1])  # b * x2
    poly = x2b**3 - a * b**2 * x2b - b**4 * np.polynomial.Polynomial([0, 1])
    roots = poly.roots()
    x1 = roots[np.abs(roots.imag) < 1e-7].real
    pts = np.stack([x1, x2b(x1) / b], -1)
    # polish to round-off so that the comparison tolerance can be tight
    pts, ok, _ = cl.newton(pts, J, p, beta, tol=1e-12)
    assert ok.all()
    return pts


def _canonical_set(X):
    reps, _, _ = cl.dedupe_sign(X, tol=1e-6)
    return reps


def _same_up_to_sign(A, B, tol=1e-6):
    for a in A:
        d = np.minimum(np.linalg.norm(B - a, axis=1), np.linalg.norm(B + a, axis=1))
        if d.min() > tol:
            return False
    return True


@pytest.mark.parametrize("p", [0.5, 1.8, 3.0, 6.0])
def test_census_finds_every_critical_point_n2(p):
    J = np.array([[0.0, 0.7], [0.7, 0.0]])
    exact = _canonical_set(_exact_critical_points_n2(J, p, BETA))
    c = cl.census(J, p, BETA, 200, seed=0)
    assert len(c["x"]) == len(exact)
    assert _same_up_to_sign(exact, c["x"]) and _same_up_to_sign(c["x"], exact)


def test_census_finds_every_critical_point_n3_groebner():
    """N = 3: exact Groebner basis (sympy, rational couplings) in shape position; all real roots."""
    sp = pytest.importorskip("sympy")
    Jq = [[0, sp.Rational(41, 100), sp.Rational(-67, 100)],
          [sp.Rational(41, 100), 0, sp.Rational(23, 100)],
          [sp.Rational(-67, 100), sp.Rational(23, 100), 0]]
    p = sp.Rational(5, 2)
    X = sp.symbols("x0:3")
    eqs = [X[i] ** 3 - (p - 1) * X[i] - sum(Jq[i][j] * X[j] for j in range(3)) for i in range(3)]
    G = sp.groebner(eqs, *X, order="lex")
    assert [sp.Poly(g, *X).degree(X[0]) for g in G][:1] == [1]  # shape position: x0 - f(x2), x1 - g(x2), h(x2)
    h = sp.Poly(G.exprs[-1], X[2])
    x2s = [r for r in h.real_roots()]
    pts = []
    for r in x2s:
        r = sp.Float(r.evalf(40), 40) if not r.is_Rational else r
        x0 = sp.solve(G.exprs[0].subs(X[2], r), X[0])[0]
        x1 = sp.solve(G.exprs[1].subs(X[2], r), X[1])[0]
        pts.append([float(x0), float(x1), float(r)])
    exact = _canonical_set(np.array(pts))
    J = np.array(Jq, dtype=float)
    c = cl.census(J, float(p), BETA, 300, seed=0)
    assert len(exact) >= 5  # a rough landscape at this gain: the test is not trivial
    assert len(c["x"]) == len(exact)
    assert _same_up_to_sign(exact, c["x"]) and _same_up_to_sign(c["x"], exact)


def test_census_indices_agree_with_finite_difference_hessian():
    J = cl.sk_couplings(10, 1, 11)[0]
    c = cl.census(J, 2.0, BETA, 80, seed=3)
    lam_fd = np.linalg.eigvalsh(cl.fd_hessian(c["x"], J, 2.0, BETA))
    assert np.array_equal(np.sum(lam_fd < 0, -1), c["index"])
    assert np.all(c["lam_min"][c["index"] == 0] > 0)


def test_dedupe_up_to_global_sign():
    rng = np.random.default_rng(0)
    base = rng.standard_normal((4, 6))
    X = np.concatenate([base, -base[:2], base[1:3] + 1e-12, np.zeros((2, 6))])
    reps, labels, hits = cl.dedupe_sign(X)
    assert len(reps) == 5
    assert hits.sum() == len(X)
    assert labels[0] == labels[4] and labels[1] == labels[5] == labels[6]
    # {b3}, {b0, -b0}, {b2, b2+}, {0, 0}, {b1, -b1, b1+}
    assert sorted(hits.tolist()) == [1, 2, 2, 2, 3]
    assert cl.chao1(np.array([1, 1, 2])) == pytest.approx(3 + 2 * 1 / (2 * 2))


# ---------------------------------------------------------------------------
# Convexity threshold and the rigid limit
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1])
def test_convexity_threshold_is_exact(seed):
    J = cl.sk_couplings(8, 1, seed)[0]
    pc = cl.convexity_threshold(J, BETA)
    assert pc == pytest.approx(1 - BETA * np.linalg.eigvalsh(J)[-1])
    # below: the Hessian is positive definite everywhere, so only the origin
    x = 2 * np.random.default_rng(seed).standard_normal((200, 8))
    assert np.linalg.eigvalsh(cl.hessian(x, J, pc - 1e-3, BETA))[:, 0].min() > 0
    below = cl.census(J, pc - 1e-3, BETA, 50, seed=0)
    assert len(below["x"]) == 1 and np.all(below["x"] == 0) and below["index"][0] == 0
    # above: the origin is a saddle of index 1 and a pair of minima is born (pitchfork)
    above = cl.census(J, pc + 1e-3, BETA, 50, seed=0)
    assert len(above["x"]) == 2
    origin = np.all(np.abs(above["x"]) < 1e-12, -1)
    assert above["index"][origin].tolist() == [1] and above["index"][~origin].tolist() == [0]


def test_rigid_limit_every_sign_pattern_is_a_minimum():
    J = cl.sk_couplings(8, 1, 2)[0]
    patterns = cl._spin_table(8)
    # at p - 1 = 50 beta the coupling shifts the amplitudes by O(beta/sqrt(a)) only
    assert cl.rigid_minima(J, 51.0, BETA, patterns).all()
    # at p - 1 = 0.1 beta (rough phase) most sign patterns have no minimum of their own
    assert cl.rigid_minima(J, 1.1, BETA, patterns).mean() < 0.2


# ---------------------------------------------------------------------------
# Exhaustive spin states: Gray code vs brute force
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("n,chunk", [(5, 2), (10, 4), (13, 5), (13, 20)])
def test_gray_code_enumeration_matches_brute_force(n, chunk):
    J = cl.sk_couplings(n, 1, n)[0]
    g = cl.enumerate_states(J, chunk_bits=chunk)
    b = cl.brute_force_states(J)
    assert g["e0"] == pytest.approx(b["e0"], abs=1e-12)
    assert np.array_equal(g["s0"], b["s0"])
    assert g["n_stable"] == b["n_stable"]
    assert cl.spin_energy(g["s0"], J) == pytest.approx(g["e0"], abs=1e-12)


def test_brute_force_by_itertools():
    J = cl.sk_couplings(7, 1, 1)[0]
    states = np.array(list(itertools.product([-1.0, 1.0], repeat=7)))
    e = -0.5 * np.einsum("ki,ij,kj->k", states, J, states) / 7
    assert cl.brute_force_states(J)["e0"] == pytest.approx(e.min(), abs=1e-13)


# ---------------------------------------------------------------------------
# Annealing, greedy descent, spectral rounding
# ---------------------------------------------------------------------------


def test_greedy_descent_vectorised_equals_loop_and_stops_at_stable_states():
    J = cl.sk_couplings(30, 3, 5)
    rng = np.random.default_rng(1)
    s0 = rng.choice([-1.0, 1.0], (3, 4, 30))
    s, flips = cl.greedy_descent(s0, J[:, None])
    for i in range(3):
        for r in range(4):
            one, f1 = cl.greedy_descent(s0[i, r], J[i])
            assert np.array_equal(one, s[i, r]) and f1 == flips[i, r]
            h = J[i] @ s[i, r]
            assert np.all(s[i, r] * h >= 0)
            assert cl.spin_energy(s[i, r], J[i]) <= cl.spin_energy(s0[i, r], J[i])


def test_anneal_vectorised_equals_per_instance_and_is_deterministic():
    J = cl.sk_couplings(20, 2, 9)
    x0 = 0.01 * np.random.default_rng(3).standard_normal((2, 3, 20))
    sched = cl.linear_schedule(-1.5, 4.0, 10.0, 0.05)
    out = cl.anneal(J, sched, 0.05, BETA, x0, n_records=20)
    assert out["e"].shape == (len(out["step"]), 2, 3)
    for i in range(2):
        one = cl.anneal(J[i], sched, 0.05, BETA, x0[i], n_records=20)
        assert np.allclose(one["x"], out["x"][i], rtol=0, atol=1e-12)
    again = cl.anneal(J, sched, 0.05, BETA, x0, n_records=20)
    assert np.array_equal(again["e"], out["e"])
    # the last record is the read-out e(sign x) of the final amplitudes
    s = np.sign(out["x"])
    assert np.allclose(out["e"][-1], cl.spin_energy(s, J))
    assert not out["diverged"].any()


def test_anneal_flags_divergence_instead_of_raising():
    J = cl.sk_couplings(10, 1, 0)
    out = cl.anneal(J, np.full(40, 30.0), 1.0, BETA, np.ones((1, 2, 10)), n_records=5)
    assert out["diverged"].all() and np.isnan(out["e"][-1]).all()


def test_schedules():
    lin = cl.linear_schedule(-1.5, 4.0, 50.0, 0.05)
    assert len(lin) == 1000 and np.all(np.diff(lin) > 0)
    slow = cl.slowed_schedule(-1.5, 4.0, 50.0, 0.05, (0.5, 1.5), 0.5)
    assert len(slow) == 1000 and np.all(np.diff(slow) >= 0)
    assert np.mean((slow > 0.5) & (slow < 1.5)) == pytest.approx(0.5, abs=0.01)
    with pytest.raises(ValueError):
        cl.slowed_schedule(-1.5, 4.0, 50.0, 0.05, (5.0, 6.0), 0.5)


def test_spectral_states_are_top_eigenvector_signs():
    J = cl.sk_couplings(15, 2, 1)
    s = cl.spectral_states(J)
    for i in range(2):
        v = np.linalg.eigh(J[i])[1][:, -1]
        assert np.array_equal(np.abs(s[i] @ np.sign(v)), 15)


# ---------------------------------------------------------------------------
# Annealed Kac-Rice complexity (our derivation)
# ---------------------------------------------------------------------------


def test_kac_rice_rigid_limit_is_three_to_the_n():
    # p - 1 >> beta: critical points are x_i in {0, +-sqrt(a)}: 3^N of them,
    # a fraction 1/3 of Hessian eigenvalues negative (the zero coordinates)
    r = cl.kac_rice(21.0, BETA, init=(0.5, 0.1), n_grid=2001)
    assert r["converged"]
    assert r["sigma"] == pytest.approx(np.log(3), abs=2e-3)
    assert r["index"] == pytest.approx(1 / 3, abs=1e-2)
    assert r["q"] == pytest.approx(2 * 20 / 3, rel=1e-2)


def test_kac_rice_curve_vanishes_in_the_flat_phase_and_grows():
    c = cl.kac_rice_curve(np.array([-1.5, 0.0, 2.0]), BETA, n_grid=1001, step=0.5)
    assert c["sigma"][0] == 0 and not c["nontrivial"][0]
    assert 0 < c["sigma"][1] < c["sigma"][2] < np.log(3)


def test_check_config_messages_start_with_the_key():
    good = {"beta": 1.0, "anneal": {"p_start": -1.5, "p_end": 4.0, "dt": 0.05},
            "census": {"n": [16]}, "schedules": {"n": [16], "p_start": -1.5, "p_end": 4.0}}
    assert cl.check_config(good) == []
    bad = {"beta": 1.0, "anneal": {"p_start": 4.0, "p_end": 4.0, "dt": 0.5},
           "census": {"n": [16]}, "schedules": {"n": [20], "p_start": -1.5, "p_end": 4.0}}
    msgs = cl.check_config(bad)
    assert len(msgs) == 3
    assert all(m.startswith("cim_landscape.") for m in msgs)

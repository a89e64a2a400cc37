"""spdl.studies.stochastic_collapse: theory (densities, growth rates, mode dynamics) vs independent numerics."""
import numpy as np
import pytest
import torch
from scipy import integrate

from spdl.studies import stochastic_collapse as sc


@pytest.fixture
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


# ---------------------------------------------------------------- quartic toy
@pytest.mark.parametrize("zeta", [0.3, 1.0, 1.6])
def test_quartic_density_is_normalised_and_has_closed_form_moment(zeta):
    mu = 1.5
    f = lambda t: sc.quartic_density(t, mu, zeta)  # noqa: E731
    total = 2 * integrate.quad(f, 0, np.inf, limit=200)[0]
    m2 = 2 * integrate.quad(lambda t: t * t * f(t), 0, np.inf, limit=200)[0]
    assert total == pytest.approx(1.0, rel=1e-6)
    assert m2 == pytest.approx(sc.quartic_second_moment(mu, zeta), rel=1e-6)


def test_quartic_density_not_normalisable_beyond_threshold():
    mu = 1.5
    assert np.isnan(sc.quartic_density(np.array([0.5]), mu, sc.quartic_threshold(mu) * 1.01)).all()
    assert np.isfinite(sc.quartic_density(np.array([0.5]), mu, sc.quartic_threshold(mu) * 0.99)).all()
    assert sc.quartic_log_growth(mu, sc.quartic_threshold(mu)) == pytest.approx(0.0, abs=1e-12)


def test_quartic_stationary_second_moment_matches_simulation():
    mu, zeta, R = 1.5, 1.0, 2000
    steps, _ = 10000, None
    rec, th, div = sc.simulate_quartic(np.ones(R), mu, zeta, dt=2e-3, steps=steps, record_every=500, seed=3)
    assert (div < 0).all()
    late = th[rec >= 5000] ** 2  # t >= 10: relaxed (rate ~ 2 mu)
    blocks = late.mean(0)  # per-trajectory time averages: independent across trajectories
    se = blocks.std(ddof=1) / np.sqrt(R)
    assert abs(blocks.mean() - sc.quartic_second_moment(mu, zeta)) < 4 * se + 0.02  # 0.02: EM bias O(dt)


@pytest.mark.parametrize("zeta", [0.5, 2.0, 2.5])
def test_quartic_log_growth_near_zero_matches_ito_drift(zeta):
    mu, R, T, dt = 1.5, 3000, 4.0, 1e-3
    theta0 = np.full(R, 1e-12)
    rec, th, _ = sc.simulate_quartic(theta0, mu, zeta, dt=dt, steps=int(T / dt), record_every=int(T / dt), seed=5)
    mean, se = sc.log_growth_estimate(theta0, th[-1], T)
    assert np.nanmax(np.abs(th[-1])) < 1e-3
    assert abs(mean - sc.quartic_log_growth(mu, zeta)) < 4 * se + 0.03


def test_quartic_divergence_is_recorded_not_raised():
    rec, th, div = sc.simulate_quartic(np.array([1.0, 60.0]), 1.5, 0.1, dt=0.01, steps=512, record_every=256, seed=0)
    assert div[0] == -1 and div[1] > 0
    assert np.isnan(th[-1, 1]) and np.isfinite(th[-1, 0])


def test_negative_noise_is_rejected():
    with pytest.raises(ValueError, match="zeta"):
        sc.simulate_quartic(np.ones(3), 1.5, -1.0, 1e-3, 10, 10, 0)
    with pytest.raises(ValueError, match="eta"):
        sc.neuron_log_growth(np.ones(3), np.ones(3), -0.1, 1.0)


def test_crossing_interpolates():
    assert sc.crossing([0, 1, 2, 3], [0, 0.2, 0.6, 1.0]) == pytest.approx(1.75)
    assert np.isnan(sc.crossing([0, 1], [0.1, 0.2]))


# ---------------------------------------------------------------- single neuron
def test_neuron_noise_free_sde_is_gradient_flow():
    x, y = sc.neuron_data(32, 0.1, 0)
    w0 = np.array([0.3, -0.2])

    def grad_flow(t, w):
        th = np.tanh(w[0] * x)
        r = w[1] * th - y
        return [-np.mean(r * w[1] * x * (1 - th * th)), -np.mean(r * th)]

    ref = integrate.solve_ivp(grad_flow, (0, 5), w0, rtol=1e-10, atol=1e-12).y[:, -1]
    rec, w, _ = sc.simulate_neuron(w0[0], w0[1], x, y, eta=0.0, zeta=1.0, dt=1e-3, steps=5000,
                                   record_every=5000, seed=0)
    np.testing.assert_allclose(w[-1], ref, atol=2e-3)


def test_neuron_growth_rate_near_zero_matches_linearised_formula():
    x, y = sc.neuron_data(32, 0.1, 0)
    eta = np.array([0.5, 1.5, 2.5])[:, None]
    R, T, dt = 1000, 5.0, 2e-3
    w1 = 1e-12 * np.ones((3, R))
    rec, w, _ = sc.simulate_neuron(w1, w1.copy(), x, y, eta, 1.0, dt, int(T / dt), int(T / dt), seed=1)
    u0, uT = 2e-12, w[-1, 0] + w[-1, 1]
    mean, se = sc.log_growth_estimate(np.full_like(uT, u0), uT, T)
    theory = sc.neuron_log_growth(x, y, eta[:, 0], 1.0)
    assert np.all(np.abs(mean - theory) < 4 * se + 0.03)


def test_neuron_threshold_zeroes_growth():
    x, y = sc.neuron_data(32, 0.1, 0)
    thr = sc.neuron_threshold(x, y)
    assert sc.neuron_log_growth(x, y, 2 * thr, 1.0) == pytest.approx(0.0, abs=1e-12)


# ---------------------------------------------------------------- linear teacher-student
def test_mode_theory_solves_mean_field_ode():
    s_star, s0, eta, sigma = np.array([0.3, 0.8, 1.2]), 1.0, 3 / 1024, 10.0
    a = s_star - eta * sigma**2 / 2
    sol = integrate.solve_ivp(lambda t, s: 2 * s * (a - s), (0, 6), np.full(3, s0), t_eval=[0.5, 2, 6],
                              rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(sc.mode_theory(s_star[:, None], s0, eta, sigma, sol.t[None]), sol.y, atol=1e-7)


def test_mode_simulation_without_noise_follows_theory_and_with_noise_its_stationary_mean():
    s_star = np.array([0.1, 0.5, 1.0])
    lr, N = 3.0, 1024
    eta = lr / N
    rec = np.array([0, 500, 1000, 3000, 20000])
    p, div = sc.simulate_modes(s_star, 1.0, lr, N, np.array([0.0, 12.0]), seeds=200, steps=20000,
                               drop_step=20000, drop_factor=1.0, record_steps=rec, seed=0)
    assert not div.any()
    theory = sc.mode_theory(s_star, 1.0, eta, 0.0, rec[:, None] * eta)
    np.testing.assert_allclose(p[:, 0, 0], theory, atol=2e-3)  # sigma = 0: deterministic, O(eta) error
    # sigma = 12: eta sigma^2/2 = 0.211 -> the 0.1 mode collapses, the others relax to s* - 0.211
    final = p[-1, 1]  # (seeds, modes)
    target = sc.mode_stationary_mean(s_star, eta, 12.0)
    se = final.std(0, ddof=1) / np.sqrt(final.shape[0])
    assert final[:, 0].mean() < 0.01
    assert np.all(np.abs(final.mean(0)[1:] - target[1:]) < 4 * se[1:] + 0.01)


def test_mode_losses_match_full_matrices():
    d = sc.linear_teacher(N=128, n=16, m=12, rank=3, s_min=0.5, s_max=1.0, label_noise=0.05, seed=0)
    p = np.random.default_rng(0).random((2, 12))
    train, test = sc.mode_losses(p, d)
    for k in range(2):
        W = (d["U"] * p[k]) @ d["Vh"]
        assert train[k] == pytest.approx(np.sum((d["X"] @ W - d["y"]) ** 2) / (d["var_y"] * 128 * 12), rel=1e-9)
        assert test[k] == pytest.approx(np.mean((W - d["W_star"]) ** 2), rel=1e-9)


# ---------------------------------------------------------------- proxy networks and the metric
def test_independent_fraction_counts_groups_and_drops_vanishing():
    rng = np.random.default_rng(0)
    base = rng.standard_normal((3, 6))
    v = np.concatenate([base[[0, 0, 1, 2, 2, 2]] + 1e-3 * rng.standard_normal((6, 6)),
                        1e-3 * rng.standard_normal((4, 6))])
    frac, groups, vanished = sc.independent_fraction(v[:, :4], v[:, 4], v[:, 5])
    assert (groups, vanished) == (3, 4)
    assert frac == pytest.approx(3 / 10)
    assert sc.independent_fraction(v[:, :4], v[:, 4], -v[:, 5])[1] == 3  # sign flip of a alone: still 3


def test_proxy_member_is_the_same_alone_or_in_ensemble(one_thread):
    d = sc.proxy_teacher(5, 2, 64, 32, 0)
    W, b, a = sc.proxy_init(8, 5, [1, 2, 3])
    lr = np.tile([0.05, 0.1, 0.02], (300, 1))
    out = sc.train_proxy(W, b, a, d["x_train"], d["y_train"], lr_schedule=lr, label_noise=[0.0, 0.5, 1.0],
                         batch=4, steps=300, seeds=[7, 8, 9], chunk=100)
    alone = sc.train_proxy(W[1:2], b[1:2], a[1:2], d["x_train"], d["y_train"], lr_schedule=lr[:, 1:2],
                           label_noise=[0.5], batch=4, steps=300, seeds=[8], chunk=100)
    for full, one in zip(out[:3], alone[:3]):
        np.testing.assert_array_equal(full[1], one[0])


def test_proxy_sgd_reduces_loss_and_flags_divergence(one_thread):
    d = sc.proxy_teacher(5, 2, 64, 256, 0)
    W, b, a = sc.proxy_init(8, 5, [1, 2])
    lr = np.tile([0.05, 50.0], (400, 1))
    W2, b2, a2, div, snaps = sc.train_proxy(W, b, a, d["x_train"], d["y_train"], lr_schedule=lr, label_noise=0.0,
                                            batch=8, steps=400, seeds=[1, 2], snapshots=[200])
    before = np.mean((sc.proxy_forward(W, b, a, d["x_test"])[0] - d["y_test"]) ** 2)
    after = np.mean((sc.proxy_forward(W2, b2, a2, d["x_test"])[0] - d["y_test"]) ** 2)
    assert after < 0.5 * before
    assert div[0] == -1 and div[1] > 0 and np.isnan(a2[1]).all()
    assert set(snaps) == {200}


# ---------------------------------------------------------------- config checks
def test_check_config_flags_large_dt():
    cfg = {"quartic": {"mu": 1.5, "dt": 0.03, "zeta": {"min": 0, "max": 3, "n": 4}, "init_std": 2.0,
                       "times": [10.01], "growth": {"dt": 1e-3}}}
    msgs = sc.check_config(cfg)
    assert any(m.startswith("stochastic_collapse.quartic.dt") for m in msgs)
    assert any(m.startswith("stochastic_collapse.quartic.times") for m in msgs)


@pytest.mark.parametrize("scale", ["quick", "default", "paper"])
def test_shipped_configs_are_valid(root, scale):
    from spdl.config import load_config

    files = [root / "config" / "config.yaml"] + ([root / "config" / f"{scale}.yaml"] if scale != "default" else [])
    cfg = load_config(files, root / "workflow" / "schemas")
    assert sc.check_config(cfg["stochastic_collapse"]) == []

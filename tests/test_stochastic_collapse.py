"""spdl.studies.stochastic_collapse: theory (densities, growth rates, mode dynamics) vs independent numerics."""
import numpy as np
import pytest
import torch
from scipy import integrate

from spdl.studies import stochastic_collapse as sc



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
    assert sc.check_config(cfg["stochastic_collapse"], cfg["data"]) == []  # data-size checks of the deep sweep


# ---------------------------------------------------------------- deep networks (Fig. 4): metric, nets, training
def _pairwise_reference(v, vanish=0.1, identical=0.1):
    """The metric written out directly: drop vanishing rows, then greedy grouping by decreasing norm."""
    norms = np.linalg.norm(v, axis=1)
    reps = []
    for j in np.argsort(-norms, kind="stable"):
        if norms[j] / norms.max() < vanish:
            continue
        if not any(2 * np.sum((v[j] - v[r]) ** 2) / (norms[j] ** 2 + norms[r] ** 2) < identical for r in reps):
            reps.append(j)
    return len(reps)


def test_independent_count_vanishing_duplicates_and_sign():
    a, b = np.array([3.0, 0.0, 4.0, 0.0]), np.array([0.0, 2.0, 0.0, 1.0])
    v = np.stack([a, a * 1.01, b, -a, 0.05 * a, np.zeros(4)])  # duplicate, other, sign flip, 2 vanishing
    frac, groups, vanished = sc.independent_count(v)
    assert (groups, vanished) == (3, 2)  # {a, 1.01 a}, {b}, {-a}; 0.05 a (1% of max) and 0 vanish
    assert frac == pytest.approx(3 / 6)
    # thresholds: 0.05 a is kept at vanish 0.01; a and 1.1 a (distance 2 * 0.01 / 2.21 = 0.009) merge only below 0.009
    assert sc.independent_count(v, vanish=0.04)[1:] == (4, 1)
    assert sc.independent_count(np.stack([a, 1.1 * a]), identical=0.005)[1] == 2
    assert sc.independent_count(np.stack([a, 1.1 * a]), identical=0.01)[1] == 1
    assert sc.independent_count(np.zeros((4, 3)))[1:] == (0, 4)
    assert np.isnan(sc.independent_count(np.array([[1.0, np.nan], [1.0, 2.0]]))[0])


def test_independent_count_matches_direct_pairwise_loop():
    rng = np.random.default_rng(1)
    centres = rng.standard_normal((6, 20))
    v = np.concatenate([centres[rng.integers(0, 6, 40)] + 0.15 * rng.standard_normal((40, 20)),
                        0.05 * rng.standard_normal((8, 20)), rng.standard_normal((12, 20))])
    for ident in (0.02, 0.1, 0.3):
        assert sc.independent_count(v, 0.1, ident)[1] == _pairwise_reference(v, 0.1, ident)


def test_neuron_vectors_conv_and_linear_layout():
    rng = np.random.default_rng(2)
    w_in, b_in, w_out = rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4), rng.standard_normal((5, 4, 3, 3))
    v = sc.neuron_vectors(w_in, b_in, w_out)
    assert v.shape == (4, 27 + 1 + 45)
    np.testing.assert_array_equal(v[2], np.concatenate([w_in[2].ravel(), [b_in[2]], w_out[:, 2].ravel()]))
    fc = rng.standard_normal((7, 4))  # a linear layer reading the 4 channels at 1x1 (VGG's fc14)
    np.testing.assert_array_equal(sc.neuron_vectors(w_in, None, fc)[1], np.concatenate([w_in[1].ravel(), fc[:, 1]]))
    # two channels with the same kernel, bias and outgoing weights count once
    w_in[3], b_in[3], w_out[:, 3] = w_in[0], b_in[0], w_out[:, 0]
    assert sc.independent_count(sc.neuron_vectors(w_in, b_in, w_out))[1] == 3


@pytest.mark.parametrize("arch, n_layers, n_params", [("vgg16", 15, 15_245_130), ("resnet18", 17, 11_173_962)])
def test_convnets_forward_shapes_and_layers(one_thread, arch, n_layers, n_params):
    model = sc.build_model(arch, seed=0)
    assert sum(p.numel() for p in model.parameters()) == n_params
    out = model(torch.zeros(2, 3, 32, 32))
    assert out.shape == (2, 10)
    layers = sc.network_layers(model)
    assert len(layers) == n_layers
    assert layers[0][1].shape[:2] == (64, 3) and layers[-1][3].shape == (10, 512)
    lf = sc.layer_fractions(layers)
    assert (lf["fraction"] == 1).all() and (lf["vanished"] == 0).all()  # random init: every neuron independent
    again = sc.build_model(arch, seed=0)
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), again.parameters()))


def test_label_noise_is_drawn_afresh_at_every_draw():
    d = sc.LabelNoiseDraws(4, 4, [0.0, 0.5], batch_seeds=[1, 1], noise_seeds=[2, 2])
    draws = [d.next() for _ in range(200)]
    idx = [x[0] for x in draws]
    noise = torch.stack([x[1] for x in draws])  # (steps, E, B, C)
    assert (noise[:, 0] == 0).all()  # sigma 0: no noise
    assert all(torch.equal(i[0], i[1]) for i in idx)  # the same batches whatever sigma
    # every step sees every sample (batch = n) with new noise: no two steps share a sample's noise
    by_sample = torch.stack([noise[k, 1][torch.argsort(idx[k][1])] for k in range(200)])  # (steps, n, C)
    assert not torch.isclose(by_sample[1:], by_sample[:-1]).all(-1).any()
    assert by_sample.std().item() == pytest.approx(0.5, rel=0.05)
    assert abs(by_sample.mean().item()) < 0.03
    targets = sc.noisy_targets(torch.tensor([2, 0]), torch.zeros(2, 3))
    np.testing.assert_array_equal(targets.numpy(), [[0, 0, 1], [1, 0, 0]])


def test_soft_cross_entropy_is_the_authors_loss():
    g = torch.Generator().manual_seed(0)
    logits, labels = torch.randn(6, 10, generator=g), torch.randint(0, 10, (6,), generator=g)
    clean = sc.noisy_targets(labels, torch.zeros(6, 10))
    assert sc.soft_cross_entropy(logits, clean).item() == pytest.approx(
        torch.nn.functional.cross_entropy(logits, labels).item(), rel=1e-6)
    T = sc.noisy_targets(labels, 0.5 * torch.randn(6, 10, generator=g))
    ce = -(T * torch.log_softmax(logits, -1)).sum()
    assert sc.soft_cross_entropy(logits, T).item() == pytest.approx((ce / T.sum()).item(), rel=1e-6)
    assert sc.soft_cross_entropy(logits, T, target_mass_norm=False).item() == pytest.approx((ce / 6).item(), rel=1e-6)


def test_mlp_member_equals_network_trained_alone_with_torch_sgd(one_thread):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((40, 6)), rng.integers(0, 10, 40)
    widths, kw = (6, 8, 5, 10), dict(batch=8, steps=30, momentum=0.9, weight_decay=5e-3, warmup_steps=5)
    params = [p.double() for p in sc.mlp_init(widths, [11, 12, 13])]
    out = sc.train_mlp_ensemble(params, x, y, lr=[0.05, 0.2, 0.1], label_noise=[0.0, 0.3, 0.2],
                                batch_seeds=[1, 2, 3], noise_seeds=[4, 5, 6], **kw)
    assert (out["diverged_step"] == -1).all()
    model = sc.build_model("mlp", 12, widths=widths).double()
    for l, fc in enumerate(model.fcs):  # the same initial network
        assert torch.equal(fc.weight, sc.mlp_init(widths, [12])[2 * l][0].double())
    alone = sc.train_network(model, x, y, lr=0.2, label_noise=0.3, seeds={"batch": 2, "noise": 5}, **kw)
    assert alone["diverged_step"][0] == -1
    for l, fc in enumerate(model.fcs):
        np.testing.assert_allclose(fc.weight.detach().numpy(), params[2 * l][1].numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(fc.bias.detach().numpy(), params[2 * l + 1][1].numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(alone["loss_curve"][:, 0], out["loss_curve"][:, 1], rtol=1e-10)
    # a member trained alone in the batched loop is the same network (same draws)
    solo = [p.double() for p in sc.mlp_init(widths, [12])]
    sc.train_mlp_ensemble(solo, x, y, lr=[0.2], label_noise=[0.3], batch_seeds=[2], noise_seeds=[5], **kw)
    for p, q in zip(solo, params):
        torch.testing.assert_close(p[0], q[1], rtol=1e-10, atol=1e-12)  # batched matmuls: rounding only


def test_deep_training_flags_divergence_and_learns(one_thread):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((64, 5)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    params = sc.mlp_init((5, 16, 10), [1, 1])
    out = sc.train_mlp_ensemble(params, x, y, lr=[0.1, 1e4], label_noise=0.0, batch_seeds=[1, 1], noise_seeds=[2, 2],
                                batch=16, steps=200, n_records=4)
    assert out["diverged_step"][0] == -1 and out["diverged_step"][1] >= 0
    assert torch.isnan(params[0][1]).all() and np.isnan(out["loss_curve"][-1, 1])
    acc, _ = sc.evaluate(lambda c: sc.mlp_forward(params, c), torch.as_tensor(x), torch.as_tensor(y))
    assert acc[0] > 0.9 and np.isnan(acc[1])
    model = sc.build_model("mlp", 1, widths=(5, 16, 10))
    res = sc.train_network(model, x, y, lr=1e4, label_noise=0.0, seeds={"batch": 1, "noise": 2}, batch=16, steps=200,
                           n_records=4)
    assert res["diverged_step"][0] >= 0 and all(torch.isnan(p).all() for p in model.parameters())


def test_augment_batch_crops_and_flips():
    x = torch.arange(2 * 3 * 4 * 4, dtype=torch.float32).reshape(2, 3, 4, 4)
    same = sc.augment_batch(x, torch.tensor([[4, 4], [4, 4]]), torch.tensor([False, True]))
    assert torch.equal(same[0], x[0]) and torch.equal(same[1], x[1].flip(-1))
    shifted = sc.augment_batch(x, torch.tensor([[0, 0], [8, 8]]), torch.tensor([False, False]))
    fill = -torch.tensor(sc.CIFAR10_MEAN) / torch.tensor(sc.CIFAR10_STD)
    assert torch.allclose(shifted[0, :, 0, 0], fill) and torch.equal(shifted[1, :, 3, 3], fill)  # all padding
    out = sc.augment_batch(x, torch.tensor([[2, 3], [4, 4]]), torch.tensor([False, False]))
    assert torch.equal(out[0, :, 2:, 1:], x[0, :, :2, :3])  # shifted down 2, right 1


def test_deep_inputs_pool_and_normalise():
    x = np.random.default_rng(0).random((3, 784)).astype(np.float32)
    pooled = sc.deep_inputs(x, "mnist5k", "mlp", 2)
    assert pooled.shape == (3, 196)
    assert pooled[1, 0] == pytest.approx(x[1].reshape(28, 28)[:2, :2].mean(), rel=1e-6)
    c = np.full((2, 3 * 32 * 32), 0.5, np.float32)
    img = sc.deep_inputs(c, "cifar10", "vgg16")
    assert img.shape == (2, 3, 32, 32)
    assert img[0, 1, 5, 5] == pytest.approx((0.5 - sc.CIFAR10_MEAN[1]) / sc.CIFAR10_STD[1], rel=1e-6)


def _deep_cfg(**over):
    d = {"arch": "mlp", "dataset": "mnist5k", "mlp": {"widths": [8], "activation": "gelu", "downsample": 2},
         "lr": [0.1, 0.2], "label_noise": [0.0, 0.5, 1.0], "seeds": 2, "seed": 0, "batch": 32, "steps": 100,
         "momentum": 0.9, "weight_decay": 0.0, "warmup_steps": 10, "augment": False, "target_mass_norm": True,
         "n_records": 5, "members_per_job": 5}
    d.update(over)
    return d


def test_deep_members_and_jobs():
    members = sc.deep_members(_deep_cfg(arch=["mlp", "vgg16"]))
    assert len(members) == 2 * 2 * 3 * 2
    jobs = sc.deep_jobs(_deep_cfg(arch=["mlp", "vgg16"]))
    assert jobs == [f"mlp_{k}" for k in range(3)] + [f"vgg16_{k}" for k in range(3)]  # 12 per arch, 5 per job
    assert all(m["job"].startswith(m["arch"] + "_") for m in members)
    assert {(m["i"], m["j"], m["r"]) for m in members if m["arch"] == "vgg16"} == {
        (i, j, r) for i in range(2) for j in range(3) for r in range(2)}
    s0, s1 = sc.deep_seeds(_deep_cfg(), "mlp", 0), sc.deep_seeds(_deep_cfg(), "mlp", 1)
    assert len(set(s0.values()) | set(s1.values())) == 8


@pytest.mark.parametrize("over, key", [
    ({"arch": "vgg16"}, "deep.arch"),
    ({"arch": ["resnet18", "mlp"], "dataset": "mnist"}, "deep.arch"),
    ({"mlp": {"widths": [8], "activation": "gelu", "downsample": 3}}, "deep.mlp.downsample"),
    ({"dataset": "mnist1d"}, "deep.mlp.downsample"),
    ({"augment": True}, "deep.augment"),
    ({"warmup_steps": 101}, "deep.warmup_steps"),
    ({"n_records": 101}, "deep.n_records"),
    ({"batch": 4001}, "deep.batch"),
])
def test_check_deep_flags_bad_settings(over, key):
    data = {"mnist5k": {"test_fraction": 0.2, "split_seed": 0}, "mnist": {"path": None}, "cifar10": {"path": None}}
    msgs = sc.check_deep(_deep_cfg(**over), data)
    assert any(m.startswith(f"stochastic_collapse.{key}") for m in msgs), msgs


def test_check_deep_data_paths(tmp_path):
    cfg = _deep_cfg(arch="vgg16", dataset="cifar10", augment=True)
    assert sc.check_deep(cfg, {"cifar10": {"path": None}}) == []  # null: the data job names the key
    assert sc.check_deep(cfg, {"cifar10": {"path": str(tmp_path)}}) == []
    msgs = sc.check_deep(cfg, {"cifar10": {"path": str(tmp_path / "absent")}})
    assert len(msgs) == 1 and msgs[0].startswith("stochastic_collapse.deep.dataset")

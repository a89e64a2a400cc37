"""spdl.sgd_noise_flatness: flatness, PCA, exponent fit, temperatures, and the valley theory vs simulation."""
import math

import numpy as np
import pytest
import torch

from spdl.studies import sgd_noise_flatness as snf
from spdl.engine import full_loss, train
from spdl.hessian import network_layer_hessian
from spdl.models import MLP, init_params



def test_flatness_of_quadratic_profiles_is_analytic():
    a = torch.tensor([0.5, 2.0, 50.0], dtype=torch.float64)
    L0 = 1e-3
    F, l0 = snf.flatness(lambda d: L0 + 0.5 * a * d**2, 3)
    expected = 2 * torch.sqrt(2 * (math.e - 1) * L0 / a)
    assert torch.allclose(l0, torch.full((3,), L0, dtype=torch.float64))
    assert torch.allclose(F, expected, rtol=1e-3)  # 14 bisections of the first bracket [0, 0.1]


def test_flatness_of_asymmetric_profile_and_no_crossing():
    # L = L0 exp(d) on d > 0 crosses e L0 at d = 1; flat for d < 0 up to d_max -> inf width
    F, _ = snf.flatness(lambda d: 1e-3 * torch.exp(torch.clamp(d, min=0.0)), 1, d_max=50.0)
    assert torch.isinf(F).all()
    F, _ = snf.flatness(lambda d: 1e-3 * torch.exp(d.abs() * torch.where(d > 0, 1.0, 0.5)), 1)
    assert F.item() == pytest.approx(1.0 + 2.0, rel=1e-4)


def test_pca_recovers_known_covariance(one_thread):
    gen = torch.Generator().manual_seed(0)
    sd = torch.tensor([10.0, 5.0, 3.0, 2.0, 1.0] + [0.1] * 45, dtype=torch.float64)
    q, _ = torch.linalg.qr(torch.randn(50, 50, generator=gen, dtype=torch.float64))
    x = (torch.randn(20000, 50, generator=gen, dtype=torch.float64) * sd) @ q.T + 3.0
    mean, var, comps, total = snf.pca(x, 5)
    assert torch.allclose(var, sd[:5] ** 2, rtol=0.05)
    assert torch.allclose((comps @ q[:, :5]).abs().diagonal(), torch.ones(5, dtype=torch.float64), atol=0.02)
    assert total == pytest.approx(float((sd**2).sum()), rel=0.03)
    assert torch.allclose(mean, torch.full((50,), 3.0, dtype=torch.float64), atol=0.1)


def test_pca_matches_numpy_svd_on_a_small_trajectory():
    """sklearn's randomized PCA vs numpy's exact SVD of the centred data: variances, components (up to
    the sign convention: along the mean), total variance; a random walk has a slowly decaying spectrum."""
    rng = np.random.default_rng(5)
    traj = np.cumsum(rng.standard_normal((300, 60)), 0) + 2.0
    mean, var, comps, total = snf.pca(torch.tensor(traj), 12)
    x = traj - traj.mean(0)
    _, s, vt = np.linalg.svd(x, full_matrices=False)
    np.testing.assert_allclose(var.numpy(), s[:12] ** 2 / (len(x) - 1), rtol=1e-8)
    np.testing.assert_allclose(np.abs(np.sum(comps.numpy() * vt[:12], 1)), 1.0, atol=1e-6)
    assert (comps.numpy() @ traj.mean(0) >= 0).all()
    assert total == pytest.approx(np.sum(s**2) / (len(x) - 1), rel=1e-12)
    np.testing.assert_allclose(mean.numpy(), traj.mean(0), atol=1e-12)


def test_fit_exponent_recovers_known_psi():
    rng = np.random.default_rng(1)
    F = np.geomspace(0.1, 10, 80)
    var = 3.0 * F**-4.0 * np.exp(0.1 * rng.standard_normal(80))
    psi, amp = snf.fit_exponent(np.r_[F, np.inf], np.r_[var, 1.0])  # non-finite entries are ignored
    assert psi == pytest.approx(4.0, abs=0.05)
    assert amp == pytest.approx(np.log(3.0), abs=0.05)


def test_curvature_of_quadratic_profiles_is_exact():
    a = torch.tensor([0.5, 2.0, 50.0], dtype=torch.float64)
    h = snf.curvature_along(lambda d: 1e-4 + 0.5 * a * d**2 + 0.1 * d, torch.tensor([1e-3, 0.1, 2.0]))
    assert torch.allclose(h, a, rtol=1e-9)


def _tiny_problem(seed=0, n=80):
    arch = MLP((6, 5, 4, 3), activation="relu", bias=False)
    gen = torch.Generator().manual_seed(seed)
    return arch, torch.randn(n, 6, generator=gen), torch.randint(0, 3, (n,), generator=gen)


def test_layer_langevin_is_gd_at_zero_temperature_and_members_are_independent(one_thread):
    arch, X, Y = _tiny_problem()
    params = init_params(arch, [0, 1])
    run = snf.layer_langevin(arch, params, 1, X, Y, lr=[0.3, 0.3], temp=[0.0, 0.0], burnin=0, steps=1,
                             record_every=1, seeds=[0, 1])
    for e in range(2):  # one GD step on layer 1, gradient by autograd of the network's mean cross-entropy
        W = params[1][e].clone().requires_grad_(True)
        z = torch.relu(torch.relu(X @ params[0][e].T) @ W.T) @ params[2][e].T
        (g,) = torch.autograd.grad(torch.nn.functional.cross_entropy(z, Y), W)
        assert torch.allclose(run["traj"][e, 0], (params[1][e] - 0.3 * g).flatten(), atol=1e-6)
    kw = dict(burnin=5, steps=20, record_every=5)
    both = snf.layer_langevin(arch, params, 1, X, Y, lr=[0.3, 0.1], temp=[1e-3, 2e-3], seeds=[7, 8], **kw)
    alone = snf.layer_langevin(arch, [p[1:2] for p in params], 1, X, Y, lr=[0.1], temp=[2e-3], seeds=[8], **kw)
    assert torch.allclose(both["traj"][1], alone["traj"][0], atol=1e-6)  # member 1 does not depend on member 0
    assert both["traj"].shape == (2, 4, 20) and not both["diverged"].any()


def test_layer_top_curvature_matches_the_exact_layer_hessian(one_thread):
    """lambda_max that sets the control's step (ARPACK on Hessian-vector products) vs the largest
    eigenvalue of the exact layer Hessian of spdl.hessian."""
    arch, X, Y = _tiny_problem(n=200)
    params = init_params(arch, [3])
    lam = snf.layer_top_curvature(arch, [p[0] for p in params], 1, X, Y)
    H = network_layer_hessian(arch, params, X, Y, "cross_entropy", 1, dtype=torch.float64)
    assert lam == pytest.approx(float(torch.linalg.eigvalsh(H)[-1]), rel=1e-3)


def test_control_fit_recovers_the_einstein_relation_and_drops_slow_directions():
    rng = np.random.default_rng(3)
    h = np.geomspace(1e-3, 1.0, 60)
    F = 2 * np.sqrt(2 * (math.e - 1) * 1e-4 / h)  # quadratic profiles
    var = 1e-6 / h * np.exp(0.05 * rng.standard_normal(60))  # T / h with 5% noise
    relax = 1 / (0.5 * h)
    ok, psi, p = snf.control_fit(var, F, relax, window=2000)
    assert ok.sum() == (relax <= 200).sum() and not ok[0]
    assert psi == pytest.approx(-2.0, abs=0.1) and p < 1e-6
    ok, psi, p = snf.control_fit(var, F, np.full(60, np.inf), window=2000)
    assert not ok.any() and np.isnan(psi) and np.isnan(p)


def test_langevin_noise_temperature_measured_equals_set(one_thread):
    """Engine noise sqrt(2 lr T) with zero gradient (zero inputs): every direction has T_i = T."""
    arch = MLP((3, 10, 10, 2), activation="relu", bias=False)
    params = init_params(arch, [0, 1])
    X, Y = torch.zeros(10, 3), torch.zeros(10, dtype=torch.int64)
    lr, T, steps = 0.1, 1e-4, 800
    rec = snf.WindowRecorder(params, 1, steps)
    train(arch, params, X, Y, steps=steps, lr=lr, loss="cross_entropy", noise_std=math.sqrt(2 * lr * T), observe=rec)
    assert snf.mean_temperature(rec.traj[0], lr) == pytest.approx(T, rel=0.02)
    comps, _ = torch.linalg.qr(torch.randn(100, 10, generator=torch.Generator().manual_seed(0), dtype=torch.float64))
    temp = snf.noise_temperature(snf.project(rec.traj[1], rec.traj[1].double().mean(0), comps.T), lr)
    assert torch.allclose(temp, torch.full_like(temp, T), rtol=0.2)  # 800 steps: sampling error ~5%


def test_layer_loss_matches_engine_full_loss(one_thread):
    arch = MLP((6, 5, 4, 3), activation="relu", bias=False)
    params = init_params(arch, [3])
    gen = torch.Generator().manual_seed(0)
    X, Y = torch.randn(40, 6, generator=gen), torch.randint(0, 3, (40,), generator=gen)
    W = params[1][0] + 0.3 * torch.randn(2, 4, 5, generator=gen)
    got = snf.layer_loss_fn(arch, [p[0] for p in params], 1, X, Y, chunk=16)(W)
    for k in range(2):
        ref = full_loss(arch, [params[0], W[k:k + 1], params[2]], X, Y, "cross_entropy")
        assert got[k].item() == pytest.approx(ref.item(), rel=1e-5)


def test_layer_loss_in_blocks_is_one_block(one_thread):
    """Candidates evaluated a few at a time (cache-sized blocks) give the losses of all at once (up to the
    float32 rounding of the products, which may take another kernel at another size)."""
    arch = MLP((6, 5, 4, 3), activation="relu", bias=False)
    params = [p[0] for p in init_params(arch, [3])]
    gen = torch.Generator().manual_seed(1)
    X, Y = torch.randn(40, 6, generator=gen), torch.randint(0, 3, (40,), generator=gen)
    W = params[1] + 0.3 * torch.randn(9, 4, 5, generator=gen)
    whole = snf.layer_loss_fn(arch, params, 1, X, Y, chunk=16, block=10**9)(W)
    for block in (1, 16 * 4 * 2, 16 * 4 * 4):  # 1, 2 and 4 candidates at a time (the last block is short)
        torch.testing.assert_close(snf.layer_loss_fn(arch, params, 1, X, Y, chunk=16, block=block)(W), whole,
                                   rtol=1e-6, atol=0)


def test_valley_geometry():
    delta = np.array([-3.0, 0.0, 0.5, 4.0])
    w1, w2 = snf.valley_point(delta, 1.5)
    assert np.allclose(w1 * w2, 1.5) and np.allclose(w1**2 - w2**2, delta)
    assert np.allclose(snf.curvature(delta, 1.5), w1**2 + w2**2)


def test_stationary_density_matches_long_simulation():
    """Fokker-Planck law of delta vs an independent simulation of SGD + isotropic noise."""
    c, lr, B, sigma, T = 1.0, 0.1, 10, 1.0, 1e-3
    w1, w2 = snf.valley_point(np.zeros(400), c)
    r = snf.simulate_valley(w1, w2, lr=lr, batch=B, sigma=sigma, c=c, temp=T, steps=6000, seed=7, record_every=500)
    x = (r["w1"] ** 2 - r["w2"] ** 2)[6:].ravel()
    grid = np.linspace(-10, 10, 4001)
    cdf = np.cumsum(snf.stationary_density(grid, c, lr, B, sigma, T)) * (grid[1] - grid[0])
    ks = np.max(np.abs(np.searchsorted(np.sort(x), grid) / len(x) - cdf))
    assert ks < 1.63 / np.sqrt(400) + 0.02


def test_sgd_contracts_delta_at_predicted_rate_and_isotropic_diffuses():
    c, lr, B, sigma, d0 = 1.0, 0.2, 5, 1.0, 3.0
    w1, w2 = snf.valley_point(np.full(300, d0), c)
    d_f = 1.0
    t_th = snf.flat_time(d0, d_f, c, lr, B, sigma)
    r = snf.simulate_valley(w1, w2, lr=lr, batch=B, sigma=sigma, c=c, temp=0.0, steps=int(3 * t_th), seed=3)
    t = snf.first_passage(r["steps"], np.abs(r["w1"] ** 2 - r["w2"] ** 2), d_f)
    assert np.nanmedian(t) == pytest.approx(t_th, rel=0.1)
    iso = snf.simulate_valley(w1, w2, lr=lr, batch=np.inf, sigma=sigma, c=c, temp=1e-3, steps=int(t_th), seed=4)
    delta = iso["w1"][-1] ** 2 - iso["w2"][-1] ** 2
    assert abs(np.mean(delta) - d0) < 4 * np.std(delta) / np.sqrt(len(delta))  # no drift along the valley


def test_critical_lr_limits():
    th = snf.critical_lr(2.0, 10)
    assert th["mean_square"] == pytest.approx(2 / (2.0 * 1.2))
    assert th["mean_square"] < th["lyapunov"]
    assert snf.lyapunov(2.0 * th["lyapunov"], 10) == pytest.approx(0.0, abs=1e-6)
    big = snf.critical_lr(2.0, 100000)  # no minibatch noise: GD's 2 / lambda
    assert big["lyapunov"] == pytest.approx(1.0, rel=0.02) and big["mean_square"] == pytest.approx(1.0, rel=1e-3)


def test_crossing_and_seed_interval():
    assert snf.crossing([1, 2, 3], [0.0, 0.25, 0.75]) == pytest.approx(2.5)
    assert np.isnan(snf.crossing([1, 2], [0.0, 0.1]))
    m, lo, hi = snf.seed_interval([1.0, 2.0, 3.0])
    assert m == 2.0 and lo < 2.0 < hi

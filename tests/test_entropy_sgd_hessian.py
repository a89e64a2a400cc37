"""spdl.studies.entropy_sgd_hessian: local entropy (quadrature vs viscous HJ), quadratic closed forms vs
SGLD, Entropy-SGD reductions (L = 0 is SGD), ensemble vs one-by-one, spectrum summaries, config checks."""
import numpy as np
import pytest
import torch

from spdl.engine import train
from spdl.models import MLP, init_params
from spdl.studies import entropy_sgd_hessian as esh
from spdl.studies.entropy_sgd_hessian_checks import check_config


@pytest.fixture(autouse=True)
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


WIDE = {"center": -1.0, "width": 0.4, "depth": 3.0}
SHARP = {"center": 1.0, "width": 0.03, "depth": 5.5}


def _cartoon(n=1001):
    x = np.linspace(-3.5, 3.5, n)
    return x, esh.cartoon_landscape(x, confine=2.0, wide=WIDE, sharp=SHARP,
                                    ripple=[{"amplitude": 0.1, "frequency": 9.0, "phase": 0.3}])


def test_quadrature_of_quadratic_is_exact():
    # f = a x^2 / 2: -F = gamma a x^2 / (2 (a + gamma)) + 1/2 log((a + gamma) / 2 pi)
    x = np.linspace(-8, 8, 3201)
    a, gamma = 2.0, 3.0
    q = esh.neg_local_entropy_quadrature(x, 0.5 * a * x**2, gamma)
    exact = gamma * a * x**2 / (2 * (a + gamma)) + 0.5 * np.log((a + gamma) / (2 * np.pi))
    inner = np.abs(x) < 3
    np.testing.assert_allclose(q[inner], exact[inner], atol=1e-8)


@pytest.mark.parametrize("gamma", [100.0, 10.0])
def test_cole_hopf_and_direct_hj_match_quadrature(gamma):
    x, f = _cartoon()
    q = esh.neg_local_entropy_quadrature(x, f, gamma)
    inner = np.abs(x) <= 2.5
    span = np.ptp(q[inner])
    for solver in (esh.viscous_hj_cole_hopf, esh.viscous_hj_direct):
        u = esh.hj_to_neg_local_entropy(solver(x, f, 1.0 / gamma), gamma)
        assert np.abs(u - q)[inner].max() < 2e-3 * span


def test_cartoon_wide_valley_wins_at_small_gamma():
    x, f = _cartoon()
    assert abs(x[f.argmin()] - SHARP["center"]) < 2 * SHARP["width"]
    assert abs(x[esh.neg_local_entropy_quadrature(x, f, 100.0).argmin()] - SHARP["center"]) < 0.1
    assert abs(x[esh.neg_local_entropy_quadrature(x, f, 10.0).argmin()] - WIDE["center"]) < 2 * WIDE["width"]


def test_quadratic_closed_forms():
    A, a, Q = esh.random_spd(6, 0.1, 10.0, seed=3)
    assert np.allclose(np.linalg.eigvalsh(A), a)
    gamma, x = 0.7, np.arange(6.0)
    H = esh.quadratic_entropy_hessian(A, gamma)
    assert np.allclose(np.linalg.eigvalsh((H + H.T) / 2), gamma * a / (a + gamma))
    # -grad F = gamma (x - <x'>) is linear in x with Jacobian H
    assert np.allclose(gamma * (x - esh.quadratic_mean(A, x, gamma)), H @ x)


@pytest.mark.parametrize("eps", [np.sqrt(2.0), 0.3])
def test_sgld_mean_matches_closed_form(eps):
    """The stationary mean of the SGLD chain is (A + gamma I)^-1 gamma x at any temperature."""
    A, _, _ = esh.random_spd(5, 0.5, 4.0, seed=1)
    x0 = np.array([1.0, -2.0, 0.5, 3.0, -1.0])
    C, gamma = 32, 1.0
    At = torch.tensor(A)
    x = [torch.tensor(x0).expand(C, 5).clone()]
    mu, _ = esh.sgld_chain(x, lambda p: [p[0] @ At], gamma=gamma, eta_prime=0.1, eps=eps, steps=800, alpha=0.0,
                           variant="paper", gens=esh.noise_generators(range(C)), burn_in=200, average="uniform")
    est = mu[0].numpy()
    se = est.std(0, ddof=1) / np.sqrt(C)
    z = (est.mean(0) - esh.quadratic_mean(A, x0, gamma)) / se
    assert np.all(np.abs(z) < 4.5)


def test_noise_free_chain_converges_to_proximal_point():
    A, _, _ = esh.random_spd(4, 0.5, 2.0, seed=2)
    x0 = np.ones(4)
    mu, xp = esh.sgld_chain([torch.tensor(x0)[None]], lambda p: [p[0] @ torch.tensor(A)], gamma=2.0,
                            eta_prime=0.2, eps=0.0, steps=300, alpha=0.75, variant="code", gens=esh.noise_generators([0]))
    assert np.allclose(xp[0][0].numpy(), esh.quadratic_mean(A, x0, 2.0), atol=1e-10)
    assert np.allclose(mu[0][0].numpy(), xp[0][0].numpy(), atol=1e-8)


def _toy(seed=0):
    g = torch.Generator().manual_seed(seed)
    X, Xt = torch.randn(60, 6, generator=g), torch.randn(30, 6, generator=g)
    Y, Yt = torch.randint(0, 3, (60,), generator=g), torch.randint(0, 3, (30,), generator=g)
    return MLP((6, 5, 3), bias=True), {"x_train": X, "y_train": Y, "x_test": Xt, "y_test": Yt}


ESGD = {"L": 0, "gamma0": 0.1, "gamma1": 0.0, "eta_prime": 0.1, "eps": 1e-3, "alpha": 0.25, "variant": "code"}


def test_entropy_sgd_with_l0_is_sgd():
    arch, data = _toy()
    p = init_params(arch, [0, 1, 2])
    lr = [0.1, 0.2, 0.05]
    r = esh.train_ensemble(arch, p, data, method="entropy_sgd", epochs=3, batch_size=10, seeds=[5, 6, 7], lr=lr,
                           esgd=ESGD, record_epochs=[0, 3])
    s = esh.train_ensemble(arch, p, data, method="sgd", epochs=3, batch_size=10, seeds=[5, 6, 7], lr=lr,
                           record_epochs=[0, 3])
    e = train(arch, p, data["x_train"], data["y_train"], steps=18, lr=lr, batch_size=10, loss="cross_entropy",
              seeds=[5, 6, 7])
    assert r["steps"] == s["steps"] == 18
    for a, b, c in zip(r["params"], s["params"], e.params):
        assert torch.equal(a, b)
        assert torch.allclose(a, c, atol=1e-6)
    # the paper's algorithm with L = 0 does not move
    z = esh.train_ensemble(arch, p, data, method="entropy_sgd", epochs=1, batch_size=10, seeds=[5, 6, 7], lr=1.0,
                           esgd={**ESGD, "variant": "paper"})
    assert all(torch.equal(a, b) for a, b in zip(z["params"], p))


@pytest.mark.parametrize("method", ["entropy_sgd", "adam"])
def test_ensemble_equals_members_one_by_one(method):
    arch, data = _toy(1)
    seeds, lr = [3, 4], [0.5, 0.8] if method == "entropy_sgd" else [1e-2, 3e-3]
    kw = dict(method=method, epochs=2, batch_size=12, adam={"beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
              esgd={"L": 3, "gamma0": [0.05, 0.1], "gamma1": 1e-3, "eta_prime": 0.1, "eps": 1e-2, "alpha": 0.75,
                    "variant": "paper"}, lr_milestones=[1], record_epochs=[0, 1, 2])
    p = init_params(arch, seeds)
    r = esh.train_ensemble(arch, p, data, seeds=seeds, lr=lr, **kw)
    for e in range(2):
        one = dict(kw)
        if method == "entropy_sgd":
            one["esgd"] = {**kw["esgd"], "gamma0": kw["esgd"]["gamma0"][e]}
        s = esh.train_ensemble(arch, [q[e:e + 1] for q in p], data, seeds=seeds[e:e + 1], lr=lr[e], **one)
        for a, b in zip(r["params"], s["params"]):
            assert torch.allclose(a[e], b[0], atol=1e-6)
        assert np.allclose(r["history"]["train_loss"][:, e], s["history"]["train_loss"][:, 0], atol=1e-6)


def test_effective_epochs_are_matched():
    arch, data = _toy()
    p = init_params(arch, [0])
    r = esh.train_ensemble(arch, p, data, method="entropy_sgd", epochs=4, batch_size=10, seeds=[0], lr=1.0,
                           esgd={**ESGD, "L": 3, "variant": "paper"}, record_epochs=[0, 2, 4])
    assert r["steps"] == 24 // 3 and r["grads_per_step"] == 3
    assert esh.grads_per_step("entropy_sgd", 3, "code") == 4 and esh.grads_per_step("sgd", 3, "code") == 1
    assert np.isfinite(r["history"]["test_err"]).all()


def test_divergence_is_recorded_not_raised():
    arch, data = _toy()
    p = init_params(arch, [0, 1])
    r = esh.train_ensemble(arch, p, data, method="sgd", epochs=2, batch_size=10, seeds=[0, 1], lr=[0.1, 1e30],
                           record_epochs=[0, 2])
    assert r["diverged"].tolist() == [False, True]
    assert np.isnan(r["history"]["train_loss"][-1, 1]) and np.isfinite(r["history"]["train_loss"][-1, 0])


class _Interrupt(Exception):
    pass


class _StopAtFirstCheckpoint:
    """A log whose first write (made right after a checkpoint is saved) interrupts training."""

    def write(self, text):
        raise _Interrupt

    def flush(self):
        pass


def test_checkpoint_resume_is_bitwise(tmp_path):
    arch, data = _toy()
    p = init_params(arch, [0, 1])
    kw = dict(method="entropy_sgd", epochs=3, batch_size=10, seeds=[0, 1], lr=1.0, record_epochs=[0, 1, 2, 3],
              keep_epochs=[2], esgd={**ESGD, "L": 2, "eps": 1e-2, "variant": "paper"})
    ref = esh.train_ensemble(arch, p, data, **kw)
    ck = tmp_path / "ck.pt"
    with pytest.raises(_Interrupt):
        esh.train_ensemble(arch, p, data, checkpoint=str(ck), log=_StopAtFirstCheckpoint(), **kw)
    assert ck.exists()
    out = esh.train_ensemble(arch, p, data, checkpoint=str(ck), **kw)
    assert not ck.exists()
    assert all(torch.equal(a, b) for a, b in zip(ref["params"], out["params"]))
    assert all(torch.equal(a, b) for a, b in zip(ref["kept"][2], out["kept"][2]))
    np.testing.assert_array_equal(ref["history"]["test_err"], out["history"]["test_err"])


def test_downsample_and_spectrum_summary():
    x = np.arange(16, dtype=np.float32).reshape(1, 16)
    assert np.allclose(esh.downsample(x, side=4, factor=2), [[2.5, 4.5, 10.5, 12.5]])
    s = esh.spectrum_summary(np.array([-0.5, -1e-6, 0.0, 1e-5, 2e-3, 10.0]))
    assert s["lambda_max"] == 10.0 and s["lambda_min"] == -0.5 and s["ratio"] == 20.0
    assert s["frac_negative"] == pytest.approx(2 / 6)
    assert s["frac_rel_0.001"] == pytest.approx(4 / 6)  # |lambda| < 0.01
    assert s["frac_abs_0.0001"] == pytest.approx(3 / 6)


def test_bad_input():
    arch, data = _toy()
    p = init_params(arch, [0])
    with pytest.raises(ValueError):
        esh.train_ensemble(arch, p, data, method="lbfgs", epochs=1, batch_size=10, seeds=[0], lr=0.1)
    with pytest.raises(ValueError):
        esh.BatchStream(10, 20, [0])
    with pytest.raises(ValueError):
        esh.sgld_chain([torch.zeros(1, 2)], lambda q: q, gamma=1.0, eta_prime=0.1, eps=0.0, steps=1, alpha=0.5,
                       variant="released", gens=[])


def test_check_config_accepts_the_configs_and_names_bad_keys(root):
    import copy

    import yaml

    from spdl.config import merge

    base = yaml.safe_load((root / "config" / "config.yaml").read_text())
    for scale in ("quick", "paper"):
        cfg = merge(copy.deepcopy(base), yaml.safe_load((root / "config" / f"{scale}.yaml").read_text()))
        assert check_config(cfg["entropy_sgd_hessian"]) == []
    sec = copy.deepcopy(base["entropy_sgd_hessian"])
    sec["cartoon"]["n_grid"] = 101
    sec["quadratic"]["burn_in"] = sec["quadratic"]["steps"]
    sec["spectrum"]["snapshots"] = [sec["spectrum"]["epochs"] + 1]
    msgs = check_config(sec)
    assert any(m.startswith("entropy_sgd_hessian.cartoon.n_grid") for m in msgs)
    assert any(m.startswith("entropy_sgd_hessian.quadratic.burn_in") for m in msgs)
    assert any(m.startswith("entropy_sgd_hessian.spectrum.snapshots") for m in msgs)


def test_spectrum_pipeline_on_a_tiny_net():
    """The study's Hessian path: exact eigenvalues (spdl.hessian, checked there against torch.func.hessian)
    vs the top SLQ Ritz values; the SLQ density integrates to 1; summary is consistent."""
    from spdl import hessian

    arch, data = _toy(2)
    r = esh.train_ensemble(arch, init_params(arch, [0, 1]), data, method="adam", epochs=5, batch_size=10,
                           seeds=[0, 1], lr=1e-2, adam={"beta1": 0.9, "beta2": 0.999, "eps": 1e-8})
    X, Y = data["x_train"], data["y_train"]
    H = hessian.ensemble_hessians(arch, r["params"], X, Y, "cross_entropy", dtype=torch.float64, batch=16)
    ev = hessian.eigenvalues(H).numpy()
    quads = hessian.ensemble_slq(arch, r["params"], X, Y, "cross_entropy", dtype=torch.float64, probes=2, steps=60)
    for e, q in enumerate(quads):
        top = np.sort(q.nodes[0])[::-1][:5]
        assert np.allclose(top, ev[e][::-1][:5], rtol=1e-6)
        grid = np.linspace(ev[e].min() - 1, ev[e].max() + 1, 4000)
        assert abs(np.trapezoid(q.density(grid, 0.05), grid) - 1) < 1e-3
        s = esh.spectrum_summary(ev[e])
        assert s["lambda_max"] == pytest.approx(ev[e].max())

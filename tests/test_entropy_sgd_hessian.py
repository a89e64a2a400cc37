"""spdl.studies.entropy_sgd_hessian: local entropy (quadrature vs viscous HJ), quadratic closed forms vs
SGLD and the Entropy-SGD rule, Entropy-SGD as an engine update rule (L = 0 is SGD, ensemble vs members
alone, matched effective epochs, lr milestones, resume, divergence), spectrum summaries, config checks."""
import numpy as np
import pytest
import torch

from spdl import hessian
from spdl.engine import SGD, Adam, train
from spdl.models import MLP, init_params
from spdl.studies import entropy_sgd_hessian as esh
from spdl.studies.entropy_sgd_hessian_checks import check_config

pytestmark = pytest.mark.usefixtures("one_thread")

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
    mu, _ = esh.sgld_chain(x, lambda p, k: [p[0] @ At], esh.generator_noise(esh.noise_generators(range(C))),
                           gamma=gamma, eta_prime=0.1, eps=eps, steps=800, alpha=1.0, variant="paper", burn_in=200,
                           average="uniform")
    est = mu[0].numpy()
    se = est.std(0, ddof=1) / np.sqrt(C)
    z = (est.mean(0) - esh.quadratic_mean(A, x0, gamma)) / se
    assert np.all(np.abs(z) < 4.5)


def _quadratic_run(A, x0, rule, E=1, lr=1.0, steps=1):
    arch, X, Y = esh.quadratic_problem(A)
    start = [torch.as_tensor(x0, dtype=torch.float64).expand(E, 1, len(x0)).clone()]
    return train(arch, start, X, Y, steps=steps, lr=lr, loss="mse", seeds=range(E), update=rule).params[0][:, 0]


def test_quadratic_problem_and_noise_free_rule_step_to_the_proximal_point():
    """On f = 1/2 x^T A x without noise the inner chain converges to the proximal point <x'> =
    x - (A + gamma I)^-1 A x, so one Entropy-SGD update with lr = 1 (scoping: x - (x - mu)) lands on it;
    with outer_gamma and lr = 1 the step is gamma (x - mu) = gamma (A + gamma I)^-1 A x."""
    A, _, _ = esh.random_spd(4, 0.5, 2.0, seed=2)
    arch, X, Y = esh.quadratic_problem(A)
    x0 = np.arange(1.0, 5.0)
    f, _ = hessian.network_loss(arch, [torch.tensor(x0)[None, None]], X, Y, "mse")
    assert float(f(torch.tensor(x0))) == pytest.approx(0.5 * x0 @ A @ x0, rel=1e-12)
    exact = esh.quadratic_mean(A, x0, 2.0)
    for variant, alpha in (("code", 0.25), ("paper", 0.75)):
        rule = esh.EntropySGD(L=300, gamma0=2.0, eta_prime=0.2, eps=0.0, alpha=alpha, variant=variant)
        np.testing.assert_allclose(_quadratic_run(A, x0, rule)[0].numpy(), exact, atol=1e-8)
    rule = esh.EntropySGD(L=300, gamma0=2.0, eta_prime=0.2, eps=0.0, alpha=0.75, outer_gamma=True)
    step = x0 - _quadratic_run(A, x0, rule)[0].numpy()
    np.testing.assert_allclose(step, esh.quadratic_entropy_hessian(A, 2.0) @ x0, atol=1e-8)


def _toy(seed=0):
    g = torch.Generator().manual_seed(seed)
    X, Xt = torch.randn(60, 6, generator=g), torch.randn(30, 6, generator=g)
    Y, Yt = torch.randint(0, 3, (60,), generator=g), torch.randint(0, 3, (30,), generator=g)
    return MLP((6, 5, 3), bias=True), {"x_train": X, "y_train": Y, "x_test": Xt, "y_test": Yt}


ESGD = {"L": 0, "gamma0": 0.1, "gamma1": 0.0, "eta_prime": 0.1, "eps": 1e-3, "alpha": 0.25, "variant": "code"}
KW = dict(batch_size=10, loss="cross_entropy")


def test_entropy_sgd_with_l0_is_sgd():
    arch, data = _toy()
    p = init_params(arch, [0, 1, 2])
    X, Y = data["x_train"], data["y_train"]
    lr, seeds = [0.1, 0.2, 0.05], [5, 6, 7]
    rule = esh.EntropySGD(**ESGD)
    assert esh.grads_per_step(rule) == 1 and esh.matched_steps(3, 6, 1)[0] == 18
    r = train(arch, p, X, Y, steps=18, lr=lr, seeds=seeds, update=rule, record_at=[0, 18], **KW)
    s = train(arch, p, X, Y, steps=18, lr=lr, seeds=seeds, record_at=[0, 18], **KW)
    assert all(torch.equal(a, b) for a, b in zip(r.params, s.params))
    np.testing.assert_array_equal(r.history["loss"], s.history["loss"])
    # the paper's algorithm with L = 0 does not move
    z = train(arch, p, X, Y, steps=6, lr=1.0, seeds=seeds, update=esh.EntropySGD(**{**ESGD, "variant": "paper"}), **KW)
    assert all(torch.equal(a, b) for a, b in zip(z.params, p))


ESGD_MEMBERS = {"L": 3, "gamma0": [0.05, 0.1, 0.03], "gamma1": [1e-3, 0.0, 1e-2], "eta_prime": [0.1, 0.2, 0.1],
                "eps": [1e-2, 0.0, 1e-3], "alpha": 0.75}


@pytest.mark.parametrize("variant", ["paper", "code"])
def test_entropy_sgd_members_equal_members_trained_alone(variant):
    """Per-member gamma0, gamma1 (scoping), eta', noise and lr, an lr milestone: each member of the
    ensemble is the network trained alone (its own minibatch and noise stream)."""
    arch, data = _toy(1)
    X, Y = data["x_train"], data["y_train"]
    seeds, lr = [3, 4, 5], [0.5, 0.8, 1.0]
    opts = dict(ESGD_MEMBERS, variant=variant, outer_gamma=variant == "paper", lr_milestones=[1], lr_factor=0.1)
    per_epoch = len(Y) // KW["batch_size"]
    steps, record = esh.matched_steps(2, per_epoch, 4 if variant == "code" else 3, [0, 1, 2])
    p = init_params(arch, seeds)
    kw = dict(KW, steps=steps, record_at=record, metrics=esh.error_metrics(arch, data))
    ens = train(arch, p, X, Y, seeds=seeds, lr=lr, update=esh.make_rule("entropy_sgd", opts, per_epoch), **kw)
    assert not ens.diverged.any()
    for e in range(3):
        one = {k: v[e] if isinstance(v, list) and k not in ("lr_milestones",) else v for k, v in opts.items()}
        solo = train(arch, [q[e:e + 1] for q in p], X, Y, seeds=seeds[e:e + 1], lr=lr[e],
                     update=esh.make_rule("entropy_sgd", one, per_epoch), **kw)
        for a, b in zip(ens.params, solo.params):
            torch.testing.assert_close(a[e:e + 1], b, rtol=1e-5, atol=1e-6)
        for k in ("loss", "test_err", "test_loss"):
            np.testing.assert_allclose(ens.history[k][:, e], solo.history[k][:, 0], rtol=1e-5, atol=1e-6)


def test_effective_epochs_are_matched():
    """An Entropy-SGD update consumes max(L, 1) (paper) or L + 1 (code) minibatches, so matched_steps
    gives every method the same number of minibatch gradients."""
    arch, data = _toy()
    X, Y = data["x_train"], data["y_train"]
    drawn = []

    class Counting(esh.EntropySGD):
        def update(self, ctx):
            nxt = ctx.next_batch
            ctx.next_batch = lambda: drawn.append(1) or nxt()
            ctx.batch
            drawn.append(1)
            try:
                return super().update(ctx)
            finally:
                del ctx.next_batch

    for variant, cost in (("paper", 3), ("code", 4)):
        rule = Counting(**{**ESGD, "L": 3, "variant": variant})
        assert esh.grads_per_step(rule) == cost == esh.grads_per_step(esh.StepLR(rule, [1], 0.5))
        steps, record = esh.matched_steps(4, 6, cost, [0, 2, 4])
        assert steps == 24 // cost and record == [0, -(-12 // cost), steps]
        drawn.clear()
        train(arch, init_params(arch, [0]), X, Y, steps=steps, lr=1.0, seeds=[0], update=rule, **KW)
        assert len(drawn) == steps * cost
    assert esh.grads_per_step(esh.EntropySGD(L=0, gamma0=1.0)) == 1 and esh.grads_per_step(esh.make_rule(
        "sgd", {"lr_milestones": [2], "lr_factor": 0.1}, 6)) == 1


def test_step_lr_drops_the_learning_rate_at_milestones():
    arch, data = _toy()
    X, Y, p = data["x_train"], data["y_train"], init_params(arch, [0, 1])
    run = train(arch, p, X, Y, steps=10, lr=[0.2, 0.1], loss="cross_entropy", update=esh.StepLR(SGD(), [4, 7], 0.5))
    ref = p
    for steps, lr in ((4, [0.2, 0.1]), (3, [0.1, 0.05]), (3, [0.05, 0.025])):  # full batch: segments are exact
        ref = train(arch, ref, X, Y, steps=steps, lr=lr, loss="cross_entropy").params
    for a, b in zip(run.params, ref):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("make_rule", [
    lambda: esh.StepLR(esh.EntropySGD(L=2, gamma0=[0.1, 0.2], gamma1=1e-2, eps=1e-2), [3], 0.1),
    lambda: esh.StepLR(Adam(), [3], 0.1)], ids=["entropy_sgd", "adam"])
def test_interrupted_run_resumes_bitwise(tmp_path, make_rule):
    arch, data = _toy()
    X, Y, p = data["x_train"], data["y_train"], init_params(arch, [0, 1])
    kw = dict(KW, steps=8, lr=[0.5, 0.01], seeds=[0, 1], checkpoint_every=4, record_at=[0, 4, 6, 8])
    ref = train(arch, p, X, Y, update=make_rule(), **kw)

    def interrupt(params, step):
        if step == 6:
            raise KeyboardInterrupt
        return {}

    ck = tmp_path / "ck.pt"
    with pytest.raises(KeyboardInterrupt):
        train(arch, p, X, Y, update=make_rule(), checkpoint=ck, metrics=interrupt, **kw)
    out = train(arch, p, X, Y, update=make_rule(), checkpoint=ck, **kw)
    assert not ck.exists()
    assert all(torch.equal(a, b) for a, b in zip(ref.params, out.params))
    np.testing.assert_array_equal(ref.history["loss"], out.history["loss"])


def test_snapshot_is_the_run_stopped_there():
    """The spectrum rule's snapshots: a run of k updates is the longer run after k updates (bitwise)."""
    arch, data = _toy()
    X, Y, p = data["x_train"], data["y_train"], init_params(arch, [0, 1])
    seen = {}

    def keep(params, step):
        seen[step] = [q.clone() for q in params]
        return {}

    train(arch, p, X, Y, steps=14, lr=1e-2, seeds=[0, 1], update=Adam(), record_at=[7, 14], metrics=keep, **KW)
    short = train(arch, p, X, Y, steps=7, lr=1e-2, seeds=[0, 1], update=Adam(), **KW)
    assert all(torch.equal(a, b) for a, b in zip(seen[7], short.params))


def test_divergence_is_recorded_not_raised():
    arch, data = _toy()
    r = train(arch, init_params(arch, [0, 1]), data["x_train"], data["y_train"], steps=6, lr=[0.1, 1e30], seeds=[0, 1],
              update=esh.EntropySGD(L=2, gamma0=0.1, eps=1e-3, outer_gamma=True), record_at=[0, 6], **KW)
    assert r.diverged.tolist() == [False, True]
    assert np.isnan(r.history["loss"][-1, 1]) and np.isfinite(r.history["loss"][-1, 0])


def test_downsample_and_spectrum_summary():
    x = np.arange(16, dtype=np.float32).reshape(1, 16)
    assert np.allclose(esh.downsample(x, side=4, factor=2), [[2.5, 4.5, 10.5, 12.5]])
    s = esh.spectrum_summary(np.array([-0.5, -1e-6, 0.0, 1e-5, 2e-3, 10.0]))
    assert s["lambda_max"] == 10.0 and s["lambda_min"] == -0.5 and s["ratio"] == 20.0
    assert s["frac_negative"] == pytest.approx(2 / 6)
    assert s["frac_rel_0.001"] == pytest.approx(4 / 6)  # |lambda| < 0.01
    assert s["frac_abs_0.0001"] == pytest.approx(3 / 6)


def test_bad_input():
    with pytest.raises(ValueError, match="method"):
        esh.make_rule("lbfgs", {}, 10)
    for kw in ({"variant": "released"}, {"L": -1}, {"L": 1.5}):
        with pytest.raises(ValueError):
            esh.EntropySGD(**{"L": 2, "gamma0": 0.1, **kw})
    arch, data = _toy()
    for kw in ({"gamma0": 0.0}, {"alpha": 0.0}, {"eps": -1.0}, {"gamma0": [0.1, 0.2, 0.3]}):
        with pytest.raises(ValueError):
            train(arch, init_params(arch, [0, 1]), data["x_train"], data["y_train"], steps=1, lr=0.1,
                  update=esh.EntropySGD(**{"L": 2, "gamma0": 0.1, **kw}), **KW)


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
    arch, data = _toy(2)
    X, Y = data["x_train"], data["y_train"]
    r = train(arch, init_params(arch, [0, 1]), X, Y, steps=30, lr=1e-2, seeds=[0, 1], update=Adam(), **KW)
    H = hessian.ensemble_hessians(arch, r.params, X, Y, "cross_entropy", dtype=torch.float64, batch=16)
    ev = hessian.eigenvalues(H).numpy()
    quads = hessian.ensemble_slq(arch, r.params, X, Y, "cross_entropy", dtype=torch.float64, probes=2, steps=60)
    for e, q in enumerate(quads):
        top = np.sort(q.nodes[0])[::-1][:5]
        assert np.allclose(top, ev[e][::-1][:5], rtol=1e-6)
        grid = np.linspace(ev[e].min() - 1, ev[e].max() + 1, 4000)
        assert abs(np.trapezoid(q.density(grid, 0.05), grid) - 1) < 1e-3
        s = esh.spectrum_summary(ev[e])
        assert s["lambda_max"] == pytest.approx(ev[e].max())


# --------------------------------------------------------------------------- sweep and the small-LeNet (paper config)
def test_sweep_settings_share_the_base_once():
    assert esh.sweep_settings([8, 16, 32], [8, 32, 128], 16, 32) == [(8, 32), (16, 32), (32, 32), (16, 8), (16, 128)]
    assert esh.sweep_settings([4], [32], 4, 32) == [(4, 32)]
    s = esh.spectrum_summary(np.r_[-0.01, np.zeros(97), 0.5, 10.0])
    assert esh.shape_criteria(s) == (True, True, True)
    assert esh.shape_criteria(esh.spectrum_summary(np.r_[-1.0, 1.0, 2.0, 3.0, 4.0])) == (False, False, True)


TINY = dict(side=12, channels=(2, 3), kernel=3, hidden=6, classes=4)


def _tiny_lenet(seed=0, n=24):
    from spdl import convnets

    g = torch.Generator().manual_seed(seed + 100)
    X, Y = torch.randn(n, 144, generator=g), torch.randint(0, 4, (n,), generator=g)
    return convnets, convnets.init_lenet(convnets.LeNetShape(**TINY), seed), X, Y


def test_lenet_exact_hessian_matches_torch_func_hessian():
    """spdl.convnets + spdl.hessian (batched double-backprop rows, summed over sample pieces) vs
    torch.func.hessian of the flat loss, on a tiny conv net; the flat loss is the model's loss."""
    convnets, model, X, Y = _tiny_lenet()
    model = model.double()
    X = X.double()
    f, theta = convnets.flat_loss(model, X, Y)
    with torch.no_grad():
        assert float(f(theta)) == pytest.approx(float(torch.nn.functional.cross_entropy(model(X), Y)), rel=1e-12)
    H_ref = torch.func.hessian(f)(theta)
    for chunk, vmap in ((None, None), (7, True)):
        H = convnets.exact_hessian(model, X, Y, batch=16, chunk=chunk, vmap=vmap)
        assert torch.allclose(H, H_ref, atol=1e-12, rtol=1e-9)
    q = hessian.slq(convnets.hvp(model, X, Y), probes=1, steps=theta.numel())
    np.testing.assert_allclose(np.sort(q.nodes[0])[-3:], hessian.eigenvalues(H_ref).numpy()[-3:], rtol=1e-8)


def test_lenet_sizes_and_the_torch_free_count_agree():
    from spdl import convnets
    from spdl.studies.entropy_sgd_hessian_checks import lenet_params

    for kw in (TINY, {}):
        shape = convnets.LeNetShape(**kw)
        count = sum(p.numel() for p in convnets.LeNet(shape).parameters())
        assert count == shape.num_params() == lenet_params(shape.side, shape.channels, shape.kernel, shape.hidden,
                                                             shape.classes)[0]
    assert convnets.LeNetShape().num_params() == 47_658  # the paper's small-LeNet [ICLR]
    with pytest.raises(ValueError):
        convnets.LeNet(convnets.LeNetShape(side=14))


def test_lenet_training_is_deterministic_and_resumes(tmp_path):
    convnets, _, X, Y = _tiny_lenet(n=40)
    data = {"x_train": X, "y_train": Y, "x_test": X[:10], "y_test": Y[:10]}
    kw = dict(method="adam", lr=1e-2, epochs=3, batch_size=8, seed=3, snapshots=[1])
    a = convnets.train_lenet(convnets.init_lenet(convnets.LeNetShape(**TINY), 3), data, **kw)
    assert a["history"]["epoch"] == [0, 1, 3] and sorted(a["snapshots"]) == [0, 1, 3]
    assert a["history"]["train_loss"][-1] < a["history"]["train_loss"][0]
    # a run killed in epoch 2 (its epoch-1 checkpoint kept) and resumed ends where the uninterrupted one does
    path = tmp_path / "c.pt"

    class Kill:
        def write(self, text):
            if "epoch 2/" in text:
                raise KeyboardInterrupt

        def flush(self):
            pass

    with pytest.raises(KeyboardInterrupt):
        convnets.train_lenet(convnets.init_lenet(convnets.LeNetShape(**TINY), 3), data, **kw, checkpoint=path,
                             log=Kill())
    assert path.exists()
    b = convnets.train_lenet(convnets.init_lenet(convnets.LeNetShape(**TINY), 3), data, **kw, checkpoint=path)
    assert not path.exists() and b["history"] == a["history"]
    for k in a["snapshots"][3]:
        assert torch.equal(a["snapshots"][3][k], b["snapshots"][3][k])
    bad = {**data, "x_train": X.clone().index_fill_(0, torch.tensor([5]), float("nan"))}  # one NaN image
    c = convnets.train_lenet(convnets.init_lenet(convnets.LeNetShape(**TINY), 3), bad, **kw)
    assert c["diverged"] and c["diverged_epoch"] == 1 and sorted(c["snapshots"]) == [0]


def test_paper_config_selects_the_lenet_and_checks_its_memory(root):
    import copy

    import yaml

    from spdl.config import merge, validate_config

    base = yaml.safe_load((root / "config" / "config.yaml").read_text())
    paper = merge(copy.deepcopy(base), yaml.safe_load((root / "config" / "paper.yaml").read_text()))
    validate_config(paper, root / "workflow" / "schemas")
    sec = paper["entropy_sgd_hessian"]
    assert sec["spectrum"]["model"] == "lenet" and base["entropy_sgd_hessian"]["spectrum"]["model"] == "mlp"
    assert check_config(sec) == []
    small = copy.deepcopy(sec)
    small["spectrum"]["hessian_max_gb"] = 16.0  # 47,658^2 x 4 bytes x 2 = 18.2 GB
    (msg,) = check_config(small)
    assert msg.startswith("entropy_sgd_hessian.spectrum.hessian_max_gb") and "47,658" in msg
    small["spectrum"]["downsample"] = 2
    assert check_config(small)[0].startswith("entropy_sgd_hessian.spectrum.downsample")
    wide = copy.deepcopy(base["entropy_sgd_hessian"])
    wide["sweep"]["widths"] = [512]
    assert any(m.startswith("entropy_sgd_hessian.sweep.widths") for m in check_config(wide))

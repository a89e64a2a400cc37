"""Ensemble training engine: an ensemble must behave exactly like its members trained alone."""

import numpy as np
import pytest
import torch

from spdl.checkpoint import CheckpointWarning
from spdl.engine import TrainResult, full_loss, train
from spdl.models import MLP, forward, init_params

E = 6
SEEDS = [11, 12, 13, 14, 15, 16]
LRS = [0.05, 0.02, 0.1, 0.05, 0.01, 0.07]
WDS = [0.0, 1e-3, 1e-2, 0.0, 1e-1, 5e-3]
SCALES = [1.0, 0.5, 1.5, 1.0, 0.8, 1.2]


def _data(n, d_in, d_out, members=None, labels=False, seed=0):
    g = torch.Generator().manual_seed(seed)
    lead = () if members is None else (members,)
    X = torch.randn(*lead, n, d_in, generator=g)
    if labels:
        return X, torch.randint(0, d_out, (*lead, n), generator=g)
    return X, torch.randn(*lead, n, d_out, generator=g)


def _weight_norm(params, step):
    return {"w1_norm": params[0].flatten(1).norm(dim=1), "step": torch.full((params[0].shape[0],), float(step))}


CASES = {
    # name: (arch, loss, batch_size, lr factor, data kwargs)
    "relu_minibatch": (MLP((8, 16, 16, 3), "relu"), "mse", 10, 1.0, dict(d_out=3)),
    "relu_bias_per_member_data": (MLP((8, 16, 1), "relu", bias=True), "mse", 10, 1.0, dict(d_out=1, members=E)),
    "deep_linear_mse_sum_full_batch": (MLP((8, 6, 6, 8), "linear"), "mse_sum", None, 0.02, dict(d_out=8)),
    "tanh_cross_entropy_per_member_data": (MLP((8, 16, 4), "tanh", bias=True), "cross_entropy", 10, 5.0,
                                           dict(d_out=4, labels=True, members=E)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_ensemble_equals_members_trained_alone(case):
    arch, loss, batch_size, lr_factor, data_kwargs = CASES[case]
    X, Y = _data(50, 8, **data_kwargs)
    if case == "relu_bias_per_member_data":
        Y = Y[..., 0]  # (E, N) targets with d_out = 1
    lrs = [lr * lr_factor for lr in LRS]
    kw = dict(steps=40, loss=loss, batch_size=batch_size, record_at=[0, 1, 7, 20, 40], metrics=_weight_norm)
    params = init_params(arch, SEEDS, init_scale=SCALES)
    ens = train(arch, params, X, Y, lr=lrs, weight_decay=WDS, seeds=SEEDS, **kw)
    assert not ens.diverged.any()
    assert set(ens.history) == {"loss", "w1_norm", "step"}
    assert ens.history["loss"].shape == (5, E) and ens.history["loss"].dtype == np.float64
    np.testing.assert_array_equal(ens.steps, [0, 1, 7, 20, 40])
    np.testing.assert_array_equal(ens.history["step"][:, 0], ens.steps)
    assert (ens.history["loss"][-1] < ens.history["loss"][0]).all()  # every member learned something
    for e in range(E):
        alone = [p[e:e + 1] for p in params]
        Xe = X[e:e + 1] if X.dim() == 3 else X
        Ye = Y[e:e + 1] if data_kwargs.get("members") else Y
        solo = train(arch, alone, Xe, Ye, lr=lrs[e], weight_decay=WDS[e], seeds=[SEEDS[e]], **kw)
        for pe, ps in zip(ens.params, solo.params):
            scale = ps.abs().max().item()
            torch.testing.assert_close(pe[e:e + 1], ps, rtol=1e-4, atol=1e-5 * scale)
        for name in ens.history:
            np.testing.assert_allclose(ens.history[name][:, e], solo.history[name][:, 0], rtol=1e-4, atol=1e-6)


def test_member_init_is_independent_of_ensemble():
    for arch, scheme in [(MLP((7, 5, 3), "relu", bias=True), "gaussian"), (MLP((7, 9, 3), "tanh"), "orthogonal")]:
        ens = init_params(arch, [3, 4, 5], init_scale=[1.0, 2.0, 0.5], scheme=scheme)
        solo = init_params(arch, [4], init_scale=2.0, scheme=scheme)
        assert len(ens) == (4 if arch.bias else 2)
        for pe, ps in zip(ens, solo):
            assert pe.dtype == torch.float32 and pe.shape[0] == 3
            assert torch.equal(pe[1:2], ps)
    assert ens[0].shape == (3, 9, 7) and ens[1].shape == (3, 3, 9)


def test_gaussian_init_variance():
    relu = init_params(MLP((400, 300), "relu"), [0])[0]
    lin = init_params(MLP((400, 300), "linear"), [0], init_scale=3.0)[0]
    assert relu.var().item() == pytest.approx(2 / 400, rel=0.02)
    assert lin.var().item() == pytest.approx(9 / 400, rel=0.02)


def test_orthogonal_init_singular_values():
    arch = MLP((20, 30, 30, 10), "linear")  # tall, square and wide matrices
    params = init_params(arch, [0, 1], init_scale=[0.5, 2.0], scheme="orthogonal")
    for W in params:
        for e, scale in enumerate([0.5, 2.0]):
            s = torch.linalg.svdvals(W[e].double())
            torch.testing.assert_close(s, torch.full_like(s, scale), rtol=1e-5, atol=1e-6)
    assert not torch.allclose(params[1][0], params[1][1] / 4)  # different seeds differ


def test_forward_shared_input_equals_per_member_input():
    arch = MLP((5, 7, 3), "relu", bias=True)
    params = init_params(arch, [0, 1, 2])
    params[1] += 0.1  # nonzero biases
    x = torch.randn(4, 5)
    out = forward(arch, params, x)
    assert out.shape == (3, 4, 3)
    torch.testing.assert_close(out, forward(arch, params, x.expand(3, 4, 5)))
    h = torch.relu(x @ params[0][2].T + params[1][2])
    torch.testing.assert_close(out[2], h @ params[2][2].T + params[3][2])


def test_deep_linear_mse_sum_step_matches_hand_gradient():
    """Two-layer linear net, L = 0.5 sum_n ||W2 W1 x_n - y_n||^2; one step by hand in float64."""
    arch = MLP((6, 4, 3), "linear")
    X, Y = _data(20, 6, 3)
    params = init_params(arch, [0, 1, 2], init_scale=[1.0, 0.5, 2.0])
    lr, wd = [0.01, 0.02, 0.005], [0.0, 0.1, 0.01]
    res = train(arch, params, X, Y, steps=1, lr=lr, weight_decay=wd, loss="mse_sum")
    Xd, Yd = X.double(), Y.double()
    for e in range(3):
        W1, W2 = params[0][e].double(), params[1][e].double()
        err = W2 @ W1 @ Xd.T - Yd.T  # (d_out, N)
        g2, g1 = err @ Xd @ W1.T, W2.T @ err @ Xd
        torch.testing.assert_close(res.params[0][e].double(), W1 - lr[e] * (g1 + wd[e] * W1), rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(res.params[1][e].double(), W2 - lr[e] * (g2 + wd[e] * W2), rtol=1e-5, atol=1e-6)


def test_cross_entropy_matches_torch_nn_and_optim_sgd():
    """Minibatch SGD with weight decay against nn.Sequential + optim.SGD, same reshuffling convention."""
    arch = MLP((6, 10, 4), "relu", bias=True)
    X, Y = _data(40, 6, 4, labels=True)
    seeds, lrs, wds, batch, steps = [5, 6], [0.3, 0.1], [0.01, 0.0], 16, 9  # 2 batches per epoch, 8 samples dropped
    params = init_params(arch, seeds)
    res = train(arch, params, X, Y, steps=steps, lr=lrs, weight_decay=wds, batch_size=batch, loss="cross_entropy",
                seeds=seeds, record_at=[steps])
    for e in range(2):
        net = torch.nn.Sequential(torch.nn.Linear(6, 10), torch.nn.ReLU(), torch.nn.Linear(10, 4))
        with torch.no_grad():
            for p, q in zip(net.parameters(), params):
                p.copy_(q[e])
        opt = torch.optim.SGD(net.parameters(), lr=lrs[e], weight_decay=wds[e])
        gen, batches = torch.Generator().manual_seed(seeds[e]), []
        while len(batches) < steps:
            perm = torch.randperm(40, generator=gen)
            batches += [perm[i:i + batch] for i in range(0, 40 - batch + 1, batch)]
        for idx in batches[:steps]:
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(X[idx]), Y[idx]).backward()
            opt.step()
        for p, q in zip(net.parameters(), res.params):
            torch.testing.assert_close(q[e], p.detach(), rtol=1e-5, atol=1e-6)
        with torch.no_grad():
            full = torch.nn.functional.cross_entropy(net(X), Y).item()
        assert res.history["loss"][0, e] == pytest.approx(full, rel=1e-5)


def test_identical_calls_are_bitwise_identical():
    arch = MLP((8, 16, 3), "relu", bias=True)
    X, Y = _data(50, 8, 3)
    kw = dict(steps=25, lr=LRS, weight_decay=WDS, batch_size=8, seeds=SEEDS, record_at=range(0, 26, 5),
              metrics=_weight_norm)
    a = train(arch, init_params(arch, SEEDS), X, Y, **kw)
    b = train(arch, init_params(arch, SEEDS), X, Y, **kw)
    _assert_bitwise_equal(a, b)


def test_divergent_member_is_flagged_and_others_unaffected():
    arch = MLP((8, 16, 3), "relu")
    X, Y = _data(50, 8, 3)
    lrs = [0.05, 50.0, 0.02]
    params = init_params(arch, [0, 1, 2])
    kw = dict(steps=30, batch_size=10, record_at=[0, 10, 30], metrics=_weight_norm)
    res = train(arch, params, X, Y, lr=lrs, seeds=[0, 1, 2], **kw)
    np.testing.assert_array_equal(res.diverged, [False, True, False])
    k = res.diverged_step[1]
    assert 0 <= k <= 30 and res.diverged_step[0] == res.diverged_step[2] == -1
    assert torch.isnan(res.params[0][1]).all() and torch.isfinite(res.params[0][[0, 2]]).all()
    for name, h in res.history.items():
        assert np.isnan(h[res.steps >= k, 1]).all() and not np.isnan(h[res.steps < k, 1]).any()
        assert np.isfinite(h[:, [0, 2]]).all()
    for e in (0, 2):
        solo = train(arch, [p[e:e + 1] for p in params], X, Y, lr=lrs[e], seeds=[e], **kw)
        torch.testing.assert_close(res.params[0][e:e + 1], solo.params[0], rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(res.history["loss"][:, e], solo.history["loss"][:, 0], rtol=1e-4)
    solo = train(arch, [p[1:2] for p in params], X, Y, lr=lrs[1], seeds=[1], **kw)
    assert solo.diverged_step[0] == k


def test_interrupted_run_resumes_bitwise(tmp_path, capsys):
    arch = MLP((8, 16, 3), "tanh", bias=True)
    X, Y = _data(50, 8, 3)
    ckpt = tmp_path / "run.ckpt"
    kw = dict(steps=40, lr=LRS, weight_decay=WDS, batch_size=8, seeds=SEEDS, record_at=range(0, 41, 4),
              checkpoint_every=10)
    reference = train(arch, init_params(arch, SEEDS), X, Y, metrics=_weight_norm, **kw)

    def interrupting(params, step):  # "Ctrl-C" at step 24, after the checkpoint of step 20 was written
        if step == 24:
            raise KeyboardInterrupt
        return _weight_norm(params, step)

    with pytest.raises(KeyboardInterrupt):
        train(arch, init_params(arch, SEEDS), X, Y, metrics=interrupting, checkpoint=ckpt, **kw)
    assert torch.load(ckpt, weights_only=True)["state"]["step"] == 20
    resumed = train(arch, init_params(arch, SEEDS), X, Y, metrics=_weight_norm, checkpoint=ckpt, **kw)
    assert "resumed from checkpoint" in capsys.readouterr().out
    _assert_bitwise_equal(reference, resumed)
    assert not ckpt.exists()  # removed on completion


def test_checkpoint_of_a_different_run_is_moved_aside(tmp_path):
    arch = MLP((8, 16, 3), "relu")
    X, Y = _data(50, 8, 3)
    ckpt = tmp_path / "run.ckpt"
    kw = dict(steps=20, batch_size=8, seeds=SEEDS, record_at=[0, 20], checkpoint_every=5)

    def stop(params, step):
        if step == 20:
            raise KeyboardInterrupt
        return {}

    with pytest.raises(KeyboardInterrupt):
        train(arch, init_params(arch, SEEDS), X, Y, lr=0.05, metrics=stop, checkpoint=ckpt, **kw)
    assert ckpt.exists()
    with pytest.warns(CheckpointWarning, match="different run"):
        other = train(arch, init_params(arch, SEEDS), X, Y, lr=0.07, checkpoint=ckpt, **kw)
    assert (tmp_path / "run.ckpt.stale").exists() and not ckpt.exists()
    _assert_bitwise_equal(other, train(arch, init_params(arch, SEEDS), X, Y, lr=0.07, **kw))


def test_full_batch_progress_and_shapes(tmp_path):
    arch = MLP((8, 4, 1), "relu")
    X, Y = _data(30, 8, 1)
    log = tmp_path / "progress.log"
    with open(log, "w") as fh:
        res = train(arch, init_params(arch, [0, 1]), X, Y[:, 0], steps=5, lr=0.1, progress=fh)
    assert isinstance(res, TrainResult) and res.steps.shape == (0,) and res.history["loss"].shape == (0, 2)
    assert res.diverged_step.dtype.kind == "i" and res.diverged.dtype == bool
    assert "5/5" in log.read_text()
    torch.testing.assert_close(full_loss(arch, res.params, X, Y, "mse"),
                               0.5 * (forward(arch, res.params, X) - Y).square().sum(-1).mean(-1))
    double = train(arch, [p.double() for p in init_params(arch, [0, 1])], X, Y, steps=5, lr=0.1, record_at=[5])
    assert double.params[0].dtype == torch.float64
    np.testing.assert_allclose(double.params[0].numpy(), res.params[0].numpy(), rtol=1e-4, atol=1e-6)


def _assert_bitwise_equal(a, b):
    assert all(torch.equal(p, q) for p, q in zip(a.params, b.params))
    np.testing.assert_array_equal(a.steps, b.steps)
    assert a.history.keys() == b.history.keys()
    for name in a.history:
        np.testing.assert_array_equal(a.history[name], b.history[name])
    np.testing.assert_array_equal(a.diverged_step, b.diverged_step)


def test_dropout_penalty_noise_members_equal_members_trained_alone():
    """Per-member dropout, norm penalty and Langevin noise keep every member independent."""
    arch = MLP((8, 16, 16, 4), "relu")
    X, Y = _data(50, 8, 4, labels=True)
    drop, beta, noise = ([0.0, 0.2, 0.0, 0.5, 0.1, 0.0], [0.0, 0.0, 1e-2, 5e-2, 0.0, 1e-3],
                         [0.0, 0.0, 0.0, 1e-3, 0.0, 1e-2])
    kw = dict(steps=30, loss="cross_entropy", batch_size=10, record_at=[0, 30])
    params = init_params(arch, SEEDS, scheme="torch_default")
    ens = train(arch, params, X, Y, lr=LRS, seeds=SEEDS, dropout=drop, norm_penalty=beta, noise_std=noise, **kw)
    plain = train(arch, params, X, Y, lr=LRS, seeds=SEEDS, **kw)
    for e in range(E):
        solo = train(arch, [p[e:e + 1] for p in params], X, Y, lr=LRS[e], seeds=[SEEDS[e]], dropout=drop[e],
                     norm_penalty=beta[e], noise_std=noise[e], **kw)
        torch.testing.assert_close(ens.params[1][e:e + 1], solo.params[1], rtol=1e-4, atol=1e-6)
        changed = not torch.equal(ens.params[1][e], plain.params[1][e])
        assert changed == (drop[e] > 0 or beta[e] > 0 or noise[e] > 0)


def test_norm_penalty_step_matches_autograd_of_penalised_loss():
    arch = MLP((6, 5, 3), "relu")
    X, Y = _data(20, 6, 3, labels=True)
    params = init_params(arch, [0], scheme="torch_default", init_scale=3.0)
    res = train(arch, params, X, Y, steps=1, lr=0.1, loss="cross_entropy", norm_penalty=0.5)
    W = [p[0].clone().requires_grad_(True) for p in params]
    out = torch.relu(X @ W[0].T) @ W[1].T
    objective = torch.nn.functional.cross_entropy(out, Y) + 0.5 * torch.sqrt(sum(w.square().sum() for w in W))
    grads = torch.autograd.grad(objective, W)
    for p, w, g in zip(res.params, W, grads):
        torch.testing.assert_close(p[0], (w - 0.1 * g).detach(), rtol=1e-5, atol=1e-6)


def test_dropout_masks_rate_and_no_dropout_at_evaluation():
    from spdl.engine import _keep_mask
    gens = [torch.Generator().manual_seed(s) for s in (1, 2)]
    mask = _keep_mask(torch.tensor([0.0, 0.3]), gens, 2000, 50, torch.float32)
    assert torch.equal(mask[0], torch.ones(2000, 50))
    assert mask[1].unique().tolist() == pytest.approx([0.0, 1 / 0.7])
    assert (mask[1] == 0).float().mean().item() == pytest.approx(0.3, abs=0.01)
    arch = MLP((8, 16, 3), "relu")
    X, Y = _data(40, 8, 3, labels=True)
    res = train(arch, init_params(arch, [0, 1]), X, Y, steps=3, lr=0.1, loss="cross_entropy", batch_size=8,
                seeds=[0, 1], dropout=[0.5, 0.5], record_at=[3])
    torch.testing.assert_close(torch.from_numpy(res.history["loss"][0]).float(),
                               full_loss(arch, res.params, X, Y, "cross_entropy"))


def test_synchronous_and_gossip_mixing():
    """SSGD = every learner steps on the mean of the learners' gradients; ring gossip keeps the
    learners' mean on w_bar <- w_bar - lr * mean_k g_k(w_k) (M doubly stochastic)."""
    arch = MLP((6, 8, 3), "relu")
    X, Y = _data(40, 6, 3, labels=True)
    K, lr = 4, 0.2
    start = init_params(arch, [7] * K)  # all learners start from the same network
    ring = torch.zeros(K, K)
    for k in range(K):
        ring[k, [k - 1, k, (k + 1) % K]] = 1 / 3
    for M in (torch.full((K, K), 1 / K), ring):
        res = train(arch, start, X, Y, steps=1, lr=lr, loss="cross_entropy", batch_size=5, seeds=range(K),
                    mixing=M)
        local = train(arch, start, X, Y, steps=1, lr=lr, loss="cross_entropy", batch_size=5, seeds=range(K))
        for p, q in zip(res.params, local.params):
            torch.testing.assert_close(p, (M @ q.flatten(1)).view_as(q))
            torch.testing.assert_close(p.mean(0), q.mean(0))  # the step of the mean is the mean gradient
        if M is not ring:
            assert all(torch.allclose(p, p[:1].expand_as(p)) for p in res.params)  # consensus
    with pytest.raises(ValueError, match="mixing"):
        train(arch, start, X, Y, steps=1, lr=lr, loss="cross_entropy", mixing=torch.eye(K + 1))


def test_mixing_groups_mix_apart():
    """A block-diagonal mixing matrix mixes each group of learners on its own: the dense product's sums, and a
    diverged (NaN) learner poisons its own group only."""
    arch = MLP((6, 8, 3), "relu")
    X, Y = _data(40, 6, 3, labels=True)
    K, lr = 4, 0.2
    ring = torch.zeros(K, K)
    for k in range(K):
        ring[k, [k - 1, k, (k + 1) % K]] = 1 / 3
    M = torch.block_diag(torch.full((K, K), 1 / K), ring, torch.eye(K))
    start = init_params(arch, range(3 * K))
    res = train(arch, start, X, Y, steps=1, lr=lr, loss="cross_entropy", batch_size=5, seeds=range(3 * K), mixing=M)
    local = train(arch, start, X, Y, steps=1, lr=lr, loss="cross_entropy", batch_size=5, seeds=range(3 * K))
    for p, q in zip(res.params, local.params):
        torch.testing.assert_close(p, (M @ q.flatten(1)).view_as(q), rtol=1e-6, atol=0)
    blown = train(arch, start, X, Y, steps=3, lr=[lr] * K + [1e6] + [lr] * (2 * K - 1), loss="cross_entropy",
                  batch_size=5, seeds=range(3 * K), mixing=M, diverge_threshold=1e3)
    assert blown.diverged[K:2 * K].all() and not blown.diverged[:K].any() and not blown.diverged[2 * K:].any()
    for p in blown.params:
        assert torch.isfinite(p[:K]).all() and torch.isfinite(p[2 * K:]).all()


def test_observe_sees_every_update():
    arch = MLP((8, 4, 1), "relu")
    X, Y = _data(30, 8, 1)
    seen = []
    res = train(arch, init_params(arch, [0, 1]), X, Y[:, 0], steps=6, lr=0.1,
                observe=lambda params, k: seen.append((k, params[1].clone())))
    assert [k for k, _ in seen] == [1, 2, 3, 4, 5, 6]
    assert torch.equal(seen[-1][1], res.params[1]) and not torch.equal(seen[0][1], seen[-1][1])


def test_torch_default_init_matches_nn_linear_bounds():
    W = init_params(MLP((400, 300), "relu"), [0], scheme="torch_default", init_scale=4.0)[0]
    bound = 4.0 / 20.0
    assert W.abs().max().item() <= bound and W.abs().max().item() > 0.99 * bound
    assert W.var().item() == pytest.approx(bound ** 2 / 3, rel=0.02)

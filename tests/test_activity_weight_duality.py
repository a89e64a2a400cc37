"""Activity-weight duality: the dual weights, the Hessian, the decomposition, training to a fit."""

import numpy as np
import pytest
import torch

from spdl.studies import activity_weight_duality as awd
from spdl.models import MLP, init_params

torch.set_default_dtype(torch.float32)


def _net(seed=0, d_in=12, H=6, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    W1 = torch.randn(H, d_in, generator=g, dtype=torch.float64) * scale / d_in ** 0.5
    W = torch.randn(H, H, generator=g, dtype=torch.float64) * scale / H ** 0.5
    W3 = torch.randn(10, H, generator=g, dtype=torch.float64) * scale / H ** 0.5
    return W1, W, W3


def _data(n, d_in=12, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, d_in, generator=g, dtype=torch.float64), torch.randint(0, 10, (n,), generator=g)


def test_dual_weight_change_absorbs_the_activity_change_with_minimal_norm():
    _, W, _ = _net()
    g = torch.Generator().manual_seed(3)
    a, da = torch.rand(5, 6, generator=g, dtype=torch.float64), torch.randn(5, 6, generator=g, dtype=torch.float64)
    dW = awd.dual_weight_change(W, a, da)
    torch.testing.assert_close(torch.einsum("koi,ki->ko", W + dW, a), (a + da) @ W.T)
    assert (torch.linalg.matrix_rank(dW) == 1).all()
    for k in range(5):  # any other solution adds N with N a = 0, which only adds norm
        N = torch.randn(6, 6, generator=g, dtype=torch.float64)
        N -= torch.outer(N @ a[k], a[k]) / a[k].dot(a[k])
        torch.testing.assert_close((W + dW[k] + N) @ a[k], W @ (a[k] + da[k]))
        assert (dW[k] + N).norm() > dW[k].norm()


def test_layer_hessian_equals_autograd_hessian_and_gauss_newton():
    W1, W, W3 = _net()
    x, y = _data(40)
    a = torch.relu(x @ W1.T)
    H = awd.layer_hessian(W, W3, a, y)
    full = torch.func.hessian(lambda w: awd.head_losses(w.view_as(W), W3, a, y).mean())(W.flatten())
    torch.testing.assert_close(H, full, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(H, awd.gauss_newton_hessian(W, W3, a, y), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(H, H.T)


def test_lanczos_top_eigenpairs_match_the_exact_spectrum():
    W1, W, W3 = _net(H=8)
    x, y = _data(60)
    a = torch.relu(x @ W1.T)
    exact = torch.linalg.eigvalsh(awd.layer_hessian(W, W3, a, y)).flip(0)
    vals, vecs = awd.lanczos_top_eigs(awd.hessian_vector_product(W, W3, a, y), W.numel(), 5)
    np.testing.assert_allclose(vals, exact[:5].numpy(), rtol=1e-8, atol=1e-12)
    H = awd.layer_hessian(W, W3, a, y).numpy()
    np.testing.assert_allclose(H @ vecs, vecs * vals, atol=1e-9)


def test_decomposition_sums_to_the_mean_loss_change_in_any_orthonormal_basis():
    g = torch.Generator().manual_seed(0)
    dW, dl = torch.randn(50, 16, generator=g, dtype=torch.float64), torch.rand(50, generator=g, dtype=torch.float64)
    dW[7] = 0.0  # a test sample identical to its partner: no weight change and dl = 0
    dl[7] = 0.0
    for seed in (1, 2):
        V, _ = torch.linalg.qr(torch.randn(16, 16, generator=torch.Generator().manual_seed(seed), dtype=torch.float64))
        d = awd.decompose(dW, dl, V)
        total = d["mean_term"].sum() + d["sigma_term"].sum()
        torch.testing.assert_close(total, dl.mean())
        torch.testing.assert_close(d["sigma_term"], d["c"] * d["sigma_g"] * d["sigma_w"])
        assert (d["c"].abs() <= 1 + 1e-12).all()
    g_vec = (dl / (dW * dW).sum(1).clamp_min(1e-300))[:, None] * dW  # g_k . dW_k = dl_k
    torch.testing.assert_close((g_vec * dW).sum(1), dl)


def test_analyse_duality_is_exact_and_estimate_is_mean_paired_change():
    W1, W, W3 = _net(scale=2.0)
    x_tr, y_tr = _data(80, seed=1)
    x_te, y_te = _data(30, seed=2)
    y_te = y_tr[:30].clone()  # every test label present in training
    pair = awd.nearest_same_label(x_te.numpy(), y_te.numpy(), x_tr.numpy(), y_tr.numpy())
    out = awd.analyse([W1.float(), W.float(), W3.float()], x_tr, y_tr, x_te, y_te, pair, sharp=3)
    assert out["n_pairs"] + out["n_dead"] == 30
    assert out["dual_abs_err"].shape == (30,) and np.nanmax(out["dual_abs_err"]) < 1e-12
    assert abs(out["rest_part"]) < 1e-12  # the full eigenbasis: the terms sum to the estimate
    assert np.all(np.diff(out["eig"]) <= 1e-12)  # directions in decreasing eigenvalue
    l = lambda xs, ys: awd.head_losses(W.float().double(), W3.float().double(),  # noqa: E731
                                       torch.relu(xs @ W1.float().double().T), ys)
    ok = (torch.relu(x_tr[pair] @ W1.float().double().T) ** 2).sum(1) > 0
    expected = (l(x_te, y_te) - l(x_tr[pair], y_te))[ok].mean()
    assert out["estimate"] == pytest.approx(float(expected), rel=1e-10)


def test_nearest_same_label_matches_brute_force():
    rng = np.random.default_rng(0)
    x_tr, y_tr = rng.random((60, 5)), rng.integers(0, 3, 60)
    x_te, y_te = rng.random((20, 5)), rng.integers(0, 3, 20)
    pair = awd.nearest_same_label(x_te, y_te, x_tr, y_tr)
    for k in range(20):
        same = np.flatnonzero(y_tr == y_te[k])
        assert pair[k] == same[np.argmin(((x_tr[same] - x_te[k]) ** 2).sum(1))]


def test_nearest_same_label_matches_brute_force_in_image_dimension():
    """784-dim sparse images in [0, 1] (as MNIST) and 10 labels: the k-d tree pairing equals the
    argmin of the full float64 distance matrix restricted to each label."""
    rng = np.random.default_rng(1)
    x_tr = rng.random((400, 784)) * (rng.random((400, 784)) < 0.2)
    x_te = rng.random((150, 784)) * (rng.random((150, 784)) < 0.2)
    y_tr, y_te = np.repeat(np.arange(10), 40), rng.integers(0, 10, 150)
    d2 = ((x_te[:, None, :] - x_tr[None, :, :]) ** 2).sum(-1)
    d2[y_te[:, None] != y_tr[None, :]] = np.inf
    np.testing.assert_array_equal(awd.nearest_same_label(x_te, y_te, x_tr, y_tr), d2.argmin(1))
    with pytest.raises(ValueError, match="no training sample of label"):
        awd.nearest_same_label(x_te, y_te, x_tr[y_tr != 3], y_tr[y_tr != 3])


def test_training_set_classes_nesting_and_wrong_labels():
    y_pool = np.repeat(np.arange(10), 40)
    small = awd.training_set(y_pool, 10, 0.0, seed=0, label_seed=0)
    big = awd.training_set(y_pool, 20, 0.2, seed=0, label_seed=5)
    assert np.bincount(y_pool[small["idx"]], minlength=10).tolist() == [10] * 10
    assert set(small["idx"]) <= set(big["idx"][big["correct"]])  # larger sets contain smaller ones
    n_mis = int(round(200 * 0.2 / 0.8))
    assert (~big["correct"]).sum() == n_mis and len(np.unique(big["idx"])) == 200 + n_mis
    assert (big["labels"][~big["correct"]] != y_pool[big["idx"][~big["correct"]]]).all()
    assert (big["labels"][big["correct"]] == y_pool[big["idx"][big["correct"]]]).all()
    with pytest.raises(ValueError, match="extra samples"):
        awd.training_set(y_pool, 30, 0.5, seed=0, label_seed=0)


def test_settings_deduplicate_and_group_into_jobs():
    cfg = {"seeds": 2, "members_per_job": 4,
           "base": dict(batch_size=25, lr=0.1, init_scale=1.0, dropout=0.0, norm_penalty=0.0, rho=0.0, n_per_class=20),
           "sweeps": dict(batch_size=[25, 100], lr=[0.05, 0.1], init_scale=[4, 5], dropout=[0.0, 0.1],
                          norm_penalty=[0.0, 0.01], rho=[0.0, 0.2], n_per_class=[10, 20])}
    s = awd.settings(cfg)
    names = [x["name"] for x in s]
    assert len(names) == len(set(names)) == 1 + 1 + 1 + 2 + 1 + 1 + 1 + 1  # base once, s sweep lacks 1
    assert awd.setting_name(cfg["base"]) in names
    # the 6 settings at batch 25 on the base set fill 3 jobs of 2 settings x 2 seeds
    assert awd.jobs(cfg) == sorted({"B25_n20_rho0_p0", "B25_n20_rho0_p1", "B25_n20_rho0_p2", "B100_n20_rho0_p0",
                                    "B25_n20_rho0.2_p0", "B25_n10_rho0_p0"})
    for job in awd.jobs(cfg):
        group = [x for x in s if x["job"] == job]
        assert 1 <= len(group) * cfg["seeds"] <= cfg["members_per_job"]
        assert len({(x["batch_size"], x["n_per_class"], x["rho"]) for x in group}) == 1
    assert all(n in names for hp in awd.HYPERPARAMETERS for n in awd.sweep_members(cfg, hp))
    for hp in awd.HYPERPARAMETERS:  # each setting's sweep positions give every sweep back, in the order of its values
        in_sweep = sorted((x for x in s if hp in x["sweeps"]), key=lambda x: x["sweeps"][hp])
        assert [x["name"] for x in in_sweep] == awd.sweep_members(cfg, hp)
    assert [x["name"] for x in s if x["base"]] == [awd.setting_name(cfg["base"])]


def test_sweep_base_moves_one_sweep_to_another_training_set_and_is_checked():
    """The batch sweep on 40 per class while the others sweep around 20: its settings carry n = 40, the
    training-size sweep's n = 40 setting is the batch sweep's B = 25 one (trained once), the base is unchanged."""
    from spdl.studies.activity_weight_duality_checks import check_config
    base = dict(batch_size=25, lr=0.1, init_scale=1.0, dropout=0.0, norm_penalty=0.0, rho=0.0, n_per_class=20)
    cfg = {"seeds": 2, "members_per_job": 8, "base": base, "sweep_base": {"batch_size": {"n_per_class": 40}},
           "sweeps": dict(batch_size=[25, 100, 400], lr=[0.05, 0.1], init_scale=[4, 5], dropout=[0.0, 0.1],
                          norm_penalty=[0.0, 0.01], rho=[0.0, 0.2], n_per_class=[10, 20, 40])}
    s = {x["name"]: x for x in awd.settings(cfg)}
    batch = awd.sweep_members(cfg, "batch_size")
    assert [s[n]["n_per_class"] for n in batch] == [40, 40, 40]
    assert [s[n]["batch_size"] for n in batch] == [25, 100, 400]
    assert batch[0] == awd.sweep_members(cfg, "n_per_class")[-1] and set(s[batch[0]]["sweeps"]) == {"batch_size",
                                                                                                    "n_per_class"}
    assert [x["name"] for x in s.values() if x["base"]] == [awd.setting_name(base)]
    assert not s[batch[0]]["base"]
    section = dict(cfg, dataset="mnist5k", hidden=6, n_test=50, sharp_directions=5,
                   hessian=dict(exact_max_weights=4096, lanczos_k=10), stop=dict(window=3, max_epochs=10),
                   multilearner=dict(learners=4, batch_size=100, seeds=1))
    data = {"mnist5k": {"test_fraction": 0.2}}
    assert check_config(section, data) == []
    msgs = check_config(dict(section, sweep_base={"batch_size": {"n_per_class": 450}}), data)
    assert any(m.startswith("activity_weight_duality.sweep_base.batch_size.n_per_class: 450") for m in msgs)
    msgs = check_config(dict(section, sweep_base={"lr": {"lr": 0.3}}), data)
    assert any(m.startswith("activity_weight_duality.sweep_base.lr.lr:") for m in msgs)


def test_fit_rule():
    stop = dict(loss=1e-2, accuracy=0.99, window=3, max_epochs=10)
    acc = np.array([[0.9, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0]])
    loss = np.array([[1.0, 1.0], [0.1, 0.1], [0.1, 0.005], [0.005, 0.005]])
    np.testing.assert_array_equal(awd.fit_reached(loss, acc, stop), [True, True])
    np.testing.assert_array_equal(awd.fit_reached(loss[:3], acc[:3], stop), [False, True])
    np.testing.assert_array_equal(awd.fit_reached(loss, np.r_[acc[:2], [[0.9, 1.0]], acc[3:]], stop), [False, True])


def _toy_task():
    x, y = _data(120, d_in=10, seed=4)
    w = torch.randn(10, 3, generator=torch.Generator().manual_seed(9), dtype=torch.float64)
    y = (x @ w).argmax(1)  # a learnable 3-class task
    return MLP((10, 8, 8, 3), "relu"), x.float(), y


def test_members_stopping_early_do_not_change_the_others():
    """Batched vs one by one: members leave the ensemble when they fit, and the rest are unchanged."""
    arch, X, Y = _toy_task()
    stop = dict(loss=0.1, accuracy=0.97, window=2, max_epochs=60)
    kw = dict(batch_size=20, stop=stop, penalty_epochs=5)
    lrs, drops, betas = [0.5, 0.1, 0.5], [0.0, 0.0, 0.2], [0.0, 1e-3, 0.0]
    params = init_params(arch, [0, 1, 2], scheme="torch_default", init_scale=2.0)
    correct = np.ones(len(Y), bool)
    ens = awd.train_to_fit(arch, params, X, Y, correct, lr=lrs, seeds=[0, 1, 2], dropout=drops, norm_penalty=betas,
                           **kw)
    assert len(set(ens["stopped"].tolist())) > 1  # members stopped at different epochs
    for e in range(3):
        solo = awd.train_to_fit(arch, [p[e:e + 1] for p in params], X, Y, correct, lr=lrs[e], seeds=[e],
                                dropout=drops[e], norm_penalty=betas[e], **kw)
        assert solo["stopped"][0] == ens["stopped"][e]
        for p, q in zip(ens["params"], solo["params"]):
            torch.testing.assert_close(p[e:e + 1], q, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(ens["loss"][:solo["stopped"][0] + 1, e], solo["loss"][:, 0], rtol=1e-4)


def test_fitted_flag_separates_the_fit_criterion_from_the_epoch_cap():
    """A member stopped by the epoch cap is unfitted even if its loss is low; one that met the rule is fitted."""
    arch, X, Y = _toy_task()
    params = init_params(arch, [0, 1], scheme="torch_default", init_scale=2.0)
    correct = np.ones(len(Y), bool)
    kw = dict(lr=[0.5, 0.01], batch_size=20, seeds=[0, 1])
    res = awd.train_to_fit(arch, params, X, Y, correct, stop=dict(loss=0.1, accuracy=0.97, window=2, max_epochs=40),
                           **kw)
    assert res["fitted"].tolist() == [True, False] and res["stopped"].tolist()[1] == 40
    assert (res["stopped"][0] < 40) and res["loss"][res["stopped"][0], 0] < 0.1
    loose = awd.train_to_fit(arch, params, X, Y, correct, stop=dict(loss=10.0, accuracy=0.0, window=1, max_epochs=0),
                             **kw)  # the rule holds at the cap epoch itself: fitted
    assert loose["stopped"].tolist() == [0, 0] and loose["fitted"].all()


def test_interrupted_fit_resumes_identically(tmp_path):
    arch, X, Y = _toy_task()
    stop = dict(loss=1e-3, accuracy=0.99, window=2, max_epochs=45)
    kw = dict(lr=[0.3, 0.2], batch_size=20, seeds=[0, 1], stop=stop)
    params = init_params(arch, [0, 1], scheme="torch_default")
    correct = np.ones(len(Y), bool)
    reference = awd.train_to_fit(arch, params, X, Y, correct, **kw)

    class Interrupt:  # "Ctrl-C" when epoch 20 is reported, after the checkpoint of epoch 20 was written
        def write(self, text):
            if text.startswith("epoch 20"):
                raise KeyboardInterrupt
            return len(text)

        def flush(self):
            pass

    ckpt = tmp_path / "fit.pt"
    with pytest.raises(KeyboardInterrupt):
        awd.train_to_fit(arch, params, X, Y, correct, checkpoint=ckpt, checkpoint_every_s=0, progress=Interrupt(), **kw)
    assert ckpt.exists()
    resumed = awd.train_to_fit(arch, params, X, Y, correct, checkpoint=ckpt, **kw)
    again = awd.train_to_fit(arch, params, X, Y, correct, checkpoint=ckpt, **kw)  # finished state: no training
    assert again["stopped"].tolist() == resumed["stopped"].tolist()
    assert all(torch.equal(p, q) for p, q in zip(reference["params"], resumed["params"]))
    np.testing.assert_array_equal(reference["stopped"], resumed["stopped"])
    np.testing.assert_array_equal(reference["loss"], resumed["loss"])


def test_learner_groups_stop_together_and_ssgd_keeps_consensus():
    arch, X, Y = _toy_task()
    K = 4  # a ring of 3 is full averaging
    stop = dict(loss=0.05, accuracy=0.99, window=2, max_epochs=40)
    groups = np.repeat([0, 1], K)
    mixing = torch.block_diag(awd.full_mixing(K), awd.ring_mixing(K))
    params = init_params(arch, [0] * K + [1] * K, scheme="torch_default", init_scale=2.0)
    res = awd.train_to_fit(arch, params, X, Y, np.ones(len(Y), bool), lr=0.3, batch_size=10, seeds=range(2 * K),
                           stop=stop, groups=groups, mixing=mixing, steps_per_epoch=4)
    assert res["stopped"].shape == (2,) and res["loss"].shape[1] == 2
    ssgd = [p[:K] for p in res["params"]]
    assert all(torch.allclose(p, p[:1].expand_as(p), atol=1e-6) for p in ssgd)
    dpsgd = [p[K:] for p in res["params"]]
    assert not all(torch.allclose(p, p[:1].expand_as(p), atol=1e-6) for p in dpsgd)
    torch.testing.assert_close(awd.ring_mixing(5).sum(1), torch.ones(5))
    torch.testing.assert_close(awd.ring_mixing(5).sum(0), torch.ones(5))

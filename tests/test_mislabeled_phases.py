"""spdl.mislabeled_phases: data with wrong labels, ROC AUC, order parameters, phase rules, cleaning."""
import itertools

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from spdl.studies import mislabeled_phases as mp
from spdl.models import MLP, init_params


def test_mislabels_always_wrong_and_correct_count_fixed():
    y_pool = np.random.default_rng(0).integers(0, 10, 3000)
    correct = None
    for rho in (0.0, 0.1, 0.3, 0.5):
        s = mp.make_split(y_pool, 1000, rho, seed=7, label_seeds=[1, 2, 3])
        n_mis = mp.n_mislabeled(1000, rho)
        assert (~s["is_mis"]).sum() == 1000 and s["is_mis"].sum() == n_mis
        assert abs(s["is_mis"].mean() - rho) < 1e-3
        np.testing.assert_array_equal(s["y_true"], y_pool[s["idx"]])
        assert (s["labels"][:, ~s["is_mis"]] == s["y_true"][~s["is_mis"]]).all()
        assert (s["labels"][:, s["is_mis"]] != s["y_true"][s["is_mis"]]).all()  # guaranteed wrong
        assert ((s["labels"] >= 0) & (s["labels"] < 10)).all()
        if correct is None:
            correct = s["idx"][:1000]
        np.testing.assert_array_equal(s["idx"][:1000], correct)  # the same correct set for every rho
    with pytest.raises(ValueError):
        mp.make_split(y_pool, 2000, 0.5, seed=0, label_seeds=[0])  # needs 4000 > 3000


def test_wrong_labels_differ_per_seed_and_stay_balanced():
    y = np.repeat(np.arange(10), 200)
    a, b = mp.wrong_labels(y, 0), mp.wrong_labels(y, 1)
    assert (a != y).all() and (b != y).all() and (a != b).any()
    assert np.bincount(a, minlength=10).min() > 150  # a permutation, then small shifts: roughly balanced


def test_roc_auc_matches_pair_counting_with_ties():
    """roc_auc is sklearn's roc_auc_score; on heavily tied scores it equals P(pos > neg) + P(tie) / 2 by pair
    counting, and the former rank formula (Mann-Whitney U from midranks)."""
    rng = np.random.default_rng(1)
    for _ in range(5):
        pos, neg = rng.integers(0, 6, 37).astype(float), rng.integers(0, 6, 23).astype(float)  # many ties
        brute = np.mean([(p > n) + 0.5 * (p == n) for p, n in itertools.product(pos, neg)])
        r = mp.midranks(np.concatenate([pos, neg]))[:len(pos)]
        u = (r.sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg))
        assert mp.roc_auc(pos, neg) == pytest.approx(brute, abs=1e-12) == pytest.approx(u, abs=1e-12)
    assert mp.roc_auc([1.0, 1.0, 1.0], [1.0, 1.0]) == 0.5  # every pair tied
    assert mp.roc_auc([2, 3], [0, 1]) == 1.0 and mp.roc_auc([0], [1]) == 0.0
    assert np.isnan(mp.roc_auc([], [1.0]))
    assert np.isnan(mp.roc_auc([1.0, np.nan], [0.0])) and np.isnan(mp.roc_auc([1.0], [np.inf]))  # diverged member


def test_midranks_and_spearman():
    np.testing.assert_array_equal(mp.midranks([10, 20, 10, 30]), [1.5, 3, 1.5, 4])
    x, y = np.random.default_rng(2).normal(size=(2, 30))
    y[:5] = y[0]  # ties
    assert mp.spearman(x, y) == pytest.approx(spearmanr(x, y).statistic, abs=1e-12)


def _sigmoid(logt, center, width=0.15):
    return 1 / (1 + np.exp(-(logt - np.log10(center)) / width))


def test_detect_phases_on_synthetic_curves():
    """Correct accuracy rises to 1 around t=100; mislabeled accuracy dips, then rises around t=4000."""
    t = np.unique(np.r_[0, np.geomspace(1, 1e5, 80).round()])
    logt = np.log10(np.maximum(t, 1))
    acc_cor = 0.1 + 0.9 * _sigmoid(logt, 100)
    acc_mis = 0.1 - 0.08 * _sigmoid(logt, 100) + 0.98 * _sigmoid(logt, 4000)
    got = mp.detect_phases(t, acc_cor, acc_mis, cor_level=0.95, rise=0.1, fit=0.95)
    # analytic crossings of the same rules (a record is at most a factor 10^(5/79) = 1.16 apart)
    want_I = 100 * 10 ** (0.15 * np.log((0.95 * 0.9995 - 0.1) / (0.9 - 0.95 * 0.9995 + 0.1)))
    want_III = 4000 * 10 ** (0.15 * np.log(0.1 / 0.88))  # 0.98 s = rise, s / (1 - s) = 0.1 / 0.88
    want_IV = 4000 * 10 ** (0.15 * np.log((0.95 - 0.02) / (0.98 - 0.93)))
    for key, want in (("t_I", want_I), ("t_III", want_III), ("t_IV", want_IV)):
        assert want <= got[key] <= want * 1.2, (key, got[key], want)
    np.testing.assert_array_equal(mp.phase_at([1, got["t_I"], got["t_III"], got["t_IV"], 1e5], got), [0, 1, 2, 3, 3])
    # rho = 0 (no mislabeled subset): only t_I; a run that never learns the wrong labels: no t_III, t_IV
    assert np.isnan(mp.detect_phases(t, acc_cor, np.full_like(t, np.nan, dtype=float))["t_III"])
    stuck = mp.detect_phases(t, acc_cor, 0.1 - 0.08 * _sigmoid(logt, 100))
    assert np.isfinite(stuck["t_I"]) and np.isnan(stuck["t_III"]) and np.isnan(stuck["t_IV"])


def test_fit_transition_and_strength_crossing_in_log_time():
    t = np.r_[0, np.geomspace(1, 1e4, 41)]  # 10 records a decade
    acc = np.clip(0.3 * np.log10(np.maximum(t, 1)), 0, 1)  # linear in log t: 0.95 at t = 10^(0.95/0.3)
    assert mp.fit_transition(t, acc, 0.95) == pytest.approx(10 ** (0.95 / 0.3), rel=1e-9)
    assert np.isnan(mp.fit_transition(t, 0.5 * acc, 0.95))  # never fitted: not found, no exception
    ratio = 10 ** (np.log10(np.maximum(t, 1)) - 2.5)  # |rho g_m| / |(1-rho) g_c| crosses 1 at t = 10^2.5
    assert mp.strength_crossing(t, ratio, t_I=10.0) == pytest.approx(10 ** 2.5, rel=1e-9)
    assert mp.strength_crossing(t, ratio, t_I=1e3) == pytest.approx(1e3)  # already above 1 at t_I: t_I's record
    assert np.isnan(mp.strength_crossing(t, ratio, t_I=np.nan)) and np.isnan(mp.strength_crossing(t, 0 * ratio, 10))
    before, after = mp.window_ratio(t, np.where(t < 300, 0.4, 0.03), 300.0, decades=0.5)
    assert before == pytest.approx(0.4) and after == pytest.approx(0.03)


def test_order_parameters_match_one_model_with_torch_nn():
    """Member 1 of an ensemble against the same network built from torch.nn, one model at a time."""
    torch.manual_seed(0)
    arch = MLP((12, 9, 7, 10))
    N, E = 60, 3
    X = torch.rand(N, 12)
    is_mis = np.arange(N) >= 45
    Y = torch.randint(0, 10, (E, N))
    x_test, y_test = torch.rand(20, 12), torch.randint(0, 10, (20,))
    params = init_params(arch, [4, 5, 6])
    op = mp.OrderParameters(arch, X, Y, is_mis, x_test, y_test, n_batches=4, batch_size=10, seed=3, n_grad=2)
    with torch.no_grad():
        row = op(params, step=17)

    e = 1
    net = torch.nn.Sequential(torch.nn.Linear(12, 9, bias=False), torch.nn.ReLU(),
                              torch.nn.Linear(9, 7, bias=False), torch.nn.ReLU(), torch.nn.Linear(7, 10, bias=False))
    with torch.no_grad():
        for layer, w in zip(net[::2], params):
            layer.weight.copy_(w[e])

    def grad(x, y):
        net.zero_grad()
        torch.nn.functional.cross_entropy(net(x), y).backward()
        return torch.cat([layer.weight.grad.flatten() for layer in net[::2]])

    m = torch.as_tensor(is_mis)
    g_c, g_m = grad(X[~m], Y[e, ~m]), grad(X[m], Y[e, m])
    rho = m.float().mean()
    close = dict(rel=1e-4, abs=1e-6)
    assert row["cos_cm"][e].item() == pytest.approx(torch.nn.functional.cosine_similarity(g_c, g_m, 0).item(), **close)
    assert row["ratio"][e].item() == pytest.approx((rho * g_m.norm() / ((1 - rho) * g_c.norm())).item(), **close)
    assert row["gnorm_full"][e].item() == pytest.approx(((1 - rho) * g_c + rho * g_m).norm().item(), **close)
    with torch.no_grad():
        out = net(X)
        per = torch.nn.functional.cross_entropy(out, Y[e], reduction="none")
        assert row["acc_mis"][e].item() == pytest.approx((out[m].argmax(1) == Y[e, m]).float().mean().item())
        assert row["loss_cor"][e].item() == pytest.approx(per[~m].mean().item(), **close)
        assert row["acc_test"][e].item() == pytest.approx((net(x_test).argmax(1) == y_test).float().mean().item())
    assert row["auc"][e].item() == pytest.approx(mp.roc_auc(per[m].numpy(), per[~m].numpy()), abs=1e-6)
    # minibatch alignment with the same minibatches the class draws
    gen = torch.Generator().manual_seed(3 * 1_000_003 + 17)
    G = [grad(X[idx], Y[e, idx]) for idx in (torch.randperm(N, generator=gen)[:10] for _ in range(4))]
    cos = [torch.nn.functional.cosine_similarity(a, b, 0).item() for a, b in itertools.combinations(G, 2)]
    assert row["align"][e].item() == pytest.approx(np.mean(cos), **close)
    assert row["gnorm"][e].item() == pytest.approx(np.mean([g.norm().item() for g in G]), **close)
    # members beyond n_grad get accuracies but no gradient order parameters
    assert np.isnan(row["cos_cm"][2].item()) and np.isfinite(row["acc_cor"][2].item())


def test_cleaning_selection_precision_recall_on_toy():
    losses = np.array([0.1, 5.0, 0.2, 4.0, 3.0, 0.3, 0.05, 2.5])
    is_mis = np.array([0, 1, 0, 1, 0, 0, 0, 1], bool)
    drop = mp.clean_selection(losses, 3)
    np.testing.assert_array_equal(np.flatnonzero(drop), [1, 3, 4])
    assert mp.precision_recall(drop, is_mis) == pytest.approx((2 / 3, 2 / 3))
    drop = mp.clean_selection(losses, 4)
    assert mp.precision_recall(drop, is_mis) == pytest.approx((3 / 4, 1.0))
    assert not mp.clean_selection(losses, 0).any()

"""Activity-weight duality: dual weight changes, Hessian projections, the loss-gap decomposition.

Reference: Y. Feng, W. Zhang & Y. Tu, "Activity-weight duality in feed-forward neural networks
reveals two co-determinants for generalization", Nat. Mach. Intell. 5, 908-918 (2023),
arXiv:2203.10736; the authors' demo (GitHub YuFengDuke/A-W-Duality-Project), whose
"Demo setup" is the protocol followed here.

Conventions
- The network is 784-H-H-10 ReLU without biases; the analysed layer is the hidden-to-hidden
  weight matrix W (H x H), whose input activity is a = relu(W1 x).
- A test sample x'_k is paired with its nearest (Euclidean, input space) correctly labeled
  training sample x_k of the same label; da_k = a(x'_k) - a(x_k).
- Losses are cross-entropies; the duality analysis runs in float64.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch
import torch.nn.functional as F
from scipy.spatial import cKDTree

from spdl import hessian
from spdl.checkpoint import Checkpoint, fingerprint
from spdl.datasets import wrong_labels
from spdl.engine import train
from spdl.models import MLP, forward
from spdl.studies.activity_weight_duality_sweeps import (  # noqa: F401  (part of this module's API)
    HYPERPARAMETERS, jobs, setting_name, settings, sweep_members)



# ----------------------------------------------------------------------------- data
def training_set(y_pool, n_per_class: int, rho: float, seed: int, label_seed: int) -> dict:
    """Indices into a training pool and labels: n_per_class correct samples of every class plus
    n_mis = round(10 n_per_class rho / (1 - rho)) further samples with guaranteed-wrong labels
    (the demo's mislabel(): permute, then shift labels that still equal the truth).

    Correct samples are the first n_per_class of each class in a permutation fixed by `seed`,
    so a larger set contains a smaller one. Returns idx (N,), labels (N,), correct (N,) bool.
    """
    y_pool = np.asarray(y_pool, dtype=np.int64)
    classes = np.unique(y_pool)
    order = np.random.default_rng(seed).permutation(len(y_pool))
    per_class = [order[y_pool[order] == c] for c in classes]
    if min(len(p) for p in per_class) < n_per_class:
        raise ValueError(f"the pool has fewer than {n_per_class} samples of some class")
    correct = np.concatenate([p[:n_per_class] for p in per_class])
    n_mis = int(round(len(classes) * n_per_class * rho / (1 - rho)))
    rest = order[~np.isin(order, correct)][:n_mis]
    if len(rest) < n_mis:
        raise ValueError(f"rho={rho} needs {n_mis} extra samples, the pool has {len(rest)} left")
    wrong = wrong_labels(y_pool[rest], label_seed, n_classes=len(classes))
    idx = np.concatenate([correct, rest])
    return dict(idx=idx, labels=np.concatenate([y_pool[correct], wrong]),
                correct=np.arange(len(idx)) < len(correct))


def nearest_same_label(x_test, y_test, x_train, y_train) -> np.ndarray:
    """For every test sample, the index of its nearest training sample of the same label ("Duality"):
    exact Euclidean nearest neighbour in input space (scipy.spatial.cKDTree per label, float64)."""
    x_test, x_train = np.asarray(x_test, dtype=np.float64), np.asarray(x_train, dtype=np.float64)
    y_test, y_train = np.asarray(y_test), np.asarray(y_train)
    out = np.full(len(y_test), -1, dtype=np.int64)
    for c in np.unique(y_test):
        te, tr = np.flatnonzero(y_test == c), np.flatnonzero(y_train == c)
        if len(tr) == 0:
            raise ValueError(f"no training sample of label {c}")
        out[te] = tr[cKDTree(x_train[tr]).query(x_test[te], k=1)[1]]
    return out


# ----------------------------------------------------------------------------- settings and jobs
# ----------------------------------------------------------------------------- training to a fit
def fit_reached(loss_hist, acc_hist, stop: dict) -> np.ndarray:
    """The demo's stopping rule per member: mean correct-train accuracy over the last `window`
    epochs > stop["accuracy"] and correct-train loss < stop["loss"]. Histories (epochs, E)."""
    acc = np.asarray(acc_hist)[-stop["window"]:]
    return (acc.mean(0) > stop["accuracy"]) & (np.asarray(loss_hist)[-1] < stop["loss"])


def epoch_seeds(seeds, epoch: int) -> list[int]:
    """Minibatch/dropout seeds of epoch `epoch` for members with base seeds `seeds`."""
    return [int(np.random.SeedSequence([int(s), epoch]).generate_state(1)[0]) for s in seeds]


def train_to_fit(arch: MLP, params, X, Y, correct, *, lr, batch_size: int, seeds, stop: dict, dropout=0.0,
                 norm_penalty=0.0, penalty_epochs=0, groups=None, mixing=None, steps_per_epoch=None,
                 checkpoint=None, checkpoint_every_s=60.0, progress=None) -> dict:
    """SGD epoch by epoch until every member meets the stopping rule or max_epochs ("Demo setup").

    Y: labels (N,) shared or (E, N) per member; correct (N,) bool marks the correctly labeled
    samples, on which the rule is judged. Members that stop leave the ensemble (their parameters
    are frozen), so a sweep costs the sum of its members' epochs. The norm penalty acts during
    the first penalty_epochs only. Multi-learner training: groups (E,) labels learners that form
    one model, mixing (E, E) their averaging matrix; a group is judged (and stops) on its learners'
    mean network, and an epoch is steps_per_epoch updates. The state is saved to `checkpoint`
    at an epoch boundary every checkpoint_every_s seconds and at the end, and resumed from when
    its fingerprint matches (epochs are deterministic, so where it was saved does not change the
    result); one that is unreadable or from another run is moved aside (spdl.checkpoint). The
    caller removes it once its outputs are written.
    Returns params (final stacked), loss and acc histories (epochs + 1, units; NaN once a unit
    stopped), stopped (units,) = epoch at which each unit stopped, fitted (units,) = whether it met
    the stopping rule there (False: it hit max_epochs unfitted, or diverged), diverged (units,) = whether it
    stopped because it diverged (its loss was no longer finite: the engine sets a blown-up member's
    weights to NaN) and diverged_epoch (units,) = the epoch during which it diverged, -1 if it did not.
    """
    E = params[0].shape[0]
    per = lambda v: torch.as_tensor(np.broadcast_to(np.asarray(v, dtype=np.float64), (E,)).copy())  # noqa: E731
    lr, dropout, norm_penalty = per(lr), per(dropout), per(norm_penalty)
    seeds = np.asarray(seeds, dtype=np.int64)
    groups = np.arange(E) if groups is None else np.asarray(groups)
    unit_ids = np.unique(groups)
    steps_per_epoch = steps_per_epoch or len(X) // batch_size
    correct = torch.as_tensor(correct)
    Xc, Yc = X[correct], (Y[correct] if Y.dim() == 1 else Y[:, correct])
    hyper = (lr.tolist(), dropout.tolist(), norm_penalty.tolist(), penalty_epochs, batch_size, seeds.tolist(),
             sorted(stop.items()), groups.tolist(), None if mixing is None else torch.as_tensor(mixing).tolist(),
             steps_per_epoch)
    ckpt = Checkpoint(checkpoint, fingerprint(arch, [*params, X, Y], hyper))

    U, T = len(unit_ids), stop["max_epochs"] + 1
    state = dict(params=[p.detach().clone() for p in params], epoch=0, stopped=torch.full((U,), -1),
                 loss=torch.full((T, U), torch.nan, dtype=torch.float64), acc=torch.full((T, U), torch.nan,
                                                                                     dtype=torch.float64))
    saved = ckpt.load()  # None without a checkpoint; one of another run is moved aside
    if saved is not None:
        state = saved
        print(f"resumed from checkpoint {checkpoint} at epoch {state['epoch']}", file=progress, flush=True)
    saved_at = time.monotonic()
    while (state["stopped"] < 0).any():  # a finished checkpoint skips the loop
        ep = state["epoch"]
        if ckpt and time.monotonic() - saved_at >= checkpoint_every_s:  # params after `ep` epochs
            ckpt.save(state)
            saved_at = time.monotonic()
        live = torch.nonzero(state["stopped"] < 0).flatten()
        loss, acc = _unit_metrics(arch, state["params"], Xc, Yc, groups, unit_ids[live.numpy()])
        state["loss"][ep, live], state["acc"][ep, live] = loss, acc
        window = slice(max(0, ep + 1 - stop["window"]), ep + 1)
        done = torch.as_tensor(fit_reached(state["loss"][window, live].numpy(), state["acc"][window, live].numpy(),
                                           stop))
        done |= ~torch.isfinite(loss) | (ep >= stop["max_epochs"])  # a diverged member stops too
        state["stopped"][live[done]] = ep
        if progress is not None and ep % 20 == 0:
            print(f"epoch {ep}: {int((state['stopped'] < 0).sum())} of {U} still training, "
                  f"median loss {loss.median().item():.3g}", file=progress, flush=True)
        active_units = unit_ids[(state["stopped"] < 0).numpy()]
        if len(active_units) == 0:
            break
        active = np.flatnonzero(np.isin(groups, active_units))
        idx = torch.as_tensor(active)
        penalty = norm_penalty[idx] if ep < penalty_epochs else 0.0
        res = train(arch, [p[idx] for p in state["params"]], X, Y if Y.dim() == 1 else Y[idx],
                    steps=steps_per_epoch, lr=lr[idx], batch_size=batch_size, loss="cross_entropy",
                    seeds=epoch_seeds(seeds[active], ep), dropout=dropout[idx], norm_penalty=penalty,
                    mixing=None if mixing is None else torch.as_tensor(mixing)[idx][:, idx])
        for p, new in zip(state["params"], res.params):
            p[idx] = new
        state["epoch"] = ep + 1
    ckpt.save(state)  # the finished state: the caller deletes it once its outputs are written
    last = int(state["stopped"].max())
    stopped = state["stopped"].numpy()
    loss_h, acc_h = state["loss"].numpy(), state["acc"].numpy()
    diverged = ~np.isfinite(loss_h[stopped, np.arange(U)])  # stopped on a non-finite loss
    w = stop["window"]
    fitted = np.array([bool(fit_reached(loss_h[max(0, t + 1 - w):t + 1, [u]], acc_h[max(0, t + 1 - w):t + 1, [u]],
                                        stop)[0]) for u, t in enumerate(stopped)]) & ~diverged
    return dict(params=state["params"], loss=loss_h[:last + 1], acc=acc_h[:last + 1], stopped=stopped,
                fitted=fitted, diverged=diverged, diverged_epoch=np.where(diverged, np.maximum(stopped - 1, 0), -1))


@torch.no_grad()
def _unit_metrics(arch, params, Xc, Yc, groups, units):
    """Correct-train loss and accuracy of the given units' networks (the mean of their learners)."""
    merged = unit_networks(params, groups, units)
    if Yc.dim() == 2:  # labels per member, one member per unit
        Yc = Yc[torch.as_tensor([int(np.flatnonzero(groups == u)[0]) for u in units])]
    out = forward(arch, merged, Xc)
    loss = F.cross_entropy(out.transpose(1, 2), Yc.expand(out.shape[:2]), reduction="none").mean(1)
    return loss.double(), (out.argmax(-1) == Yc).double().mean(1)


def unit_networks(params, groups, units=None):
    """Stacked networks of the units (all by default): the mean of each group's learners."""
    groups = np.asarray(groups)
    units = np.unique(groups) if units is None else np.asarray(units)
    members = [torch.as_tensor(np.flatnonzero(groups == u)) for u in units]
    if all(len(m) == 1 for m in members):
        idx = torch.cat(members)
        return [p[idx] for p in params]
    return [torch.stack([p[m].mean(0) for m in members]) for p in params]


def ring_mixing(K: int) -> torch.Tensor:
    """DPSGD gossip on a ring: each learner averages itself and its two neighbours (1/3 each;
    K = 3 is full averaging, so K >= 4 makes a difference)."""
    M = torch.zeros(K, K)
    for k in range(K):
        for j in (k - 1, k, k + 1):
            M[k, j % K] += 1 / 3
    return M


def full_mixing(K: int) -> torch.Tensor:
    """SSGD: every learner takes the average of all K updated learners (= averaged gradients)."""
    return torch.full((K, K), 1 / K)


# ----------------------------------------------------------------------------- the duality
def dual_weight_change(W, a, da):
    """Minimal-norm dW with (W + dW) a = W (a + da): dW = (W da) a^T / |a|^2 ("Duality").

    W (H_out, H_in); a, da (K, H_in) -> (K, H_out, H_in)."""
    return torch.einsum("oi,ki,kj->koj", W, da, a) / (a * a).sum(1)[:, None, None]


def head_losses(W, W3, a, y):
    """Per-sample cross-entropy of the layers above the analysed one: l = CE(W3 relu(W a), y).

    W (H, H) shared or (K, H, H) one per sample; a (K, H)."""
    z = torch.einsum("oi,ki->ko", W, a) if W.dim() == 2 else torch.einsum("koi,ki->ko", W, a)
    return F.cross_entropy(torch.relu(z) @ W3.T, y, reduction="none")


def layer_hessian(W, W3, a, y):
    """Exact Hessian (H^2, H^2) of the mean loss over (a, y) with respect to W, rows in
    W.flatten() order ("Demo setup"): spdl.hessian.layer_hessian (each sample's Hessian in its
    pre-activation z = W a, by double backpropagation, lifted to W) with the head CE(W3 relu(z), y)."""
    return hessian.layer_hessian(W, a, lambda Z: F.cross_entropy(torch.relu(Z) @ W3.T, y, reduction="sum"))


def gauss_newton_hessian(W, W3, a, y):
    """Closed form of the same Hessian: relu'' = 0 almost everywhere, so it is the Gauss-Newton
    matrix mean_k (D W3^T (diag p - p p^T) W3 D)_{os} a_i a_j with D = diag(relu'(W a)).
    An independent check of layer_hessian."""
    z = a @ W.T
    d = (z > 0).to(a.dtype)
    p = torch.softmax(torch.relu(z) @ W3.T, -1)
    Hc = torch.diag_embed(p) - p[:, :, None] * p[:, None, :]  # (K, 10, 10)
    M = d[:, :, None] * (W3.T @ Hc @ W3) * d[:, None, :]  # (K, H, H)
    H = torch.einsum("kos,ki,kj->oisj", M, a, a) / len(a)
    n = W.numel()
    return H.reshape(n, n)


def lanczos_top_eigs(hvp, n: int, k: int, seed: int = 0):
    """Top-k eigenpairs of a symmetric operator given only v -> H v (ARPACK's implicitly restarted
    Lanczos, spdl.hessian.extreme_eigenpairs), for layers too large for the exact Hessian.
    Returns (values desc, vectors (n, k))."""
    return hessian.extreme_eigenpairs(hvp, n, k, "LA", tol=1e-10, seed=seed)


def hessian_vector_product(W, W3, a, y):
    """v -> H v for the mean loss over (a, y) with respect to W (double backpropagation)."""
    with torch.enable_grad():
        w = W.detach().clone().requires_grad_(True)
        grad = torch.autograd.grad(head_losses(w, W3, a, y).mean(), w, create_graph=True)[0].flatten()

    def hvp(v):
        with torch.enable_grad():
            return torch.autograd.grad(grad, w, v.to(grad.dtype), retain_graph=True)[0].flatten()
    return hvp


def decompose(dW, dl, V):
    """Projections of the dual weight changes on the Hessian eigenvectors and the gap terms
    ("Decomposition"): theta_kn = dW_k . v_n, g_k = dl_k dW_k / |dW_k|^2 (so g_k . dW_k = dl_k),
    g_kn = g_k . v_n; means, standard deviations (over k) and correlations c_n.

    dW (K, P), dl (K,), V (P, n) orthonormal columns. With n = P the terms sum exactly to
    mean_k dl_k = sum_n (mu_g mu_w + c sigma_g sigma_w).
    """
    theta = dW @ V
    size2 = (dW * dW).sum(1)
    g = torch.where(size2 > 0, dl / size2, 0.0)[:, None] * theta  # dW_k = 0 (x'_k = x_k) has dl_k = 0
    mu_w, mu_g = theta.mean(0), g.mean(0)
    s_w, s_g = theta.std(0, correction=0), g.std(0, correction=0)
    cov = ((theta - mu_w) * (g - mu_g)).mean(0)
    c = torch.where(s_w * s_g > 0, cov / (s_w * s_g), torch.zeros_like(cov))
    return dict(mu_w=mu_w, mu_g=mu_g, sigma_w=s_w, sigma_g=s_g, c=c, mean_term=mu_g * mu_w, sigma_term=cov)


def _eigh(H):
    """torch.linalg.eigh, or numpy's LAPACK call when torch's fails to converge: single-threaded torch
    gives up on some Hessians with many exactly-zero eigenvalues (dead units) that numpy decomposes."""
    try:
        return torch.linalg.eigh(H)
    except torch.linalg.LinAlgError:
        eig, V = np.linalg.eigh(H.numpy())
        return torch.from_numpy(eig), torch.from_numpy(V)


def analyse(params, x_train, y_train, x_test, y_test, pair, *, sharp: int = 10, exact_max: int = 4096,
            lanczos_k: int = 100) -> dict:
    """The full activity-weight analysis of one trained network ([W1, W, W3], no biases).

    pair: index of each test sample's nearest same-label training sample (nearest_same_label).
    Returns scalars (losses, gap, estimate and its parts, duality errors, norms) and per-direction
    arrays in order of decreasing Hessian eigenvalue (eig, sigma_g, sigma_w, c, mu terms).
    """
    W1, W, W3 = (p.detach().double() for p in params)
    xtr, xte = torch.as_tensor(x_train).double(), torch.as_tensor(x_test).double()
    ytr, yte = torch.as_tensor(y_train), torch.as_tensor(y_test)
    a_tr, a_te = torch.relu(xtr @ W1.T), torch.relu(xte @ W1.T)
    l_tr, l_te = head_losses(W, W3, a_tr, ytr), head_losses(W, W3, a_te, yte)

    a = a_tr[pair]
    ok = (a * a).sum(1) > 0  # a training sample with no active unit admits no dual weights
    dW = dual_weight_change(W, a[ok], (a_te - a_tr[pair])[ok])
    l_dual = head_losses(W + dW, W3, a[ok], yte[ok])  # loss of x_k at W + dW_k
    err = torch.full((len(pair),), torch.nan, dtype=l_te.dtype)  # NaN where no dual weights exist
    err[ok] = (l_dual - l_te[ok]).abs()
    dl = l_dual - l_tr[pair][ok]

    P = W.numel()
    if P <= exact_max:
        eig, V = _eigh(layer_hessian(W, W3, a_tr, ytr))
        eig, V = eig.flip(0), V.flip(1)
    else:
        vals, vecs = lanczos_top_eigs(hessian_vector_product(W, W3, a_tr, ytr), P, lanczos_k)
        eig, V = torch.from_numpy(vals.copy()), torch.from_numpy(vecs.copy())
    d = decompose(dW.flatten(1), dl, V)
    order = torch.argsort(d["sigma_g"], descending=True)
    sigma_term = d["sigma_term"]
    estimate = float(dl.mean())  # = sum of all terms over a complete eigenbasis
    return dict(
        train_loss=float(l_tr.mean()), test_loss=float(l_te.mean()), gap=float(l_te.mean() - l_tr.mean()),
        estimate=estimate, sigma_part=float(sigma_term.sum()), mean_part=float(d["mean_term"].sum()),
        sharp_part=float(sigma_term[order[:sharp]].sum()), rest_part=estimate - float(d["mean_term"].sum() +
                                                                                        sigma_term.sum()),
        sigma_g_total=float(torch.sqrt((d["sigma_g"] ** 2).sum())),
        sigma_w_total=float(torch.sqrt((d["sigma_w"] ** 2).sum())),
        test_acc=float((torch.relu(a_te @ W.T) @ W3.T).argmax(1).eq(yte).double().mean()),
        weight_norm=float(W.norm()), n_pairs=int(ok.sum()), n_dead=int((~ok).sum()),
        dual_abs_err=err.numpy(), dual_rel_err=(err / l_te.abs().clamp_min(1e-300)).numpy(),
        eig=eig.numpy(), **{k: v.numpy() for k, v in d.items()},
    )


SCALAR_RESULTS = ("train_loss", "test_loss", "gap", "estimate", "sigma_part", "mean_part", "sharp_part", "rest_part",
                  "sigma_g_total", "sigma_w_total", "test_acc", "weight_norm", "n_pairs", "n_dead")
PAIR_RESULTS = ("dual_abs_err", "dual_rel_err")
DIRECTION_RESULTS = ("eig", "mu_w", "mu_g", "sigma_w", "sigma_g", "c", "mean_term", "sigma_term")


def nan_analysis(n_weights: int, n_pairs: int, *, exact_max: int = 4096, lanczos_k: int = 100, **_) -> dict:
    """What analyse() returns, all NaN: the record of a network that diverged (nothing to analyse)."""
    n_dir = n_weights if n_weights <= exact_max else lanczos_k
    return ({k: np.nan for k in SCALAR_RESULTS} | {k: np.full(n_pairs, np.nan) for k in PAIR_RESULTS}
            | {k: np.full(n_dir, np.nan) for k in DIRECTION_RESULTS})


def analyse_networks(params, x_train, y_train, x_test, y_test, pair, **kw) -> dict:
    """analyse() for every member of stacked params; the arrays stacked along a leading member axis,
    NaN rows for members with non-finite weights (diverged), plus a `diverged` flag. A job whose
    members all diverged is recorded as such (all NaN), not an error."""
    template = nan_analysis(params[1][0].numel(), len(pair), **kw)
    rows = [analyse([p[e] for p in params], x_train, y_train, x_test, y_test, pair, **kw)
            if all(torch.isfinite(p[e]).all() for p in params) else template for e in range(params[0].shape[0])]
    out = {k: np.stack([r[k] for r in rows]) for k in template}
    out["diverged"] = np.array([r is template for r in rows])
    return out


def correlation(x, y) -> float:
    """Pearson correlation of two samples (NaN-free entries only)."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    return float(np.corrcoef(x[ok], y[ok])[0, 1]) if ok.sum() > 2 else math.nan

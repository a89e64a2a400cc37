"""Phases of SGD learning with mislabeled data: data, order parameters, phase rules, cleaning.

Reference: Y. Feng & Y. Tu, "Phases of learning dynamics in artificial neural networks
in the absence or presence of mislabeled data", Mach. Learn.: Sci. Technol. 2, 043001
(2021), arXiv:2101.06509; the group's conventions (labels guaranteed wrong, order parameters)
follow their public code (GitHub YuFengDuke/A-W-Duality-Project).

Conventions
- A data set is ``n_correct`` correctly labeled samples plus ``n_mis = round(n_correct *
  rho / (1 - rho))`` extra samples whose labels are guaranteed wrong.
  The correct samples are the same for every rho, so rho = 0 *is* clean training.
- Time is the number of SGD updates (steps). Gradients are of the mean cross-entropy.
- Every function takes ensembles (leading member axis E) as in :mod:`spdl.models`.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy.stats import rankdata
from sklearn.metrics import roc_auc_score

from spdl.datasets import wrong_labels  # noqa: F401  (part of this module's API)
from spdl.models import forward
from spdl.stats import first_crossing as crossing_interpolated  # the rules in log time
from spdl.stats import spearman  # noqa: F401  (part of this module's API)

PHASES = ("I", "II", "III", "IV")


# ----------------------------------------------------------------------------- data
def n_mislabeled(n_correct: int, rho: float) -> int:
    """Extra mislabeled samples so that they are a fraction rho of the whole set: n_c rho / (1 - rho)."""
    if not 0 <= rho < 1:
        raise ValueError(f"rho must lie in [0, 1), got {rho}")
    return int(round(n_correct * rho / (1 - rho)))


def make_split(y_pool, n_correct: int, rho: float, seed: int, label_seeds) -> dict:
    """Indices into a pool of n_correct correct + n_mis mislabeled samples, and labels per seed.

    The pool is permuted once with `seed`: the first n_correct samples are the correct set
    (identical for every rho), the next n_mis get wrong labels, one draw per label seed.
    Returns idx (N,), is_mis (N,) bool, y_true (N,), labels (S, N) with S = len(label_seeds).
    """
    n_mis = n_mislabeled(n_correct, rho)
    if n_correct + n_mis > len(y_pool):
        raise ValueError(f"need {n_correct + n_mis} samples, the pool has {len(y_pool)}")
    idx = np.random.default_rng(seed).permutation(len(y_pool))[:n_correct + n_mis]
    y_true = np.asarray(y_pool)[idx].astype(np.int64)
    is_mis = np.arange(len(idx)) >= n_correct
    labels = np.stack([np.concatenate([y_true[:n_correct], wrong_labels(y_true[n_correct:], s)])
                       for s in label_seeds])
    return dict(idx=idx, is_mis=is_mis, y_true=y_true, labels=labels)


# ----------------------------------------------------------------------------- statistics
def midranks(x) -> np.ndarray:
    """Ranks 1..n of x along the last axis, ties sharing their average rank (scipy.stats.rankdata)."""
    return rankdata(np.asarray(x, dtype=np.float64), method="average", axis=-1)


def roc_auc(pos, neg) -> float:
    """ROC AUC of scores, pos against neg (sklearn.metrics.roc_auc_score): P(pos > neg) + P(tie)/2;
    NaN if a side is empty or a score is not finite (the losses of a diverged member: no ranking).

    Used with per-sample losses: pos = mislabeled, neg = correct ("What to build": separation)."""
    pos, neg = np.asarray(pos, np.float64).ravel(), np.asarray(neg, np.float64).ravel()
    if len(pos) == 0 or len(neg) == 0 or not (np.isfinite(pos).all() and np.isfinite(neg).all()):
        return float("nan")
    return float(roc_auc_score(np.r_[np.ones(len(pos)), np.zeros(len(neg))], np.r_[pos, neg]))


# ----------------------------------------------------------------------------- order parameters
def member_grads(arch, params, x, y) -> torch.Tensor:
    """(E, P) flat gradient of every member's mean cross-entropy on (x, y); y (B,) or (E, B)."""
    with torch.enable_grad():
        ps = [p.detach().requires_grad_(True) for p in params]
        out = forward(arch, ps, x)
        loss = F.cross_entropy(out.transpose(1, 2), y.expand(out.shape[:2]), reduction="none").mean(1)
        grads = torch.autograd.grad(loss.sum(), ps)  # members are independent: each gets its own
    return torch.cat([g.flatten(1) for g in grads], 1)


def _cos(a, b):
    return (a * b).sum(-1) / (a.norm(dim=-1) * b.norm(dim=-1)).clamp_min(1e-30)


def minibatch_alignment(G) -> tuple[torch.Tensor, torch.Tensor]:
    """G (k, E, P) minibatch gradients -> (mean pairwise cosine over i < j, mean norm), each (E,).

    The alignment of the minibatch-gradient ensemble and its mean amplitude ("Claims")."""
    k = G.shape[0]
    U = G / G.norm(dim=-1, keepdim=True).clamp_min(1e-30)
    C = torch.einsum("iep,jep->eij", U, U)
    off = (C.sum((1, 2)) - C.diagonal(dim1=1, dim2=2).sum(1)) / (k * (k - 1))
    return off, G.norm(dim=-1).mean(0)


class OrderParameters:
    """metrics(params, step) for spdl.engine.train: the order parameters of "What to build".

    X (N, d) shared, labels Y (E, N) per member, is_mis (N,) bool; test set (x_test, y_test).
    Per member and record: acc/loss on the correct subset (cor), the mislabeled subset with its
    given labels (mis) and the test set; g_cor, g_mis = full-subset mean gradients, their cosine
    `cos_cm` and strength `ratio` = |rho g_mis| / |(1 - rho) g_cor|; `align` and `gnorm` of
    k minibatch gradients (batch_size, drawn from the whole training set); `auc` = ROC AUC of
    per-sample losses, mislabeled vs correct. Values that need a mislabeled sample are NaN at rho = 0.
    Gradient order parameters are computed for the first n_grad members only (NaN for the rest,
    which get accuracies and losses): they cost a full-data backward pass per record.
    """

    def __init__(self, arch, X, Y, is_mis, x_test, y_test, *, n_batches=8, batch_size=50, seed=0, n_grad=None):
        self.arch, self.X, self.Y, self.n_grad = arch, X, Y, n_grad
        self.mis = torch.as_tensor(is_mis, dtype=torch.bool)
        self.x_test, self.y_test = x_test, y_test
        self.k, self.b, self.seed = n_batches, batch_size, seed
        self.rho = float(self.mis.float().mean())

    def subset(self, params, mask):
        """acc, loss (E,), per-sample losses (E, n) on the samples in mask; mean gradient (n_grad, P)."""
        x, y, g = self.X[mask], self.Y[:, mask], self.n_grad
        with torch.enable_grad():
            ps = [p[:g].detach().requires_grad_(True) for p in params]
            out = forward(self.arch, ps, x)
            per = F.cross_entropy(out.transpose(1, 2), y[:g], reduction="none")
            grad = torch.autograd.grad(per.mean(1).sum(), ps)
        if g < params[0].shape[0]:  # members without gradient order parameters: forward only
            rest = forward(self.arch, [p[g:] for p in params], x)
            out = torch.cat([out.detach(), rest])
            per = torch.cat([per.detach(), F.cross_entropy(rest.transpose(1, 2), y[g:], reduction="none")])
        acc = (out.detach().argmax(-1) == y).float().mean(1)
        return acc, per.detach().mean(1), torch.cat([t.flatten(1) for t in grad], 1), per.detach()

    def __call__(self, params, step):
        E = params[0].shape[0]
        self.n_grad = E if self.n_grad is None else min(self.n_grad, E)
        nan = torch.full((E,), float("nan"))
        pad = lambda v: torch.cat([v, nan[v.shape[0]:]])  # noqa: E731  (n_grad,) -> (E,)
        acc_c, loss_c, g_c, per_c = self.subset(params, ~self.mis)
        row = dict(acc_cor=acc_c, loss_cor=loss_c, gnorm_cor=pad(g_c.norm(dim=1)))
        if self.mis.any():
            acc_m, loss_m, g_m, per_m = self.subset(params, self.mis)
            ratio = self.rho * g_m.norm(dim=1) / ((1 - self.rho) * g_c.norm(dim=1)).clamp_min(1e-30)
            row.update(acc_mis=acc_m, loss_mis=loss_m, gnorm_mis=pad(g_m.norm(dim=1)), cos_cm=pad(_cos(g_c, g_m)),
                       ratio=pad(ratio), auc=torch.tensor([roc_auc(per_m[e], per_c[e]) for e in range(E)]))
            g_full = (1 - self.rho) * g_c + self.rho * g_m
        else:
            row.update(acc_mis=nan, loss_mis=nan, gnorm_mis=nan, cos_cm=nan, ratio=nan, auc=nan)
            g_full = g_c
        row["gnorm_full"] = pad(g_full.norm(dim=1))
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + int(step))
        G = []
        for _ in range(self.k):  # the same k minibatches for every member (their labels differ)
            idx = torch.randperm(self.X.shape[0], generator=gen)[:self.b]
            G.append(member_grads(self.arch, [p[:self.n_grad] for p in params], self.X[idx], self.Y[:self.n_grad, idx]))
        align, gnorm = minibatch_alignment(torch.stack(G))
        row["align"], row["gnorm"] = pad(align), pad(gnorm)
        out = forward(self.arch, params, self.x_test)
        row["acc_test"] = (out.argmax(-1) == self.y_test).float().mean(1)
        row["loss_test"] = F.cross_entropy(out.transpose(1, 2), self.y_test.expand(out.shape[:2]),
                                           reduction="none").mean(1)
        return row


# ----------------------------------------------------------------------------- phase rules
def first_crossing(t, y, level, start=0) -> float:
    """First t[i], i >= start, with y[i] >= level; NaN if none."""
    t, y = np.asarray(t, float), np.asarray(y, float)
    hit = np.flatnonzero(np.nan_to_num(y[start:], nan=-np.inf) >= level)
    return float(t[start + hit[0]]) if len(hit) else float("nan")


def running_median(y, w=3) -> np.ndarray:
    """Median over a centred window of w records (shrunk at the ends)."""
    y = np.asarray(y, float)
    h = w // 2
    return np.array([np.nanmedian(y[max(0, i - h):i + h + 1]) for i in range(len(y))])


def log_time_crossing(t, y, level, start_t=1.0) -> float:
    """First time t >= start_t at which y reaches level, linearly interpolated in log t between records
    (spdl.stats.first_crossing on log10 t); the first record from start_t on if y is already >= level
    there; NaN if never (or if start_t is not finite)."""
    t, y = np.asarray(t, float), np.asarray(y, float)
    if not np.isfinite(start_t):
        return float("nan")
    keep = (t >= start_t) & (t > 0)
    if not keep.any():
        return float("nan")
    x = crossing_interpolated(np.log10(t[keep]), y[keep], level)
    return float(10 ** x) if np.isfinite(x) else float("nan")


def fit_transition(t, acc, fit=0.95) -> float:
    """Rule A (fast learning -> exploration, rho = 0, "Claims"): the first time the training accuracy
    reaches `fit` (the "all samples fitted" level that starts phase IV at rho > 0), interpolated in log t.
    Defined from the accuracy, so it is independent of the gradient order parameters tested around it."""
    return log_time_crossing(t, acc, fit)


def strength_crossing(t, ratio, t_I) -> float:
    """t_R: first time >= t_I at which the relative strength |rho g_m| / |(1 - rho) g_c| reaches 1
    (interpolated in log t; t_I's record if it is already >= 1 there); NaN if never or t_I not found.
    The abstract's mechanism puts it at the II -> III transition."""
    return log_time_crossing(t, ratio, 1.0, start_t=t_I)


def window_ratio(t, y, t0, decades=1.0) -> tuple[float, float]:
    """Means of y over the decade before t0, [t0 10^-d, t0), and the decade after, (t0, t0 10^d]."""
    t, y = np.asarray(t, float), np.asarray(y, float)
    before = (t >= t0 / 10 ** decades) & (t < t0)
    after = (t > t0) & (t <= t0 * 10 ** decades)
    return float(np.nanmean(y[before])), float(np.nanmean(y[after]))


def detect_phases(t, acc_cor, acc_mis, *, cor_level=0.95, rise=0.1, fit=0.95) -> dict:
    """Transition times of one run (rho > 0) from its curves, by explicit rules.

    t_I   (I -> II):   first t with correct-subset accuracy >= cor_level x its maximum before t_III
                       (the correct samples are fitted to within the plateau they keep in phase II);
    t_III (II -> III): first t after the minimum of mislabeled accuracy at which it exceeds that
                       minimum by `rise` (the mislabeled samples start being learned);
    t_IV  (III -> IV): first t >= t_III with mislabeled accuracy >= `fit` (all samples fitted).
    Missing transitions are NaN. t_III is found first because t_I's plateau is measured before it.
    """
    t, a_c, a_m = (np.asarray(v, float) for v in (t, acc_cor, acc_mis))
    if not np.isfinite(a_m).any():  # rho = 0: only the end of phase I exists
        return dict(t_I=first_crossing(t, a_c, cor_level * np.nanmax(a_c)), t_III=np.nan, t_IV=np.nan)
    i_min = int(np.nanargmin(a_m))
    t3 = first_crossing(t, a_m, a_m[i_min] + rise, start=i_min)
    before = t < t3 if np.isfinite(t3) else np.ones_like(t, bool)
    t1 = first_crossing(t, a_c, cor_level * np.nanmax(a_c[before]))
    t4 = first_crossing(t, a_m, fit, start=int(np.searchsorted(t, t3))) if np.isfinite(t3) else float("nan")
    if np.isfinite(t1) and np.isfinite(t3) and t1 > t3:  # phase II has no record of its own
        t1 = t3
    return dict(t_I=t1, t_III=t3, t_IV=t4)


def phase_at(t, times: dict) -> np.ndarray:
    """Phase index 0..3 (I..IV) at each t given {t_I, t_III, t_IV}; NaN boundaries are never reached."""
    t = np.asarray(t, float)
    ph = np.zeros(t.shape, int)
    for k, key in enumerate(("t_I", "t_III", "t_IV"), start=1):
        b = times.get(key, np.nan)
        if np.isfinite(b):
            ph[t >= b] = k
    return ph


# ----------------------------------------------------------------------------- cleaning
def clean_selection(losses, n_remove: int) -> np.ndarray:
    """Boolean mask of the n_remove samples with the highest loss ("Claims": cleaning in phase II)."""
    losses = np.asarray(losses, float)
    drop = np.zeros(len(losses), bool)
    if n_remove > 0:
        drop[np.argsort(-losses, kind="stable")[:n_remove]] = True
    return drop


def precision_recall(removed, is_mis) -> tuple[float, float]:
    """Precision = mislabeled among the removed; recall = removed among the mislabeled."""
    removed, is_mis = np.asarray(removed, bool), np.asarray(is_mis, bool)
    tp = float((removed & is_mis).sum())
    prec = tp / removed.sum() if removed.any() else float("nan")
    rec = tp / is_mis.sum() if is_mis.any() else float("nan")
    return prec, rec

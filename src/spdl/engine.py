"""Ensemble training: plain SGD on E independent networks at once.

Members may differ in initialisation, learning rate, weight decay, minibatch
seed, dropout, norm penalty, noise and even training targets. Their losses are
independent, so one backward pass of sum_e loss_e gives every member exactly its
own gradient.

Conventions
- Update: p <- p - lr_e * (grad_e + wd_e * p) for every parameter, weights and biases alike,
  where grad_e is the gradient of loss_e + beta_e * ||theta_e||_2 (norm penalty over all
  parameters, Feng, Zhang & Tu 2023); then p <- p + noise_e * xi with xi ~ N(0, 1)
  (Langevin dynamics at temperature T: noise_e = sqrt(2 lr_e T)); then, if a mixing matrix M
  is given, p_e <- sum_f M_ef p_f (gossip or synchronous averaging between learners).
- Dropout p_e: inverted dropout on the first hidden layer during updates only; the
  full-training-set losses are evaluated without it.
- Randomness (reshuffles, dropout masks, noise) of member e comes from its own generator
  seeded by seeds[e], and a member draws only what it uses, so without mixing a member
  trained inside an ensemble is the same network as trained alone.
- Divergence: a member whose loss (the training-batch loss at the start of a step, the
  full-training-set loss at a recorded step) is non-finite or above diverge_threshold,
  or whose final parameters are non-finite, is marked diverged at that step k (= after
  k updates). Its parameters are set to NaN and stay NaN, which freezes it (NaN never
  leaks into other members: every member has its own rows of every matmul), and its
  history is NaN from step k on. Divergence is a recorded outcome, never an exception.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from spdl.io import atomic_path
from spdl.models import MLP, forward


@dataclass
class TrainResult:
    params: list[torch.Tensor]  # final stacked params
    steps: np.ndarray  # (R,) recorded steps (sorted, unique; 0 = before any update)
    history: dict[str, np.ndarray]  # metric name -> (R, E) float64; NaN for a member after it diverged
    diverged: np.ndarray  # (E,) bool
    diverged_step: np.ndarray  # (E,) int, -1 if never


def set_threads(n: int) -> None:
    """Use n threads for torch ops (call once, early, from a rule script)."""
    torch.set_num_threads(int(n))
    try:
        torch.set_num_interop_threads(int(n))
    except RuntimeError:  # only allowed before the first parallel op
        pass


def sample_losses(out, y, loss):
    """Per-sample losses (E, B): 0.5 * ||out - y||^2 for "mse"/"mse_sum", or cross-entropy."""
    if loss == "cross_entropy":
        return F.cross_entropy(out.transpose(1, 2), y.expand(out.shape[:2]), reduction="none")
    return 0.5 * F.mse_loss(out, y.expand_as(out), reduction="none").sum(-1)  # fused backward


def reduce_losses(per_sample, loss):
    """(E, B) -> (E,): mean over samples, except "mse_sum" which sums (Saxe et al.)."""
    return per_sample.sum(1) if loss == "mse_sum" else per_sample.mean(1)


@torch.no_grad()
def full_loss(arch, params, X, Y, loss, chunk=4096):
    """Loss of every member on the whole training set, (E,), evaluated in chunks of samples."""
    N, y_axis = X.shape[-2], (-1 if loss == "cross_entropy" else -2)
    total = 0.0
    for i in range(0, N, chunk):
        n = min(chunk, N - i)
        out = forward(arch, params, X.narrow(-2, i, n))
        total = total + sample_losses(out, Y.narrow(y_axis, i, n), loss).sum(1)
    return total if loss == "mse_sum" else total / N


def _per_member(v, E, name, dtype):
    v = torch.as_tensor(v, dtype=dtype).flatten()
    if v.numel() == 1:
        v = v.expand(E)
    if v.numel() != E:
        raise ValueError(f"{name} must be a float or have {E} entries, got {v.numel()}")
    return v.clone()


def _prepare_data(arch, X, Y, E, loss, dtype):
    """Tensors X (N, d) or (E, N, d); Y (N, d_out) or (E, N, d_out), labels (N,) or (E, N)."""
    X = torch.as_tensor(X, dtype=dtype)
    if loss == "cross_entropy":
        return X, torch.as_tensor(Y, dtype=torch.int64)
    Y = torch.as_tensor(Y, dtype=dtype)
    N, d_out = X.shape[-2], arch.widths[-1]
    if Y.dim() == 1 or (Y.dim() == 2 and Y.shape == (E, N) and Y.shape != (N, d_out)):
        Y = Y.unsqueeze(-1)  # (N,) shared or (E, N) per member, with d_out = 1
    return X, Y


def _rows(T, idx, shared):
    """Samples idx (E, B) of T, shared (N, ...) or per member (E, N, ...) -> (E, B, ...)."""
    E, B = idx.shape
    if not shared:
        idx, T = idx + T.shape[1] * torch.arange(E)[:, None], T.flatten(0, 1)
    return T.index_select(0, idx.flatten()).view(E, B, *T.shape[1:])  # faster than T[idx]


def _keep_mask(rates, gens, B, width, dtype):
    """Inverted-dropout multipliers (E, B, width); member e draws from its generator only if rate_e > 0."""
    masks = [torch.ones(B, width, dtype=dtype) if p == 0 else
             (torch.rand(B, width, generator=g, dtype=dtype) >= p).to(dtype) / (1 - p)
             for p, g in zip(rates.tolist(), gens)]
    return torch.stack(masks)


def _member_noise(stds, gens, p):
    """Gaussian noise shaped like the stacked parameter p; member e draws only if stds_e > 0."""
    return torch.stack([torch.zeros(p.shape[1:], dtype=p.dtype) if s == 0 else
                        s * torch.randn(p.shape[1:], generator=g, dtype=p.dtype)
                        for s, g in zip(stds.tolist(), gens)])


def _norms(params):
    """||theta_e||_2 over all parameters of each member, (E,)."""
    return torch.sqrt(sum(p.flatten(1).square().sum(1) for p in params))


def _fingerprint(arch, params, X, Y, hyper) -> str:
    h = hashlib.sha256(repr((arch, hyper)).encode())
    for t in [*params, X, Y]:
        h.update(repr((tuple(t.shape), str(t.dtype))).encode())
        h.update(t.detach().contiguous().numpy().tobytes())
    return h.hexdigest()


def train(arch: MLP, params, X, Y, *, steps: int, lr, weight_decay=0.0, batch_size=None, loss="mse",
          seeds=None, record_at=(), metrics=None, progress=None, checkpoint=None, checkpoint_every=1000,
          diverge_threshold=1e8, dropout=0.0, norm_penalty=0.0, noise_std=0.0, mixing=None,
          observe=None) -> TrainResult:
    """Train an ensemble with plain (minibatch) SGD for `steps` updates; see the module docstring.

    X: (N, d_in) shared or (E, N, d_in) per member; Y: (N, d_out)/(N,) or (E, N, d_out)/(E, N),
    int64 labels for loss="cross_entropy". lr, weight_decay: float or one value per member.
    batch_size None = full batch; else member e reshuffles with its own generator seeded by
    seeds[e] (default 0..E-1) every epoch and drops the last incomplete batch.
    record_at: steps where history["loss"] (full training set) and metrics(params, step) -> {name: (E,)}
    are stored; metrics gets the live parameters: read them, never modify them.
    dropout, norm_penalty, noise_std: float or one value per member; mixing: (E, E) row-stochastic
    matrix, block diagonal over independent groups of learners (a diverged learner poisons its group).
    observe(params, k): called after every update k = 1..steps with the live parameters (read only).
    progress: file for a tqdm bar. checkpoint: path written every checkpoint_every steps, resumed
    from when its fingerprint (arch, data, initial params, hyperparameters) matches, deleted at the end.
    """
    if loss not in ("mse", "mse_sum", "cross_entropy"):
        raise ValueError(f"unknown loss {loss!r}")
    E, dtype = params[0].shape[0], params[0].dtype  # float32 normally; float64 works too
    X, Y = _prepare_data(arch, X, Y, E, loss, dtype)
    N = X.shape[-2]
    lr, wd = _per_member(lr, E, "lr", dtype), _per_member(weight_decay, E, "weight_decay", dtype)
    drop, beta = _per_member(dropout, E, "dropout", dtype), _per_member(norm_penalty, E, "norm_penalty", dtype)
    noise = _per_member(noise_std, E, "noise_std", dtype)
    if not ((drop >= 0) & (drop < 1)).all():
        raise ValueError(f"dropout must lie in [0, 1), got {drop.tolist()}")
    if mixing is not None:
        mixing = torch.as_tensor(mixing, dtype=dtype)
        if mixing.shape != (E, E):
            raise ValueError(f"mixing must be ({E}, {E}), got {tuple(mixing.shape)}")
    seeds = list(range(E)) if seeds is None else [int(s) for s in seeds]
    if batch_size is not None and not (len(seeds) == E and 0 < batch_size <= N):
        raise ValueError(f"need {E} seeds and 0 < batch_size <= N={N}, got {len(seeds)}, {batch_size}")
    record = sorted({int(s) for s in record_at})
    if record and not 0 <= record[0] <= record[-1] <= steps:
        raise ValueError(f"record_at must lie in [0, {steps}]")
    row_of = {s: i for i, s in enumerate(record)}
    y_shared_dim = 1 if loss == "cross_entropy" else 2
    use_wd, use_drop, use_beta, use_noise = bool(wd.any()), bool(drop.any()), bool(beta.any()), bool(noise.any())

    # ---- state: everything a checkpoint must hold to continue bitwise identically
    params = [p.detach().clone().requires_grad_(True) for p in params]
    gens = [torch.Generator().manual_seed(s) for s in seeds]
    perms, pos = torch.empty(E, N, dtype=torch.int64), N  # current epoch's shuffles; N = draw new ones
    history = {"loss": torch.full((len(record), E), float("nan"), dtype=torch.float64)}  # name -> (R, E)
    diverged_step = torch.full((E,), -1, dtype=torch.int64)
    start = 0
    hyper = (steps, lr.tolist(), wd.tolist(), batch_size, loss, seeds, record, float(diverge_threshold),
             drop.tolist(), beta.tolist(), noise.tolist(), None if mixing is None else mixing.tolist())
    fingerprint = _fingerprint(arch, params, X, Y, hyper) if checkpoint else None

    if checkpoint and os.path.exists(checkpoint):
        ckpt = torch.load(checkpoint, weights_only=True)
        if ckpt["fingerprint"] != fingerprint:
            print(f"checkpoint {checkpoint} is from a different run; starting over")
        else:
            start, pos, perms = ckpt["step"], ckpt["pos"], ckpt["perms"]
            history, diverged_step = ckpt["history"], ckpt["diverged_step"]
            with torch.no_grad():
                for p, saved in zip(params, ckpt["params"]):
                    p.copy_(saved)
            for g, state in zip(gens, ckpt["gen_states"]):
                g.set_state(state)
            print(f"resumed from checkpoint {checkpoint} at step {start}")

    def mark_diverged(bad, step):
        new = bad & (diverged_step < 0)
        if new.any():
            diverged_step[new] = step
            with torch.no_grad():
                for p in params:
                    p[new] = float("nan")

    bar = tqdm(total=steps, initial=start, file=progress, mininterval=5.0, disable=progress is None,
               desc="train", unit="step")
    for step in range(start, steps + 1):
        if checkpoint and step % checkpoint_every == 0 and start < step < steps:
            with atomic_path(checkpoint) as tmp:
                torch.save({"fingerprint": fingerprint, "step": step, "pos": pos, "perms": perms,
                            "params": [p.detach() for p in params], "gen_states": [g.get_state() for g in gens],
                            "history": history, "diverged_step": diverged_step}, tmp)

        if step in row_of:  # full-training-set loss and metrics
            row = {"loss": full_loss(arch, params, X, Y, loss)}
            mark_diverged(~torch.isfinite(row["loss"]) | (row["loss"] > diverge_threshold), step)
            if metrics is not None:
                with torch.no_grad():
                    row.update(metrics([p.detach() for p in params], step))
        elif step == steps:  # the last update has no batch loss after it: check the parameters instead
            mark_diverged(~torch.stack([p.detach().flatten(1).isfinite().all(1) for p in params]).all(0), step)

        if step < steps:
            if batch_size is None:
                xb, yb = X, Y
            else:
                if pos + batch_size > N:  # new epoch: every member reshuffles with its own generator
                    perms = torch.stack([torch.randperm(N, generator=g) for g in gens])
                    pos = 0
                idx = perms[:, pos:pos + batch_size]
                pos += batch_size
                xb, yb = _rows(X, idx, X.dim() == 2), _rows(Y, idx, Y.dim() == y_shared_dim)
            keep = _keep_mask(drop, gens, xb.shape[-2], arch.widths[1], dtype) if use_drop else None
            losses = reduce_losses(sample_losses(forward(arch, params, xb, keep), yb, loss), loss)
            grads = torch.autograd.grad(losses.sum(), params)
            with torch.no_grad():
                # d(beta ||theta||)/dtheta = (beta / ||theta||) theta: the penalty is a weight decay
                decay = wd + torch.where(beta > 0, beta / _norms(params), 0.0) if use_beta else wd
                for p, g in zip(params, grads):  # p -= lr_e * (g + decay_e * p), in place on the fresh g
                    shape = (E,) + (1,) * (p.dim() - 1)
                    if use_wd or use_beta:
                        g.addcmul_(p, decay.view(shape))
                    p.addcmul_(g, lr.view(shape), value=-1)
                    if use_noise:
                        p.add_(_member_noise(noise, gens, p))
                    if mixing is not None:
                        p.copy_((mixing @ p.flatten(1)).view_as(p))
            mark_diverged(~torch.isfinite(losses.detach()) | (losses.detach() > diverge_threshold), step)
            bar.update(1)
            if observe is not None:
                observe([p.detach() for p in params], step + 1)

        if step in row_of:
            dead = (diverged_step >= 0) & (diverged_step <= step)
            for name, value in row.items():
                value = torch.as_tensor(value, dtype=torch.float64).detach().reshape(E).clone()
                value[dead] = float("nan")
                history.setdefault(name, torch.full((len(record), E), float("nan"), dtype=torch.float64))
                history[name][row_of[step]] = value
    bar.close()

    if checkpoint and os.path.exists(checkpoint):
        os.remove(checkpoint)
    return TrainResult(params=[p.detach() for p in params], steps=np.array(record, dtype=np.int64),
                       history={k: v.numpy() for k, v in history.items()},
                       diverged=(diverged_step >= 0).numpy(), diverged_step=diverged_step.numpy())

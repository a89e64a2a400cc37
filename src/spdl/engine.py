"""Ensemble training: E independent networks at once, each updated by a per-member rule.

Members may differ in initialisation, learning rate, weight decay, minibatch
seed, dropout, norm penalty, noise, update-rule hyperparameters and even training
targets. Their losses are independent, so one backward pass of sum_e loss_e gives
every member exactly its own gradient.

Conventions
- Update (default rule SGD): p <- p - lr_e * (grad_e + wd_e * p) for every parameter, weights and
  biases alike, where grad_e is the gradient of loss_e + beta_e * ||theta_e||_2 (norm penalty over
  all parameters, Feng, Zhang & Tu 2023); then p <- p + noise_e * xi with xi ~ N(0, 1) (Langevin
  dynamics at temperature T: noise_e = sqrt(2 lr_e T)); then, if a mixing matrix M is given,
  p_e <- sum_f M_ef p_f (gossip or synchronous averaging between learners). Another rule replaces
  the first step only: weight decay and norm penalty enter through the gradients the rule asks
  for, noise_std and mixing are applied after every rule.
- Dropout p_e: inverted dropout on the first hidden layer during updates only; the
  full-training-set losses are evaluated without it.
- Randomness (reshuffles, dropout masks, noise) of member e comes from its own generator
  seeded by seeds[e], and a member draws only what it uses, so without mixing a member
  trained inside an ensemble is the same network as trained alone. Generators live on the CPU
  whatever the device (spdl.device): the same draws on every device.
- Divergence: a member whose loss (the training-batch loss at the start of a step, the
  full-training-set loss at a recorded step) is non-finite or above diverge_threshold,
  or whose final parameters are non-finite, is marked diverged at that step k (= after
  k updates). Its parameters are set to NaN and stay NaN (the engine re-applies NaN after every
  update, whatever the rule does), which freezes it (NaN never leaks into other members: every
  member has its own rows of every matmul), and its history is NaN from step k on. Divergence is
  a recorded outcome, never an exception.
- Checkpoints (spdl.checkpoint): everything needed to continue bitwise identically (step,
  parameters, generator states, the current epoch's shuffles, history, the rule's state).

Update rules
------------
``train(..., update=rule)`` takes any instance of a subclass of ``UpdateRule``; built-ins:
``SGD()`` (the default), ``Momentum(momentum, nesterov=False)`` (heavy ball as torch.optim.SGD,
per-member momentum), ``Adam(beta1, beta2, eps)`` (as torch.optim.Adam, per-member betas and eps)
and ``Langevin(temperature)`` (SGLD, alias ``SGLD``). A rule:

    class UpdateRule:
        def config(self) -> dict             # hyperparameters (repr-able); part of the fingerprint
        def init(self, ctx) -> None          # build per-member state from ctx.params (every train call)
        def update(self, ctx) -> Tensor      # update ctx.params in place; return the (E,) batch losses
        def state_dict(self) -> dict         # default: self.state (saved in checkpoints)
        def load_state_dict(self, state)     # default: self.state = state (called after init)

Per-member state (momentum buffers, ...) is kept with a leading member axis E, like the stacked
parameters, and member e's state must depend on member e only: then the ensemble-equals-members
property holds for the rule too. State may hold tensors, Python scalars, strings and
lists/tuples/dicts of them (checkpoints are read with weights_only=True); the engine moves it
onto the parameters' device when resuming.

``update(ctx)`` gets a ``StepContext`` for update number ``ctx.step`` (0-based: it turns the
parameters after ``ctx.step`` updates into those after ``ctx.step + 1``):

    ctx.params          live stacked parameters [W1, (b1), ...], (E, ...) leaves; modify in place
                        under torch.no_grad() (never rebind the list entries)
    ctx.lr              (E,) learning rates; ctx.weight_decay, ctx.norm_penalty, ctx.dropout likewise
    ctx.generators      E CPU torch.Generators, member e's own stream (draw only for members that use it)
    ctx.step, ctx.E, ctx.arch, ctx.loss, ctx.dtype, ctx.device
    ctx.batch           this step's minibatch (a Batch(x, y, keep, idx)), drawn at first access
    ctx.next_batch()    a further minibatch from each member's stream (inner loops); it advances the
                        stream exactly as a step would, so later steps see the following batches
    ctx.loss_and_grad(params=None, batch=None, regularised=True) -> (losses (E,), grads)
                        per-member batch losses and their gradients (fresh tensors, free to modify)
                        at any stacked parameters (default: the live ones, on ctx.batch); with
                        regularised, grads include weight decay and norm penalty (as SGD uses them)
    ctx.losses(params=None, batch=None) -> (E,) batch losses without gradients
    ctx.member_view(v, p)   (E,) vector v shaped to broadcast against stacked p
    ctx.per_member(value, name) -> (E,) tensor from a float or E floats (for init)
    ctx.noise_like(p, std)  N(0, std_e^2) noise shaped like p; member e draws from its generator
                            only if std_e > 0

The losses returned by update are the members' minibatch losses at the parameters before the
update (divergence detection). A minimal rule, SGD itself::

    class SGD(UpdateRule):
        def update(self, ctx):
            losses, grads = ctx.loss_and_grad()
            with torch.no_grad():
                for p, g in zip(ctx.params, grads):
                    p.addcmul_(g, ctx.member_view(ctx.lr, p), value=-1)
            return losses

tests/test_update_rules.py works out Entropy-SGD (an inner SGLD loop over fresh minibatches) as
a rule written outside the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from spdl.checkpoint import Checkpoint, fingerprint, to_device
from spdl.device import resolve_device
from spdl.models import MLP, forward, is_identity

__all__ = ["TrainResult", "Batch", "StepContext", "UpdateRule", "SGD", "Momentum", "Adam", "Langevin", "SGLD",
           "LinearGD", "train",
           "full_loss", "sample_losses", "reduce_losses", "set_threads"]


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
def full_loss(arch, params, X, Y, loss, chunk=4096, eye=False):
    """Loss of every member on the whole training set, (E,), evaluated in chunks of samples.
    eye: X is the identity (models.forward skips the first layer's product)."""
    N, y_axis = X.shape[-2], (-1 if loss == "cross_entropy" else -2)
    total = 0.0
    for i in range(0, N, chunk):
        n = min(chunk, N - i)
        out = forward(arch, params, X.narrow(-2, i, n), eye=eye and n == N)
        total = total + sample_losses(out, Y.narrow(y_axis, i, n), loss).sum(1)
    return total if loss == "mse_sum" else total / N


def _per_member(v, E, name, dtype, device=None):
    v = torch.as_tensor(v, dtype=dtype).flatten()
    if v.numel() == 1:
        v = v.expand(E)
    if v.numel() != E:
        raise ValueError(f"{name} must be a float or have {E} entries, got {v.numel()}")
    return v.clone() if device is None else v.to(device).clone()


def _prepare_data(arch, X, Y, E, loss, dtype, device=None):
    """Tensors X (N, d) or (E, N, d); Y (N, d_out) or (E, N, d_out), labels (N,) or (E, N); contiguous (a
    transposed view, e.g. the targets Y^T of a deep linear network, would slow every evaluation down)."""
    X = torch.as_tensor(X, dtype=dtype).to(device).contiguous()
    if loss == "cross_entropy":
        return X, torch.as_tensor(Y, dtype=torch.int64).to(device).contiguous()
    Y = torch.as_tensor(Y, dtype=dtype).to(device).contiguous()
    N, d_out = X.shape[-2], arch.widths[-1]
    if Y.dim() == 1 or (Y.dim() == 2 and Y.shape == (E, N) and Y.shape != (N, d_out)):
        Y = Y.unsqueeze(-1)  # (N,) shared or (E, N) per member, with d_out = 1
    return X, Y


def _rows(T, idx, shared):
    """Samples idx (E, B) of T, shared (N, ...) or per member (E, N, ...) -> (E, B, ...)."""
    E, B = idx.shape
    if not shared:
        idx, T = idx + T.shape[1] * torch.arange(E, device=idx.device)[:, None], T.flatten(0, 1)
    return T.index_select(0, idx.flatten()).view(E, B, *T.shape[1:])  # faster than T[idx]


def _keep_mask(rates, gens, B, width, dtype):
    """Inverted-dropout multipliers (E, B, width) on the CPU; member e draws from its generator only if rate_e > 0."""
    masks = [torch.ones(B, width, dtype=dtype) if p == 0 else
             (torch.rand(B, width, generator=g, dtype=dtype) >= p).to(dtype) / (1 - p)
             for p, g in zip(rates.tolist(), gens)]
    return torch.stack(masks)


def _member_noise(stds, gens, p):
    """Gaussian noise shaped like the stacked parameter p; member e draws (on the CPU) only if stds_e > 0."""
    noise = torch.stack([torch.zeros(p.shape[1:], dtype=p.dtype) if s == 0 else
                         s * torch.randn(p.shape[1:], generator=g, dtype=p.dtype)
                         for s, g in zip(stds.tolist(), gens)])
    return noise.to(p.device)


def _norms(params):
    """||theta_e||_2 over all parameters of each member, (E,)."""
    return torch.sqrt(sum(p.flatten(1).square().sum(1) for p in params))


class _Mixer:
    """p_e <- sum_f M_ef p_f for a mixing matrix M that is block diagonal over groups of learners (found as
    the connected components of M != 0, scipy.sparse.csgraph): each group mixes on its own, a batched
    product of the (K, K) blocks when the groups are K consecutive members each, else one product per
    group (one group: the dense product). The same sums as the dense (E, E) product (bitwise for the
    activity-weight multi-learner sizes, 1-10 groups of 8, tested), at 1/groups of its work, and a
    non-finite learner poisons only its own group (0 x NaN poisoned every group in the dense product)."""

    def __init__(self, M):
        from scipy.sparse import csr_matrix
        from scipy.sparse.csgraph import connected_components

        _, label = connected_components(csr_matrix((M != 0).cpu().numpy()), directed=False)
        sizes = np.bincount(label)
        self.dense, self.blocks, self.groups = (M if len(sizes) == 1 else None), None, []
        K = int(sizes[0])
        if self.dense is not None:  # one group: the dense product itself
            pass
        elif (sizes == K).all() and (label == np.arange(len(label)) // K).all():  # consecutive, equal groups
            G = len(sizes)
            self.blocks = torch.stack([M[g * K:(g + 1) * K, g * K:(g + 1) * K] for g in range(G)])
        else:
            for g in range(len(sizes)):
                idx = torch.from_numpy(np.flatnonzero(label == g)).to(M.device)
                self.groups.append((idx, M[idx][:, idx]))

    def __call__(self, p):
        flat = p.flatten(1)
        if self.dense is not None:
            return (self.dense @ flat).view_as(p)
        if self.blocks is not None:
            G, K = self.blocks.shape[:2]
            return torch.bmm(self.blocks, flat.view(G, K, -1)).view_as(p)
        out = torch.empty_like(flat)
        for idx, block in self.groups:
            out[idx] = block @ flat[idx]
        return out.view_as(p)


class Batch(NamedTuple):
    """A minibatch of every member: x (B, d_in) shared or (E, B, d_in); y likewise (labels (B,) or
    (E, B)); keep (E, B, h1) dropout multipliers or None; idx (E, B) sample indices, None for full batch."""
    x: torch.Tensor
    y: torch.Tensor
    keep: torch.Tensor | None
    idx: torch.Tensor | None


class _Stream:
    """Each member's minibatch stream: reshuffle with its own generator every epoch, drop the last
    incomplete batch; dropout masks drawn after each batch. perms/pos are checkpointed."""

    def __init__(self, arch, X, Y, loss, batch_size, gens, drop):
        self.arch, self.X, self.Y, self.batch_size, self.gens, self.drop = arch, X, Y, batch_size, gens, drop
        self.N, self.E = X.shape[-2], len(gens)
        self.y_shared = Y.dim() == (1 if loss == "cross_entropy" else 2)
        self.use_drop = bool(drop.any())
        self.perms, self.pos = torch.empty(self.E, self.N, dtype=torch.int64), self.N  # N = draw new ones
        self.eye = batch_size is None and is_identity(X)  # one-hot inputs, full batch: skip the first product

    def next(self) -> Batch:
        if self.batch_size is None:
            xb, yb, idx = self.X, self.Y, None
        else:
            if self.pos + self.batch_size > self.N:  # new epoch: every member reshuffles with its own generator
                self.perms = torch.stack([torch.randperm(self.N, generator=g) for g in self.gens])
                self.pos = 0
            idx = self.perms[:, self.pos:self.pos + self.batch_size].to(self.X.device)
            self.pos += self.batch_size
            xb, yb = _rows(self.X, idx, self.X.dim() == 2), _rows(self.Y, idx, self.y_shared)
        keep = None
        if self.use_drop:
            keep = _keep_mask(self.drop.cpu(), self.gens, xb.shape[-2], self.arch.widths[1], self.X.dtype)
            keep = keep.to(self.X.device)
        return Batch(xb, yb, keep, idx)


class StepContext:
    """What an UpdateRule sees during one update; see the module docstring."""

    def __init__(self, arch, loss, params, stream, gens, lr, wd, beta, drop):
        self.arch, self.loss, self.params, self.generators = arch, loss, params, gens
        self.lr, self.weight_decay, self.norm_penalty, self.dropout = lr, wd, beta, drop
        self.E, self.dtype, self.device = params[0].shape[0], params[0].dtype, params[0].device
        self.step = 0
        self._stream, self._batch = stream, None
        self._use_wd, self._use_beta = bool(wd.any()), bool(beta.any())

    def _begin(self, step):
        self.step, self._batch = step, None

    @property
    def batch(self) -> Batch:
        """This step's minibatch, drawn from every member's stream at first access."""
        if self._batch is None:
            self._batch = self._stream.next()
        return self._batch

    def next_batch(self) -> Batch:
        """A further minibatch from every member's stream (advances it like a step does)."""
        return self._stream.next()

    def member_view(self, v, p):
        """(E,) v viewed as (E, 1, ..., 1) to broadcast against the stacked parameter p."""
        return v.view((self.E,) + (1,) * (p.dim() - 1))

    def per_member(self, value, name):
        """A float or E floats -> (E,) tensor of the parameters' dtype and device."""
        return _per_member(value, self.E, name, self.dtype, self.device)

    def noise_like(self, p, std):
        """N(0, std_e^2) noise shaped like stacked p; member e draws from its own generator iff std_e > 0."""
        return _member_noise(torch.as_tensor(std, dtype=p.dtype).expand(self.E), self.generators, p)

    def _forward_losses(self, ps, batch):
        b = self.batch if batch is None else batch
        eye = self._stream.eye and b.x is self._stream.X
        return reduce_losses(sample_losses(forward(self.arch, ps, b.x, b.keep, eye=eye), b.y, self.loss), self.loss)

    @torch.no_grad()
    def losses(self, params=None, batch=None):
        """(E,) minibatch losses at params (default: the live ones) on batch (default: ctx.batch)."""
        return self._forward_losses(self.params if params is None else list(params), batch)

    def loss_and_grad(self, params=None, batch=None, regularised=True):
        """Per-member minibatch losses (E,) and gradients (one fresh tensor per stacked parameter).

        params default to the live parameters and batch to this step's minibatch (with its dropout
        mask). regularised adds the weight decay and norm-penalty terms: g + (wd_e + beta_e /
        ||theta_e||) theta, the gradient of loss_e + wd_e ||theta_e||^2 / 2 + beta_e ||theta_e||."""
        if params is None or params is self.params:
            ps = self.params
        else:
            ps = [q.detach().requires_grad_(True) for q in params]
        with torch.enable_grad():
            losses = self._forward_losses(ps, batch)
            grads = list(torch.autograd.grad(losses.sum(), ps))
        if regularised and (self._use_wd or self._use_beta):
            with torch.no_grad():
                # d(beta ||theta||)/dtheta = (beta / ||theta||) theta: the penalty is a weight decay. Applied to
                # the runs of consecutive members that have one (a zero decay would add exact zeros): the same
                # bits, without passes over the members that use neither
                for a, b in self._decay_runs():
                    decay, beta = self.weight_decay[a:b], self.norm_penalty[a:b]
                    if self._use_beta:
                        decay = decay + torch.where(beta > 0, beta / _norms([p[a:b] for p in ps]), 0.0)
                    for p, g in zip(ps, grads):
                        g[a:b].addcmul_(p[a:b], decay.view((b - a,) + (1,) * (p.dim() - 1)))
        return losses.detach(), grads

    def _decay_runs(self):
        """[(a, b)]: the runs of consecutive members with a nonzero weight decay or norm penalty (cached
        while ctx.weight_decay and ctx.norm_penalty are the same tensors; a rule may swap them)."""
        wd, beta = self.weight_decay, self.norm_penalty
        cached = getattr(self, "_runs_of", None)
        if cached is None or cached[0] is not wd or cached[1] is not beta:
            used = ((wd != 0) | (beta != 0)).tolist() + [False]
            starts = [i for i, u in enumerate(used) if u and (i == 0 or not used[i - 1])]
            ends = [i for i, u in enumerate(used) if not u and i > 0 and used[i - 1]]
            self._runs_of = (wd, beta, list(zip(starts, ends)))
        return self._runs_of[2]


class UpdateRule:
    """Base class of per-member update rules; see the module docstring for the contract."""

    def config(self) -> dict:
        """Hyperparameters (repr-able values); enters the checkpoint fingerprint."""
        return {}

    def init(self, ctx: StepContext) -> None:
        """Build fresh per-member state (called at the start of every train call)."""
        self.state = {}

    def update(self, ctx: StepContext) -> torch.Tensor:
        """Update ctx.params in place; return the (E,) minibatch losses before the update."""
        raise NotImplementedError

    def state_dict(self) -> dict:
        return getattr(self, "state", {})

    def load_state_dict(self, state: dict) -> None:
        self.state = state

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.config().items())})"


def _listed(v):
    """A hyperparameter as a float or a list of floats (repr-stable)."""
    v = torch.as_tensor(v, dtype=torch.float64).flatten().tolist()
    return v[0] if len(v) == 1 else v


class SGD(UpdateRule):
    """Plain (minibatch) gradient descent: p <- p - lr_e * g_e, g_e with weight decay and norm penalty."""

    def init(self, ctx):
        self.state = {}

    def update(self, ctx):
        losses, grads = ctx.loss_and_grad()
        with torch.no_grad():
            # p -= lr_e * g in place; views of ctx.lr made each step, since a wrapper rule may swap ctx.lr
            for p, g in zip(ctx.params, grads):
                p.addcmul_(g, ctx.member_view(ctx.lr, p), value=-1)
        return losses


class Momentum(UpdateRule):
    """Heavy-ball SGD as torch.optim.SGD(momentum=mu_e, dampening=0): b <- mu_e b + g, p <- p - lr_e b
    (nesterov: p <- p - lr_e (g + mu_e b)); g includes weight decay and norm penalty. momentum: float
    or one value per member in [0, 1); the buffers b (zero at the start) are per-member state."""

    def __init__(self, momentum=0.9, nesterov=False):
        self.momentum, self.nesterov = momentum, bool(nesterov)

    def config(self):
        return {"momentum": _listed(self.momentum), "nesterov": self.nesterov}

    def init(self, ctx):
        self.mu = ctx.per_member(self.momentum, "momentum")
        if not ((self.mu >= 0) & (self.mu < 1)).all():
            raise ValueError(f"momentum must lie in [0, 1), got {self.mu.tolist()}")
        self.state = {"buffers": [torch.zeros_like(p.detach()) for p in ctx.params]}

    def update(self, ctx):
        losses, grads = ctx.loss_and_grad()
        with torch.no_grad():
            for p, g, b in zip(ctx.params, grads, self.state["buffers"]):
                mu = ctx.member_view(self.mu, p)
                b.mul_(mu).add_(g)
                step = g.addcmul_(b, mu) if self.nesterov else b
                p.addcmul_(step, ctx.member_view(ctx.lr, p), value=-1)
        return losses


class Adam(UpdateRule):
    """Adam as torch.optim.Adam(betas=(beta1_e, beta2_e), eps=eps_e, amsgrad=False): m <- b1 m + (1 - b1) g,
    v <- b2 v + (1 - b2) g^2, p <- p - lr_e (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps) at the t-th
    update (t = 1, 2, ...); g includes weight decay (coupled, as torch's weight_decay) and norm
    penalty. beta1, beta2 in [0, 1), eps > 0: float or one value per member; the moments m, v (zero
    at the start) and t are the state."""

    def __init__(self, beta1=0.9, beta2=0.999, eps=1e-8):
        self.beta1, self.beta2, self.eps = beta1, beta2, eps

    def config(self):
        return {"beta1": _listed(self.beta1), "beta2": _listed(self.beta2), "eps": _listed(self.eps)}

    def init(self, ctx):
        self.b1, self.b2 = ctx.per_member(self.beta1, "beta1"), ctx.per_member(self.beta2, "beta2")
        self.e = ctx.per_member(self.eps, "eps")
        for name, b in (("beta1", self.b1), ("beta2", self.b2)):
            if not ((b >= 0) & (b < 1)).all():
                raise ValueError(f"{name} must lie in [0, 1), got {b.tolist()}")
        if not (self.e > 0).all():
            raise ValueError(f"eps must be > 0, got {self.e.tolist()}")
        self.state = {"t": 0, "m": [torch.zeros_like(p.detach()) for p in ctx.params],
                      "v": [torch.zeros_like(p.detach()) for p in ctx.params]}

    def update(self, ctx):
        losses, grads = ctx.loss_and_grad()
        self.state["t"] += 1
        t = self.state["t"]
        with torch.no_grad():
            c1 = (1 - self.b1.double() ** t).to(ctx.dtype)  # bias corrections (E,), in float64 as torch's
            c2_sqrt = torch.sqrt(1 - self.b2.double() ** t).to(ctx.dtype)
            for p, g, m, v in zip(ctx.params, grads, self.state["m"], self.state["v"]):
                b1, b2 = ctx.member_view(self.b1, p), ctx.member_view(self.b2, p)
                m.lerp_(g, 1 - b1)
                v.mul_(b2).addcmul_(g, g * (1 - b2))
                denom = (v.sqrt() / ctx.member_view(c2_sqrt, p)).add_(ctx.member_view(self.e, p))
                p.addcdiv_(m * ctx.member_view(ctx.lr / c1, p), denom, value=-1)
        return losses


class Langevin(UpdateRule):
    """Stochastic gradient Langevin dynamics at temperature T_e: p <- p - lr_e g + sqrt(2 lr_e T_e) xi,
    xi ~ N(0, 1) from member e's generator (no draw when T_e = 0). temperature: float or one per
    member, >= 0. Bitwise the same as SGD with noise_std = sqrt(2 lr T) computed in the parameters'
    dtype; this rule keeps T fixed when lr differs between members or runs."""

    def __init__(self, temperature):
        self.temperature = temperature

    def config(self):
        return {"temperature": _listed(self.temperature)}

    def init(self, ctx):
        T = ctx.per_member(self.temperature, "temperature")
        if not (T >= 0).all():
            raise ValueError(f"temperature must be >= 0, got {T.tolist()}")
        self.std = torch.sqrt(2 * ctx.lr * T)
        self.state = {}

    def update(self, ctx):
        losses, grads = ctx.loss_and_grad()
        with torch.no_grad():
            for p, g in zip(ctx.params, grads):
                p.addcmul_(g, ctx.member_view(ctx.lr, p), value=-1)
                p.add_(ctx.noise_like(p, self.std))
        return losses


SGLD = Langevin


class LinearGD(UpdateRule):
    """Full-batch gradient descent for deep linear networks (losses "mse" or "mse_sum"; no bias,
    dropout, weight decay or norm penalty) from the data's second moments. With the end-to-end map
    M = W_D ... W_1 the loss c/2 sum_mu ||M x_mu - y_mu||^2 has dL/dM = G = c (M C - S), C = X^T X,
    S = Y^T X (c = 1 for "mse_sum", 1/N for "mse"), and dL/dW_l = A_l^T G B_l^T with A_l = W_D ... W_(l+1),
    B_l = W_(l-1) ... W_1 (Saxe, McClelland & Ganguli 2014, Eq. 3; their one-hot inputs give C = I).
    A step then costs O(d_out d_in h) whatever the number of samples N, against O(N d h) for the generic
    forward/backward pass: about 3-6x less work for the networks of Lampinen & Ganguli. It is the same
    update as SGD() up to rounding (the same sums in another order; not bitwise): the step -lr_e c G is
    folded into the residual (with one-hot inputs, C = I, the residual is M - S), and each layer's step is
    accumulated into its weights by the product itself (baddbmm),
    with no gradient tensors (about 8 tensor operations per step at depth 2). The returned batch
    losses come from the moments (c/2 (tr M C M^T - 2 tr M S^T + ||Y||^2)), which is only used for the
    divergence check; the recorded history["loss"] is evaluated sample by sample as for every rule.
    Opt in with train(..., update=LinearGD())."""

    def init(self, ctx):
        if ctx.arch.activation != "linear" or ctx.arch.bias or ctx.loss not in ("mse", "mse_sum"):
            raise ValueError("LinearGD needs a linear network without biases and loss mse or mse_sum")
        if ctx._stream.batch_size is not None:
            raise ValueError("LinearGD needs full-batch training (batch_size=None)")
        if ctx._use_wd or ctx._use_beta or bool(ctx.dropout.any()):
            raise ValueError("LinearGD supports no weight decay, norm penalty or dropout")
        X, Y = ctx._stream.X, ctx._stream.Y
        self._scale = 1.0 if ctx.loss == "mse_sum" else 1.0 / X.shape[-2]
        Yt = Y.transpose(-1, -2)
        if ctx._stream.eye:  # one-hot inputs: C = I, S = Y^T, the residual M - Y^T is every sample's error
            self._C, self._S, self._yy = None, Yt.contiguous(), None
        else:
            self._C = X.transpose(-1, -2) @ X  # (d_in, d_in) shared or (E, d_in, d_in)
            self._S = Yt @ X  # (d_out, d_in) shared or (E, d_out, d_in)
            self._yy = Y.square().sum((-2, -1))
        self.state = {}

    @torch.no_grad()
    def update(self, ctx):
        ws = [p.detach() for p in ctx.params]
        D = len(ws)
        above = [None] * D  # above[l] = W_D ... W_(l+2) (0-based layer l; None: the identity)
        for layer in range(D - 1, 0, -1):
            above[layer - 1] = ws[layer] if above[layer] is None else torch.bmm(above[layer], ws[layer])
        if self._C is None:  # one-hot inputs: the residual G = M - S
            G = ws[0] - self._S if D == 1 else torch.bmm(above[0], ws[0]).sub_(self._S)
            losses = (0.5 * self._scale) * torch.linalg.vector_norm(G.flatten(1), dim=1).square()
        else:
            M = ws[0] if D == 1 else torch.bmm(above[0], ws[0])
            MC = torch.matmul(M, self._C)
            G = MC - self._S
            losses = 0.5 * self._scale * ((MC * M).sum((1, 2)) - 2 * (M * self._S).sum((1, 2)) + self._yy)
        # the step -lr_e c G folded into the residual (ctx.lr read each step: a wrapper rule may swap it), and
        # every layer's step A_l^T (-lr c G) B_l^T computed from the old weights before any layer moves
        G.mul_(ctx.member_view(-self._scale * ctx.lr, G))
        steps, Q = [None] * D, G  # Q = step W_1^T ... W_l^T, grown layer by layer
        for layer in range(1, D):
            Q = torch.bmm(Q, ws[layer - 1].transpose(1, 2))
            steps[layer] = Q
        # bottom up: layer l's update reads the layers above it (a product of old weights, or W_D itself,
        # which moves last), the others add their step; the products write into the weights (no gradients)
        for layer in range(D):
            if above[layer] is None:
                ws[layer].add_(steps[layer] if layer else G)
            else:
                ws[layer].baddbmm_(above[layer].transpose(1, 2), steps[layer] if layer else G)
        return losses


def train(arch: MLP, params, X, Y, *, steps: int, lr, weight_decay=0.0, batch_size=None, loss="mse",
          seeds=None, record_at=(), metrics=None, progress=None, checkpoint=None, checkpoint_every=1000,
          diverge_threshold=1e8, dropout=0.0, norm_penalty=0.0, noise_std=0.0, mixing=None,
          observe=None, update: UpdateRule | None = None, device=None) -> TrainResult:
    """Train an ensemble for `steps` updates of the rule `update` (default SGD()); see the module docstring.

    X: (N, d_in) shared or (E, N, d_in) per member; Y: (N, d_out)/(N,) or (E, N, d_out)/(E, N),
    int64 labels for loss="cross_entropy". lr, weight_decay: float or one value per member.
    batch_size None = full batch; else member e reshuffles with its own generator seeded by
    seeds[e] (default 0..E-1) every epoch and drops the last incomplete batch.
    record_at: steps where history["loss"] (full training set) and metrics(params, step) -> {name: (E,)}
    are stored; metrics gets the live parameters: read them, never modify them.
    dropout, norm_penalty, noise_std: float or one value per member; mixing: (E, E) row-stochastic
    matrix, block diagonal over independent groups of learners (a diverged learner poisons its group).
    observe(params, k): called after every update k = 1..steps with the live parameters (read only).
    update: an UpdateRule instance (SGD(), Momentum(mu), Langevin(T) or a subclass of your own).
    device: None = the device of params; else "cpu" | "cuda" | "auto" | torch.device (params are moved).
    progress: file for a tqdm bar. checkpoint: path written every checkpoint_every steps, resumed
    from when its fingerprint (arch, data, initial params, hyperparameters, rule) matches, deleted at
    the end; an unreadable or foreign checkpoint is moved aside with a warning (spdl.checkpoint).
    """
    if loss not in ("mse", "mse_sum", "cross_entropy"):
        raise ValueError(f"unknown loss {loss!r}")
    rule = SGD() if update is None else update
    if not isinstance(rule, UpdateRule):
        raise TypeError(f"update must be an spdl.engine.UpdateRule instance, got {type(rule).__name__}")
    if device is not None:
        device = resolve_device(device)
        params = [p.to(device) for p in params]
    E, dtype, device = params[0].shape[0], params[0].dtype, params[0].device  # float32 normally; float64 works too
    X, Y = _prepare_data(arch, X, Y, E, loss, dtype, device)
    N = X.shape[-2]
    lr = _per_member(lr, E, "lr", dtype, device)
    wd = _per_member(weight_decay, E, "weight_decay", dtype, device)
    drop = _per_member(dropout, E, "dropout", dtype, device)
    beta = _per_member(norm_penalty, E, "norm_penalty", dtype, device)
    noise = _per_member(noise_std, E, "noise_std", dtype, device)
    if not ((drop >= 0) & (drop < 1)).all():
        raise ValueError(f"dropout must lie in [0, 1), got {drop.tolist()}")
    if mixing is not None:
        mixing = torch.as_tensor(mixing, dtype=dtype).to(device)
        if mixing.shape != (E, E):
            raise ValueError(f"mixing must be ({E}, {E}), got {tuple(mixing.shape)}")
        mixer = _Mixer(mixing)
    seeds = list(range(E)) if seeds is None else [int(s) for s in seeds]
    if batch_size is not None and not (len(seeds) == E and 0 < batch_size <= N):
        raise ValueError(f"need {E} seeds and 0 < batch_size <= N={N}, got {len(seeds)}, {batch_size}")
    if len(seeds) != E and (bool(drop.any()) or bool(noise.any()) or type(rule) is not SGD):
        raise ValueError(f"need {E} seeds (one generator per member), got {len(seeds)}")
    record = sorted({int(s) for s in record_at})
    if record and not 0 <= record[0] <= record[-1] <= steps:
        raise ValueError(f"record_at must lie in [0, {steps}]")
    row_of = {s: i for i, s in enumerate(record)}
    use_noise = bool(noise.any())

    # ---- state: everything a checkpoint must hold to continue bitwise identically
    params = [p.detach().clone().requires_grad_(True) for p in params]
    gens = [torch.Generator().manual_seed(s) for s in seeds]
    stream = _Stream(arch, X, Y, loss, batch_size, gens, drop)
    ctx = StepContext(arch, loss, params, stream, gens, lr, wd, beta, drop)
    history = {"loss": torch.full((len(record), E), float("nan"), dtype=torch.float64)}  # name -> (R, E)
    diverged_step = torch.full((E,), -1, dtype=torch.int64)
    start = 0
    hyper = (steps, lr.tolist(), wd.tolist(), batch_size, loss, seeds, record, float(diverge_threshold),
             drop.tolist(), beta.tolist(), noise.tolist(), None if mixing is None else mixing.tolist(),
             f"{type(rule).__module__}.{type(rule).__qualname__}", rule.config())
    ckpt = Checkpoint(checkpoint, fingerprint(arch, [*params, X, Y], hyper) if checkpoint else None)
    rule.init(ctx)

    saved = ckpt.load()
    if saved is not None:
        start, stream.pos, stream.perms = saved["step"], saved["pos"], saved["perms"]
        history, diverged_step = saved["history"], saved["diverged_step"]
        with torch.no_grad():
            for p, value in zip(params, saved["params"]):
                p.copy_(value)
        for g, state in zip(gens, saved["gen_states"]):
            g.set_state(state)
        rule.load_state_dict(to_device(saved["update"], device))
        print(f"resumed from checkpoint {checkpoint} at step {start}")

    frozen = [(diverged_step >= 0).to(device) if (diverged_step >= 0).any() else None]  # on the device; None: none

    def mark_diverged(bad, step):
        new = bad.cpu() & (diverged_step < 0)
        if new.any():
            diverged_step[new] = step
            frozen[0] = (diverged_step >= 0).to(device)
            with torch.no_grad():
                for p in params:
                    p[new.to(device)] = float("nan")

    threshold = float(diverge_threshold)

    def check_losses(losses, step):
        # one reduction and one host sync while every member is alive with |loss| <= threshold (NaN fails it)
        if frozen[0] is not None or not torch.linalg.vector_norm(losses, float("inf")).item() <= threshold:
            mark_diverged(~torch.isfinite(losses) | (losses > diverge_threshold), step)

    # progress in units of one update: an evaluation of the whole training set costs about N / (3 B) of them
    # (a forward pass of N samples against forward + backward of B), so the ETA is not skewed by the dense
    # early records of a log schedule
    eval_cost = N / (3 * (batch_size or N))
    bar = tqdm(total=steps + eval_cost * len(record), initial=start + eval_cost * sum(r < start for r in record),
               file=progress, mininterval=5.0, disable=progress is None, desc="train",
               bar_format="{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}]")
    show = progress is not None
    eye = stream.eye
    for step in range(start, steps + 1):
        if ckpt and step % checkpoint_every == 0 and start < step < steps:
            ckpt.save({"step": step, "pos": stream.pos, "perms": stream.perms, "params": [p.detach() for p in params],
                       "gen_states": [g.get_state() for g in gens], "history": history,
                       "diverged_step": diverged_step, "update": rule.state_dict()})

        if step in row_of:  # full-training-set loss and metrics
            row = {"loss": full_loss(arch, params, X, Y, loss, eye=eye)}
            mark_diverged(~torch.isfinite(row["loss"]) | (row["loss"] > diverge_threshold), step)
            if metrics is not None:
                with torch.no_grad():
                    row.update(metrics([p.detach() for p in params], step))
            bar.update(eval_cost)
        elif step == steps:  # the last update has no batch loss after it: check the parameters instead
            mark_diverged(~torch.stack([p.detach().flatten(1).isfinite().all(1) for p in params]).all(0), step)

        if step < steps:
            ctx._begin(step)
            losses = rule.update(ctx)
            if not (isinstance(losses, torch.Tensor) and losses.shape == (E,)):
                raise TypeError(f"{type(rule).__name__}.update must return the ({E},) minibatch losses, "
                                f"got {type(losses).__name__} {getattr(losses, 'shape', '')}")
            if frozen[0] is not None or use_noise or mixing is not None:
                with torch.no_grad():
                    for p in params:
                        if frozen[0] is not None:  # frozen at NaN whatever the rule did
                            p[frozen[0]] = float("nan")
                        if use_noise:
                            p.add_(_member_noise(noise, gens, p))
                        if mixing is not None:
                            p.copy_(mixer(p))
            check_losses(losses.detach(), step)
            if show:
                bar.set_description_str(f"train, step {step + 1}/{steps}", refresh=False)
                bar.update(1)
            if observe is not None:
                observe([p.detach() for p in params], step + 1)

        if step in row_of:
            dead = (diverged_step >= 0) & (diverged_step <= step)
            for name, value in row.items():
                value = (value.detach() if isinstance(value, torch.Tensor)
                         else torch.as_tensor(value, dtype=torch.float64))
                value = value.to("cpu", torch.float64).reshape(E).clone()
                value[dead] = float("nan")
                history.setdefault(name, torch.full((len(record), E), float("nan"), dtype=torch.float64))
                history[name][row_of[step]] = value
    bar.close()

    ckpt.remove()
    return TrainResult(params=[p.detach() for p in params], steps=np.array(record, dtype=np.int64),
                       history={k: v.numpy() for k, v in history.items()},
                       diverged=(diverged_step >= 0).numpy(), diverged_step=diverged_step.numpy())


def _fingerprint(arch, params, X, Y, hyper) -> str:
    """Deprecated alias of spdl.checkpoint.fingerprint(arch, [*params, X, Y], hyper)."""
    return fingerprint(arch, [*params, X, Y], hyper)


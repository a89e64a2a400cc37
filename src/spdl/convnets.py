"""Small convolutional networks in plain torch: LeNet, its training loop, and its loss as a function of
one flat parameter vector (for exact Hessians and Hessian-vector products with spdl.hessian).

LeNet (LeCun et al. 1998) as the "small-LeNet" of Chaudhari et al., "Entropy-SGD: biasing gradient
descent into wide valleys", ICLR 2017, arXiv:1611.01838: conv 1 -> c1 (k x k), max-pool 2, ReLU,
conv c1 -> c2 (k x k), max-pool 2, ReLU, fc -> hidden, ReLU, fc -> classes. With 28 x 28 images,
c1 = 10, c2 = 20, k = 5, hidden = 128: 320 features and 47,658 parameters.

Unlike spdl.models (stacked ensembles of MLPs trained together by spdl.engine), one LeNet is one
torch.nn.Module trained by its own loop (train_lenet): a member is one network, and seeds run one
after the other. Everything a run depends on (initialisation, minibatch order) comes from CPU
generators seeded by the run's seed, so a run is the same on every device up to rounding.

Flat parameters follow the module's named_parameters order (conv1.weight, conv1.bias, ...):
flat_loss returns f(theta) for torch.func / spdl.hessian.hvp_fn and theta itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from spdl.checkpoint import Checkpoint, fingerprint

__all__ = ["LeNetShape", "LeNet", "init_lenet", "train_lenet", "evaluate", "flat_loss", "hvp", "exact_hessian"]


@dataclass(frozen=True)
class LeNetShape:
    """Sizes of a LeNet: image side, channels (c1, c2), kernel, hidden width, classes."""

    side: int = 28
    channels: tuple[int, int] = (10, 20)
    kernel: int = 5
    hidden: int = 128
    classes: int = 10

    @property
    def feature_side(self) -> int:
        """Side of the feature map after conv-pool-conv-pool (0: the image is too small)."""
        s = (self.side - self.kernel + 1) // 2
        return max(0, (s - self.kernel + 1) // 2)

    @property
    def features(self) -> int:
        return self.channels[1] * self.feature_side**2

    def num_params(self) -> int:
        c1, c2 = self.channels
        k2 = self.kernel**2
        return (c1 * k2 + c1) + (c2 * c1 * k2 + c2) + (self.features * self.hidden + self.hidden) + \
            (self.hidden * self.classes + self.classes)


class LeNet(nn.Module):
    """LeNet on flattened (N, side^2) or (N, 1, side, side) images -> logits (N, classes)."""

    def __init__(self, shape: LeNetShape):
        super().__init__()
        if shape.feature_side < 1:
            raise ValueError(f"images of side {shape.side} are too small for kernel {shape.kernel}")
        self.shape = shape
        c1, c2 = shape.channels
        self.conv1 = nn.Conv2d(1, c1, shape.kernel)
        self.conv2 = nn.Conv2d(c1, c2, shape.kernel)
        self.fc1 = nn.Linear(shape.features, shape.hidden)
        self.fc2 = nn.Linear(shape.hidden, shape.classes)

    def forward(self, x):
        x = x.reshape(-1, 1, self.shape.side, self.shape.side)
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2(x), 2))
        x = F.relu(self.fc1(x.flatten(1)))
        return self.fc2(x)


def init_lenet(shape: LeNetShape, seed: int, init_std: float | None = None, device=None) -> LeNet:
    """A LeNet initialised from a CPU generator seeded by `seed` (the same weights on every device):
    torch's default (Kaiming-uniform) initialisation, or every weight and bias N(0, init_std^2)
    (the authors' python/hessian.py uses 0.1). The global random state is left untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        model = LeNet(shape)
        if init_std is not None:
            with torch.no_grad():
                for p in model.parameters():
                    p.normal_(0.0, float(init_std))
    return model.to(device)


@torch.no_grad()
def evaluate(model, X, Y, chunk: int = 4096) -> tuple[float, float]:
    """(mean cross-entropy, error rate) of the model on (X, Y)."""
    loss, wrong = 0.0, 0
    for i in range(0, len(Y), chunk):
        out = model(X[i:i + chunk])
        loss += float(F.cross_entropy(out, Y[i:i + chunk], reduction="sum"))
        wrong += int((out.argmax(1) != Y[i:i + chunk]).sum())
    return loss / len(Y), wrong / len(Y)


def _optimizer(model, method, lr, opts):
    if method == "sgd":
        return torch.optim.SGD(model.parameters(), lr=lr, momentum=opts.get("momentum", 0.0))
    if method == "adam":
        return torch.optim.Adam(model.parameters(), lr=lr, betas=(opts.get("beta1", 0.9), opts.get("beta2", 0.999)),
                                eps=opts.get("eps", 1e-8))
    raise ValueError(f"method must be 'sgd' or 'adam', got {method!r}")


def train_lenet(model, data, *, method: str, lr: float, epochs: int, batch_size: int, seed: int, opts=None,
                snapshots=(), checkpoint=None, log=None):
    """Train `model` in place with minibatch SGD or Adam on data (x_train, y_train, x_test, y_test on
    the model's device) for `epochs` epochs: every epoch a fresh permutation from a CPU generator
    seeded by `seed`, the last incomplete batch dropped. opts: momentum (sgd); beta1, beta2, eps
    (adam). snapshots: epochs (0..epochs) at which a CPU copy of the parameters is kept.

    Returns {"history": {epoch, train_loss, test_err} lists at 0 and every snapshot epoch and the
    end, "snapshots": {epoch: state_dict}, "diverged": bool, "diverged_epoch": int or -1}. A
    non-finite training loss stops the run and marks it diverged (its later snapshots are absent).
    checkpoint: a path; the state is saved every epoch and resumed when it belongs to this run."""
    opts = dict(opts or {})
    X, Y = data["x_train"], data["y_train"]
    N = len(Y)
    if not 0 < batch_size <= N:
        raise ValueError(f"need 0 < batch_size <= {N}, got {batch_size}")
    opt = _optimizer(model, method, lr, opts)
    gen = torch.Generator().manual_seed(int(seed))
    keep = sorted({int(e) for e in snapshots} | {0, int(epochs)})
    hyper = (method, float(lr), int(epochs), int(batch_size), int(seed), sorted(opts.items()), keep)
    ckpt = Checkpoint(checkpoint, fingerprint(model.shape, [*model.parameters(), X, Y], hyper) if checkpoint else None)
    out = {"history": {"epoch": [], "train_loss": [], "test_err": []}, "snapshots": {}, "diverged": False,
           "diverged_epoch": -1}
    start = 0
    saved = ckpt.load()
    if saved is not None:
        start = saved["epoch"]
        model.load_state_dict(saved["model"])
        opt.load_state_dict(saved["opt"])
        gen.set_state(saved["gen"])
        out = saved["out"]

    def record(epoch):
        loss, _ = evaluate(model, X, Y)
        _, err = evaluate(model, data["x_test"], data["y_test"])
        for k, v in (("epoch", epoch), ("train_loss", loss), ("test_err", err)):
            out["history"][k].append(v)
        if epoch in keep:
            out["snapshots"][epoch] = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        return loss

    if start == 0:
        record(0)
    for epoch in range(start + 1, epochs + 1):
        perm = torch.randperm(N, generator=gen).to(X.device)
        for i in range(0, N - batch_size + 1, batch_size):
            idx = perm[i:i + batch_size]
            loss = F.cross_entropy(model(X[idx]), Y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        finite = math.isfinite(float(loss.detach()))
        if epoch in keep and finite:
            finite = math.isfinite(record(epoch))
        if not finite:
            out["diverged"], out["diverged_epoch"] = True, epoch
            break
        if log is not None:
            print(f"{method} seed {seed}: epoch {epoch}/{epochs}, last batch loss {float(loss.detach()):.4g}", file=log,
                  flush=True)
        ckpt.save({"epoch": epoch, "model": model.state_dict(), "opt": opt.state_dict(), "gen": gen.get_state(),
                   "out": out})
    ckpt.remove()
    return out


def flat_loss(model, X, Y):
    """(f, theta): f(theta) the mean cross-entropy of the model on (X, Y) with its parameters replaced
    by the flat vector theta (named_parameters order; functional, for torch.func and
    spdl.hessian.hvp_fn), and theta the current parameters (a detached copy)."""
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for _, p in model.named_parameters()]
    sizes = [math.prod(s) for s in shapes]
    theta = torch.cat([p.detach().reshape(-1) for p in model.parameters()]).clone()

    def f(th):
        parts = torch.split(th, sizes)
        params = {n: t.view(s) for n, t, s in zip(names, parts, shapes)}
        return F.cross_entropy(torch.func.functional_call(model, params, (X,)), Y)
    return f, theta


def hvp(model, X, Y, chunk: int | None = None, vmap: bool | None = None):
    """v -> H v for H the Hessian of the mean cross-entropy on (X, Y) at the model's parameters
    (spdl.hessian.hvp_fn, double backprop), V (k, P) -> (k, P) or (P,) -> (P,). chunk: samples per
    piece; H is the size-weighted sum of the pieces' Hessians, each piece holding its own gradient
    graph (memory ~ chunk samples x k vectors per call). vmap: the k rows in one batched backward
    (is_grads_batched) or one by one; None = batched off the CPU (on the CPU the loop is faster for
    convolutions). Attributes n, dtype, device."""
    from spdl.hessian import hvp_fn

    N = len(Y)
    chunk = N if chunk is None else int(chunk)
    pieces = []
    for i in range(0, N, chunk):
        f, theta = flat_loss(model, X[i:i + chunk], Y[i:i + chunk])
        pieces.append((hvp_fn(f, theta), len(Y[i:i + chunk]) / N))

    vmap = theta.device.type != "cpu" if vmap is None else vmap

    def apply(V):
        if V.dim() == 2 and V.shape[0] > 1 and not vmap:
            return torch.stack([apply(v) for v in V])
        return sum(w * h(V) for h, w in pieces)
    apply.n, apply.dtype, apply.device = theta.numel(), theta.dtype, theta.device
    return apply


def exact_hessian(model, X, Y, *, batch: int = 64, chunk: int | None = None, vmap: bool | None = None) -> torch.Tensor:
    """The exact (P, P) Hessian of the mean cross-entropy on (X, Y), in the model's dtype and device
    (rows by batched Hessian-vector products, spdl.hessian.hessian_matrix; memory P^2 entries)."""
    from spdl.hessian import hessian_matrix

    op = hvp(model, X, Y, chunk, vmap)
    return hessian_matrix(op, op.n, batch=batch, dtype=op.dtype, device=op.device)

"""Fully connected networks stored as ensembles.

An ensemble of E networks with the same architecture is one list of stacked
tensors: weight l has shape (E, d_out, d_in), bias l has shape (E, d_out).
Every member is an independent network; the leading axis only lets one batched
matmul do the work of E small ones. forward runs on the device of the parameters
(inputs must be there too); init_params draws on the CPU and moves (spdl.device).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from spdl.device import resolve_device

ACTIVATIONS = {"relu": torch.relu, "tanh": torch.tanh, "linear": lambda h: h}


@dataclass(frozen=True)
class MLP:
    widths: tuple[int, ...]  # (d_in, h1, ..., d_out); len(widths) - 1 weight matrices
    activation: str = "relu"  # "relu" | "tanh" | "linear" (deep linear networks)
    bias: bool = False

    def __post_init__(self):
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))
        if len(self.widths) < 2:
            raise ValueError(f"MLP needs at least (d_in, d_out), got widths={self.widths}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {self.activation!r}")

    @property
    def depth(self) -> int:
        """Number of weight matrices."""
        return len(self.widths) - 1

    def num_params(self) -> int:
        """Parameters of one member."""
        return sum((a + self.bias) * b for a, b in zip(self.widths[:-1], self.widths[1:]))


def _gaussian(gen, d_out, d_in, gain):
    return torch.randn(d_out, d_in, generator=gen) * (gain / math.sqrt(d_in))


def _orthogonal(gen, d_out, d_in):
    """Haar-random matrix with orthonormal rows or columns (all singular values 1)."""
    a = torch.randn(max(d_out, d_in), min(d_out, d_in), generator=gen, dtype=torch.float64)
    q, r = torch.linalg.qr(a)
    signs = torch.sign(torch.diagonal(r))
    q = q * torch.where(signs == 0, 1.0, signs)  # sign fix makes the distribution Haar
    return (q if d_out >= d_in else q.T).float()


def _torch_default(gen, d_out, d_in):
    """nn.Linear's default: U(-1/sqrt(d_in), 1/sqrt(d_in)) (Kaiming-uniform with a = sqrt(5))."""
    return (2 * torch.rand(d_out, d_in, generator=gen) - 1) / math.sqrt(d_in)


def init_params(arch: MLP, seeds, init_scale=1.0, scheme="gaussian", device=None) -> list[torch.Tensor]:
    """Stacked parameters [W1, (b1), W2, (b2), ...] of an ensemble of E = len(seeds) members.

    Weights are (E, d_out, d_in) float32, biases (E, d_out) zeros. Member e draws
    from its own torch.Generator().manual_seed(seeds[e]), layer by layer, so it is
    identical whether initialised alone or inside an ensemble.
    init_scale: float or one float per member; multiplies every weight matrix of that member.
    scheme "gaussian": entries N(0, gain^2 / d_in) with gain sqrt(2) for relu (He) and
        1 for tanh and linear (LeCun); scheme "orthogonal": Haar-random (semi-)orthogonal
        matrices, all singular values exactly init_scale (no activation gain); scheme
        "torch_default": nn.Linear's uniform init U(-1/sqrt(d_in), 1/sqrt(d_in)) times init_scale.
    device: None (CPU) | "cpu" | "cuda" | "auto" | torch.device (spdl.device.resolve_device). The
    weights are always drawn on the CPU and then moved, so they do not depend on the device.
    """
    seeds = [int(s) for s in seeds]
    scales = [float(init_scale)] * len(seeds) if _is_scalar(init_scale) else [float(s) for s in init_scale]
    if len(scales) != len(seeds):
        raise ValueError(f"init_scale has {len(scales)} entries for {len(seeds)} seeds")
    gain = math.sqrt(2.0) if arch.activation == "relu" else 1.0
    members = []
    for seed, scale in zip(seeds, scales):
        gen = torch.Generator().manual_seed(seed)
        layers = []
        for d_in, d_out in zip(arch.widths[:-1], arch.widths[1:]):
            if scheme == "gaussian":
                w = _gaussian(gen, d_out, d_in, gain)
            elif scheme == "orthogonal":
                w = _orthogonal(gen, d_out, d_in)
            elif scheme == "torch_default":
                w = _torch_default(gen, d_out, d_in)
            else:
                raise ValueError(f"unknown init scheme {scheme!r}")
            layers.append(w * scale)
            if arch.bias:
                layers.append(torch.zeros(d_out))
        members.append(layers)
    stacked = [torch.stack(group).contiguous() for group in zip(*members)]
    if device is None:
        return stacked
    device = resolve_device(device)
    return [p.to(device) for p in stacked]


def _is_scalar(x) -> bool:
    return isinstance(x, (int, float)) or (hasattr(x, "ndim") and x.ndim == 0)


def _linear(h, w, b):
    """One layer for all members: h (B, d_in) shared or (E, B, d_in) -> (E, B, d_out)."""
    if h.dim() == 2:  # shared input: a single (B, d_in) @ (d_in, E * d_out) matmul
        E, d_out, d_in = w.shape
        out = (h @ w.reshape(E * d_out, d_in).T).view(h.shape[0], E, d_out).transpose(0, 1)
        return out if b is None else out + b.unsqueeze(1)
    if b is None:
        return torch.bmm(h, w.transpose(1, 2))
    return torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2))


class _EyeProduct(torch.autograd.Function):
    """I @ w^T for every member without the product: w transposed into a contiguous (E, d_in, d_out), at half
    the cost. Whether the next layer's batched product copies the generic path's strided (N, E, d_out)
    output into this layout first (then the layers after it compute the same bits) or reads it in place
    (then they agree to float32 rounding, as with MKL on an AVX-512 CPU) depends on the BLAS and the CPU.
    In the backward pass the gradient of w comes out contiguous, as the matmul's does (so later reductions
    over gradients, e.g. norms in a rule, sum in the same order). Exact: 1 * v + 0 * ... = v (up to the
    sign of zeros)."""

    @staticmethod
    def forward(ctx, w):
        return w.transpose(1, 2).contiguous()

    @staticmethod
    def backward(ctx, grad):
        return grad.transpose(1, 2).contiguous()


def _eye_linear(w, b):
    """_linear(I, w, b) for the identity input I (d_in, d_in): the same numbers in a contiguous layout."""
    out = _EyeProduct.apply(w)
    return out if b is None else out + b.unsqueeze(1)


def is_identity(x) -> bool:
    """Whether x is the (n, n) identity matrix (one-hot inputs, one sample per input direction)."""
    return x.dim() == 2 and x.shape[0] == x.shape[1] and torch.equal(x, torch.eye(x.shape[0], dtype=x.dtype,
                                                                                     device=x.device))


def forward(arch: MLP, params, x, keep_mask=None, eye=False) -> torch.Tensor:
    """x: (B, d_in) shared by all members or (E, B, d_in) per member -> (E, B, d_out).

    keep_mask: optional (E, B, h1) multiplier applied to the first hidden layer's activity
    (inverted dropout: 0 or 1/(1-p)); None at evaluation.
    eye: the caller promises that x is the identity (is_identity(x)); the first layer then skips its
    product with x (one-hot inputs, as in Saxe et al.'s and Lampinen & Ganguli's deep linear networks).
    """
    act = ACTIVATIONS[arch.activation]
    step = 2 if arch.bias else 1
    h = x
    for layer in range(arch.depth):
        w = params[step * layer]
        b = params[step * layer + 1] if arch.bias else None
        h = _eye_linear(w, b) if layer == 0 and eye else _linear(h, w, b)
        if layer < arch.depth - 1:
            h = act(h)
            if layer == 0 and keep_mask is not None:
                h = h * keep_mask
    return h

"""Hessians of network losses: products, exact matrices, extreme eigenpairs, spectral densities.

Conventions
- One network is one flat parameter vector theta (P,): its tensors [W1, (b1), W2, (b2), ...]
  (models.init_params order) flattened and concatenated. Member e of a stacked ensemble is
  params[i][e] for every i (member_vector); cross-member second derivatives vanish, so an
  ensemble's Hessian is block diagonal and ensemble_hvp applies every block at once.
- H = d^2 L / dtheta^2 of the training loss L = reduce_losses(sample_losses(...)) of spdl.engine
  (mean over samples, sum for "mse_sum").
- Hessian-vector products by double backpropagation ("reverse": H v = d(g . v)/dtheta with the
  gradient graph g = dL/dtheta built once) or forward-over-reverse ("forward": the directional
  derivative of g along v, torch.func.jvp of torch.func.grad). Both take a batch V (k, P) of
  vectors and return H V^T row by row, V being batched by vmap.
- Everything runs on the device of the parameters; dtype=torch.float64 casts them (and the data)
  for exactness, None keeps their dtype.
- Stochastic Lanczos quadrature (Ubaru, Chen & Saad, SIAM J. Matrix Anal. Appl. 38, 1075 (2017);
  Ghorbani, Krishnan & Xiao, ICML 2019): for a unit probe v, m Lanczos steps give a tridiagonal
  T_m = U diag(theta) U^T, and v^T f(H) v ~ sum_i tau_i f(theta_i) with tau_i = U_{0i}^2 (Gauss
  quadrature, exact for polynomials of degree <= 2m - 1). With Rademacher probes of norm sqrt(n),
  E[v^T f(H) v] / n = tr f(H) / n = integral f(lambda) phi(lambda) d lambda, so the probes' average
  of the quadratures estimates the spectral density phi = (1/n) sum_j delta(lambda - lambda_j).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from spdl.engine import _prepare_data, reduce_losses, sample_losses
from spdl.models import ACTIVATIONS, MLP, forward


# ----------------------------------------------------------------------------- flat parameters
def flatten(tensors) -> torch.Tensor:
    """Concatenation of the flattened tensors, (P,)."""
    return torch.cat([t.reshape(-1) for t in tensors])


def unflatten(theta, shapes) -> list[torch.Tensor]:
    """Views of the flat vector theta with the given shapes (inverse of flatten)."""
    out, i = [], 0
    for shape in shapes:
        n = math.prod(shape)
        out.append(theta[i:i + n].view(shape))
        i += n
    if i != theta.shape[-1]:
        raise ValueError(f"theta has {theta.shape[-1]} entries, the shapes {i}")
    return out


def member_vector(params, member: int = 0, dtype=None) -> torch.Tensor:
    """Flat parameter vector (P,) of one member of stacked params (a detached copy)."""
    return flatten([p[member].detach().to(dtype or p.dtype) for p in params]).clone()


def _member_data(arch, X, Y, E, member, loss, dtype, device):
    """Member's X (N, d_in) and Y (N, d_out) or labels (N,) from shared or per-member data."""
    X, Y = _prepare_data(arch, X, Y, E, loss, dtype)
    if X.dim() == 3:
        X = X[member]
    if Y.dim() == (2 if loss == "cross_entropy" else 3):
        Y = Y[member]
    return X.to(device), Y.to(device)


def network_loss(arch: MLP, params, X, Y, loss: str, member: int = 0, dtype=None):
    """(f, theta): f(theta) the training loss of member `member` as a function of its flat
    parameters (a scalar; functional, so torch.func can transform it), theta their current value.

    X (N, d_in) shared or (E, N, d_in) per member; Y as for engine.train."""
    theta = member_vector(params, member, dtype)
    shapes = [(1, *p.shape[1:]) for p in params]
    Xm, Ym = _member_data(arch, X, Y, params[0].shape[0], member, loss, theta.dtype, theta.device)

    def f(th, x=Xm, y=Ym):
        out = forward(arch, unflatten(th, shapes), x)  # (1, N, d_out)
        return reduce_losses(sample_losses(out, y, loss), loss)[0]
    return f, theta


# ----------------------------------------------------------------------------- Hessian-vector products
def _operator(rows, like):
    """The product v -> H v from rows: (k, P) -> (k, P). It also takes one vector (P,), moves its
    input to the dtype and device of `like`, and carries n, dtype and device as attributes."""
    def hvp(V):
        V = torch.as_tensor(V).to(like)
        return rows(V.unsqueeze(0))[0] if V.dim() == 1 else rows(V)
    hvp.n, hvp.dtype, hvp.device = like.shape[-1], like.dtype, like.device
    return hvp


def hvp_fn(f, theta, method: str = "reverse"):
    """v -> H v for H = d^2 f / dtheta^2 at theta; v (P,) or a batch V (k, P) -> same shape.

    "reverse": g = grad f built once with create_graph, then H v = grad(g, theta, v) for all rows
    of V in one vmapped backward (is_grads_batched). "forward": H v = jvp(grad f, theta; v), vmapped
    over the rows (recomputes the gradient at every call; no stored graph)."""
    theta = theta.detach()
    if method == "reverse":
        with torch.enable_grad():
            th = theta.clone().requires_grad_(True)
            g = torch.autograd.grad(f(th), th, create_graph=True)[0]

        def rows(V):
            with torch.enable_grad():
                if V.shape[0] == 1:
                    return torch.autograd.grad(g, th, V[0], retain_graph=True)[0].unsqueeze(0)
                return torch.autograd.grad(g, th, V, retain_graph=True, is_grads_batched=True)[0]
        return _operator(rows, theta)
    if method == "forward":
        grad_f = torch.func.grad(f)
        return _operator(torch.func.vmap(lambda v: torch.func.jvp(grad_f, (theta,), (v,))[1]), theta)
    raise ValueError(f"method must be 'reverse' or 'forward', got {method!r}")


def network_hvp(arch: MLP, params, X, Y, loss: str, member: int = 0, dtype=None, method: str = "reverse",
                chunk: int | None = None):
    """(hvp, theta): Hessian-vector products of one member's training loss (hvp_fn), and its flat
    parameters. chunk: samples per piece; the loss is a sum over pieces, so H v is too (each call
    then rebuilds the pieces' graphs, which bounds memory by one piece)."""
    f, theta = network_loss(arch, params, X, Y, loss, member, dtype)
    if chunk is None:
        return hvp_fn(f, theta, method), theta
    shapes = [(1, *p.shape[1:]) for p in params]
    Xm, Ym = _member_data(arch, X, Y, params[0].shape[0], member, loss, theta.dtype, theta.device)
    N = Xm.shape[0]
    scale = 1.0 if loss == "mse_sum" else 1.0 / N

    def rows(V):
        out = 0
        for i in range(0, N, chunk):
            x, y = Xm[i:i + chunk], Ym[i:i + chunk]

            def piece(th, x=x, y=y):
                return sample_losses(forward(arch, unflatten(th, shapes), x), y, loss).sum() * scale
            out = out + hvp_fn(piece, theta, method)(V)
        return out
    return _operator(rows, theta), theta


def ensemble_hvp(arch: MLP, params, X, Y, loss: str, dtype=None, vmap: bool | None = None):
    """V -> H_e v_e for every member at once: V (E, P) or (E, k, P) -> same shape, H_e the Hessian
    of member e's loss (flat order of member_vector). One gradient graph of sum_e L_e (the members'
    losses are independent, so d^2 (sum_e L_e) / dtheta_e dtheta_f = 0 for e != f) and one backward
    per column k: in a loop, or vmapped (is_grads_batched) if vmap; None = vmapped off the CPU (on
    the CPU the loop is about twice as fast). A diverged member (NaN parameters) gives NaN rows only.
    Attributes n (= P), dtype, device, sizes (entries per parameter tensor)."""
    ps = [p.detach().to(dtype or p.dtype).clone().requires_grad_(True) for p in params]
    X, Y = _prepare_data(arch, X, Y, ps[0].shape[0], loss, ps[0].dtype)
    X, Y = X.to(ps[0].device), Y.to(ps[0].device)
    with torch.enable_grad():
        L = reduce_losses(sample_losses(forward(arch, ps, X), Y, loss), loss)
        g = torch.cat([gi.flatten(1) for gi in torch.autograd.grad(L.sum(), ps, create_graph=True)], 1)
    vmap = ps[0].device.type != "cpu" if vmap is None else vmap

    def hvp(V):
        V = torch.as_tensor(V).to(g)
        with torch.enable_grad():
            if V.dim() == 2:
                return torch.cat([h.flatten(1) for h in torch.autograd.grad(g, ps, V, retain_graph=True)], 1)
            if V.shape[1] == 1 or not vmap:
                return torch.stack([hvp(V[:, i]) for i in range(V.shape[1])], 1)
            hs = torch.autograd.grad(g, ps, V.transpose(0, 1), retain_graph=True, is_grads_batched=True)
        return torch.cat([h.flatten(2) for h in hs], 2).transpose(0, 1)  # (k, E, P) -> (E, k, P)
    hvp.n, hvp.dtype, hvp.device = g.shape[1], g.dtype, g.device
    hvp.sizes = [math.prod(p.shape[1:]) for p in ps]
    return hvp


# ----------------------------------------------------------------------------- exact Hessians
def hessian_matrix(hvp, n: int, *, batch: int = 64, dtype=torch.float64, device=None) -> torch.Tensor:
    """Exact (n, n) Hessian from products with the unit vectors, `batch` rows per product;
    symmetrised, (H + H^T) / 2 (the rows are exact up to rounding, so this only removes rounding)."""
    H = torch.empty(n, n, dtype=dtype, device=device)
    for i in range(0, n, batch):
        j = min(n, i + batch)
        E = torch.zeros(j - i, n, dtype=dtype, device=device)
        E[:, i:j].fill_diagonal_(1.0)
        H[i:j] = hvp(E)
    return (H + H.T) / 2


def network_hessian(arch: MLP, params, X, Y, loss: str, member: int = 0, dtype=None, batch: int = 64):
    """Exact Hessian (P, P) of one member's training loss with respect to its flat parameters
    (double backprop, rows in batches). Meant for small networks (P up to a few thousand)."""
    hvp, theta = network_hvp(arch, params, X, Y, loss, member, dtype)
    return hessian_matrix(hvp, theta.numel(), batch=batch, dtype=theta.dtype, device=theta.device)


def ensemble_hessians(arch: MLP, params, X, Y, loss: str, dtype=None, batch: int = 64) -> torch.Tensor:
    """Exact Hessians (E, P, P) of every member, all members' rows from the same backward passes."""
    hvp = ensemble_hvp(arch, params, X, Y, loss, dtype)
    E, n = params[0].shape[0], hvp.n
    H = torch.empty(E, n, n, dtype=hvp.dtype, device=hvp.device)
    for i in range(0, n, batch):
        j = min(n, i + batch)
        U = torch.zeros(j - i, n, dtype=hvp.dtype, device=hvp.device)
        U[:, i:j].fill_diagonal_(1.0)
        H[:, i:j] = hvp(U.expand(E, -1, -1))
    return (H + H.transpose(1, 2)) / 2


def eigenvalues(H) -> torch.Tensor:
    """Eigenvalues of a symmetric matrix (or a batch of them), ascending (torch.linalg.eigvalsh)."""
    return torch.linalg.eigvalsh(H)


# ----------------------------------------------------------------------------- one layer
def layer_hessian(W, a, head, b=None, reduction: str = "mean") -> torch.Tensor:
    """Exact Hessian of L = red_k l_k(z_k) with respect to one layer, z_k = W a_k (+ b).

    W (d_out, d_in); a (K, d_in) the layer's inputs; head(Z) maps the pre-activations Z (K, d_out)
    to the per-sample losses (K,) (or their sum), sample k's loss depending on z_k only; red is
    the mean over samples ("mean") or the sum ("sum"). z is linear in W, so
        d2L / dW_oi dW_sj = red_k a_ki a_kj d2l_k / dz_o dz_s:
    each sample's Hessian in z (d_out x d_out) is lifted to W by one (d_out^2 x K) @ (K x d_in^2)
    product. Double backpropagation: samples are independent, so differentiating column o of the
    batch gradient dL/dZ gives row o of every sample's Hessian at once. Rows in W.flatten() order,
    then b (a bias is a weight on a constant input 1). Returns (n, n), n = W.numel() (+ d_out).
    """
    K, (d_out, d_in) = a.shape[0], W.shape
    if b is not None:  # lift with the augmented input [a, 1], then put the bias entries last
        a1 = torch.cat([a, torch.ones(K, 1, dtype=a.dtype, device=a.device)], 1)
        W1 = torch.cat([W, b[:, None]], 1)
        H1 = layer_hessian(W1, a1, head, reduction=reduction)
        idx = torch.arange((d_in + 1) * d_out, device=W.device).view(d_out, d_in + 1)
        perm = torch.cat([idx[:, :d_in].flatten(), idx[:, d_in]])
        return H1[perm][:, perm]
    with torch.enable_grad():
        Z = (a @ W.T).detach().requires_grad_(True)
        G = torch.autograd.grad(head(Z).sum(), Z, create_graph=True)[0]
        Hz = torch.stack([torch.autograd.grad(G[:, o].sum(), Z, retain_graph=True)[0] for o in range(d_out)], 1)
    M = Hz.reshape(K, -1).T @ (a[:, :, None] * a[:, None, :]).reshape(K, -1)  # [(o, s), (i, j)]
    if reduction == "mean":
        M = M / K
    elif reduction != "sum":
        raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
    return M.view(d_out, d_out, d_in, d_in).permute(0, 2, 1, 3).reshape(d_out * d_in, d_out * d_in)


def network_layer_hessian(arch: MLP, params, X, Y, loss: str, layer: int, member: int = 0, dtype=None):
    """Exact Hessian of one member's training loss with respect to layer `layer` (0-based) of an MLP:
    its weight matrix (and bias), in the order of the flat parameter vector, so it equals the
    diagonal block of network_hessian at that layer's offset (layer_offsets)."""
    if not 0 <= layer < arch.depth:
        raise ValueError(f"layer must lie in [0, {arch.depth}), got {layer}")
    step = 2 if arch.bias else 1
    ps = [p[member].detach().to(dtype or p.dtype) for p in params]
    X, Y = _member_data(arch, X, Y, params[0].shape[0], member, loss, ps[0].dtype, ps[0].device)
    act = ACTIVATIONS[arch.activation]
    W = lambda l: ps[step * l]  # noqa: E731
    bias = lambda l: ps[step * l + 1] if arch.bias else None  # noqa: E731

    def dense(h, l):
        return h @ W(l).T if bias(l) is None else h @ W(l).T + bias(l)

    a = X
    for l in range(layer):
        a = act(dense(a, l))

    def head(Z):
        h = Z
        for l in range(layer, arch.depth):
            if l > layer:
                h = dense(h, l)
            if l < arch.depth - 1:
                h = act(h)
        return sample_losses(h.unsqueeze(0), Y, loss)[0]
    return layer_hessian(W(layer), a, head, bias(layer), "sum" if loss == "mse_sum" else "mean")


def layer_offsets(arch: MLP) -> list[tuple[int, int]]:
    """(start, stop) of every layer's parameters (weights, then bias) in the flat vector."""
    out, i = [], 0
    for d_in, d_out in zip(arch.widths[:-1], arch.widths[1:]):
        n = (d_in + arch.bias) * d_out
        out.append((i, i + n))
        i += n
    return out


# ----------------------------------------------------------------------------- extreme eigenpairs
def extreme_eigenpairs(hvp, n: int | None = None, k: int = 6, which: str = "LA", *, tol: float = 1e-10,
                       seed: int = 0, dtype=torch.float64, device=None, maxiter=None):
    """k extreme eigenpairs of a symmetric operator given only v -> H v (ARPACK's implicitly restarted
    Lanczos, scipy.sparse.linalg.eigsh on a LinearOperator). which: "LA" largest (top), "SA" smallest
    (bottom, most negative), "LM" largest |lambda|, "BE" both ends. n defaults to hvp.n. Vectors
    travel as numpy float64 and enter hvp as `dtype` on `device` (default hvp.device). Returns
    (values (k,), vectors (n, k)) ordered: descending for "LA", ascending for "SA" and "BE", by
    descending |lambda| for "LM"."""
    from scipy.sparse.linalg import LinearOperator, eigsh

    n = hvp.n if n is None else int(n)
    device = getattr(hvp, "device", None) if device is None else device

    def matvec(v):
        v = torch.as_tensor(np.asarray(v, np.float64).ravel(), dtype=dtype, device=device)
        return hvp(v).detach().to(torch.float64).cpu().numpy()
    op = LinearOperator((n, n), matvec=matvec, dtype=np.float64)
    v0 = np.random.default_rng(seed).standard_normal(n)
    vals, vecs = eigsh(op, k=k, which=which, v0=v0, tol=tol, maxiter=maxiter)
    order = {"LA": np.argsort(vals)[::-1], "LM": np.argsort(np.abs(vals))[::-1]}.get(which, np.argsort(vals))
    return vals[order], vecs[:, order]


# ----------------------------------------------------------------------------- stochastic Lanczos quadrature
def rademacher(k: int, n: int, seed: int = 0, dtype=torch.float64, device=None) -> torch.Tensor:
    """k Rademacher vectors (k, n), entries +-1 with probability 1/2 (drawn on the CPU, so the same
    seed gives the same probes on every device)."""
    gen = torch.Generator().manual_seed(int(seed))
    return (2 * torch.randint(0, 2, (k, n), generator=gen) - 1).to(dtype=dtype, device=device)


def lanczos(matvec, v0, steps: int, reorthogonalize: bool = True, tol: float | None = None):
    """m = min(steps, n) Lanczos steps from each row of v0 (k, n), all rows at once.

    matvec maps a batch (k, n) to (A_r q_r)_r (the same A for every row, or one per row). Row r
    builds q_1 = v0_r / |v0_r|, beta_j q_{j+1} = A q_j - alpha_j q_j - beta_{j-1} q_{j-1} with
    alpha_j = q_j . A q_j and, with full reorthogonalisation, the residual projected out of all
    earlier q twice (classical Gram-Schmidt, twice is enough). A row whose beta_j falls below
    tol * max(|alpha|, beta) (an invariant Krylov subspace) stops at size j.
    Returns alpha (k, m), beta (k, m) (beta[:, j] couples steps j and j + 1), sizes (k,)."""
    k, n = v0.shape
    m = min(int(steps), n)
    tol = (10 * math.sqrt(n) * torch.finfo(v0.dtype).eps) if tol is None else tol
    Q = torch.zeros(k, m, n, dtype=v0.dtype, device=v0.device) if reorthogonalize else None
    alpha = torch.zeros(k, m, dtype=v0.dtype, device=v0.device)
    beta = torch.zeros(k, m, dtype=v0.dtype, device=v0.device)
    sizes = torch.full((k,), m, dtype=torch.int64)
    scale = torch.zeros(k, dtype=v0.dtype, device=v0.device)
    q = v0 / v0.norm(dim=1, keepdim=True)
    q_prev = torch.zeros_like(q)
    live = torch.ones(k, dtype=torch.bool, device=v0.device)
    for j in range(m):
        if Q is not None:
            Q[:, j] = q
        w = matvec(q)
        alpha[:, j] = a = (q * w).sum(1)
        w = w - a[:, None] * q - (beta[:, j - 1, None] * q_prev if j > 0 else 0)
        if Q is not None:
            for _ in range(2):
                w = w - torch.einsum("kjn,kj->kn", Q[:, :j + 1], torch.einsum("kjn,kn->kj", Q[:, :j + 1], w))
        b = w.norm(dim=1)
        scale = torch.maximum(scale, torch.maximum(a.abs(), b))
        if j == m - 1:
            beta[:, j] = b * live
            break
        stop = live & (b <= tol * scale)
        sizes[stop.cpu()] = j + 1
        live = live & ~stop
        beta[:, j] = torch.where(live, b, torch.zeros_like(b))
        q_prev, q = q, torch.where(live[:, None], w / torch.where(live, b, torch.ones_like(b))[:, None],
                                   torch.zeros_like(w))
    return alpha, beta, sizes


def gauss_quadrature(alpha, beta, sizes=None):
    """Nodes and weights of the Gauss quadrature of each row's Lanczos tridiagonal T (size s):
    T = U diag(theta) U^T, nodes theta, weights tau = U[0]^2 (they sum to 1). Returns numpy float64
    (k, m) arrays; rows shorter than m are padded with nodes 0 and weights 0; a row with non-finite
    entries (a diverged network) is NaN throughout."""
    alpha = np.asarray(torch.as_tensor(alpha).detach().cpu(), np.float64)
    beta = np.asarray(torch.as_tensor(beta).detach().cpu(), np.float64)
    k, m = alpha.shape
    sizes = np.full(k, m) if sizes is None else np.asarray(sizes)
    nodes, weights = np.zeros((k, m)), np.zeros((k, m))
    for r in range(k):
        s = int(sizes[r])
        if not (np.isfinite(alpha[r, :s]).all() and np.isfinite(beta[r, :s - 1]).all()):
            nodes[r], weights[r] = np.nan, np.nan
            continue
        T = np.diag(alpha[r, :s]) + np.diag(beta[r, :s - 1], 1) + np.diag(beta[r, :s - 1], -1)
        theta, U = np.linalg.eigh(T)
        nodes[r, :s], weights[r, :s] = theta, U[0] ** 2
    return nodes, weights


def spectral_density(nodes, weights, grid, sigma: float) -> np.ndarray:
    """Smoothed density phi_sigma(t) = mean_probes sum_i tau_i N(t; theta_i, sigma^2) on the grid
    (integrates to 1 over the real line)."""
    t = np.asarray(grid, np.float64)[:, None, None]
    g = np.exp(-0.5 * ((t - nodes[None]) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))
    return (g * weights[None]).sum(2).mean(1)


def quadrature_moment(nodes, weights, f) -> float:
    """Estimate of tr f(H) / n = mean_probes sum_i tau_i f(theta_i); f vectorised over numpy arrays."""
    return float((np.asarray(weights) * f(np.asarray(nodes))).sum(1).mean())


def fraction_below(nodes, weights, threshold: float, sigma: float | None = None) -> float:
    """Estimated fraction of eigenvalues with |lambda| < threshold: the quadrature of the indicator
    (sigma None), or the mass of the sigma-smoothed density on (-threshold, threshold).

    Its Monte Carlo error over p probes: for the spectral projector P onto those eigenvalues (rank
    r = q n), a Rademacher probe has Var(v^T P v / n) = 2 (|P|_F^2 - sum_i P_ii^2) / n^2 <= 2 q (1 - q) / n,
    so the standard error is at most sqrt(2 q (1 - q) / (n p)); the quadrature adds the error of the
    best degree 2m - 1 polynomial approximation of the indicator on the spectrum (small when no
    eigenvalue lies near +-threshold)."""
    nodes, weights = np.asarray(nodes), np.asarray(weights)
    if sigma is None:
        return float((weights * (np.abs(nodes) < threshold)).sum(1).mean())
    from scipy.special import ndtr
    mass = ndtr((threshold - nodes) / sigma) - ndtr((-threshold - nodes) / sigma)
    return float((weights * mass).sum(1).mean())


def fraction_standard_error(fraction: float, n: int, probes: int) -> float:
    """Bound sqrt(2 q (1 - q) / (n p)) on the probe-noise standard error of a fraction q of the n
    eigenvalues estimated with p Rademacher probes (fraction_below)."""
    return math.sqrt(2 * fraction * (1 - fraction) / (n * probes))


@dataclass
class Quadrature:
    """SLQ result: nodes, weights (probes, m) numpy float64 (each weight row sums to 1), n the dimension."""
    nodes: np.ndarray
    weights: np.ndarray
    n: int

    def density(self, grid, sigma: float) -> np.ndarray:
        return spectral_density(self.nodes, self.weights, grid, sigma)

    def moment(self, f) -> float:
        return quadrature_moment(self.nodes, self.weights, f)

    def fraction_below(self, threshold: float, sigma: float | None = None) -> float:
        return fraction_below(self.nodes, self.weights, threshold, sigma)

    def standard_error(self, f) -> float:
        """Standard error over the probes of the estimate moment(f)."""
        per = (self.weights * f(self.nodes)).sum(1)
        return float(per.std(ddof=1) / math.sqrt(len(per))) if len(per) > 1 else math.nan


def slq(matvec, n: int | None = None, *, probes: int = 10, steps: int = 80, seed: int = 0, dtype=None,
        device=None, probe_batch: int | None = None, v0=None) -> Quadrature:
    """Stochastic Lanczos quadrature of a symmetric operator (matvec: (k, n) -> (k, n), e.g. an hvp):
    `probes` Rademacher probes (rademacher(probes, n, seed), or v0 (probes, n)), m = min(steps, n)
    Lanczos steps each with full reorthogonalisation, `probe_batch` probes at a time (memory
    probe_batch * m * n for the Lanczos basis). n, dtype, device default to the matvec's attributes
    (hvps here carry them), else float64 on the CPU."""
    n = matvec.n if n is None else int(n)
    dtype = getattr(matvec, "dtype", torch.float64) if dtype is None else dtype
    device = getattr(matvec, "device", None) if device is None else device
    V = rademacher(probes, n, seed, dtype, device) if v0 is None else torch.as_tensor(v0, dtype=dtype, device=device)
    nodes, weights = [], []
    for i in range(0, V.shape[0], probe_batch or V.shape[0]):
        alpha, beta, sizes = lanczos(matvec, V[i:i + (probe_batch or V.shape[0])], steps)
        x, w = gauss_quadrature(alpha, beta, sizes)
        nodes.append(x)
        weights.append(w)
    return Quadrature(np.concatenate(nodes), np.concatenate(weights), n)


def network_slq(arch: MLP, params, X, Y, loss: str, member: int = 0, dtype=None, method: str = "reverse",
                chunk: int | None = None, **kw) -> Quadrature:
    """slq of one member's training-loss Hessian (kw: probes, steps, seed, probe_batch)."""
    hvp, theta = network_hvp(arch, params, X, Y, loss, member, dtype, method, chunk)
    return slq(hvp, theta.numel(), dtype=theta.dtype, device=theta.device, **kw)


def ensemble_slq(arch: MLP, params, X, Y, loss: str, dtype=None, *, probes: int = 10, steps: int = 80,
                 seed: int = 0, probe_batch: int | None = None) -> list[Quadrature]:
    """slq of every member's Hessian at once (ensemble_hvp), each member with the same probes
    rademacher(probes, P, seed): member e's result equals network_slq(..., member=e) up to rounding
    (NaN for a diverged member). Lanczos memory E * probe_batch * m * P."""
    hvp = ensemble_hvp(arch, params, X, Y, loss, dtype)
    E, n = params[0].shape[0], hvp.n
    V = rademacher(probes, n, seed, hvp.dtype, hvp.device)
    nodes, weights = [], []
    for i in range(0, probes, probe_batch or probes):
        k = min(probes, i + (probe_batch or probes)) - i
        rows = lambda Q, k=k: hvp(Q.view(E, k, n)).reshape(E * k, n)  # noqa: E731  rows (member, probe)
        x, w = gauss_quadrature(*lanczos(rows, V[i:i + k].repeat(E, 1), steps))
        nodes.append(x.reshape(E, k, -1))
        weights.append(w.reshape(E, k, -1))
    nodes, weights = np.concatenate(nodes, 1), np.concatenate(weights, 1)
    return [Quadrature(nodes[e], weights[e], n) for e in range(E)]

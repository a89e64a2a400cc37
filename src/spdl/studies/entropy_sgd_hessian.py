"""Hessian spectra at SGD minima, local entropy and Entropy-SGD.

References: P. Chaudhari, A. Choromanska, S. Soatto, Y. LeCun, C. Baldassi, C. Borgs, J. Chayes,
L. Sagun, R. Zecchina, "Entropy-SGD: biasing gradient descent into wide valleys", ICLR 2017,
arXiv:1611.01838 [ICLR]; P. Chaudhari, A. Oberman, S. Osher, S. Soatto, G. Carlier, "Deep
relaxation: partial differential equations for optimizing deep neural networks", Res. Math.
Sci. 5:30 (2018), arXiv:1704.04932 [DR].

Theory (beta = 1):
- local entropy F(x, gamma) = log int exp(-f(x') - gamma/2 |x - x'|^2) dx' [ICLR Eq. 3];
  -grad F = gamma (x - <x'>) with <.> under P(x') ~ exp(-f(x') - gamma/2 |x - x'|^2) [ICLR Eq. 7].
- viscous Hamilton-Jacobi u_t = -1/2 |grad u|^2 + 1/2 Lap u, u(x, 0) = f [DR Eq. 8]; Cole-Hopf
  u = -log v with v_t = 1/2 Lap v, so u(x, t) = -log (G_t * e^{-f})(x) and
  -F(x, gamma) = u(x, 1/gamma) - 1/2 log(2 pi / gamma) in 1-D (d/2 log in d dims).
- quadratic f = 1/2 x^T A x: <x'> = x - (A + gamma I)^-1 A x, Hessian of -F = gamma A (A + gamma I)^-1.

Algorithm (Entropy-SGD, ICLR Algorithm 1): x', mu <- x; L SGLD steps
x' <- x' - eta' (grad f_batch(x') - gamma (x - x')) + noise, mu <- (1 - alpha) mu + alpha x';
then x <- x - eta gamma (x - mu) (or x - eta (x - mu) with scoping, gamma = gamma0 (1 + gamma1)^t).
``variant="paper"`` uses step noise sqrt(eta') eps; ``variant="code"`` follows the authors' released
python/optim.py: step noise eps sqrt(2 eta'), one extra minibatch gradient at x per outer step,
and with L = 0 the outer step is that plain SGD step.
"""

from __future__ import annotations

import hashlib
import math
import os

import numpy as np
import torch
import torch.nn.functional as F

from spdl.io import atomic_path
from spdl.models import MLP, forward

VARIANTS = ("paper", "code")
METHODS = ("sgd", "adam", "entropy_sgd")


# --------------------------------------------------------------------------- 1-D cartoon (ICLR Fig. 2)

def cartoon_landscape(x, *, confine, wide, sharp, ripple):
    """f(x) = confine x^2 / 2 - depth_w exp(-(x - c_w)^2 / 2 s_w^2) - depth_s exp(...) + ripple terms.

    wide, sharp: dicts {center, width, depth}; ripple: list of {amplitude, frequency, phase}.
    A deterministic stand-in for the authors' smoothed random landscape (hessian/entropyfig.py):
    a wide shallower well and a sharp deeper one.
    """
    x = np.asarray(x, dtype=np.float64)
    f = 0.5 * confine * x**2
    for well in (wide, sharp):
        f = f - well["depth"] * np.exp(-0.5 * ((x - well["center"]) / well["width"]) ** 2)
    for r in ripple:
        f = f + r["amplitude"] * np.sin(r["frequency"] * x + r["phase"])
    return f


def neg_local_entropy_quadrature(x, f, gamma):
    """-F(x, gamma) on the grid x by the trapezoid rule in log space (scipy logsumexp)."""
    from scipy.special import logsumexp

    x, f = np.asarray(x, np.float64), np.asarray(f, np.float64)
    w = np.full(len(x), np.log(x[1] - x[0]))
    w[[0, -1]] += np.log(0.5)
    expo = -f[None, :] - 0.5 * gamma * (x[:, None] - x[None, :]) ** 2 + w[None, :]
    return -logsumexp(expo, axis=1)


def _neumann_laplacian(n, dx):
    """Second-difference matrix with reflecting (zero-flux) ends, sparse CSR."""
    from scipy import sparse

    main = np.full(n, -2.0)
    off = np.ones(n - 1)
    lap = sparse.diags([off, main, off], [-1, 0, 1], format="lil")
    lap[0, 1] = 2.0
    lap[n - 1, n - 2] = 2.0
    return (lap / dx**2).tocsr()


def viscous_hj_cole_hopf(x, f, t):
    """u(x, t) of u_t = -1/2 u_x^2 + 1/2 u_xx, u(., 0) = f, via Cole-Hopf: v = exp(-u) solves the
    heat equation v_t = 1/2 v_xx, integrated exactly in time on the second-difference grid
    (scipy.sparse.linalg.expm_multiply), reflecting ends."""
    from scipy.sparse.linalg import expm_multiply

    x, f = np.asarray(x, np.float64), np.asarray(f, np.float64)
    shift = f.min()
    v0 = np.exp(-(f - shift))
    v = expm_multiply(0.5 * t * _neumann_laplacian(len(x), x[1] - x[0]), v0)
    return -np.log(np.maximum(v, np.finfo(float).tiny)) + shift


def viscous_hj_direct(x, f, t, rtol=1e-8, atol=1e-10):
    """u(x, t) of the viscous HJ equation solved directly (no Cole-Hopf): central differences in x,
    reflecting ends, implicit BDF in time (scipy.integrate.solve_ivp with the sparse Jacobian)."""
    from scipy import sparse
    from scipy.integrate import solve_ivp

    x, f = np.asarray(x, np.float64), np.asarray(f, np.float64)
    n, dx = len(x), x[1] - x[0]
    lap = _neumann_laplacian(n, dx)
    d1 = sparse.diags([-np.ones(n - 1), np.ones(n - 1)], [-1, 1], format="lil")
    d1[0, 1] = 0.0
    d1[n - 1, n - 2] = 0.0  # zero slope at the reflecting ends
    d1 = (d1 / (2 * dx)).tocsr()

    def rhs(_, u):
        ux = d1 @ u
        return -0.5 * ux**2 + 0.5 * (lap @ u)

    def jac(_, u):
        return -sparse.diags(d1 @ u) @ d1 + 0.5 * lap

    sol = solve_ivp(rhs, (0.0, t), f, method="BDF", jac=jac, rtol=rtol, atol=atol, t_eval=[t])
    if not sol.success:
        raise RuntimeError(f"viscous HJ solve failed: {sol.message}")
    return sol.y[:, -1]


def hj_to_neg_local_entropy(u, gamma, dim=1):
    """-F(x, gamma) = u(x, 1/gamma) - d/2 log(2 pi / gamma) (Cole-Hopf with the normalised heat kernel)."""
    return u - 0.5 * dim * math.log(2 * math.pi / gamma)


# --------------------------------------------------------------------------- quadratic closed forms

def random_spd(d, eig_min, eig_max, seed):
    """A = Q diag(a) Q^T with a log-spaced in [eig_min, eig_max] and Haar Q (numpy seed)."""
    rng = np.random.default_rng(seed)
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    q = q * np.sign(np.diag(r))
    a = np.geomspace(eig_min, eig_max, d)
    return (q * a) @ q.T, a, q


def quadratic_mean(A, x, gamma):
    """<x'> = x - (A + gamma I)^-1 A x for f = 1/2 x^T A x [derived]."""
    from scipy.linalg import solve

    A, x = np.asarray(A, np.float64), np.asarray(x, np.float64)
    return x - solve(A + gamma * np.eye(len(A)), A @ x, assume_a="pos")


def quadratic_entropy_hessian(A, gamma):
    """Hessian of -F for f = 1/2 x^T A x: gamma A (A + gamma I)^-1 (eigenvalues gamma a / (a + gamma))."""
    from scipy.linalg import solve

    A = np.asarray(A, np.float64)
    return gamma * solve(A + gamma * np.eye(len(A)), A, assume_a="pos")


# --------------------------------------------------------------------------- Entropy-SGD core

def noise_generators(seeds, stream=1):
    """Per-member torch generators for SGLD noise, independent of the minibatch generators."""
    return [torch.Generator().manual_seed(int(np.random.SeedSequence([int(s), stream]).generate_state(1)[0]))
            for s in seeds]


def _per_member(v, E, dtype):
    v = torch.as_tensor(v, dtype=dtype).flatten()
    return v.expand(E).clone() if v.numel() == 1 else v.clone()


def _shape(E, p):
    return (E,) + (1,) * (p.dim() - 1)


def sgld_chain(x, grad_fn, *, gamma, eta_prime, eps, steps, alpha, variant, gens, burn_in=0, average="exp"):
    """Run the SGLD inner loop of Algorithm 1 for all members from x' = x.

    x: list of stacked tensors (E, ...); grad_fn(list) -> list of stacked gradients of each
    member's (minibatch) loss. gamma, eta_prime, eps: float or (E,). average "exp":
    mu <- (1 - alpha) mu + alpha x' (Algorithm 1, mu starts at x); "uniform": the plain mean of
    x' over steps burn_in+1..steps (for estimating <x'>). Returns (mu, x'_final).
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    E, dtype = x[0].shape[0], x[0].dtype
    gamma, eta_prime, eps = (_per_member(v, E, dtype) for v in (gamma, eta_prime, eps))
    scale = eps * torch.sqrt(eta_prime if variant == "paper" else 2 * eta_prime)  # step-noise std
    draw = bool((scale > 0).any())
    xp = [p.clone() for p in x]
    mu = [p.clone() for p in x] if average == "exp" else [torch.zeros_like(p) for p in x]
    for step in range(steps):
        grads = grad_fn(xp)
        for i, (p, g) in enumerate(zip(x, grads)):
            s = _shape(E, p)
            xp[i] = xp[i] - eta_prime.view(s) * (g - gamma.view(s) * (p - xp[i]))
            if draw:
                xp[i] = xp[i] + scale.view(s) * torch.stack(
                    [torch.randn(p.shape[1:], generator=gen, dtype=dtype) for gen in gens])
            if average == "exp":
                mu[i] = (1 - alpha) * mu[i] + alpha * xp[i]
            elif step >= burn_in:
                mu[i] = mu[i] + xp[i] / (steps - burn_in)
    return mu, xp


def entropy_sgd_direction(x, grad_fn, *, gamma, eta_prime, eps, L, alpha, variant, outer_gamma, gens):
    """The outer-loop descent direction of Algorithm 1 (the estimate of -grad F, times gamma or not).

    paper: gamma (x - mu) if outer_gamma else (x - mu) (scoping). code: one minibatch gradient at x
    first; with L = 0 the direction is that gradient (plain SGD), else x - mu (or gamma (x - mu)).
    """
    E, dtype = x[0].shape[0], x[0].dtype
    g0 = grad_fn(x) if variant == "code" else None
    if L == 0:
        return g0 if g0 is not None else [torch.zeros_like(p) for p in x]
    mu, _ = sgld_chain(x, grad_fn, gamma=gamma, eta_prime=eta_prime, eps=eps, steps=L, alpha=alpha,
                       variant=variant, gens=gens)
    g = _per_member(gamma, E, dtype)
    return [(p - m) * (g.view(_shape(E, p)) if outer_gamma else 1.0) for p, m in zip(x, mu)]


def grads_per_step(method, L, variant):
    """Minibatch gradients one update consumes (effective epochs = epochs x this for Entropy-SGD)."""
    if method != "entropy_sgd":
        return 1
    return L + 1 if variant == "code" else max(L, 1)


# --------------------------------------------------------------------------- data and ensembles

def downsample(x, side=28, factor=2):
    """(N, side^2) images -> (N, (side/factor)^2) by factor x factor average pooling."""
    x = np.asarray(x, np.float32)
    s = side // factor
    return x.reshape(-1, s, factor, s, factor).mean(axis=(2, 4)).reshape(len(x), s * s)


def load_data(path, factor=2, n_train=None, n_test=None):
    """The prepared dataset at path, images average-pooled by factor; float32 / int64 tensors."""
    from spdl.datasets import load

    d = load(path)
    out = {}
    for split, n in (("train", n_train), ("test", n_test)):
        x, y = d[f"x_{split}"], d[f"y_{split}"]
        if factor > 1:
            x = downsample(x, int(math.isqrt(x.shape[1])), factor)
        n = len(y) if n is None else min(int(n), len(y))
        out[f"x_{split}"], out[f"y_{split}"] = torch.as_tensor(x[:n]), torch.as_tensor(y[:n], dtype=torch.int64)
    return out


class BatchStream:
    """Minibatch indices (E, B) with the engine's convention: member e reshuffles with its own
    generator (seeded by seeds[e]) at every epoch and drops the last incomplete batch."""

    def __init__(self, n, batch_size, seeds):
        self.n, self.b = int(n), int(batch_size)
        if not 0 < self.b <= self.n:
            raise ValueError(f"batch_size must lie in [1, {n}], got {batch_size}")
        self.gens = [torch.Generator().manual_seed(int(s)) for s in seeds]
        self.perms, self.pos = torch.empty(len(self.gens), self.n, dtype=torch.int64), self.n

    def next(self):
        if self.pos + self.b > self.n:
            self.perms = torch.stack([torch.randperm(self.n, generator=g) for g in self.gens])
            self.pos = 0
        idx = self.perms[:, self.pos:self.pos + self.b]
        self.pos += self.b
        return idx

    def state(self):
        return {"perms": self.perms, "pos": self.pos, "gens": [g.get_state() for g in self.gens]}

    def load(self, st):
        self.perms, self.pos = st["perms"], st["pos"]
        for g, s in zip(self.gens, st["gens"]):
            g.set_state(s)


def member_losses(arch, params, x, y):
    """Mean cross-entropy of every member, (E,); x (B, d) shared or (E, B, d), y (B,) or (E, B)."""
    out = forward(arch, params, x)
    return F.cross_entropy(out.transpose(1, 2), y.expand(out.shape[:2]), reduction="none").mean(1)


def minibatch_grad_fn(arch, X, Y, stream):
    """grad_fn(params) -> stacked gradients of each member's loss on its next minibatch."""
    def grad_fn(params):
        idx = stream.next()
        ps = [p.detach().requires_grad_(True) for p in params]
        loss = member_losses(arch, ps, X[idx], Y[idx])
        return list(torch.autograd.grad(loss.sum(), ps))
    return grad_fn


@torch.no_grad()
def evaluate(arch, params, X, Y, chunk=2048):
    """(loss, error) of every member on (X, Y), float64 numpy (E,)."""
    loss, wrong = 0.0, 0.0
    for i in range(0, len(Y), chunk):
        out = forward(arch, params, X[i:i + chunk])
        y = Y[i:i + chunk]
        loss = loss + F.cross_entropy(out.transpose(1, 2), y.expand(out.shape[:2]), reduction="none").sum(1)
        wrong = wrong + (out.argmax(-1) != y).sum(1)
    return (loss / len(Y)).double().numpy(), (wrong / len(Y)).double().numpy()


def _fingerprint(*objs, tensors=()):
    h = hashlib.sha256(repr(objs).encode())
    for t in tensors:
        h.update(t.detach().contiguous().numpy().tobytes())
    return h.hexdigest()


def train_ensemble(arch: MLP, params, data, *, method, epochs, batch_size, seeds, lr, lr_milestones=(),
                   lr_factor=0.1, adam=None, esgd=None, record_epochs=(), keep_epochs=(), checkpoint=None,
                   log=None):
    """Train E members with one method for `epochs` effective epochs (minibatch gradients / batches
    per epoch), so SGD, Adam and Entropy-SGD are compared at matched effective epochs.

    method "sgd": x <- x - lr g; "adam": Adam (adam = {beta1, beta2, eps}); "entropy_sgd": Algorithm 1,
    esgd = {L, gamma0, gamma1, eta_prime, eps, alpha, variant, outer_gamma} (gamma0, eta_prime, eps
    float or per member). lr: float or per member, multiplied by lr_factor at each effective epoch in
    lr_milestones. Records full train/test loss and error at record_epochs; keeps parameters at
    keep_epochs. A member whose loss becomes non-finite is frozen as NaN and marked diverged.
    checkpoint: path saved at every effective epoch, resumed when the run's fingerprint matches.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    X, Y, Xt, Yt = data["x_train"], data["y_train"], data["x_test"], data["y_test"]
    E, dtype = params[0].shape[0], params[0].dtype
    lr0 = _per_member(lr, E, dtype)
    esgd = dict(esgd or {})
    L = int(esgd.get("L", 0))
    variant = esgd.get("variant", "paper")
    cost = grads_per_step(method, L, variant)
    per_epoch = len(Y) // batch_size
    total = int(round(epochs * per_epoch))
    n_steps = total // cost
    record = sorted({int(e) for e in record_epochs} | {int(e) for e in keep_epochs})
    keep = {int(e) for e in keep_epochs}
    stream = BatchStream(len(Y), batch_size, seeds)
    gens = noise_generators(seeds)
    grad_fn = minibatch_grad_fn(arch, X, Y, stream)
    x = [p.detach().clone() for p in params]
    m = [torch.zeros_like(p) for p in x]
    v = [torch.zeros_like(p) for p in x]
    hist = {k: np.full((len(record), E), np.nan) for k in ("train_loss", "train_err", "test_loss", "test_err")}
    kept = {}
    done_epochs = np.full(len(record), np.nan)
    diverged_step = np.full(E, -1)
    step, done_records = 0, 0
    fp = _fingerprint(arch, method, epochs, batch_size, list(seeds), lr0.tolist(), list(lr_milestones),
                      lr_factor, adam, sorted(esgd.items()), record, sorted(keep), tensors=x) if checkpoint else None
    if checkpoint and os.path.exists(checkpoint):
        ck = torch.load(checkpoint, weights_only=False)
        if ck["fingerprint"] == fp:
            x, m, v, step, done_records = ck["x"], ck["m"], ck["v"], ck["step"], ck["done"]
            hist, kept, diverged_step = ck["hist"], ck["kept"], ck["diverged_step"]
            done_epochs = ck["done_epochs"]
            stream.load(ck["stream"])
            for g, s in zip(gens, ck["gens"]):
                g.set_state(s)
            print(f"resumed {checkpoint} at step {step}", file=log)

    def record_now(epoch_idx):
        tl, te = evaluate(arch, x, X, Y)
        sl, se = evaluate(arch, x, Xt, Yt)
        for k, val in (("train_loss", tl), ("train_err", te), ("test_loss", sl), ("test_err", se)):
            val = val.copy()
            val[diverged_step >= 0] = np.nan
            hist[k][epoch_idx] = val
        done_epochs[epoch_idx] = epoch_of(step)
        if record[epoch_idx] in keep:
            kept[record[epoch_idx]] = [p.clone() for p in x]

    def epoch_of(s):  # effective epochs completed after s updates
        return s * cost / per_epoch

    while True:
        while done_records < len(record) and (epoch_of(step) >= record[done_records] or step == n_steps):
            record_now(done_records)
            done_records += 1
        if step == n_steps:
            break
        ep = epoch_of(step)
        lr_now = lr0 * lr_factor ** sum(ep >= mstone for mstone in lr_milestones)
        if method == "entropy_sgd":
            gamma = _per_member(esgd["gamma0"], E, dtype) * (1 + esgd.get("gamma1", 0.0)) ** step
            d = entropy_sgd_direction(x, grad_fn, gamma=gamma, eta_prime=esgd["eta_prime"], eps=esgd["eps"], L=L,
                                      alpha=esgd["alpha"], variant=variant,
                                      outer_gamma=esgd.get("outer_gamma", False), gens=gens)
        else:
            d = grad_fn(x)
            if method == "adam":
                b1, b2, ae = adam["beta1"], adam["beta2"], adam["eps"]
                t = step + 1
                for i, g in enumerate(d):
                    m[i] = b1 * m[i] + (1 - b1) * g
                    v[i] = b2 * v[i] + (1 - b2) * g * g
                    d[i] = (m[i] / (1 - b1**t)) / ((v[i] / (1 - b2**t)).sqrt() + ae)
        x = [p - lr_now.view(_shape(E, p)) * g for p, g in zip(x, d)]
        step += 1
        bad = ~torch.stack([p.flatten(1).isfinite().all(1) for p in x]).all(0).numpy()
        new = bad & (diverged_step < 0)
        if new.any():
            diverged_step[new] = step
            for p in x:
                p[torch.as_tensor(new)] = float("nan")
        if checkpoint and int(epoch_of(step)) > int(epoch_of(step - 1)) and step < n_steps:
            with atomic_path(checkpoint) as tmp:
                torch.save({"fingerprint": fp, "x": x, "m": m, "v": v, "step": step, "done": done_records,
                            "hist": hist, "kept": kept, "done_epochs": done_epochs, "diverged_step": diverged_step, "stream": stream.state(),
                            "gens": [g.get_state() for g in gens]}, tmp)
            print(f"{method}: effective epoch {epoch_of(step):.2f}, step {step}/{n_steps}", file=log, flush=True)
    if checkpoint and os.path.exists(checkpoint):
        os.remove(checkpoint)
    return {"params": x, "epochs": np.array(record, dtype=np.float64), "epochs_done": done_epochs,
            "history": hist, "kept": kept,
            "diverged": diverged_step >= 0, "diverged_step": diverged_step, "steps": n_steps,
            "grads_per_step": cost}


# --------------------------------------------------------------------------- Hessian helpers

def spectrum_summary(eigs, rel_thresholds=(1e-4, 1e-3, 1e-2), abs_thresholds=(1e-4, 1e-3, 1e-2)):
    """Shape numbers of a Hessian spectrum: lambda_max, lambda_min, ratio lambda_max/|lambda_min|,
    fraction negative, fractions with |lambda| < tau lambda_max and |lambda| < tau (absolute)."""
    eigs = np.asarray(eigs, np.float64)
    lmax, lmin = float(eigs.max()), float(eigs.min())
    out = {"lambda_max": lmax, "lambda_min": lmin, "ratio": lmax / abs(lmin) if lmin < 0 else np.inf,
           "frac_negative": float(np.mean(eigs < 0))}
    for t in rel_thresholds:
        out[f"frac_rel_{t:g}"] = float(np.mean(np.abs(eigs) < t * lmax))
    for t in abs_thresholds:
        out[f"frac_abs_{t:g}"] = float(np.mean(np.abs(eigs) < t))
    return out

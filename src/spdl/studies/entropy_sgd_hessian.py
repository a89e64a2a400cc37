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

Training: SGD, Adam and Entropy-SGD are update rules of the ensemble engine (spdl.engine.train:
SGD(), Adam(...), EntropySGD(...) here, StepLR for lr milestones; make_rule builds them from the
config), so every member has its own minibatch and noise stream, and checkpoints and divergence
are the engine's. Methods are compared at matched effective epochs (minibatch gradients / batches
per epoch, the paper's "epochs x L"; matched_steps).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from spdl.engine import SGD, Adam, UpdateRule, _listed
from spdl.models import MLP, forward

VARIANTS = ("paper", "code")
METHODS = ("sgd", "adam", "entropy_sgd")
ESGD_KEYS = ("L", "gamma0", "gamma1", "eta_prime", "eps", "alpha", "variant", "outer_gamma")


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

def _per_member(v, E, dtype):
    v = torch.as_tensor(v, dtype=dtype).flatten()
    if v.numel() not in (1, E):
        raise ValueError(f"expected a float or {E} values, got {v.numel()}")
    return v.expand(E).clone() if v.numel() == 1 else v.clone()


def _view(v, p):
    return v.view((p.shape[0],) + (1,) * (p.dim() - 1))


def noise_scale(eps, eta_prime, variant):
    """Std of the SGLD step noise: eps sqrt(eta') (paper) or eps sqrt(2 eta') (released code)."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    return eps * torch.sqrt(eta_prime if variant == "paper" else 2 * eta_prime)


def noise_generators(seeds, stream=1):
    """Per-member torch generators for SGLD noise outside the engine (independent of seeds' minibatch streams)."""
    return [torch.Generator().manual_seed(int(np.random.SeedSequence([int(s), stream]).generate_state(1)[0]))
            for s in seeds]


def generator_noise(gens):
    """noise_fn(p, std) for sgld_chain: N(0, std_e^2) noise shaped like stacked p, member e drawing from
    gens[e] only when std_e > 0 (as StepContext.noise_like inside the engine)."""
    def noise(p, std):
        return torch.stack([s * torch.randn(p.shape[1:], generator=g, dtype=p.dtype) if s > 0 else
                            torch.zeros(p.shape[1:], dtype=p.dtype) for s, g in zip(std.tolist(), gens)])
    return noise


def sgld_chain(x, grad_fn, noise_fn, *, gamma, eta_prime, eps, steps, alpha, variant, burn_in=0, average="exp"):
    """The SGLD inner loop of Algorithm 1 for all members from x' = x (also the engine rule's inner loop).

    x: list of stacked tensors (E, ...); grad_fn(x', k) -> stacked gradients of each member's
    (minibatch) loss at x' for inner step k = 0..steps-1 (fresh tensors); noise_fn(p, std) ->
    N(0, std_e^2) noise like stacked p. gamma, eta_prime, eps, alpha: float or (E,). Step:
    x' <- x' - eta' (g - gamma (x - x')) + noise_scale(eps, eta', variant) xi. average "exp":
    mu <- (1 - alpha) mu + alpha x' (Algorithm 1, mu starts at x); "uniform": the plain mean of x'
    over steps burn_in+1..steps (for estimating <x'>). Returns (mu, x'_final).
    """
    E, dtype = x[0].shape[0], x[0].dtype
    gamma, eta_prime, eps, alpha = (_per_member(v, E, dtype) for v in (gamma, eta_prime, eps, alpha))
    scale = noise_scale(eps, eta_prime, variant)
    draw = bool((scale > 0).any())
    xp = [p.detach().clone() for p in x]
    mu = [p.detach().clone() for p in x] if average == "exp" else [torch.zeros_like(p) for p in xp]
    for step in range(steps):
        grads = grad_fn(xp, step)
        with torch.no_grad():
            for p, a, g, m in zip(x, xp, grads, mu):
                a.sub_(_view(eta_prime, a) * (g - _view(gamma, a) * (p - a)))
                if draw:
                    a.add_(noise_fn(a, scale))
                if average == "exp":
                    m.mul_(1 - _view(alpha, m)).add_(_view(alpha, m) * a)
                elif step >= burn_in:
                    m.add_(a / (steps - burn_in))
    return mu, xp


class EntropySGD(UpdateRule):
    """Entropy-SGD (ICLR Algorithm 1) as a per-member update rule of spdl.engine.train.

    One update k: x', mu <- x; L SGLD steps (sgld_chain) on fresh minibatches of each member's stream;
    then x <- x - lr (x - mu) (scoping, the paper's experiments) or x - lr gamma (x - mu)
    (outer_gamma), with gamma = gamma0 (1 + gamma1)^k. variant "paper": step noise sqrt(eta') eps,
    the first inner step on this update's minibatch, L = 0 does not move; "code" (the authors'
    python/optim.py): step noise eps sqrt(2 eta'), first a gradient at x on this update's minibatch,
    the inner steps on the following ones, and with L = 0 the update is that SGD step.
    gamma0, gamma1, eta_prime, eps, alpha: float or one value per member. Gradients include weight
    decay and norm penalty (ctx.loss_and_grad). No state: gamma follows from the update count.
    """

    def __init__(self, L, gamma0, gamma1=0.0, eta_prime=0.1, eps=1e-4, alpha=0.75, variant="paper",
                 outer_gamma=False):
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
        if int(L) != L or L < 0:
            raise ValueError(f"L must be a non-negative integer, got {L!r}")
        self.L, self.variant, self.outer_gamma = int(L), variant, bool(outer_gamma)
        self.gamma0, self.gamma1, self.eta_prime, self.eps, self.alpha = gamma0, gamma1, eta_prime, eps, alpha

    @property
    def grads_per_step(self) -> int:
        """Minibatches one update consumes: L + 1 (code), max(L, 1) (paper)."""
        return self.L + 1 if self.variant == "code" else max(self.L, 1)

    def config(self):
        return {"L": self.L, "gamma0": _listed(self.gamma0), "gamma1": _listed(self.gamma1),
                "eta_prime": _listed(self.eta_prime), "eps": _listed(self.eps), "alpha": _listed(self.alpha),
                "variant": self.variant, "outer_gamma": self.outer_gamma}

    def init(self, ctx):
        self.g0 = _per_member(self.gamma0, ctx.E, torch.float64)  # scoping in float64, then the params' dtype
        self.g1 = _per_member(self.gamma1, ctx.E, torch.float64)
        self.coef = {k: ctx.per_member(getattr(self, k), k) for k in ("eta_prime", "eps", "alpha")}
        if not ((self.g0 > 0).all() and (self.g1 >= 0).all() and (self.coef["eta_prime"] > 0).all()
                and (self.coef["eps"] >= 0).all() and ((self.coef["alpha"] > 0) & (self.coef["alpha"] <= 1)).all()):
            raise ValueError(f"need gamma0 > 0, gamma1 >= 0, eta_prime > 0, eps >= 0, 0 < alpha <= 1: {self!r}")
        self.state = {}

    def update(self, ctx):
        x = [p.detach() for p in ctx.params]  # the anchor; params change only at the end
        if self.variant == "code":
            losses, g = ctx.loss_and_grad()
            if self.L == 0:
                with torch.no_grad():
                    for p, gi in zip(ctx.params, g):
                        p.addcmul_(gi, ctx.member_view(ctx.lr, p), value=-1)
                return losses
        elif self.L == 0:
            return ctx.losses()
        gamma = (self.g0 * (1 + self.g1) ** ctx.step).to(ctx.device, ctx.dtype)
        first = []

        def grad_fn(xp, k):
            if self.variant == "paper" and k == 0:  # x' = x on this update's batch: the loss before the update
                loss, grads = ctx.loss_and_grad(xp, ctx.batch)
                first.append(loss)
                return grads
            return ctx.loss_and_grad(xp, ctx.next_batch())[1]

        mu, _ = sgld_chain(x, grad_fn, ctx.noise_like, gamma=gamma, steps=self.L, variant=self.variant,
                           **self.coef)
        with torch.no_grad():
            for p, m in zip(ctx.params, mu):
                d = p - m
                if self.outer_gamma:
                    d.mul_(ctx.member_view(gamma, p))
                p.addcmul_(d, ctx.member_view(ctx.lr, p), value=-1)
        return losses if self.variant == "code" else first[0]


class StepLR(UpdateRule):
    """A rule whose learning rate drops by `factor` at each milestone: at update k its update sees
    lr_e factor^(number of milestones <= k). milestones: update counts; state and config: the rule's."""

    def __init__(self, rule: UpdateRule, milestones, factor):
        self.rule, self.milestones, self.factor = rule, sorted(int(m) for m in milestones), float(factor)

    def config(self):
        return {"rule": f"{type(self.rule).__module__}.{type(self.rule).__qualname__}",
                **{f"rule.{k}": v for k, v in self.rule.config().items()},
                "milestones": self.milestones, "factor": self.factor}

    def init(self, ctx):
        self.rule.init(ctx)

    def state_dict(self):
        return self.rule.state_dict()

    def load_state_dict(self, state):
        self.rule.load_state_dict(state)

    def update(self, ctx):
        k = sum(ctx.step >= m for m in self.milestones)
        if k == 0:
            return self.rule.update(ctx)
        base = ctx.lr
        ctx.lr = base * self.factor ** k
        try:
            return self.rule.update(ctx)
        finally:
            ctx.lr = base


def grads_per_step(rule: UpdateRule) -> int:
    """Minibatch gradients one update of the rule consumes (1 unless it says otherwise)."""
    return getattr(getattr(rule, "rule", rule), "grads_per_step", 1)


def make_rule(method, opts, per_epoch):
    """The update rule of a method ("sgd", "adam" with opts beta1/beta2/eps, "entropy_sgd" with the
    EntropySGD keys), its lr milestones (effective epochs, opts["lr_milestones"], "lr_factor")
    turned into updates (updates_at)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if method == "sgd":
        rule = SGD()
    elif method == "adam":
        rule = Adam(opts["beta1"], opts["beta2"], opts["eps"])
    else:
        rule = EntropySGD(**{k: opts[k] for k in ESGD_KEYS if k in opts})
    cost = grads_per_step(rule)
    milestones = [updates_at(m, per_epoch, cost) for m in opts.get("lr_milestones", ())]
    return StepLR(rule, milestones, opts["lr_factor"]) if milestones else rule


def updates_at(epochs, per_epoch, cost):
    """Updates after which `epochs` effective epochs (epochs x per_epoch minibatch gradients) are
    complete: the first k with k cost >= epochs per_epoch."""
    return -(-round(epochs * per_epoch) // cost)


def matched_steps(epochs, per_epoch, cost, record_epochs=()):
    """(updates, record steps) for `epochs` effective epochs at `cost` minibatch gradients per update
    (the paper's epochs x L): round(epochs per_epoch) // cost updates; each record epoch at the first
    update that completes it, capped at the last."""
    steps = round(epochs * per_epoch) // cost
    return steps, sorted({min(updates_at(e, per_epoch, cost), steps) for e in record_epochs})


# --------------------------------------------------------------------------- data and metrics

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


def error_metrics(arch, data):
    """metrics(params, step) for engine.train: training error, test loss and test error of every member
    (the training loss is the engine's history["loss"])."""
    def metrics(params, step):
        _, train_err = evaluate(arch, params, data["x_train"], data["y_train"])
        test_loss, test_err = evaluate(arch, params, data["x_test"], data["y_test"])
        return {"train_err": train_err, "test_loss": test_loss, "test_err": test_err}
    return metrics


def quadratic_problem(A):
    """(arch, X, Y): a linear network whose full-batch "mse" loss is f(x) = 1/2 x^T A x, x its (1, d)
    weight row: X = sqrt(d) A^(1/2) (d samples), Y = 0, float64 (engine rules on the quadratic)."""
    A = torch.as_tensor(A, dtype=torch.float64)
    a, Q = torch.linalg.eigh(A)
    X = math.sqrt(len(A)) * (Q * a.clamp_min(0).sqrt()) @ Q.T
    return MLP((len(A), 1), "linear", bias=False), X, torch.zeros(len(A), dtype=torch.float64)


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


def shape_criteria(summary):
    """The three criteria of the spec's claim 4 on a spectrum_summary: (flat, tails, few_negative) =
    (>= 75 % of |lambda| < 1e-3 lambda_max, lambda_max / |lambda_min| >= 20, < 30 % negative)."""
    return (summary["frac_rel_0.001"] >= 0.75, summary["ratio"] >= 20, summary["frac_negative"] < 0.3)


def member_eigenvalues(arch, params, diverged, X, Y, batch=32, dtype=torch.float64):
    """(E, P) eigenvalues (ascending) of every member's exact Hessian of the mean training
    cross-entropy on (X, Y) computed in `dtype`, returned as float64, one member at a time (rows by
    batched double backprop, the fastest on the CPU); NaN rows for a diverged member."""
    from spdl import hessian

    out = np.full((len(diverged), arch.num_params()), np.nan)
    for e in np.flatnonzero(~np.asarray(diverged)):
        H = hessian.network_hessian(arch, params, X, Y, "cross_entropy", member=int(e), dtype=dtype, batch=batch)
        out[e] = hessian.eigenvalues(H).cpu().numpy()
    return out


def sweep_settings(widths, batch_sizes, base_width, base_batch):
    """The distinct (hidden width, batch size) settings of a one-factor sweep: every width at the base
    batch size, then every batch size at the base width (the shared base setting once)."""
    out = [(int(w), int(base_batch)) for w in widths]
    out += [(int(base_width), int(b)) for b in batch_sizes if (int(base_width), int(b)) not in out]
    return out


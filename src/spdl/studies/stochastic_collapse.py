"""Stochastic collapse: how SGD noise attracts the dynamics to simpler subnetworks.

Reference: F. Chen, D. Kunin, A. Yamamura & S. Ganguli, "Stochastic collapse: how gradient noise
attracts SGD dynamics towards simpler subnetworks", NeurIPS 2023, arXiv:2306.04251.
Formulas follow the paper and the authors' notebooks (GitHub ccffccffcc/stochastic_collapse);
what we derived ourselves is derived in the docstrings below.

Four models, all simulated vectorised over trajectories x parameter values in one array:

1. Quartic toy (Fig. 1): ``d theta = -(theta^3 - mu theta) dt + zeta theta dW``. Near 0,
   ``d log|theta| = (mu - zeta^2/2) dt + zeta dW`` (Ito), so theta = 0 attracts iff
   zeta^2 > 2 mu; the stationary density ``|theta|^(2 mu/zeta^2 - 2) exp(-theta^2/zeta^2)`` stops
   being normalisable exactly there.
2. Single tanh neuron (Fig. 2): ``f(x) = w2 tanh(w1 x)``, drift -grad L, label-noise diffusion
   ``sqrt(eta) zeta grad_w f(x_i) / sqrt(m)`` per sample. Linearised, u = w1 + w2 is a geometric
   Brownian motion with log-growth ``(sum x^2/m) (sum xy / sum x^2 - eta zeta^2 sigma'(0)/2)``
   (Theorem 5.1 threshold).
3. Linear teacher-student in the diagonal (SVD) basis (Fig. 5): per mode ``r = uv - s* + sigma xi``,
   ``u -= eta r v``, ``v -= eta r u``; p = uv relaxes to ``s* - eta sigma^2/2`` or collapses to 0.
4. Two-layer tanh teacher-student proxy of the deep-network experiments (Figs. 3, 4, 6), trained
   by minibatch SGD with Gaussian label noise drawn afresh at every draw (as in the authors'
   code), and the authors' independent-neuron metric.
5. The deep networks themselves (Figs. 3-4): an MLP (CPU scale, all settings in one batched loop),
   the authors' VGG-16 (GELU, no batch norm) and low-resolution ResNet-18 in plain torch (paper
   scale, one network at a time), trained with the authors' soft cross-entropy, label noise, SGD and
   augmentation; the metric per hidden layer.

Torch is imported inside the functions that use it: check_config runs at parse time without it.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np
from scipy import special, stats

# ============================================================================ checks


def check_config(section: dict, data: dict | None = None, manifest_dir=None) -> list[str]:
    """Cross-field checks of config["stochastic_collapse"] that the schema cannot express; with the data section
    of the config (and the manifests' folder) also the deep sweep's data-size checks (check_deep)."""
    msgs = []
    q = section.get("quartic", {})
    if q:
        mu, dt, zmax = q["mu"], q["dt"], q["zeta"]["max"]
        worst = max(mu, zmax ** 2)
        if dt * worst > 0.05:
            msgs.append(f"stochastic_collapse.quartic.dt: {dt} is too large for mu={mu}, zeta up to {zmax} "
                        f"(need dt * max(mu, zeta^2) <= 0.05 for Euler-Maruyama accuracy)")
        # cubic drift: explicit Euler is stable while 3 theta^2 dt < 2; starts are init_std * N(0,1)
        if 3 * (5 * q["init_std"]) ** 2 * dt >= 2:
            msgs.append(f"stochastic_collapse.quartic.init_std: {q['init_std']} with dt={dt} makes the cubic "
                        f"drift unstable (need 3 (5 init_std)^2 dt < 2)")
        g = q.get("growth", {})
        if g and g["dt"] * worst > 0.05:
            msgs.append(f"stochastic_collapse.quartic.growth.dt: {g['dt']} is too large (need dt * "
                        f"max(mu, zeta^2) <= 0.05)")
        off = [t for t in q["times"] if abs(t / dt - round(t / dt)) > 1e-6]
        if off:
            msgs.append(f"stochastic_collapse.quartic.times: {off} are not multiples of dt={dt}")
    n = section.get("neuron", {})
    if n:
        emax = n["eta"]["max"] * n["zeta"] ** 2
        if n["dt"] * max(1.0, emax) > 0.05:
            msgs.append(f"stochastic_collapse.neuron.dt: {n['dt']} is too large for eta zeta^2 up to {emax} "
                        f"(need dt * max(1, eta zeta^2) <= 0.05)")
        off = [t for t in n["times"] if abs(t / n["dt"] - round(t / n["dt"])) > 1e-6]
        if off:
            msgs.append(f"stochastic_collapse.neuron.times: {off} are not multiples of dt={n['dt']}")
    ts = section.get("linear_ts", {})
    if ts:
        if ts["rank"] > min(ts["n"], ts["m"]):
            msgs.append(f"stochastic_collapse.linear_ts.rank: {ts['rank']} exceeds min(n, m)")
        if ts["n"] > ts["N"]:
            msgs.append(f"stochastic_collapse.linear_ts.n: {ts['n']} exceeds N={ts['N']} (X needs orthonormal columns)")
        if not ts["record_step"] <= ts["drop_step"] <= ts["steps"]:
            msgs.append("stochastic_collapse.linear_ts.drop_step: need record_step <= drop_step <= steps")
        eta = ts["lr"] / ts["N"]
        if eta * max(ts["sigma"]) ** 2 > 2:
            msgs.append(f"stochastic_collapse.linear_ts.sigma: eta sigma^2 = {eta * max(ts['sigma']) ** 2:.3g} > 2; "
                        f"every mode collapses at once")
    net = section.get("net", {})
    if net:
        if net["batch"] > net["n_train"]:
            msgs.append(f"stochastic_collapse.net.batch: {net['batch']} exceeds n_train={net['n_train']}")
        if net["teacher_units"] > min(net["width"], net["d"]):
            msgs.append(f"stochastic_collapse.net.teacher_units: {net['teacher_units']} exceeds width or d "
                        f"(teacher directions are orthonormal)")
    p = section.get("proxy", {})
    if p and p["steps_short"] > p["steps"]:
        msgs.append(f"stochastic_collapse.proxy.steps_short: {p['steps_short']} exceeds steps={p['steps']}")
    big = section.get("large_lr", {})
    if big and big["lr_low"] > big["lr_high"]:
        msgs.append(f"stochastic_collapse.large_lr.lr_low: {big['lr_low']} exceeds lr_high={big['lr_high']}")
    for key, grid_ in (("quartic", q.get("zeta")), ("neuron", n.get("eta"))):
        if grid_ and grid_["min"] > grid_["max"]:
            msgs.append(f"stochastic_collapse.{key}: grid min {grid_['min']} exceeds max {grid_['max']}")
    if section.get("deep"):
        msgs += check_deep(section["deep"], data, manifest_dir)
    return msgs


def _nonneg(name, *values):
    for v in values:
        if np.any(np.asarray(v, float) < 0) or not np.all(np.isfinite(np.asarray(v, float))):
            raise ValueError(f"{name} must be finite and >= 0, got {v}")


# ============================================================================ 1. quartic toy (Fig. 1)


def quartic_exponent(mu, zeta):
    """Power a in the stationary density |theta|^a exp(-theta^2/zeta^2): a = 2 mu / zeta^2 - 2."""
    return 2 * np.asarray(mu, float) / np.asarray(zeta, float) ** 2 - 2


def quartic_density(theta, mu, zeta):
    """Normalised stationary density of the quartic SDE (Fig. 1), zero-flux Fokker-Planck solution
    p ~ exp(int drift / D) / D with D = zeta^2 theta^2 / 2. Normalisable iff zeta^2 < 2 mu (a > -1):
    int |theta|^a exp(-theta^2/zeta^2) = zeta^(a+1) Gamma((a+1)/2). NaN where it is not."""
    _nonneg("mu, zeta", mu, zeta)
    theta = np.asarray(theta, float)
    a = quartic_exponent(mu, zeta)
    if a <= -1:
        return np.full_like(theta, np.nan)
    norm = zeta ** (a + 1) * special.gamma((a + 1) / 2)
    with np.errstate(divide="ignore"):
        return np.abs(theta) ** a * np.exp(-theta ** 2 / zeta ** 2) / norm


def quartic_second_moment(mu, zeta):
    """E theta^2 under the stationary density: zeta^2 (a+1)/2 = mu - zeta^2/2 (0 once collapsed)."""
    return np.maximum(np.asarray(mu, float) - np.asarray(zeta, float) ** 2 / 2, 0.0)


def quartic_log_growth(mu, zeta):
    """Ito drift of log|theta| near 0: mu - zeta^2/2 (collapse iff negative)."""
    return np.asarray(mu, float) - np.asarray(zeta, float) ** 2 / 2


def quartic_threshold(mu):
    """Critical noise sqrt(2 mu) (Fig. 1)."""
    return math.sqrt(2 * mu)


def simulate_quartic(theta0, mu, zeta, dt, steps, record_every, seed, diverge=1e6):
    """Euler-Maruyama of d theta = -(theta^3 - mu theta) dt + zeta theta dW, float64.

    theta0, zeta: broadcastable arrays (e.g. zeta (Z, 1) x theta0 (Z, R)), one trajectory per entry.
    Returns (steps_recorded (K,), theta (K, *shape), diverged_step (*shape) int, -1 if never).
    A trajectory with non-finite or |theta| > diverge is marked diverged and set to NaN from then on.
    """
    _nonneg("mu, zeta, dt", mu, zeta, dt)
    rng = np.random.default_rng(seed)
    zeta = np.asarray(zeta, float)
    theta = np.array(np.broadcast_to(theta0, np.broadcast_shapes(np.shape(theta0), zeta.shape)), float)
    zs = np.broadcast_to(zeta, theta.shape) * math.sqrt(dt)
    rec_steps = np.arange(0, steps + 1, record_every)
    out = np.empty((len(rec_steps),) + theta.shape)
    div = np.full(theta.shape, -1, np.int64)
    out[0] = theta
    k = 1
    for step in range(1, steps + 1):
        xi = rng.standard_normal(theta.shape)
        with np.errstate(over="ignore", invalid="ignore"):  # exploding paths are caught below
            theta = theta + dt * theta * (mu - theta * theta) + zs * theta * xi
        if step % 256 == 0 or step == steps:
            bad = ~(np.abs(theta) <= diverge) & (div < 0)
            if bad.any():
                div[bad] = step
                theta[bad] = np.nan
        if k < len(rec_steps) and step == rec_steps[k]:
            out[k] = theta
            k += 1
    return rec_steps, out, div


def crossing(x, p, level=0.5):
    """First x where p (increasing on average) crosses `level`, by linear interpolation; NaN if never."""
    x, p = np.asarray(x, float), np.asarray(p, float)
    above = np.flatnonzero(p >= level)
    if len(above) == 0:
        return float("nan")
    i = above[0]
    if i == 0:
        return float(x[0])
    return float(x[i - 1] + (level - p[i - 1]) * (x[i] - x[i - 1]) / (p[i] - p[i - 1]))


def log_growth_estimate(theta0, thetaT, T):
    """Per-trajectory (log|theta_T| - log|theta_0|)/T -> (mean, standard error) over the last axis,
    ignoring diverged (NaN) trajectories."""
    g = (np.log(np.abs(thetaT)) - np.log(np.abs(theta0))) / T
    n = np.sum(np.isfinite(g), -1)
    mean = np.nanmean(g, -1)
    return mean, np.nanstd(g, -1, ddof=1) / np.sqrt(n)


# ============================================================================ 2. single tanh neuron (Fig. 2)


def neuron_data(m, noise, seed):
    """Authors' data: x ~ N(0, 1), y = x + noise * N(0, 1), m samples (float64)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(m)
    return x, x + noise * rng.standard_normal(m)


def neuron_threshold(x, y):
    """Theorem 5.1: the origin attracts iff eta zeta^2 sigma'(0)/2 > sum x y / sum x^2."""
    return float(np.dot(x, y) / np.dot(x, x))


def neuron_log_growth(x, y, eta, zeta, sigma_prime0=1.0):
    """Log-growth rate of u = w1 + w2 near 0 (linearised SDE is du = a u dt + b u dW with
    a = sum xy / m, b^2 = eta zeta^2 sigma'(0)^2 sum x^2 / m):
    a - b^2/2 = (sum x^2 / m) (sum xy / sum x^2 - eta zeta^2 sigma'(0)/2) for sigma'(0) = 1."""
    _nonneg("eta, zeta", eta, zeta)
    m = len(x)
    sxx, sxy = np.dot(x, x), np.dot(x, y)
    return sxy * sigma_prime0 / m - np.asarray(eta) * zeta ** 2 * sigma_prime0 ** 2 * sxx / (2 * m)


def neuron_loss(w1, w2, x, y):
    """L = (1/2m) sum (w2 tanh(w1 x_i) - y_i)^2 on broadcastable w1, w2."""
    w1, w2 = np.asarray(w1, float)[..., None], np.asarray(w2, float)[..., None]
    return 0.5 * np.mean((w2 * np.tanh(w1 * x) - y) ** 2, -1)


def simulate_neuron(w1, w2, x, y, eta, zeta, dt, steps, record_every, seed, diverge=1e6):
    """Euler-Maruyama of the label-noise SDE of f(x) = w2 tanh(w1 x) (Fig. 2), float64:
    dw = -grad L dt + sum_i sqrt(eta) zeta grad_w f(x_i) / sqrt(m) dB_i.
    The m independent Wiener increments enter only through their 2 x 2 covariance
    C = (eta zeta^2 / m) sum_i g_i g_i^T (g_i = grad_w f(x_i)), so each step draws two normals per
    trajectory and applies the Cholesky factor of C: the same increments in law.
    w1, w2, eta broadcastable (e.g. eta (E, 1), w (E, R)). Returns (steps (K,), w (K, 2, *shape), diverged_step)."""
    _nonneg("eta, zeta, dt", eta, zeta, dt)
    rng = np.random.default_rng(seed)
    shape = np.broadcast_shapes(np.shape(w1), np.shape(w2), np.shape(eta))
    w1 = np.array(np.broadcast_to(w1, shape), float)
    w2 = np.array(np.broadcast_to(w2, shape), float)
    m = len(x)
    c = np.broadcast_to(np.asarray(eta, float) * zeta ** 2 / m, shape)[..., None] * dt  # per-step scale
    rec_steps = np.arange(0, steps + 1, record_every)
    out = np.empty((len(rec_steps), 2) + shape)
    out[0, 0], out[0, 1] = w1, w2
    div = np.full(shape, -1, np.int64)
    k = 1
    for step in range(1, steps + 1):
        t = np.tanh(w1[..., None] * x)
        g1 = w2[..., None] * x * (1 - t * t)  # d f / d w1
        g2 = t  # d f / d w2
        r = w2[..., None] * t - y
        d1, d2 = -np.mean(r * g1, -1), -np.mean(r * g2, -1)
        c11, c12, c22 = (np.sum(g1 * g1, -1), np.sum(g1 * g2, -1), np.sum(g2 * g2, -1))
        l11 = np.sqrt(c11)
        l21 = np.divide(c12, l11, out=np.zeros_like(c12), where=l11 > 0)
        l22 = np.sqrt(np.maximum(c22 - l21 * l21, 0.0))
        xi = rng.standard_normal((2,) + shape)
        s = np.sqrt(c[..., 0])
        w1 = w1 + dt * d1 + s * l11 * xi[0]
        w2 = w2 + dt * d2 + s * (l21 * xi[0] + l22 * xi[1])
        if step % 256 == 0 or step == steps:
            bad = ~((np.abs(w1) <= diverge) & (np.abs(w2) <= diverge)) & (div < 0)
            if bad.any():
                div[bad] = step
                w1[bad], w2[bad] = np.nan, np.nan
        if k < len(rec_steps) and step == rec_steps[k]:
            out[k, 0], out[k, 1] = w1, w2
            k += 1
    return rec_steps, out, div


# ============================================================================ 3. linear teacher-student (Fig. 5)


def linear_teacher(N, n, m, rank, s_min, s_max, label_noise, seed):
    """Authors' data: X (N, n) with orthonormal columns, teacher W* = U* diag(linspace(s_min, s_max, rank)) V*^T
    (Haar-random orthonormal factors), y = X W* + label_noise N(0, 1). Returns a dict with the SVD of
    X^T y = U diag(s_star) V^T, the train-loss residual ||(I - X X^T) y||^2, var(y), ||W*||^2 and
    overlap = diag(U^T W* V) (the test loss of the diagonal student needs only these)."""
    rng = np.random.default_rng(seed)
    X, _ = np.linalg.qr(rng.standard_normal((N, n)))
    Ut = stats.ortho_group.rvs(n, random_state=rng)[:, :rank]
    Vt = stats.ortho_group.rvs(m, random_state=rng)[:, :rank]
    S = np.linspace(s_min, s_max, rank)
    W_star = (Ut * S) @ Vt.T
    y = X @ W_star + label_noise * rng.standard_normal((N, m))
    U, s_star, Vh = np.linalg.svd(X.T @ y, full_matrices=False)
    resid = float(np.sum((y - X @ (X.T @ y)) ** 2))
    return {"s_star": s_star, "teacher_s": S, "resid": resid, "var_y": float(np.var(y)),
            "w_star_sq": float(np.sum(W_star ** 2)), "overlap": np.einsum("ik,ij,kj->k", U, W_star, Vh),
            "N": N, "n": n, "m": m, "U": U, "Vh": Vh, "W_star": W_star, "X": X, "y": y}


def mode_theory(s_star, s0, eta, sigma, t):
    """Spec's mean-field mode dynamics (authors' notebook): with a = s* - eta sigma^2/2,
    s(t) = a / (1 + (a/s0 - 1) exp(-2 a t)); t = steps x eta. Limit max(a, 0)."""
    _nonneg("eta, sigma", eta, sigma)
    a = np.asarray(s_star, float) - np.asarray(eta) * np.asarray(sigma, float) ** 2 / 2
    t = np.asarray(t, float)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        e = np.exp(-2 * a * t)
        s = a / (1 + (a / s0 - 1) * e)
        s = np.where(np.isfinite(s), s, 0.0)  # a < 0, e -> inf: s -> 0
        s = np.where(np.abs(a) < 1e-12, s0 / (1 + s0 * 2 * t / 2), s)  # a = 0: logistic limit 1/(1/s0 + t)
    return s


def mode_stationary_mean(s_star, eta, sigma):
    """Mean of the stationary law of p = uv (u = v): p is a stochastic logistic process
    dp = p (2 eta s* + eta^2 sigma^2 - 2 eta p) + 2 eta sigma p dW per step, whose stationary law is
    Gamma with mean s* - eta sigma^2/2; 0 (collapsed) when that is <= 0 [derived]."""
    return np.maximum(np.asarray(s_star, float) - eta * np.asarray(sigma, float) ** 2 / 2, 0.0)


def simulate_modes(s_star, s0, lr, N, sigma, seeds, steps, drop_step, drop_factor, record_steps, seed):
    """The authors' diagonal dynamics, float64, all sigma x seeds x modes in one array:
    per step and mode r = uv - s* + sigma xi, u -= (lr/N) r v, v -= (lr/N) r u (simultaneous);
    lr x drop_factor from step drop_step on. Returns p = uv at record_steps, (K, S, R, M), and
    diverged (S, R) (non-finite or |p| > 1e6 at some record)."""
    sigma = np.asarray(sigma, float)
    _nonneg("sigma, lr", sigma, lr)
    rng = np.random.default_rng(seed)
    shape = (len(sigma), seeds, len(s_star))
    u = np.full(shape, float(s0) ** 0.5)
    v = u.copy()
    sg = sigma[:, None, None]
    record_steps = np.asarray(record_steps, np.int64)
    out = np.empty((len(record_steps),) + shape)
    k = 0
    for step in range(steps + 1):
        while k < len(record_steps) and record_steps[k] == step:
            out[k] = u * v
            k += 1
        if step == steps:
            break
        eta = lr / N * (drop_factor if step >= drop_step else 1.0)
        r = u * v - s_star + sg * rng.standard_normal(shape)
        u, v = u - eta * r * v, v - eta * r * u
    bad = ~np.isfinite(out) | (np.abs(out) > 1e6)
    return out, bad.any(axis=(0, 3))


def mode_losses(p, data):
    """Train ||XW - y||^2 / (var(y) N m) and test mean (W - W*)^2 of the diagonal student
    W = U diag(p) V^T, from the SVD quantities of linear_teacher; p (..., M)."""
    train = (np.sum((p - data["s_star"]) ** 2, -1) + data["resid"]) / (data["var_y"] * data["N"] * data["m"])
    test = (np.sum(p ** 2, -1) - 2 * p @ data["overlap"] + data["w_star_sq"]) / (data["n"] * data["m"])
    return train, test


# ======================================================================== 4. tanh teacher-student proxy (Figs. 3, 4, 6)


def proxy_teacher(d, k, n_train, n_test, seed):
    """Our proxy data [design]: x ~ N(0, I_d); teacher f*(x) = sum_{j<k} tanh(w_j . x) with w_j
    orthonormal directions (unit norm), output weights 1, no bias; clean targets.
    Returns x_train, y_train, x_test, y_test (float64) and the teacher weights."""
    rng = np.random.default_rng(seed)
    W = np.linalg.qr(rng.standard_normal((d, k)))[0].T  # (k, d) orthonormal rows
    out = {"teacher_w": W}
    for split, n in (("train", n_train), ("test", n_test)):
        x = rng.standard_normal((n, d))
        out[f"x_{split}"], out[f"y_{split}"] = x, np.tanh(x @ W.T).sum(1)
    return out


def proxy_init(width, d, seeds):
    """Student init [design]: w_j ~ N(0, I/d), b_j = 0, a_j ~ N(0, 1/width); one generator per seed,
    so a member is the same alone or inside an ensemble. Returns W (E, h, d), b (E, h), a (E, h)."""
    Ws, bs, As = [], [], []
    for s in seeds:
        rng = np.random.default_rng(int(s))
        Ws.append(rng.standard_normal((width, d)) / math.sqrt(d))
        bs.append(np.zeros(width))
        As.append(rng.standard_normal(width) / math.sqrt(width))
    return np.stack(Ws), np.stack(bs), np.stack(As)


def proxy_forward(W, b, a, x):
    """Student f(x) = sum_j a_j tanh(w_j . x + b_j); W (E, h, d), x (N, d) -> (E, N)."""
    import torch

    W, b, a, x = (torch.as_tensor(v, dtype=torch.float64) for v in (W, b, a, x))
    return (torch.tanh(torch.einsum("nd,ehd->enh", x, W) + b[:, None]) @ a[..., None])[..., 0].numpy()


def train_proxy(W, b, a, x, y, *, lr_schedule, label_noise, batch, steps, seeds, snapshots=(), chunk=1000,
                diverge=1e6):
    """Minibatch SGD on (1/B) sum (f(x_i) - y_i - label_noise_e xi_i)^2 (torch's MSELoss convention),
    xi ~ N(0, 1) drawn afresh at every draw (the authors' label noise), for an ensemble of E members in one
    torch loop with the exact hand-written gradient (float64). lr_schedule: (steps, E) learning rate of member e at each
    step (0 freezes it). Samples are drawn with replacement; member e's indices and noise come from
    its own generator seeded by seeds[e] in chunks of `chunk` steps, so a member is the same network
    alone or inside an ensemble. Diverged members (non-finite or |param| > diverge) are frozen at
    NaN and flagged. snapshots: steps in [1, steps] after which (W, b, a) are copied.
    Returns W, b, a (numpy), diverged_step (E,) and {step: (W, b, a)} of the snapshots."""
    import torch

    lr_schedule = np.asarray(lr_schedule, float)
    label_noise = np.broadcast_to(np.asarray(label_noise, float), (W.shape[0],))
    _nonneg("lr, label_noise", lr_schedule, label_noise)
    E, h, d = W.shape
    if lr_schedule.shape != (steps, E):
        raise ValueError(f"lr_schedule must be ({steps}, {E}), got {lr_schedule.shape}")
    Wt, bt, at = (torch.tensor(v, dtype=torch.float64) for v in (W, b, a))
    X, Y = torch.as_tensor(x, dtype=torch.float64), torch.as_tensor(y, dtype=torch.float64)
    n = len(X)
    lrs = torch.tensor(lr_schedule)
    sig = torch.tensor(label_noise)[:, None]
    gens = [torch.Generator().manual_seed(int(s)) for s in seeds]
    div = torch.full((E,), -1, dtype=torch.int64)
    snaps = sorted({int(k) for k in snapshots})
    if snaps and not 1 <= snaps[0] <= snaps[-1] <= steps:
        raise ValueError(f"snapshots must lie in [1, {steps}]")
    bounds = sorted(set(range(0, steps, chunk)) | set(snaps) | {steps})
    saved = {}
    for start, stop in zip(bounds[:-1], bounds[1:]):
        c = stop - start
        idx = torch.stack([torch.randint(n, (c, batch), generator=g) for g in gens], 1)  # (c, E, B)
        noise = torch.stack([torch.randn(c, batch, generator=g, dtype=torch.float64) for g in gens], 1)
        for i in range(c):
            xb, yb = X[idx[i]], Y[idx[i]] + sig * noise[i]  # (E, B, d), (E, B)
            hb = torch.tanh(torch.bmm(xb, Wt.transpose(1, 2)) + bt[:, None])  # (E, B, h)
            r = 2 * (torch.bmm(hb, at[..., None])[..., 0] - yb) / batch  # (E, B): d/df of mean (f - y)^2
            ga = torch.bmm(hb.transpose(1, 2), r[..., None])[..., 0]
            dh = r[..., None] * at[:, None] * (1 - hb * hb)
            gW = torch.bmm(dh.transpose(1, 2), xb)
            gb = dh.sum(1)
            lr = lrs[start + i][:, None]
            Wt -= lr[..., None] * gW
            bt -= lr * gb
            at -= lr * ga
        bad = ~(torch.isfinite(at).all(1) & (Wt.abs().amax((1, 2)) <= diverge) & (at.abs().amax(1) <= diverge))
        new = bad & (div < 0)
        if new.any():
            div[new] = start + c
            Wt[new], bt[new], at[new] = float("nan"), float("nan"), float("nan")
        if stop in snaps:
            saved[stop] = (Wt.numpy().copy(), bt.numpy().copy(), at.numpy().copy())
    return Wt.numpy(), bt.numpy(), at.numpy(), div.numpy(), saved


def independent_count(v, vanish=0.1, identical=0.1):
    """The authors' independent-neuron count of one layer, v (width, dim): row j is neuron j's vector
    [incoming weights, bias, outgoing weights]. Neuron j vanishes if ||v_j|| / max ||v|| < vanish (dropped);
    the rest are grouped greedily in order of decreasing norm: a neuron joins the first group whose
    representative r is at normalised distance 2 ||v - r||^2 / (||v||^2 + ||r||^2) < identical, else it founds
    a group. v and -v are not identical (distance 4). The authors' notebook (FIG3_FIG4) groups by pairs in
    index order; the counts agree whenever closeness is transitive. Distances come from the Gram matrix
    (float64), so a 512-channel conv layer takes one matrix product.
    Returns (groups / width, groups, vanished); (NaN, -1, -1) if v has a non-finite entry; an all-zero
    layer has 0 groups and every neuron vanished."""
    v = np.asarray(v, np.float64).reshape(len(v), -1)
    width = len(v)
    if not np.isfinite(v).all():
        return float("nan"), -1, -1
    sq = np.einsum("ij,ij->i", v, v)
    norms = np.sqrt(sq)
    if norms.max() == 0:
        return 0.0, 0, width
    keep = norms / norms.max() >= vanish
    live = np.flatnonzero(keep)
    live = live[np.argsort(-norms[live], kind="stable")]
    vl, sl = v[live], sq[live]
    dist = 2 * np.maximum(sl[:, None] + sl[None, :] - 2 * (vl @ vl.T), 0.0) / (sl[:, None] + sl[None, :])
    reps = []
    for k in range(len(live)):
        if not reps or not (dist[k, reps] < identical).any():
            reps.append(k)
    return len(reps) / width, len(reps), int(width - len(live))


def neuron_vectors(w_in, b_in, w_out):
    """Rows [incoming weights, bias, outgoing weights] of the `width` neurons (units or channels) between two
    layers: w_in (width, ...) (a linear layer's rows or a conv layer's output-channel kernels), b_in (width,)
    or None (no bias, e.g. convs before batch norm), w_out the next layer's weight (d_out, width, ...) for a
    conv or (d_out, width * s) for a linear layer reading `s` positions per channel (s = 1 after VGG's last
    pooling): neuron j's outgoing weights are w_out[:, j] (channel-major flattening, as torch's reshape)."""
    w_in = np.asarray(w_in)
    width = w_in.shape[0]
    w_out = np.asarray(w_out)
    out = w_out.reshape(w_out.shape[0], width, -1).transpose(1, 0, 2).reshape(width, -1)
    parts = [w_in.reshape(width, -1)] + ([] if b_in is None else [np.asarray(b_in).reshape(width, 1)]) + [out]
    return np.concatenate(parts, 1)


def independent_fraction(W, b, a, vanish=0.1, identical=0.1):
    """The authors' metric for the hidden layer of one two-layer network: neuron j is v_j = [w_j, b_j, a_j]
    (incoming weights, bias, outgoing weights); see independent_count. Returns (groups / width, groups, vanished)."""
    return independent_count(neuron_vectors(W, b, np.reshape(a, (-1, len(a)))), vanish, identical)


def ensemble_fraction(W, b, a, **kw):
    """independent_fraction of every member of an ensemble, (E,) fractions (NaN if diverged)."""
    return np.array([independent_fraction(W[e], b[e], a[e], **kw)[0] for e in range(len(W))])


# ============================================================================ 5. deep networks (Figs. 3-4)
# The authors' setting (configs/cifar10_sgd/train_sce_gelu.yaml, sgdcollapse/models, sgdcollapse/data/cifar.py):
# soft cross-entropy on the one-hot target plus N(0, sigma^2) noise drawn every time a sample is drawn
# (composer's soft_cross_entropy divides the summed loss by the summed target mass), SGD momentum 0.9,
# weight decay 5e-4, linear warm-up (composer: lr x t / t_warmup), shuffled epochs with the last incomplete
# batch dropped, CIFAR-10 with random crop (pad 4) and horizontal flip, normalised by the CIFAR-10 mean/std.
# The engine (spdl.engine) has neither GELU nor a soft-target loss, so the MLP grid runs through
# train_mlp_ensemble below (one batched loop over lr x label noise x seeds, the same update as
# torch.optim.SGD) and VGG-16 / ResNet-18 through train_network (one network, torch.optim.SGD).

DEEP_ARCHS = ("mlp", "vgg16", "resnet18")
CONV_ARCHS = ("vgg16", "resnet18")
# (channels, height, width) of the image sets; mnist1d is one-dimensional (no pooling)
IMAGE_SHAPES = {"mnist5k": (1, 28, 28), "mnist": (1, 28, 28), "digits": (1, 8, 8), "cifar10": (3, 32, 32)}
CIFAR10_MEAN, CIFAR10_STD = (0.4914, 0.4822, 0.4465), (0.247, 0.243, 0.261)  # the authors' Normalize
N_CLASSES = 10


def deep_archs(section: dict) -> list[str]:
    """deep.arch as a list (the config takes one name or a list of them)."""
    a = section["arch"]
    return [a] if isinstance(a, str) else list(a)


def deep_members(section: dict) -> list[dict]:
    """Every trained network of the deep sweep, in order arch x lr x label noise x seed, with its grid position
    (i, j, r), its hyperparameters and its job "<arch>_<k>" (consecutive members of one arch, members_per_job
    per job)."""
    out = []
    for arch in deep_archs(section):
        grid_ = [(i, j, r) for i in range(len(section["lr"])) for j in range(len(section["label_noise"]))
                 for r in range(section["seeds"])]
        for n, (i, j, r) in enumerate(grid_):
            out.append({"arch": arch, "i": i, "j": j, "r": r, "lr": float(section["lr"][i]),
                        "label_noise": float(section["label_noise"][j]),
                        "job": f"{arch}_{n // section['members_per_job']}"})
    return out


def deep_jobs(section: dict) -> list[str]:
    """The job names of deep_members, in order."""
    return list(dict.fromkeys(m["job"] for m in deep_members(section)))


def deep_seeds(section: dict, arch: str, r: int) -> dict:
    """Seeds of replicate r (spdl.seeds.derive_seed): init, minibatch order, label noise and augmentation each
    have their own stream, shared by every lr and label noise of the replicate (the same initial network,
    minibatches and standard-normal noise, scaled by sigma), so settings differ only by lr and sigma."""
    from spdl.seeds import derive_seed

    return {k: derive_seed("stochastic_collapse", f"deep/{arch}/{k}/{section['seed']}", r)
            for k in ("init", "batch", "noise", "augment")}


def check_deep(d: dict, data: dict | None = None, manifest_dir=None) -> list[str]:
    """Cross-field and data-size checks of config["stochastic_collapse"]["deep"] (torch-free)."""
    S = "stochastic_collapse.deep"
    msgs = []
    archs, ds = deep_archs(d), d["dataset"]
    if len(set(archs)) != len(archs):
        msgs.append(f"{S}.arch: {archs} names an architecture twice")
    conv = [a for a in archs if a in CONV_ARCHS]
    if conv and ds != "cifar10":
        msgs.append(f"{S}.arch: {conv} take 3x32x32 images (cifar10), not dataset {ds}")
    k = d["mlp"]["downsample"]
    if "mlp" in archs and k > 1:
        shape = IMAGE_SHAPES.get(ds)
        if shape is None:
            msgs.append(f"{S}.mlp.downsample: {k} needs an image dataset ({', '.join(IMAGE_SHAPES)}), not {ds}")
        elif shape[1] % k or shape[2] % k:
            msgs.append(f"{S}.mlp.downsample: {k} does not divide the {shape[1]}x{shape[2]} images of {ds}")
    if d["augment"] and ds != "cifar10":
        msgs.append(f"{S}.augment: random crop and flip are the authors' CIFAR-10 augmentation; dataset is {ds}")
    if d["warmup_steps"] > d["steps"]:
        msgs.append(f"{S}.warmup_steps: {d['warmup_steps']} exceeds steps={d['steps']}")
    if d["n_records"] > d["steps"]:
        msgs.append(f"{S}.n_records: {d['n_records']} exceeds steps={d['steps']}")
    if data is not None:
        from spdl.datasets import LOCAL, class_counts

        counts = class_counts(ds, data, manifest_dir)
        if counts is not None and d["batch"] > sum(counts["train"]):
            msgs.append(f"{S}.batch: {d['batch']} exceeds the {sum(counts['train'])} training images of {ds}")
        path = (data.get(ds) or {}).get("path") if ds in LOCAL else None
        # a null path passes here (dry runs of the paper config show the DAG); the data job then stops and
        # names data.<set>.path. A path that is set must exist.
        if path and not Path(path).is_dir():
            msgs.append(f"{S}.dataset: {ds} is read from data.{ds}.path = {path!r}, which is not a directory")
    return msgs


def deep_inputs(x, dataset: str, arch: str, downsample: int = 1):
    """Network inputs from a prepared dataset's float32 array: CIFAR-10 normalised by the authors' mean/std;
    images average-pooled by `downsample` (mlp only); flat (N, d) for the mlp, (N, 3, 32, 32) for the convnets."""
    x = np.asarray(x, np.float32)
    shape = IMAGE_SHAPES.get(dataset)
    if shape is not None:
        x = x.reshape((len(x),) + shape)
        if dataset == "cifar10":
            x = ((x - np.array(CIFAR10_MEAN, np.float32)[:, None, None])
                 / np.array(CIFAR10_STD, np.float32)[:, None, None])
        if arch == "mlp" and downsample > 1:
            c, h, w = shape
            x = x.reshape(len(x), c, h // downsample, downsample, w // downsample, downsample).mean((3, 5))
    return x.reshape(len(x), -1) if arch == "mlp" else x


def soft_cross_entropy(logits, target, target_mass_norm=True):
    """The authors' loss (composer's soft_cross_entropy, reduction "mean") over the last two axes:
    sum_i -target_i . log_softmax(logits_i) divided by the summed target mass sum_i,c target_ic (= B for clean
    one-hot targets; B plus noise under label noise), or by B if not target_mass_norm. logits, target
    (..., B, C) -> (...,). The authors' code raises when the mass is <= 0; train_* mark that member diverged."""
    import torch

    ce = -(target * torch.log_softmax(logits, -1)).sum((-2, -1))
    return ce / (target.sum((-2, -1)) if target_mass_norm else target.shape[-2])


def noisy_targets(labels, noise):
    """One-hot targets plus noise (the authors' label noise): labels (..., B) int, noise (..., B, C) -> float."""
    import torch

    return torch.nn.functional.one_hot(labels, noise.shape[-1]).to(noise.dtype) + noise


def warmup_factor(step: int, warmup_steps: int) -> float:
    """Learning-rate factor of update `step` (0-based): linear warm-up step / warmup_steps, then 1 (composer's
    multistep_with_warmup with no milestone inside the run)."""
    return 1.0 if warmup_steps <= 0 else min(1.0, step / warmup_steps)


class LabelNoiseDraws:
    """Each member's minibatches and label noise, from its own CPU generators (so a member is the same network
    alone or in an ensemble): epochs reshuffled with torch.randperm, the last incomplete batch dropped (the
    authors' drop_last); noise N(0, sigma_e^2) of shape (B, C) drawn afresh for every batch from the noise
    generator, only for members with sigma_e > 0; augmentation draws (crop offsets in [0, 8], flips) from the
    augmentation generator when augment is set."""

    def __init__(self, n, batch, sigma, batch_seeds, noise_seeds, aug_seeds=None, n_classes=N_CLASSES,
                 augment=False, dtype=None):
        import torch

        if batch > n:
            raise ValueError(f"batch {batch} exceeds the {n} training samples")
        self.n, self.batch, self.C, self.augment = n, batch, n_classes, augment
        self.sigma = [float(s) for s in np.broadcast_to(np.asarray(sigma, float), (len(batch_seeds),))]
        _nonneg("label_noise", self.sigma)
        self.gb = [torch.Generator().manual_seed(int(s)) for s in batch_seeds]
        self.gn = [torch.Generator().manual_seed(int(s)) for s in noise_seeds]
        self.ga = [torch.Generator().manual_seed(int(s)) for s in (aug_seeds if augment else [])]
        self.dtype = dtype or torch.float32
        self.perm, self.pos = None, n

    def next(self):
        """(idx (E, B) int64, noise (E, B, C), aug) with aug = (offsets (E, B, 2), flips (E, B)) or None."""
        import torch

        B = self.batch
        if self.pos + B > self.n:
            self.perm = torch.stack([torch.randperm(self.n, generator=g) for g in self.gb])
            self.pos = 0
        idx = self.perm[:, self.pos:self.pos + B]
        self.pos += B
        noise = torch.stack([s * torch.randn(B, self.C, generator=g, dtype=self.dtype) if s > 0 else
                             torch.zeros(B, self.C, dtype=self.dtype) for s, g in zip(self.sigma, self.gn)])
        aug = None
        if self.augment:
            off = torch.stack([torch.randint(0, 9, (B, 2), generator=g) for g in self.ga])
            flip = torch.stack([torch.rand(B, generator=g) < 0.5 for g in self.ga])
            aug = (off, flip)
        return idx, noise, aug


def augment_batch(x, offsets, flips, pad=4):
    """The authors' CIFAR augmentation on a batch already on its device: zero-pad by `pad` (zeros of the
    unnormalised image, i.e. -mean/std after normalisation), crop 32x32 at the given offsets, flip horizontally
    where flips. x (B, C, H, W) normalised; offsets (B, 2) in [0, 2 pad]; flips (B,) bool."""
    import torch

    B, C, H, W = x.shape
    fill = -torch.tensor(CIFAR10_MEAN, dtype=x.dtype, device=x.device) / torch.tensor(CIFAR10_STD, dtype=x.dtype,
                                                                                      device=x.device)
    xp = fill.view(1, C, 1, 1).expand(B, C, H + 2 * pad, W + 2 * pad).clone()
    xp[:, :, pad:pad + H, pad:pad + W] = x
    offsets, flips = offsets.to(x.device), flips.to(x.device)
    rows = offsets[:, 0, None] + torch.arange(H, device=x.device)  # (B, H)
    cols = offsets[:, 1, None] + torch.arange(W, device=x.device)  # (B, W)
    b = torch.arange(B, device=x.device)[:, None, None]
    out = xp.permute(0, 2, 3, 1)[b, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)  # (B, C, H, W)
    return torch.where(flips.view(B, 1, 1, 1), out.flip(-1), out)


def _kaiming(gen, shape, fan):
    """N(0, 2 / fan) entries drawn from gen (torch.nn.init.kaiming_normal_, relu gain)."""
    import torch

    return torch.randn(shape, generator=gen) * math.sqrt(2.0 / fan)


def mlp_init(widths, init_seeds):
    """Stacked MLP parameters [W1, b1, W2, b2, ...] (E, d_out, d_in), (E, d_out) float32: the authors' init of
    their networks' linear and conv layers (kaiming_normal_, fan_in; zero biases), member e from its own
    generator seeded by init_seeds[e]."""
    import torch

    members = []
    for s in init_seeds:
        g = torch.Generator().manual_seed(int(s))
        members.append([t for i, o in zip(widths[:-1], widths[1:]) for t in (_kaiming(g, (o, i), i), torch.zeros(o))])
    return [torch.stack(group) for group in zip(*members)]


def _act(name):
    import torch.nn.functional as F

    return {"gelu": F.gelu, "relu": F.relu, "tanh": F.tanh}[name]


def mlp_forward(params, x, activation="gelu"):
    """Stacked MLP: x (N, d) shared or (E, N, d) -> logits (E, N, C)."""
    import torch

    act, L = _act(activation), len(params) // 2
    h = x
    for l in range(L):
        W, b = params[2 * l], params[2 * l + 1]
        h = (torch.einsum("nd,eod->eno", h, W) + b[:, None]) if h.dim() == 2 else torch.baddbmm(b[:, None], h,
                                                                                             W.transpose(1, 2))
        if l < L - 1:
            h = act(h)
    return h


def _record_windows(steps, n_records):
    """Ends of n_records windows of nearly equal length covering steps 1..steps."""
    return np.unique(np.linspace(0, steps, n_records + 1)[1:].round().astype(np.int64))


def train_mlp_ensemble(params, x, y, *, lr, label_noise, batch_seeds, noise_seeds, batch, steps, momentum=0.9,
                       weight_decay=5e-4, warmup_steps=0, activation="gelu", target_mass_norm=True, n_records=1,
                       diverge=1e4):
    """An ensemble of MLPs trained as the authors train theirs, all members in one batched loop: per update k,
    member e draws its minibatch and label noise (LabelNoiseDraws), takes the soft cross-entropy gradient on the
    noisy one-hot targets and applies torch.optim.SGD's momentum step with coupled weight decay,
    g = grad + wd p, buf = g (first step) or m buf + g, p -= lr_e warmup_factor(k) buf.
    params: stacked [W1, b1, ...] (modified in place; on the device to train on); x (N, d), y (N,) labels.
    A member whose minibatch loss is non-finite or > diverge, or whose target mass is <= 0 (where the authors'
    loss raises), is marked diverged at that step and its parameters set to NaN (it stays frozen at NaN).
    Returns {"diverged_step": (E,) (-1 never), "curve_steps": (K,), "loss_curve": (K, E) mean minibatch loss
    in each of n_records windows (NaN once diverged)}."""
    import torch

    dev, dtype = params[0].device, params[0].dtype
    E = params[0].shape[0]
    X, Y = torch.as_tensor(x, dtype=dtype).to(dev), torch.as_tensor(y, dtype=torch.int64).to(dev)
    lr = torch.as_tensor(np.broadcast_to(np.asarray(lr, float), (E,)).copy(), dtype=dtype).to(dev)
    _nonneg("lr", lr.cpu().numpy())
    draws = LabelNoiseDraws(len(X), batch, label_noise, batch_seeds, noise_seeds, dtype=dtype)
    for p in params:
        p.requires_grad_(True)
    bufs = [torch.zeros_like(p) for p in params]
    div = np.full(E, -1, np.int64)
    ends = _record_windows(steps, n_records)
    curve, acc, cnt, w = np.full((len(ends), E), np.nan), np.zeros(E), 0, 0
    for k in range(steps):
        idx, noise, _ = draws.next()
        idx = idx.to(dev)
        T = noisy_targets(Y[idx], noise.to(dev))
        out = mlp_forward(params, X[idx], activation)
        losses = soft_cross_entropy(out, T, target_mass_norm)
        grads = torch.autograd.grad(losses.sum(), params)
        lv = losses.detach().cpu().numpy()
        bad = (~np.isfinite(lv) | (lv > diverge) | (T.sum((1, 2)).cpu().numpy() <= 0)) & (div < 0)
        with torch.no_grad():
            if bad.any():
                div[bad] = k
                for p in params:
                    p[torch.as_tensor(bad, device=dev)] = float("nan")
            f = warmup_factor(k, warmup_steps)
            for p, g, buf in zip(params, grads, bufs):
                g = g + weight_decay * p
                if k == 0:
                    buf.copy_(g)
                else:
                    buf.mul_(momentum).add_(g)
                p.sub_((f * lr).view((E,) + (1,) * (p.dim() - 1)) * buf)
        acc += np.where(div < 0, lv, np.nan)
        cnt += 1
        if k + 1 == ends[w]:
            curve[w] = acc / cnt
            acc, cnt, w = np.zeros(E), 0, w + 1
    for p in params:
        p.requires_grad_(False)
    return {"diverged_step": div, "curve_steps": ends, "loss_curve": curve}



@functools.cache
def _nets():
    """The plain-torch networks (defined on first use, so that importing this module needs no torch)."""
    import torch.nn.functional as F
    from torch import nn

    class MLPNet(nn.Module):
        """Fully connected network d_in - widths - C with an activation between layers (one member of
        mlp_init / mlp_forward)."""

        def __init__(self, widths, activation="gelu"):
            super().__init__()
            self.act = _act(activation)
            self.fcs = nn.ModuleList(nn.Linear(i, o) for i, o in zip(widths[:-1], widths[1:]))

        def forward(self, x):
            for fc in self.fcs[:-1]:
                x = self.act(fc(x))
            return self.fcs[-1](x)

        def chain(self):
            return [(f"fc{i + 1}", m) for i, m in enumerate(self.fcs)]

    class VGG16(nn.Module):
        """The authors' VGG16_NET_GELU (sgdcollapse/models/Toymodel.py): 13 3x3 convs with biases, 2x2 max
        pooling after conv 2, 4, 7, 10, 13, then fc 512-512-C; GELU after every layer but the last; no batch
        norm, no dropout."""

        PLAN = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")

        def __init__(self, n_classes=N_CLASSES, activation="gelu"):
            super().__init__()
            self.act = _act(activation)
            convs, c = [], 3
            for v in self.PLAN:
                if v != "M":
                    convs.append(nn.Conv2d(c, v, 3, padding=1))
                    c = v
            self.convs = nn.ModuleList(convs)
            self.fcs = nn.ModuleList([nn.Linear(512, 512), nn.Linear(512, 512), nn.Linear(512, n_classes)])

        def forward(self, x):
            i = 0
            for v in self.PLAN:
                if v == "M":
                    x = F.max_pool2d(x, 2)
                else:
                    x = self.act(self.convs[i](x))
                    i += 1
            x = x.flatten(1)
            x = self.act(self.fcs[0](x))
            x = self.act(self.fcs[1](x))
            return self.fcs[2](x)

        def chain(self):
            return ([(f"conv{i + 1}", m) for i, m in enumerate(self.convs)]
                    + [(f"fc{i + 14}", m) for i, m in enumerate(self.fcs)])

    class BasicBlock(nn.Module):
        """torchvision's ResNet BasicBlock with the activation of the authors' ResNetLowres (GELU)."""

        def __init__(self, cin, cout, stride, act):
            super().__init__()
            self.act = act
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.downsample = None
            if stride != 1 or cin != cout:
                self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

        def forward(self, x):
            out = self.act(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return self.act(out + (x if self.downsample is None else self.downsample(x)))

    class ResNet18(nn.Module):
        """The authors' ResNetLowres: torchvision's ResNet-18 with a 3x3 stride-1 stem, no max pooling and GELU."""

        def __init__(self, n_classes=N_CLASSES, activation="gelu"):
            super().__init__()
            act = self.act = _act(activation)
            self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            c = 64
            for k, (w, s) in enumerate(((64, 1), (128, 2), (256, 2), (512, 2))):
                setattr(self, f"layer{k + 1}", nn.Sequential(BasicBlock(c, w, s, act), BasicBlock(w, w, 1, act)))
                c = w
            self.fc = nn.Linear(512, n_classes)

        def forward(self, x):
            x = self.act(self.bn1(self.conv1(x)))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(x.mean((2, 3)))

        def chain(self):
            """The main-path convolutions in order, then fc (the authors' weight_names; shortcuts and batch norm
            are not part of the metric)."""
            out = [("conv1", self.conv1)]
            for k in range(1, 5):
                for b, block in enumerate(getattr(self, f"layer{k}")):
                    out += [(f"layer{k}.{b}.conv1", block.conv1), (f"layer{k}.{b}.conv2", block.conv2)]
            return out + [("fc", self.fc)]

    return {"mlp": MLPNet, "vgg16": VGG16, "resnet18": ResNet18}


def build_model(arch: str, seed: int, *, widths=None, activation="gelu", n_classes=N_CLASSES):
    """A network on the CPU, initialised from its own generator seeded by `seed`.
    mlp: widths (d_in, h1, ..., C), the init of mlp_init (the same draws: a member of mlp_init with the same
    seed is the same network); vgg16: the authors' kaiming_normal_ (fan_in) weights and zero biases for convs
    and linears; resnet18: torchvision's init (convs kaiming_normal_ fan_out, batch norm 1 / 0, the linear
    layer U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias)."""
    import torch
    from torch import nn

    if arch not in DEEP_ARCHS:
        raise ValueError(f"arch must be one of {DEEP_ARCHS}, got {arch!r}")
    model = _nets()[arch](widths, activation) if arch == "mlp" else _nets()[arch](n_classes, activation)
    g = torch.Generator().manual_seed(int(seed))
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                w = m.weight
                fan_in = w[0].numel()
                if arch == "resnet18" and isinstance(m, nn.Linear):
                    bound = 1 / math.sqrt(fan_in)
                    w.copy_((2 * torch.rand(w.shape, generator=g) - 1) * bound)
                    m.bias.copy_((2 * torch.rand(m.bias.shape, generator=g) - 1) * bound)
                    continue
                fan = w.shape[0] * w[0, 0].numel() if arch == "resnet18" else fan_in  # resnet convs: fan_out
                w.copy_(_kaiming(g, w.shape, fan))
                if m.bias is not None:
                    m.bias.zero_()
    return model


def train_network(model, x, y, *, lr, label_noise, seeds, batch, steps, momentum=0.9, weight_decay=5e-4,
                  warmup_steps=0, augment=False, target_mass_norm=True, n_records=1, diverge=1e4):
    """One network trained as the authors train theirs (torch.optim.SGD with momentum and coupled weight decay,
    linear warm-up, soft cross-entropy on one-hot targets plus fresh Gaussian noise per draw, CIFAR
    augmentation if augment), on the device of its parameters; x (N, ...) network inputs, y (N,) labels.
    seeds: {"batch", "noise", "augment"} (deep_seeds). Divergence (non-finite minibatch loss, > diverge, or
    target mass <= 0) is tracked on the device and read every record window: the network is then set to NaN
    and training stops; diverged_step is the first bad step. Returns {"diverged_step", "curve_steps",
    "loss_curve" (K,)} like train_mlp_ensemble."""
    import torch

    dev = next(model.parameters()).device
    dtype = next(model.parameters()).dtype
    X, Y = torch.as_tensor(x, dtype=dtype).to(dev), torch.as_tensor(y, dtype=torch.int64).to(dev)
    draws = LabelNoiseDraws(len(X), batch, [label_noise], [seeds["batch"]], [seeds["noise"]], [seeds.get("augment", 0)],
                            augment=augment, dtype=dtype)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    ends = _record_windows(steps, n_records)
    curve = np.full(len(ends), np.nan)
    first_bad = torch.tensor(-1, device=dev)
    total, cnt, w, div = torch.zeros((), dtype=torch.float64, device=dev), 0, 0, -1
    model.train()
    for k in range(steps):
        idx, noise, aug = draws.next()
        idx = idx[0].to(dev)
        xb = X[idx] if aug is None else augment_batch(X[idx], aug[0][0], aug[1][0])
        T = noisy_targets(Y[idx], noise[0].to(dev))
        loss = soft_cross_entropy(model(xb), T, target_mass_norm)
        for group in opt.param_groups:
            group["lr"] = lr * warmup_factor(k, warmup_steps)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        ld = loss.detach()
        bad = ~torch.isfinite(ld) | (ld > diverge) | (T.sum() <= 0)
        first_bad = torch.where(bad & (first_bad < 0), torch.tensor(k, device=dev), first_bad)
        total += ld.double()
        cnt += 1
        if k + 1 == ends[w]:
            div = int(first_bad)
            if div >= 0:
                with torch.no_grad():
                    for p in model.parameters():
                        p.fill_(float("nan"))
                break
            curve[w] = float(total) / cnt
            total.zero_()
            cnt, w = 0, w + 1
    return {"diverged_step": np.array([div]), "curve_steps": ends, "loss_curve": curve[:, None]}


def evaluate(logits_fn, x, y, chunk=1000):
    """Accuracy and clean cross-entropy of every member on (x, y): logits_fn(x_chunk) -> (E, n, C) logits.
    Returns acc (E,), loss (E,) as numpy (NaN for a NaN network)."""
    import torch

    correct, loss = 0, 0
    with torch.no_grad():
        for i in range(0, len(x), chunk):
            out = logits_fn(x[i:i + chunk]).double()
            yy = y[i:i + chunk]
            correct = correct + (out.argmax(-1) == yy).double().sum(-1)
            loss = loss - torch.log_softmax(out, -1).gather(-1, yy.expand(out.shape[:2])[..., None])[..., 0].sum(-1)
            bad = ~torch.isfinite(out).all(-1).all(-1)
            correct = torch.where(bad, float("nan"), correct)
    n = len(x)
    return (correct / n).cpu().numpy(), (loss / n).cpu().numpy()


def mlp_layers(params, e):
    """(name, w_in, b_in, w_out) of each hidden layer of member e of a stacked MLP (numpy)."""
    P = [p[e].detach().cpu().double().numpy() for p in params]
    L = len(P) // 2
    return [(f"fc{l + 1}", P[2 * l], P[2 * l + 1], P[2 * l + 2]) for l in range(L - 1)]


def network_layers(model):
    """(name, w_in, b_in, w_out) of each hidden layer of a network of build_model: consecutive pairs of its
    chain() (numpy; b_in None for bias-free convs)."""
    chain = model.chain()
    np_ = lambda t: None if t is None else t.detach().cpu().double().numpy()  # noqa: E731
    return [(name, np_(m.weight), np_(m.bias), np_(m2.weight)) for (name, m), (_, m2) in zip(chain[:-1], chain[1:])]


def layer_fractions(layers, vanish=0.1, identical=0.1):
    """The authors' metric on every hidden layer: layers from mlp_layers / network_layers.
    Returns {"names", "width", "fraction", "groups", "vanished"} arrays over layers."""
    res = [independent_count(neuron_vectors(w, b, wo), vanish, identical) for _, w, b, wo in layers]
    return {"names": np.array([l_[0] for l_ in layers]), "width": np.array([len(l_[1]) for l_ in layers]),
            "fraction": np.array([r[0] for r in res]), "groups": np.array([r[1] for r in res]),
            "vanished": np.array([r[2] for r in res])}

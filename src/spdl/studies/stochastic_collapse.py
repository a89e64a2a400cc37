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
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special, stats

# ============================================================================ checks


def check_config(section: dict) -> list[str]:
    """Cross-field checks of config["stochastic_collapse"] that the schema cannot express."""
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


# ============================================================================ 4. tanh teacher-student proxy (Figs. 3, 4, 6)


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
    """Minibatch SGD on (1/B) sum (f(x_i) - y_i - label_noise_e xi_i)^2 (torch's MSELoss convention), xi ~ N(0, 1) drawn afresh at
    every draw (the authors' label noise), for an ensemble of E members in one torch loop with the
    exact hand-written gradient (float64). lr_schedule: (steps, E) learning rate of member e at each
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


def independent_fraction(W, b, a, vanish=0.1, identical=0.1):
    """The authors' metric for one layer of one network: neuron j is v_j = [w_j, b_j, a_j]
    (incoming weights, bias, outgoing weights); vanishing if ||v_j|| / max ||v|| < vanish (dropped);
    the rest are grouped greedily (in order of decreasing norm, a neuron joins the first group whose
    representative is at normalised distance 2 ||v - r||^2 / (||v||^2 + ||r||^2) < identical).
    Returns (groups / width, groups, vanished)."""
    v = np.concatenate([W, b[:, None], np.reshape(a, (len(a), -1))], 1)
    if not np.isfinite(v).all():
        return float("nan"), -1, -1
    norms = np.linalg.norm(v, axis=1)
    keep = norms / norms.max() >= vanish
    reps = []
    for j in np.argsort(-norms):
        if not keep[j]:
            continue
        for r in reps:
            if 2 * np.sum((v[j] - v[r]) ** 2) / (norms[j] ** 2 + norms[r] ** 2) < identical:
                break
        else:
            reps.append(j)
    return len(reps) / len(v), len(reps), int((~keep).sum())


def ensemble_fraction(W, b, a, **kw):
    """independent_fraction of every member of an ensemble, (E,) fractions (NaN if diverged)."""
    return np.array([independent_fraction(W[e], b[e], a[e], **kw)[0] for e in range(len(W))])

"""SGD noise and flatness: the inverse variance-flatness relation and SGD's valley regularization.

References: Y. Feng & Y. Tu, "The inverse variance-flatness relation in stochastic gradient
descent is critical for finding flat minima", PNAS 118, e2015617118 (2021) [PNAS]; N. Yang,
C. Tang & Y. Tu, "Stochastic gradient descent introduces an effective landscape-dependent
regularization favoring flat solutions", PRL 130, 237101 (2023) [PRL]; arXiv:2001.01678 and
arXiv:2206.01246.

Part 1 (PNAS): analysis of a recorded weight trajectory w(t), t = 1..W, of one layer:
PCA w(t) = <w> + sum_i theta_i(t) p_i, variances sigma_i^2, loss profiles L_i(d) = L(<w> + d p_i),
flatness F_i (width of {d : L_i(d) <= e L_i(0)}), the exponent psi of sigma_i^2 ~ F_i^-psi,
per-direction noise temperature and correlation time.

Part 2 (PRL): the scalar two-layer linear model f(x) = w2 w1 x on Gaussian data y = c x + eps.
Its minima form the valley p = w1 w2 - c = 0 with Hessian eigenvalue lambda = w1^2 + w2^2
across it (E x^2 = 1). On the valley, delta = w1^2 - w2^2 labels the point and
lambda = sqrt(delta^2 + 4 c^2): the flattest solution is delta = 0. Derivation (ours; the
spec's formulas are unverified): one SGD step with minibatch gradient factor
g = p m_B - xi_B (m_B = mean x^2, xi_B = mean eps x) and isotropic noise zeta ~ N(0, 2 lr T)
per weight gives exactly
    delta' = delta (1 - lr^2 g^2) + 2 (w1 - lr g w2) zeta_1 - 2 (w2 - lr g w1) zeta_2 + zeta_1^2 - zeta_2^2,
so delta is a 1-d diffusion with drift A = -lr^2 E[g^2] delta and D = 4 lr T lambda (per step,
to leading order in lr T / lambda). SGD noise only contracts |delta| (it acts across the valley,
and its Ito drift points to the flat end); isotropic noise only diffuses along it. Stationary
Fokker-Planck solution (zero flux): P(delta) ~ exp(int_0^delta A / D) / D.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from scipy import integrate, optimize, stats

from spdl.datasets import load
from spdl.models import ACTIVATIONS, forward
from spdl.stats import first_crossing, seed_interval  # noqa: F401  (seed_interval: part of this module's API)

E_FACTOR = math.e  # flatness threshold: L(d) <= e * L(0), i.e. log L <= log L0 + 1 (authors' code)


# ============================================================================ Part 1: PNAS
def training_set(path, n_train=None):
    """(X, Y) tensors: the first n_train training samples of a prepared data set (None = all)."""
    data = load(path)
    n = len(data["y_train"]) if n_train is None else int(n_train)
    return torch.tensor(data["x_train"][:n]), torch.tensor(data["y_train"][:n])


class Accuracy:
    """engine.train metrics: full-training-set accuracy of every member, {"acc": (E,)}."""

    def __init__(self, arch, X, Y):
        self.arch, self.X, self.Y = arch, X, Y

    def __call__(self, params, step):
        return {"acc": (forward(self.arch, params, self.X).argmax(-1) == self.Y).double().mean(1)}


class WindowRecorder:
    """engine.train observe: weight matrix `layer` of every member at every step (E, W, D) float32,
    and the running mean of every weight matrix over the window (the "mean weights" <w>)."""

    def __init__(self, params, layer: int, steps: int):
        E = params[0].shape[0]
        self.layer = layer
        self.traj = torch.empty(E, steps, params[layer][0].numel())
        self.sums = [torch.zeros_like(p, dtype=torch.float64) for p in params]

    def __call__(self, params, k):
        self.traj[:, k - 1] = params[self.layer].flatten(1)
        for s, p in zip(self.sums, params):
            s += p

    def means(self):
        return [s / self.traj.shape[1] for s in self.sums]


def analyse_window(arch, traj, means, layer, lr, X, Y, *, n_pcs, profile_pcs, halfwidth, n_profile):
    """Every PNAS measurement of one member's window: traj (W, D) of weight matrix `layer`,
    means = that member's window-mean weight matrices (loss evaluated there, full training set).
    Also the loss curvature h_i along each PC at the mean (central difference at the PC's s.d.) and
    the components themselves (float32), which the Langevin control analyses along."""
    mean, var, comps, total = pca(traj, n_pcs)
    theta = project(traj, mean, comps)
    shape = means[layer].shape
    center = means[layer].flatten()
    loss_fn = layer_loss_fn(arch, [m.float() for m in means], layer, X, Y)
    along = direction_loss(loss_fn, center, comps, shape)
    F_, L0 = flatness(along, n_pcs)
    d = torch.linspace(-halfwidth, halfwidth, n_profile, dtype=torch.float64)
    sel = comps[[i - 1 for i in profile_pcs]]
    profiles = torch.stack([direction_loss(loss_fn, center, sel, shape)(torch.full((len(sel),), float(x)))
                            for x in d], 1)
    cos1 = float(comps[0] @ center / center.norm())
    return {"var": var.numpy(), "total_var": total, "flatness": F_.numpy(), "loss0": float(L0[0]),
            "curvature": curvature_at(arch, means, layer, X, Y, center, comps, var.sqrt()).numpy(),
            "temperature": noise_temperature(theta, lr).numpy(),
            "mean_temperature": mean_temperature(traj, lr), "pc1_cos": cos1,
            "theta12": theta[:, :2].numpy(), "profile_d": d.numpy(), "profiles": profiles.numpy(),
            "components": comps.float().numpy()}


def nan_window(cfg, steps: int, n_weights: int) -> dict:
    """What analyse_window returns, all NaN: the record of a member whose window diverged."""
    k, n_prof = cfg["n_pcs"], cfg["profile_points"]
    return {"var": np.full(k, np.nan), "total_var": np.nan, "flatness": np.full(k, np.nan), "loss0": np.nan,
            "curvature": np.full(k, np.nan), "temperature": np.full(k, np.nan), "mean_temperature": np.nan,
            "pc1_cos": np.nan, "theta12": np.full((steps, 2), np.nan), "profile_d": np.full(n_prof, np.nan),
            "profiles": np.full((len(cfg["profile_pcs"]), n_prof), np.nan),
            "components": np.full((k, n_weights), np.nan, np.float32)}


def analyse_ensemble(arch, recorder, lrs, X, Y, cfg) -> dict:
    """analyse_window for every member; arrays stacked along a leading member axis (NaN if diverged,
    also when every member diverged). Components stay float32; everything else float64."""
    template = nan_window(cfg, recorder.traj.shape[1], recorder.traj.shape[2])
    out = []
    for e, lr in enumerate(lrs):
        traj, means = recorder.traj[e], [m[e] for m in recorder.means()]
        if not torch.isfinite(traj).all():
            out.append(template)
            continue
        out.append(analyse_window(arch, traj, means, cfg["layer"], lr, X, Y, n_pcs=cfg["n_pcs"],
                                  profile_pcs=cfg["profile_pcs"], halfwidth=cfg["profile_halfwidth"],
                                  n_profile=cfg["profile_points"]))
    return {k: np.stack([np.asarray(r[k], np.float32 if k == "components" else float) for r in out])
            for k in template}


def curvature_along(f, step: torch.Tensor, L0: torch.Tensor | None = None) -> torch.Tensor:
    """h_k = (f(+s_k) + f(-s_k) - 2 f(0)) / s_k^2: the loss curvature along each direction k by a central
    difference at displacement s_k (the fluctuation scale, e.g. the s.d. along the direction).
    f: (K,) displacements -> (K,) losses; L0 = f(0) if already known."""
    step = step.to(torch.float64)
    L0 = f(torch.zeros_like(step)) if L0 is None else L0
    return (f(step) + f(-step) - 2 * L0) / step**2


def pca(traj: torch.Tensor, k: int, seed: int = 0, oversamples: int = 30, power_iterations: int = 6):
    """Top-k PCA of a trajectory (W, D): mean (D,), variances (k,), components (k, D), total variance.

    sklearn.decomposition.PCA with the randomized SVD solver (random_state=seed, k + oversamples
    random probes, power_iterations subspace iterations: the tail PCs of a slowly decaying spectrum
    need more than sklearn's defaults) of the float64 trajectory; variances = explained_variance_
    (ddof 1), total = the sum of the per-weight sample variances.
    Sign convention: every component points along the mean weights (p_i . <w> >= 0).
    """
    from sklearn.decomposition import PCA

    x = traj.double().numpy()
    fit = PCA(n_components=k, svd_solver="randomized", n_oversamples=oversamples,
              iterated_power=power_iterations, random_state=seed).fit(x)
    mean = torch.from_numpy(fit.mean_)
    comps = torch.from_numpy(fit.components_.copy())
    comps = comps * torch.where(comps @ mean < 0, -1.0, 1.0)[:, None]
    total = float(x.var(0, ddof=1).sum())
    return mean, torch.from_numpy(fit.explained_variance_.copy()), comps, total


def project(traj: torch.Tensor, mean: torch.Tensor, comps: torch.Tensor) -> torch.Tensor:
    """theta_i(t) = p_i . (w(t) - <w>), (W, k)."""
    return (traj.double() - mean) @ comps.T


def noise_temperature(theta: torch.Tensor, lr: float) -> torch.Tensor:
    """T_i = Var_t(theta_i(t+1) - theta_i(t)) / (2 lr): the diffusion per step over 2 lr, so that
    Langevin noise sqrt(2 lr T) xi gives T_i = T in every direction (plus the small drift term)."""
    return torch.diff(theta, dim=0).var(0) / (2 * lr)


def mean_temperature(traj: torch.Tensor, lr: float) -> float:
    """Mean of the noise temperature over all D directions of the layer: tr Cov(dw) / (2 lr D)."""
    return float(torch.diff(traj.double(), dim=0).var(0).mean() / (2 * lr))


def layer_loss_fn(arch, params, layer: int, X, Y, chunk: int = 8192, block: int = 2_500_000):
    """L(W) on (X, Y) (cross-entropy) for many candidate weights W (K, d_out, d_in) of weight
    matrix `layer`, every other weight fixed to `params` (one network, no member axis, no biases).
    Candidates are evaluated a few at a time, so that the (candidates, samples, d_out) activities stay
    within `block` numbers (cache-sized: ~3x faster than all K at once; bitwise the same losses at the
    study's sizes, where the products keep their kernels, else the same up to float32 rounding)."""
    act = ACTIVATIONS[arch.activation]
    h = X
    for w in params[:layer]:
        h = act(h @ w.T)

    def loss(W: torch.Tensor) -> torch.Tensor:
        total = torch.zeros(W.shape[0], dtype=torch.float64)
        step = max(1, block // (min(chunk, h.shape[0]) * W.shape[1]))
        for k in range(0, W.shape[0], step):
            for i in range(0, h.shape[0], chunk):
                z = torch.einsum("nj,kij->kni", h[i:i + chunk], W[k:k + step])
                for w in params[layer + 1:]:
                    z = act(z) @ w.T
                y = Y[i:i + chunk].expand(z.shape[0], -1)
                total[k:k + step] += F.cross_entropy(z.transpose(1, 2), y, reduction="none").double().sum(1)
        return total / h.shape[0]

    return loss


def direction_loss(loss_fn, center: torch.Tensor, comps: torch.Tensor, shape, dtype=torch.float32):
    """d (K,) -> L(center + d_k p_k) for each of the K directions p_k (rows of comps); the weights enter
    loss_fn as dtype (float64 for the small loss differences of a curvature)."""
    def f(d):
        W = center[None] + d[:, None].to(comps.dtype) * comps
        return loss_fn(W.view(-1, *shape).to(dtype))
    return f


def curvature_at(arch, params, layer, X, Y, center, comps, step) -> torch.Tensor:
    """Loss curvature along each row of comps at weights `center` of matrix `layer` (the other layers
    as in params), by a float64 central difference at displacement `step` (K,)."""
    loss64 = layer_loss_fn(arch, [p.double() for p in params], layer, X.double(), Y)
    return curvature_along(direction_loss(loss64, center.double(), comps.double(), params[layer].shape,
                                          torch.float64), step)


def flatness(f, n_dir: int, factor: float = E_FACTOR, d0: float = 0.1, d_max: float = 1e3, n_bisect: int = 14):
    """F_k = d_+ + d_- where f(+-d_pm)_k first exceeds factor * f(0)_k, by bracketing (doubling d
    from d0) and n_bisect bisections [PNAS, authors' code]; f: (K,) displacements -> (K,) losses.
    Returns (F (K,), L0 (K,)); F = inf where no crossing is found below d_max."""
    L0 = f(torch.zeros(n_dir, dtype=torch.float64))
    thr = factor * L0
    widths = []
    for sign in (1.0, -1.0):
        lo = torch.zeros(n_dir, dtype=torch.float64)
        hi = torch.full((n_dir,), d0, dtype=torch.float64)
        above = f(sign * hi) > thr
        while not above.all() and hi.max() < d_max:  # bracketing: double until above threshold
            lo = torch.where(above, lo, hi)
            hi = torch.where(above, hi, 2 * hi)
            above = f(sign * hi) > thr
        for _ in range(n_bisect):
            mid = (lo + hi) / 2
            up = f(sign * mid) > thr
            lo, hi = torch.where(up, lo, mid), torch.where(up, mid, hi)
        widths.append(torch.where(above, (lo + hi) / 2, torch.inf))
    return widths[0] + widths[1], L0


# ---------------------------------------------------------------------------- the equilibrium Langevin control
def layer_top_curvature(arch, params, layer, X, Y, tol: float = 1e-4) -> float:
    """Top Hessian eigenvalue of the training loss with respect to weight matrix `layer` alone (one
    network, no member axis): ARPACK on double-backprop Hessian-vector products (spdl.hessian)."""
    from spdl.hessian import extreme_eigenpairs, hvp_fn

    shape = params[layer].shape
    loss_fn = layer_loss_fn(arch, [p.float() for p in params], layer, X, Y)
    hvp = hvp_fn(lambda w: loss_fn(w.view(1, *shape))[0], params[layer].float().flatten())
    vals, _ = extreme_eigenpairs(hvp, k=1, which="LA", tol=tol, dtype=torch.float32)
    return float(vals[0])


def layer_langevin(arch, params, layer, X, Y, *, lr, temp, burnin, steps, record_every, seeds, blowup=1e3):
    """Full-batch GD + isotropic Gaussian noise on weight matrix `layer` alone, every other layer fixed:
    W <- W - lr_e grad L(W) + sqrt(2 lr_e T_e) xi, for burnin + steps updates [design: the equilibrium
    control; its stationary law is ~ exp(-L / T) for small lr]. params: stacked (E, ...) weights;
    lr, temp: (E,); member e draws its noise from its own generator seeded by seeds[e].
    Records W every record_every steps after the burn-in: traj (E, steps // record_every, D) float32,
    window mean of W (E, D) float64, full-training-set loss at the end of the burn-in and of the window,
    diverged (E,) (non-finite or |W| > blowup; frozen as NaN from then on) and diverged_step (-1 = never)."""
    act = ACTIVATIONS[arch.activation]
    E = params[0].shape[0]
    h = X.expand(E, *X.shape)
    for w in params[:layer]:
        h = act(h @ w.transpose(1, 2))
    head = params[layer + 1:]
    W = params[layer].clone().float()
    lr_t = torch.as_tensor(np.asarray(lr, float), dtype=torch.float32).view(E, 1, 1)
    kick = torch.sqrt(2 * lr_t * torch.as_tensor(np.asarray(temp, float), dtype=torch.float32).view(E, 1, 1))
    gens = [torch.Generator().manual_seed(int(s)) for s in seeds]
    y = Y.repeat(E)
    n_rec = steps // record_every
    traj = torch.empty(E, n_rec, W[0].numel())
    total = torch.zeros(E, W[0].numel(), dtype=torch.float64)
    died = np.full(E, -1)
    losses = []

    def loss_of(Wt):
        z = act(h @ Wt.transpose(1, 2))
        for w in head:
            z = z @ w.transpose(1, 2)
            if w is not head[-1]:
                z = act(z)
        return F.cross_entropy(z.reshape(-1, z.shape[-1]), y, reduction="none").view(E, -1).mean(1)

    for t in range(1, burnin + steps + 1):
        Wg = W.detach().requires_grad_(True)
        with torch.enable_grad():
            (g,) = torch.autograd.grad(loss_of(Wg).sum(), Wg)
        noise = torch.stack([torch.randn(W.shape[1:], generator=gen) for gen in gens])
        W = W - lr_t * g + kick * noise
        bad = ~torch.isfinite(W).flatten(1).all(1) | (W.abs().flatten(1).amax(1) > blowup)
        new = bad.numpy() & (died < 0)
        died[new] = t
        W[torch.as_tensor(died >= 0)] = float("nan")
        if t > burnin and (t - burnin) % record_every == 0:
            traj[:, (t - burnin) // record_every - 1] = W.flatten(1)
            total += W.flatten(1).double()
        if t in (burnin, burnin + steps):
            with torch.no_grad():
                losses.append(loss_of(W).double().numpy())
    if burnin == 0:
        losses.insert(0, np.full(E, np.nan))
    return {"traj": traj, "mean": total / max(n_rec, 1), "loss_burnin": losses[0], "loss_end": losses[-1],
            "diverged": died >= 0, "diverged_step": died}


def analyse_control(arch, traj, mean, params, layer, X, Y, comps, lr: float) -> dict:
    """One control member along fixed directions comps (k, D) (the SGD PCs of the same seed): variance of
    theta_i = p_i . (w - <w>) over the recorded window, flatness F_i around the control's window mean
    <w> (every other layer as in params), curvature h_i there (central difference at the s.d.) and the
    relaxation time tau_i = 1 / (lr h_i) in steps (inf where h_i <= 0)."""
    comps = torch.as_tensor(comps, dtype=torch.float64)
    theta = project(traj, mean, comps)
    var = theta.var(0)
    shape = params[layer].shape
    ps = [p.float() for p in params]
    loss_fn = layer_loss_fn(arch, ps, layer, X, Y)
    along = direction_loss(loss_fn, mean, comps, shape)
    F_, L0 = flatness(along, comps.shape[0])
    h = curvature_at(arch, params, layer, X, Y, mean, comps, var.sqrt())
    tau = torch.where(h > 0, 1 / (lr * h.clamp(min=1e-300)), torch.inf)
    return {"var": var.numpy(), "flatness": F_.numpy(), "curvature": h.numpy(), "relax_steps": tau.numpy(),
            "loss0": float(L0[0])}


def control_fit(var, flatness, relax, window: int, max_fraction: float = 0.1):
    """The control's equilibrated directions (relaxation time <= max_fraction x window, finite F) and the
    least-squares slope of log var on log F over them with its one-sided p-value for slope > 0
    (scipy.stats.linregress; the directions are treated as independent points).
    Returns (mask, psi = -slope, p_value); psi and p are NaN with fewer than 3 such directions."""
    var, flatness, relax = (np.asarray(a, float) for a in (var, flatness, relax))
    ok = (relax <= max_fraction * window) & np.isfinite(flatness) & (flatness > 0) & (var > 0)
    if ok.sum() < 3:
        return ok, float("nan"), float("nan")
    fit = stats.linregress(np.log(flatness[ok]), np.log(var[ok]), alternative="greater")
    return ok, float(-fit.slope), float(fit.pvalue)


def fit_exponent(F_, var) -> tuple[float, float]:
    """psi, log-amplitude of sigma^2 = A F^-psi: least squares of log sigma^2 on log F [PNAS];
    NaN with fewer than 2 usable PCs (a diverged member has none)."""
    F_, var = np.asarray(F_, float), np.asarray(var, float)
    ok = np.isfinite(F_) & np.isfinite(var) & (F_ > 0) & (var > 0)
    if ok.sum() < 2:
        return float("nan"), float("nan")
    slope, intercept = np.polyfit(np.log(F_[ok]), np.log(var[ok]), 1)
    return float(-slope), float(intercept)


def log_slope(x, y) -> float:
    """Least-squares slope of log y on log x (finite, positive entries); NaN with fewer than 2."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    if ok.sum() < 2:
        return float("nan")
    return float(np.polyfit(np.log(x[ok]), np.log(y[ok]), 1)[0])


# ============================================================================ Part 2: PRL
def curvature(delta, c: float):
    """Sharp-direction Hessian eigenvalue on the valley, lambda = w1^2 + w2^2 = sqrt(delta^2 + 4c^2)."""
    return np.sqrt(np.asarray(delta, float) ** 2 + 4 * c * c)


def valley_point(delta, c: float):
    """(w1, w2) > 0 on the valley w1 w2 = c with w1^2 - w2^2 = delta."""
    lam = curvature(delta, c)
    return np.sqrt((lam + delta) / 2), np.sqrt((lam - delta) / 2)


def batch_m2(batch: int) -> float:
    """E[m_B^2] for m_B = mean of B squared standard normals: 1 + 2/B."""
    return 1 + 2 / batch


def transverse_var(lam, lr, batch, sigma, temp):
    """Stationary Var(p) of p' = (1 - lr lam m_B) p + lr lam xi_B + (isotropic kick, var 2 lr T lam),
    linearised across the valley; inf where it is mean-square unstable."""
    lam = np.asarray(lam, float)
    den = 2 * lr * lam - (lr * lam) ** 2 * batch_m2(batch)
    num = (lr * lam) ** 2 * sigma**2 / batch + 2 * lr * temp * lam
    return np.where(den > 0, num / np.where(den > 0, den, 1), np.inf)


def grad_factor_sq(lam, lr, batch, sigma, temp):
    """E[g^2] = Var(p) E[m_B^2] + sigma^2 / B for g = p m_B - xi_B at transverse equilibrium."""
    return transverse_var(lam, lr, batch, sigma, temp) * batch_m2(batch) + sigma**2 / batch


def contraction_rate(delta, c, lr, batch, sigma, temp=0.0):
    """r(delta) = -E ln|1 - lr^2 g^2| ~ lr^2 E[g^2]: |delta| shrinks as exp(-r t) under SGD."""
    return lr**2 * grad_factor_sq(curvature(delta, c), lr, batch, sigma, temp)


def stationary_density(delta, c, lr, batch, sigma, temp):
    """Fokker-Planck stationary density of delta, P ~ exp(int_0^delta A/D) / D, with A = -r delta,
    D = 4 lr T lambda (Ito, per step), normalised on the given (sorted, symmetric, fine) grid."""
    delta = np.asarray(delta, float)
    lam = curvature(delta, c)
    drift = -contraction_rate(delta, c, lr, batch, sigma, temp) * delta
    diff = 4 * lr * temp * lam
    i0 = np.argmin(np.abs(delta))
    phi = integrate.cumulative_trapezoid(drift / diff, delta, initial=0.0)
    logp = phi - phi[i0] - np.log(diff)
    p = np.exp(logp - logp.max())
    return p / integrate.trapezoid(p, delta)


def flat_time(delta0, delta_f, c, lr, batch, sigma):
    """Steps for |delta| to fall from delta0 to delta_f under SGD: int dd / (r(d) d)."""
    val, _ = integrate.quad(lambda d: 1 / (contraction_rate(d, c, lr, batch, sigma) * d), delta_f, delta0)
    return val


def lyapunov(lr_lam, batch):
    """E ln|1 - a m_B|, m_B ~ Gamma(B/2, scale 2/B): growth rate of p across the valley, a = lr lambda."""
    dist = stats.gamma(batch / 2, scale=2 / batch)
    f = lambda m: np.log(abs(1 - lr_lam * m)) * dist.pdf(m)  # noqa: E731
    hi = dist.ppf(1 - 1e-12)
    pts = [1 / lr_lam] if 1 / lr_lam < hi else None
    return integrate.quad(f, 0, hi, points=pts, limit=200)[0]


def critical_lr(lam, batch) -> dict:
    """Critical lr of the minimum of curvature lam: mean-square (E(1 - lr lam m)^2 = 1, i.e.
    lr = 2 / (lam E m^2)) and almost-sure (Lyapunov exponent zero) stability thresholds."""
    ms = 2 / (lam * batch_m2(batch))
    a_s = optimize.brentq(lambda a: lyapunov(a, batch), 1.0 + 1e-9, 20.0) / lam
    return {"mean_square": ms, "lyapunov": a_s}


def simulate_valley(w1, w2, *, lr, batch, sigma, c, temp, steps, seed, record_every=1, blowup=1e4):
    """Minibatch SGD (+ isotropic Langevin noise sqrt(2 lr T)) on f = w2 w1 x with online Gaussian data.

    w1, w2: arrays of replicas (any shape); lr, batch, temp broadcast against them. The minibatch
    enters through its sufficient statistics, drawn exactly: m_B = mean x^2 ~ Gamma(B/2, 2/B),
    xi_B = mean eps x | m_B ~ N(0, sigma^2 m_B / B). batch = inf gives full-batch GD (m = 1, xi = 0).
    A replica with |w| > blowup or non-finite is marked diverged and frozen as NaN.
    Returns dict: steps (R,), w1, w2 (R, *shape) at steps 0, record_every, ..., diverged_step (-1 = never).
    """
    rng = np.random.default_rng(seed)
    w1, w2 = np.array(w1, float), np.array(w2, float)
    shape = np.broadcast_shapes(w1.shape, np.shape(lr), np.shape(batch), np.shape(temp))
    w1, w2 = np.broadcast_to(w1, shape).copy(), np.broadcast_to(w2, shape).copy()
    lr, batch, temp = (np.broadcast_to(np.asarray(v, float), shape) for v in (lr, batch, temp))
    finite_b = np.isfinite(batch)
    b = np.where(finite_b, batch, 1.0)
    kick = np.sqrt(2 * lr * temp)
    died = np.full(shape, -1)
    rec_steps, rec1, rec2 = [0], [w1.copy()], [w2.copy()]
    for t in range(1, steps + 1):
        m = np.where(finite_b, rng.gamma(b / 2, 2 / b, shape), 1.0)
        xi = np.where(finite_b, sigma * np.sqrt(m / b) * rng.standard_normal(shape), 0.0)
        g = (w1 * w2 - c) * m - xi
        n1, n2 = rng.standard_normal(shape), rng.standard_normal(shape)
        w1, w2 = w1 - lr * g * w2 + kick * n1, w2 - lr * g * w1 + kick * n2
        bad = (died < 0) & ~(np.isfinite(w1) & np.isfinite(w2) & (np.abs(w1) < blowup) & (np.abs(w2) < blowup))
        died[bad] = t
        w1[died >= 0], w2[died >= 0] = np.nan, np.nan
        if t % record_every == 0:
            rec_steps.append(t)
            rec1.append(w1.copy())
            rec2.append(w2.copy())
    return {"steps": np.array(rec_steps), "w1": np.stack(rec1), "w2": np.stack(rec2), "diverged_step": died}


def first_passage(steps, values, level):
    """First recorded step with values <= level, per replica (NaN = never); values (R, ...)."""
    hit = values <= level
    idx = hit.argmax(0)
    return np.where(hit.any(0), np.asarray(steps)[idx], np.nan)


def crossing(x, y, level=0.5):
    """First x where y (sampled on increasing x) reaches level, linearly interpolated; NaN if never."""
    return first_crossing(x, y, level)

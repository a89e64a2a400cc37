"""Mean-field training with neuron birth-death: particles, exact energies, vectorised resampling.

Reference: G. M. Rotskoff, S. Jelassi, J. Bruna & E. Vanden-Eijnden, "Neuron birth-death dynamics
accelerates gradient descent and converges asymptotically", ICML 2019 (PMLR 97), arXiv:1902.01843;
the authors' notebooks (gaussian_example, student_teacher_example, GitHub rotskoff/neuron-birth-death).

Mean field: f_n(x) = (1/n) sum_i c_i phi(x; y_i) is a measure mu_n = (1/n) sum_i delta_(y_i, c_i)
on the lifted space; with F(y) = <f, phi_y>, K(y, y') = <phi_y, phi_y'> the loss
E = 1/2 ||f - f_n||^2 = C_f - (1/n) sum c_i F(y_i) + 1/(2 n^2) sum c_i c_j K(y_i, y_j), C_f = 1/2 ||f||^2.
The particle potential is V(y, c) = c [(1/n) sum_j K(y, y_j) c_j - F(y)] (the first variation of E);
GD moves each particle along -grad V, birth-death changes its mass at rate -alpha (V - <V>) (the
PDE d_t mu = div(mu grad V) - alpha (V - <V>) mu, derived from the paper's abstract and the code).

Particle birth-death (one step, all runs at once): a particle with growth rate r < 0 dies with
probability |r|, one with r > 0 is duplicated with probability r (probabilities clipped at 1);
the population is then restored to n by cloning random survivors ("clone", scheme 1 of the
notebook) or by drawing new particles from a prior ("prior", scheme 2), or by killing random
extras when it grew. Every run draws from its own numpy Generator, so a run is the same inside
a batch of runs as alone.

This module imports only numpy/scipy at import time (torch is imported inside the student-teacher
functions), so ``check_config`` can be called while the workflow is parsed.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass

import numpy as np
from scipy import integrate

GD, CLONE, PRIOR = 0, 1, 2
SCHEMES = {"gd": GD, "clone": CLONE, "prior": PRIOR}


# ============================================================================ resampling (shared)
def draw_uniforms(gens, n: int):
    """One birth-death step's uniforms for runs with generators ``gens``, always in this order and
    amount per run: u (n,) kill/duplicate tests, key (2n,) random order of the candidates, v (n,)
    clone sources. Returns u (B, n), key (B, 2n), v (B, n)."""
    draws = [gen.random(4 * n) for gen in gens]
    a = np.stack(draws) if draws else np.zeros((0, 4 * n))
    return a[:, :n], a[:, n:3 * n], a[:, 3 * n:]


def prior_fill(gens, from_prior, n: int, dim: int, sample):
    """A ``fill`` callable for ``resample``: run b (a prior run) draws ``count_b`` new particles
    sample(gen_b, count_b) -> (count_b, dim) only when it needs them, placed in slots n - count_b .. n - 1."""
    def fill(counts):
        out = np.zeros((len(gens), n, dim))
        for b, (g, cnt) in enumerate(zip(gens, counts)):
            if from_prior[b] and cnt > 0:
                out[b, n - cnt:] = sample(g, int(cnt))
        return out
    return fill


def resample(P, growth, u, key, v, fill, from_prior):
    """Vectorised birth-death step on B runs of n particles with D coordinates.

    P (B, n, D) particles; growth (B, n) per-particle rates r (per step); u (B, n), key (B, 2n),
    v (B, n) uniforms; fill (B, n, D) prior particles (only slots m..n-1 are used), or a callable
    counts (B,) -> such an array (draws only what is needed); from_prior (B,) bool: restore the
    population from the prior (True) or by cloning survivors (False).
    Candidates are the n particles (alive unless killed: r < 0 and u < -r) followed by their
    n copies (alive if duplicated: r > 0 and u < r). The m alive candidates are ordered by key;
    the first min(m, n) are kept (m > n: random extras die). Slots m..n-1 (m < n) are filled
    with fill[j] (prior) or with kept particle floor(v_j m) (clone). A clone run with m = 0 is
    left unchanged. Everything is done on indices and gathered once.

    Returns (new P, kills (B,), births (B,), m (B,), population (B,)); population counts the
    output slots whose source is an alive candidate or a prior draw (n unless the rule is broken).
    """
    P = np.asarray(P)
    B, n, D = P.shape
    growth = np.asarray(growth)
    from_prior = np.asarray(from_prior, bool)
    kill = (growth < 0) & (u < -growth)
    dup = (growth > 0) & (u < growth)
    alive = np.concatenate([~kill, dup], axis=1)  # (B, 2n) candidates: particles, then their copies
    m = alive.sum(1)
    order = np.argsort(np.where(alive, key, key + 2.0), axis=1, kind="stable")[:, :n]  # alive first
    slots = np.arange(n)[None, :]
    need = slots >= m[:, None]
    src = np.minimum((v * m[:, None]).astype(np.int64), np.clip(m - 1, 0, n - 1)[:, None])
    slot = np.where(need & ~from_prior[:, None], src, slots)  # kept slot each output slot copies
    cand = np.take_along_axis(order, slot, axis=1)
    valid = np.take_along_axis(alive, cand, axis=1) | (need & from_prior[:, None])
    out = np.take_along_axis(P, (cand % n)[..., None], axis=1)
    if from_prior.any():
        if callable(fill):
            fill = fill(np.maximum(n - m, 0))
        pn = need & from_prior[:, None]
        out[pn] = fill[pn]
    stuck = (m == 0) & ~from_prior
    out[stuck] = P[stuck]
    valid[stuck] = True
    return out, kill.sum(1), dup.sum(1), m, valid.sum(1)


def resample_reference(P, growth, u, key, v, fill, from_prior):
    """Slow loop over runs and particles implementing ``resample``'s rule literally (for tests)."""
    P = np.asarray(P, dtype=float)
    B, n, D = P.shape
    out = np.empty_like(P)
    kills, births, ms = np.zeros(B, int), np.zeros(B, int), np.zeros(B, int)
    for b in range(B):
        cands = []  # (key, particle)
        for i in range(n):
            r = growth[b, i]
            killed = r < 0 and u[b, i] < -r
            duplicated = r > 0 and u[b, i] < r
            kills[b] += killed
            births[b] += duplicated
            if not killed:
                cands.append((key[b, i], P[b, i]))
        for i in range(n):
            r = growth[b, i]
            if r > 0 and u[b, i] < r:
                cands.append((key[b, n + i], P[b, i]))
        cands.sort(key=lambda kp: kp[0])
        m = len(cands)
        ms[b] = m
        if m == 0 and not from_prior[b]:
            out[b] = P[b]
            continue
        kept = [p for _, p in cands[:n]]
        for j in range(m, n):
            kept.append(fill[b, j] if from_prior[b] else kept[int(v[b, j] * m)])
        out[b] = np.array(kept)
    return out, kills, births, ms


# ============================================================================ checkpoints
class Checkpoint:
    """Atomic npz checkpoint of a loop's arrays plus numpy Generator states, keyed by a fingerprint."""

    def __init__(self, path, fingerprint: str, every: int):
        self.path, self.fingerprint, self.every = path, fingerprint, int(every)

    def due(self, step: int, steps: int) -> bool:
        return bool(self.path) and self.every > 0 and 0 < step < steps and step % self.every == 0

    def save(self, step: int, arrays: dict, gens) -> None:
        from spdl.io import atomic_path

        states = json.dumps([g.bit_generator.state for g in gens])
        with atomic_path(self.path) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, __fingerprint=self.fingerprint, __step=step, __gens=states, **arrays)

    def load(self, gens):
        """(step, arrays) from a matching checkpoint (generators restored), else None."""
        if not self.path or not os.path.exists(self.path):
            return None
        with np.load(self.path, allow_pickle=False) as f:
            if str(f["__fingerprint"]) != self.fingerprint:
                print(f"checkpoint {self.path} is from a different run; starting over")
                return None
            for g, s in zip(gens, json.loads(str(f["__gens"]))):
                g.bit_generator.state = s
            arrays = {k: f[k] for k in f.files if not k.startswith("__")}
            print(f"resumed from checkpoint {self.path} at step {int(f['__step'])}")
            return int(f["__step"]), arrays

    def remove(self) -> None:
        if self.path and os.path.exists(self.path):
            os.remove(self.path)


def fingerprint(*objs) -> str:
    h = hashlib.sha256()
    for o in objs:
        if isinstance(o, np.ndarray):
            h.update(repr((o.shape, str(o.dtype))).encode())
            h.update(np.ascontiguousarray(o).tobytes())
        else:
            h.update(repr(o).encode())
    return h.hexdigest()


# ============================================================================ Example 1: 1-D mixture
def gauss(x, mean, var):
    """Normal density N(x; mean, var)."""
    return np.exp(-((x - mean) ** 2) / (2 * var)) / np.sqrt(2 * np.pi * var)


@dataclass(frozen=True)
class Mixture:
    """Target f(x) = (1/J) sum_j c_j N(x; y_j, s_j^2) fitted by f_n(x) = (1/n) sum_i c_i N(x; y_i, phi_var)
    (the notebook's 1-D example: y = (-2, 0, 2), c = (1, -2, 1), s^2 = (0.5, 1, 0.5), phi_var = 0.5)."""

    centers: tuple = (-2.0, 0.0, 2.0)
    weights: tuple = (1.0, -2.0, 1.0)
    variances: tuple = (0.5, 1.0, 0.5)
    phi_var: float = 0.5

    @classmethod
    def from_config(cls, target: dict) -> "Mixture":
        """The mixture of the config's ``birth_death.target`` section."""
        return cls(tuple(target["centers"]), tuple(target["weights"]), tuple(target["variances"]), target["phi_var"])

    def _arrays(self):
        return np.array(self.centers, float), np.array(self.weights, float), np.array(self.variances, float)

    def target(self, x):
        yj, cj, sj = self._arrays()
        x = np.asarray(x, float)[..., None]
        return (cj * gauss(x, yj, sj)).sum(-1) / len(cj)

    def F(self, y):
        """F(y) = <f, phi_y> = (1/J) sum_j c_j N(y; y_j, s_j^2 + phi_var)."""
        yj, cj, sj = self._arrays()
        y = np.asarray(y, float)[..., None]
        return (cj * gauss(y, yj, sj + self.phi_var)).sum(-1) / len(cj)

    def dF(self, y):
        yj, cj, sj = self._arrays()
        y = np.asarray(y, float)[..., None]
        v = sj + self.phi_var
        return (-cj * (y - yj) / v * gauss(y, yj, v)).sum(-1) / len(cj)

    @property
    def kernel_var(self) -> float:
        """K(y, y') = <phi_y, phi_y'> = N(y; y', 2 phi_var)."""
        return 2 * self.phi_var

    def f_n(self, x, y, c):
        """Network output on points x (X,) for particles y, c (..., n) -> (..., X)."""
        y, c = np.asarray(y, float), np.asarray(c, float)
        return (c[..., None, :] * gauss(np.asarray(x, float)[:, None], y[..., None, :], self.phi_var)).mean(-1)

    def constant(self) -> float:
        """C_f = 1/2 ||f||^2 by adaptive quadrature over the real line (the notebook's 0.206/3 is 2e-4 low)."""
        val, _ = integrate.quad(lambda x: self.target(x) ** 2, -np.inf, np.inf, epsabs=1e-14, epsrel=1e-12)
        return 0.5 * val


def mixture_terms(mix: Mixture, y, c, Cf: float):
    """Exact energy and GD velocities for B runs of n particles, y, c (B, n).

    Returns energy (B,), vy, vc (B, n) with dy/dt = vy = c [F'(y) - (1/n) sum_j d_1K(y, y_j) c_j] and
    dc/dt = vc = F(y) - (1/n) sum_j K(y, y_j) c_j (the notebook's Euler step is y += dt vy, c += dt vc),
    and the potential V (B, n) = -c vc.
    """
    n = y.shape[-1]
    kv = mix.kernel_var
    K = y[..., :, None] - y[..., None, :]  # pairwise differences, turned into K in place
    np.square(K, out=K)
    K *= -0.5 / kv
    np.exp(K, out=K)
    KM = K @ np.stack([c, y * c], axis=-1) * (1 / (n * math.sqrt(2 * math.pi * kv)))
    Kc = KM[..., 0]  # (1/n) sum_j K_ij c_j
    dKc = -(y * Kc - KM[..., 1]) / kv  # (1/n) sum_j d_1K(y_i, y_j) c_j, d_1K = -(y_i - y_j) K / kv
    Fy = mix.F(y)
    energy = Cf - (c * Fy).mean(-1) + 0.5 * (c * Kc).mean(-1)
    vc = Fy - Kc
    vy = c * (mix.dF(y) - dKc)
    return energy, vy, vc, -c * vc


def mixture_init(kind: str, n: int, seeds, *, spread=2.0, center=-2.0, width=0.1):
    """Initial particles per seed, (S, n) each: kind "spread": y ~ U[-spread, spread]; "bad":
    y = center + width N(0, 1); c ~ N(0, 1) in both. Seed s uses Generator([s, 0]) (shared by all
    schemes, so GD and birth-death start from the same particles)."""
    ys, cs = [], []
    for s in seeds:
        g = np.random.default_rng([int(s), 0])
        y = g.uniform(-spread, spread, n) if kind == "spread" else center + width * g.standard_normal(n)
        ys.append(y)
        cs.append(g.standard_normal(n))
    return np.array(ys), np.array(cs)


def run_mixture(mix: Mixture, y0, c0, *, scheme, alpha, seeds, steps: int, quench: int, dt: float,
                prior_mean=0.0, prior_std=1.0, center_rates=False, snapshots=(), checkpoint=None,
                checkpoint_every=1000, progress=None):
    """GD (+ birth-death) for B runs at once. y0, c0 (B, n); scheme (B,) of GD/CLONE/PRIOR; alpha (B,)
    birth-death rate per step; seeds (B,) the runs' birth-death streams (Generator([seed, 1])).

    Step k (0-based): record E(k); Euler step of GD; if k < steps - quench and the run uses
    birth-death: growth r = -alpha (V - center_rates <V>) at the new state, ``resample`` with the
    prior y ~ N(prior_mean, prior_std^2), c = 0. The last ``quench`` steps are plain GD.
    Returns energy (steps+1, B), kills/births/population (steps, B) int, max_rate (steps, B) =
    max_i |r_i|, snapshots {step: (y, c)}, final y, c, and diverged_step (B,) (-1 if never): a run
    whose energy turns non-finite is frozen (NaN) from then on.
    """
    y, c = np.array(y0, float), np.array(c0, float)
    B, n = y.shape
    scheme, alpha = np.asarray(scheme, int), np.asarray(alpha, float) * np.ones(B)
    Cf = mix.constant()
    bd = np.flatnonzero(scheme != GD)
    gens = [np.random.default_rng([int(seeds[b]), 1]) for b in bd]
    from_prior = scheme[bd] == PRIOR
    hist = {"energy": np.full((steps + 1, B), np.nan), "kills": np.zeros((steps, B), np.int32),
            "births": np.zeros((steps, B), np.int32), "population": np.full((steps, B), n, np.int32),
            "max_rate": np.zeros((steps, B), np.float32), "diverged_step": np.full(B, -1, np.int64)}
    snap_steps = sorted({int(s) for s in snapshots if 0 <= int(s) <= steps})
    snaps = {f"snap_y_{s}": np.full((B, n), np.nan) for s in snap_steps}
    snaps.update({f"snap_c_{s}": np.full((B, n), np.nan) for s in snap_steps})
    ckpt = Checkpoint(checkpoint, fingerprint(mix, y, c, scheme, alpha, np.asarray(seeds), steps, quench, dt,
                                              prior_mean, prior_std, center_rates, snap_steps), checkpoint_every)
    start = 0
    loaded = ckpt.load(gens)
    if loaded is not None:
        start, arrays = loaded
        y, c = arrays.pop("y"), arrays.pop("c")
        for k in hist:
            hist[k] = arrays[k]
        for k in snaps:
            snaps[k] = arrays[k]
    for k in range(start, steps + 1):
        if ckpt.due(k, steps):
            ckpt.save(k, {"y": y, "c": c, **hist, **snaps}, gens)
        energy, vy, vc, _ = mixture_terms(mix, y, c, Cf)
        bad = ~np.isfinite(energy) & (hist["diverged_step"] < 0)
        if bad.any():
            hist["diverged_step"][bad] = k
            y[bad], c[bad] = np.nan, np.nan
        hist["energy"][k] = energy
        if k in snap_steps:
            snaps[f"snap_y_{k}"], snaps[f"snap_c_{k}"] = y.copy(), c.copy()
        if k == steps:
            break
        y, c = y + dt * vy, c + dt * vc
        if k < steps - quench and len(bd):
            _, _, _, V = mixture_terms(mix, y[bd], c[bd], Cf)
            growth = -alpha[bd, None] * (V - V.mean(-1, keepdims=True) if center_rates else V)
            u, key, v = draw_uniforms(gens, n)
            fill = prior_fill(gens, from_prior, n, 2, lambda g, k: np.stack(
                [prior_mean + prior_std * g.standard_normal(k), np.zeros(k)], axis=-1))
            P = np.stack([y[bd], c[bd]], axis=-1)
            new, kills, births, _, pop = resample(P, growth, u, key, v, fill, from_prior)
            y[bd], c[bd] = new[..., 0], new[..., 1]
            hist["kills"][k, bd], hist["births"][k, bd], hist["population"][k, bd] = kills, births, pop
            hist["max_rate"][k, bd] = np.abs(growth).max(-1)
        if progress is not None and (k + 1) % max(1, steps // 10) == 0:
            print(f"step {k + 1}/{steps}: median E = {np.nanmedian(hist['energy'][k]):.3e}", file=progress,
                  flush=True)
    ckpt.remove()
    return {**hist, **snaps, "y": y, "c": c, "snap_steps": np.array(snap_steps, np.int64)}


def first_time_below(energy, threshold, dt):
    """Time of the first step with energy <= threshold per run (energy (T, B)); inf if never."""
    below = np.asarray(energy) <= threshold
    hit = below.any(0)
    return np.where(hit, below.argmax(0) * dt, np.inf)


# ============================================================================ Example 2: student-teacher
def make_teacher(d: int, k: int, seed: int):
    """The notebook's teacher: c ~ U(+-1/sqrt k) (nn.Linear default), w ~ N(0, I) rescaled so that
    |w_i| |c_i| = 1. Returns float64 arrays W (k, d), c (k,)."""
    g = np.random.default_rng([int(seed), 2])
    c = g.uniform(-1, 1, k) / math.sqrt(k)
    W = g.standard_normal((k, d))
    W = W / (np.linalg.norm(W, axis=1) * np.abs(c))[:, None]
    return W, c


def init_student(d: int, n: int, seed: int, c_scale: float):
    """Student: w ~ N(0, 1/n) entries (the notebook's std 1/sqrt n), c ~ U(+-c_scale)."""
    g = np.random.default_rng([int(seed), 3])
    return g.standard_normal((n, d)) / math.sqrt(n), g.uniform(-c_scale, c_scale, n)


def sphere_inputs(gen, shape, dtype=None):
    """Gaussian inputs normalised to the unit sphere (torch generator, CPU)."""
    import torch

    x = torch.randn(*shape, generator=gen, dtype=dtype or torch.float32)
    return x / x.norm(dim=-1, keepdim=True)


@dataclass(frozen=True)
class StudentRun:
    """One student-teacher variant: parametrisation "notebook" (f = sum_i c_i ReLU(w_i.x), lr) or
    "mean_field" (f = (1/n) sum_i ..., per-particle step lr n, rates from V_i = n c_i dL/dc_i),
    scheme gd | clone | prior, alpha per step, centred rates (mass-preserving) or not."""

    name: str
    param: str
    scheme: str
    alpha: float = 0.0
    center: bool = False


def _torch_uniforms(gens, n):
    """``draw_uniforms`` with torch CPU generators (the engine's per-member streams)."""
    import torch

    a = np.stack([torch.rand(4 * n, generator=g, dtype=torch.float64).numpy() for g in gens])
    return a[:, :n], a[:, n:3 * n], a[:, 3 * n:]


def make_birth_death_rule():
    """The engine update rule class (built lazily so that this module imports no torch)."""
    import torch

    from spdl.engine import Batch, UpdateRule
    from spdl.models import MLP, forward

    class FreshBatchBirthDeath(UpdateRule):
        """SGD on a fresh teacher batch, then a birth-death resampling of the hidden units.

        Per member e (stacked params [W1 (E, n, d), W2 (E, 1, n)], f = W2 ReLU(W1 x)):
        - inputs: ``batch`` fresh sphere inputs from member e's own data generator (seeded by
          data_seeds[e]; variants of a seed share it, so they see the same inputs), labels from
          member e's teacher; loss L = mean squared error (no 1/2: grad_factor 2 on the engine's mse);
        - step: W1 -= lr_e * w_mult_e * dL/dW1, W2 -= lr_e * c_mult_e * dL/dW2 (mean field: the
          output weights are c / n and the multipliers n, 1/n give per-particle steps lr n on (w, c));
        - birth-death (alpha_e > 0): potential V_i = rate_scale_e * c_i dL/dc_i at the new c_i and
          this step's gradient, growth r = -alpha_e (V - center_e <V>), prior members kill only
          (r clipped at 0) and draw new units w ~ N(0, (prior_std / n)^2), c = 0; ``resample``
          with the uniforms of member e's engine generator.
        State: the data generators and per-member counters (kills, births, smallest population).
        """

        def __init__(self, teacher_W, teacher_c, data_seeds, batch, w_mult, c_mult, rate_scale, alpha,
                     center, scheme, prior_std, grad_factor=2.0):
            self.teacher_W = np.asarray(teacher_W, float)  # (E, k, d)
            self.teacher_c = np.asarray(teacher_c, float)  # (E, k)
            self.data_seeds = [int(s) for s in data_seeds]
            self.batch = int(batch)
            self.w_mult, self.c_mult = [float(v) for v in w_mult], [float(v) for v in c_mult]
            self.rate_scale, self.alpha = [float(v) for v in rate_scale], [float(v) for v in alpha]
            self.center, self.scheme = [bool(v) for v in center], [int(v) for v in scheme]
            self.prior_std, self.grad_factor = float(prior_std), float(grad_factor)

        def config(self):
            return dict(teacher=fingerprint(self.teacher_W, self.teacher_c), data_seeds=self.data_seeds,
                        batch=self.batch, w_mult=self.w_mult, c_mult=self.c_mult, rate_scale=self.rate_scale,
                        alpha=self.alpha, center=self.center, scheme=self.scheme, prior_std=self.prior_std,
                        grad_factor=self.grad_factor)

        def init(self, ctx):
            E, n = ctx.E, ctx.params[0].shape[1]
            self.data_gens = [torch.Generator().manual_seed(s) for s in self.data_seeds]
            dev, dt = ctx.device, ctx.dtype
            self.tW = torch.tensor(self.teacher_W, dtype=dt, device=dev)
            self.tc = torch.tensor(self.teacher_c, dtype=dt, device=dev)[:, None, :]
            self.tarch = MLP((self.teacher_W.shape[2], self.teacher_W.shape[1], 1))
            self.mults = [torch.tensor(m, dtype=dt, device=dev) for m in (self.w_mult, self.c_mult)]
            self.bd = np.flatnonzero((np.array(self.scheme) != GD) & (np.array(self.alpha) > 0))
            self.from_prior = np.array(self.scheme)[self.bd] == PRIOR
            self.state = {"kills": torch.zeros(E, dtype=torch.int64), "births": torch.zeros(E, dtype=torch.int64),
                          "population_min": torch.full((E,), n, dtype=torch.int64)}

        def state_dict(self):
            return {**self.state, "data_gens": [g.get_state() for g in self.data_gens]}

        def load_state_dict(self, state):
            for g, st in zip(self.data_gens, state["data_gens"]):
                g.set_state(st.cpu())
            self.state = {k: v.cpu() for k, v in state.items() if k != "data_gens"}

        def update(self, ctx):
            d = self.teacher_W.shape[2]
            x = torch.stack([sphere_inputs(g, (self.batch, d), ctx.dtype) for g in self.data_gens]).to(ctx.device)
            with torch.no_grad():
                y = forward(self.tarch, [self.tW, self.tc], x)
            losses, grads = ctx.loss_and_grad(batch=Batch(x, y, None, None))
            W1, W2 = ctx.params
            gW, gc = (g * self.grad_factor for g in grads)
            with torch.no_grad():
                W1.addcmul_(gW, ctx.member_view(ctx.lr * self.mults[0], W1), value=-1)
                W2.addcmul_(gc, ctx.member_view(ctx.lr * self.mults[1], W2), value=-1)
                if len(self.bd):
                    self._birth_death(ctx, W1, W2, gc)
            return losses

        def _birth_death(self, ctx, W1, W2, gc):
            bd, n, d = self.bd, W1.shape[1], W1.shape[2]
            c = W2[bd, 0, :].double().cpu().numpy()
            pot = np.array(self.rate_scale)[bd, None] * c * gc[bd, 0, :].double().cpu().numpy()
            pot = np.where(np.array(self.center)[bd, None], pot - pot.mean(-1, keepdims=True), pot)
            growth = -np.array(self.alpha)[bd, None] * pot
            growth = np.where(self.from_prior[:, None], np.minimum(growth, 0.0), growth)
            gens = [ctx.generators[e] for e in bd]
            u, key, v = _torch_uniforms(gens, n)
            scale = self.prior_std / n
            fill = prior_fill(gens, self.from_prior, n, d + 1, lambda g, k: np.concatenate(
                [torch.randn(k, d, generator=g, dtype=torch.float64).numpy() * scale, np.zeros((k, 1))], axis=-1))
            P = np.concatenate([W1[bd].double().cpu().numpy(), c[..., None]], axis=-1)
            new, kills, births, _, pop = resample(P, growth, u, key, v, fill, self.from_prior)
            new = torch.as_tensor(new, dtype=W1.dtype).to(W1.device)
            idx = torch.as_tensor(bd, device=W1.device)
            W1[idx] = new[..., :d]
            W2[idx, 0, :] = new[..., d]
            t = torch.as_tensor(bd)
            self.state["kills"][t] += torch.as_tensor(kills, dtype=torch.int64)
            self.state["births"][t] += torch.as_tensor(births, dtype=torch.int64)
            self.state["population_min"][t] = torch.minimum(self.state["population_min"][t],
                                                            torch.as_tensor(pop, dtype=torch.int64))

    return FreshBatchBirthDeath


def student_seed(kind: str, seed: int) -> int:
    """Seeds of the student-teacher runs (spdl.seeds.derive_seed): kind "teacher", "student",
    "data", "test" or "bd:<variant name>"."""
    from spdl.seeds import derive_seed

    return derive_seed("birth_death", f"student/{kind}", int(seed))


def run_student(variants, seeds, *, d: int, teacher_units: int, n: int, batch: int, lr: float, steps: int,
                record_at, test_size: int, prior_std_scale: float, mf_c_scale: float, project_seed=0,
                checkpoint=None, checkpoint_every=2000, progress=None, device=None, observe=None):
    """SGD (+ birth-death after every step) on stacked students, all variants x seeds, through
    ``spdl.engine.train`` with the ``FreshBatchBirthDeath`` update rule.

    Members e = (variant, seed), variant-major. Every seed has its teacher, student initialisation,
    test set and fresh-batch stream, shared by its variants (paired comparisons); the birth-death
    stream of a member is the engine generator seeded by (seed, variant name), so a variant gives
    the same run alone as inside the batch. Mean-field members store c / n as output weights.
    Records the test loss (MSE without 1/2 on the fixed test set; R, E), cumulative kills/births,
    the smallest population since the start, and the final units |c_i| w_i projected on the plane
    of teacher units 0 and 1 of seed ``project_seed``.
    """
    import torch

    from spdl.engine import train
    from spdl.models import MLP

    variants = list(variants)
    S, V = len(seeds), len(variants)
    E = S * V
    vi, si = np.repeat(np.arange(V), S), np.tile(np.arange(S), V)
    mf = np.array([variants[v].param == "mean_field" for v in vi])
    scheme = np.array([SCHEMES[variants[v].scheme] for v in vi])
    teachers = [make_teacher(d, teacher_units, student_seed("teacher", s)) for s in seeds]
    W1 = np.empty((E, n, d))
    c = np.empty((E, n))
    for e in range(E):
        W1[e], c[e] = init_student(d, n, student_seed("student", seeds[si[e]]),
                                   mf_c_scale if mf[e] else 1 / math.sqrt(n))
    c = np.where(mf[:, None], c / n, c)  # mean field: output weights c / n
    params = [torch.tensor(W1, dtype=torch.float32), torch.tensor(c, dtype=torch.float32)[:, None, :]]
    Rule = make_birth_death_rule()
    rule = Rule(teacher_W=np.stack([teachers[s][0] for s in si]), teacher_c=np.stack([teachers[s][1] for s in si]),
                data_seeds=[student_seed("data", seeds[s]) for s in si], batch=batch,
                w_mult=np.where(mf, n, 1.0), c_mult=np.where(mf, 1.0 / n, 1.0), rate_scale=np.where(mf, n, 1.0),
                alpha=[variants[v].alpha for v in vi], center=[variants[v].center for v in vi], scheme=scheme,
                prior_std=prior_std_scale)
    tarch = MLP((d, teacher_units, 1))
    test_x = torch.stack([sphere_inputs(torch.Generator().manual_seed(student_seed("test", s)), (test_size, d))
                          for s in seeds])
    from spdl.models import forward

    tW = torch.tensor(np.stack([t[0] for t in teachers]), dtype=torch.float32)
    tc = torch.tensor(np.stack([t[1] for t in teachers]), dtype=torch.float32)[:, None, :]
    test_y = forward(tarch, [tW, tc], test_x)  # (S, T, 1)

    def counters(params, step):
        return {k: rule.state[k].clone() for k in ("kills", "births", "population_min")}

    res = train(MLP((d, n, 1)), params, test_x[si], test_y[si], steps=steps, lr=lr, loss="mse",
                seeds=[student_seed(f"bd:{variants[v].name}", seeds[s]) for v, s in zip(vi, si)],
                record_at=record_at, metrics=counters, progress=progress, checkpoint=checkpoint,
                checkpoint_every=checkpoint_every, update=rule, device=device, observe=observe)
    W1f = res.params[0].double().cpu().numpy()
    cf = res.params[1][:, 0, :].double().cpu().numpy() * np.where(mf, n, 1.0)[:, None]  # back to c
    tW0 = teachers[project_seed][0]
    basis, _ = np.linalg.qr(tW0[:2].T)  # (d, 2) orthonormal basis of the plane of teacher units 0, 1
    basis = basis * np.sign(np.diag(basis.T @ tW0[:2].T))  # first axis along teacher unit 0
    rows = np.flatnonzero(si == project_seed)
    out_scale = np.where(mf, 1.0 / n, 1.0)[rows, None, None]  # |c_i| w_i in units of the output (c / n for mf)
    projection = (out_scale * np.abs(cf[rows])[..., None] * W1f[rows]) @ basis
    teacher_proj = (np.abs(teachers[project_seed][1])[:, None] * tW0) @ basis
    h = res.history
    return {"test_loss": 2 * h["loss"], "kills": h["kills"], "births": h["births"],
            "population": h["population_min"], "diverged_step": res.diverged_step, "steps": res.steps,
            "variant": vi, "seed": si, "projection": projection, "teacher_projection": teacher_proj,
            "W1": W1f, "c": cf}


# ============================================================================ config checks
def check_config(section: dict) -> list[str]:
    """Cross-field checks of config["birth_death"] that the schema cannot express."""
    msgs = []
    dt = section.get("dynamics", {}).get("dt", 0.0)
    for case in ("spread", "bad"):
        cc = section.get(case, {})
        if cc and cc.get("quench", 0) >= cc.get("steps", 1):
            msgs.append(f"birth_death.{case}.quench: {cc['quench']} must be below steps={cc['steps']}")
        if cc and "check_time" in cc and cc["check_time"] > cc.get("steps", 0) * dt:
            msgs.append(f"birth_death.{case}.check_time: {cc['check_time']} is after the end "
                        f"(steps * dt = {cc.get('steps', 0) * dt:g})")
    sw = section.get("sweep", {})
    if sw and "quench" in sw and sw["quench"] >= sw.get("steps", 1):
        msgs.append(f"birth_death.sweep.quench: {sw['quench']} must be below steps={sw['steps']}")
    if sw and "alpha" in sw and 0.0 not in [float(a) for a in sw["alpha"]]:
        msgs.append(f"birth_death.sweep.alpha: {sw['alpha']} must include 0 (the GD reference)")
    st = section.get("student", {})
    if st and st.get("teacher_units", 2) < 2:
        msgs.append("birth_death.student.teacher_units: need >= 2 for the projection plane")
    if st and st.get("teacher_units", 0) > st.get("d", 10**9):
        msgs.append(f"birth_death.student.teacher_units: {st['teacher_units']} exceeds d={st['d']}")
    names = [v.get("name") for v in st.get("variants", [])]
    if len(set(names)) != len(names):
        msgs.append(f"birth_death.student.variants: names must be unique, got {names}")
    return msgs

# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Neuron birth-death dynamics accelerates mean-field gradient descent
#
# G. M. Rotskoff, S. Jelassi, J. Bruna & E. Vanden-Eijnden, *Neuron birth-death dynamics
# accelerates gradient descent and converges asymptotically*, ICML 2019 (PMLR 97),
# arXiv:1902.01843; protocol of the authors' notebooks (GitHub rotskoff/neuron-birth-death,
# `gaussian_example`, `student_teacher_example`).
#
# **Theory.** A network $f_n = \frac1n\sum_i c_i\varphi(\cdot; y_i)$ is a particle measure; gradient
# descent on $E = \frac12\|f - f_n\|^2$ moves particles along $-\nabla V$ with the potential
# $V(y,c) = c\,[\frac1n\sum_j K(y,y_j)c_j - F(y)]$, $F(y)=\langle f,\varphi_y\rangle$,
# $K(y,y')=\langle\varphi_y,\varphi_{y'}\rangle$. Birth-death adds a non-local mass transport
# $-\alpha(V - \langle V\rangle)\mu$ with the same minimiser, implemented by killing particles with
# $V>0$ and duplicating those with $V<0$. The energy here is exact: $E = C_f - \frac1n\sum c_iF(y_i)
# + \frac1{2n^2}\sum c_ic_jK_{ij}$ with $C_f = \frac12\|f\|^2$ by quadrature (0.068868; the notebook's
# 0.206/3 is 2e-4 low, so its plotted energies could go negative).
#
# **Simulation** (rules `birth_death_*`): particles as arrays (runs x particles), all seeds and schemes
# at once; the birth-death step is vectorised (kill/duplicate by uniform draws, population restored to
# $n$ by cloning random survivors = scheme 1, or by prior draws $y\sim N(0,1)$, $c=0$ = scheme 2, random
# extras killed), each run with its own random stream. Last 1,000 steps plain GD ("quench"). The
# student-teacher networks are trained by `spdl.engine.train` with a resampling update rule (SGD on a
# fresh teacher batch, then the same vectorised birth-death step on the hidden units).
#
# **Our choices where the paper is silent:** several seeds (the notebooks run one); the same initial
# particles for GD and both birth-death schemes of a seed (paired comparisons); rates without mean
# subtraction in the mixture example (as the notebook); birth-death rates computed after the GD step
# (as the notebook); in the student-teacher example one teacher per seed, a fixed test set of sphere
# inputs for the loss curves, and the same restoration rule as the mixture (kills replaced by clones of
# random survivors, clones overwrite random units; the prior variant kills only). We add a
# *mean-field* student (our design): $f = \frac1n\sum_i c_i\,\mathrm{ReLU}(w_i\cdot x)$, per-particle
# step lr$\cdot n$, $c\sim U(-1,1)$, centred rates $-\alpha(V_i - \langle V\rangle)$ with
# $V_i = n\,c_i\,\partial L/\partial c_i$. The sweeps over $\alpha$ and $n$ (Fig. 3) are ours.

# %% tags=["parameters"]
inputs = {}
cfg = {}
scale = "default"
figdir = "results/figures/birth_death"
claims_path = "results/claims/birth_death.json"
declarations = "workflow/claims/birth_death.yaml"

# %%
import matplotlib.pyplot as plt
from matplotlib.ticker import NullFormatter
import numpy as np
import pandas as pd
from scipy import integrate

from spdl.claims import ClaimBook
from spdl.figures import save_figure, use_style
from spdl.io import load_npz
from spdl.studies import birth_death as bd

use_style()
claims = ClaimBook.declared("birth_death", scale, declarations)
SCHEMES = ["gd", "clone", "prior"]
LABEL = {"gd": "GD", "clone": "GD + birth-death (cloning)", "prior": "GD + birth-death (prior)"}
COLOR = {"gd": "C0", "clone": "C1", "prior": "C3"}
spread, bad = load_npz(inputs["spread"]), load_npz(inputs["bad"])
sw_alpha, sw_n = load_npz(inputs["sweep_alpha"]), load_npz(inputs["sweep_n"])
student = load_npz(inputs["student"])


def band_plot(ax, t, values, color, label):
    """Median over seeds (last axis) with the min-max band."""
    ax.plot(t, np.median(values, -1), color=color, label=label)
    if values.shape[-1] > 1:
        ax.fill_between(t, values.min(-1), values.max(-1), color=color, alpha=0.2, lw=0)

# %% [markdown]
# ## Fig. 1 — 1-D Gaussian mixture: GD vs birth-death
# (a) Spread initialisation $y\sim U[-2,2]$: energy vs time (median and range over seeds) and the final
# fits of the first seed against the target. (b) All particles started near $y=-2$: GD and cloning stay
# trapped (cloning only copies existing particles), the prior brings mass to the other centres.
# Dashed: start of the quench; dotted: the claim time.

# %%
fig, axes = plt.subplots(2, 2, figsize=(11, 8))
rows = []
for r_, (case, d) in enumerate([("spread", spread), ("bad", bad)]):
    dt = float(d["dt"])
    t = np.arange(d["energy"].shape[0]) * dt
    sub = slice(None, None, max(1, len(t) // 600))
    ax = axes[r_, 0]
    for k, s in enumerate(SCHEMES):
        band_plot(ax, t[sub], d["energy"][sub, k], COLOR[s], LABEL[s])
        for j, seed in enumerate(d["seeds"]):
            rows += [dict(case=case, panel="energy", scheme=s, seed=int(seed), t=tt, value=e)
                     for tt, e in zip(t[sub], d["energy"][sub, k, j])]
    ax.axvline((int(d["steps"]) - int(d["quench"])) * dt, ls="--", color="gray", lw=1)
    ax.axvline(int(d["check_step"]) * dt, ls=":", color="gray", lw=1)
    ax.set(yscale="log", xlabel="time t = step x dt", ylabel="energy E (exact)",
           title=f"({'a' if case == 'spread' else 'b'}) {case} initialisation, n = {int(d['n'])}, "
                 f"{len(d['seeds'])} seed(s)")
    ax.legend(fontsize=8)
    ax = axes[r_, 1]
    if case == "spread":
        ax.plot(d["x"], d["target"], "k", label="target f")
        for k, s in enumerate(SCHEMES):
            ax.plot(d["x"][::6], d["fit"][k, 0, ::6], "o", ms=3, color=COLOR[s],
                    label=f"{LABEL[s]} (seed {d['seeds'][0]})")
            rows += [dict(case=case, panel="fit", scheme=s, seed=int(d["seeds"][0]), x=x, value=v)
                     for x, v in zip(d["x"], d["fit"][k, 0])]
        rows += [dict(case=case, panel="fit", scheme="target", x=x, value=v) for x, v in zip(d["x"], d["target"])]
        ax.set(xlabel="x", ylabel="f(x)", title="(a) final fits")
    else:
        for k, s in enumerate(SCHEMES):
            ax.plot(d["y"][k, 0], d["c"][k, 0], ".", ms=4, color=COLOR[s], label=LABEL[s])
            rows += [dict(case=case, panel="particles", scheme=s, seed=int(d["seeds"][0]), y=y, c=c)
                     for y, c in zip(d["y"][k, 0], d["c"][k, 0])]
        for yc in d["target_centers"]:
            ax.axvline(yc, color="k", lw=0.5, ls=":")
        ax.set(xlim=(-5, 5), xlabel="particle position y", ylabel="particle weight c",
               title=f"(b) final particles (seed {d['seeds'][0]}); dotted: target centres")
    ax.legend(fontsize=8)
fig.tight_layout()
save_figure(fig, pd.DataFrame(rows), figdir, "fig1_mixture")

# exact energy against 1/2 ||f - f_n||^2 by quadrature, final particles of the first seed
mix = bd.Mixture(tuple(spread["target_centers"]), tuple(spread["target_weights"]),
                 tuple(spread["target_variances"]), float(spread["phi_var"]))
errs = []
for d in (spread, bad):
    for k in range(3):
        y, c = d["y"][k, 0], d["c"][k, 0]
        val, _ = integrate.quad(lambda x: (mix.target(x) - mix.f_n(np.atleast_1d(x), y, c)[0]) ** 2, -np.inf, np.inf,
                                epsabs=1e-14, epsrel=1e-12, limit=400)
        errs.append(abs(0.5 * val - d["energy"][-1, k, 0]))
claims.check("energy_exact_vs_quadrature", max(errs))

runs = [(d["population"], int(d["n"])) for d in (spread, bad)]
pop_dev = max(int(np.abs(p - n).max()) for p, n in runs)
for sw in (sw_alpha, sw_n):
    for g, n in enumerate(sw["n"]):
        pop_dev = max(pop_dev, int(np.abs(sw["population_min"][g] - n).max()))
claims.check("mixture_population_constant", pop_dev)

rise = []
for d in (spread, bad):
    q = int(d["quench"])
    rise.append(np.diff(d["energy"][-q - 1:], axis=0).max())
for sw in (sw_alpha, sw_n):
    q = int(sw["quench"])
    rise.append(np.diff(sw["energy"][-q - 1:], axis=0).max())
any_div = any((d["diverged_step"] >= 0).any() for d in (spread, bad, sw_alpha, sw_n))
claims.check("quench_energy_nonincreasing", max(rise), diverged=any_div)

E_check = spread["energy"][int(spread["check_step"])]  # (scheme, seed)
ratio = E_check[1:] / E_check[0]
print("spread, E(BD)/E(GD) at t =", int(spread["check_step"]) * float(spread["dt"]), ":\n", ratio.round(3))
sp_div = bool((spread["diverged_step"] >= 0).any())
claims.check("spread_clone_beats_gd_t10", int((ratio[0] <= 0.1).sum()), diverged=sp_div)
claims.check("spread_prior_beats_gd_t10", int((ratio[1] <= 0.2).sum()), diverged=sp_div)
E_end = bad["energy"][-1]
print("bad initialisation, final energies (scheme x seed):\n", E_end)
tb = int(bad["check_step"])
print(f"bad initialisation, energies at t = {tb * float(bad['dt']):g}:\n", bad["energy"][tb])
bad_div = bool((bad["diverged_step"] >= 0).any())
claims.check("bad_gd_trapped", int((E_end[0] >= 1e-2).sum()), diverged=bad_div)
claims.check("bad_clone_trapped", int((E_end[1] >= 1e-2).sum()), diverged=bad_div)
claims.check("bad_prior_escapes", int((E_end[2] <= 1e-3).sum()), diverged=bad_div)
claims.table("fig1_mixture")

# %% [markdown]
# ## Fig. 2 — student-teacher ReLU networks
# Test loss (fixed sphere inputs) vs SGD steps, median and range over seeds (one teacher per seed):
# left, the notebook's parametrisation $f=\sum_i c_i\mathrm{ReLU}(w_i\cdot x)$ (SGD; birth-death with
# cloning, $\alpha=1$; with the prior, $\alpha=0.01$); middle, our mean-field variant. Right: the final
# units $|c_i|w_i$ of the first seed projected on the plane of two teacher units (dashed: the teacher
# units' directions in that plane, length = their in-plane fraction). The acceleration is a finding
# here, not a claim: the spec measured no acceleration with the notebook's parametrisation.

# %%
steps = student["steps"]
names = list(student["variant_names"])
params_ = list(student["variant_param"])
tl = student["test_loss"]  # (record, variant, seed)
fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
rows = []
pos = steps > 0
for v, name in enumerate(names):
    ax = axes[0 if params_[v] == "notebook" else 1]
    s = str(student["variant_scheme"][v])
    band_plot(ax, steps[pos], tl[pos, v], COLOR[s], f"{name} (alpha = {float(student['variant_alpha'][v]):g})")
    for j, seed in enumerate(student["seeds"]):
        rows += [dict(panel="loss", variant=name, seed=int(seed), step=int(st), test_loss=l)
                 for st, l in zip(steps, tl[:, v, j])]
for ax, title in zip(axes[:2], ["notebook parametrisation", "mean-field parametrisation (our design)"]):
    ax.set(xscale="log", yscale="log", xlabel="SGD step", ylabel="test loss (MSE)", title=title)
    ax.legend(fontsize=8)
ax = axes[2]
tp = student["teacher_projection"]
proj = student["projection"]  # (variant, unit, 2): final units of the first seed
shown = [v for v in range(len(names)) if params_[v] == "notebook"]
reach = 1.2 * np.nanmax(np.abs(proj[shown]))  # teacher units drawn as directions, scaled to the students' extent
for j in range(len(tp)):
    u = tp[j] / np.linalg.norm(tp[j]) * reach * min(1.0, np.linalg.norm(tp[j]))
    ax.plot([0, u[0]], [0, u[1]], "--", color="k", lw=0.8)
    rows.append(dict(panel="projection", variant="teacher", unit=j, p1=tp[j, 0], p2=tp[j, 1]))
for v, name in enumerate(names):
    if params_[v] != "notebook":
        continue
    s = str(student["variant_scheme"][v])
    ax.plot(proj[v, :, 0], proj[v, :, 1], "o", ms=4, color=COLOR[s], alpha=0.7, label=name)
    rows += [dict(panel="projection", variant=name, unit=i, p1=a, p2=b) for i, (a, b) in enumerate(proj[v])]
ax.set(xlabel="along teacher unit 1", ylabel="along teacher unit 2 (orthogonalised)",
       title=f"final |c_i| w_i, seed {student['seeds'][0]}, step {int(steps[-1])}")
ax.set_aspect("equal", adjustable="datalim")
ax.legend(fontsize=8)
fig.tight_layout()
save_figure(fig, pd.DataFrame(rows), figdir, "fig2_student")

final = pd.DataFrame([dict(variant=n, seed=int(s), final_test_loss=tl[-1, v, j])
                      for v, n in enumerate(names) for j, s in enumerate(student["seeds"])])
print("Finding (no band): final test loss per variant and seed")
print(final.pivot(index="variant", columns="seed", values="final_test_loss").to_string(float_format="%.3e"))
for base, other in [("sgd", "clone"), ("sgd", "prior"), ("mf_sgd", "mf_clone"), ("mf_sgd", "mf_prior")]:
    if base in names and other in names:
        r = tl[-1, names.index(other)] / tl[-1, names.index(base)]
        early = np.searchsorted(steps, 200)
        r_early = tl[early, names.index(other)] / tl[early, names.index(base)]
        print(f"{other}/{base}: final ratio per seed {np.round(r, 3)}, "
              f"at step {int(steps[early])} {np.round(r_early, 3)}")
claims.check("student_population_constant", int(np.abs(student["population"] - int(student["n"])).max()),
             diverged=bool((student["diverged_step"] >= 0).any()))
claims.table("fig2_student")

# %% [markdown]
# ## Fig. 3 — sweeps over the birth-death rate and the particle number (our design)
# Spread initialisation, cloning scheme. (a) Final energy vs $\alpha$ ($\alpha=0$: GD); (b) time to reach
# the energy level `energy_threshold` vs $\alpha$ (open markers: not reached); (c) final energy vs $n$, GD vs
# $\alpha$ = alpha_n_ref; (d) stability: the largest per-step probability $\alpha\max_i|V_i|$ over the run and
# the fraction of birth-death steps where it reaches 1 (probabilities clip; the particle step no longer
# represents the rate). Median and range over seeds.

# %%
thr = float(cfg["energy_threshold"])
fig, axes = plt.subplots(1, 4, figsize=(18, 4.2))
rows = []
al = sw_alpha["alpha"][0]
Ea = sw_alpha["energy"][:, 0]  # (time, alpha, seed)
dt = float(sw_alpha["dt"])
xa = np.where(al > 0, al, al[al > 0].min() / 3)  # alpha = 0 (GD) drawn at the left edge
ax = axes[0]
band_plot(ax, xa, Ea[-1], "C1", "final E, cloning")
ax.plot(xa[al == 0], np.median(Ea[-1][al == 0], -1), "s", color="C0", label="GD (alpha = 0)")
ax.legend(fontsize=8)
ax.set(xscale="log", yscale="log", xlabel="alpha (leftmost point: GD, alpha = 0)", ylabel="final energy",
       title=f"(a) final energy, n = {int(sw_alpha['n'][0])}")
t_hit = np.stack([bd.first_time_below(Ea[:, a], thr, dt) for a in range(len(al))])  # (alpha, seed)
ax = axes[1]
reached_any = np.isfinite(t_hit).any(1)
med = np.full(len(al), np.nan)
med[reached_any] = np.nanmedian(np.where(np.isfinite(t_hit), t_hit, np.nan)[reached_any], 1)
ax.plot(xa, med, "-o", color="C1", label="median over seeds that reach it")
for a in range(len(al)):
    reached = np.isfinite(t_hit[a])
    ax.plot(np.full(reached.sum(), xa[a]), t_hit[a][reached], ".", color="C1", alpha=0.5)
    if (~reached).any():
        ax.plot([xa[a]], [float(sw_alpha["steps"]) * dt], "o", mfc="none", color="gray")
ax.set(xscale="log", xlabel="alpha", ylabel=f"time to E <= {thr:g}", title="(b) time to the energy level")
ax.legend(fontsize=8)
ax = axes[2]
ns = sw_n["n"]
En = sw_n["energy"][-1]  # (n, {GD, BD}, seed)
band_plot(ax, ns, En[:, 0], "C0", "GD")
band_plot(ax, ns, En[:, 1], "C1", f"cloning, alpha = {float(sw_n['alpha'][0][1]):g}")
ax.set(xscale="log", yscale="log", xlabel="particles n", ylabel="final energy", title="(c) final energy vs n")
ax.set_xticks(ns, [str(int(n)) for n in ns])
ax.legend(fontsize=8)
ax = axes[3]
mr = sw_alpha["max_rate"][0]  # (alpha, seed)
bdr = al > 0
band_plot(ax, xa[bdr], mr[bdr], "C2", "max over run of alpha max_i |V_i|")
ax.axhline(1.0, ls="--", color="gray", lw=1)
ax.set(xscale="log", yscale="log", xlabel="alpha", ylabel="largest per-step probability",
       title="(d) stability: probabilities reach 1")
ax2 = ax.twinx()
band_plot(ax2, xa[bdr], sw_alpha["clipped_fraction"][0][bdr], "C4", "fraction of steps clipped (right)")
ax2.set(ylim=(-0.02, 1.02), ylabel="fraction of birth-death steps clipped")
ax2.spines["right"].set_visible(True)
h1, l1 = ax.get_legend_handles_labels()
h2, l2 = ax2.get_legend_handles_labels()
ax.legend(h1 + h2, l1 + l2, fontsize=8, loc="lower right")
for a_ in axes:
    a_.xaxis.set_minor_formatter(NullFormatter())
for a in range(len(al)):
    for j, seed in enumerate(sw_alpha["seeds"]):
        rows.append(dict(panel="alpha", alpha=al[a], seed=int(seed), final_energy=Ea[-1, a, j],
                         time_to_threshold=t_hit[a, j], max_rate=mr[a, j],
                         clipped_fraction=sw_alpha["clipped_fraction"][0][a, j]))
for g, n in enumerate(ns):
    for b, lab in enumerate(["gd", "clone"]):
        for j, seed in enumerate(sw_n["seeds"]):
            rows.append(dict(panel="n", n=int(n), scheme=lab, seed=int(seed), final_energy=En[g, b, j]))
fig.tight_layout()
save_figure(fig, pd.DataFrame(rows), figdir, "fig3_sweeps")
print("alpha:", al, "\nmedian final E:", np.median(Ea[-1], -1), "\nmax per-step probability:", np.median(mr, -1))
print("n:", ns, "\nfinal E GD (median):", np.median(En[:, 0], -1), "\nfinal E clone (median):", np.median(En[:, 1], -1))
claims.check("n_sweep_clone_below_gd", int((En[:, 1] < En[:, 0]).sum()),
             diverged=bool((sw_n["diverged_step"] >= 0).any()))
claims.table("fig3_sweeps")

# %%
claims.write(claims_path)

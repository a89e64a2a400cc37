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
# # Landscape geometry of the coherent Ising machine: critical points and annealing
#
# Paper: A. Yamamura, H. Mabuchi & S. Ganguli, *Geometric landscape annealing as an
# optimization principle underlying the coherent Ising machine*, Phys. Rev. X 14, 031054
# (2024), arXiv:2309.08119. Seed talk (Ganguli): Kac-Rice and replica counts of critical
# points of the classical CIM landscape, and annealing schedules built from them.
#
# **The paper's own equations, parameters and numbers were not available to us.** This
# notebook checks *our chosen model*, the standard classical CIM amplitude equation
# $\dot x_i = -x_i^3 + (p-1)x_i + \beta\sum_j J_{ij}x_j$, the gradient flow of
# $E_p(x) = \sum_i (x_i^4/4 - (p-1)x_i^2/2) - \frac\beta2 x^\top Jx$ on
# Sherrington-Kirkpatrick couplings $J_{ij}\sim N(0,1/N)$, read out as $s=\mathrm{sign}(x)$
# with $e(s) = -s^\top Js/(2N)$. Every claim below is a check of that model, not of the paper.
#
# * **Theory** (ours): convexity threshold $p_c = 1-\beta\lambda_{\max}(J)$; energy identity
#   $E=\sum_i[V(x_i)-x_iV'(x_i)/2]$ at critical points; an *annealed* Kac-Rice complexity
#   derived for this model (`spdl.studies.cim_landscape.kac_rice`): total count of critical
#   points of all indices, and the fraction of negative Hessian eigenvalues of the dominant
#   ones. *Not implemented:* the quenched (replica) complexity, the count restricted to
#   minima, energy-resolved curves in the figure, the cavity/supersymmetry analysis.
# * **Simulation**: Euler annealing of all instances x runs in one array (rule
#   `cim_landscape_anneal`), steepest single-flip greedy and top-eigenvector rounding +
#   greedy baselines; a critical-point census (damped descent, then Newton with the
#   analytic Hessian, deduplicated up to the global sign; rule `cim_landscape_census`);
#   Gray-code exhaustive enumeration (rules `cim_landscape_enumerate`, `cim_landscape_schedules`).
# * **Our choices where the paper is silent**: $\beta=1$; linear ramps from $p=-1.5$ to $4$;
#   initial amplitudes $N(0, 0.01^2)$, no noise; Euler step 0.05; census starts at 12
#   snapshots of descent trajectories; the slowed schedule spends half of the time in the
#   census gain interval where the number of minima grows fastest; success = final energy
#   within 1% of the exhaustive ground state.

# %% tags=["parameters"]
inputs = {}
cfg = {}
scale = "default"
figdir = "results/figures/cim_landscape"
claims_path = "results/claims/cim_landscape.json"
declarations = "workflow/claims/cim_landscape.yaml"

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from spdl.claims import ClaimBook
from spdl.figures import save_figure
from spdl.io import load_npz
from spdl.studies import cim_landscape as cl

claims = ClaimBook.declared("cim_landscape", scale, declarations)
beta = cfg["beta"]
census_n = sorted(int(k.split("_")[1]) for k in inputs if k.startswith("census_"))

# %% [markdown]
# ## Fig. 1 — annealing on SK instances
# Lines: instance-and-run mean of $e(\mathrm{sign}\,x)$ along linear gain ramps of two
# durations. Horizontal lines: steepest single-flip greedy descent from random states,
# top-eigenvector rounding + greedy, and the finite-$N$ Parisi estimate
# $e_0 + 0.7N^{-2/3}$ (recalled; $e_0=-0.7633$).

# %%
an = load_npz(inputs["anneal"])
ns, Ts = [int(n) for n in an["n"]], [float(t) for t in an["T"]]
fig, axes = plt.subplots(1, len(ns), figsize=(5 * len(ns), 4), squeeze=False)
rows = []
for ax, n in zip(axes[0], ns):
    for T in Ts:
        e = an[f"e_n{n}_T{T:g}"]
        ax.plot(an[f"p_n{n}_T{T:g}"], np.nanmean(e, (1, 2)), label=f"CIM, T = {T:g}")
        rows += [dict(n=n, source=f"cim_T{T:g}", p=pp, e=v)
                 for pp, v in zip(an[f"p_n{n}_T{T:g}"], np.nanmean(e, (1, 2)))]
    for name, val, st in (("greedy from random", an[f"greedy_n{n}"].mean(), ":"),
                          ("top eigenvector + greedy", an[f"spectral_n{n}"].mean(), "--"),
                          ("Parisi e0 + 0.7 N^-2/3", cl.parisi_finite_n(n), "-.")):
        ax.axhline(val, ls=st, color="k" if st == "-." else "gray", label=name)
        rows.append(dict(n=n, source=name, p=np.nan, e=val))
    ax.set(xlabel="gain p", ylabel="e(sign x)", title=f"N = {n}", ylim=(-0.8, -0.3))
    ax.legend(frameon=False, fontsize=8)
save_figure(fig, pd.DataFrame(rows), figdir, "fig1_annealing")

n_big, T_slow, T_fast = max(ns), max(Ts), min(Ts)
e_slow = an[f"e_n{n_big}_T{T_slow:g}"][-1]
e_fast = an[f"e_n{n_big}_T{T_fast:g}"][-1]
div = bool(an[f"diverged_n{n_big}_T{T_slow:g}"].any())
claims.check("anneal_slow_energy", np.nanmean(e_slow), diverged=div)
claims.check("anneal_slow_beats_fast", int(np.sum(np.nanmean(e_slow, 1) < np.nanmean(e_fast, 1))),
             diverged=div or bool(an[f"diverged_n{n_big}_T{T_fast:g}"].any()))
claims.check("best_of_runs_vs_parisi", np.mean(np.nanmin(e_slow, 1) / cl.parisi_finite_n(n_big)), diverged=div)
claims.check("cim_beats_greedy", np.nanmean(e_slow) - an[f"greedy_n{n_big}"].mean(), diverged=div)
claims.table("fig1_annealing")

# %% [markdown]
# ## Fig. 2 — critical-point census for small N
# For each census gain: distinct critical points found (up to the global sign) by index,
# their energies per spin, and the Hessian spectra of the minima. The census is a lower
# bound where points are exponentially many (Chao1 estimate in Fig. 3). Below each
# instance's convexity threshold only the origin exists (flat); at $p-1 = 20\beta$ nearly
# every sign pattern has its own minimum (rigid). The CSV lists every point with its
# gradient norm and smallest Hessian eigenvalue.

# %%
cen = {n: load_npz(inputs[f"census_{n}"]) for n in census_n}
fig, axes = plt.subplots(1, 3, figsize=(15, 4))
rows = []
for n, c in cen.items():
    gains = c["gains"]
    for k in range(len(gains)):
        sel = c["pt_gain"] == k
        for i in np.unique(c["pt_instance"][sel]):
            pass
        for j in np.flatnonzero(sel):
            rows.append(dict(n=n, instance=int(c["pt_instance"][j]), p=gains[k], energy_per_spin=c["pt_energy"][j] / n,
                             index=int(c["pt_index"][j]), grad_norm=c["pt_grad_norm"][j], lam_min=c["pt_lam_min"][j],
                             identity_err=c["pt_identity_err"][j], index_fd=int(c["pt_index_fd"][j]),
                             hits=int(c["pt_hits"][j])))
df = pd.DataFrame(rows)
n_show = max(census_n)
c = cen[n_show]
I = c["n_found"].shape[0]
for lab, (lo, hi) in {"index 0 (minima)": (0, 0), "index 1": (1, 1), "index 2": (2, 2),
                      "index >= 3": (3, 10**6)}.items():
    cnt = [np.sum((c["pt_gain"] == k) & (c["pt_index"] >= lo) & (c["pt_index"] <= hi)) / I
           for k in range(len(c["gains"]))]
    axes[0].semilogy(c["gains"], np.where(np.array(cnt) > 0, cnt, np.nan), "o-", label=lab)  # zero counts not drawn
axes[0].axvline(np.mean(c["p_c"]), color="k", ls=":", label="mean p_c (convexity)")
axes[0].set(xlabel="gain p", ylabel="distinct points per instance", title=f"census, N = {n_show}")
axes[0].legend(frameon=False, fontsize=8)
sub = df[df.n == n_show]
sc = axes[1].scatter(sub.p + 0.05 * np.random.default_rng(0).standard_normal(len(sub)), sub.energy_per_spin,
                     c=np.minimum(sub["index"], 6), s=6, cmap="viridis")
plt.colorbar(sc, ax=axes[1], label="index (6 = >= 6)")
axes[1].set(xlabel="gain p", ylabel="E_p / N at critical points", title="energy levels by index")
for k in np.linspace(0, len(c["gains"]) - 1, 3).round().astype(int):
    ev = c["min_eigs"][c["min_eigs_gain"] == k].ravel()
    if len(ev):
        axes[2].hist(ev, bins=60, density=True, histtype="step", label=f"p = {c['gains'][k]:g}")
axes[2].set(xlabel="Hessian eigenvalue at minima", ylabel="density", title="Hessian spectra of minima")
axes[2].legend(frameon=False, fontsize=8)
save_figure(fig, df, figdir, "fig2_census")

all_c = list(cen.values())
claims.check("flat_only_origin", np.mean(np.concatenate([(x["flat_count"] == 1) & x["flat_origin"] for x in all_c])))
c_small = cen[min(census_n)]
claims.check("minima_growth", c_small["n_minima"][:, -1].mean() / max(c_small["n_minima"][:, 0].mean(), 1e-300))
claims.check("rigid_fraction", min(x["rigid_fraction"].min() for x in all_c))
claims.check("census_gradient", df.grad_norm.max())
claims.check("census_energy_identity", df.identity_err.max())
claims.check("census_minima_positive", df.lam_min[df["index"] == 0].min())
claims.check("census_index_fd", np.mean(df["index"] == df.index_fd))
claims.table("fig2_census")

# %% [markdown]
# ## Fig. 3 — annealed Kac-Rice complexity of our model vs the census
# Line: our annealed complexity $\Sigma(p) = \lim N^{-1}\ln \mathbb E\,\#\mathrm{crit}$
# (all indices), from the variational problem over the empirical law of the coordinates
# (derivation in the module docstring; solved on a grid with continuation from the rigid
# end). Right axis: fraction of negative Hessian eigenvalues of the dominant critical
# points. Markers: $N^{-1}\ln(2\times$ distinct points found$)$ (both signs) and the same
# with the Chao1 estimate of the unseen, per census N. Finite-N counts carry $O(\ln N/N)$
# prefactor corrections, and the annealed count bounds the typical one from above.

# %%
kr = load_npz(inputs["kac_rice"])
fig, ax = plt.subplots(figsize=(7, 4.5))
ax.plot(kr["p"], kr["sigma"], "k-", label="annealed Kac-Rice (ours)")
ax.axhline(np.log(3), color="gray", ls="--", lw=0.8, label="ln 3 (rigid, all critical points)")
ax.axhline(np.log(2), color="gray", ls=":", lw=0.8, label="ln 2 (rigid, minima)")
ax.axvline(1 - 2 * beta, color="k", ls=":", lw=0.8, label="N -> inf convexity threshold")
rows = [dict(source="kac_rice", n=np.inf, p=pp, sigma=s, index=ix)
        for pp, s, ix in zip(kr["p"], kr["sigma"], kr["index"])]
for n, c in cen.items():
    found = c["n_found"].mean(0)
    chao = c["chao1"].mean(0)
    ax.plot(c["gains"], np.log(2 * found) / n, "o", label=f"census N = {n}: found")
    ax.plot(c["gains"], np.log(2 * chao) / n, "^", mfc="none", label=f"census N = {n}: Chao1")
    rows += [dict(source="census_found", n=n, p=g, sigma=v, index=np.nan)
             for g, v in zip(c["gains"], np.log(2 * found) / n)]
    rows += [dict(source="census_chao1", n=n, p=g, sigma=v, index=np.nan)
             for g, v in zip(c["gains"], np.log(2 * chao) / n)]
ax2 = ax.twinx()
ax2.plot(kr["p"], kr["index"], "r--", lw=1)
ax2.set_ylabel("index fraction (dashed red)", color="r")
ax.set(xlabel="gain p", ylabel="complexity (1/N) ln count")
ax.legend(frameon=False, fontsize=7, loc="upper left")
save_figure(fig, pd.DataFrame(rows), figdir, "fig3_kac_rice")

claims.check("kac_rice_rigid", float(kr["sigma_rigid"]))
claims.check("kac_rice_flat", kr["sigma"][kr["p"] < 1 - 2 * beta].max() if np.any(kr["p"] < 1 - 2 * beta) else np.nan,
             **({} if np.any(kr["p"] < 1 - 2 * beta) else {"reason": "no Kac-Rice gain below threshold"}))
c_big = cen[max(census_n)]
sig_at = np.interp(c_big["gains"], kr["p"], kr["sigma"])
claims.check("kac_rice_vs_census", spearmanr(sig_at, np.log(2 * c_big["n_found"].mean(0))).statistic)
claims.table("fig3_kac_rice")

# %% [markdown]
# ## Fig. 4 — schedules: linear vs census-guided slow-down
# Left: the two gain schedules of equal duration (the slow window is where the census
# shows the number of minima growing fastest). Right: per-instance success rate (final
# $e(\mathrm{sign}\,x)$ within 1% of the exhaustive Gray-code ground state), linear vs slowed.

# %%
sc_ = load_npz(inputs["schedules"])
sn = [int(n) for n in sc_["n"]]
fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
rows = []
for n in sn:
    for name, st in (("linear", "-"), ("slowed", "--")):
        s = sc_[f"schedule_{name}_n{n}"]
        a1.plot(np.linspace(0, float(sc_["T"]), len(s)), s, st, label=f"{name}, N = {n}")
    a2.plot(sc_[f"success_linear_n{n}"], sc_[f"success_slowed_n{n}"], "o", label=f"N = {n}")
    for i, (l, s) in enumerate(zip(sc_[f"success_linear_n{n}"], sc_[f"success_slowed_n{n}"])):
        rows.append(dict(n=n, instance=i, success_linear=l, success_slowed=s, e0=sc_[f"e0_n{n}"][i],
                         mean_e_linear=np.nanmean(sc_[f"e_linear_n{n}"][i]),
                         mean_e_slowed=np.nanmean(sc_[f"e_slowed_n{n}"][i]),
                         window_lo=sc_[f"window_n{n}"][0], window_hi=sc_[f"window_n{n}"][1]))
a1.set(xlabel="time", ylabel="gain p", title="schedules")
a1.legend(frameon=False, fontsize=8)
a2.plot([0, 1], [0, 1], "k:", lw=0.8)
a2.set(xlabel="success rate, linear", ylabel="success rate, slowed", title="per instance",
       xlim=(-0.05, 1.05), ylim=(-0.05, 1.05))
a2.legend(frameon=False)
df4 = pd.DataFrame(rows)
save_figure(fig, df4, figdir, "fig4_schedules")
print(df4.groupby("n")[["success_linear", "success_slowed", "mean_e_linear", "mean_e_slowed", "e0"]].mean())
div4 = any(bool(sc_[f"diverged_{m}_n{n}"].any()) for n in sn for m in ("linear", "slowed"))
claims.check("schedule_success", df4.success_linear.mean(), diverged=div4)
claims.check("slowed_not_worse", df4.success_slowed.mean() - df4.success_linear.mean(), diverged=div4)
claims.table("fig4_schedules")

# %% [markdown]
# ## Fig. 5 — single-flip-stable states by exhaustive enumeration
# Markers: $N^{-1}\ln\#\{s: s_i(Js)_i \ge 0\ \forall i\}$ per instance (Gray-code scan of all
# $2^N$ states); line: the Bray-Moore / Tanaka-Edwards rate 0.1992 (recalled).

# %%
en = load_npz(inputs["enumerate"])
rate = np.log(en["n_stable"]) / en["n"][:, None]
fig, ax = plt.subplots(figsize=(6, 4))
for a, n in enumerate(en["n"]):
    ax.plot(np.full(rate.shape[1], n), rate[a], ".", color="gray")
ax.plot(en["n"], rate.mean(1), "ko-", label="instance mean")
ax.axhline(cl.BRAY_MOORE_RATE, color="r", ls="--", label="0.1992 (Bray-Moore)")
ax.set(xlabel="N", ylabel="(1/N) ln #stable", title="single-flip-stable SK states")
ax.legend(frameon=False)
df5 = pd.DataFrame([dict(n=int(n), instance=i, n_stable=int(en["n_stable"][a, i]), rate=rate[a, i], e0=en["e0"][a, i])
                    for a, n in enumerate(en["n"]) for i in range(rate.shape[1])])
save_figure(fig, df5, figdir, "fig5_enumeration")
sel = (en["n"] >= 16) & (en["n"] <= 20)
if not sel.any():  # quick scale: the sizes it runs
    sel = np.ones(len(en["n"]), bool)
claims.check("stable_states_rate",
             np.max(np.abs(np.log(en["n_stable"][sel]).mean(1) / en["n"][sel] - cl.BRAY_MOORE_RATE)))
claims.table("fig5_enumeration")

# %%
claims.write(claims_path)

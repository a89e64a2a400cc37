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
# # Optimal M-estimation in high dimensions
#
# M. Advani & S. Ganguli, *Statistical mechanics of optimal convex inference in high
# dimensions*, Phys. Rev. X 6, 031034 (2016), arXiv:1601.04650; and *An equivalence between
# high dimensional Bayes optimal inference and M-estimation*, NeurIPS 2016, arXiv:1609.07060.
# Unregularised equations in the form of El Karoui et al., PNAS 2013.
#
# Setup: $y = X s_0 + \epsilon$, $X$ of size $N\times P$ with i.i.d. $N(0, 1/P)$ entries,
# $\alpha = N/P$, error $q = |\hat s - s_0|^2/P$.
#
# **Theory** (rule `m_estimation_theory`): replica equations solved by 1-D quadrature of
# Gaussian-smoothed densities $p_q = p_\epsilon * N(0,q)$ and root finding (`spdl.studies.m_estimation`);
# nothing is sampled. LS: $q = \sigma^2/(\alpha-1)$; LAD: soft-threshold proximal map;
# optimal convex loss: $q\,I(q) = 1/\alpha$ with $I$ the Fisher information of $p_q$ and
# $\rho_{opt}(x) = -\min_y[\log p_q(y) + (x-y)^2/(2q)]$; regularised: square loss plus a
# separable regulariser (state equations in $(q, c)$), ridge in closed form, the optimal
# regularised estimator $q = \mathrm{mmse}_s(a)$, $a = (\sigma^2+q)/\alpha$.
#
# **Simulation** (rules `m_estimation_unregularised`, `m_estimation_regularised`): LS by
# `lstsq`, LAD by HiGHS on its dual linear program, the optimal loss by L-BFGS on its
# tabulated form (at the replica $q_{opt}$ of that $\alpha$), MAP = LASSO by batched FISTA
# to a KKT certificate, ridge in closed form.
#
# Our choices where the paper is silent: signal $s_0 \sim N(0,1)$ in the unregularised
# simulations (the error does not depend on it); Gaussian noise as the second noise
# density (a control where LS = ML = optimal); the smoothing of the optimal loss has
# variance $q$ (the author's code uses standard deviation $q$); the simulation of the
# *optimal regularised* estimator is not built (theory only).

# %% tags=["parameters"]
inputs = {}
cfg = {}
scale = "default"
figdir = "results/figures/m_estimation"
claims_path = "results/claims/m_estimation.json"
declarations = "workflow/claims/m_estimation.yaml"

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from spdl.claims import ClaimBook
from spdl.figures import save_figure, use_style
from spdl.io import load_npz

use_style()
claims = ClaimBook.declared("m_estimation", scale, declarations)
th = load_npz(inputs["theory"])
un = load_npz(inputs["unregularised"])
rg = load_npz(inputs["regularised"])


def summary(q):
    """Mean and standard error over the last axis (repeats), ignoring failed solves (NaN)."""
    n = np.sum(np.isfinite(q), axis=-1)
    return np.nanmean(q, axis=-1), np.nanstd(q, axis=-1, ddof=1) / np.sqrt(n)


def within(mean, se, theory):
    """The study's tolerance: |simulation - replica| <= 3 s.e. + 3 % of replica."""
    return np.abs(mean - theory) <= 3 * se + 0.03 * np.abs(theory)


def paired_t(d):
    """t-statistic of the mean of paired differences over repeats."""
    d = d[np.isfinite(d)]
    return np.mean(d) / (np.std(d, ddof=1) / np.sqrt(len(d)))

# %% [markdown]
# ## Fig. 1 — unregularised: LS, ML and the optimal M-estimator
# Error $q$ vs $\alpha$; lines: replica theory, markers: simulations (mean $\pm$ s.e.
# over repeats; the estimators see the same draws). Dotted: the efficiency limit
# $1/(\alpha J)$. Right: $q_{opt}/q_{LS}$, which tends to $1/(J\sigma^2) = 1/2$ for
# Laplace noise as $\alpha\to\infty$.

# %%
alpha, noises, sim_alpha = th["alpha"], list(th["noises"]), un["alphas"]
sim_noises = list(un["noises"])
est = {"ls": "LS", "lad": "LAD", "opt": "optimal"}
fig, axes = plt.subplots(1, len(noises) + 1, figsize=(4.6 * (len(noises) + 1), 4))
rows = []
for ax, noise in zip(axes, noises):
    for k, label in est.items():
        line, = ax.plot(alpha, th[f"{noise}_q_{k}"], ls="--" if k == "opt" else "-", label=f"{label} (theory)")
        rows += [dict(noise=noise, estimator=k, alpha=a, q=q, se=np.nan, source="theory")
                 for a, q in zip(alpha, th[f"{noise}_q_{k}"])]
        if noise in sim_noises:
            i = sim_noises.index(noise)
            m, se = summary(un[f"q_{k}"][i])
            ax.errorbar(sim_alpha, m, 3 * se, fmt="o", ms=4, capsize=2, color=line.get_color())
            rows += [dict(noise=noise, estimator=k, alpha=a, q=q, se=s, source="simulation")
                     for a, q, s in zip(sim_alpha, m, se)]
    ax.plot(alpha, th[f"{noise}_q_cr"], "k:", label=r"$1/(\alpha J)$")
    ax.set(xscale="log", yscale="log", xlabel=r"$\alpha = N/P$", ylabel="q", title=f"{noise} noise")
    ax.legend(fontsize=8)
ax = axes[-1]
for noise in noises:
    line, = ax.plot(alpha, th[f"{noise}_q_opt"] / th[f"{noise}_q_ls"], label=f"{noise}: theory")
    if noise in sim_noises:
        i = sim_noises.index(noise)
        ratio = un["q_opt"][i] / un["q_ls"][i]
        m, se = summary(ratio)
        ax.errorbar(sim_alpha, m, 3 * se, fmt="o", ms=4, capsize=2, color=line.get_color())
        rows += [dict(noise=noise, estimator="opt/ls", alpha=a, q=q, se=s, source="simulation")
                 for a, q, s in zip(sim_alpha, m, se)]
ax.axhline(0.5, color="k", ls=":", lw=1)
ax.set(xscale="log", xlabel=r"$\alpha$", ylabel=r"$q_{opt}/q_{LS}$", ylim=(0.4, 1.05), title="gain over LS")
ax.legend(fontsize=8)
fig.suptitle("error bars: 3 s.e. over repeats", fontsize=9)
save_figure(fig, pd.DataFrame(rows), figdir, "fig1_unregularised")
plt.show()

# %%
lap = "laplace"
claims.check("q_opt_alpha4", float(th[f"{lap}_check_q_opt"][list(sim_alpha).index(4.0)])
             if 4.0 in sim_alpha else np.nan, reason="" if 4.0 in sim_alpha else "alpha = 4 not in the grid")
claims.check("q_lad_alpha2", float(th[f"{lap}_check_q_lad"][list(sim_alpha).index(2.0)])
             if 2.0 in sim_alpha else np.nan, reason="" if 2.0 in sim_alpha else "alpha = 2 not in the grid")
claims.check("lad_ls_crossover", float(th["laplace_crossover"]))
claims.check("q_opt_below_ls_and_lad",
             np.max(th[f"{lap}_q_opt"] / np.minimum(th[f"{lap}_q_ls"], th[f"{lap}_q_lad"])))
claims.check("q_opt_above_efficiency_limit", np.min(th[f"{lap}_q_opt"] / th[f"{lap}_q_cr"]))
claims.check("ratio_opt_ls_alpha100", float(th["laplace_ratio_alpha100"]))
if "gaussian" in noises:
    claims.check("gaussian_noise_opt_is_ls", np.max(np.abs(th["gaussian_q_opt"] / th["gaussian_q_ls"] - 1)))
else:
    claims.check("gaussian_noise_opt_is_ls", None, reason="Gaussian noise not in the theory")

failed = {k: un[f"failed_{k}"] for k in est}
for k, cid in (("ls", "sim_ls_matches"), ("lad", "sim_lad_matches"), ("opt", "sim_opt_matches")):
    count, diverged = 0, False
    for i, noise in enumerate(sim_noises):
        if k == "opt" and noise != lap:
            continue  # for Gaussian noise the optimum is LS: checked separately below
        m, se = summary(un[f"q_{k}"][i])
        count += int(np.sum(within(m, se, th[f"{noise}_check_q_{k}"])))
        diverged |= bool(failed[k][i].any())
    claims.check(cid, count, diverged=diverged)
if "gaussian" in sim_noises:
    i = sim_noises.index("gaussian")
    claims.check("sim_gaussian_opt_equals_ls", np.max(np.abs(un["q_opt"][i] / un["q_ls"][i] - 1)),
                 diverged=bool(failed["opt"][i].any()))
else:
    claims.check("sim_gaussian_opt_equals_ls", None, reason="Gaussian noise not simulated")

i = sim_noises.index(lap)
for a, cid, pairs in ((2.0, "order_alpha2", (("ls", "opt"), ("lad", "ls"))),
                      (10.0, "order_alpha10", (("lad", "opt"), ("ls", "lad")))):
    if a not in sim_alpha:
        claims.check(cid, None, reason=f"alpha = {a:g} not simulated")
        continue
    j = list(sim_alpha).index(a)
    t = min(paired_t(un[f"q_{hi}"][i, j] - un[f"q_{lo}"][i, j]) for hi, lo in pairs)
    claims.check(cid, t, diverged=bool(failed["lad"][i, j].any() or failed["opt"][i, j].any()))
claims.table("fig1_unregularised")

# %% [markdown]
# ## Fig. 2 — the optimal loss interpolates between absolute and quadratic
# $\rho_{opt}$ for Laplace noise at several $q$ (theory only), against the ML loss
# $|x| + \log 2$. Small $q$ (large $\alpha$): close to the ML loss; large $q$: a rounded,
# quadratic-looking bowl near the origin with linear tails of slope 1. Right: $\rho_{opt}'$.
# With this sign convention the tails coincide with the ML loss (our derivation; the spec
# states $|x| + q/2$).

# %%
x, qs = th["loss_x"], th["loss_q"]
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
rows = []
for q, rho, drho in zip(qs, th["loss_rho"], th["loss_drho"]):
    ax1.plot(x, rho, label=f"q = {q:g}")
    ax2.plot(x, drho, label=f"q = {q:g}")
    rows += [dict(q=q, x=a, rho=r, drho=d) for a, r, d in zip(x, rho, drho)]
ax1.plot(x, np.abs(x) + np.log(2), "k--", label=r"ML: $|x| + \log 2$")
ax2.plot(x, np.sign(x), "k--", label="ML: sign(x)")
rows += [dict(q=0.0, x=a, rho=abs(a) + np.log(2), drho=np.sign(a)) for a in x]
ax1.set(xlabel="x", ylabel=r"$\rho_{opt}(x)$", title="optimal loss (Laplace noise)")
ax2.set(xlabel="x", ylabel=r"$\rho_{opt}'(x)$")
ax1.legend(fontsize=8)
save_figure(fig, pd.DataFrame(rows), figdir, "fig2_optimal_loss")
plt.show()

# %%
claims.check("rho_opt_convex", np.min(np.diff(th["loss_drho"], axis=1)))
claims.check("rho_opt_even", np.max(np.abs(th["loss_rho"] - th["loss_rho"][:, ::-1])))
claims.check("rho_opt_quadratic_at_zero", np.min(th["loss_curvature0"]))
claims.check("rho_opt_tail_slope", np.max(np.abs(th["loss_tail_slope"] - 1)))
claims.check("rho_opt_tail_offset", np.max(np.abs(th["loss_tail_offset"])))
gq = list(th["loss_gap_q"])
claims.check("rho_opt_to_ml_loss", float(th["loss_gap"][gq.index(1e-3)]))
print("sup |rho_opt - ML| at q =", gq, ":", np.round(th["loss_gap"], 4))
claims.table("fig2_optimal_loss")

# %% [markdown]
# ## Fig. 3 — regularised: MAP, ridge and the optimal regularised M-estimator
# Gaussian noise $N(0,1)$, Laplace(1) signal. Lines: replica theory for MAP (LASSO,
# $\lambda = 1$), ridge at $\lambda = 1$ and at the best $\lambda$, and the optimal
# regularised estimator (the replica-symmetric Bayes MMSE; theory only). Markers:
# simulations (mean $\pm$ 3 s.e.). Second panel: errors relative to the optimum (markers divided by
# the theory optimum). Third: the optimum's order parameters $(q, a)$.
# Right: data saving $1 - \alpha_{opt}/\alpha_{MAP}$ of the optimum relative to MAP at
# equal error.

# %%
ra = th["reg_alpha"]
curves = {"map": ("MAP (LASSO)", th["reg_q_map"]), "ridge": (r"ridge $\lambda$ = 1", th["reg_q_ridge"]),
          "ridge_best": (r"ridge, best $\lambda$", th["reg_q_ridge_best"]), "opt": ("optimal", th["reg_q_opt"])}
sims = {"map": rg["q_map"], "ridge": rg["q_ridge"], "ridge_best": rg["q_ridge_best"]}
fig, axes = plt.subplots(1, 4, figsize=(18, 4))
rows = []
q_opt_at_sim = th["reg_check_opt"]  # replica optimum at the simulated alphas
for key, (label, q) in curves.items():
    line, = axes[0].plot(ra, q, label=label)
    axes[1].plot(ra, q / th["reg_q_opt"], color=line.get_color())
    rows += [dict(panel="q", curve=key, alpha=a, value=v, se=np.nan, source="theory") for a, v in zip(ra, q)]
    if key in sims:
        m, se = summary(sims[key])
        axes[0].errorbar(rg["alphas"], m, 3 * se, fmt="o", ms=4, capsize=2, color=line.get_color())
        axes[1].errorbar(rg["alphas"], m / q_opt_at_sim, 3 * se / q_opt_at_sim, fmt="o", ms=4, capsize=2,
                         color=line.get_color())
        rows += [dict(panel="q", curve=key, alpha=a, value=v, se=s, source="simulation")
                 for a, v, s in zip(rg["alphas"], m, se)]
axes[1].set(xscale="log", xlabel=r"$\alpha$", ylabel=r"$q / q_{opt}$", title="relative to the optimum")
axes[0].set(xscale="log", yscale="log", xlabel=r"$\alpha = N/P$", ylabel="q", title="regularised estimators")
axes[0].legend(fontsize=8)
axes[2].plot(ra, th["reg_q_opt"], label="q")
axes[2].plot(ra, th["reg_a_opt"], label="a")
rows += [dict(panel="order_parameters", curve=k, alpha=a, value=v, se=np.nan, source="theory")
         for k in ("q", "a") for a, v in zip(ra, th[f"reg_{k}_opt"])]
axes[2].set(xscale="log", yscale="log", xlabel=r"$\alpha$", title="optimal estimator: (q, a)")
axes[2].legend(fontsize=8)
axes[3].plot(th["saving_alpha"], 100 * th["saving"], "o-")
rows += [dict(panel="saving", curve="opt_vs_map", alpha=a, value=v, se=np.nan, source="theory")
         for a, v in zip(th["saving_alpha"], th["saving"])]
axes[3].set_xscale("log")
axes[3].set_xticks(th["saving_alpha"], [f"{a:g}" for a in th["saving_alpha"]])
axes[3].minorticks_off()
axes[3].set(xlabel=r"$\alpha_{opt}$", ylabel="data saving vs MAP (%)", title="equal-error data saving")
save_figure(fig, pd.DataFrame(rows), figdir, "fig3_regularised")
plt.show()

# %%
rca = list(th["reg_check_alpha"])
claims.check("q_map_alpha2", float(th["reg_check_map"][rca.index(2.0)]) if 2.0 in rca else None,
             reason="" if 2.0 in rca else "alpha = 2 not simulated")
claims.check("ridge_closed_form_equals_general",
             np.max(np.abs(th["ridge_check_general"] / th["ridge_check_closed"] - 1)))
claims.check("reg_opt_below_map_and_ridge",
             np.max(th["reg_q_opt"] / np.minimum(th["reg_q_map"], th["reg_q_ridge_best"])))
claims.check("map_ridge_crossing", float(th["map_ridge_crossing"]))
sa = list(th["saving_alpha"])
for a, cid in ((0.5, "data_saving_alpha_half"), (2.0, "data_saving_alpha_2")):
    claims.check(cid, float(th["saving"][sa.index(a)]) if a in sa else None,
                 reason="" if a in sa else f"alpha = {a:g} not in saving_alphas")
m, se = summary(rg["q_map"])
claims.check("sim_map_matches", int(np.sum(within(m, se, th["reg_check_map"]))), diverged=bool(rg["failed_map"].any()))
count = 0
for key, ref in (("q_ridge", "reg_check_ridge"), ("q_ridge_best", "reg_check_ridge_best")):
    m, se = summary(rg[key])
    count += int(np.sum(within(m, se, th[ref])))
claims.check("sim_ridge_matches", count)
claims.check("sim_lasso_certified", int(rg["failed_map"].sum()))
print("MAP sim vs theory:", np.round(summary(rg["q_map"])[0], 4), np.round(th["reg_check_map"], 4))
claims.table("fig3_regularised")

# %%
claims.write(claims_path)

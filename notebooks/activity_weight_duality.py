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
# # Activity-weight duality: two co-determinants of generalization
#
# Y. Feng, W. Zhang & Y. Tu, *Activity-weight duality in feed-forward neural networks reveals two
# co-determinants for generalization*, Nat. Mach. Intell. 5, 908 (2023); the authors' demo
# (GitHub `YuFengDuke/A-W-Duality-Project`), arXiv:2203.10736.
# The networks are trained and analysed in the rules `activity_weight_duality_*`
# (`spdl.studies.activity_weight_duality`); this notebook only loads, plots and checks claims.
#
# **Setup** (the demo's, [design] where marked): 784-H-H-10 ReLU network without biases,
# nn.Linear's default init times $s$, SGD (lr 0.1, batch 25) on the cross-entropy until the
# correct-train accuracy averaged over the last 9 epochs exceeds 0.99 and the correct-train loss is
# below the stop level (or the epoch cap). One hyperparameter is swept at a time around the base
# setting; the norm penalty $\beta\|\theta\|_2$ acts in the first epochs only; dropout follows the
# first hidden layer. [design] The embedded MNIST subset has 400 training images per class: the batch
# sweep runs on all of them (the demo's 400 per class), the other sweeps around a base of 200 per
# class (room for the mislabeled extras, which come from the rest); the default scale trims the
# demo's sweeps where a network cannot fit within the 1000-epoch cap (lr 0.005, init scale 7), drops
# two label-noise values for time (rho 0.13, 0.167: each a job of its own) and trains 3 networks per
# setting (the demo: 10, our paper scale, which runs every value of the demo). Every seed shares its initial
# directions, minibatch order and wrong labels across settings (paired comparisons). A network that
# stops at the epoch cap is recorded as unfitted; a claim that needs it fails, saying so.
#
# **Analysis** of the hidden-to-hidden layer $W$ ($H^2$ weights), whose input activity is
# $a = \mathrm{relu}(W_1x)$. Each test sample $x'_k$ is paired with its nearest training sample $x_k$
# of the same label; the dual weight change $\delta W_k = (W\,\delta a_k)\,a_k^T/|a_k|^2$ absorbs the
# activity change, so $l(x'_k, W) = l(x_k, W+\delta W_k)$. With
# $\Delta l_k = l(x_k, W+\delta W_k) - l(x_k, W)$, $g_k = \Delta l_k\,\delta W_k/|\delta W_k|^2$ (the
# demo's finite difference along $\delta W_k$), projections $\theta_{k,n} = \delta W_k\cdot v_n$ and
# $g_{k,n} = g_k \cdot v_n$ on the eigenvectors $v_n$ of the exact training-loss Hessian (eigenvalue
# $\lambda_n$, decreasing in $n$):
# $$\Delta L \equiv \langle \Delta l_k\rangle_k
# = \sum_n \left(\mu_{g,n}\mu_{w,n} + c_n\sigma_{g,n}\sigma_{w,n}\right).$$
# With a complete eigenbasis this is an identity (population statistics over $k$); what is
# measured is how the sum splits over directions and factors, and how $\Delta L$ (paired training
# losses) compares with the generalization gap $L_{test} - L_{train}$ (whole training set).
#
# A network that diverged (recorded per member by the rules: non-finite loss or weights) has no
# analysis: it is left out of every curve and number, the figures say how many diverged, and a claim
# that depends on one fails with status *diverged* in the scorecard.

# %% tags=["parameters"]
inputs = {}
figdir = "results/figures/activity_weight_duality"
claims_path = "results/claims/activity_weight_duality.json"
declarations = "workflow/claims/activity_weight_duality.yaml"
scale = "default"
cfg = {}  # this notebook reads no config: every fact comes from the results files

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from spdl.studies import activity_weight_duality as awd
from spdl.claims import ClaimBook
from spdl.figures import save_figure, use_style
from spdl.io import load_npz

use_style()
claims = ClaimBook.declared("activity_weight_duality", scale, declarations)
SYMBOL = {"batch_size": "$B$", "lr": "learning rate", "init_scale": "init scale $s$", "dropout": "dropout $d$",
          "norm_penalty": r"norm penalty $\beta$", "rho": r"mislabel fraction $\rho$",
          "n_per_class": "training samples per class"}
SHORT = {"batch_size": "$B$", "lr": "lr", "init_scale": "$s$", "dropout": "$d$", "norm_penalty": r"$\beta$",
         "rho": r"$\rho$", "n_per_class": "$n$/class"}
jobs = {k: load_npz(v) for k, v in inputs.items() if k.startswith("job_")}
multi = load_npz(inputs["multilearner"])
SCALARS = ["epochs", "final_loss", "fitted", "diverged", "train_loss", "test_loss", "gap", "estimate", "sigma_part",
           "mean_part", "sharp_part", "sigma_g_total", "sigma_w_total", "test_acc", "weight_norm"]
runs = pd.concat([pd.DataFrame({"setting": d["setting"], "seed": d["seed"], "job": j,
                                **{k: d[k] for k in SCALARS}}) for j, d in jobs.items()], ignore_index=True)
vectors = {k: np.concatenate([d[k] for d in jobs.values()]) for k in ("eig", "sigma_g", "sigma_w", "c", "mean_term",
                                                                       "sigma_term")}
# every job records its members' settings: hyperparameters, the base flag and the position in each sweep (-1: not in it)
settings = {}
for d in jobs.values():
    for e, name in enumerate(d["setting"].tolist()):
        settings.setdefault(name, dict({hp: d[f"hp_{hp}"][e].item() for hp in awd.HYPERPARAMETERS}, name=name,
                                       base=bool(d["is_base"][e]),
                                       sweeps={hp: int(d[f"sweep_{hp}"][e]) for hp in awd.HYPERPARAMETERS
                                               if d[f"sweep_{hp}"][e] >= 0}))
base = next((name for name, s in settings.items() if s["base"]), None)


def sweep_members(hp):
    """Setting names of the sweep over hyperparameter hp, in the order of its values."""
    return sorted((name for name, s in settings.items() if hp in s["sweeps"]), key=lambda n: settings[n]["sweeps"][hp])


job0 = next(iter(jobs.values()))
ok = ~runs.diverged.to_numpy()
N_DIV = int(runs.diverged.sum())
DIV_ALL = bool(N_DIV)  # claims over the networks of every setting


def note_diverged(ax, n_div, n, what="networks"):
    """Say in the panel how many of its networks diverged (they are not in it)."""
    if n_div:
        ax.text(0.02, 0.98, f"{n_div} of {n} {what} diverged (not shown)", transform=ax.transAxes, color="C3",
                fontsize=8, va="top", bbox=dict(facecolor="white", alpha=0.85, lw=0), zorder=10)


def div_sweep(hp):
    """Whether a network of the first or last setting of sweep hp diverged (the paired claims use those)."""
    names = sweep_members(hp)
    return bool(runs[runs.setting.isin([names[0], names[-1]])].diverged.any())


def or_note(data, n_div, n):
    """The data of a figure; when every network it would show diverged, one row saying so."""
    return data if len(data) else pd.DataFrame({"note": [f"all {n} networks diverged"], "n_diverged": [n_div]})

def usable(frame):
    """Networks that neither diverged nor stopped unfitted at the epoch cap."""
    return frame.fitted.astype(bool) & ~frame.diverged.astype(bool)


def end_pairs(hp, key):
    """Per seed, key at the first and last value of sweep hp (columns first, last, ok), plus whether a network
    at either end diverged and the reason to fail (networks at either end that stopped unfitted)."""
    names = sweep_members(hp)
    sides = [runs[runs.setting == nm].set_index("seed") for nm in (names[0], names[-1])]
    seeds = sides[0].index.intersection(sides[1].index)
    df = pd.DataFrame({"first": sides[0].loc[seeds, key], "last": sides[1].loc[seeds, key],
                       "ok": usable(sides[0].loc[seeds]) & usable(sides[1].loc[seeds])})
    div = bool(sides[0].diverged.any() or sides[1].diverged.any())
    unfit = [f"{nm} seed {sd}" for nm, side in zip((names[0], names[-1]), sides)
             for sd in side.index[~side.fitted.astype(bool) & ~side.diverged.astype(bool)]]
    return df, div, (f"unfitted at the {int(job0['stop_max_epochs'])}-epoch cap: " + ", ".join(unfit)) if unfit else ""


def sign_count(hp, key, sign):
    """Seeds (usable at both ends) whose key moves with the given sign (+1: last > first) over sweep hp."""
    df, div, why = end_pairs(hp, key)
    d = df[df.ok]
    return int((np.sign(d["last"] - d["first"]) == sign).sum()), div, why


print(f"scale {scale}: {len(settings)} settings x {int(job0['seeds'])} seeds = {len(runs)} networks; "
      f"{int(runs.diverged.sum())} diverged, {int((~runs.fitted & ~runs.diverged).sum())} stopped at the epoch cap "
      f"({int(job0['stop_max_epochs'])}) before the fit criterion")
runs.groupby("setting")[["epochs", "final_loss", "test_acc", "gap", "estimate"]].mean().round(4)

# %% [markdown]
# ## Fig. 1 — the duality is exact
# $|l(x'_k, W) - l(x_k, W + \delta W_k)|$ over every test/train pair of every trained network
# (float64), and relative to the loss.
#
# **Claim** (spec: "exact to floating-point precision"): the largest absolute difference over all
# pairs and networks is at most $10^{-10}$. The identity is algebraic; float64 rounding of the
# two forward passes gives $\sim 10^{-14}$, while a wrong $\delta W$ would give differences of the
# order of the losses themselves ($10^{-3}$–$1$). The band allows $10^{4}\times$ the expected rounding.

# %%
abs_err = np.concatenate([d["dual_abs_err"][~d["diverged"]].ravel() for d in jobs.values()])
rel_err = np.concatenate([d["dual_rel_err"][~d["diverged"]].ravel() for d in jobs.values()])
n_dead = int(np.isnan(abs_err).sum())  # training partners without an active unit: no dual weights
abs_err, rel_err = abs_err[~np.isnan(abs_err)], rel_err[~np.isnan(rel_err)]
print(f"{len(abs_err)} pairs with dual weights, {n_dead} without (partner with no active unit)")
fig, ax = plt.subplots(figsize=(5.5, 3.6))
tiny = 1e-18
bins = np.logspace(-18, -8, 61)
ax.hist(np.maximum(abs_err, tiny), bins=bins, alpha=0.7, label="absolute")
ax.hist(np.maximum(rel_err, tiny), bins=bins, alpha=0.5, label="relative to $l(x'_k, W)$")
ax.axvline(np.finfo(np.float64).eps, color="k", ls=":", lw=1)
ax.text(np.finfo(np.float64).eps, ax.get_ylim()[1] * 0.9, " float64 eps", fontsize=8)
ax.set(xscale="log", xlabel=r"$|l(x', W) - l(x, W + \delta W)|$ (zeros at $10^{-18}$)", ylabel="pairs")
ax.legend(frameon=False)
note_diverged(ax, N_DIV, len(runs))
save_figure(fig, or_note(pd.DataFrame({"abs_err": abs_err, "rel_err": rel_err}), N_DIV, len(runs)), figdir,
            "fig1_duality_exactness")
claims.check("duality_exact", abs_err.max() if len(abs_err) else None, diverged=DIV_ALL,
             reason="" if len(abs_err) else "no network to analyse")
claims.table("fig1_duality_exactness")

# %% [markdown]
# ## Fig. 2 — $\sigma_{g,n}$ follows the sharpness $\lambda_n$
# Base setting, mean over seeds: $\sigma_{g,n}$ and the Hessian eigenvalue $\lambda_n$ against the
# eigen-index $n$, and $\sigma_{g,n}$ against $\lambda_n$.
#
# **Claim** (abstract: $\sigma_g$ is the sharpness factor): the Spearman rank correlation between
# $\sigma_{g,n}$ and $\lambda_n$ over the directions with $\lambda_n > 10^{-6}\lambda_1$, median
# over the networks of all settings, is at least 0.5 [design: a clearly monotone association; the
# paper gives no number].

# %%
def direction_rows(mask, keys=("eig", "sigma_g", "sigma_w", "c")):
    """Mean over the selected networks of per-direction arrays, as a tidy frame."""
    return pd.DataFrame({"n": np.arange(1, vectors["eig"].shape[1] + 1),
                         **{k: np.nanmean(vectors[k][mask], 0) for k in keys}})


is_base = (runs.setting == base).to_numpy() & ok
dirs = direction_rows(is_base)
rho_s = []
for e in np.flatnonzero(ok):
    lam, sg = vectors["eig"][e], vectors["sigma_g"][e]
    keep = lam > 1e-6 * lam[0]
    rho_s.append(pd.Series(sg[keep]).rank().corr(pd.Series(lam[keep]).rank()))
fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
ax = axes[0]
ax.plot(dirs.n, dirs.sigma_g / dirs.sigma_g.iloc[0], label=r"$\sigma_{g,n} / \sigma_{g,1}$")
ax.plot(dirs.n, np.clip(dirs.eig / dirs.eig.iloc[0], 1e-12, None), label=r"$\lambda_n / \lambda_1$")
ax.set(xscale="log", yscale="log", xlabel="eigen-direction $n$ (decreasing $\\lambda_n$)", ylabel="relative to $n = 1$")
ax.legend(frameon=False, loc="lower left")
ax = axes[1]
keep = dirs.eig > 1e-6 * dirs.eig.iloc[0]
ax.loglog(dirs.eig[keep], dirs.sigma_g[keep], ".", ms=3)
ax.set(xlabel=r"$\lambda_n$", ylabel=r"$\sigma_{g,n}$", title=f"median Spearman over networks {np.median(rho_s):.2f}")
note_diverged(axes[0], N_DIV, len(runs))
save_figure(fig, dirs.assign(n_base=int(is_base.sum()), n_diverged=N_DIV), figdir, "fig2_sharpness")
claims.check("sigma_g_tracks_sharpness", np.median(rho_s) if rho_s else None, diverged=DIV_ALL,
             reason="" if rho_s else "no network to analyse")
claims.table("fig2_sharpness")

# %% [markdown]
# ## Fig. 3 — the size factor $\sigma_{w,n}$
# Cumulative $\sum_{m\le n}\sigma_{w,m}^2$ (left; its end is $\sigma_w^2$, the size factor of Fig. 7) and
# $\sigma_{w,n}$ (right)
# for the init-scale and norm-penalty sweeps (means over seeds), which change the size of the
# solution. No claim here; the size claims are in Fig. 7.

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
data = []
for hp, ls in (("init_scale", "-"), ("norm_penalty", "--")):
    names = sweep_members(hp)
    for i, name in enumerate(names):
        d = direction_rows(((runs.setting == name).to_numpy() & ok), keys=("sigma_w",))
        cum = np.cumsum(d.sigma_w ** 2)
        label = f"{SYMBOL[hp]} = {settings[name][hp]:g}"
        color = plt.cm.viridis(i / max(1, len(names) - 1))
        axes[0].plot(d.n, cum, ls=ls, color=color, label=label)
        axes[1].plot(d.n, d.sigma_w, ls=ls, color=color)
        n_div = int(runs[runs.setting == name].diverged.sum())
        data += [dict(sweep=hp, value=settings[name][hp], n=n, sigma_w=s, cumulative=c, n_diverged=n_div)
                 for n, s, c in zip(d.n, d.sigma_w, cum)]
axes[0].set(xscale="log", xlabel="$n$", ylabel=r"$\sum_{m \leq n}\sigma_{w,m}^2$")
axes[1].set(xscale="log", yscale="log", xlabel="$n$", ylabel=r"$\sigma_{w,n}$")
axes[0].legend(frameon=False, fontsize=7, ncol=2)
note_diverged(axes[1], int(pd.DataFrame(data).drop_duplicates(["sweep", "value"]).n_diverged.sum()),
              sum(len(runs[runs.setting == nm]) for hp in ("init_scale", "norm_penalty") for nm in sweep_members(hp)))
save_figure(fig, pd.DataFrame(data), figdir, "fig3_size")

# %% [markdown]
# ## Fig. 4 — the correlation $c_n$ is roughly flat and the means are negligible
# Base setting: $c_n$ (mean $\pm$ sd over seeds) against $n$.
#
# **Claims.** (i) $c_n$ roughly independent of $n$: the mean of $c_n$ over the 10 sharpest
# directions divided by its mean over directions 11–100, median over networks, lies in [0.5, 2]
# [design: "roughly flat" as within a factor 2]. (ii) Means negligible: $|\sum_n\mu_{g,n}\mu_{w,n}|
# / |\sum_n c_n\sigma_{g,n}\sigma_{w,n}|$, median over networks, at most 0.1 [design: "negligible" as
# under 10 %].

# %%
c_all = vectors["c"][is_base]
fig, ax = plt.subplots(figsize=(5.5, 3.6))
n = np.arange(1, c_all.shape[1] + 1)
ax.plot(n, c_all.mean(0), lw=1)
ax.fill_between(n, c_all.mean(0) - c_all.std(0), c_all.mean(0) + c_all.std(0), alpha=0.3)
ax.axhline(0, color="k", lw=0.5)
ax.set(xscale="log", xlabel="eigen-direction $n$", ylabel="$c_n$", ylim=(-0.2, 1))
note_diverged(ax, N_DIV, len(runs))
save_figure(fig, pd.DataFrame({"n": n, "c_mean": c_all.mean(0), "c_sd": c_all.std(0), "n_base": len(c_all),
                               "n_diverged": N_DIV}), figdir, "fig4_correlation")
flat = np.nanmedian(vectors["c"][ok, :10].mean(1) / vectors["c"][ok, 10:100].mean(1)) if ok.any() else np.nan
claims.check("c_n_roughly_flat", flat, diverged=DIV_ALL)
means = np.median(np.abs(runs.mean_part[ok]) / np.abs(runs.sigma_part[ok])) if ok.any() else np.nan
claims.check("means_negligible", means, diverged=DIV_ALL)
claims.table("fig4_correlation")

# %% [markdown]
# ## Fig. 5 — the estimate tracks the generalization gap
# (a) $\sum_n (\mu_{g,n}\mu_{w,n} + c_n\sigma_{g,n}\sigma_{w,n})$ against the measured
# $L_{test} - L_{train}$ for every network (small points) and setting means (large), colored by
# sweep. (b) The decomposition with one constant $c$: $\hat c\sum_n\sigma_{g,n}\sigma_{w,n}$, $\hat c$ the
# median of gap / $\sum_n\sigma_{g,n}\sigma_{w,n}$ over the base networks. (c) The sharp part alone.
#
# **Code checks** (the first two claims): the full sum equals $\langle\Delta l_k\rangle_k$ by
# construction (complete eigenbasis), so the correlation (at least 0.9) and the median ratio (in
# [0.8, 1.25]) test the pairing, the dual weights and the eigenbasis, not the theory: they differ
# from one only through the paired versus whole-set training loss.
#
# **Tests of the decomposition** (declared in advance): with one $c$ for every direction and setting,
# $\sum_n\sigma_g\sigma_w$ must follow the gap across settings (Pearson $r \ge 0.8$ over setting means)
# and a $\hat c$ calibrated on the base must predict the other settings' gaps within a factor 1.5
# (median ratio); the sharp part alone must follow the gap ($r \ge 0.8$). Only networks that reached
# the fit criterion enter (b), (c) and these claims.

# %%
sweep_of = {}
for hp in awd.HYPERPARAMETERS:
    for name in sweep_members(hp):
        sweep_of.setdefault(name, hp if name != base else "base")
runs["sweep"] = runs.setting.map(sweep_of)
runs["S"] = (vectors["sigma_g"] * vectors["sigma_w"]).sum(1)  # sum_n sigma_g,n sigma_w,n (NaN if diverged)
fit_ok = usable(runs).to_numpy()
N_UNFIT = int((~runs.fitted.astype(bool) & ~runs.diverged).sum())
means_by_setting = runs[ok].groupby("setting")[["gap", "estimate"]].mean()
fitted_means = runs[fit_ok].groupby("setting")[["gap", "S", "sharp_part"]].mean()
base_fit = runs[fit_ok & (runs.setting == base).to_numpy()]
c_hat = float(np.median(base_fit.gap / base_fit.S)) if len(base_fit) else np.nan
others = runs[fit_ok & (runs.setting != base).to_numpy()]
r_fixed = awd.correlation(fitted_means.gap, fitted_means.S)
ratio_fixed = float(np.median(c_hat * others.S / others.gap)) if len(others) else np.nan
r_sharp = awd.correlation(fitted_means.gap, fitted_means.sharp_part)
fig, axes = plt.subplots(1, 3, figsize=(13.5, 4.4))
ax = axes[0]
for i, (hp, grp) in enumerate(runs[ok].groupby("sweep")):
    ax.plot(grp.gap, grp.estimate, ".", ms=3, color=f"C{i}", alpha=0.5)
    m = grp.groupby("setting")[["gap", "estimate"]].mean()
    ax.plot(m.gap, m.estimate, "o", color=f"C{i}", label=hp)
lim = [runs[ok][["gap", "estimate"]].min().min() * 0.95, runs[ok][["gap", "estimate"]].max().max() * 1.05]
ax.plot(lim, lim, "k:", lw=1)
r_corr = awd.correlation(means_by_setting.gap, means_by_setting.estimate)
ratio = np.median(runs.estimate[ok] / runs.gap[ok])
ax.set(xlabel=r"measured gap $L_{test} - L_{train}$", ylabel=r"$\sum_n(\mu\mu + c\sigma\sigma)$ (identity)",
       title=f"(a) code check: r = {r_corr:.3f}, median ratio {ratio:.3f}")
ax.legend(frameon=False, fontsize=7)
note_diverged(ax, N_DIV, len(runs))
for ax, key, scale_by, title in ((axes[1], "S", c_hat, f"(b) one constant c = {c_hat:.3g}: r = {r_fixed:.3f}, "
                                  f"ratio {ratio_fixed:.3f}"),
                                 (axes[2], "sharp_part", 1.0, f"(c) sharp part alone: r = {r_sharp:.3f}")):
    for i, (hp, grp) in enumerate(runs[fit_ok].groupby("sweep")):
        m = grp.groupby("setting")[["gap", key]].mean()
        ax.plot(m.gap, scale_by * m[key], "o", color=f"C{i}", label=hp)
    ax.plot(lim, lim, "k:", lw=1)
    ax.set(xlabel=r"measured gap (setting mean, fitted networks)", title=title)
    if N_UNFIT:
        ax.text(0.02, 0.98, f"{N_UNFIT} unfitted networks left out", transform=ax.transAxes, fontsize=8, va="top")
axes[1].set_ylabel(r"$\hat c\,\sum_n\sigma_{g,n}\sigma_{w,n}$")
axes[2].set_ylabel(r"$\sum_{n\,\in\,\mathrm{top}} c_n\sigma_{g,n}\sigma_{w,n}$")
save_figure(fig, runs[["setting", "seed", "sweep", "gap", "estimate", "S", "sharp_part", "fitted", "diverged"]]
            .assign(c_hat=c_hat), figdir, "fig5_gap_estimate")
claims.check("estimate_tracks_gap_correlation", r_corr, diverged=DIV_ALL)
claims.check("estimate_tracks_gap_ratio", ratio, diverged=DIV_ALL)
FEW = "" if len(fitted_means) > 2 else "fewer than 3 fitted settings"
claims.check("fixed_c_estimate_tracks_gap", r_fixed, reason=FEW)
claims.check("fixed_c_estimate_ratio", ratio_fixed,
             reason="" if len(base_fit) and len(others) else "no fitted network in the base or in the other settings")
claims.check("sharp_part_tracks_gap", r_sharp, reason=FEW)
claims.table("fig5_gap_estimate")

# %% [markdown]
# ## Fig. 6 — gap, sharp part and flat part against each hyperparameter
# $\Delta L = \sum_n c_n\sigma_{g,n}\sigma_{w,n}$ (the demo's total), its sharp part (the
# `sharp_directions` directions with the largest $\sigma_g$) and flat part; mean $\pm$ sd over seeds.
#
# The last panel: the measured gap against the batch size on 400 per class (the demo's data size;
# mean $\pm$ sd over seeds, every network trained to the fit criterion) beside the authors' demo run.
#
# **Claims.** (i) Sharp directions carry most of $\Delta L$: sharp part / $\Delta L$, median over
# networks, at least 0.5 (spec: "most"). (ii) Larger batch gives a larger gap: the number of seeds
# whose gap at the largest batch exceeds the gap at $B = 25$ (paired), all of them. (iii) The gap
# against $B$ matches the authors' demo (0.400, 0.508, 0.539, 0.571 at $B$ = 25, 100, 200, 400)
# within $\pm 20\,\%$ at 3 of the 4 batch sizes. A network that stopped unfitted at the epoch cap
# makes (ii) and (iii) fail, saying so.

# %%
runs["flat_part"] = runs.sigma_part - runs.sharp_part
fig, axes = plt.subplots(2, 4, figsize=(15, 7))
data = []
for ax, hp in zip(axes.flat, awd.HYPERPARAMETERS):
    names = sweep_members(hp)
    x = np.array([settings[nm][hp] for nm in names], dtype=float)
    for key, label in (("sigma_part", r"$\Delta L$"), ("sharp_part", "sharp"), ("flat_part", "flat")):
        vals = [runs[ok & (runs.setting == nm).to_numpy()][key] for nm in names]
        ax.errorbar(x, [v.mean() for v in vals], yerr=[v.std(ddof=1) if len(v) > 1 else 0 for v in vals],
                    marker="o", capsize=3, label=label)
        data += [dict(sweep=hp, value=xv, part=key, mean=v.mean(), sd=v.std(ddof=1),
                      n_diverged=int(runs[runs.setting == nm].diverged.sum())) for xv, v, nm in zip(x, vals, names)]
    note_diverged(ax, int(runs[runs.setting.isin(names)].diverged.sum()), int(runs.setting.isin(names).sum()))
    if hp in ("lr", "batch_size", "n_per_class"):
        ax.set_xscale("log")
        ax.set_xticks(x, [f"{v:g}" for v in x])
        ax.minorticks_off()
    ax.set(xlabel=SYMBOL[hp])
axes.flat[0].set_ylabel(r"$\Delta L$")
axes.flat[4].set_ylabel(r"$\Delta L$")
axes.flat[0].legend(frameon=False)
DEMO_GAP = {25: 0.400, 100: 0.508, 200: 0.539, 400: 0.571}  # the authors' demo run (400 per class, full MNIST)
ax = axes.flat[-1]
b_names = sweep_members("batch_size")
b_runs = runs[runs.setting.isin(b_names)]
b_fit = b_runs[usable(b_runs)]
b_x = np.array([settings[nm]["batch_size"] for nm in b_names], dtype=float)
b_mean = np.array([b_fit[b_fit.setting == nm].gap.mean() for nm in b_names])
b_sd = np.array([b_fit[b_fit.setting == nm].gap.std(ddof=1) if (b_fit.setting == nm).sum() > 1 else 0.0
                 for nm in b_names])
ax.errorbar(b_x, b_mean, yerr=b_sd, marker="o", capsize=3,
            label=f"ours ({int(settings[b_names[0]]['n_per_class'])} per class)")
demo_b = [b for b in b_x if b in DEMO_GAP]
ax.plot(demo_b, [DEMO_GAP[b] for b in demo_b], "s--", color="k", mfc="none", label="authors' demo")
ax.set_xscale("log")
ax.set_xticks(b_x, [f"{v:g}" for v in b_x])
ax.minorticks_off()
ax.set(xlabel="$B$", ylabel="measured gap")
fig.subplots_adjust(wspace=0.35, hspace=0.3)
ax.legend(frameon=False, fontsize=8)
b_unfit = b_runs[~b_runs.fitted.astype(bool) & ~b_runs.diverged.astype(bool)]
if len(b_unfit):
    ax.text(0.02, 0.98, f"{len(b_unfit)} unfitted (not shown)", transform=ax.transAxes, color="C3", fontsize=8,
            va="top")
note_diverged(ax, int(b_runs.diverged.sum()), len(b_runs))
data += [dict(sweep="batch_size", value=b, part="measured_gap", mean=m, sd=sd, demo=DEMO_GAP.get(int(b), np.nan),
              n_fitted=int((b_fit.setting == nm).sum()), n_unfitted=int((b_unfit.setting == nm).sum()),
              n_diverged=int(b_runs[b_runs.setting == nm].diverged.sum()))
         for b, m, sd, nm in zip(b_x, b_mean, b_sd, b_names)]
save_figure(fig, pd.DataFrame(data), figdir, "fig6_hyperparameters")
print(pd.DataFrame({"B": b_x, "gap_mean": b_mean, "gap_sd": b_sd, "demo": [DEMO_GAP.get(int(b)) for b in b_x]}))


def paired(hp, key):
    """Per seed, key at the last value of sweep hp and at the first (aligned on seed)."""
    names = sweep_members(hp)
    first = runs[ok & (runs.setting == names[0]).to_numpy()].set_index("seed")[key]
    last = runs[ok & (runs.setting == names[-1]).to_numpy()].set_index("seed")[key]
    both = first.index.intersection(last.index)
    return first[both].to_numpy(), last[both].to_numpy()


sharp_share = np.median(runs.sharp_part[ok] / runs.sigma_part[ok]) if ok.any() else np.nan
claims.check("sharp_directions_dominate", sharp_share, diverged=DIV_ALL)
n_sign, div, why = sign_count("batch_size", "gap", +1)
claims.check("larger_batch_larger_gap", n_sign, diverged=div, reason=why)
n_match = sum(abs(m / DEMO_GAP[int(b)] - 1) <= 0.2 for b, m in zip(b_x, b_mean) if int(b) in DEMO_GAP)
why_b = (f"unfitted at the {int(job0['stop_max_epochs'])}-epoch cap: "
         + ", ".join(f"{r.setting} seed {r.seed}" for r in b_unfit.itertuples())) if len(b_unfit) else ""
claims.check("gap_vs_batch_matches_demo", n_match, diverged=bool(b_runs.diverged.any()), reason=why_b)
claims.table("fig6_hyperparameters")

# %% [markdown]
# ## Fig. 7 — which factor each hyperparameter moves
# For each sweep, $\ln$ of (last value / first value), mean over seeds (paired), of the sharpness
# factor $\sigma_g = (\sum_n\sigma_{g,n}^2)^{1/2}$, the size factor
# $\sigma_w = (\sum_n\sigma_{w,n}^2)^{1/2}$ (both basis-free: the total spread of $g_k$ and of
# $\delta W_k$) and of $\Delta L$.
#
# **Claims** (abstract, spec), each a count of seeds (paired: the same seed at both ends of a sweep,
# both networks fitted) that show it, all of them at the default scale's 3 seeds (a fair coin: 1/8):
# batch size and learning rate act mainly through $\sigma_g$ ($|\Delta\ln\sigma_g| >
# |\Delta\ln\sigma_w|$ per seed), the norm penalty and the init scale mainly through $\sigma_w$;
# and the signs: larger batch sharper, larger lr flatter with a smaller gap, larger $\beta$ smaller
# with a smaller gap, larger $s$ larger with a larger gap, more dropout a smaller gap, more label noise
# a larger gap, more training data a smaller gap.

# %%
rows = []
for hp in awd.HYPERPARAMETERS:
    row = dict(sweep=hp)
    for key in ("sigma_g_total", "sigma_w_total", "sigma_part"):
        a, b = paired(hp, key)
        row[key] = float(np.mean(np.log(b / a))) if len(a) else np.nan  # no seed with both ends: none measured
    row["n_diverged"] = int(runs[runs.setting.isin([sweep_members(hp)[0], sweep_members(hp)[-1]])].diverged.sum())
    rows.append(row)
factors = pd.DataFrame(rows).set_index("sweep")
fig, ax = plt.subplots(figsize=(8, 3.8))
xs = np.arange(len(factors))
for i, (key, label) in enumerate((("sigma_g_total", r"$\sigma_g$ (sharpness)"), ("sigma_w_total", r"$\sigma_w$ (size)"),
                                  ("sigma_part", r"$\Delta L$"))):
    ax.bar(xs + (i - 1) * 0.27, factors[key], width=0.27, label=label)
ax.axhline(0, color="k", lw=0.6)
ax.set_xticks(xs, [f"{SHORT[h]}\n{settings[sweep_members(h)[0]][h]:g} → {settings[sweep_members(h)[-1]][h]:g}"
                  for h in factors.index], fontsize=8)
ax.set(ylabel=r"$\ln$(last / first), mean over seeds")
ax.legend(frameon=False)
save_figure(fig, factors.reset_index(), figdir, "fig7_factors")
print(factors.round(3))


def dominance_count(hp, main, other):
    """Seeds (usable at both ends of sweep hp) with |d ln main| > |d ln other|."""
    a, div, why = end_pairs(hp, main)
    b, _, _ = end_pairs(hp, other)
    good = a.ok & b.ok
    dm, do = np.log(a["last"] / a["first"])[good], np.log(b["last"] / b["first"])[good]
    return int((dm.abs() > do.abs()).sum()), div, why


for hp, fac, main, other in (("batch_size", "sharpness", "sigma_g_total", "sigma_w_total"),
                             ("lr", "sharpness", "sigma_g_total", "sigma_w_total"),
                             ("norm_penalty", "size", "sigma_w_total", "sigma_g_total"),
                             ("init_scale", "size", "sigma_w_total", "sigma_g_total")):
    n_dom, div, why = dominance_count(hp, main, other)
    claims.check(f"{hp}_acts_through_{fac}", n_dom, diverged=div, reason=why)
for cid, hp, key, sgn in (("larger_batch_sharper", "batch_size", "sigma_g_total", +1),
                          ("lr_flatter", "lr", "sigma_g_total", -1), ("lr_smaller_gap", "lr", "gap", -1),
                          ("norm_penalty_smaller_size", "norm_penalty", "sigma_w_total", -1),
                          ("norm_penalty_smaller_gap", "norm_penalty", "gap", -1),
                          ("init_scale_larger_size", "init_scale", "sigma_w_total", +1),
                          ("init_scale_larger_gap", "init_scale", "gap", +1),
                          ("dropout_smaller_gap", "dropout", "gap", -1),
                          ("label_noise_larger_gap", "rho", "gap", +1),
                          ("training_size_smaller_gap", "n_per_class", "gap", -1)):
    n_sign, div, why = sign_count(hp, key, sgn)
    claims.check(cid, n_sign, diverged=div, reason=why)
claims.table("fig7_factors")

# %% [markdown]
# ## Fig. 8 — decentralized learners find flatter solutions
# [design, scaled down] $K$ learners at equal total batch: SSGD (every update averages all learners,
# i.e. the gradients) against DPSGD (each learner averages with its two ring neighbours), same
# initial networks and minibatch seeds; the consensus network (mean of the learners) is analysed.
# Paired by seed: ratios DPSGD / SSGD of $\sigma_g$, $\sigma_w$ and the measured gap.
#
# **Claims** (abstract), counts of seeds, using only seeds where both runs fitted and neither
# diverged: DPSGD is flatter ($\sigma_g$ ratio < 1) and generalizes better (gap ratio < 1) in every
# seed (5 of 5 at the default scale: a fair coin does so with p = 1/32); at similar size,
# $|\ln$ of the $\sigma_w$ ratio$| \le 0.1$ in all seeds but one [design: "similar" as within 10 %].

# %%
mdf = pd.DataFrame({k: multi[k] for k in ("method", "seed", "epochs", "fitted", "gap", "sigma_g_total",
                                          "sigma_w_total", "test_acc", "learner_spread", "diverged")})
print(f"{int(multi['learners'])} learners x batch {int(multi['batch_size']) // int(multi['learners'])}, "
      f"lr {float(multi['lr']):g}, N = {int(multi['n_train'])}")
print(mdf.round(4))
# paired by seed: only seeds where both methods fitted and neither diverged
both = (mdf.groupby("seed").diverged.transform("sum") == 0) & (mdf.groupby("seed").fitted.transform("min") > 0)
piv = mdf[both].pivot(index="seed", columns="method")
ratios = {key: float(np.mean(piv[key]["DPSGD"] / piv[key]["SSGD"])) if len(piv) else np.nan
          for key in ("sigma_g_total", "sigma_w_total", "gap")}
DIV_MULTI = bool(mdf.diverged.any())
fig, axes = plt.subplots(1, 3, figsize=(11, 3.4))
for ax, (key, label) in zip(axes, (("sigma_g_total", r"$\sigma_g$ (sharpness)"),
                                   ("sigma_w_total", r"$\sigma_w$ (size)"),
                                   ("gap", "gap $L_{test}-L_{train}$"))):
    for seed in piv.index:
        ax.plot([0, 1], [piv[key]["SSGD"][seed], piv[key]["DPSGD"][seed]], "o-", color="0.6", lw=1)
    ax.set_xticks([0, 1], ["SSGD", "DPSGD"])
    n_lower = int((piv[key]["DPSGD"] < piv[key]["SSGD"]).sum()) if len(piv) else 0
    ax.set(xlim=(-0.4, 1.4), ylabel=label,
           title=f"DPSGD / SSGD = {ratios[key]:.3f}; lower in {n_lower} of {len(piv)} seeds")
    note_diverged(ax, int(mdf.diverged.sum()), len(mdf), "runs")
save_figure(fig, mdf, figdir, "fig8_multilearner")
ml_unfit = mdf[~mdf.fitted.astype(bool) & ~mdf.diverged.astype(bool)]
WHY_MULTI = ("unfitted at the epoch cap: " + ", ".join(f"{r.method} seed {r.seed}" for r in ml_unfit.itertuples())
             if len(ml_unfit) else "")
per_seed = {key: (piv[key]["DPSGD"] / piv[key]["SSGD"]) if len(piv) else pd.Series(dtype=float)
            for key in ("sigma_g_total", "sigma_w_total", "gap")}  # no usable seed: every count is 0
claims.check("dpsgd_flatter", int((per_seed["sigma_g_total"] < 1).sum()), diverged=DIV_MULTI, reason=WHY_MULTI)
claims.check("dpsgd_similar_size", int((np.abs(np.log(per_seed["sigma_w_total"])) <= 0.1).sum()), diverged=DIV_MULTI,
             reason=WHY_MULTI)
claims.check("dpsgd_smaller_gap", int((per_seed["gap"] < 1).sum()), diverged=DIV_MULTI, reason=WHY_MULTI)
claims.table("fig8_multilearner")

# %%
claims.write(claims_path)
print(f"{sum(c.passed for c in claims.claims)} / {len(claims.claims)} claims pass")

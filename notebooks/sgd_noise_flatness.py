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
# # SGD noise and flatness
#
# Part 1: Y. Feng & Y. Tu, *The inverse variance-flatness relation in stochastic gradient descent
# is critical for finding flat minima*, PNAS 118, e2015617118 (2021). Part 2: N. Yang, C. Tang &
# Y. Tu, *Stochastic gradient descent introduces an effective landscape-dependent regularization
# favoring flat solutions*, PRL 130, 237101 (2023), arXiv:2206.01246 (PNAS: arXiv:2001.01678).
# All training and simulation happen in the rules `sgd_noise_flatness_*`; this notebook loads,
# plots and checks claims. Library: `spdl.studies.sgd_noise_flatness`.
#
# **Setup of part 1** ([code] = the authors' demo, [design] = our choice where the papers are silent):
# 784-H-H-10 ReLU MLP without biases, cross-entropy, plain SGD [code]. Training runs a fixed number
# of steps deep into the exploration phase (training accuracy 1, loss well below $10^{-3}$ and still slowly
# falling; 250 epochs at default) [design: the demo stops at loss < 5e-5, which needs far more steps than
# our budget]. Then the hidden-to-hidden
# weights are recorded at every step for a window; PCA of the window gives variances
# $\sigma_i^2$ and directions $p_i$. Loss profiles $L_i(d) = L(\langle w\rangle + d\,p_i)$ on the full
# training set are evaluated at the window-mean of *all* weight matrices [design: the spec says
# "around the mean weights"; the demo actually perturbs the final weights of the trained model].
# Flatness $F_i$ = width of the interval around $d=0$ with $L_i(d) \le e\,L_i(0)$, by doubling and
# bisection [code]. $\psi$ = minus the least-squares slope of $\log\sigma_i^2$ on $\log F_i$ over
# PCs `fit_pcs` (default 2-200); confidence interval = Student-t over seeds. PCA: scikit-learn's
# randomized solver. Curvature $h_i$ along PC $i$: float64 central difference of the loss at the
# window mean, displacement = the s.d. along the PC [design].
# Noise temperature per direction [design]: $T_i = \mathrm{Var}_t(\Delta\theta_i)/(2\,\mathrm{lr})$,
# the per-step diffusion over $2\,$lr, so that Langevin noise $\sqrt{2\,\mathrm{lr}\,T}\,\xi$ gives
# $T_i = T$. The paper's noise correlation time is not reproduced (see Fig. 6).
#
# **Equilibrium control** [design]: for each of the first seeds of the main setting, the analysed layer
# alone (every other layer fixed at that seed's SGD window mean) moves by full-batch GD plus isotropic
# Gaussian noise $\sqrt{2\,\mathrm{lr}_c T}\,\xi$ from the SGD window mean. $T$ = the mean SGD
# temperature $T_i$ over the fitted PCs of the same seed (matched over the analysed directions);
# $\mathrm{lr}_c$ = `lr_fraction` $\times\,2/\lambda_{max}$ of the layer loss, so that flat directions relax
# within the window (relaxation time $1/(\mathrm{lr}_c h)$ steps). After a burn-in the layer is recorded
# and analysed along the SGD PCs of the same seed: variance, flatness and curvature around the control's
# mean. A direction counts as equilibrated when its relaxation time is at most a tenth of the window;
# only those enter the control's fit. Equilibrium theory: $\sigma_i^2 = T/h_i$ and, for a quadratic
# profile, $F_i \propto h_i^{-1/2}$, so $\psi = -2$.
#
# A run that diverged (recorded per member by the rules; replicas of the valley model likewise) is left
# out of every curve and number, the figures say how many diverged, and a claim that depends on one fails
# with status *diverged* in the scorecard.

# %% tags=["parameters"]
inputs = {}
figdir = "results/figures/sgd_noise_flatness"
claims_path = "results/claims/sgd_noise_flatness.json"
declarations = "workflow/claims/sgd_noise_flatness.yaml"
scale = "default"
cfg = {}  # no key: every fact comes from the results files

# %%
import matplotlib.pyplot as plt
from matplotlib.ticker import NullFormatter
import numpy as np
import pandas as pd

from spdl.studies import sgd_noise_flatness as snf
from spdl.claims import ClaimBook
from spdl.figures import save_figure, use_style
from spdl.io import load_npz

use_style()
claims = ClaimBook.declared("sgd_noise_flatness", scale, declarations)
# every run records its facts (batch, lr and seed of each member, sizes, steps); the main setting is the
# first member of the pretraining run the control starts from (first lr, first batch size of the config)
sgd = {int(d["batch"]): d for d in (load_npz(path) for name, path in inputs.items() if name.startswith("sgd_b"))}
BATCHES = list(sgd)
pre = load_npz(inputs["pretrain"])
lang = load_npz(inputs["langevin"])
valley = load_npz(inputs["valley"])
LR0, B0 = float(pre["lr"][0]), int(pre["batch"])
LRS = list(dict.fromkeys(pre["lr"].tolist()))  # every batch size trains the same learning rates
FIT_PCS = lang["fit_pcs"].tolist()  # the control matched its temperature over these PCs; psi is fitted on them
fit = slice(FIT_PCS[0] - 1, FIT_PCS[1])
QUICK = scale == "quick"
print(f"scale {scale}: {pre['dataset']} (n_train {int(pre['n_train'])}), H {pre['hidden'].tolist()}, lr {LRS}, "
      f"batch {BATCHES}, {len(np.unique(pre['seed']))} seeds, pretrain {int(pre['pretrain_steps'])}, "
      f"window {int(sgd[B0]['window_steps'])}")

# %%
rows = []
for b, d in sgd.items():
    for e in range(len(d["lr"])):
        psi, _ = snf.fit_exponent(d["flatness"][e, fit], d["var"][e, fit])
        rows.append(dict(batch=b, lr=float(d["lr"][e]), seed=int(d["seed"][e]), psi=psi, pc1_cos=d["pc1_cos"][e],
                         ratio12=d["var"][e, 0] / d["var"][e, 1], T_mean=d["mean_temperature"][e],
                         T_slope=snf.log_slope(d["flatness"][e, fit], d["temperature"][e, fit]),
                         loss_end=d["hist_loss"][-1, e], acc_end=d["hist_acc"][-1, e], diverged=bool(d["diverged"][e])))
members = pd.DataFrame(rows)
main_all = members[(members.batch == B0) & np.isclose(members.lr, LR0)]
main = main_all[~main_all.diverged]  # the main setting's members that did not diverge
DIV_MAIN = bool(main_all.diverged.any())  # claims on the main setting
DIV_ANY = bool(members.diverged.any())  # claims over every setting
LANG_DIV = lang["diverged"].astype(bool)
print(f"diverged: {int(members.diverged.sum())} of {len(members)} SGD members, {int(LANG_DIV.sum())} of "
      f"{len(LANG_DIV)} control runs")


def note_diverged(ax, n_div, n, what="runs"):
    """Say in the panel how many of its runs diverged (they are not in it)."""
    if n_div:
        ax.text(0.02, 0.02, f"{n_div} of {n} {what} diverged (not shown)", transform=ax.transAxes, color="C3",
                fontsize=8, va="bottom", bbox=dict(facecolor="white", alpha=0.85, lw=0), zorder=10)


members

# %% [markdown]
# ## Fig. 1 — learning curve with phases
# Full-training-set loss and accuracy of the main setting (lr, batch = first entries) during
# pretraining and the recorded window. Fast learning ends when the training accuracy reaches 1;
# the exploration phase follows, with a slowly falling loss. Shading: the recorded window.

# %%
fig, ax = plt.subplots(1, 2, figsize=(9, 3.4))
d = sgd[B0]
m0 = np.isclose(pre["lr"], LR0)
t = np.r_[pre["steps"], d["steps"][1:]]
div0 = d["diverged"][m0].astype(bool)  # pretraining or window
data = []
for key, a, label in [("hist_loss", ax[0], "training loss"), ("hist_acc", ax[1], "training accuracy")]:
    curve = np.r_[pre[key][:, m0], d[key][1:, m0]]
    for k in range(curve.shape[1]):
        if not div0[k]:
            a.plot(t[t > 0], curve[t > 0, k], color="C0", alpha=0.7)
        data += [dict(curve=label, seed=k, step=s, value=v, diverged=div0[k]) for s, v in zip(t, curve[:, k])]
    note_diverged(a, int(div0.sum()), len(div0))
    a.axvspan(pre["steps"][-1], t[-1], color="C1", alpha=0.15, lw=0)
    a.set(xscale="log", xlabel="SGD steps", ylabel=label)
ax[0].set_yscale("log")
ax[1].text(pre["steps"][-1], 0.5, " window", color="C1")
save_figure(fig, pd.DataFrame(data), figdir, "fig1_learning_curve")
pre_div = pre["diverged"].astype(bool)  # every pretrained member must have reached the exploration phase
acc_start = float(np.min(pre["hist_acc"][-1][~pre_div])) if (~pre_div).any() else np.nan
claims.check("exploration_phase", acc_start, diverged=bool(pre_div.any()))
claims.table("fig1_learning_curve")

# %% [markdown]
# ## Fig. 2 — PCA spectrum and the drift direction
# Variance $\sigma_i^2$ along PC $i$ (main setting, every seed) and the trajectory projected on PCs
# 1-2. [secondary] PC1 is a drift direction aligned with the mean weights and $\sigma_1 \gg \sigma_2$.
# Bands fixed in advance: $\sigma_1^2/\sigma_2^2 \ge 10$ ("much larger": an order of magnitude) and
# $|\cos(p_1, \langle w\rangle)| \ge 0.5$ (a random direction in $D$ = 2,500 dimensions has
# $|\cos| \approx 0.02$).

# %%
fig, ax = plt.subplots(1, 2, figsize=(9, 3.4))
data = []
for e in np.nonzero(np.isclose(d["lr"], LR0) & ~d["diverged"].astype(bool))[0]:
    v = d["var"][e]
    ax[0].plot(np.arange(1, len(v) + 1), v / d["total_var"][e], marker=".", ms=3, alpha=0.8,
               label=f"seed {d['seed'][e]}")
    ax[1].plot(*d["theta12"][e].T, lw=0.5, alpha=0.8)
    data += [dict(kind="spectrum", seed=int(d["seed"][e]), pc=i + 1, value=x / d["total_var"][e])
             for i, x in enumerate(v)]
ax[0].set(xscale="log", yscale="log", xlabel="PC $i$", ylabel=r"$\sigma_i^2$ / total variance")
ax[0].legend(frameon=False)
ax[1].set(xlabel=r"$\theta_1$", ylabel=r"$\theta_2$", title="window trajectory")
note_diverged(ax[0], int(main_all.diverged.sum()), len(main_all))
data = data or [dict(kind="spectrum", note=f"all {len(main_all)} runs of the main setting diverged")]
save_figure(fig, pd.DataFrame(data).assign(n_diverged=int(main_all.diverged.sum())), figdir, "fig2_pca_spectrum")
claims.check("sigma1_much_larger", main.ratio12.median(), diverged=DIV_MAIN)
claims.check("pc1_along_mean", main.pc1_cos.abs().median(), diverged=DIV_MAIN)
claims.table("fig2_pca_spectrum")

# %% [markdown]
# ## Fig. 3 — loss profiles along principal directions
# $L_i(d)$ for a few PCs (first seed that did not diverge, main setting) on the full training set, around
# the mean weights. With $\psi > 0$ (Fig. 4) the high-variance directions (low PC index) are the *sharp*
# ones, with narrow profiles, and the low-variance directions (high PC index) the flat ones: the inverse
# relation. Dashed: threshold $e\,L(0)$ that defines $F_i$.

# %%
fig, ax = plt.subplots(figsize=(5, 3.6))
live0 = np.nonzero(np.isclose(d["lr"], LR0) & ~d["diverged"].astype(bool))[0]
e0 = int(live0[0]) if len(live0) else int(np.nonzero(np.isclose(d["lr"], LR0))[0][0])  # first seed that did not diverge
data = []
for j, pc in enumerate(d["profile_pcs"].tolist()):
    ax.plot(d["profile_d"][e0], d["profiles"][e0, j], label=f"PC {pc}")
    data += [dict(pc=pc, d=x, loss=y, seed=int(d["seed"][e0]), diverged=bool(d["diverged"][e0]))
             for x, y in zip(d["profile_d"][e0], d["profiles"][e0, j])]
note_diverged(ax, int(main_all.diverged.sum()), len(main_all))
ax.axhline(np.e * d["loss0"][e0], ls="--", color="k", lw=0.8)
ax.set(yscale="log", xlabel="displacement $d$ along $p_i$", ylabel="training loss")
ax.legend(frameon=False, fontsize=8)
save_figure(fig, pd.DataFrame(data), figdir, "fig3_loss_profiles")

# %% [markdown]
# ## Fig. 4 — the inverse variance-flatness relation
# $\sigma_i^2$ against $F_i$ for every setting (batch x lr; all seeds pooled in the scatter), with the
# power-law fits over PCs `fit_pcs`. [abstract] $\sigma_i^2 \sim F_i^{-\psi}$ with $\psi > 0$ in every
# setting (the equilibrium Einstein relation would give $\sigma^2 \sim T F^2$, $\psi = -2$).
# Claim 1: the smallest seed-mean $\psi$ over all settings is $> 0$. Claim 2 [secondary]: $\psi
# \approx 4$ on full MNIST; one band for the main setting at every scale, [2, 8] (a factor 2 either way:
# our data set is 15x smaller and the window shorter than the paper's; declared in
# `workflow/claims/sgd_noise_flatness.yaml`). The quick scale has no band of its own and may fail.

# %%
settings = members[~members.diverged].groupby(["batch", "lr"]).psi.agg(list).reindex(
    members.groupby(["batch", "lr"]).psi.agg(list).index, fill_value=[])  # a setting whose runs all diverged: []
fig, axes = plt.subplots(1, len(BATCHES), figsize=(4 * len(BATCHES), 3.6), sharey=True, squeeze=False)
data = []
for ax, b in zip(axes[0], BATCHES):
    dd = sgd[b]
    for j, lr in enumerate(LRS):
        es = np.nonzero(np.isclose(dd["lr"], lr))[0]
        live = es[~dd["diverged"][es].astype(bool)]
        F_, v = dd["flatness"][live][:, fit].ravel(), dd["var"][live][:, fit].ravel()
        psi_m, lo, hi = snf.seed_interval(settings[(b, lr)]) if settings[(b, lr)] else (np.nan,) * 3
        ax.scatter(F_, v, s=6, alpha=0.5, color=f"C{j}",
                   label=f"lr {lr:g}: $\\psi$ = {psi_m:.2f} [{lo:.2f}, {hi:.2f}]"
                   + (f", {len(es) - len(live)} of {len(es)} diverged" if len(live) < len(es) else ""))
        psi, amp = snf.fit_exponent(F_, v)
        good = np.isfinite(F_) & (F_ > 0)
        if good.any() and np.isfinite(psi):
            xs = np.geomspace(F_[good].min(), F_[good].max(), 20)
            ax.plot(xs, np.exp(amp) * xs ** -psi, color=f"C{j}")
        data += [dict(batch=b, lr=lr, member=int(e), pc=i + 1, flatness=dd["flatness"][e, i], variance=dd["var"][e, i],
                      diverged=bool(dd["diverged"][e])) for e in es for i in range(dd["var"].shape[1])]
    ax.set(xscale="log", yscale="log", xlabel="flatness $F_i$", title=f"batch {b}")
    ax.legend(frameon=False, fontsize=7)
axes[0, 0].set_ylabel(r"variance $\sigma_i^2$")
save_figure(fig, pd.DataFrame(data), figdir, "fig4_variance_flatness")
summary = pd.DataFrame([dict(batch=b, lr=lr, **dict(zip(["psi", "ci_low", "ci_high"],
                                                        snf.seed_interval(v) if v else (np.nan,) * 3)))
                        for (b, lr), v in settings.items()])
print(summary)
claims.check("psi_positive_all", np.min(summary.psi.to_numpy()), diverged=DIV_ANY)  # NaN never hides in a min
psi_main = snf.seed_interval(main.psi) if len(main) else (np.nan,) * 3
claims.check("psi_value", psi_main[0], diverged=DIV_MAIN)
claims.table("fig4_variance_flatness")

# %% [markdown]
# ## Fig. 5 — the equilibrium control: the layer under GD + isotropic Langevin noise
# (a) $\sigma_i^2$ against $F_i$ along the SGD PCs `fit_pcs` of the same seeds: the control (red; filled =
# equilibrated directions, relaxation time $1/(\mathrm{lr}_c h_i)$ at most a tenth of the window; open = not)
# and SGD (blue). (b) $\sigma_i^2 h_i / T_i$: equipartition gives 1 in equilibrium ($T_i = T$ for the
# control, the measured per-direction SGD temperature for SGD). Claims, per control seed (counted):
# at least 10 equilibrated directions; the slope of $\log\sigma_i^2$ on $\log F_i$ over them significantly
# positive ($\psi < 0$, one-sided $p < 0.01$); the median of $\sigma_i^2 h_i / T$ over them in [0.5, 2].
# Theory: $\sigma_i^2 = T/h_i$ and $F_i \propto h_i^{-1/2}$ for a quadratic profile, so $\psi = -2$ (printed,
# not banded). The table also prints the control's training loss at its start, after the burn-in and at the
# end: a cross-entropy loss has no minimum at finite weights, so gradient descent keeps lowering it; a loss
# that still falls over the window means the control drifts (it is not stationary) even where the
# relaxation-time criterion holds.

# %%
WIN = int(lang["window_steps"])
fig, ax = plt.subplots(1, 2, figsize=(9.5, 3.6))
data, rows = [], []
for e in range(len(lang["seed"])):
    m, seed = int(lang["member"][e]), int(lang["seed"][e])
    v, F_, h, tau = (lang[k][e, fit] for k in ("var", "flatness", "curvature", "relax_steps"))
    ok, psi_c, p_c = snf.control_fit(v, F_, tau, WIN) if not LANG_DIV[e] else (np.zeros(len(v), bool), np.nan, np.nan)
    T = float(lang["temperature_set"][e])
    ratio = v * h / T
    rows.append(dict(seed=seed, diverged=bool(LANG_DIV[e]), T=T, lambda_max=lang["lambda_max"][e],
                     lr_control=lang["lr_control"][e], loss_start=lang["loss_start"][e],
                     loss_burnin=lang["loss_burnin"][e], loss_end=lang["loss_end"][e],
                     n_equilibrated=int(ok.sum()), n_directions=len(v), psi=psi_c, p_value=p_c,
                     equipartition=float(np.median(ratio[ok])) if ok.any() else np.nan))
    pcs = np.arange(FIT_PCS[0], FIT_PCS[1] + 1)
    data += [dict(run="control", seed=seed, pc=int(i), flatness=F_[j], variance=v[j], curvature=h[j],
                  relax_steps=tau[j], equilibrated=bool(ok[j]), ratio=ratio[j], diverged=bool(LANG_DIV[e]))
             for j, i in enumerate(pcs)]
    sv, sF, sh, sT = (d[k][m, fit] for k in ("var", "flatness", "curvature", "temperature"))
    data += [dict(run="sgd", seed=seed, pc=int(i), flatness=sF[j], variance=sv[j], curvature=sh[j],
                  ratio=sv[j] * sh[j] / sT[j], diverged=bool(d["diverged"][m])) for j, i in enumerate(pcs)]
    if LANG_DIV[e]:
        continue
    first = e == int(np.argmin(LANG_DIV))
    ax[0].scatter(F_[ok], v[ok], s=8, color="C3", alpha=0.7, label="control, equilibrated" if first else None)
    ax[0].scatter(F_[~ok], v[~ok], s=8, facecolors="none", edgecolors="C3", alpha=0.5,
                  label="control, not equilibrated" if first else None)
    ax[1].scatter(F_[ok], ratio[ok], s=8, color="C3", alpha=0.7)
    ax[1].scatter(F_[~ok], ratio[~ok], s=8, facecolors="none", edgecolors="C3", alpha=0.5)
    if not d["diverged"][m]:
        ax[0].scatter(sF, sv, s=6, color="C0", alpha=0.5, label="SGD (same seeds)" if first else None)
        ax[1].scatter(sF, sv * sh / sT, s=6, color="C0", alpha=0.5)
control = pd.DataFrame(rows)
note_diverged(ax[0], int(LANG_DIV.sum()), len(LANG_DIV), "control runs")
ax[0].set(xscale="log", yscale="log", xlabel="flatness $F_i$", ylabel=r"variance $\sigma_i^2$",
          title=f"control: $\\psi$ = {control.psi.mean():.2f} (seed mean; theory $-2$)")
ax[0].legend(frameon=False, fontsize=7)
ax[1].axhline(1.0, color="k", lw=0.8, ls="--")
ax[1].axhspan(0.5, 2.0, color="0.9", lw=0, zorder=0)
ax[1].set(xscale="log", yscale="log", xlabel="flatness $F_i$", ylabel=r"$\sigma_i^2 h_i / T_i$",
          title="equipartition (dashed: 1)")
for a in ax:  # F spans about a decade: no minor tick labels (they overlap)
    a.xaxis.set_minor_formatter(NullFormatter())
save_figure(fig, pd.DataFrame(data), figdir, "fig5_langevin_control")
print(control.to_string())
live = control[~control.diverged]
claims.check("control_equilibrated_per_seed", int((live.n_equilibrated >= 10).sum()), diverged=bool(LANG_DIV.any()))
claims.check("control_psi_negative_per_seed", int(((live.p_value < 0.01) & (live.psi < 0)).sum()),
             diverged=bool(LANG_DIV.any()))
claims.check("control_equipartition_per_seed", int(live.equipartition.between(0.5, 2.0).sum()),
             diverged=bool(LANG_DIV.any()))
claims.table("fig5_langevin_control")

# %% [markdown]
# ## Fig. 6 — noise temperature vs flatness
# Per-direction temperature $T_i = \mathrm{Var}(\Delta\theta_i)/(2\,\mathrm{lr})$ of SGD (main setting, all
# seeds) against $F_i$; dotted: the control's temperature $T$ (matched to the mean of $T_i$ over the fitted
# PCs). [abstract] the SGD noise strength decreases with flatness. Claim: the seed-mean log-log slope of
# $T_i$ on $F_i$ is negative. This is *not* independent of $\psi$: $T_i$ and $\sigma_i^2$ are second moments
# of the same projected trajectory, and where successive increments are uncorrelated $T_i = \sigma_i^2/\mathrm{lr}$,
# so the slope is $-\psi$ up to the change of that constant across directions (the table prints both).
#
# The paper's second ingredient, the noise correlation time, is not reproduced: our former measure (the
# integrated autocorrelation time of the one-step increments) returns about one step for every
# mean-reverting direction, whatever its flatness, so it could not test the paper's statement; the panel
# and its number were dropped.

# %%
fig, ax = plt.subplots(figsize=(5, 3.6))
data = []
for e in np.nonzero(np.isclose(d["lr"], LR0) & ~d["diverged"].astype(bool))[0]:
    F_ = d["flatness"][e, fit]
    ax.scatter(F_, d["temperature"][e, fit], s=6, color="C0", alpha=0.6, label="SGD" if e == e0 else None)
    data += [dict(member=int(e), seed=int(d["seed"][e]), pc=i + 1, flatness=d["flatness"][e, i],
                  temperature=d["temperature"][e, i], variance=d["var"][e, i]) for i in range(d["var"].shape[1])]
for e in np.nonzero(~LANG_DIV)[0]:
    ax.axhline(lang["temperature_set"][e], color="C3", ls=":", lw=1,
               label="control T (matched)" if e == np.nonzero(~LANG_DIV)[0][0] else None)
ax.set(xscale="log", yscale="log", xlabel="flatness $F_i$", ylabel="temperature $T_i$")
ax.xaxis.set_minor_formatter(NullFormatter())
ax.legend(frameon=False, fontsize=8)
note_diverged(ax, int(main_all.diverged.sum()), len(main_all))
data = data or [dict(note=f"all {len(main_all)} runs of the main setting diverged")]
save_figure(fig, pd.DataFrame(data).assign(n_diverged=int(main_all.diverged.sum())), figdir, "fig6_temperature")
print(main[["seed", "psi", "T_slope"]].assign(sum_slope_psi=main.T_slope + main.psi).to_string())
claims.check("temperature_decreases", main.T_slope.mean(), diverged=DIV_MAIN)
claims.table("fig6_temperature")

# %% [markdown]
# # Part 2 — landscape-dependent regularization (PRL)
#
# **Model** [design, the spec's suggestion]: $f(x) = w_2 w_1 x$, online Gaussian data $x \sim N(0,1)$,
# $y = c\,x + \epsilon$, $\epsilon \sim N(0, \sigma^2)$, squared loss. The minima form the valley
# $w_1 w_2 = c$; across it the Hessian eigenvalue is $\lambda = w_1^2 + w_2^2$. Along the valley we use
# $\delta = w_1^2 - w_2^2$, so $\lambda = \sqrt{\delta^2 + 4c^2}$: flattest at $\delta = 0$.
#
# **Derivation** (ours). One step with minibatch factor $g = p\,m_B - \xi_B$ ($p = w_1w_2 - c$,
# $m_B$ = mean $x^2$, $\xi_B$ = mean $\epsilon x$) and isotropic kicks $\zeta_{1,2} \sim N(0, 2\,\mathrm{lr}\,T)$:
# $\delta' = \delta(1 - \mathrm{lr}^2 g^2) + 2(w_1 - \mathrm{lr}\,g w_2)\zeta_1 -
# 2(w_2 - \mathrm{lr}\,g w_1)\zeta_2 + \zeta_1^2 - \zeta_2^2$
# exactly. So minibatch noise never moves $\delta$ at random: it only *contracts* $|\delta|$ at rate
# $r = \mathrm{lr}^2 E[g^2]$, with $E[g^2] = \sigma^2/B + E[m_B^2]\,\mathrm{Var}(p)$ and, from the
# linearised transverse dynamics, $\mathrm{Var}(p) = (\mathrm{lr}^2\lambda^2\sigma^2/B + 2\,\mathrm{lr}\,T\lambda)
# / (2\,\mathrm{lr}\,\lambda - \mathrm{lr}^2\lambda^2 E[m_B^2])$, $E[m_B^2] = 1 + 2/B$. Isotropic noise only
# diffuses $\delta$: $D = 4\,\mathrm{lr}\,T\lambda$ per step. The stationary Fokker-Planck solution
# (zero flux, Ito) is $P(\delta) \propto D^{-1}\exp\int_0^\delta A/D$ with $A = -r\delta$.
# For small lr, $E[g^2] \approx \sigma^2/B + T$ and $P(\delta) \propto \lambda^{-1}
# \exp[-\frac{\mathrm{lr}}{4}(1 + \frac{\sigma^2}{BT})\lambda]$: the SGD term is an effective potential
# $L_{SGD} = \frac{\mathrm{lr}\,\sigma^2}{4B}\lambda$ in units of $T$, growing with lr and with the
# minibatch variance $\sigma^2/B$ and decreasing with flatness, as the PRL abstract says.
#
# **The spec's formula** $P \propto e^{-L_{eff}/\Delta}$, $L_{SGD} = \Delta(1-\kappa)\ln F$,
# $F = \lambda^{-1/2}$ [secondary, unverified]: our general 1-d derivation for a valley coordinate $s$
# with noise $D_u$ across and $D_s$ along it gives $P(s) \propto D_s^{-1}\exp[-\tfrac12\int (D_u/D_s)\,
# \lambda'/\lambda\,ds]$; for *constant* $D_u = \kappa D_s = \Delta$ this is $P \propto F^{\kappa}$,
# i.e. the joint law $e^{-L/\Delta}F^{\kappa-1}$ — the spec's formula. So it agrees when the
# anisotropy is constant. In the SGD model the noise across the valley is proportional to the
# curvature ($D_u \propto \lambda$) and vanishes along it, and the regularizer becomes linear in
# $\lambda$ (above), not logarithmic in $F$; the spec's form does not apply there.

# %% [markdown]
# ## Fig. 7 — drift along the valley: SGD vs isotropic noise
# Start at $\delta_0$ on the sharp side. SGD (batch B) vs full-batch GD + isotropic noise with the same
# noise variance across the valley at the start ($T = \mathrm{lr}\,\sigma^2\lambda_0/(2B)$). Lines: median
# and quartiles of $\lambda/\lambda_{min}$; dashed: the theory $|\delta(t)|$ from $d\delta/dt = -r\delta$.
# Claims (bands fixed in advance): SGD reaches the flat end, median final $\lambda/\lambda_{min} \le 1.05$;
# isotropic noise does not prefer it, median final $|\delta|/\delta_0 \ge 0.5$ (a diverged replica counts
# as $|\delta| = \infty$).

# %%
c, sig, d0 = float(valley["c"]), float(valley["sigma"]), float(valley["delta0"])
drift_lr, drift_batch = float(valley["drift_lr"]), int(valley["drift_batch"])
ts = valley["drift_steps"]
fig, ax = plt.subplots(1, 2, figsize=(9, 3.6))
data = []
final = {}
for name, col, label in [("sgd", "C0", f"SGD, batch {drift_batch}"), ("iso", "C3", "GD + isotropic noise")]:
    delta = valley[f"drift_{name}_w1"] ** 2 - valley[f"drift_{name}_w2"] ** 2
    lam = snf.curvature(delta, c) / (2 * c)
    q = np.nanpercentile(np.where(np.isnan(lam), np.inf, lam), [25, 50, 75], axis=1)
    ax[0].plot(ts, q[1], color=col, label=label)
    ax[0].fill_between(ts, q[0], q[2], color=col, alpha=0.2)
    for k in range(5):
        ax[1].plot(ts, delta[:, k], color=col, lw=0.6, alpha=0.7)
    final[name] = np.where(np.isnan(delta[-1]), np.inf, np.abs(delta[-1]))
    n_div = int(np.isnan(delta[-1]).sum())  # replicas that blew up (frozen at NaN)
    data += [dict(run=name, step=s, q25=a, median=b_, q75=c_, n_diverged=n_div, replicas=delta.shape[1])
             for s, a, b_, c_ in zip(ts, *q)]
    note_diverged(ax[0], n_div, delta.shape[1], f"{name} replicas")
rate = lambda x: snf.contraction_rate(x, c, drift_lr, drift_batch, sig)  # noqa: E731
theory = [d0]
for dt in np.diff(ts):
    theory.append(theory[-1] * np.exp(-rate(theory[-1]) * dt))
ax[0].plot(ts, snf.curvature(np.array(theory), c) / (2 * c), "k--", lw=1, label="theory (SGD)")
ax[0].set(xlabel="steps", ylabel=r"$\lambda / \lambda_{min}$", yscale="log")
ax[0].legend(frameon=False, fontsize=8)
ax[1].set(xlabel="steps", ylabel=r"$\delta = w_1^2 - w_2^2$ (5 replicas)")
save_figure(fig, pd.DataFrame(data), figdir, "fig7_valley_drift")
# a replica that blew up is never evidence for either claim: if one did, the claim fails as diverged
claims.check("valley_sgd_reaches_flat", np.median(snf.curvature(final["sgd"], c)) / (2 * c),
             diverged=bool(np.isinf(final["sgd"]).any()))
claims.check("valley_iso_no_preference", np.median(final["iso"]) / d0, diverged=bool(np.isinf(final["iso"]).any()))
claims.table("fig7_valley_drift")

# %% [markdown]
# ## Fig. 8 — stationary law along the valley vs Fokker-Planck
# SGD plus weak isotropic noise $T$ (needed for a non-degenerate stationary law: SGD alone collapses
# $\delta$ to 0). Histograms of $\delta$ after burn-in, pooled over replicas and sampling times, against
# the derived $P(\delta)$; right: mean curvature vs batch size, simulation and theory. Claim: the
# largest Kolmogorov-Smirnov distance over batch sizes is below $1.63/\sqrt{R} + 0.02$ (the 99% KS
# critical value counting only one independent sample per replica, which is conservative, plus 0.02
# for the neglected $O(\mathrm{lr}\,T/\lambda)$ and $O(\mathrm{lr}^2)$ terms).

# %%
sc = dict(lr=float(valley["stat_lr"]), temp=float(valley["stat_temp"]), batch=valley["stat_batch"].tolist())
grid_d = np.linspace(-12, 12, 6001)
fig, ax = plt.subplots(1, 2, figsize=(9, 3.6))
data, ks, mean_rows = [], [], []
for j, B in enumerate(sc["batch"]):
    x = valley["stat_delta"][:, j].ravel()
    x = x[np.isfinite(x)]
    p = snf.stationary_density(grid_d, c, sc["lr"], B, sig, sc["temp"])
    cdf = np.cumsum(p) * (grid_d[1] - grid_d[0])
    ks.append(np.max(np.abs(np.searchsorted(np.sort(x), grid_d) / len(x) - cdf)))
    ax[0].hist(x, bins=80, range=(-6, 6), density=True, histtype="step", color=f"C{j}", label=f"batch {B}")
    ax[0].plot(grid_d, p, color=f"C{j}", ls="--", lw=1)
    lam_th = np.trapezoid(p * snf.curvature(grid_d, c), grid_d)
    mean_rows.append(dict(batch=B, lam_sim=snf.curvature(x, c).mean(), lam_theory=lam_th, ks=ks[-1]))
    data += [dict(batch=B, delta=g_, density=v) for g_, v in zip(grid_d[::20], p[::20])]
means = pd.DataFrame(mean_rows)
ax[0].set(xlim=(-6, 6), xlabel=r"$\delta$", ylabel="density")
ax[0].legend(frameon=False, fontsize=8)
ax[1].plot(means.batch, means.lam_theory / (2 * c), "k--", label="Fokker-Planck")
ax[1].plot(means.batch, means.lam_sim / (2 * c), "o", label="simulation")
ax[1].set(xscale="log", xlabel="batch size", ylabel=r"mean $\lambda/\lambda_{min}$")
ax[1].legend(frameon=False)
save_figure(fig, pd.concat([pd.DataFrame(data), means]), figdir, "fig8_valley_stationary")
print(means)
R = int(valley["replicas"])
stat_div = valley["stat_diverged"]  # fraction of replicas that blew up, per batch size
claims.check("valley_stationary_fp", np.max(np.array(ks)) - 1.63 / np.sqrt(R), diverged=bool((stat_div > 0).any()))
claims.table("fig8_valley_stationary")

# %% [markdown]
# ## Fig. 9 — time to reach the flat end vs lr and batch size
# Median first step with $\lambda \le (1 + \mathrm{tol})\lambda_{min}$ from $\delta_0$ (SGD, no isotropic
# noise), against the theory $t = \int d\delta/(r(\delta)\delta)$. Claims: (1) theory and simulation
# agree within 15% wherever the theory is in its regime (predicted $t \ge 100$ steps, no replica
# diverged); (2) the flat time falls monotonically with lr at every batch size and rises with the batch
# size at every lr, over the settings where no replica diverged (fraction of ordered neighbours = 1).

# %%
LRg, BBg = valley["flat_lr"], valley["flat_batch"]
fc = dict(lambda_tol=float(valley["flat_lambda_tol"]), batch=BBg[0].tolist())
d_f = np.sqrt(((1 + fc["lambda_tol"]) * 2 * c) ** 2 - 4 * c * c)
t_med = np.nanmedian(np.where(valley["flat_diverged"], np.nan, valley["flat_t"]), axis=-1)
ok = ~valley["flat_diverged"].any(-1)
t_th = np.vectorize(lambda lr, b: snf.flat_time(d0, d_f, c, lr, b, sig))(LRg, BBg)
fig, ax = plt.subplots(figsize=(5.5, 3.8))
data = []
for j, B in enumerate(fc["batch"]):
    ax.plot(LRg[:, j], t_th[:, j], color=f"C{j}", ls="--")
    ax.plot(LRg[ok[:, j], j], t_med[ok[:, j], j], "o", color=f"C{j}", label=f"batch {B}")
    ax.plot(LRg[~ok[:, j], j], t_med[~ok[:, j], j], "x", color=f"C{j}")
    data += [dict(lr=LRg[i, j], batch=B, t_sim=t_med[i, j], t_theory=t_th[i, j], any_diverged=not ok[i, j])
             for i in range(len(LRg))]
ax.set(xscale="log", yscale="log", xlabel="learning rate", ylabel="steps to the flat end")
ax.legend(frameon=False, fontsize=8, title="o: simulation, --: theory, x: some diverged", title_fontsize=7)
save_figure(fig, pd.DataFrame(data), figdir, "fig9_flat_time")
valid = ok & (t_th >= 100)
unreached = [(float(LRg[i, j]), int(BBg[i, j])) for i, j in zip(*np.nonzero(valid & ~np.isfinite(t_med)))]
why = ("no setting in the theory's regime (t >= 100) without a diverged replica" if not valid.any() else
       f"the flat end was not reached in any replica at (lr, batch) = {unreached}" if unreached else "")
claims.check("flat_time_theory", None if why else np.max(np.abs(t_med[valid] / t_th[valid] - 1)), reason=why)
pairs = [(t_med[i + 1, j], t_med[i, j]) for i in range(len(LRg) - 1) for j in range(len(fc["batch"]))
         if ok[i, j] and ok[i + 1, j]]
pairs += [(t_med[i, j], t_med[i, j + 1]) for i in range(len(LRg)) for j in range(len(fc["batch"]) - 1)
          if ok[i, j] and ok[i, j + 1]]
never = not np.isfinite(np.array(pairs, float)).all()  # a setting where no replica reached the flat end
why = ("no pair of neighbouring settings without a diverged replica" if not pairs else
       "the flat end was not reached in any replica of some setting" if never else "")
claims.check("flat_time_ordering", None if why else np.mean([a < b for a, b in pairs]), reason=why)
claims.table("fig9_flat_time")

# %% [markdown]
# ## Fig. 10 — critical learning rate
# From the flattest minimum ($\lambda = 2c$), the fraction of replicas that diverge within the run,
# over an lr grid for several batch sizes; the measured critical lr is where half diverge
# (interpolated). Linear theory of the transverse variable $p$: the minimum is mean-square unstable
# beyond $\mathrm{lr}_{ms} = 2/(\lambda E[m_B^2])$ and almost-surely unstable beyond $\mathrm{lr}_{as}$
# where the Lyapunov exponent $E\ln|1 - \mathrm{lr}\,\lambda\,m_B|$ vanishes.
#
# *Outcome of our first, pre-registered check.* We first claimed the measured critical lr lies in
# $[0.95\,\mathrm{lr}_{ms}, 1.05\,\mathrm{lr}_{as}]$. That failed for small batches: training fails
# *below* the mean-square threshold (printed below). The linear theory misses the nonlinear escape:
# a large minibatch kick with $\mathrm{lr}\,|g| > \sqrt2$ multiplies $\delta$ by $|1 - \mathrm{lr}^2g^2| > 1$,
# i.e. moves the network to a *sharper* part of the valley, where it is unstable. We therefore check
# only the paper's own (qualitative) claim: a finite critical lr exists inside the grid for every batch
# size, and it falls as the noise grows (smaller batch), i.e. the measured critical lr increases
# monotonically with the batch size. The theory interval is still drawn for comparison.

# %%
fig, ax = plt.subplots(1, 2, figsize=(9, 3.6))
data, crit = [], []
for j, B in enumerate(valley["crit_batch"]):
    th = snf.critical_lr(2 * c, int(B))
    meas = snf.crossing(valley["crit_lr"], valley["crit_fail"][:, j])
    crit.append(meas)
    ax[0].plot(valley["crit_lr"], valley["crit_fail"][:, j], marker=".", color=f"C{j}", label=f"batch {B}")
    ax[0].axvline(th["lyapunov"], color=f"C{j}", ls="--", lw=0.8)
    ax[1].plot([B], [meas], "o", color=f"C{j}")
    ax[1].vlines(B, th["mean_square"], th["lyapunov"], color=f"C{j}", lw=3, alpha=0.4)
    data += [dict(batch=int(B), lr=x, fail=y, lr_ms=th["mean_square"], lr_as=th["lyapunov"], lr_c=meas)
             for x, y in zip(valley["crit_lr"], valley["crit_fail"][:, j])]
ax[0].set(xlabel="learning rate", ylabel="fraction diverged")
ax[0].legend(frameon=False, fontsize=8)
ax[1].set(xscale="log", xlabel="batch size", ylabel="critical lr", title="bar: [mean-square, Lyapunov] theory")
save_figure(fig, pd.DataFrame(data), figdir, "fig10_critical_lr")
crit = np.array(crit)
print("measured critical lr:", crit, "in the linear-theory interval:",
      [bool(0.95 * snf.critical_lr(2 * c, int(B))["mean_square"] <= x
            <= 1.05 * snf.critical_lr(2 * c, int(B))["lyapunov"])
       for B, x in zip(valley["crit_batch"], crit)])
claims.check("critical_lr_exists", np.mean(np.isfinite(crit) & (crit > valley["crit_lr"][0])))
no_crit = [int(B) for B, x in zip(valley["crit_batch"], crit) if not np.isfinite(x)]
claims.check("critical_lr_vs_noise", None if no_crit else np.mean(np.diff(crit) > 0),
             reason=f"no critical lr inside the grid at batch {no_crit}" if no_crit else "")
claims.table("fig10_critical_lr")

# %%
claims.write(claims_path)
print(f"{sum(c.passed for c in claims.claims)} / {len(claims.claims)} claims pass")

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
# # Stochastic collapse: gradient noise attracts SGD to simpler subnetworks
#
# F. Chen, D. Kunin, A. Yamamura & S. Ganguli, *Stochastic collapse: how gradient noise attracts SGD
# dynamics towards simpler subnetworks*, NeurIPS 2023, arXiv:2306.04251 (code: GitHub
# `ccffccffcc/stochastic_collapse`).
#
# **Theory** (lines): closed forms in `spdl.studies.stochastic_collapse` — the quartic toy's stationary
# density and log-growth $\mu-\zeta^2/2$, the single neuron's linearised growth rate and Theorem 5.1
# threshold $\sum xy/\sum x^2$, and the linear teacher-student mode law $s^*-\eta\sigma^2/2$.
# **Simulation** (markers): Euler-Maruyama SDEs vectorised over trajectories x parameter values, the
# authors' per-mode SGD dynamics, and minibatch SGD on a tanh teacher-student network with Gaussian
# label noise drawn at every sample draw (the authors' label-noise model).
#
# Choices where the paper is silent or out of reach on CPU (ours):
# - the neuron SDE's $m$ Wiener processes enter through their $2\times2$ covariance (same law per step);
# - log-growth rates are measured from starts at $10^{-12}$ over a short horizon (linear regime);
# - the claims of the deep-network figures (VGG-16 / ResNet-18 on CIFAR, Figs. 3, 4, 6) rest on a proxy: a
#   tanh teacher (3 units, orthonormal directions, $d=10$) and a 32-unit student with biases, MSE in
#   torch's convention $\frac1B\sum(f-y)^2$, plain SGD, batch 8, 256 samples; the authors' metric
#   (vanishing if norm / max norm < 0.1, identical if normalised distance < 0.1);
# - Fig. 6's proxy uses label noise 0.5 (the teacher is realisable, so SGD noise alone would vanish);
# - the deep networks of Fig. 4 are an MLP on the embedded 5,000-image MNIST subset at CPU scale and the
#   authors' VGG-16 and ResNet-18 on CIFAR-10 (the paper's ResNet used CIFAR-100) at paper scale; reported,
#   not claimed;
# - the general (non-diagonal) linear network is not run here.

# %% tags=["parameters"]
inputs = {}
cfg = {}
scale = "default"
figdir = "results/figures/stochastic_collapse"
claims_path = "results/claims/stochastic_collapse.json"
declarations = "workflow/claims/stochastic_collapse.yaml"

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from spdl.claims import ClaimBook
from spdl.figures import save_figure, use_style
from spdl.io import load_npz
from spdl.studies import stochastic_collapse as sc

use_style()
claims = ClaimBook.declared("stochastic_collapse", scale, declarations)

# %% [markdown]
# ## Fig. 1 — quartic toy: collapse beyond $\zeta=\sqrt{2\mu}$
# $d\theta=-(\theta^3-\mu\theta)dt+\zeta\theta\,dW$. (a) sample paths; (b) stationary densities
# $\propto|\theta|^{2\mu/\zeta^2-2}e^{-\theta^2/\zeta^2}$ (not normalisable for $\zeta^2\ge2\mu$) with
# histograms of the paths' last values; (c) $P(\theta_t^2<10^{-30})$ vs $\zeta$; (d) growth rate of
# $\log|\theta|$ near 0 vs $\mu-\zeta^2/2$.

# %%
q = load_npz(inputs["quartic"])
mu = float(q["mu"])
fig, ax = plt.subplots(2, 2, figsize=(10, 7.5))
rows = []
colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
for i, z in enumerate(q["path_zeta"]):
    ok = ~q["path_diverged"][i]
    ax[0, 0].plot(q["path_t"], q["paths"][:, i, ok][:, :15], color=colors[i], lw=0.6, alpha=0.7)
    ax[0, 0].plot([], [], color=colors[i], label=f"$\\zeta$ = {z:g}")
    for t, v in zip(q["path_t"][::5], q["paths"][::5, i, ok]):
        rows += [dict(panel="paths", zeta=z, t=t, path=j, theta=x) for j, x in enumerate(v[:15])]
    last = q["paths"][-1, i, ok]
    th = np.linspace(-3.5, 3.5, 401)
    dens = sc.quartic_density(th, mu, z)
    if np.isfinite(dens).all():
        ax[0, 1].plot(th, dens, color=colors[i], label=f"theory $\\zeta$ = {z:g}")
        rows += [dict(panel="density", zeta=z, theta=a, density=b, source="theory") for a, b in zip(th, dens)]
    ax[0, 1].hist(last, bins=30, range=(-3.5, 3.5), density=True, histtype="step", color=colors[i], ls="--")
    rows += [dict(panel="density", zeta=z, theta=x, source="simulation (last values)") for x in last]
ax[0, 0].set(xlabel="t", ylabel=r"$\theta$", title="(a) paths")
ax[0, 0].legend()
ax[0, 1].set(xlabel=r"$\theta$", ylabel="density", title="(b) stationary density", ylim=(0, 2))
ax[0, 1].legend(fontsize=8)
for k, t in enumerate(q["times"]):
    ax[1, 0].plot(q["zeta"], q["prob"][k], "o-", ms=3, label=f"t = {t:g}")
    rows += [dict(panel="collapse", zeta=z, t=t, prob=p, source="simulation") for z, p in zip(q["zeta"], q["prob"][k])]
ax[1, 0].axvline(sc.quartic_threshold(mu), color="k", ls=":", label=r"$\sqrt{2\mu}$")
ax[1, 0].set(xlabel=r"$\zeta$", ylabel=r"$P(\theta_t^2<10^{-30})$", title="(c) collapse probability")
ax[1, 0].legend()
zz = np.linspace(0, q["growth_zeta"].max(), 100)
ax[1, 1].plot(zz, sc.quartic_log_growth(mu, zz), "k-", label=r"theory $\mu-\zeta^2/2$")
ax[1, 1].errorbar(q["growth_zeta"], q["growth_slope"], 3 * q["growth_se"], fmt="o", label="simulation (3 s.e.)")
ax[1, 1].axhline(0, color="gray", lw=0.5)
ax[1, 1].set(xlabel=r"$\zeta$", ylabel=r"growth rate of $\log|\theta|$", title="(d) log-growth near 0")
ax[1, 1].legend()
rows += [dict(panel="growth", zeta=z, rate=r, se=s, theory=sc.quartic_log_growth(mu, z))
         for z, r, s in zip(q["growth_zeta"], q["growth_slope"], q["growth_se"])]
fig.tight_layout()
save_figure(fig, pd.DataFrame(rows), figdir, "fig1_quartic")

th_rate = sc.quartic_log_growth(mu, q["growth_zeta"])
claims.check("quartic_growth_matches_ito",
             np.max(np.abs(q["growth_slope"] - th_rate) / (0.05 * np.abs(th_rate) + 3 * q["growth_se"])),
             diverged=bool(q["growth_diverged"].sum()))
div = bool(q["diverged"].sum())
P = q["prob"][-1]
claims.check("quartic_no_collapse_below", P[q["zeta"] <= 1.6 + 1e-9].max(), diverged=div)
claims.check("quartic_collapse_above", P[q["zeta"] >= 2.0 - 1e-9].min(), diverged=div)
cross = np.array([sc.crossing(q["zeta"], p) for p in q["prob"]])
print("1/2-crossings at t =", q["times"], ":", np.round(cross, 3))
claims.check("quartic_crossing", cross[-1], diverged=div)
claims.check("quartic_crossing_decreases", np.sum(np.diff(cross) < 0), diverged=div)
claims.table("fig1_quartic")

# %% [markdown]
# ## Fig. 2 — single tanh neuron: Theorem 5.1 threshold
# $f(x)=w_2\tanh(w_1x)$ under the label-noise SDE. (a) loss landscape with the final states for the
# smallest, middle and largest $\eta$; (b) $P(\|w_t\|<10^{-2})$ vs $\eta\zeta^2\sigma'(0)/2$ relative to
# $\sum xy/\sum x^2$; (c) growth rate of $\log|w_1+w_2|$ near 0 vs the linearised formula.

# %%
n = load_npz(inputs["neuron"])
thr, zeta = float(n["threshold"]), float(n["zeta"])
ratio = n["eta"] * zeta**2 / 2 / thr
fig, ax = plt.subplots(1, 3, figsize=(15, 4.3))
rows = []
im = ax[0].contourf(n["grid"], n["grid"], np.log10(n["loss"]), levels=30, cmap="viridis")
fig.colorbar(im, ax=ax[0], label=r"$\log_{10} L$")
for c, i in zip(["w", "orange", "red"], [0, len(ratio) // 2, len(ratio) - 1]):
    ok = n["final_ok"][i]
    w1, w2 = n["final_w"][0, i, ok], n["final_w"][1, i, ok]
    ax[0].plot(w1, w2, ".", ms=3, color=c, label=f"$\\eta\\zeta^2/2$ = {ratio[i] * thr:.2f}")
    rows += [dict(panel="final_states", eta=n["eta"][i], w1=a, w2=b) for a, b in zip(w1, w2)]
ax[0].set(xlabel="$w_1$", ylabel="$w_2$", title="(a) loss and final states")
ax[0].legend(fontsize=7, loc="lower right")
for k, t in enumerate(n["times"]):
    ax[1].plot(ratio, n["prob"][k], "o-", ms=3, label=f"t = {t:g}")
    rows += [dict(panel="collapse", ratio=r, t=t, prob=p) for r, p in zip(ratio, n["prob"][k])]
ax[1].axvline(1.0, color="k", ls=":", label="Theorem 5.1")
ax[1].set(xlabel=r"$\eta\zeta^2\sigma'(0)/2$ / ($\sum xy/\sum x^2$)", ylabel=r"$P(\|w_t\|<10^{-2})$",
          title="(b) collapse probability")
ax[1].legend()
ee = np.linspace(0, n["growth_eta"].max(), 100)
ax[2].plot(ee, sc.neuron_log_growth(n["x"], n["y"], ee, zeta), "k-", label="linearised theory")
ax[2].errorbar(n["growth_eta"], n["growth_slope"], 3 * n["growth_se"], fmt="o", label="simulation (3 s.e.)")
ax[2].axhline(0, color="gray", lw=0.5)
ax[2].set(xlabel=r"$\eta$", ylabel=r"growth rate of $\log|w_1+w_2|$", title="(c) log-growth near 0")
ax[2].legend()
g_th = sc.neuron_log_growth(n["x"], n["y"], n["growth_eta"], zeta)
rows += [dict(panel="growth", eta=e, rate=r, se=s, theory=t)
         for e, r, s, t in zip(n["growth_eta"], n["growth_slope"], n["growth_se"], g_th)]
fig.tight_layout()
save_figure(fig, pd.DataFrame(rows), figdir, "fig2_neuron")

gdiv = bool(n["growth_diverged"].sum())
claims.check("neuron_growth_matches_formula",
             np.sum(np.abs(n["growth_slope"] - g_th) <= 0.1 * np.abs(g_th) + 3 * n["growth_se"]), diverged=gdiv)
c1, c0 = np.polyfit(n["growth_eta"], n["growth_slope"], 1)
claims.check("neuron_growth_zero_at_threshold", (-c0 / c1) * zeta**2 / 2 / thr, diverged=gdiv)
claims.check("neuron_collapse_crossing", sc.crossing(ratio, n["prob"][-1]), diverged=bool(n["diverged"].sum()))
claims.table("fig2_neuron")

# %% [markdown]
# ## Fig. 3 — linear teacher-student: label noise prunes weak modes (paper Fig. 5)
# Per mode $r=uv-s^*+\sigma\xi$, $u\mathrel{-}=\eta rv$, $v\mathrel{-}=\eta ru$; lr drop x0.1 at the
# dashed line. (a, b) seed-mean train loss $\|XW-y\|^2/(\mathrm{var}(y)Nm)$ and test loss
# $\mathrm{mean}(W-W^*)^2$; (c) seed-mean learned singular values before the drop vs $s^*$, with the mode
# theory (lines): modes with $s^*<\eta\sigma^2/2$ collapse.

# %%
li = load_npz(inputs["linear"])
sig, steps, eta = li["sigma"], li["steps"], float(li["eta"])
fig, ax = plt.subplots(1, 3, figsize=(15, 4.3))
rows = []
tr_m, te_m = np.nanmean(li["train"], -1), np.nanmean(li["test"], -1)  # (K, S)
nseed = np.sum(np.isfinite(li["test"]), -1)
te_se = np.nanstd(li["test"], -1, ddof=1) / np.sqrt(nseed)
for j, s in enumerate(sig):
    ax[0].plot(steps[1:], tr_m[1:, j], label=f"$\\sigma$ = {s:g}")
    ax[1].plot(steps[1:], te_m[1:, j], label=f"$\\sigma$ = {s:g}")
    rows += [dict(panel="loss", sigma=s, step=k, train=a, test=b) for k, a, b in zip(steps, tr_m[:, j], te_m[:, j])]
for a, name in zip(ax[:2], ["train", "test"]):
    a.axvline(li["drop_step"], color="k", ls="--", lw=0.8)
    a.set(xscale="log", yscale="log", xlabel="step", ylabel=f"{name} loss",
          title=f"({'ab'[name == 'test']}) {name} loss")
ax[0].legend()
pm = np.nanmean(li["p_record"], 1)  # (S, M)
pse = np.nanstd(li["p_record"], 1, ddof=1) / np.sqrt(np.sum(np.isfinite(li["p_record"]), 1))
sg = np.linspace(0, li["s_star"].max() * 1.05, 300)
for j, s in enumerate(sig):
    line, = ax[2].plot(sg, sc.mode_theory(sg, float(li["s0"]), eta, s, float(li["record_step"]) * eta), lw=1)
    ax[2].errorbar(li["s_star"], pm[j], 3 * pse[j], fmt="o", ms=3, color=line.get_color(), label=f"$\\sigma$ = {s:g}")
    rows += [dict(panel="modes", sigma=s, s_star=a, s_mean=b, s_sem=c, theory=d)
             for a, b, c, d in zip(li["s_star"], pm[j], pse[j], li["theory_record"][j])]
ax[2].set(xlabel="$s^*$", ylabel=f"learned s at step {int(li['record_step'])}", title="(c) singular values")
ax[2].legend(fontsize=8)
fig.tight_layout()
save_figure(fig, pd.DataFrame(rows), figdir, "fig3_linear_teacher_student")

ldiv = bool(li["diverged"].any())
claims.check("linear_modes_match_theory", np.max(np.abs(pm - li["theory_record"]) / (3 * pse + 0.01)), diverged=ldiv)
survive = np.sum(pm > 1e-3, 1)
print("surviving modes per sigma:", survive)
claims.check("linear_surviving_decrease", np.sum(np.diff(survive) < 0), diverged=ldiv)
print("after the drop: train", tr_m[-1], "test", te_m[-1])
claims.check("linear_train_increases", np.sum(np.diff(tr_m[-1]) > 0), diverged=ldiv)
claims.check("linear_test_reduced", te_m[-1, -1] / te_m[-1, 0], diverged=ldiv)
claims.check("linear_test_monotone",
             np.sum(np.diff(te_m[-1]) <= 2 * np.sqrt(te_se[-1, 1:] ** 2 + te_se[-1, :-1] ** 2)), diverged=ldiv)
claims.table("fig3_linear_teacher_student")

# %% [markdown]
# ## Fig. 4 — independent neurons fall with learning rate and label noise (proxy of Figs. 3-4)
# (a)-(b) Fraction of independent neurons (authors' metric) of a 32-unit tanh student of a 3-unit teacher
# after SGD with label noise; markers: seeds, lines: seed means; dashed: after `steps_short` steps.
# (c)-(d) The deep network itself, trained as the authors train theirs (soft cross-entropy on the one-hot
# target plus Gaussian noise drawn at every draw, SGD momentum 0.9, weight decay): the fraction of all hidden
# neurons that are independent (per-layer values in the CSV) and the test accuracy, against lr, one colour per
# label-noise level. At quick and default scale this is an MLP on the embedded MNIST subset; at paper scale
# the authors' VGG-16 and ResNet-18 on CIFAR-10 (solid / dashed). **Panels (c)-(d) are reported as
# measured, not claimed**: the claims were declared before this panel was measured and rest on the proxy,
# chosen because the spec's earlier MLP run found no collapse while the network still learns (fraction
# $\ge 0.98$); a claim written now, after seeing the MLP's numbers, would not be a test. The paper's
# networks need a GPU (paper scale).

# %%
pr = load_npz(inputs["proxy"])
lrs, sigs = pr["lr"], pr["label_noise"]
fig, ax = plt.subplots(2, 2, figsize=(10, 8.4))
ax = ax.ravel()
rows = []
for j, s in enumerate(sigs):
    line, = ax[0].plot(lrs, np.nanmean(pr["fraction"][:, j], -1), "-", label=f"label noise {s:g}")
    ax[0].plot(np.repeat(lrs, pr["fraction"].shape[-1]), pr["fraction"][:, j].ravel(), "o", ms=4,
               color=line.get_color())
for i, lr in enumerate(lrs):
    line, = ax[1].plot(sigs, np.nanmean(pr["fraction"][i], -1), "-", label=f"lr {lr:g}")
    ax[1].plot(sigs, np.nanmean(pr["fraction_short"][i], -1), "--", color=line.get_color())
    for s_ in range(pr["fraction"].shape[-1]):
        for j, s in enumerate(sigs):
            rows.append(dict(panel="proxy", lr=lr, label_noise=s, seed=s_, fraction=pr["fraction"][i, j, s_],
                             groups=pr["groups"][i, j, s_], vanished=pr["vanished"][i, j, s_],
                             fraction_short=pr["fraction_short"][i, j, s_], test_mse=pr["test"][i, j, s_],
                             diverged=pr["diverged"][i, j, s_]))
ax[0].axhline(int(pr["teacher_units"]) / int(pr["width"]), color="k", ls=":", label="teacher (3/32)")
ax[0].set(xscale="log", xlabel="learning rate", ylabel="independent-neuron fraction", title="(a) vs learning rate")
ax[0].legend(fontsize=8)
ax[1].axhline(int(pr["teacher_units"]) / int(pr["width"]), color="k", ls=":")
ax[1].set(xlabel="label noise $\\sigma$", ylabel="independent-neuron fraction",
          title=f"(b) vs label noise (dashed: step {int(pr['steps_short'])})")
ax[1].legend(fontsize=8)

dp = load_npz(inputs["deep"])
d_lrs, d_sigs, d_archs = dp["lr"], dp["label_noise"], [str(a) for a in dp["archs"]]
d_ok = ~dp["diverged"]  # diverged networks are recorded, never plotted as data


def seed_mean(v):
    """Mean over the last axis (seeds) of the finite values; NaN where there is none."""
    n = np.isfinite(v).sum(-1)
    return np.where(n > 0, np.nansum(v, -1) / np.maximum(n, 1), np.nan)


styles, markers = ["-", "--", ":"], ["o", "s", "^"]
for a, arch in enumerate(d_archs):
    for j, s in enumerate(d_sigs):
        color = f"C{j}"
        for k, key in ((2, "fraction_total"), (3, "test_acc")):
            v = np.where(d_ok[a, :, j], dp[key][a, :, j], np.nan)  # (lr, seed)
            label = f"{arch}, label noise {s:g}" if len(d_archs) > 1 else f"label noise {s:g}"
            ax[k].plot(d_lrs, seed_mean(v), styles[a % 3], color=color, label=label)
            ax[k].plot(np.repeat(d_lrs, v.shape[-1]), v.ravel(), markers[a % 3], ms=3, color=color)
    for i, lr in enumerate(d_lrs):
        for j, s in enumerate(d_sigs):
            for r in range(int(dp["seeds"])):
                net = dict(panel="deep", arch=arch, dataset=str(dp["dataset"]), lr=lr, label_noise=s, seed=r,
                           fraction_total=dp["fraction_total"][a, i, j, r], train_acc=dp["train_acc"][a, i, j, r],
                           test_acc=dp["test_acc"][a, i, j, r], diverged=dp["diverged"][a, i, j, r],
                           diverged_step=dp["diverged_step"][a, i, j, r])
                for n, name in enumerate(dp["layer_names"][a]):
                    if name:
                        rows.append(dict(net, layer=str(name), width=dp["layer_width"][a, n],
                                         fraction=dp["fraction"][a, i, j, r, n], groups=dp["groups"][a, i, j, r, n],
                                         vanished=dp["vanished"][a, i, j, r, n]))
what = (f"MLP {'-'.join(str(w) for w in dp['mlp_widths'])} {dp['mlp_activation']}" if d_archs == ["mlp"]
        else " and ".join(d_archs))
n_div = int(dp["diverged"].sum())
ax[2].set(xscale="log", xlabel="learning rate", ylabel="independent fraction of hidden neurons",
          title=f"(c) {what} on {dp['dataset']}, {int(dp['steps'])} steps (reported)"
          + (f"\n{n_div} of {dp['diverged'].size} networks diverged (not shown)" if n_div else ""))
ax[2].legend(fontsize=7)
ax[3].axhline(0.1, color="k", ls=":", lw=0.8, label="chance")
ax[3].set(xscale="log", xlabel="learning rate", ylabel="test accuracy", title="(d) test accuracy of (c)")
ax[3].legend(fontsize=7)
fig.tight_layout()
save_figure(fig, pd.DataFrame(rows), figdir, "fig4_independent_neurons")
print(f"deep networks: {int(dp['diverged'].sum())} of {dp['diverged'].size} diverged (not plotted)")
for a, arch in enumerate(d_archs):
    print(f"{arch}: fraction of independent hidden neurons, lr (rows) x label noise (columns), seed mean:\n"
          f"{np.round(seed_mean(np.where(d_ok[a], dp['fraction_total'][a], np.nan)), 3)}\n"
          f"test accuracy:\n{np.round(seed_mean(np.where(d_ok[a], dp['test_acc'][a], np.nan)), 3)}")

pdiv = bool(pr["diverged"].any())
il, isg = int(np.argmax(lrs)), int(np.argmax(sigs))
ihalf = int(np.argmin(np.abs(sigs - 0.5)))
F = pr["fraction"]
claims.check("proxy_monotone_in_noise", np.sum(np.all(np.diff(F[il], axis=0) <= 0, axis=0)), diverged=pdiv)
claims.check("proxy_monotone_in_lr", np.sum(np.all(np.diff(F[:, isg], axis=0) <= 0, axis=0)), diverged=pdiv)
print("groups at the largest lr and noise:", pr["groups"][il, isg])
claims.check("proxy_teacher_groups", np.sum(pr["groups"][il, isg] == int(pr["teacher_units"])), diverged=pdiv)
claims.check("proxy_longer_collapses", np.sum(F[il, ihalf] < pr["fraction_short"][il, ihalf]), diverged=pdiv)
claims.table("fig4_independent_neurons")

# %% [markdown]
# ## Fig. 5 — a longer large-learning-rate phase simplifies the network (proxy of Fig. 6)
# lr 0.1 until the drop, then 0.01 for a fixed fine-tuning phase (label noise 0.5). (a) seed-mean
# independent-neuron fraction over training; (b) final test error and (c) final fraction vs drop step
# (one line per seed: same initialisation and minibatches for every drop).

# %%
ll = load_npz(inputs["large_lr"])
drops, Fs = ll["drop_steps"], int(ll["finetune_steps"])
fig, ax = plt.subplots(1, 3, figsize=(15, 4.2))
rows = []
for d, drop in enumerate(drops):
    live = ll["snap_steps"] <= drop + Fs
    ax[0].plot(ll["snap_steps"][live], np.nanmean(ll["snap_fraction"][live, d], -1), "o-", ms=3,
               label=f"drop at {drop}")
    ax[0].axvline(drop, color="gray", lw=0.5, ls="--")
    rows += [dict(panel="history", drop=drop, step=k, seed=s, fraction=f, test_mse=t, train_mse=tr)
             for k, fs, ts, trs in zip(ll["snap_steps"][live], ll["snap_fraction"][live, d], ll["snap_test"][live, d],
                                       ll["snap_train"][live, d])
             for s, (f, t, tr) in enumerate(zip(fs, ts, trs))]
for s in range(ll["test"].shape[1]):
    ax[1].plot(drops, ll["test"][:, s], "o-", label=f"seed {s}")
    ax[2].plot(drops, ll["fraction"][:, s], "o-", label=f"seed {s}")
    rows += [dict(panel="final", drop=d, seed=s, test_mse=t, fraction=f, train_mse=tr)
             for d, t, f, tr in zip(drops, ll["test"][:, s], ll["fraction"][:, s], ll["train"][:, s])]
ax[0].set(xlabel="step", ylabel="independent-neuron fraction", title="(a) fraction during training")
ax[0].legend(fontsize=8)
ax[1].set(xlabel="drop step", ylabel="final test MSE", title="(b) test error after fine-tuning", yscale="log")
ax[2].set(xlabel="drop step", ylabel="final fraction", title="(c) independent neurons after fine-tuning")
ax[1].legend(fontsize=8)
fig.tight_layout()
save_figure(fig, pd.DataFrame(rows), figdir, "fig5_large_lr")

ddiv = bool(ll["diverged"].any())
claims.check("large_lr_fewer_neurons", np.sum(ll["fraction"][-1] < ll["fraction"][0]), diverged=ddiv)
claims.check("large_lr_better_test", np.sum(ll["test"][-1] < ll["test"][0]), diverged=ddiv)
claims.table("fig5_large_lr")

# %% [markdown]
# ## Closing note: where a claim can fail for a known reason
# The scorecard of this run is printed below; what follows explains mechanisms, not numbers of one run.
# The linear mode claim compares every (mode, sigma) seed mean with a 3 s.e.m. band, while near-threshold
# modes have a Gamma stationary law of shape $s^*/(\eta\sigma^2)-1/2<1$: heavy-tailed, so the s.e.m. is
# underestimated and a few seed means can fall below theory by more than it. The two-layer proxy may keep
# mixed units besides the teacher's directions, so its independent-unit count can exceed the teacher's.
# The large-lr proxy tests the paper's VGG-16 claim on a small network, where a later lr drop need not
# give a lower test error. Fig. 4 (c)-(d) is reported, not claimed (one seed at default scale); the
# authors' loss (divided by the noisy target mass, which at batch 128 comes near zero now and then) adds
# heavy-tailed steps. The paper's VGG-16 / ResNet-18 sweep is the paper scale.

# %%
n_pass = sum(c.passed for c in claims.claims)
print(f"{n_pass} / {len(claims.claims)} claims pass at scale {scale}")
for c in claims.claims:
    if not c.passed:
        print(f"  {c.status.upper()}: {c.id} measured {c.measured:.4g}, band {c.band}")
claims.write(claims_path)

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
# # Deep linear networks: generalization dynamics and transfer
#
# Lampinen & Ganguli, *An analytic theory of generalization dynamics and transfer
# learning in deep linear networks*, ICLR 2019; mode dynamics from Saxe, McClelland &
# Ganguli, ICLR 2014. Every curve labelled *theory* comes from the closed forms in
# `spdl.deep_linear`; every marker comes from networks trained by full-batch gradient
# descent (`spdl.engine.LinearGD`: the gradients from the data's second moments, equal to
# plain backpropagation up to rounding) in the rules `deep_linear_*`. This notebook only
# loads, plots and checks claims.
#
# Conventions (our choices where the paper is silent): loss $\frac12\|WX-\hat Y\|_F^2$,
# $\tau = 1/\mathrm{lr}$, time in units of $\tau$; noise entries of variance
# $\sigma_z^2/N_1$ (transfer: see the config's `noise_convention`); rank-3 teachers have
# singular values $\bar s\times$`rank3_profile`; the Marchenko–Pastur averages over the
# $\min(N_1,N_3)-\mathrm{rank}$ noise modes are integrals of the MP density (Gauss–Legendre
# quadrature, as the authors integrate it; the learned noise modes are the law's top
# $(N_2-\mathrm{rank})/(\min(N_1,N_3)-\mathrm{rank})$ fraction). Transfer (Fig. 5) uses the authors'
# protocol: training-aligned initialisation from each run's own data at product scale 1e-5.
# Varying $P$ (Fig. 6): every $P$ starts from the same product scale $\epsilon$ (our choice), so the
# run maps onto $P = N_1$ at SNR $\bar s\sqrt{P/N_1}$, time $t/\sqrt{P/N_1}$ and initial scale
# $\epsilon\sqrt{P/N_1}$; the theory of each $P$ uses all three. Below $N_1$ (our choices and derivation):
# one-hot inputs on $P$ of the $N_1$ directions, the same learning-rate rule $lr\,N_1/P$, teacher $\bar s$ =
# effective SNR (the seen block keeps the SNR $\bar s$), theory with the frozen subspace
# (`dl.varying_p_theory`); the "late-time" error is the last record of the run (mapped time $t_{max}$),
# our stand-in for $t \to \infty$.
# Fig. 8 (randomized labels, the authors' poster): "randomized targets keep the mean and variance" is
# read as i.i.d. Gaussian targets with the real targets' mean and variance (shuffling targets among
# one-hot inputs would leave the spectrum unchanged); the students are random orthogonal at product scale
# 1e-5 (our choice). Fig. 9 (network size): random orthogonal students of several widths on the same tasks,
# against the TA theory of each width (widths below a teacher's rank are not compared).
#
# Divergence is an outcome, never data: every run records per member whether and when it diverged
# (non-finite or exploding loss). Means and minima use only the members that did not; each panel says
# "n of m diverged" where any did, and a claim that depends on a diverged member fails with status
# *diverged* in the scorecard.

# %% tags=["parameters"]
inputs = {}
figdir = "results/figures/deep_linear"
claims_path = "results/claims/deep_linear.json"
declarations = "workflow/claims/deep_linear.yaml"
scale = "default"
cfg = {}  # the keys only this notebook reads: modes.wave_times, optimum.snr

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy.stats import kstest, studentized_range

from spdl.studies import deep_linear as dl
from spdl.claims import ClaimBook
from spdl.stats import first_crossing
from spdl.figures import save_figure, use_style
from spdl.io import load_npz
from spdl.jobs import grid

use_style()
claims = ClaimBook.declared("deep_linear", scale, declarations)
# every run records the noise_std it used; the formulas are written in units of the noise (SNR = sbar / noise_std)
sz = float(load_npz(inputs["spectrum"])["noise_std"])


def theory(t, sbar, n1, n2, n3, eps, D=2, p_ratio=1):
    """dl.varying_p_theory at noise_std sz: SNR sbar/sz, start eps/sz, time t * sz^(2-2/D) (rescaled mode ODE);
    p_ratio = 1 is dl.theory_errors (P = N1)."""
    return dl.varying_p_theory(np.asarray(t) * sz ** (2 - 2 / D), np.asarray(sbar, float) / sz, p_ratio, n1, n2, n3,
                               eps / sz, n_layers=D)


def note_diverged(ax, n_div, n, what="members"):
    """Say in the panel how many of its members diverged (they are not in the curves and means)."""
    if n_div:
        ax.text(0.02, 0.02, f"{n_div} of {n} {what} diverged (not shown)", transform=ax.transAxes, color="C3",
                fontsize=8, va="bottom", bbox=dict(facecolor="white", alpha=0.85, lw=0), zorder=10)

# %% [markdown]
# ## Fig. 1 — mode dynamics and the wave of learning
# A training-aligned mode of strength $\hat s$ obeys $\tau\dot s = 2s(\hat s - s)$, a
# sigmoid with transition at $t^*/\tau = \ln(\hat s/\epsilon - 1)/(2\hat s)$: strong modes
# are learned first. Markers: scalar two-layer networks trained by GD.

# %%
m = load_npz(inputs["modes"])
m_div = m["diverged"].astype(bool)  # per mode
mc = dict(t_max=float(m["t_max"]), eps=float(m["eps"]), shat=m["curve_shat"], wave_times=cfg["modes"]["wave_times"])
t_th = np.linspace(0, mc["t_max"], 400)
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
rows = []
for k, sh in enumerate(mc["shat"]):
    i = int(np.argmin(abs(m["shat"] - sh)))
    th = dl.mode_trajectory(t_th, sh, mc["eps"])
    line, = ax1.plot(t_th, th, label=f"$\\hat s$ = {sh:g}" + (" (diverged)" if m_div[i] else ""))
    sub = slice(None, None, max(1, len(m["t"]) // 40))
    if not m_div[i]:
        ax1.plot(m["t"][sub], m["s"][sub, i], "o", ms=3, color=line.get_color())
    rows += [dict(panel="s_vs_t", shat=sh, t=t, s=s, source="simulation", diverged=bool(m_div[i]))
             for t, s in zip(m["t"], m["s"][:, i])]
    rows += [dict(panel="s_vs_t", shat=sh, t=t, s=s, source="theory") for t, s in zip(t_th, th)]
ax1.set(xlabel="$t/\\tau$", ylabel="mode strength $s(t)$", title="lines: theory, markers: GD")
ax1.legend(frameon=False)
sh_grid = np.linspace(m["shat"].min(), m["shat"].max(), 300)
for tw in mc["wave_times"]:
    th = dl.mode_trajectory(tw, sh_grid, mc["eps"]) / sh_grid
    line, = ax2.plot(sh_grid, th, label=f"$t/\\tau$ = {tw:g}")
    sim = np.array([np.nan if m_div[i] else np.interp(tw, m["t"], m["s"][:, i])
                    for i in range(len(m["shat"]))]) / m["shat"]
    ax2.plot(m["shat"], sim, "o", ms=3, color=line.get_color())
    rows += [dict(panel="wave", t=tw, shat=s, s_over_shat=v, source="simulation", diverged=bool(d))
             for s, v, d in zip(m["shat"], sim, m_div)]
ax2.set(xlabel="$\\hat s$", ylabel="$s/\\hat s$", title="wave of learning")
ax2.legend(frameon=False)
note_diverged(ax2, int(m_div.sum()), len(m_div), "modes")
save_figure(fig, pd.DataFrame(rows), figdir, "fig1_mode_dynamics")

# %% [markdown]
# **Claim.** GD follows the mode ODE. Band: GD is the forward-Euler discretisation of
# the ODE with step $\mathrm{lr}$, whose time error is of order $\mathrm{lr}\,\hat s$ per
# unit time; at the largest $\hat s$ and the steepest point of the sigmoid this moves
# $s/\hat s$ by at most a few percent at lr = 1e-3, so we allow 0.05.

# %%
theory_s = dl.mode_trajectory(m["t"][:, None], m["shat"][None, :], mc["eps"])
dev = np.max(np.abs(m["s"] - theory_s)[:, ~m_div] / m["shat"][None, ~m_div]) if (~m_div).any() else np.nan
claims.check("mode_dynamics_match_ode", dev, diverged=bool(m_div.any()))
claims.table("fig1_mode_dynamics")

# %% [markdown]
# ## Fig. 2 — spiked random-matrix spectrum
# The input-output correlation is a low-rank teacher plus noise. Its noise singular values
# follow Marchenko–Pastur on $[1-\sqrt A, 1+\sqrt A]$; a teacher mode $\bar s$ above the
# detection threshold $A^{1/4}$ pops out at $\hat s(\bar s)$ with singular-vector overlap
# $O(\bar s)$; below it is lost in the bulk ($O = 0$).

# %%
s2 = load_npz(inputs["spectrum"])
A_ex, n1_ex = float(s2["example_aspect"]), int(s2["example_n1"])
fig, axes = plt.subplots(1, 3, figsize=(14, 4))
ax = axes[0]
vals = s2["example_shat"] / sz
ax.hist(vals, bins=60, density=False, alpha=0.5, label="simulated singular values")
xs = np.linspace(1e-3, 1 + np.sqrt(A_ex) + 0.05, 400)
n_noise = len(vals) - len(s2["example_sbar"])
binw = (vals.max() - vals.min()) / 60
ax.plot(xs, dl.mp_density(xs, A_ex) * n_noise * binw, "k", label="Marchenko–Pastur")
for sb in s2["example_sbar"]:
    ax.axvline(dl.spiked_shat(sb / sz, A_ex), color="C3", ls="--")
ax.set(xlabel="singular value $\\hat s$", ylabel="count", yscale="log",
       title=f"N1 = {n1_ex}, A = {A_ex:g}, $\\bar s$ = {', '.join(f'{v:g}' for v in s2['example_sbar'])}")
ax.legend(frameon=False, fontsize=8)
rows = [dict(panel="example", singular_value=v, source="simulation") for v in vals]
sbar = s2["sbar"] / sz
sb_th = np.linspace(sbar.min(), sbar.max(), 300)
for i, A in enumerate(s2["aspects"]):
    top, ov = s2["top_shat"][i] / sz, s2["overlap"][i]
    line, = axes[1].plot(sb_th, dl.spiked_shat(sb_th, A), label=f"A = {A:g}")
    axes[1].errorbar(sbar, top.mean(1), yerr=top.std(1), fmt="o", ms=3, color=line.get_color())
    axes[2].plot(sb_th, dl.spiked_overlap(sb_th, A), color=line.get_color())
    axes[2].errorbar(sbar, ov.mean(1), yerr=ov.std(1), fmt="o", ms=3, color=line.get_color())
    sb_below, ov_below = s2["below_fractions"] * A ** 0.25, s2["below_overlap"][i]
    axes[2].errorbar(sb_below, ov_below.mean(1), yerr=ov_below.std(1), fmt="x", ms=6, color=line.get_color())
    rows += [dict(panel="below_threshold", aspect=A, sbar=sb, fraction=f, overlap_mean=a, overlap_sd=b,
                  overlap_theory=0.0)
             for sb, f, a, b in zip(sb_below, s2["below_fractions"], ov_below.mean(1), ov_below.std(1))]
    rows += [dict(panel="sweep", aspect=A, sbar=s, shat_mean=a, shat_sd=b, overlap_mean=c, overlap_sd=d,
                  shat_theory=dl.spiked_shat(s, A), overlap_theory=dl.spiked_overlap(s, A))
             for s, a, b, c, d in zip(sbar, top.mean(1), top.std(1), ov.mean(1), ov.std(1))]
axes[1].set(xlabel="$\\bar s$", ylabel="top singular value $\\hat s$", title="lines: theory, markers: mean ± sd")
axes[2].set(xlabel="$\\bar s$", ylabel="overlap $O = |\\hat u\\cdot u||\\hat v\\cdot v|$",
            title="x: extra points below the threshold $A^{1/4}$")
axes[1].legend(frameon=False)
save_figure(fig, pd.DataFrame(rows), figdir, "fig2_spiked_spectrum")

# %% [markdown]
# **Claims.** Away from the threshold (by twice the finite-size width $N_1^{-1/3}$ of the
# transition) the simulated means match the formulas (top singular values within 3 %, overlaps
# within 0.06). Below the threshold the overlap must vanish close to it, not only far below: it is
# measured at $\bar s = f A^{1/4}$, $f$ = 0.5 and 0.75, for every $A$ (bands and reasons: the
# declarations file).

# %%
sweep = pd.DataFrame([r for r in rows if r["panel"] == "sweep"])
margin = 2 * int(s2["n1"]) ** (-1 / 3)
above = sweep[sweep.sbar > sweep.aspect ** 0.25 + margin]
no_above = "" if len(above) else "no sbar of the grid lies above the detection threshold by the margin"
claims.check("spiked_shat_matches", np.max(np.abs(above.shat_mean / above.shat_theory - 1)) if len(above) else None,
             reason=no_above)
claims.check("spiked_overlap_matches",
             np.max(np.abs(above.overlap_mean - above.overlap_theory)) if len(above) else None,
             reason=no_above)
claims.check("overlap_zero_below_threshold_near_edge", np.max(s2["below_overlap"].mean(-1)))
claims.table("fig2_spiked_spectrum")


# %% [markdown]
# ## Figs. 3 and 4 — train and test error over time
# Theory (lines) for training-aligned (TA) students against TA students (filled markers) and
# random orthogonal students (open markers) trained by GD, mean over seeds. The test error
# falls while the teacher modes are learned, then rises as the noise modes are fitted.

# %%
def load_dynamics(hidden):
    dyn = load_npz(inputs[f"dynamics_h{hidden}"])
    assert float(dyn["noise_std"]) == sz, "all runs must share noise_std"
    return dyn, dict(eps=float(dyn["eps"]), t_max=float(dyn["t_max"]))


def finite_mean(v):
    """Mean of the finite entries (NaN if none): the members that did not diverge."""
    v = np.asarray(v, float)
    return v[np.isfinite(v)].mean() if np.isfinite(v).any() else np.nan


def finite_std(v, ddof=0):
    v = np.asarray(v, float)[np.isfinite(v)]
    return v.std(ddof=ddof) if len(v) > ddof else np.nan


def teacher(rank, snr):
    profile = load_npz(inputs["dynamics_h1"])["rank3_profile"]
    return np.array([snr]) if rank == 1 else snr * profile


def dynamics_figure(hidden, name):
    dyn, depth = load_dynamics(hidden)
    D, t = hidden + 1, dyn["t"]
    n1, n2, n3 = int(dyn["n1"]), int(dyn["n2"]), int(dyn["n3"])
    fig, axes = plt.subplots(2, 3, figsize=(14, 8))
    rows, summary = [], []
    for r_i, rank in enumerate((1, 3)):
        for c_i, snr in enumerate(np.unique(dyn["snr"])):
            color = f"C{c_i}"
            tr_th, te_th = theory(t, teacher(rank, snr), n1, n2, n3, depth["eps"], D)
            axes[0, r_i].plot(t, np.log(tr_th), color=color, label=f"SNR {snr:g}")
            axes[1, r_i].plot(t, np.log(te_th), color=color)
            for init, mk in (("aligned", "o"), ("random", "s")):
                sel = (dyn["rank"] == rank) & (dyn["snr"] == snr) & (dyn["init"] == init)
                div = dyn["diverged"][sel].astype(bool)  # seeds in order: TA and random of a seed pair up
                tr, te = dl.mean_curve(dyn["train"][:, sel], div), dl.mean_curve(dyn["test"][:, sel], div)
                sub = slice(None, None, max(1, len(t) // 30))
                face = color if init == "aligned" else "none"
                axes[0, r_i].plot(t[sub], np.log(tr[sub]), mk, ms=3, color=color, mfc=face)
                axes[1, r_i].plot(t[sub], np.log(te[sub]), mk, ms=3, color=color, mfc=face)
                mins, topt = dl.member_minima(t, dyn["test"][:, sel], div)  # NaN for diverged members
                if init == "aligned":
                    ta_mins = mins
                ratio = (mins / ta_mins)[np.isfinite(mins / ta_mins)]  # seeds where both students survived
                summary.append(dict(rank=rank, snr=snr, init=init, min_test=finite_mean(mins),
                                    min_test_sd=finite_std(mins),
                                    paired_ratio=finite_mean(ratio),
                                    paired_ratio_sem=finite_std(ratio, ddof=1) / np.sqrt(len(ratio)),
                                    t_opt=finite_mean(topt), t_opt_sd=finite_std(topt), train_mean=tr, test_mean=te,
                                    train_theory=tr_th, test_theory=te_th, n_members=len(div),
                                    n_diverged=int(div.sum())))
                rows += [dict(rank=rank, snr=snr, init=init, t=a, ln_train=np.log(b), ln_test=np.log(c),
                              ln_train_theory=np.log(d), ln_test_theory=np.log(e), n_members=len(div),
                              n_diverged=int(div.sum()))
                         for a, b, c, d, e in zip(t, tr, te, tr_th, te_th)]
        axes[0, r_i].set(title=f"rank {rank} teacher", ylabel="ln train error")
        axes[1, r_i].set(xlabel="$t/\\tau$", ylabel="ln test error")
        axes[0, r_i].legend(frameon=False, fontsize=8)
        of_rank = [x for x in summary if x["rank"] == rank]
        note_diverged(axes[1, r_i], sum(x["n_diverged"] for x in of_rank), sum(x["n_members"] for x in of_rank))
    s = pd.DataFrame(summary)
    ta, rnd = s[s.init == "aligned"].reset_index(), s[s.init == "random"].reset_index()
    for ax, key, label in ((axes[0, 2], "min_test", "minimum test error"), (axes[1, 2], "t_opt", "$t_{opt}/\\tau$")):
        for rank, mk in ((1, "o"), (3, "^")):
            sel = ta["rank"] == rank
            ax.errorbar(ta[key][sel], rnd[key][sel], xerr=ta[key + "_sd"][sel], yerr=rnd[key + "_sd"][sel],
                        fmt=mk, label=f"rank {rank}")
        lim = [0, max(ta[key].max(), rnd[key].max()) * 1.1]
        ax.plot(lim, lim, "k:", lw=1)
        ax.set(xlabel=f"TA student: {label}", ylabel=f"random student: {label}")
        ax.legend(frameon=False, fontsize=8)
    n_div = int(s.n_diverged.sum())
    fig.suptitle(f"{hidden} hidden layer{'s' if hidden > 1 else ''}: lines theory, filled TA, open random"
                 + (f"; {n_div} of {int(s.n_members.sum())} students diverged (not in the means)" if n_div else ""))
    save_figure(fig, pd.DataFrame(rows), figdir, name)
    return s, ta, rnd


def dynamics_claims(hidden, name, s, ta, rnd):
    # RMS of ln(error) of the seed-averaged TA students against theory, allowing transition
    # times to be off by 5 %: the outliers' shat fluctuate by about N1^(-1/2) (4 % of shat at
    # N1 = 100), shifting transitions by that fraction, and deep students' transitions are so steep
    # that such a shift is a large vertical gap (bands and reasons: the declarations file).
    dyn, depth = load_dynamics(hidden)
    t, D = dyn["t"], hidden + 1
    n1, n2, n3 = int(dyn["n1"]), int(dyn["n2"]), int(dyn["n3"])
    t_fine = np.linspace(0, t[-1], 20 * len(t))
    th_fine = {(r, snr): theory(t_fine, teacher(r, snr), n1, n2, n3, depth["eps"], D)
               for r, snr in zip(ta["rank"], ta["snr"])}  # one quadrature per condition

    def rms(curves, which):
        d = [dl.time_tolerant_log_distance(t, c, t_fine, th_fine[(r, snr)][which], 0.05)
             for c, r, snr in zip(curves, ta["rank"], ta["snr"])]
        return np.sqrt(np.mean(np.concatenate(d) ** 2))

    # A claim on the TA students depends on every TA member, one on the comparison on every member: if one
    # diverged the claim fails as diverged, whatever the survivors show. NaN never hides behind min()/max():
    # numpy's reductions propagate it, so a NaN measure fails as "not finite".
    ta_div, any_div = bool(ta.n_diverged.sum()), bool(s.n_diverged.sum())
    dev_te, dev_tr = rms(ta.test_mean, 1), rms(ta.train_mean, 0)
    claims.check(f"h{hidden}_test_follows_theory", dev_te, diverged=ta_div)
    claims.check(f"h{hidden}_train_follows_theory", dev_tr, diverged=ta_div)
    # Overfitting: every condition's final test error exceeds its minimum (the noise modes are fit).
    rise = np.min(np.array([a[-1] / np.min(a) for a in ta.test_mean]))
    claims.check(f"h{hidden}_test_rises_after_minimum", rise, diverged=ta_div)
    # Train error never increases (beyond float32 rounding).
    up = np.max(np.array([np.max(np.diff(a) / a[:-1]) for a in ta.train_mean]))
    claims.check(f"h{hidden}_train_monotone", up, diverged=ta_div)
    # Paired by seed (TA and random students of a seed see the same data): ratio of minima. "Same"
    # means within 10 % once the seed noise is allowed for: |mean ratio - 1| - 3 s.e. <= 0.1. At a weak
    # teacher near the bulk edge the random student sometimes lets a noise mode escape first, so the
    # per-seed ratios are skewed and the standard error matters.
    excess = np.max(np.abs(rnd.paired_ratio.to_numpy() - 1) - 3 * rnd.paired_ratio_sem.to_numpy())
    claims.check(f"h{hidden}_random_same_min_test", excess, diverged=any_div)
    # Random students learn later: per (condition, seed) pair on the same data, the time at which the test
    # error first falls to the geometric midpoint sqrt(test(0) * min test(TA)) (interpolated between records),
    # strictly later for the random student. A pair with a diverged member, or a crossing that never happens
    # (NaN), does not pass.
    n_later = 0
    for rank, snr in zip(ta["rank"], ta["snr"]):
        base = (dyn["rank"] == rank) & (dyn["snr"] == snr)
        for seed in np.unique(dyn["seed"][base]):
            (i_ta,), (i_rnd,) = (np.nonzero(base & (dyn["seed"] == seed) & (dyn["init"] == k))[0]
                                 for k in ("aligned", "random"))
            if dyn["diverged"][i_ta] or dyn["diverged"][i_rnd]:
                continue
            level = np.sqrt(dyn["test"][0, i_ta] * np.min(dyn["test"][:, i_ta]))
            t_ta, t_rnd = (first_crossing(t, -dyn["test"][:, i], -level) for i in (i_ta, i_rnd))
            n_later += bool(t_rnd > t_ta)  # False when either is NaN
    claims.check(f"h{hidden}_random_learns_later", n_later, diverged=any_div)
    # Simulated stopping time vs theory: how far above its minimum the theory curve is at the seed-mean t_opt
    # of the TA students (NaN if every seed of a condition diverged: the max then propagates it).
    excess_t = np.max(np.array([
        theory([t_opt], teacher(r, snr), n1, n2, n3, depth["eps"], D)[1][0] / np.min(th_fine[(r, snr)][1]) - 1
        if np.isfinite(t_opt) else np.nan for r, snr, t_opt in zip(ta["rank"], ta["snr"], ta["t_opt"])]))
    claims.check(f"h{hidden}_t_opt_matches_theory", excess_t, diverged=ta_div)


# %%
hidden_list = sorted(int(k.removeprefix("dynamics_h")) for k in inputs if k.startswith("dynamics_h"))
dyn_summary = {}
for hidden in hidden_list:
    name = "fig3_dynamics_1hidden" if hidden == 1 else "fig4_dynamics_3hidden"
    dyn_summary[hidden] = dynamics_figure(hidden, name)

# %% [markdown]
# **Claims (Fig. 3, one hidden layer).** TA students follow the theory; test error falls then
# rises; train error falls monotonically; random students reach the same minimum and learn later
# (strictly, in every (condition, seed) pair); the TA students' stopping time is optimal on the
# theory curve.

# %%
dynamics_claims(1, "fig3_dynamics_1hidden", *dyn_summary[1])
claims.table("fig3_dynamics_1hidden")

# %% [markdown]
# **Claims (Fig. 4, three hidden layers).** Same claims for depth 4 (mode ODE
# $\tau\dot s = D s^{2-2/D}(\hat s - s)$). Depth-4 students start at the paper's product scale
# eps = 1e-5, which needs t/tau ~ 150 (fewer seeds at the default scale to pay for it). A larger
# start is not a harmless shortcut: at eps = 1e-3 the random students' minimum at the weakest
# rank-1 teacher (SNR 2, just above the noise bulk) was about 20 % above the TA minimum in 9 of
# 10 seeds (14 % at eps = 1e-4), because which mode escapes first depends on the random initial
# overlaps, and the weak teacher mode competes with the top noise modes.

# %%
if 3 in dyn_summary:
    dynamics_claims(3, "fig4_dynamics_3hidden", *dyn_summary[3])
claims.table("fig4_dynamics_3hidden")

# %% [markdown]
# ## Fig. 5 — transfer between tasks
# $T(A\leftarrow B) = \min_t \mathrm{test}_A(\text{alone}) - \min_t \mathrm{test}_A(\text{joint})$
# on raw errors: positive when training with task B helps task A.

# %%
tr = pd.DataFrame({k: v for k, v in load_npz(inputs["transfer"]).items() if np.ndim(v) == 1})
agg = dl.transfer_table(tr)  # means over the runs that did not diverge; n and n_diverged per condition
sa_list = sorted(tr.sbar_a.unique())
fig, axes = plt.subplots(1, len(sa_list), figsize=(4.5 * len(sa_list), 4))
for ax, sa in zip(np.atleast_1d(axes), sa_list):
    for sb, g in agg[agg.sbar_a == sa].groupby("sbar_b"):
        line = ax.errorbar(g.q, g["mean"], yerr=g["sem"], marker="o", ms=4, label=f"$\\bar s_B$ = {sb:g}")
        hit = g[g.n_diverged > 0]  # conditions with diverged runs: marked on the axis
        ax.plot(hit.q, np.zeros(len(hit)), "x", ms=8, color=line[0].get_color())
    ax.axhline(0, color="k", lw=0.8)
    ax.set(xlabel="input alignment q", ylabel="T(A←B)", title=f"$\\bar s_A$ = {sa:g}")
    ax.legend(frameon=False, fontsize=8)
    g = agg[agg.sbar_a == sa]
    note_diverged(ax, int(g.n_diverged.sum()), int(g.n.sum()), "runs (x: conditions with diverged runs)")
save_figure(fig, agg, figdir, "fig5_transfer")

# %% [markdown]
# **Claims.** Signs as strict counts over seeds (a seed whose run diverged does not pass; the
# claim is then marked diverged); $T$ growing with $q$ per seed over $q$ = 0, 0.5, 1; $|T|$ at
# $\bar s_A = 100$ against the paper's order 1e-4 (bands: the declarations file).

# %%
def at(sa, q, sb=None):
    g = agg[(agg.sbar_a == sa) & np.isclose(agg.q, q)]
    return g if sb is None else g[g.sbar_b == sb]


def diverged_in(g):
    """Whether any run behind the conditions g diverged: the claim then fails as diverged."""
    return bool(g.n_diverged.sum())


def per_seed(sa, sb, q):
    """T per seed (NaN where a run diverged) at one condition, indexed by seed."""
    g = tr[(tr.sbar_a == sa) & (tr.sbar_b == sb) & np.isclose(tr.q, q)]
    return g.set_index("seed").transfer.where(~g.set_index("seed").diverged.astype(bool))


sb_max = agg.sbar_b.max()
weak, mid, strong = sa_list[0], sa_list[1], sa_list[-1]
# comparisons with NaN are False: a diverged seed never passes
claims.check("transfer_weak_aligned_helps", int((per_seed(weak, sb_max, 1.0) > 0).sum()),
             diverged=diverged_in(at(weak, 1.0, sb_max)))
absent_q = [q for q in (0.0, 0.5, 1.0) if not np.isclose(tr.q, q).any()]
if absent_q:  # the claim needs the three overlaps; a sweep without one of them cannot measure it
    claims.check("transfer_weak_grows_with_q", float("nan"), reason=f"transfer.q has no {absent_q}")
else:
    t0, t5, t1 = (per_seed(weak, sb_max, q) for q in (0.0, 0.5, 1.0))
    claims.check("transfer_weak_grows_with_q", int(((t0 < t5) & (t5 < t1)).sum()),
                 diverged=diverged_in(agg[(agg.sbar_a == weak) & (agg.sbar_b == sb_max)]))
claims.check("transfer_mid_misaligned_hurts", int((per_seed(mid, sb_max, 0.0) < 0).sum()),
             diverged=diverged_in(at(mid, 0.0, sb_max)))
claims.check("transfer_mid_aligned_helps", int((per_seed(mid, sb_max, 1.0) > 0).sum()),
             diverged=diverged_in(at(mid, 1.0, sb_max)))
g = agg[agg.sbar_a == strong]
claims.check("transfer_strong_negligible", np.max(np.abs(g["mean"].to_numpy()) + 2 * g["sem"].to_numpy()),
             diverged=diverged_in(g))
claims.table("fig5_transfer")

# %% [markdown]
# ## Fig. 6 — varying the number of samples
# With $P \ge N_1$ whitened inputs, the data enter only through $\bar s\sqrt{P/N_1}$: the
# minimum test error collapses on that effective SNR (line: theory at $P = N_1$).
# Below $N_1$ (one-hot inputs on $P$ of the $N_1$ directions, our choice) the network sees a
# $P$-dimensional input subspace: the seen block is the $N_1' = P$ problem at the same SNR $\bar s$
# (aspect $N_3/P$), and the $N_1 - P$ unseen directions are a frozen subspace where the student keeps
# its initial weights, never learns the teacher's part (a fraction $1 - P/N_1$ of the error) and fits
# no noise (Advani & Saxe 2017, arXiv:1710.03667; our derivation in `dl.varying_p_theory`). There the
# effective SNR is $\bar s$ itself, so the runs below $N_1$ use $\bar s$ = effective SNR. Right panel:
# at the fixed teacher $\bar s = 2$, the optimally stopped error falls monotonically with $P$ while the
# late-time error (end of the run, mapped time $t_{max}$) peaks at $P = N_1$.

# %%
vp_npz = load_npz(inputs["varying_p"])
vp = pd.DataFrame({k: v for k, v in vp_npz.items() if np.ndim(v) == 1})
vp_div = vp.diverged.astype(bool)
vp_all, vp = vp, vp[~vp_div]  # minima of the members that did not diverge (a diverged member has none)
vc = dict(n1=int(vp_npz["n1"]), n2=int(vp_npz["n2"]), n3=int(vp_npz["n3"]), eps=float(vp_npz["eps"]),
          t_max=float(vp_npz["t_max"]), seeds=int(vp_npz["seeds"]), p_ratio=sorted(vp_all.p_ratio.unique()),
          effective_snr=sorted(vp_all.effective_snr.unique()))
v_stats = vp.groupby(["p_ratio", "effective_snr"])[["min_test", "late_test"]].agg(["mean", "sem"])
v_stats.columns = ["mean", "sem", "late_mean", "late_sem"]
vagg = (vp_all.groupby(["p_ratio", "effective_snr"]).agg(n=("min_test", "size"), n_diverged=("diverged", "sum"))
        .join(v_stats).reset_index())
snr_th = np.linspace(min(vc["effective_snr"]), max(vc["effective_snr"]), 60)


def vp_theory_curve(sbar, r):
    """Theory test curve of the P = r N1 run with teacher sbar over its time window t_max sqrt(r), initial scale
    eps (mapped onto P = N1 at eps sqrt(r) for r >= 1, onto N1' = P at eps / sqrt(r) below N1)."""
    t_r = np.linspace(0, vc["t_max"] * np.sqrt(r), 600)
    return t_r, theory(t_r, [sbar], vc["n1"], vc["n2"], vc["n3"], vc["eps"], p_ratio=r)[1]


def vp_theory_min(snr_eff, r):
    """Theory minimum test error at effective SNR snr_eff = sbar sqrt(max(r, 1))."""
    return dl.optimal_stopping(*vp_theory_curve(snr_eff / np.sqrt(max(r, 1)), r))[0]


th = {r: np.array([vp_theory_min(s, r) for s in snr_th]) for r in vc["p_ratio"]}
vagg["theory"] = [vp_theory_min(s, r) for s, r in zip(vagg.effective_snr, vagg.p_ratio)]
vagg["panel"] = "min_vs_effective_snr"
fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4))
for k, (r, g) in enumerate(vagg.groupby("p_ratio")):
    ax.plot(snr_th, th[r], color=f"C{k}", lw=1, ls="-" if r >= 1 else "--", label=f"theory P/N1 = {r:g}")
    ax.errorbar(g.effective_snr, g["mean"], yerr=g["sem"], fmt="o" if r >= 1 else "s", ms=4, color=f"C{k}",
                label=f"P/N1 = {r:g}")
ax.set(xlabel="effective SNR $\\bar s\\sqrt{\\max(P/N_1, 1)}$", ylabel="minimum test error", yscale="log",
       title="P >= N1 collapse (solid); P < N1 frozen subspace (dashed)")
ax.legend(frameon=False, fontsize=6, ncol=2)
note_diverged(ax, int(vp_div.sum()), len(vp_div))

# the fixed teacher sbar = 2 across P: theory over a fine P grid, simulation at the grid's runs with that teacher
SBAR_FIXED = 2.0
r_fine = np.concatenate([np.arange(max(1, vc["n1"] // 25), vc["n1"], max(1, vc["n1"] // 25)) / vc["n1"],
                         np.geomspace(1, max(vc["p_ratio"]), 25)])
curves = [vp_theory_curve(SBAR_FIXED, r)[1] for r in r_fine]
fixed_th = pd.DataFrame(dict(p_ratio=r_fine, min_theory=[c.min() for c in curves], late_theory=[c[-1] for c in curves]))
ax2.plot(fixed_th.p_ratio, fixed_th.min_theory, "C0-", lw=1, label="theory: optimally stopped")
ax2.plot(fixed_th.p_ratio, fixed_th.late_theory, "C3-", lw=1, label="theory: late time (t = t_max mapped)")
sb = vp[np.isclose(vp.sbar, SBAR_FIXED)]
fixed = sb.groupby("p_ratio")[["min_test", "late_test"]].agg(["mean", "sem"])
fixed.columns = ["min_mean", "min_sem", "late_mean", "late_sem"]
fixed = fixed.reset_index()
ax2.errorbar(fixed.p_ratio, fixed.min_mean, yerr=fixed.min_sem, fmt="o", ms=4, color="C0",
             label="GD: optimally stopped")
ax2.errorbar(fixed.p_ratio, fixed.late_mean, yerr=fixed.late_sem, fmt="s", ms=4, color="C3",
             label="GD: late time")
ax2.axvline(1.0, color="0.6", lw=0.8, ls=":")
ax2.set(xlabel="$P/N_1$", ylabel="test error", xscale="log", yscale="log",
        title=f"fixed teacher $\\bar s$ = {SBAR_FIXED:g}")
ax2.legend(frameon=False, fontsize=7)
save_figure(fig, pd.concat([vagg, fixed.assign(panel="fixed_teacher", sbar=SBAR_FIXED),
                            fixed_th.assign(panel="fixed_teacher_theory", sbar=SBAR_FIXED)], ignore_index=True),
            figdir, "fig6_varying_p")

# %% [markdown]
# **Claims.** Collapse (over the runs with $P \ge N_1$): at each effective SNR the seed-averaged
# minima for different P agree up to seed noise. The measure is the studentized range (max - min over P of the means,
# divided by the pooled standard error); the band is its 99 % quantile with a Bonferroni
# correction over the SNR grid (Tukey's test), so the band follows from the number of seeds
# and P values, not from the data. Since every P starts at the same product scale, the theory
# itself predicts a small P-dependence (the mapped start eps sqrt(P/N1) moves the minimum by up
# to ~9 % at P/N1 = 8). Second, the points with $P \ge N_1$ fall on the theory of their own P: mean relative
# deviation below 0.1 (seed noise of the minimum at N3 = 20-50, averaged). Below $N_1$: at the teacher
# $\bar s = 2$ we count the seed indices whose optimally stopped error is non-increasing along
# P/N1 < 1, 1, 4 and those whose late-time error rises up to $P = N_1$ and falls at P/N1 = 4; and the
# runs below $N_1$ fall on the frozen-subspace theory.

# %%
hi = [r for r in vc["p_ratio"] if r >= 1]
vp_hi, vagg_hi = vp[vp.p_ratio >= 1], vagg[vagg.p_ratio >= 1]
div_hi = bool(vp_div[vp_all.p_ratio >= 1].any())
n_seeds, n_p, n_snr = vc["seeds"], len(hi), len(vc["effective_snr"])
pooled_sem = (vp_hi.groupby(["effective_snr", "p_ratio"]).min_test.var().groupby("effective_snr").mean() ** 0.5
              / n_seeds ** 0.5)
rng_stat = np.max((vagg_hi.groupby("effective_snr")["mean"].agg(lambda v: v.max() - v.min()) / pooled_sem).to_numpy())
claims.check("varying_p_collapse", rng_stat / studentized_range.ppf(1 - 0.01 / n_snr, n_p, n_p * (n_seeds - 1)),
             diverged=div_hi)
claims.check("varying_p_on_theory", np.mean(np.abs(vagg_hi["mean"].to_numpy() / vagg_hi["theory"].to_numpy() - 1)),
             diverged=div_hi)
chain = [r for r in vc["p_ratio"] if r < 1] + [1, 4]
sb_all = vp_all[np.isclose(vp_all.sbar, SBAR_FIXED) & vp_all.p_ratio.isin(chain)]
# the chain claims need the teacher sbar = 2 at P/N1 < 1, 1 and 4; a sweep without them cannot measure them
lacking = [r for r in chain if not (sb_all.p_ratio == r).any()] if len(chain) > 2 else ["a value < 1"]
if lacking:
    why = f"varying_p has no runs at teacher sbar = {SBAR_FIXED} and p_ratio {lacking}"
    claims.check("varying_p_below_min_monotone", float("nan"), reason=why)
    claims.check("varying_p_late_peak", float("nan"), reason=why)
else:
    by_seed = {k: sb_all.pivot(index="seed", columns="p_ratio", values=k).reindex(columns=chain)
               for k in ("min_test", "late_test")}
    div_chain = bool(sb_all.diverged.astype(bool).any())
    # NaN (a diverged member, or a missing run) compares False: that seed does not pass
    mono = (np.diff(by_seed["min_test"].to_numpy(), axis=1) <= 0).all(axis=1)
    late = by_seed["late_test"].to_numpy()
    peak = (np.diff(late[:, :-1], axis=1) > 0).all(axis=1) & (late[:, -1] < late[:, -2])
    claims.check("varying_p_below_min_monotone", int(mono.sum()), diverged=div_chain)
    claims.check("varying_p_late_peak", int(peak.sum()), diverged=div_chain)
lo = vagg[vagg.p_ratio < 1]
if lo.empty:
    claims.check("varying_p_below_on_theory", float("nan"), reason="varying_p.p_ratio has no value < 1")
else:
    claims.check("varying_p_below_on_theory", np.mean(np.abs(lo["mean"].to_numpy() / lo["theory"].to_numpy() - 1)),
                 diverged=bool(vp_div[vp_all.p_ratio < 1].any()))
claims.table("fig6_varying_p")

# %% [markdown]
# ## Fig. 7 — non-gradient optimum vs optimally stopped gradient descent
# Lines: theory (the non-gradient optimum keeps the modes above the bulk edge and shrinks
# each to $\bar s\,O(\bar s)$; GD stopped at $t_{opt}$). Markers: the same estimator applied
# to each simulated dataset, and the simulated TA students' minimum test error.

# %%
dyn, depth = load_dynamics(1)
n1, n2, n3 = int(dyn["n1"]), int(dyn["n2"]), int(dyn["n3"])
A = n3 / n1
snr_grid = grid(cfg["optimum"]["snr"])
t7 = np.linspace(0, depth["t_max"], 800)
fig, ax = plt.subplots(figsize=(6, 4.5))
rows = []
gaps = {}
for rank, color in ((1, "C0"), (3, "C1")):
    gd = [dl.optimal_stopping(t7, theory(t7, teacher(rank, s), n1, n2, n3, depth["eps"])[1])[0]
          for s in snr_grid]
    opt = [dl.nongradient_optimum(teacher(rank, s) / sz, A) for s in snr_grid]
    ax.plot(snr_grid, gd, color=color, label=f"rank {rank}: optimally stopped GD (theory)")
    ax.plot(snr_grid, opt, color=color, ls="--", label=f"rank {rank}: non-gradient optimum (theory)")
    sel = (dyn["rank"] == rank) & (dyn["init"] == "aligned")
    div7 = dyn["diverged"][sel].astype(bool)
    gd_sim, opt_sim = dl.member_minima(dyn["t"], dyn["test"][:, sel], div7)[0], dyn["nongrad_test"][sel]
    g = pd.DataFrame(dict(snr=dyn["snr"][sel], gd=gd_sim, opt=opt_sim, rel_gap=(gd_sim - opt_sim) / gd_sim))
    g = g.groupby("snr").agg(["mean", "sem"])
    ax.errorbar(g.index, g.gd["mean"], yerr=g.gd["sem"], fmt="o", color=color)
    ax.errorbar(g.index, g.opt["mean"], yerr=g.opt["sem"], fmt="x", color=color, ms=8)
    th_gap = [(a - b) / a for a, b in zip(np.interp(g.index, snr_grid, gd), np.interp(g.index, snr_grid, opt))]
    gaps[rank] = pd.DataFrame(dict(sim=g.rel_gap["mean"], sem=g.rel_gap["sem"], theory=th_gap))
    n_div7 = pd.Series(div7).groupby(dyn["snr"][sel]).sum()  # diverged TA students per SNR (not in the means)
    rows += [dict(rank=rank, snr=s, gd_theory=a, optimum_theory=b, source="theory")
             for s, a, b in zip(snr_grid, gd, opt)]
    rows += [dict(rank=rank, snr=s, gd_sim=a, optimum_sim=b, rel_gap_sim=c, rel_gap_theory=d, source="simulation",
                  n_diverged=int(n_div7[s]))
             for s, a, b, c, d in zip(g.index, g.gd["mean"], g.opt["mean"], g.rel_gap["mean"], th_gap)]
ax.set(xlabel="SNR $\\bar s$", ylabel="test error", yscale="log",
       title="markers: o GD (simulated), x estimator on data")
ax.legend(frameon=False, fontsize=7)
h1_ta_div = dyn["diverged"][dyn["init"] == "aligned"].astype(bool)
note_diverged(ax, int(h1_ta_div.sum()), len(h1_ta_div), "TA students")
save_figure(fig, pd.DataFrame(rows), figdir, "fig7_nongradient_optimum")

# %% [markdown]
# **Claims.** The optimum beats stopped GD, by a visible margin only for several modes. The
# margins are small in theory (at A = 1/2, rank 3 with profile [3, 2, 1]: about 5 % at
# SNR 2, 1 % at SNR 4; rank 1: about 1.5 % at SNR 2, none above), so the claims compare
# the paired relative gap (GD minimum - estimator) / GD minimum on the same datasets at
# the lowest simulated SNR, and the simulated gaps with theory. Band for the latter:
# 0.03, for seed fluctuations of the stopped error at N3 = 50 and the finite record grid.

# %%
low = {r: gaps[r].iloc[0] for r in gaps}
div7 = bool(h1_ta_div.any())  # the claims use the TA students of every SNR and rank
claims.check("nongradient_beats_gd", low[3].sim, diverged=div7)
claims.check("nongradient_margin_only_several_modes", low[3].sim - low[1].sim, diverged=div7)
claims.check("nongradient_gap_matches_theory",
             np.max(np.array([np.max(np.abs(gaps[r].sim.to_numpy() - gaps[r].theory.to_numpy())) for r in gaps])),
             diverged=div7)
claims.table("fig7_nongradient_optimum")

# %% [markdown]
# ## Fig. 8 — randomizing slows training
# The authors' poster: a rank-3 teacher $\bar s = 10\times[3, 2, 1]$ with noisy targets, and the same
# inputs with randomized targets (i.i.d. Gaussian entries with the real targets' mean and variance).
# Randomizing spreads the strong modes' variance over all modes: the randomized spectrum is
# Marchenko–Pastur at scale $\sigma_r = \sqrt{\sum_a \bar s_a^2/N_3 + \sigma_z^2}$ (5.39 at the poster's
# sizes), so a random student (product scale eps) memorises it much more slowly than it learns the real
# structure. Left: the two spectra (pooled over seeds) with theory (MP law and the outliers' $\hat s$;
# the scaled MP law); right: train error (not log) against $t/\tau$.

# %%
rl = load_npz(inputs["random_labels"])
rl_div = rl["diverged"].astype(bool)
rc = dict(n1=int(rl["n1"]), n3=int(rl["n3"]), sbar=rl["sbar"], t=rl["t"])
A_rl = rc["n3"] / rc["n1"]
sigma_r = float(np.sqrt(np.sum(rc["sbar"] ** 2) / rc["n3"] + sz**2))
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
rows = []
bins = np.linspace(0, max(rl["spectra"].max(), sigma_r * (1 + np.sqrt(A_rl))) * 1.05, 80)
binw = bins[1] - bins[0]
xs = np.linspace(1e-3, bins[-1], 600)
for kind, color in (("real", "C0"), ("randomized", "C1")):
    vals = rl["spectra"][rl["kind"] == kind].ravel()
    ax1.hist(vals, bins=bins, color=color, alpha=0.45, label=f"{kind} targets")
    n_vals = len(vals)
    if kind == "real":  # noise bulk (MP at scale sz) and the predicted outliers
        n_noise = n_vals - len(rc["sbar"]) * int((rl["kind"] == kind).sum())
        ax1.plot(xs, dl.mp_density(xs / sz, A_rl) / sz * n_noise * binw, color=color, lw=1)
        for sb in rc["sbar"]:
            ax1.axvline(sz * dl.spiked_shat(sb / sz, A_rl), color=color, ls="--", lw=1)
    else:
        ax1.plot(xs, dl.mp_density(xs / sigma_r, A_rl) / sigma_r * n_vals * binw, color=color, lw=1,
                 label=f"MP at $\\sigma_r$ = {sigma_r:.2f}")
    rows += [dict(panel="spectrum", kind=kind, singular_value=v) for v in vals]
    sel = rl["kind"] == kind
    ok = sel & ~rl_div
    for j in np.nonzero(ok)[0]:
        ax2.plot(rc["t"], rl["train"][:, j], color=color, lw=0.6, alpha=0.4)
    mean = dl.mean_curve(rl["train"][:, sel], rl_div[sel])
    ax2.plot(rc["t"], mean, color=color, lw=2, label=f"{kind} targets (mean)")
    rows += [dict(panel="train", kind=kind, t=a, train_mean=b, n_members=int(sel.sum()),
                  n_diverged=int(rl_div[sel].sum())) for a, b in zip(rc["t"], mean)]
ax1.set(xlabel="singular value of the targets", ylabel="count", yscale="log", ylim=(0.5, None))
ax1.legend(frameon=False, fontsize=8)
ax2.axhline(0.5, color="k", ls=":", lw=0.8)
ax2.set(xlabel="$t/\\tau$", ylabel="train error", title="random orthogonal students")
ax2.legend(frameon=False, fontsize=8)
note_diverged(ax2, int(rl_div.sum()), len(rl_div))
save_figure(fig, pd.DataFrame(rows), figdir, "fig8_random_labels")

# %% [markdown]
# **Claims.** The randomized spectrum is the scaled MP law (Kolmogorov–Smirnov distance to
# `mp_cdf(s / sigma_r)`); in every seed the randomized targets' train error reaches 1/2 strictly later than
# the real ones' (bands: the declarations file).

# %%
rand_vals = rl["spectra"][rl["kind"] == "randomized"].ravel()
ks = kstest(rand_vals / sigma_r, lambda x: dl.mp_cdf(x, A_rl)).statistic
claims.check("random_labels_spectrum_mp", ks)
n_slower = 0
for seed in np.unique(rl["seed"]):
    (i_real,), (i_rand,) = (np.nonzero((rl["seed"] == seed) & (rl["kind"] == k))[0] for k in ("real", "randomized"))
    if rl_div[i_real] or rl_div[i_rand]:
        continue
    t_real, t_rand = (first_crossing(rc["t"], -rl["train"][:, i], -0.5) for i in (i_real, i_rand))
    n_slower += bool(t_rand > t_real)  # False when either never reaches 1/2 (NaN)
claims.check("random_labels_slow_training", n_slower, diverged=bool(rl_div.any()))
claims.table("fig8_random_labels")

# %% [markdown]
# ## Fig. 9 — network size
# The optimally stopped test error barely depends on the student's width: random orthogonal students of
# widths $N_2$ from a few % to 100 % of $\min(N_1, N_3)$, trained on the same tasks at every width
# (markers: mean ± s.e.m. over seeds), against the theory of a TA student of that width (lines; the top
# $N_2 - \mathrm{rank}$ noise modes are learnable). Widths below a teacher's rank cannot represent it and
# are not compared.

# %%
ns_npz = load_npz(inputs["network_size"])
ns = pd.DataFrame({k: ns_npz[k] for k in ("width", "teacher", "seed", "min_test", "diverged")})
ns_div = ns.diverged.astype(bool)
ranks = ns_npz["teacher_rank"]
sbars = np.split(ns_npz["teacher_sbar"], np.cumsum(ranks)[:-1])
nn1, nn3, full = int(ns_npz["n1"]), int(ns_npz["n3"]), min(int(ns_npz["n1"]), int(ns_npz["n3"]))
ns = ns[ns.width >= ranks[ns.teacher.to_numpy()]]  # widths that can represent the teacher
t_ns = np.linspace(0, float(ns_npz["t_max"]), 2000)
nagg = (ns.groupby(["teacher", "width"]).agg(n=("min_test", "size"), n_diverged=("diverged", "sum"))
        .join(ns[~ns.diverged.astype(bool)].groupby(["teacher", "width"]).min_test.agg(["mean", "sem"]))
        .reset_index())
nagg["theory"] = [dl.optimal_stopping(t_ns, theory(t_ns, sbars[i], nn1, w, nn3, float(ns_npz["eps"]))[1])[0]
                  for i, w in zip(nagg.teacher, nagg.width)]
nagg["fraction"] = nagg.width / full
nagg["teacher_sbar"] = [", ".join(f"{v:g}" for v in sbars[i]) for i in nagg.teacher]
fig, ax = plt.subplots(figsize=(6, 4.5))
for i, g in nagg.groupby("teacher"):
    w_th = np.unique(np.geomspace(max(ranks[i], 1), full, 25).round().astype(int))
    th_line = [dl.optimal_stopping(t_ns, theory(t_ns, sbars[i], nn1, w, nn3, float(ns_npz["eps"]))[1])[0]
               for w in w_th]
    ax.plot(w_th / full, th_line, color=f"C{i}", lw=1)
    ax.errorbar(g.fraction, g["mean"], yerr=g["sem"], fmt="o", ms=4, color=f"C{i}",
                label=f"$\\bar s$ = [{g.teacher_sbar.iloc[0]}]")
ax.set(xscale="log", yscale="log", xlabel="student width $N_2 / \\min(N_1, N_3)$",
       ylabel="minimum test error", title="lines: TA theory, markers: random students")
ax.legend(frameon=False, fontsize=8)
note_diverged(ax, int(ns_div.sum()), len(ns_div))
save_figure(fig, nagg, figdir, "fig9_network_size")

# %% [markdown]
# **Claims.** Flat in the width (largest over smallest seed-mean minimum, per teacher), and on the
# theory of each width (bands: the declarations file).

# %%
ns_any_div = bool(ns_div.any())
spread = np.max(nagg.groupby("teacher")["mean"].agg(lambda v: np.max(v.to_numpy()) / np.min(v.to_numpy())).to_numpy())
claims.check("network_size_flat", spread - 1, diverged=ns_any_div)
claims.check("network_size_on_theory", np.mean(np.abs(nagg["mean"].to_numpy() / nagg["theory"].to_numpy() - 1)),
             diverged=ns_any_div)
claims.table("fig9_network_size")

# %%
claims.write(claims_path)
print(f"{sum(c.passed for c in claims.claims)} / {len(claims.claims)} claims pass")

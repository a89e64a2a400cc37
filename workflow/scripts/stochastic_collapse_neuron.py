"""Rule `stochastic_collapse_neuron`: the single tanh neuron f(x) = w2 tanh(w1 x) under the label-noise SDE
(Chen et al. NeurIPS 2023, Fig. 2, Theorem 5.1).

Collapse probability P(||w_t|| < collapse_norm) over an eta grid at several times (eta x trajectories in one
array), the final states over the loss landscape, and the log-growth rate of |w1 + w2| from tiny starts
against the linearised formula.
"""
import math

import numpy as np

from spdl.io import save_npz
from spdl.jobs import grid, start_job
from spdl.studies import stochastic_collapse as sc

smk = snakemake  # noqa: F821
start_job(smk)
p = smk.params.neuron
x, y = sc.neuron_data(p["m"], p["label_noise"], p["data_seed"])
zeta, dt = p["zeta"], p["dt"]
rng = np.random.default_rng(p["seed"])

etas = grid(p["eta"])
time_steps = np.array([round(t / dt) for t in p["times"]])
every = math.gcd(*time_steps.tolist())
w0 = p["init_std"] * rng.standard_normal((2, len(etas), p["trajectories"]))
rec, w, div = sc.simulate_neuron(w0[0], w0[1], x, y, etas[:, None], zeta, dt, int(time_steps.max()), every,
                                 p["seed"] + 1)
w = w[np.searchsorted(rec, time_steps)]  # (T, 2, E, R)
ok = div < 0
collapsed = (np.hypot(w[:, 0], w[:, 1]) < p["collapse_norm"]) & ok
prob = collapsed.sum(-1) / np.maximum(ok.sum(-1), 1)
print(f"sweep: {len(etas)} eta x {p['trajectories']} paths, diverged {int((~ok).sum())}")

# loss landscape on a grid
ls = p["landscape"]
g = np.linspace(-ls["extent"], ls["extent"], ls["points"])
loss = sc.neuron_loss(g[None, :], g[:, None], x, y)  # rows: w2, columns: w1

# log-growth of u = w1 + w2 near zero
gr = p["growth"]
geta = np.array(gr["eta"], float)
g0 = np.full((len(geta), gr["trajectories"]), gr["w0"])
gsteps = round(gr["t"] / gr["dt"])
_, gw, gdiv = sc.simulate_neuron(g0, g0.copy(), x, y, geta[:, None], zeta, gr["dt"], gsteps, gsteps, p["seed"] + 2)
u_T = gw[-1, 0] + gw[-1, 1]
slope, se = sc.log_growth_estimate(np.full_like(u_T, 2 * gr["w0"]), u_T, gsteps * gr["dt"])
print(f"growth: slopes {np.round(slope, 3)} vs theory {np.round(sc.neuron_log_growth(x, y, geta, zeta), 3)}")

save_npz(smk.output[0], x=x, y=y, zeta=zeta, eta=etas, times=time_steps * dt, prob=prob, n_valid=ok.sum(-1),
         diverged=(~ok).sum(-1), final_w=w[-1], final_ok=ok, threshold=sc.neuron_threshold(x, y),
         grid=g, loss=loss, growth_eta=geta, growth_slope=slope, growth_se=se, growth_t=gsteps * gr["dt"],
         growth_max_abs=np.nanmax(np.abs(u_T), -1), growth_diverged=(gdiv >= 0).sum(-1))

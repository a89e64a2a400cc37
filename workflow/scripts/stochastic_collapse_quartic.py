"""Rule `stochastic_collapse_quartic`: the quartic toy SDE (Chen et al. NeurIPS 2023, Fig. 1).

Sample paths at three noise levels; collapse probability P(theta_t^2 < collapse_sq) over a zeta grid at
several times (all zeta x trajectories in one Euler-Maruyama array); the log-growth rate of |theta| near 0
from starts at theta0 (linear regime) against mu - zeta^2/2.
"""
import math

import numpy as np

from spdl.io import save_npz
from spdl.jobs import grid, start_job
from spdl.studies import stochastic_collapse as sc

smk = snakemake  # noqa: F821
start_job(smk)
p = smk.params.quartic
mu, dt = p["mu"], p["dt"]
rng = np.random.default_rng(p["seed"])

# collapse sweep: zeta x trajectories
zetas = grid(p["zeta"])
time_steps = np.array([round(t / dt) for t in p["times"]])
every = math.gcd(*time_steps.tolist())
theta0 = p["init_std"] * rng.standard_normal((len(zetas), p["trajectories"]))
rec, th, div = sc.simulate_quartic(theta0, mu, zetas[:, None], dt, int(time_steps.max()), every, p["seed"] + 1)
th = th[np.searchsorted(rec, time_steps)]  # (T, Z, R)
ok = div < 0
collapsed = (th ** 2 < p["collapse_sq"]) & ok
prob = collapsed.sum(-1) / np.maximum(ok.sum(-1), 1)
print(f"sweep: {len(zetas)} zeta x {p['trajectories']} paths, diverged {int((~ok).sum())}")

# sample paths for three noise levels
pp = p["paths"]
z = np.array(pp["zeta"], float)
t0 = p["init_std"] * rng.standard_normal((len(z), pp["n"]))
prec, paths, pdiv = sc.simulate_quartic(t0, mu, z[:, None], dt, round(pp["t_max"] / dt), pp["record_every"],
                                        p["seed"] + 2)

# log-growth near zero
g = p["growth"]
gz = np.array(g["zeta"], float)
g0 = np.full((len(gz), g["trajectories"]), g["theta0"])
gsteps = round(g["t"] / g["dt"])
_, gth, gdiv = sc.simulate_quartic(g0, mu, gz[:, None], g["dt"], gsteps, gsteps, p["seed"] + 3)
slope, se = sc.log_growth_estimate(g0, gth[-1], gsteps * g["dt"])
print(f"growth: slopes {np.round(slope, 3)} vs theory {np.round(sc.quartic_log_growth(mu, gz), 3)}")

save_npz(smk.output[0], mu=mu, dt=dt, zeta=zetas, times=time_steps * dt, prob=prob,
         n_valid=ok.sum(-1), diverged=(~ok).sum(-1),
         path_zeta=z, path_t=prec * dt, paths=paths, path_diverged=pdiv >= 0,
         growth_zeta=gz, growth_slope=slope, growth_se=se, growth_t=gsteps * g["dt"], growth_theta0=g["theta0"],
         growth_max_abs=np.nanmax(np.abs(gth[-1]), -1), growth_diverged=(gdiv >= 0).sum(-1))

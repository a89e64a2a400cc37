"""Rule `birth_death_sweep`: final energy and time-to-energy of GD + birth-death (cloning) on the
1-D mixture, over the birth-death rate alpha (at fixed n) or over the particle number n (GD vs
alpha_ref), spread initialisation, all seeds in one particle array per n (Rotskoff et al., ICML 2019,
arXiv:1902.01843; our sweep, the notebook runs one alpha and one n).
"""
import numpy as np

from spdl.io import save_npz
from spdl.jobs import start_job
from spdl.studies import birth_death as bd

smk = snakemake  # noqa: F821
log = start_job(smk)
p = smk.params
target, dyn, sw = p.target, p.dynamics, p.sweep
kind = smk.wildcards.kind
mix = bd.Mixture.from_config(target)
seeds = list(range(sw["seed"], sw["seed"] + sw["seeds"]))
S = len(seeds)
if kind == "alpha":
    groups = [(sw["n"], np.array(sw["alpha"], float))]
else:
    groups = [(n, np.array([0.0, sw["alpha_n_ref"]])) for n in sw["n_list"]]

out = {"seeds": np.array(seeds), "dt": dyn["dt"], "steps": sw["steps"], "quench": sw["quench"]}
energies, kills, max_rate, pops, clipped = [], [], [], [], []
for n, alphas in groups:
    y0, c0 = bd.mixture_init("spread", n, seeds, spread=sw["half_width"])
    A = len(alphas)
    alpha = np.repeat(alphas, S)
    scheme = np.where(alpha > 0, bd.CLONE, bd.GD)
    print(f"n = {n}: alpha {alphas.tolist()} x {S} seeds", flush=True)
    r = bd.run_mixture(mix, np.tile(y0, (A, 1)), np.tile(c0, (A, 1)), scheme=scheme, alpha=alpha,
                       seeds=np.tile(seeds, A), steps=sw["steps"], quench=sw["quench"], dt=dyn["dt"],
                       prior_mean=dyn["prior_mean"], prior_std=dyn["prior_std"], center_rates=dyn["center_rates"],
                       checkpoint=f"results/checkpoints/birth_death/sweep_{kind}_n{n}.npz",
                       checkpoint_every=max(1, sw["steps"] // 10), progress=log)
    energies.append(r["energy"].reshape(-1, A, S))
    kills.append(r["kills"].sum(0).reshape(A, S))
    max_rate.append(r["max_rate"].max(0).reshape(A, S))
    clipped.append((r["max_rate"][: sw["steps"] - sw["quench"]] >= 1).mean(0).reshape(A, S))
    pops.append(r["population"].min(0).reshape(A, S))
    out.setdefault("diverged_step", []).append(r["diverged_step"].reshape(A, S))
out["energy"] = np.stack(energies, 1)  # (time, group, alpha, seed)
out["kills"], out["max_rate"], out["population_min"] = np.stack(kills), np.stack(max_rate), np.stack(pops)
out["diverged_step"] = np.stack(out["diverged_step"])
out["clipped_fraction"] = np.stack(clipped)  # fraction of birth-death steps with max_i |r_i| >= 1
out["n"] = np.array([g[0] for g in groups])
out["alpha"] = np.stack([g[1] for g in groups])
save_npz(smk.output[0], **out)

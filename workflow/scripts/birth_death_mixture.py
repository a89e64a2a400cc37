"""Rule `birth_death_mixture`: the 1-D Gaussian-mixture example, GD vs GD + birth-death with cloning
vs GD + birth-death with a prior, all seeds and schemes in one particle array (Rotskoff, Jelassi,
Bruna & Vanden-Eijnden, ICML 2019, arXiv:1902.01843; the authors' gaussian_example notebook).

Case "spread": y ~ U[-h, h], c ~ N(0, 1); case "bad": y = y0 + w N(0, 1) (all mass near one centre).
The energy is exact (C_f by quadrature) at every step; the last `quench` steps are plain GD.
"""
import numpy as np

from spdl.io import save_npz
from spdl.jobs import start_job
from spdl.studies import birth_death as bd

smk = snakemake  # noqa: F821
log = start_job(smk)
p = smk.params
target, dyn, case = p.target, p.dynamics, p.case
name = smk.wildcards.case
mix = bd.Mixture.from_config(target)

seeds = list(range(case["seed"], case["seed"] + case["seeds"]))
if name == "spread":
    y0, c0 = bd.mixture_init("spread", case["n"], seeds, spread=case["half_width"])
else:
    y0, c0 = bd.mixture_init("bad", case["n"], seeds, center=case["center"], width=case["width"])
schemes = ["gd", "clone", "prior"]
S = len(seeds)
scheme = np.repeat([bd.SCHEMES[s] for s in schemes], S)
check_step = int(round(case["check_time"] / dyn["dt"]))
r = bd.run_mixture(mix, np.tile(y0, (3, 1)), np.tile(c0, (3, 1)), scheme=scheme, alpha=dyn["alpha"],
                   seeds=np.tile(seeds, 3), steps=case["steps"], quench=case["quench"], dt=dyn["dt"],
                   prior_mean=dyn["prior_mean"], prior_std=dyn["prior_std"], center_rates=dyn["center_rates"],
                   snapshots=[0, check_step, case["steps"]],
                   checkpoint=f"results/checkpoints/birth_death/mixture_{name}.npz",
                   checkpoint_every=max(1, case["steps"] // 10), progress=log)
x = np.linspace(-5, 5, p.fit_points)
out = {k: v for k, v in r.items()}
out.update(scheme=np.array(schemes), seeds=np.array(seeds), dt=dyn["dt"], alpha=dyn["alpha"],
           quench=case["quench"], steps=case["steps"], check_step=check_step, n=case["n"], Cf=mix.constant(),
           x=x, target=mix.target(x), target_centers=mix.centers, target_weights=mix.weights,
           target_variances=mix.variances, phi_var=mix.phi_var, fit=mix.f_n(x, r["y"], r["c"]).reshape(3, S, -1))
for k in ("energy", "kills", "births", "population", "max_rate"):
    out[k] = r[k].reshape(r[k].shape[0], 3, S)  # (time, scheme, seed)
for k in ("y", "c", "diverged_step"):
    out[k] = r[k].reshape(3, S, *r[k].shape[1:])
for s in r["snap_steps"]:
    for v in ("y", "c"):
        out[f"snap_{v}_{s}"] = r[f"snap_{v}_{s}"].reshape(3, S, -1)
print(f"final energies (scheme x seed):\n{out['energy'][-1]}")
save_npz(smk.output[0], **out)

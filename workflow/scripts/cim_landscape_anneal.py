"""Rule `cim_landscape_anneal` (Fig. 1): CIM annealing on SK instances vs greedy and spectral baselines.

Our chosen classical CIM model (Yamamura, Mabuchi & Ganguli, PRX 2024, arXiv:2309.08119;
the paper's own equations were not available): Euler steps of
dx/dt = -x^3 + (p(t) - 1) x + beta J x with a linear gain ramp, all instances x runs
in one array; read-out e(sign x) recorded along the ramp.  Baselines: steepest
single-flip descent from random states, and top-eigenvector rounding + descent.
"""
import numpy as np

from spdl.io import save_npz
from spdl.jobs import start_job
from spdl.studies import cim_landscape as cl

smk = snakemake  # noqa: F821
start_job(smk)
p = smk.params
c, beta = p.cfg, p.beta
out = {"n": np.array(c["n"]), "T": np.array(c["T"], dtype=float), "beta": beta, "dt": c["dt"],
       "p_start": c["p_start"], "p_end": c["p_end"]}
for n in c["n"]:
    J = cl.sk_couplings(n, c["instances"], cl.instance_seed(p.seed, "anneal", n))
    rng = np.random.default_rng(cl.instance_seed(p.seed, "anneal_x0", n))
    x0 = c["x0_scale"] * rng.standard_normal((c["instances"], c["runs"], n))
    for T in c["T"]:
        sched = cl.linear_schedule(c["p_start"], c["p_end"], T, c["dt"])
        run = cl.anneal(J, sched, c["dt"], beta, x0, n_records=c["n_records"])
        key = f"n{n}_T{T:g}"
        out[f"p_{key}"] = run["p"]
        out[f"e_{key}"] = run["e"]  # (records, instances, runs); NaN where diverged
        out[f"diverged_{key}"] = run["diverged"]
        print(f"N={n} T={T}: mean final e {np.nanmean(run['e'][-1]):.4f}, diverged {int(run['diverged'].sum())}")
    s_rand = rng.choice([-1.0, 1.0], (c["instances"], c["greedy_runs"], n))
    s_greedy, _ = cl.greedy_descent(s_rand, J[:, None])
    out[f"greedy_n{n}"] = cl.spin_energy(s_greedy, J)
    s_top = cl.spectral_states(J)[:, None]  # (instances, 1, n): x @ J pairs rows with their instance
    s_spec, _ = cl.greedy_descent(s_top, J[:, None])
    out[f"spectral_raw_n{n}"] = cl.spin_energy(s_top, J)[:, 0]
    out[f"spectral_n{n}"] = cl.spin_energy(s_spec, J)[:, 0]
    print(f"N={n}: greedy {out[f'greedy_n{n}'].mean():.4f}, spectral+greedy {out[f'spectral_n{n}'].mean():.4f}")
save_npz(smk.output[0], **out)

"""Rule `cim_landscape_schedules` (Fig. 4): linear vs census-guided slowed gain schedules.

Our design (spec, Experiments 3): the slow window is the gain interval of the
census (same N) where the mean ln(number of minima) grows fastest; the slowed
schedule spends `slow_fraction` of the same total time T there.  Success = final
e(sign x) within 1% of the exhaustive (Gray-code) ground state of the instance.
"""
import numpy as np

from spdl.io import load_npz, save_npz
from spdl.jobs import start_job
from spdl.studies import cim_landscape as cl

smk = snakemake  # noqa: F821
start_job(smk)
p = smk.params
c, beta = p.cfg, p.beta
out = {"n": np.array(c["n"]), "T": c["T"], "slow_fraction": c["slow_fraction"]}
for n, path in zip(c["n"], smk.input):
    cen = load_npz(path)
    logmin = np.log(np.maximum(cen["n_minima"], 1)).mean(0)
    k = int(np.argmax(np.diff(logmin)))
    window = (float(cen["gains"][k]), float(cen["gains"][k + 1]))
    J = cl.sk_couplings(n, c["instances"], cl.instance_seed(p.seed, "schedules", n))
    gs = [cl.enumerate_states(J[i]) for i in range(c["instances"])]
    e0 = np.array([g["e0"] for g in gs])
    rng = np.random.default_rng(cl.instance_seed(p.seed, "schedules_x0", n))
    x0 = c["x0_scale"] * rng.standard_normal((c["instances"], c["runs"], n))
    scheds = {"linear": cl.linear_schedule(c["p_start"], c["p_end"], c["T"], c["dt"]),
              "slowed": cl.slowed_schedule(c["p_start"], c["p_end"], c["T"], c["dt"], window, c["slow_fraction"])}
    for name, sched in scheds.items():
        run = cl.anneal(J, sched, c["dt"], beta, x0, n_records=2)
        e = run["e"][-1]
        success = e <= e0[:, None] + 0.01 * np.abs(e0[:, None]) + 1e-12
        out[f"e_{name}_n{n}"] = e
        out[f"success_{name}_n{n}"] = success.mean(1)
        out[f"diverged_{name}_n{n}"] = run["diverged"]
        out[f"schedule_{name}_n{n}"] = sched[:: max(1, len(sched) // 400)]
        print(f"N={n} {name}: success {success.mean():.3f}, mean e {np.nanmean(e):.4f} (window {window})")
    out[f"e0_n{n}"] = e0
    out[f"window_n{n}"] = np.array(window)
save_npz(smk.output[0], **out)

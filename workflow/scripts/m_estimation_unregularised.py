"""Rule `m_estimation_unregularised`: LS, LAD and the optimal convex M-estimator on simulated data (Fig. 1).

Advani & Ganguli, PRX 2016 (arXiv:1601.04650). For each noise density, alpha and repeat one draw
y = X s0 + eps (X entries N(0, 1/P), s0 ~ N(0, 1)); the three estimators see the same draw
(paired). LS by lstsq, LAD by HiGHS on its dual LP, the optimal loss (tabulated at the replica
q_opt of that alpha) by L-BFGS started at LS. A failed solve is recorded (status/certificate),
never raised. Per-alpha results are checkpointed so a killed run resumes where it stopped.
"""
import os

import numpy as np
from threadpoolctl import threadpool_limits

from spdl.io import ResultsFileError, atomic_path, load_npz, save_npz
from spdl.jobs import start_job
from spdl.studies import m_estimation as me

smk = snakemake  # noqa: F821
start_job(smk)
threadpool_limits(int(smk.threads))
c = smk.params.cfg
P, R, alphas, noises, b = c["p"], c["repeats"], c["alphas"], c["noises"], c["noise_scale"]
shape = (len(noises), len(alphas), R)
ckpt = "results/checkpoints/m_estimation/unregularised.npz"
keys = ("ls", "lad", "opt", "lad_status", "opt_cert", "done")
state = {k: np.full(shape, np.nan) for k in keys[:-1]} | {"done": np.zeros(shape[:2], bool)}
if os.path.exists(ckpt):
    try:
        saved = load_npz(ckpt)
        # resume only a checkpoint of this very sweep (same sizes, alphas, noises and seed)
        if (saved["ls"].shape == shape and int(saved["seed"]) == c["seed"] and int(saved["p"]) == P
                and np.array_equal(saved["alphas"], np.asarray(alphas, float))
                and list(saved["noises"]) == list(noises) and float(saved["noise_scale"]) == b):
            state = {k: saved[k] for k in keys}
            print(f"resuming from checkpoint: {int(state['done'].sum())} of {state['done'].size} settings done")
    except (ResultsFileError, KeyError) as err:
        print(f"ignoring unreadable checkpoint ({err})")

for i, noise in enumerate(noises):
    for j, alpha in enumerate(alphas):
        if state["done"][i, j]:
            continue
        n = int(round(alpha * P))
        loss = me.OptimalLoss(me.q_optimal(alpha, noise, b), noise, b)
        for r in range(R):
            rng = np.random.default_rng(np.random.SeedSequence([c["seed"], i, j, r]))
            x, y, s0 = me.make_problem(rng, n, P, noise, b)
            s_ls = me.solve_ls(x, y)
            s_lad, status = me.solve_lad(x, y)
            s_opt, cert = me.solve_m_estimator(x, y, loss, s_init=s_ls)
            for k, s in (("ls", s_ls), ("lad", s_lad), ("opt", s_opt)):
                state[k][i, j, r] = np.mean((s - s0) ** 2)
            state["lad_status"][i, j, r], state["opt_cert"][i, j, r] = status, cert
        state["done"][i, j] = True
        with atomic_path(ckpt) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, seed=c["seed"], p=P, noise_scale=b, alphas=np.asarray(alphas, float),
                         noises=np.array(noises), **state)
        print(f"{noise} alpha={alpha}: LS {np.mean(state['ls'][i, j]):.4g} LAD {np.nanmean(state['lad'][i, j]):.4g} "
              f"opt {np.mean(state['opt'][i, j]):.4g} (max cert {np.max(state['opt_cert'][i, j]):.1e})")

# a solve that failed (LP status != 0, or L-BFGS without a stationarity certificate) is recorded as diverged
failed = {"lad": state["lad_status"] != 0, "opt": ~(state["opt_cert"] < c["certificate_tol"]),
          "ls": ~np.isfinite(state["ls"])}
save_npz(smk.output[0], q_ls=state["ls"], q_lad=state["lad"], q_opt=state["opt"], lad_status=state["lad_status"],
         opt_certificate=state["opt_cert"], failed_ls=failed["ls"], failed_lad=failed["lad"], failed_opt=failed["opt"],
         alphas=np.asarray(alphas, float), noises=np.array(noises), p=P, repeats=R, noise_scale=b)
os.remove(ckpt)  # the output now holds everything the checkpoint did
print("failed solves:", {k: int(v.sum()) for k, v in failed.items()})

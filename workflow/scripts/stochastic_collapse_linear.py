"""Rule `stochastic_collapse_linear`: the linear teacher-student network in its SVD basis (Chen et al.
NeurIPS 2023, Fig. 5): every label-noise level x seed x mode in one array, learning-rate drop, train and
test loss over time, learned singular values before the drop against the mode theory.
"""
import numpy as np

from spdl.io import save_npz
from spdl.jobs import record_schedule, start_job
from spdl.studies import stochastic_collapse as sc

smk = snakemake  # noqa: F821
start_job(smk)
p = smk.params.linear_ts
data = sc.linear_teacher(p["N"], p["n"], p["m"], p["rank"], p["s_min"], p["s_max"], p["label_noise"], p["data_seed"])
sigma = np.array(p["sigma"], float)
rec = np.unique(np.concatenate([record_schedule(p["steps"], p["n_records"]),
                                [p["record_step"], p["drop_step"] - 1, p["steps"]]]))
pv, div = sc.simulate_modes(data["s_star"], p["s0"], p["lr"], p["N"], sigma, p["seeds"], p["steps"],
                            p["drop_step"], p["drop_factor"], rec, p["seed"])
train, test = sc.mode_losses(pv, data)  # (K, S, R)
train[:, div], test[:, div] = np.nan, np.nan
at = pv[np.searchsorted(rec, p["record_step"])]  # (S, R, M)
at[div] = np.nan
eta = p["lr"] / p["N"]
print(f"diverged runs: {int(div.sum())}; eta sigma^2/2 = {np.round(eta * sigma ** 2 / 2, 3)}")
save_npz(smk.output[0], s_star=data["s_star"], teacher_s=data["teacher_s"], sigma=sigma, eta=eta, s0=p["s0"],
         steps=rec, train=train, test=test, p_record=at, record_step=p["record_step"], drop_step=p["drop_step"],
         theory_record=sc.mode_theory(data["s_star"][None], p["s0"], eta, sigma[:, None],
                                      p["record_step"] * eta),
         diverged=div)

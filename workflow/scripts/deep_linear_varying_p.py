"""Rule deep_linear_varying_p (Fig. 6): training-aligned students trained on P = r N1 samples.

r >= 1: inputs satisfy X X^T = r I, so GD runs r times faster: the learning rate is
lr * N1/P for stability. The run maps exactly onto the P = N1 problem at SNR sbar sqrt(r),
time t / sqrt(r) AND initial scale eps sqrt(r) (`dl.varying_p_theory`). Every P starts
from the same product scale eps (the same network initialisation for every data-set size,
our reading of the protocol), so the mapped problem starts at eps sqrt(r): the notebook's
theory for each P uses it. At P/N1 = r the teacher strength is sbar = snr_eff / sqrt(r), so
every P shares the effective SNR grid.

r < 1: one-hot inputs on P of the N1 directions (a frozen subspace of N1 - P directions the
data never reach), the same learning-rate rule lr * N1/P; the seen block maps onto the
n1' = P problem at the same SNR sbar, time t / sqrt(r), initial scale eps / sqrt(r)
(`dl.varying_p_theory`), so here the effective SNR is sbar itself: sbar = snr_eff.

Each P runs t_max * sqrt(r) / lr steps (the mapped time window t_max). Stored per member:
the optimally stopped test error (min over the window) and the late-time test error (the
last record, mapped time t_max).
"""
import numpy as np
import torch

from spdl.studies import deep_linear as dl
from spdl.device import resolve_device
from spdl.engine import LinearGD, train
from spdl.io import save_npz
from spdl.jobs import record_schedule, start_job
from spdl.models import MLP

smk = snakemake  # noqa: F821
log = start_job(smk)
dev = resolve_device(smk.params.device)
c = smk.params.cfg
n1, n2, n3 = c["n1"], c["n2"], c["n3"]
arch = MLP((n1, n2, n3), activation="linear")

out = {"p_ratio": [], "effective_snr": [], "sbar": [], "seed": [], "min_test": [], "late_test": [], "diverged": [],
       "diverged_step": []}
for r in c["p_ratio"]:
    steps = int(round(c["t_max"] * np.sqrt(r) / c["lr"]))
    rows = [(snr, seed) for snr in c["effective_snr"] for seed in range(c["seeds"])]
    teacher = {snr: snr / np.sqrt(max(r, 1)) for snr in c["effective_snr"]}  # effective SNR sbar sqrt(max(r, 1))
    tasks = [dl.make_task(n1, n3, [teacher[snr]], seed=int(round(1000 * r)) + 100 * i + seed,
                          noise_std=smk.params.noise_std, n_samples=int(round(r * n1)))
             for i, (snr, seed) in enumerate(rows)]
    inits = [dl.aligned_init(t["Uhat"], t["Vhat"], n2, c["eps"], n_layers=2) for t in tasks]
    params = [torch.tensor(np.stack([w[k] for w in inits]), dtype=torch.float32) for k in range(2)]
    X = torch.tensor(np.stack([t["X"].T for t in tasks]), dtype=torch.float32)
    Y = torch.tensor(np.stack([t["Yhat"].T for t in tasks]), dtype=torch.float32)
    Wbar = torch.tensor(np.stack([t["Wbar"] for t in tasks]), dtype=torch.float32, device=dev)

    def test(params, step):
        W = params[1] @ params[0]
        return {"test": ((W - Wbar) ** 2).sum((1, 2)) / (Wbar ** 2).sum((1, 2))}

    result = train(arch, params, X, Y, steps=steps, lr=c["lr"] / r, loss="mse_sum",
                   record_at=record_schedule(steps, 120), metrics=test, progress=log,
                   checkpoint=f"results/checkpoints/deep_linear/varying_p_r{r}.pt",
                   checkpoint_every=max(1, steps // 20), device=dev, update=LinearGD())
    out["p_ratio"] += [r] * len(rows)
    out["effective_snr"] += [snr for snr, _ in rows]
    out["sbar"] += [teacher[snr] for snr, _ in rows]
    out["seed"] += [seed for _, seed in rows]
    # a diverged member has no minimum: its history is NaN from the blow-up on, and what came before is not
    # the minimum of a finished run
    out["min_test"] += list(np.where(result.diverged, np.nan, np.nanmin(result.history["test"], axis=0)))
    out["late_test"] += list(np.where(result.diverged, np.nan, result.history["test"][-1]))
    out["diverged"] += list(result.diverged)
    out["diverged_step"] += list(result.diverged_step)
    print(f"P/N1 = {r}: {len(rows)} members, diverged: {int(result.diverged.sum())}")

save_npz(smk.output[0], **{k: np.asarray(v) for k, v in out.items()}, n1=n1, n2=n2, n3=n3,
         eps=c["eps"], t_max=c["t_max"], lr=c["lr"], seeds=c["seeds"], noise_std=smk.params.noise_std)

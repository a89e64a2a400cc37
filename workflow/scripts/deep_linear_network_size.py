"""Rule deep_linear_network_size: the optimally stopped test error against the student's width N2.

Random orthogonal two-layer students (product scale eps) of widths N2 (from a few % to 100 % of
min(N1, N3)) on the same noisy teacher tasks (one-hot inputs, P = N1): one ensemble per width, members
= teacher x seed, the task of a (teacher, seed) identical at every width. Records the test error
||W - Wbar||^2 / ||Wbar||^2 and per member its minimum over the records (NaN if it diverged).
"""
import numpy as np
import torch

from spdl.studies import deep_linear as dl
from spdl.device import resolve_device
from spdl.engine import LinearGD, train
from spdl.io import save_npz
from spdl.jobs import record_schedule, start_job
from spdl.models import MLP, init_params

smk = snakemake  # noqa: F821
log = start_job(smk)
dev = resolve_device(smk.params.device)
c = smk.params.cfg
n1, n3 = c["n1"], c["n3"]
steps = int(round(c["t_max"] / c["lr"]))
rows, tasks = [], []
for i, sbar in enumerate(c["teachers"]):
    for seed in range(c["seeds"]):
        rows.append((i, seed))
        tasks.append(dl.make_task(n1, n3, sbar, seed=[11, i, seed], noise_std=smk.params.noise_std))
Wbar = torch.tensor(np.stack([t["Wbar"] for t in tasks]), dtype=torch.float32, device=dev)
Y = torch.tensor(np.stack([t["Yhat"].T for t in tasks]), dtype=torch.float32)


def test(params, step):
    W = params[1] @ params[0]
    return {"test": ((W - Wbar) ** 2).sum((1, 2)) / (Wbar ** 2).sum((1, 2))}


out = {"width": [], "teacher": [], "seed": [], "min_test": [], "diverged": [], "diverged_step": []}
for n2 in c["widths"]:
    arch = MLP((n1, n2, n3), activation="linear")
    params = init_params(arch, seeds=[1000 * n2 + e for e in range(len(rows))], init_scale=np.sqrt(c["eps"]),
                         scheme="orthogonal")
    result = train(arch, params, torch.eye(n1), Y, steps=steps, lr=c["lr"], loss="mse_sum",
                   record_at=record_schedule(steps, c["n_records"]), metrics=test, progress=log,
                   checkpoint=f"results/checkpoints/deep_linear/network_size_{n2}.pt",
                   checkpoint_every=max(1, steps // 20), device=dev, update=LinearGD())
    mins, _ = dl.member_minima(result.steps * c["lr"], result.history["test"], result.diverged)
    out["width"] += [n2] * len(rows)
    out["teacher"] += [i for i, _ in rows]
    out["seed"] += [s for _, s in rows]
    out["min_test"] += list(mins)
    out["diverged"] += list(result.diverged)
    out["diverged_step"] += list(result.diverged_step)
    print(f"N2 = {n2}: {len(rows)} members, diverged: {int(result.diverged.sum())}")

ranks = [len(s) for s in c["teachers"]]
sbar_flat = np.concatenate([np.asarray(s, float) for s in c["teachers"]])
save_npz(smk.output[0], **{k: np.asarray(v) for k, v in out.items()}, n1=n1, n3=n3, eps=c["eps"], lr=c["lr"],
         t_max=c["t_max"], teacher_rank=np.asarray(ranks), teacher_sbar=sbar_flat, noise_std=smk.params.noise_std)

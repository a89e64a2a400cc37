"""Rule deep_linear_random_labels: "randomizing slows training" (Lampinen & Ganguli 2019, poster figure).

A rank-3 teacher (strong modes) with noisy targets on one-hot inputs, and the same data with randomized
targets: i.i.d. Gaussian entries with the mean and variance of the real targets (one draw per seed from
its own stream). Randomizing spreads the strong modes' variance over all modes: the spectrum of the
randomized targets is Marchenko-Pastur with scale sigma_r = sqrt(sum sbar^2 / N3 + noise_std^2). Both are
fit by the same random-orthogonal two-layer network (product scale eps); the train error
||W - Yhat||^2 / ||Yhat||^2 is recorded per member; divergence per member.
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
n1, n2, n3 = c["n1"], c["n2"], c["n3"]
steps = int(round(c["t_max"] / c["lr"]))
arch = MLP((n1, n2, n3), activation="linear")

rows, targets = [], []
for seed in range(c["seeds"]):
    task = dl.make_task(n1, n3, c["sbar"], seed=[7, seed], noise_std=smk.params.noise_std)
    real = task["Yhat"]
    rng = np.random.default_rng([7, seed, 1])
    randomized = rng.normal(real.mean(), real.std(), size=real.shape)
    for kind, y in (("real", real), ("randomized", randomized)):
        rows.append((kind, seed))
        targets.append(y)

Y = torch.tensor(np.stack(targets), dtype=torch.float32, device=dev)  # (E, n3, n1)
params = init_params(arch, seeds=list(range(len(rows))), init_scale=np.sqrt(c["eps"]), scheme="orthogonal",
                     device=dev)


def train_err(params, step):
    W = params[1] @ params[0]
    return {"train": ((W - Y) ** 2).sum((1, 2)) / (Y ** 2).sum((1, 2))}


result = train(arch, params, torch.eye(n1), Y.transpose(1, 2), steps=steps, lr=c["lr"], loss="mse_sum",
               record_at=record_schedule(steps, c["n_records"]), metrics=train_err, progress=log,
               checkpoint="results/checkpoints/deep_linear/random_labels.pt",
               checkpoint_every=max(1, steps // 20), device=dev, update=LinearGD())
kind, seed = (np.array(x) for x in zip(*rows))
spectra = np.stack([np.linalg.svd(y, compute_uv=False) for y in targets])  # (E, min(n1, n3)), descending
save_npz(smk.output[0], t=result.steps * c["lr"], train=result.history["train"], kind=kind, seed=seed,
         spectra=spectra, diverged=result.diverged, diverged_step=result.diverged_step, n1=n1, n2=n2, n3=n3,
         sbar=np.asarray(c["sbar"], float), eps=c["eps"], lr=c["lr"], t_max=c["t_max"],
         noise_std=smk.params.noise_std)
print(f"{len(rows)} members, {steps} steps, diverged: {int(result.diverged.sum())}")

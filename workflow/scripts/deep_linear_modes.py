"""Rule deep_linear_modes (Fig. 1): one training-aligned scalar mode per member.

Member k is a 1-1-1 linear network (two weights, each sqrt(eps)) fitting the
single target shat_k by full-batch GD on 0.5*(w2 w1 - shat_k)^2, so its product
s = w2 w1 obeys tau ds/dt = 2 s (shat - s) (Saxe et al. 2014) up to the
discretisation of time by lr.
"""
import numpy as np
import torch

from spdl.device import resolve_device
from spdl.engine import train
from spdl.io import save_npz
from spdl.jobs import grid, record_schedule, start_job
from spdl.models import MLP

smk = snakemake  # noqa: F821
log = start_job(smk)
dev = resolve_device(smk.params.device)
p = smk.params

shat = np.unique(np.concatenate([p.shat, grid(p.wave_shat)]))
E, eps, lr = len(shat), p.eps, p.lr
steps = int(round(p.t_max / lr))
arch = MLP((1, 1, 1), activation="linear")
params = [torch.full((E, 1, 1), np.sqrt(eps)) for _ in range(2)]
X = torch.ones(1, 1)
Y = torch.tensor(shat, dtype=torch.float32).reshape(E, 1, 1)


def product(params, step):
    return {"s": (params[1] @ params[0]).reshape(E)}


result = train(arch, params, X, Y, steps=steps, lr=lr, loss="mse_sum",
               record_at=record_schedule(steps, 400), metrics=product, progress=log, device=dev)
save_npz(smk.output[0], shat=shat, t=result.steps * lr, s=result.history["s"], eps=eps, lr=lr,
         curve_shat=np.asarray(p.shat, float), t_max=p.t_max,
         diverged=result.diverged, diverged_step=result.diverged_step)  # per mode: whether and when it blew up
print(f"{E} modes, {steps} steps, diverged: {int(result.diverged.sum())}")

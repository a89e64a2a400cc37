"""Rule deep_linear_dynamics (Figs. 3, 4, 7): students with {hidden} hidden layers, full-batch GD.

Members = teacher rank (1, 3) x SNR x seed x initialisation (training-aligned,
random orthogonal); TA and random members of the same (rank, SNR, seed) see the
same noisy data. P = N1 one-hot inputs, loss 0.5 ||W X - Yhat||^2, tau = 1/lr. The gradients come from
the data's moments (spdl.engine.LinearGD: plain gradient descent up to rounding, about 2x less CPU).
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
p = smk.params
depth = p.depth  # this job's entry of dynamics.depths
hidden = int(smk.wildcards.hidden)
n1, n2, n3, D = p.n1, p.n2, p.n3, hidden + 1
eps, lr = depth["eps"], depth["lr"]
steps = int(round(depth["t_max"] / lr))
arch = MLP((n1,) + (n2,) * hidden + (n3,), activation="linear")

rows, tasks = [], []
for rank in (1, 3):
    for i, snr in enumerate(p.snr):
        sbar = [snr] if rank == 1 else list(snr * np.asarray(p.rank3_profile))
        for seed in range(depth.get("seeds", p.seeds)):
            task = dl.make_task(n1, n3, sbar, seed=100_000 * rank + 1000 * i + seed,
                                noise_std=p.noise_std)
            for init in ("aligned", "random"):
                rows.append((rank, snr, seed, init))
                tasks.append(task)

layers = [[] for _ in range(D)]
for e, ((rank, snr, seed, init), task) in enumerate(zip(rows, tasks)):
    if init == "aligned":
        weights = [torch.tensor(w, dtype=torch.float32) for w in
                   dl.aligned_init(task["Uhat"], task["Vhat"], n2, eps, n_layers=D)]
    else:
        weights = init_params(arch, seeds=[e], init_scale=eps ** (1 / D), scheme="orthogonal")
        weights = [w[0] for w in weights]
    for layer, w in zip(layers, weights):
        layer.append(w)
params = [torch.stack(layer) for layer in layers]
Wbar = torch.tensor(np.stack([t["Wbar"] for t in tasks]), dtype=torch.float32, device=dev)
Yhat = torch.tensor(np.stack([t["Yhat"] for t in tasks]), dtype=torch.float32, device=dev)
X = torch.eye(n1)  # sample mu is the one-hot input e_mu, so W X^T = W


def errors(params, step):
    W = params[0]
    for w in params[1:]:
        W = w @ W
    return {"train": ((W - Yhat) ** 2).sum((1, 2)) / (Yhat ** 2).sum((1, 2)),
            "test": ((W - Wbar) ** 2).sum((1, 2)) / (Wbar ** 2).sum((1, 2))}


result = train(arch, params, X, Yhat.transpose(1, 2), steps=steps, lr=lr, loss="mse_sum",
               record_at=record_schedule(steps, p.n_records), metrics=errors, progress=log,
               checkpoint=f"results/checkpoints/deep_linear/dynamics_h{hidden}.pt",
               checkpoint_every=max(1, steps // 20), device=dev, update=LinearGD())
aspect = n3 / n1
sz = p.noise_std  # the estimator assumes unit noise: apply it in units of the noise
nongrad = np.array([dl.test_error(sz * dl.nongradient_estimate(t["Sigma31"] / sz, aspect), t["Wbar"]) for t in tasks])
rank, snr, seed, init = (np.array(c) for c in zip(*rows))
save_npz(smk.output[0], t=result.steps * lr, train=result.history["train"], test=result.history["test"],
         rank=rank, snr=snr.astype(float), seed=seed, init=init, nongrad_test=nongrad,
         diverged=result.diverged, diverged_step=result.diverged_step, n1=n1, n2=n2, n3=n3, hidden_layers=hidden,
         eps=eps, lr=lr,
         t_max=depth["t_max"], rank3_profile=np.asarray(p.rank3_profile, float), noise_std=sz)
print(f"{len(rows)} members, {steps} steps, diverged: {int(result.diverged.sum())}")

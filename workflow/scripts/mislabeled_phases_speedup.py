"""Rule mislabeled_phases_speedup: the largest sweep ensemble (rho = max) trained together vs one by one.

Both ways run `speedup_steps` SGD steps per member on the same data, no recording; the speed-up is
sum over members of t(one member alone) / t(ensemble).
"""
import time

import numpy as np
import torch

from spdl.studies import mislabeled_phases as mp
from spdl.datasets import load
from spdl.engine import train
from spdl.io import save_npz
from spdl.jobs import start_job
from spdl.models import MLP, init_params

smk = snakemake  # noqa: F821
log = start_job(smk)
p = smk.params
data = load(smk.input.data)
rho, steps, b = p.rho, p.speedup_steps, p.batch_size
seeds = list(range(p.seeds + len(p.control["weight_decay"]) * p.control["seeds"]))
split = mp.make_split(data["y_train"], p.n_correct, rho, p.split_seed, label_seeds=[1000 + s for s in seeds])
X, Y = torch.tensor(data["x_train"][split["idx"]]), torch.tensor(split["labels"])
arch = MLP((X.shape[1], *p.hidden, 10), activation="relu", bias=False)


def timed(members):
    params = init_params(arch, [seeds[e] for e in members])
    start = time.perf_counter()
    train(arch, params, X, Y[members], steps=steps, lr=p.lr, batch_size=b, loss="cross_entropy",
          seeds=[seeds[e] for e in members])
    return time.perf_counter() - start


timed([0])  # warm-up
t_ens = timed(list(range(len(seeds))))
t_one = np.array([timed([e]) for e in range(len(seeds))])
speedup = t_one.sum() / t_ens
save_npz(smk.output[0], members=len(seeds), steps=steps, n_samples=len(X), t_ensemble=t_ens, t_single=t_one,
         speedup=speedup, threads=int(smk.threads), rho=rho)
print(f"{len(seeds)} members x {steps} steps: ensemble {t_ens:.2f} s, one by one {t_one.sum():.2f} s, "
      f"speed-up {speedup:.2f}")

"""Rule mislabeled_phases_sweep: one rho, every seed and weight decay trained as one ensemble.

Members = seeds at weight decay 0 (the main sweep, with their own wrong-label draws) followed by
control seeds x weight decays (the second phase diagram). All members see the same images
(n_correct correct + n_mis mislabeled, so they share N and the batch size, as train() needs);
only the wrong labels, the initialisation and the minibatch order depend on the seed.
Order parameters (spdl.mislabeled_phases.OrderParameters) at log-spaced steps.
"""
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
rho = float(smk.wildcards.rho)
data = load(smk.input.data)

seeds = list(range(p.seeds)) + [s for _ in p.control["weight_decay"] for s in range(p.control["seeds"])]
wd = [0.0] * p.seeds + [w for w in p.control["weight_decay"] for _ in range(p.control["seeds"])]
split = mp.make_split(data["y_train"], p.n_correct, rho, p.split_seed, label_seeds=[1000 + s for s in seeds])
X = torch.tensor(data["x_train"][split["idx"]])
Y = torch.tensor(split["labels"])
N, b = len(split["idx"]), p.batch_size
steps = int(round(p.epochs * N / b))
record = np.unique(np.r_[0, np.geomspace(1, steps, p.n_records).round()]).astype(np.int64)

arch = MLP((X.shape[1], *p.hidden, 10), activation="relu", bias=False)
params = init_params(arch, seeds)
metrics = mp.OrderParameters(arch, X, Y, split["is_mis"], torch.tensor(data["x_test"]), torch.tensor(data["y_test"]),
                             n_batches=p.n_minibatches, batch_size=b, seed=p.split_seed, n_grad=p.seeds)
print(f"rho={rho}: N={N} ({int(split['is_mis'].sum())} mislabeled), {len(seeds)} members, {steps} steps")
result = train(arch, params, X, Y, steps=steps, lr=p.lr, weight_decay=wd, batch_size=b, loss="cross_entropy",
               seeds=seeds, record_at=record, metrics=metrics, progress=log,
               checkpoint=f"results/checkpoints/mislabeled_phases/sweep_rho{smk.wildcards.rho}.pt",
               checkpoint_every=max(1, steps // 10))
# the facts of the run: the first main_seeds members are the main sweep (weight decay 0), the rest the control
save_npz(smk.output[0], steps=result.steps, rho=rho, rho_real=float(split["is_mis"].mean()),
         n_correct=p.n_correct, n_mis=int(split["is_mis"].sum()), seed=np.array(seeds), weight_decay=np.array(wd),
         main_seeds=p.seeds, hidden=np.array(p.hidden), lr=p.lr, batch_size=b, epochs=p.epochs,
         diverged=result.diverged, diverged_step=result.diverged_step,  # per member: whether and when it blew up
         **{k: v for k, v in result.history.items()})
print(f"final test acc {np.round(result.history['acc_test'][-1], 3)}, diverged: {int(result.diverged.sum())}")

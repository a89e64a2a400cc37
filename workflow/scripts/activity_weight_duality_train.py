"""Rule activity_weight_duality_train: every setting of one job x seeds as one ensemble, trained to
the demo's fit criterion, then the activity-weight analysis of each trained network.

A job shares batch size and training set (n_per_class, rho); its members differ in lr, init
scale, dropout and norm penalty (per member in spdl.engine) and in seed. Seed s gives the same
initial directions, minibatch order and wrong labels in every setting (paired comparisons).
"""
import os

import numpy as np
import torch

from spdl.studies import activity_weight_duality as awd
from spdl.datasets import load
from spdl.io import save_npz
from spdl.jobs import start_job
from spdl.models import MLP, init_params

smk = snakemake  # noqa: F821
log = start_job(smk)
p, job = smk.params, smk.wildcards.job
data = load(smk.input.data)

group = p.settings  # this job's settings (spdl.studies.activity_weight_duality_sweeps.settings)
B, n, rho, S = group[0]["batch_size"], group[0]["n_per_class"], group[0]["rho"], p.seeds
members = [(s, seed) for s in group for seed in range(S)]
sets = [awd.training_set(data["y_train"], n, rho, p.split_seed, 1000 + seed) for seed in range(S)]
correct = sets[0]["correct"]
X = torch.tensor(data["x_train"][sets[0]["idx"]])
Y = (torch.tensor(np.stack([sets[seed]["labels"] for _, seed in members])) if rho > 0
     else torch.tensor(sets[0]["labels"]))
x_test, y_test = data["x_test"][:p.n_test], data["y_test"][:p.n_test]
x_cor, y_cor = X[torch.tensor(correct)].numpy(), sets[0]["labels"][correct]

H = p.hidden
arch = MLP((X.shape[1], H, H, 10), activation="relu", bias=False)
params = init_params(arch, [seed for _, seed in members], init_scale=[s["init_scale"] for s, _ in members],
                     scheme="torch_default")
print(f"job {job}: {len(group)} settings x {S} seeds, N = {len(X)} ({int((~correct).sum())} mislabeled), B = {B}")
checkpoint = f"results/checkpoints/activity_weight_duality/{job}.pt"  # removed once the output is written
fit = awd.train_to_fit(arch, params, X, Y, correct, lr=[s["lr"] for s, _ in members], batch_size=B,
                       seeds=[seed for _, seed in members], stop=p.stop,
                       dropout=[s["dropout"] for s, _ in members],
                       norm_penalty=[s["norm_penalty"] for s, _ in members], penalty_epochs=p.penalty_epochs,
                       checkpoint=checkpoint, progress=log)

pair = awd.nearest_same_label(x_test, y_test, x_cor, y_cor)
res = awd.analyse_networks(fit["params"], x_cor, y_cor, x_test, y_test, pair, sharp=p.sharp_directions,
                           exact_max=p.hessian["exact_max_weights"], lanczos_k=p.hessian["lanczos_k"])
# divergence per member: whether (non-finite loss or weights) and in which epoch; its analysis is all NaN
res["diverged"] = res["diverged"] | fit["diverged"]
for e, (s, seed) in enumerate(members):
    print(f"{s['name']} seed {seed}: epochs {fit['stopped'][e]}, gap {res['gap'][e]:.4f}, "
          f"estimate {res['estimate'][e]:.4f}" + (" (diverged)" if res["diverged"][e] else ""))
last = fit["loss"][np.clip(fit["stopped"], 0, None), np.arange(len(members))]
# the facts of the run: per member its setting (hyperparameters, base flag, position in each sweep, -1 outside)
layout = {f"hp_{hp}": np.array([s[hp] for s, _ in members], float) for hp in awd.HYPERPARAMETERS}
layout |= {f"sweep_{hp}": np.array([s["sweeps"].get(hp, -1) for s, _ in members]) for hp in awd.HYPERPARAMETERS}
layout["is_base"] = np.array([s["base"] for s, _ in members])
save_npz(smk.output[0], setting=np.array([s["name"] for s, _ in members]), seed=np.array([sd for _, sd in members]),
         epochs=fit["stopped"], final_loss=last, fitted=fit["fitted"], diverged_epoch=fit["diverged_epoch"],
         loss_curve=fit["loss"], acc_curve=fit["acc"], pair=pair, **res, **layout,
         seeds=S, hidden=H, n_test=len(y_test), penalty_epochs=p.penalty_epochs,
         **{f"stop_{k}": v for k, v in p.stop.items()})
print(f"diverged: {int(res['diverged'].sum())} of {len(members)}")
os.remove(checkpoint)

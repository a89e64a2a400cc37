"""Rule activity_weight_duality_multilearner: K learners at equal total batch, synchronous averaging
(SSGD) vs gossip on a ring (DPSGD), trained to the fit criterion on the base training set; the
activity-weight analysis of each run's consensus network (the mean of its learners).

Every update: each learner takes an SGD step on its own minibatch of total_batch / K samples, then
p_k <- sum_j M_kj p_j with M = 1/K everywhere (SSGD: identical to averaging the K gradients) or
M = 1/3 on the ring neighbours (DPSGD). All learners of a run start from the same network; both
methods use the same initial networks and learner minibatch seeds. An epoch = N / total_batch updates.
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
p = smk.params
ml = p.multilearner
K, S, B = ml["learners"], ml["seeds"], ml["batch_size"]
data = load(smk.input.data)
ts = awd.training_set(data["y_train"], p.n_per_class, 0.0, p.split_seed, 0)
X, Y = torch.tensor(data["x_train"][ts["idx"]]), torch.tensor(ts["labels"])
x_test, y_test = data["x_test"][:p.n_test], data["y_test"][:p.n_test]

methods = {"SSGD": awd.full_mixing(K), "DPSGD": awd.ring_mixing(K)}
runs = [(m, seed) for m in methods for seed in range(S)]
groups = np.repeat(np.arange(len(runs)), K)
mixing = torch.block_diag(*[methods[m] for m, _ in runs])
H = p.hidden
arch = MLP((X.shape[1], H, H, 10), activation="relu", bias=False)
params = init_params(arch, [seed for _, seed in runs for _ in range(K)], init_scale=p.init_scale,
                     scheme="torch_default")
print(f"{K} learners x batch {B // K}, {S} seeds per method, N = {len(X)}")
checkpoint = "results/checkpoints/activity_weight_duality/multilearner.pt"  # removed once the output is written
fit = awd.train_to_fit(arch, params, X, Y, ts["correct"], lr=ml["lr"], batch_size=B // K,
                       seeds=[seed * K + k for _, seed in runs for k in range(K)], stop=p.stop,
                       groups=groups, mixing=mixing, steps_per_epoch=len(X) // B,
                       checkpoint=checkpoint, progress=log)

nets = awd.unit_networks(fit["params"], groups)
spread = [float(torch.sqrt(sum(((w[groups == g] - w[groups == g].mean(0)) ** 2).sum() for w in fit["params"]) / K))
          for g in range(len(runs))]
pair = awd.nearest_same_label(x_test, y_test, X.numpy(), ts["labels"])
res = awd.analyse_networks(nets, X.numpy(), ts["labels"], x_test, y_test, pair, sharp=p.sharp_directions,
                           exact_max=p.hessian["exact_max_weights"], lanczos_k=p.hessian["lanczos_k"])
res["diverged"] = res["diverged"] | fit["diverged"]  # per run (a learner that blows up poisons its run)
for r, (m, seed) in enumerate(runs):
    print(f"{m} seed {seed}: epochs {fit['stopped'][r]}, gap {res['gap'][r]:.4f}, "
          f"sigma_g {res['sigma_g_total'][r]:.3f}, sigma_w {res['sigma_w_total'][r]:.3f}")
last = fit["loss"][np.clip(fit["stopped"], 0, None), np.arange(len(runs))]
save_npz(smk.output[0], method=np.array([m for m, _ in runs]), seed=np.array([s for _, s in runs]),
         epochs=fit["stopped"], final_loss=last, fitted=fit["fitted"], learner_spread=np.array(spread),
         diverged_epoch=fit["diverged_epoch"],
         loss_curve=fit["loss"], **res, learners=K, batch_size=B, lr=ml["lr"], n_train=len(X))
os.remove(checkpoint)

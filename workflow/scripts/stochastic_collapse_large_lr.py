"""Rule `stochastic_collapse_large_lr`: a large-learning-rate phase of varying length, then a drop and a fixed
fine-tuning phase, on the tanh teacher-student proxy (CPU analogue of Chen et al. NeurIPS 2023, Fig. 6):
final test error and independent-neuron fraction vs drop time, drops x seeds in one ensemble.
"""
import numpy as np

from spdl.io import save_npz
from spdl.jobs import start_job
from spdl.studies import stochastic_collapse as sc

smk = snakemake  # noqa: F821
start_job(smk)
p, net, met = smk.params.large_lr, smk.params.net, smk.params.metric
data = sc.proxy_teacher(net["d"], net["teacher_units"], net["n_train"], net["n_test"], net["data_seed"])
drops = np.array(p["drop_steps"], int)
DR, SE = (a.ravel() for a in np.meshgrid(drops, np.arange(p["seeds"]), indexing="ij"))
E, F = len(DR), p["finetune_steps"]
total = int(drops.max() + F)
k = np.arange(total)[:, None]
lr = np.where(k < DR, p["lr_high"], np.where(k < DR + F, p["lr_low"], 0.0))  # 0 = finished, frozen
W, b, a = sc.proxy_init(net["width"], net["d"], p["seed"] * 1000 + SE)  # same init for every drop time
stream = p["seed"] * 100000 + SE + 1  # same minibatches / label noise for every drop time of a seed
snap_steps = sorted(set(np.linspace(0, total, p["n_snapshots"] + 1)[1:].round().astype(int).tolist()))
W2, b2, a2, div, snaps = sc.train_proxy(W, b, a, data["x_train"], data["y_train"], lr_schedule=lr,
                                        label_noise=p["label_noise"], batch=net["batch"], steps=total,
                                        seeds=stream, snapshots=snap_steps)


def measure(W, b, a):
    frac = np.array([sc.independent_fraction(W[e], b[e], a[e], met["vanish"], met["identical"])[0]
                     for e in range(E)])
    test = np.mean((sc.proxy_forward(W, b, a, data["x_test"]) - data["y_test"]) ** 2, 1)
    train = np.mean((sc.proxy_forward(W, b, a, data["x_train"]) - data["y_train"]) ** 2, 1)
    return frac, test, train


frac, test, train = measure(W2, b2, a2)
hist = np.array([measure(*snaps[s]) for s in snap_steps])  # (K, 3, E)
shape = (len(drops), p["seeds"])
print(f"final fraction (drop x seed):\n{frac.reshape(shape)}\nfinal test:\n{test.reshape(shape)}")
save_npz(smk.output[0], drop_steps=drops, finetune_steps=F, lr_high=p["lr_high"], lr_low=p["lr_low"],
         label_noise=p["label_noise"], fraction=frac.reshape(shape), test=test.reshape(shape),
         train=train.reshape(shape), snap_steps=np.array(snap_steps), snap_fraction=hist[:, 0].reshape(-1, *shape),
         snap_test=hist[:, 1].reshape(-1, *shape), snap_train=hist[:, 2].reshape(-1, *shape),
         diverged=(div >= 0).reshape(shape))

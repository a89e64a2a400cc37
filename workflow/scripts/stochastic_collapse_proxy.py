"""Rule `stochastic_collapse_proxy`: independent-neuron fraction of a tanh teacher-student network trained by
SGD with per-draw label noise, over learning rate x label noise x seeds in one ensemble (CPU proxy of the
VGG-16 / ResNet-18 sweeps of Chen et al. NeurIPS 2023, Figs. 3-4).
"""
import numpy as np

from spdl.io import save_npz
from spdl.jobs import start_job
from spdl.studies import stochastic_collapse as sc

smk = snakemake  # noqa: F821
start_job(smk)
p, net, met = smk.params.proxy, smk.params.net, smk.params.metric
data = sc.proxy_teacher(net["d"], net["teacher_units"], net["n_train"], net["n_test"], net["data_seed"])
lrs, sig = np.array(p["lr"], float), np.array(p["label_noise"], float)
LR, SG, SE = (a.ravel() for a in np.meshgrid(lrs, sig, np.arange(p["seeds"]), indexing="ij"))
E = len(LR)
W, b, a = sc.proxy_init(net["width"], net["d"], p["seed"] * 1000 + SE)  # init depends on the seed only
stream = p["seed"] * 100000 + np.arange(E) + 1  # minibatch / label-noise stream of each member
W2, b2, a2, div, snaps = sc.train_proxy(W, b, a, data["x_train"], data["y_train"],
                                        lr_schedule=np.tile(LR, (p["steps"], 1)), label_noise=SG,
                                        batch=net["batch"], steps=p["steps"], seeds=stream,
                                        snapshots=[p["steps_short"]])


def measure(W, b, a):
    res = [sc.independent_fraction(W[e], b[e], a[e], met["vanish"], met["identical"]) for e in range(E)]
    test = np.mean((sc.proxy_forward(W, b, a, data["x_test"]) - data["y_test"]) ** 2, 1)
    return np.array([r[0] for r in res]), np.array([r[1] for r in res]), np.array([r[2] for r in res]), test


frac, groups, vanished, test = measure(W2, b2, a2)
frac_s, groups_s, _, test_s = measure(*snaps[p["steps_short"]])
shape = (len(lrs), len(sig), p["seeds"])
print(f"fractions (lr x sigma x seed):\n{frac.reshape(shape)}")
save_npz(smk.output[0], lr=lrs, label_noise=sig, width=net["width"], teacher_units=net["teacher_units"],
         steps=p["steps"], steps_short=p["steps_short"], fraction=frac.reshape(shape),
         groups=groups.reshape(shape), vanished=vanished.reshape(shape), test=test.reshape(shape),
         fraction_short=frac_s.reshape(shape), groups_short=groups_s.reshape(shape), test_short=test_s.reshape(shape),
         diverged=(div >= 0).reshape(shape))

"""Rule `stochastic_collapse_deep`: one job of the deep-network sweep (Chen et al. NeurIPS 2023, Figs. 3-4):
networks of one architecture trained with the authors' soft cross-entropy, Gaussian label noise on the one-hot
target at every draw, SGD with momentum and weight decay; then the independent-neuron fraction of every hidden
layer (the authors' metric), train/test accuracy and loss, divergence. The MLP members of a job train together
in one batched loop; VGG-16 / ResNet-18 train one network at a time on the configured device.
"""
import time

import numpy as np
import torch  # imported before start_job, which then sets torch's threads

from spdl.datasets import load
from spdl.device import resolve_device
from spdl.io import save_npz
from spdl.jobs import start_job
from spdl.studies import stochastic_collapse as sc

smk = snakemake  # noqa: F821
start_job(smk)
members, t, met = smk.params.members, smk.params.training, smk.params.metric
arch = members[0]["arch"]
device = resolve_device(smk.params.device)
if device.type == "cuda":
    torch.backends.cudnn.benchmark = True
data = load(smk.input.data)
X, Xt = (torch.as_tensor(sc.deep_inputs(data[k], t["dataset"], arch, t["mlp"]["downsample"])).to(device)
         for k in ("x_train", "x_test"))
Y, Yt = (torch.as_tensor(data[k], dtype=torch.int64).to(device) for k in ("y_train", "y_test"))
seeds = [sc.deep_seeds(t, arch, m["r"]) for m in members]
common = {k: t[k] for k in ("batch", "steps", "momentum", "weight_decay", "warmup_steps", "target_mass_norm",
                            "n_records")}
print(f"{arch} on {t['dataset']} ({len(X)} train, {len(Xt)} test), {len(members)} networks, device {device}")


def accuracy(logits_fn):
    """Train and test accuracy and clean cross-entropy of every member, {name: (E,)}."""
    (acc, loss), (tacc, tloss) = sc.evaluate(logits_fn, X, Y), sc.evaluate(logits_fn, Xt, Yt)
    return dict(train_acc=acc, train_loss=loss, test_acc=tacc, test_loss=tloss)


rows, runs, seconds = [], [], []
if arch == "mlp":
    start = time.time()
    widths = (X.shape[1], *t["mlp"]["widths"], sc.N_CLASSES)
    params = [p.to(device) for p in sc.mlp_init(widths, [s["init"] for s in seeds])]
    out = sc.train_mlp_ensemble(params, X, Y, lr=[m["lr"] for m in members],
                                label_noise=[m["label_noise"] for m in members],
                                batch_seeds=[s["batch"] for s in seeds], noise_seeds=[s["noise"] for s in seeds],
                                activation=t["mlp"]["activation"], **common)
    ev = accuracy(lambda c: sc.mlp_forward(params, c, t["mlp"]["activation"]))
    for e in range(len(members)):
        lf = sc.layer_fractions(sc.mlp_layers(params, e), met["vanish"], met["identical"])
        rows.append({**{k: v[e] for k, v in ev.items()}, **lf})
    runs = [{"diverged_step": out["diverged_step"][e], "loss_curve": out["loss_curve"][:, e]}
            for e in range(len(members))]
    curve_steps = out["curve_steps"]
    seconds = [(time.time() - start) / len(members)] * len(members)
else:
    for m, s in zip(members, seeds):
        start = time.time()
        model = sc.build_model(arch, s["init"]).to(device)
        out = sc.train_network(model, X, Y, lr=m["lr"], label_noise=m["label_noise"], seeds=s, augment=t["augment"],
                               **common)
        model.eval()
        ev = accuracy(lambda c: model(c)[None])
        rows.append({**{k: v[0] for k, v in ev.items()},
                     **sc.layer_fractions(sc.network_layers(model), met["vanish"], met["identical"])})
        runs.append({"diverged_step": out["diverged_step"][0], "loss_curve": out["loss_curve"][:, 0]})
        curve_steps = out["curve_steps"]
        seconds.append(time.time() - start)
        print(f"lr {m['lr']:g} label noise {m['label_noise']:g} seed {m['r']}: train acc {rows[-1]['train_acc']:.4f} "
              f"test acc {rows[-1]['test_acc']:.4f}, fraction per layer {np.round(rows[-1]['fraction'], 3)}, "
              f"{seconds[-1]:.0f} s", flush=True)

for m, row, run in zip(members, rows, runs):
    print(f"lr {m['lr']:g} sigma {m['label_noise']:g} seed {m['r']}: diverged at {run['diverged_step']}, "
          f"train/test acc {row['train_acc']:.3f}/{row['test_acc']:.3f}, fraction {np.round(row['fraction'], 3)}")
save_npz(smk.output[0], arch=arch, device=str(device), index=np.array([[m["i"], m["j"], m["r"]] for m in members]),
         lr=np.array([m["lr"] for m in members]), label_noise=np.array([m["label_noise"] for m in members]),
         layer_names=rows[0]["names"], layer_width=rows[0]["width"],
         **{k: np.stack([row[k] for row in rows]) for k in ("fraction", "groups", "vanished")},
         **{k: np.array([row[k] for row in rows]) for k in ("train_acc", "train_loss", "test_acc", "test_loss")},
         diverged_step=np.array([run["diverged_step"] for run in runs]), curve_steps=curve_steps,
         loss_curve=np.stack([run["loss_curve"] for run in runs]), seconds=np.array(seconds))

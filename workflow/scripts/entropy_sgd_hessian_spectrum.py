"""Rule `entropy_sgd_hessian_spectrum`: Hessian spectra at minima found by SGD and Adam (Chaudhari et al.
ICLR 2017, Figs. 1 and 3). A small ReLU MLP on pooled MNIST images is trained by both optimizers (all seeds
of one optimizer in one ensemble); at each snapshot epoch the exact Hessian of the mean training
cross-entropy (double backprop, float64) of every member is diagonalised (eigvalsh). Stochastic Lanczos
quadrature (SLQ) of the final small networks checks the exact top eigenvalues; SLQ alone gives the
spectral density of a ~50k-parameter network (the paper's small-mnistfc size)."""
import numpy as np
import torch

from spdl import hessian
from spdl.io import save_npz
from spdl.jobs import start_job
from spdl.models import MLP, init_params
from spdl.studies import entropy_sgd_hessian as esh

smk = snakemake  # noqa: F821
log = start_job(smk)
sp = smk.params.spectrum
METHODS = ("sgd", "adam")


def train_all(arch, data, cfg, seeds, epochs, keep, tag):
    out = {}
    for m in METHODS:
        out[m] = esh.train_ensemble(
            arch, init_params(arch, seeds), data, method=m, epochs=epochs, batch_size=cfg["batch_size"], seeds=seeds,
            lr=sp[m]["lr"], adam=sp["adam"], record_epochs=sorted(set(keep) | {0, epochs}), keep_epochs=keep,
            checkpoint=f"results/checkpoints/entropy_sgd_hessian/spectrum_{tag}_{m}.pt", log=log)
        print(f"{tag} {m}: final train loss {out[m]['history']['train_loss'][-1]}, "
              f"test error {out[m]['history']['test_err'][-1]}", flush=True)
    return out


# ---- small network: exact spectra over training time
data = esh.load_data(smk.input.data, factor=sp["downsample"])
X, Y = data["x_train"][:sp["hessian_samples"]], data["y_train"][:sp["hessian_samples"]]  # Hessian of this loss
arch = MLP((X.shape[1], sp["hidden"], 10), activation="relu", bias=True)
P = arch.num_params()
seeds = list(range(sp["seeds"]))
snaps = sorted(sp["snapshots"])
runs = train_all(arch, data, sp, seeds, sp["epochs"], snaps, "small")
eigs = np.full((len(METHODS), len(snaps), len(seeds), P), np.nan)
for i, m in enumerate(METHODS):
    for j, ep in enumerate(snaps):
        kept = runs[m]["kept"][ep]
        H = hessian.ensemble_hessians(arch, kept, X, Y, "cross_entropy", dtype=torch.float64, batch=sp["hvp_batch"])
        eigs[i, j] = hessian.eigenvalues(H).numpy()
        eigs[i, j, runs[m]["diverged"]] = np.nan
        print(f"{m} epoch {ep}: lambda_max {np.nanmax(eigs[i, j], 1)}, lambda_min {np.nanmin(eigs[i, j], 1)}", flush=True)

# ---- SLQ of the final small networks (same probes for every member)
s = sp["slq"]
slq_small_nodes, slq_small_weights = [], []
for m in METHODS:
    quads = hessian.ensemble_slq(arch, runs[m]["params"], X, Y, "cross_entropy", dtype=torch.float64,
                                 probes=s["probes"], steps=s["steps"], seed=s["seed"])
    slq_small_nodes.append([qd.nodes for qd in quads])
    slq_small_weights.append([qd.weights for qd in quads])

# ---- large network: SLQ only
lg = sp["large"]
data_l = esh.load_data(smk.input.data, factor=lg["downsample"])
arch_l = MLP((data_l["x_train"].shape[1], lg["hidden"], 10), activation="relu", bias=True)
seeds_l = list(range(lg["seeds"]))
runs_l = train_all(arch_l, data_l, lg, seeds_l, lg["epochs"], [], "large")
slq_large_nodes, slq_large_weights = [], []
for m in METHODS:
    quads = hessian.ensemble_slq(arch_l, runs_l[m]["params"], data_l["x_train"][:sp["hessian_samples"]],
                                 data_l["y_train"][:sp["hessian_samples"]], "cross_entropy",
                                 dtype=torch.float64, probes=s["probes"], steps=s["steps"], seed=s["seed"])
    slq_large_nodes.append([qd.nodes for qd in quads])
    slq_large_weights.append([qd.weights for qd in quads])
    print(f"large {m}: top Ritz values {[float(qd.nodes.max()) for qd in quads]}", flush=True)


def hist(runs_, key):
    return np.array([runs_[m]["history"][key] for m in METHODS])


save_npz(smk.output[0], hessian_samples=len(Y), methods=np.array(METHODS), snapshots=np.array(snaps), seeds=np.array(seeds), n_params=P,
         widths=np.array(arch.widths), eigs=eigs,
         diverged=np.array([runs[m]["diverged"] for m in METHODS]),
         hist_epochs=runs["sgd"]["epochs"], train_loss=hist(runs, "train_loss"), test_err=hist(runs, "test_err"),
         slq_small_nodes=np.array(slq_small_nodes), slq_small_weights=np.array(slq_small_weights),
         large_widths=np.array(arch_l.widths), large_n_params=arch_l.num_params(),
         large_diverged=np.array([runs_l[m]["diverged"] for m in METHODS]),
         large_train_loss=hist(runs_l, "train_loss")[:, -1], large_test_err=hist(runs_l, "test_err")[:, -1],
         slq_large_nodes=np.array(slq_large_nodes), slq_large_weights=np.array(slq_large_weights))

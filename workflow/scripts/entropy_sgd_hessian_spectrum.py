"""Rule `entropy_sgd_hessian_spectrum`: Hessian spectra at minima found by SGD and Adam (Chaudhari et al.
ICLR 2017, Figs. 1 and 3). A small ReLU MLP on pooled MNIST images is trained by both optimizers (all seeds
of one optimizer in one ensemble of spdl.engine.train); at each snapshot epoch the exact Hessian of the
mean training cross-entropy (double backprop, float64) of every member is diagonalised (eigvalsh). Stochastic Lanczos
quadrature (SLQ) of the final small networks checks the exact top eigenvalues; SLQ alone gives the
spectral density of a ~50k-parameter network (the paper's small-mnistfc size)."""
import numpy as np
import torch

from spdl import hessian
from spdl.engine import train
from spdl.io import save_npz
from spdl.jobs import start_job
from spdl.models import MLP, init_params
from spdl.studies import entropy_sgd_hessian as esh

smk = snakemake  # noqa: F821
log = start_job(smk)
sp = smk.params.spectrum
METHODS = ("sgd", "adam")


def train_all(arch, data, cfg, seeds, epochs, tag):
    """SGD and Adam ensembles (engine update rules) for `epochs` epochs; records at 0 and the end."""
    per_epoch = len(data["y_train"]) // cfg["batch_size"]
    out = {}
    for m in METHODS:
        steps, record_at = esh.matched_steps(epochs, per_epoch, 1, [0, epochs])
        out[m] = train(arch, init_params(arch, seeds), data["x_train"], data["y_train"], steps=steps, lr=sp[m]["lr"],
                       batch_size=cfg["batch_size"], loss="cross_entropy", seeds=seeds, record_at=record_at,
                       metrics=esh.error_metrics(arch, data), update=esh.make_rule(m, sp[m], per_epoch),
                       checkpoint=f"results/checkpoints/entropy_sgd_hessian/spectrum_{tag}_{m}.pt",
                       checkpoint_every=per_epoch, progress=log)
        print(f"{tag} {m}: final train loss {out[m].history['loss'][-1]}, "
              f"test error {out[m].history['test_err'][-1]}", flush=True)
    return out


def exact_eigenvalues(arch, res, X, Y):
    """(E, P) eigenvalues of every member's exact Hessian (one member at a time: rows by batched
    double backprop, fastest on the CPU); NaN for a diverged member."""
    out = np.full((len(res.diverged), arch.num_params()), np.nan)
    for e in np.flatnonzero(~res.diverged):
        H = hessian.network_hessian(arch, res.params, X, Y, "cross_entropy", member=int(e), dtype=torch.float64,
                                    batch=sp["hvp_batch"])
        out[e] = hessian.eigenvalues(H).numpy()
    return out


# ---- small network: exact spectra over training time; a snapshot before the end is the same
# training run stopped there (every member's stream does not depend on the number of steps)
data = esh.load_data(smk.input.data, factor=sp["downsample"])
X, Y = data["x_train"][:sp["hessian_samples"]], data["y_train"][:sp["hessian_samples"]]  # Hessian of this loss
arch = MLP((X.shape[1], sp["hidden"], 10), activation="relu", bias=True)
P = arch.num_params()
seeds = list(range(sp["seeds"]))
snaps = sorted(sp["snapshots"])
runs = train_all(arch, data, sp, seeds, sp["epochs"], "small")
eigs = np.full((len(METHODS), len(snaps), len(seeds), P), np.nan)
for j, ep in enumerate(snaps):
    at = runs if ep == sp["epochs"] else train_all(arch, data, sp, seeds, ep, f"small_epoch{ep}")
    for i, m in enumerate(METHODS):
        eigs[i, j] = exact_eigenvalues(arch, at[m], X, Y)
        print(f"{m} epoch {ep}: lambda_max {np.nanmax(eigs[i, j], 1)}, lambda_min {np.nanmin(eigs[i, j], 1)}",
              flush=True)

# ---- SLQ of the final small networks (same probes for every member)
s = sp["slq"]
slq_small_nodes, slq_small_weights = [], []
for m in METHODS:
    quads = hessian.ensemble_slq(arch, runs[m].params, X, Y, "cross_entropy", dtype=torch.float64,
                                 probes=s["probes"], steps=s["steps"], seed=s["seed"])
    slq_small_nodes.append([qd.nodes for qd in quads])
    slq_small_weights.append([qd.weights for qd in quads])

# ---- large network: SLQ only
lg = sp["large"]
data_l = esh.load_data(smk.input.data, factor=lg["downsample"])
arch_l = MLP((data_l["x_train"].shape[1], lg["hidden"], 10), activation="relu", bias=True)
seeds_l = list(range(lg["seeds"]))
runs_l = train_all(arch_l, data_l, lg, seeds_l, lg["epochs"], "large")
slq_large_nodes, slq_large_weights = [], []
for m in METHODS:
    quads = hessian.ensemble_slq(arch_l, runs_l[m].params, data_l["x_train"][:sp["hessian_samples"]],
                                 data_l["y_train"][:sp["hessian_samples"]], "cross_entropy",
                                 dtype=torch.float64, probes=s["probes"], steps=s["steps"], seed=s["seed"])
    slq_large_nodes.append([qd.nodes for qd in quads])
    slq_large_weights.append([qd.weights for qd in quads])
    print(f"large {m}: top Ritz values {[float(qd.nodes.max()) for qd in quads]}", flush=True)


def hist(runs_, key):
    return np.array([runs_[m].history[key] for m in METHODS])


save_npz(smk.output[0], hessian_samples=len(Y), methods=np.array(METHODS), snapshots=np.array(snaps),
         seeds=np.array(seeds), n_params=P, widths=np.array(arch.widths), eigs=eigs,
         diverged=np.array([runs[m].diverged for m in METHODS]),
         hist_epochs=runs["sgd"].steps / (len(data["y_train"]) // sp["batch_size"]), train_loss=hist(runs, "loss"),
         test_err=hist(runs, "test_err"),
         slq_small_nodes=np.array(slq_small_nodes), slq_small_weights=np.array(slq_small_weights),
         large_widths=np.array(arch_l.widths), large_n_params=arch_l.num_params(),
         large_diverged=np.array([runs_l[m].diverged for m in METHODS]),
         large_train_loss=hist(runs_l, "loss")[:, -1], large_test_err=hist(runs_l, "test_err")[:, -1],
         slq_large_nodes=np.array(slq_large_nodes), slq_large_weights=np.array(slq_large_weights))

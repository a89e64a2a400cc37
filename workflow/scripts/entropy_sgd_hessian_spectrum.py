"""Rule `entropy_sgd_hessian_spectrum`: Hessian spectra at minima found by SGD and Adam (Chaudhari et al.
ICLR 2017, Figs. 1 and 3). A small ReLU MLP on pooled MNIST images is trained by both optimizers (all seeds
of one optimizer in one ensemble of spdl.engine.train); at each snapshot epoch the exact Hessian of the
mean training cross-entropy (double backprop, float64) of every member is diagonalised (eigvalsh). Stochastic Lanczos
quadrature (SLQ) of the final small networks checks the exact top eigenvalues; SLQ alone gives the
spectral density of a ~50k-parameter network (the paper's small-mnistfc size).

spectrum.model selects the exact-Hessian network: "mlp" (the ensemble engine) or "lenet" (the paper's
small-LeNet, spdl.convnets: one network per seed trained by its own loop, parameters kept at every
snapshot epoch; exact Hessian in spectrum.hessian_dtype, 9 GB in float32 at 47,658 parameters)."""
import numpy as np
import torch

from spdl import convnets, hessian
from spdl.device import resolve_device
from spdl.engine import train
from spdl.io import save_npz
from spdl.jobs import start_job
from spdl.models import MLP, init_params
from spdl.studies import entropy_sgd_hessian as esh

smk = snakemake  # noqa: F821
log = start_job(smk)
sp = smk.params.spectrum
dev = resolve_device(smk.params.device)
METHODS = ("sgd", "adam")
DTYPE = {"float32": torch.float32, "float64": torch.float64}[sp["hessian_dtype"]]


def train_all(arch, data, cfg, seeds, epochs, tag):
    """SGD and Adam ensembles (engine update rules) for `epochs` epochs; records at 0 and the end."""
    per_epoch = len(data["y_train"]) // cfg["batch_size"]
    out = {}
    for m in METHODS:
        steps, record_at = esh.matched_steps(epochs, per_epoch, 1, [0, epochs])
        out[m] = train(arch, init_params(arch, seeds, device=dev), data["x_train"], data["y_train"], steps=steps,
                       lr=sp[m]["lr"], batch_size=cfg["batch_size"], loss="cross_entropy", seeds=seeds,
                       record_at=record_at, metrics=esh.error_metrics(arch, data),
                       update=esh.make_rule(m, sp[m], per_epoch),
                       checkpoint=f"results/checkpoints/entropy_sgd_hessian/spectrum_{tag}_{m}.pt",
                       checkpoint_every=per_epoch, progress=log, device=dev)
        print(f"{tag} {m}: final train loss {out[m].history['loss'][-1]}, "
              f"test error {out[m].history['test_err'][-1]}", flush=True)
    return out


def mlp_small(data, X, Y, seeds, snaps):
    """The small MLP: exact spectra at every snapshot epoch (a snapshot before the end is the same
    training run stopped there: every member's stream does not depend on the number of steps), SLQ
    of the final networks (the same probes for every member), the training history."""
    arch = MLP((X.shape[1], sp["hidden"], 10), activation="relu", bias=True)
    runs = train_all(arch, data, sp, seeds, sp["epochs"], "small")
    eigs = np.full((len(METHODS), len(snaps), len(seeds), arch.num_params()), np.nan)
    for j, ep in enumerate(snaps):
        at = runs if ep == sp["epochs"] else train_all(arch, data, sp, seeds, ep, f"small_epoch{ep}")
        for i, m in enumerate(METHODS):
            eigs[i, j] = esh.member_eigenvalues(arch, at[m].params, at[m].diverged, X, Y, sp["hvp_batch"], DTYPE)
    s = sp["slq"]
    quads = [hessian.ensemble_slq(arch, runs[m].params, X, Y, "cross_entropy", dtype=torch.float64,
                                  probes=s["probes"], steps=s["steps"], seed=s["seed"]) for m in METHODS]
    return dict(model="mlp", n_params=arch.num_params(), widths=np.array(arch.widths), eigs=eigs,
                diverged=np.array([runs[m].diverged for m in METHODS]),
                hist_epochs=runs["sgd"].steps / (len(data["y_train"]) // sp["batch_size"]),
                train_loss=hist(runs, "loss"), test_err=hist(runs, "test_err"),
                slq_small_nodes=np.array([[qd.nodes for qd in q] for q in quads]),
                slq_small_weights=np.array([[qd.weights for qd in q] for q in quads]))


def lenet_small(data, X, Y, seeds, snaps):
    """The paper's small-LeNet (spdl.convnets): each seed of each method trained by its own loop with
    the parameters kept at every snapshot epoch; exact Hessian (hessian_dtype, rows by batched HVPs
    over pieces of lenet.chunk samples) and eigvalsh on `dev`; SLQ of the final networks."""
    lc, s = sp["lenet"], sp["slq"]
    shape = convnets.LeNetShape(side=int(round(X.shape[1] ** 0.5)), channels=tuple(lc["channels"]),
                                kernel=lc["kernel"], hidden=lc["hidden"])
    P = shape.num_params()
    dd = {k: v.to(dev) for k, v in data.items()}
    Xh, Yh = X.to(dev, DTYPE), Y.to(dev)
    eigs = np.full((len(METHODS), len(snaps), len(seeds), P), np.nan)
    nodes = np.full((len(METHODS), len(seeds), s["probes"], s["steps"]), np.nan)
    weights = np.full_like(nodes, np.nan)
    diverged = np.zeros((len(METHODS), len(seeds)), bool)
    train_loss = np.full((len(METHODS), 2, len(seeds)), np.nan)
    test_err = np.full_like(train_loss, np.nan)
    for i, m in enumerate(METHODS):
        for k, seed in enumerate(seeds):
            model = convnets.init_lenet(shape, seed, lc["init_std"], device=dev)
            opts = {key: v for key, v in sp[m].items() if key != "lr"}
            run = convnets.train_lenet(model, dd, method=m, lr=sp[m]["lr"], epochs=sp["epochs"],
                                       batch_size=sp["batch_size"], seed=seed, opts=opts, snapshots=snaps,
                                       checkpoint=f"results/checkpoints/entropy_sgd_hessian/lenet_{m}_{seed}.pt",
                                       log=log)
            diverged[i, k] = run["diverged"]
            h = run["history"]
            train_loss[i, :, k] = [h["train_loss"][0], h["train_loss"][-1]]
            test_err[i, :, k] = [h["test_err"][0], h["test_err"][-1]]
            for j, ep in enumerate(snaps):
                if ep not in run["snapshots"]:
                    continue  # after a divergence: NaN
                model.load_state_dict(run["snapshots"][ep])
                net = model.to(DTYPE)
                H = convnets.exact_hessian(net, Xh, Yh, batch=sp["hvp_batch"], chunk=lc["chunk"])
                eigs[i, j, k] = hessian.eigenvalues(H).double().cpu().numpy()
                del H
                if ep == snaps[-1]:
                    op = convnets.hvp(net, Xh, Yh, lc["chunk"])
                    qd = hessian.slq(op, op.n, probes=s["probes"], steps=s["steps"], seed=s["seed"])
                    nodes[i, k, :, :qd.nodes.shape[-1]] = qd.nodes.reshape(s["probes"], -1)
                    weights[i, k, :, :qd.nodes.shape[-1]] = qd.weights.reshape(s["probes"], -1)
                model.float()
            print(f"lenet {m} seed {seed}: test error {test_err[i, 1, k]}, lambda_max {np.nanmax(eigs[i, :, k], 1)}",
                  flush=True)
    return dict(model="lenet", n_params=P, widths=np.array([shape.side**2, *shape.channels, shape.hidden, 10]),
                eigs=eigs, diverged=diverged, hist_epochs=np.array([0, sp["epochs"]]), train_loss=train_loss,
                test_err=test_err, slq_small_nodes=nodes, slq_small_weights=weights)


def hist(runs_, key):
    return np.array([runs_[m].history[key] for m in METHODS])


data = esh.load_data(smk.input.data, factor=sp["downsample"])
X, Y = data["x_train"][:sp["hessian_samples"]], data["y_train"][:sp["hessian_samples"]]  # Hessian of this loss
seeds = list(range(sp["seeds"]))
snaps = sorted(sp["snapshots"])
small = (lenet_small if sp["model"] == "lenet" else mlp_small)(data, X, Y, seeds, snaps)
for i, m in enumerate(METHODS):
    for j, ep in enumerate(snaps):
        e = small["eigs"][i, j]
        print(f"{m} epoch {ep}: lambda_max {np.nanmax(e, 1)}, lambda_min {np.nanmin(e, 1)}", flush=True)

# ---- large network: SLQ only
lg, s = sp["large"], sp["slq"]
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


save_npz(smk.output[0], hessian_samples=len(Y), methods=np.array(METHODS), snapshots=np.array(snaps),
         seeds=np.array(seeds), hessian_dtype=sp["hessian_dtype"], **small,
         large_widths=np.array(arch_l.widths), large_n_params=arch_l.num_params(),
         large_diverged=np.array([runs_l[m].diverged for m in METHODS]),
         large_train_loss=hist(runs_l, "loss")[:, -1], large_test_err=hist(runs_l, "test_err")[:, -1],
         slq_large_nodes=np.array(slq_large_nodes), slq_large_weights=np.array(slq_large_weights))

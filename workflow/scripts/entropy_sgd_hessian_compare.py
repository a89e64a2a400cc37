"""Rule `entropy_sgd_hessian_compare`: Entropy-SGD (Chaudhari et al. ICLR 2017, Algorithm 1 with scoping)
vs SGD and Adam at matched effective epochs (minibatch gradients / batches per epoch; Table 1's
"epochs x L"), every seed of a method in one ensemble of spdl.engine.train (update rules SGD, Adam,
EntropySGD; lr milestones by StepLR). Records test error and training loss over
effective epochs; at the end the top Hessian eigenvalue (ARPACK on Hessian-vector products) and the
Hessian trace (Hutchinson, Rademacher probes) of every member's full-training-set loss."""
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
cp = smk.params.compare
METHODS = ("sgd", "adam", "entropy_sgd")
data = esh.load_data(smk.input.data, factor=cp["downsample"])
X, Y = data["x_train"], data["y_train"]
arch = MLP((X.shape[1], cp["hidden"], 10), activation="relu", bias=True)
P = arch.num_params()
seeds = list(range(cp["seeds"]))
per_epoch = len(Y) // cp["batch_size"]
record = sorted(set(np.linspace(0, cp["epochs"], cp["n_records"]).round().astype(int).tolist()))
runs, steps, cost = {}, {}, {}
for m in METHODS:
    o = cp["esgd" if m == "entropy_sgd" else m]
    rule = esh.make_rule(m, o, per_epoch)
    cost[m] = esh.grads_per_step(rule)
    steps[m], record_at = esh.matched_steps(cp["epochs"], per_epoch, cost[m], record)
    runs[m] = train(arch, init_params(arch, seeds), X, Y, steps=steps[m], lr=o["lr"], batch_size=cp["batch_size"],
                    loss="cross_entropy", seeds=seeds, record_at=record_at, metrics=esh.error_metrics(arch, data),
                    update=rule, checkpoint=f"results/checkpoints/entropy_sgd_hessian/compare_{m}.pt",
                    checkpoint_every=max(1, per_epoch // cost[m]), progress=log)
    print(f"{m}: {steps[m]} updates x {cost[m]} gradients; test error {runs[m].history['test_err'][-1]}, "
          f"train loss {runs[m].history['loss'][-1]}", flush=True)

h = cp["hessian"]
X, Y = X[:h["samples"]], Y[:h["samples"]]  # the Hessian of the mean loss on these training samples
top = np.full((len(METHODS), len(seeds)), np.nan)
trace = np.full((len(METHODS), len(seeds)), np.nan)
for i, m in enumerate(METHODS):
    params = runs[m].params
    hvp_all = hessian.ensemble_hvp(arch, params, X, Y, "cross_entropy", dtype=torch.float64)
    V = hessian.rademacher(h["trace_probes"], P, seed=h["seed"]).expand(len(seeds), -1, -1)
    trace[i] = (V * hvp_all(V)).sum(2).mean(1).numpy()
    for e in range(len(seeds)):
        if runs[m].diverged[e]:
            trace[i, e] = np.nan
            continue
        hvp, theta = hessian.network_hvp(arch, params, X, Y, "cross_entropy", member=e, dtype=torch.float64)
        vals, _ = hessian.extreme_eigenpairs(hvp, P, k=1, which="LA", tol=h["tol"], seed=h["seed"])
        top[i, e] = vals[0]
    print(f"{m}: top eigenvalue {top[i]}, trace {trace[i]}", flush=True)

save_npz(smk.output[0], methods=np.array(METHODS), seeds=np.array(seeds), n_params=P, widths=np.array(arch.widths),
         epochs=np.array([runs[m].steps * cost[m] / per_epoch for m in METHODS]),
         train_loss=np.array([runs[m].history["loss"] for m in METHODS]),
         train_err=np.array([runs[m].history["train_err"] for m in METHODS]),
         test_loss=np.array([runs[m].history["test_loss"] for m in METHODS]),
         test_err=np.array([runs[m].history["test_err"] for m in METHODS]),
         diverged=np.array([runs[m].diverged for m in METHODS]),
         updates=np.array([steps[m] for m in METHODS]), grads_per_step=np.array([cost[m] for m in METHODS]),
         top_eig=top, trace=trace, L=cp["esgd"]["L"], variant=cp["esgd"]["variant"])

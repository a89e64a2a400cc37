"""Rule `entropy_sgd_hessian_sweep`: how the exact Hessian spectrum at an SGD minimum changes with the
hidden width and the batch size (Chaudhari et al. ICLR 2017, Fig. 1; the sweep is our design). One
job: for every setting (each width at the base batch size, each batch size at the base width) the
seeds train as one ensemble of spdl.engine.train (plain SGD, same lr and epochs everywhere), then
the exact Hessian of the mean training cross-entropy of every member is diagonalised (eigvalsh)."""
import numpy as np

from spdl.device import resolve_device
from spdl.engine import train
from spdl.io import save_npz
from spdl.jobs import start_job
from spdl.models import MLP, init_params
from spdl.studies import entropy_sgd_hessian as esh

smk = snakemake  # noqa: F821
log = start_job(smk)
p = smk.params
sw = p.sweep
dev = resolve_device(p.device)
data = esh.load_data(smk.input.data, factor=sw["downsample"])
X, Y = data["x_train"][:sw["hessian_samples"]], data["y_train"][:sw["hessian_samples"]]
seeds = list(range(sw["seeds"]))
settings = esh.sweep_settings(sw["widths"], sw["batch_sizes"], sw["base"]["hidden"], sw["base"]["batch_size"])
P_max = max(MLP((X.shape[1], w, 10), activation="relu", bias=True).num_params() for w, _ in settings)
eigs = np.full((len(settings), len(seeds), P_max), np.nan)  # padded with NaN beyond each setting's P
n_params, diverged, train_loss, test_err = [], [], [], []
for i, (width, batch) in enumerate(settings):
    arch = MLP((X.shape[1], width, 10), activation="relu", bias=True)
    per_epoch = len(data["y_train"]) // batch
    steps = sw["epochs"] * per_epoch
    res = train(arch, init_params(arch, seeds, device=dev), data["x_train"], data["y_train"], steps=steps,
                lr=sw["lr"], batch_size=batch, loss="cross_entropy", seeds=seeds, record_at=[steps],
                metrics=esh.error_metrics(arch, data), device=dev,
                checkpoint=f"results/checkpoints/entropy_sgd_hessian/sweep_w{width}_b{batch}.pt",
                checkpoint_every=per_epoch, progress=log)
    P = arch.num_params()
    eigs[i, :, :P] = esh.member_eigenvalues(arch, res.params, res.diverged, X, Y, p.hvp_batch)
    n_params.append(P)
    diverged.append(res.diverged)
    train_loss.append(res.history["loss"][-1])
    test_err.append(res.history["test_err"][-1])
    print(f"width {width} batch {batch} ({P} params, {steps} steps): train loss {train_loss[-1]}, "
          f"lambda_max {np.nanmax(eigs[i, :, :P], 1)}, lambda_min {np.nanmin(eigs[i, :, :P], 1)}", flush=True)

save_npz(smk.output[0], widths=np.array([w for w, _ in settings]), batch_sizes=np.array([b for _, b in settings]),
         base_width=sw["base"]["hidden"], base_batch=sw["base"]["batch_size"], seeds=np.array(seeds),
         epochs=sw["epochs"], lr=sw["lr"], n_params=np.array(n_params), eigs=eigs, diverged=np.array(diverged),
         train_loss=np.array(train_loss), test_err=np.array(test_err), hessian_samples=len(Y))

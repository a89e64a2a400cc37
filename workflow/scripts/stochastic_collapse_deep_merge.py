"""Rule `stochastic_collapse_deep_merge`: the jobs of the deep-network sweep gathered into one results file,
every per-network quantity on the grid arch x lr x label noise x seed (x hidden layer, NaN-padded to the
deepest architecture); numpy only.
"""
import numpy as np

from spdl.io import load_npz, save_npz
from spdl.jobs import start_job
from spdl.studies import stochastic_collapse as sc

smk = snakemake  # noqa: F821
start_job(smk)
d, met = smk.params.deep, smk.params.metric
archs = sc.deep_archs(d)
jobs = [load_npz(f) for f in smk.input.jobs]
A, I, J, R = len(archs), len(d["lr"]), len(d["label_noise"]), d["seeds"]
Lmax = max(len(j["layer_names"]) for j in jobs)
K = len(jobs[0]["curve_steps"])
nan = lambda *shape: np.full(shape, np.nan)  # noqa: E731
out = {k: nan(A, I, J, R, Lmax) for k in ("fraction", "groups", "vanished")}
out.update({k: nan(A, I, J, R) for k in ("train_acc", "train_loss", "test_acc", "test_loss", "seconds")})
out["diverged_step"] = np.full((A, I, J, R), -1, np.int64)
out["loss_curve"] = nan(A, I, J, R, K)
names, widths, devices = np.full((A, Lmax), "", dtype="<U32"), np.zeros((A, Lmax), np.int64), [""] * A
filled = np.zeros((A, I, J, R), bool)
for job in jobs:
    a = archs.index(str(job["arch"]))
    L = len(job["layer_names"])
    names[a, :L], widths[a, :L], devices[a] = job["layer_names"], job["layer_width"], str(job["device"])
    for n, (i, j, r) in enumerate(job["index"]):
        filled[a, i, j, r] = True
        for k in ("fraction", "groups", "vanished"):
            out[k][a, i, j, r, :L] = job[k][n]
        for k in ("train_acc", "train_loss", "test_acc", "test_loss", "seconds", "diverged_step"):
            out[k][a, i, j, r] = job[k][n]
        out["loss_curve"][a, i, j, r] = job["loss_curve"][n]
if not filled.all():
    raise RuntimeError(f"the jobs cover {filled.sum()} of the {filled.size} networks of the sweep")
# the fraction of all hidden neurons of a network that are independent (layers weighted by their width)
total = np.nansum(out["groups"], -1) / widths.sum(-1)[:, None, None, None]
out["fraction_total"] = np.where(np.isnan(out["groups"]).all(-1) | (out["groups"] < 0).any(-1), np.nan, total)
print(f"fraction of independent hidden neurons (arch x lr x label noise x seed):\n{out['fraction_total']}")
save_npz(smk.output[0], archs=np.array(archs), devices=np.array(devices), dataset=d["dataset"],
         lr=np.array(d["lr"], float), label_noise=np.array(d["label_noise"], float), seeds=R, steps=d["steps"],
         batch=d["batch"], momentum=d["momentum"], weight_decay=d["weight_decay"], warmup_steps=d["warmup_steps"],
         augment=d["augment"], target_mass_norm=d["target_mass_norm"], mlp_widths=np.array(d["mlp"]["widths"]),
         mlp_activation=d["mlp"]["activation"], downsample=d["mlp"]["downsample"], vanish=met["vanish"],
         identical=met["identical"], layer_names=names, layer_width=widths, curve_steps=jobs[0]["curve_steps"],
         diverged=out["diverged_step"] >= 0, **out)

"""Rule sgd_noise_flatness_langevin: the equilibrium control, GD + isotropic Langevin noise [design].

For the first langevin.seeds seeds of the main setting (first lr, first batch size): start from the
SGD window-mean weights of that seed and move the analysed layer alone (every other layer fixed there)
by full-batch GD + isotropic Gaussian noise sqrt(2 lr_c T), with
- T = the mean SGD temperature T_i over the fitted PCs fit_pcs of that seed (matched over the analysed
  directions, not over all the weights of the layer);
- lr_c = lr_fraction x 2 / lambda_max, lambda_max = top Hessian eigenvalue of the layer loss at the
  start (a stable step as long as the loss keeps its curvature; relaxation time 1 / (lr_c h) steps).
After burnin_steps, records the layer every record_every steps for window_steps steps and analyses it
along the SGD PCs of the same seed (variance, flatness, curvature, relaxation time).
"""
import numpy as np
import torch

from spdl.studies import sgd_noise_flatness as snf
from spdl.io import load_npz, save_npz
from spdl.jobs import start_job
from spdl.models import MLP

smk = snakemake  # noqa: F821
log = start_job(smk)
p = smk.params
lcfg = p.langevin
sgd = load_npz(smk.input.sgd)
members = np.nonzero(np.isclose(sgd["lr"], p.lr))[0][:lcfg["seeds"]]
fit = slice(p.fit_pcs[0] - 1, p.fit_pcs[1])
source_diverged = sgd["diverged"][members].astype(bool)  # its SGD run diverged: no temperature, no start point
X, Y = snf.training_set(smk.input.data, p.n_train)
arch = MLP((X.shape[1], *p.hidden, 10), activation="relu", bias=False)
layer = int(sgd["layer"])
params = [torch.tensor(sgd[f"mean_param{i}"][members]) for i in range(arch.depth)]
temp = np.where(source_diverged, 0.0, np.nanmean(np.where(source_diverged[:, None], 1.0,
                                                          sgd["temperature"][members][:, fit]), 1))
lam = np.array([np.nan if dead else snf.layer_top_curvature(arch, [w[e] for w in params], layer, X, Y)
                for e, dead in enumerate(source_diverged)])
lr_c = np.where(source_diverged, 0.0, lcfg["lr_fraction"] * 2 / np.where(source_diverged, 1.0, lam))
seeds = [20_000 + int(s) for s in sgd["seed"][members]]
print(f"Langevin control: seeds {sgd['seed'][members].tolist()}, matched T {temp}, lambda_max {lam}, lr_c {lr_c}")
run = snf.layer_langevin(arch, params, layer, X, Y, lr=lr_c, temp=temp, burnin=lcfg["burnin_steps"],
                         steps=lcfg["window_steps"], record_every=lcfg["record_every"], seeds=seeds)
diverged = run["diverged"] | source_diverged
k = sgd["components"].shape[1]
res = {key: np.full((len(members), k), np.nan) for key in ("var", "flatness", "curvature", "relax_steps")}
res["loss0"] = np.full(len(members), np.nan)
for e, m in enumerate(members):
    if diverged[e]:
        continue
    out = snf.analyse_control(arch, run["traj"][e], run["mean"][e], [w[e] for w in params], layer, X, Y,
                              sgd["components"][m], float(lr_c[e]))
    for key in res:
        res[key][e] = out[key]
save_npz(smk.output[0], lr=p.lr, seed=sgd["seed"][members], member=members, fit_pcs=np.array(p.fit_pcs),
         temperature_set=temp, lambda_max=lam, lr_control=lr_c, lr_fraction=lcfg["lr_fraction"],
         burnin_steps=lcfg["burnin_steps"], window_steps=lcfg["window_steps"], record_every=lcfg["record_every"],
         loss_start=sgd["loss0"][members], loss_burnin=run["loss_burnin"], loss_end=run["loss_end"],
         diverged=diverged, diverged_step=run["diverged_step"], source_diverged=source_diverged, **res)
print(f"loss after burn-in {run['loss_burnin']}, at the end {run['loss_end']}; "
      f"diverged: {int(diverged.sum())} of {len(members)}")

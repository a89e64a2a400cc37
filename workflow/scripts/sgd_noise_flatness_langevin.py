"""Rule sgd_noise_flatness_langevin: control run, full-batch GD + isotropic Langevin noise [design].

Starts from the pretrained networks of the main setting (first lr, first batch size), seeds
0..langevin.seeds-1, with noise_std = sqrt(2 lr T) where T is the mean noise temperature of the
analysed layer measured in that seed's SGD window (matched temperature). After `burnin_steps`,
records the analysed layer for `window_steps` steps and analyses it like the SGD windows.
"""
import numpy as np
import torch

from spdl.studies import sgd_noise_flatness as snf
from spdl.engine import train
from spdl.io import load_npz, save_npz
from spdl.jobs import start_job
from spdl.models import MLP

smk = snakemake  # noqa: F821
log = start_job(smk)
p = smk.params
lcfg = p.langevin
pre, sgd = load_npz(smk.input.pretrain), load_npz(smk.input.sgd)
members = np.nonzero(np.isclose(pre["lr"], p.lr))[0][:lcfg["seeds"]]
lr, temp = float(p.lr), sgd["mean_temperature"][members]
source_diverged = sgd["diverged"][members].astype(bool)  # its SGD run diverged: no temperature to match
X, Y = snf.training_set(smk.input.data, p.n_train)
arch = MLP((X.shape[1], *p.hidden, 10), activation="relu", bias=False)
params = [torch.tensor(pre[f"param{i}"][members]) for i in range(arch.depth)]
noise = np.where(source_diverged, 0.0, np.sqrt(2 * lr * np.where(source_diverged, 0.0, temp)))
seeds = [20_000 + int(s) for s in pre["seed"][members]]
print(f"Langevin control: lr {lr}, matched T {temp}, noise_std {noise}")
burn = train(arch, params, X, Y, steps=lcfg["burnin_steps"], lr=lr, loss="cross_entropy", noise_std=noise,
             seeds=seeds, progress=log, checkpoint="results/checkpoints/sgd_noise_flatness/langevin_burnin.pt",
             checkpoint_every=max(1, lcfg["burnin_steps"] // 5))
steps = lcfg["window_steps"]
recorder = snf.WindowRecorder(burn.params, p.analysis["layer"], steps)
result = train(arch, burn.params, X, Y, steps=steps, lr=lr, loss="cross_entropy", noise_std=noise,
               seeds=[s + 1 for s in seeds], record_at=[0, steps], observe=recorder, progress=log)
res = snf.analyse_ensemble(arch, recorder, [lr] * len(members), X, Y, p.analysis)
save_npz(smk.output[0], lr=lr, seed=pre["seed"][members], temperature_set=temp, noise_std=noise,
         burnin_steps=lcfg["burnin_steps"], window_steps=steps,
         diverged=burn.diverged | result.diverged | source_diverged, source_diverged=source_diverged,
         loss_window=result.history["loss"], **res)
print(f"diverged: {int((burn.diverged | result.diverged | source_diverged).sum())} of {len(members)}")

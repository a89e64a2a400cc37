"""Rule sgd_noise_flatness_window: record the analysed layer every SGD step over a window [PNAS].

Continues the pretrained ensemble of one batch size for `window_steps` steps (same lr, batch;
new minibatch order), records weight matrix `layer` of every member at every step, then runs
spdl.sgd_noise_flatness.analyse_ensemble (PCA, flatness, curvatures, temperatures, loss profiles).
Saves the PCs (float32) and the window-mean weights of every layer: the Langevin control starts there
and is analysed along these directions.
The window is not checkpointed: the recorded trajectory lives in memory, so an interrupted
window restarts from the (saved) pretrained state.
"""
import numpy as np
import torch

from spdl.studies import sgd_noise_flatness as snf
from spdl.engine import train
from spdl.io import load_npz, save_npz
from spdl.jobs import record_schedule, start_job
from spdl.models import MLP

smk = snakemake  # noqa: F821
log = start_job(smk)
p = smk.params
pre = load_npz(smk.input.pretrain)
batch, lrs, seeds = int(pre["batch"]), pre["lr"], pre["seed"]
X, Y = snf.training_set(smk.input.data, p.n_train)
arch = MLP((X.shape[1], *p.hidden, 10), activation="relu", bias=False)
params = [torch.tensor(pre[f"param{i}"]) for i in range(arch.depth)]
steps = p.window_steps
recorder = snf.WindowRecorder(params, p.analysis["layer"], steps)
result = train(arch, params, X, Y, steps=steps, lr=lrs, batch_size=batch, loss="cross_entropy",
               seeds=[10_000 + s for s in seeds], record_at=record_schedule(steps, p.n_records // 2),
               metrics=snf.Accuracy(arch, X, Y), observe=recorder, progress=log)
print(f"window done; loss {result.history['loss'][-1]}; analysing {len(lrs)} members")
res = snf.analyse_ensemble(arch, recorder, lrs, X, Y, p.analysis)
# per member: diverged in pretraining or in the window, and at which step (counted from the start of pretraining)
start = int(pre["steps"][-1])
diverged_step = np.where(pre["diverged_step"] >= 0, pre["diverged_step"],
                         np.where(result.diverged, start + result.diverged_step, -1))
save_npz(smk.output[0], batch=batch, lr=lrs, seed=seeds, steps=result.steps + start,
         window_steps=steps, layer=p.analysis["layer"], profile_pcs=np.array(p.analysis["profile_pcs"]),
         diverged=result.diverged | pre["diverged"], diverged_step=diverged_step,
         **{f"hist_{k}": v for k, v in result.history.items()}, **res,
         **{f"mean_param{i}": m.float().numpy() for i, m in enumerate(recorder.means())})
# psi is fitted in the notebook (over its fit_pcs); here only the spectrum's head
print("sigma_1^2 / sigma_2^2 per member:", np.round(res["var"][:, 0] / res["var"][:, 1], 2))

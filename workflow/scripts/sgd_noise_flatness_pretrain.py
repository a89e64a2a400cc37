"""Rule sgd_noise_flatness_pretrain: train into the exploration phase [PNAS], one batch size.

Members = learning rates x seeds (one ensemble: the batch size is shared). 784-H-H-10 ReLU MLP
without biases, cross-entropy, plain SGD, for `pretrain_steps` steps; checkpointed so that an
interrupted run resumes. Saves the final parameters and the learning curve (full-training-set
loss and accuracy on a log/linear schedule).
"""
from pathlib import Path

import numpy as np

from spdl.studies import sgd_noise_flatness as snf
from spdl.engine import train
from spdl.io import save_npz
from spdl.jobs import record_schedule, start_job
from spdl.models import MLP, init_params

smk = snakemake  # noqa: F821
log = start_job(smk)
p = smk.params
batch = int(smk.wildcards.batch)
X, Y = snf.training_set(smk.input.data, p.n_train)
lrs = [lr for lr in p.lr for _ in range(p.seeds)]
seeds = [s for _ in p.lr for s in range(p.seeds)]
arch = MLP((X.shape[1], *p.hidden, 10), activation="relu", bias=False)
steps = p.pretrain_steps
record = record_schedule(steps, p.n_records)
print(f"batch {batch}: N={len(Y)}, {len(seeds)} members (lr x seed), {steps} steps")
result = train(arch, init_params(arch, seeds), X, Y, steps=steps, lr=lrs, batch_size=batch, loss="cross_entropy",
               seeds=seeds, record_at=record, metrics=snf.Accuracy(arch, X, Y), progress=log,
               checkpoint=f"results/checkpoints/sgd_noise_flatness/pretrain_b{batch}.pt",
               checkpoint_every=max(1, steps // 10))
save_npz(smk.output[0], batch=batch, lr=np.array(lrs), seed=np.array(seeds), steps=result.steps,
         dataset=Path(smk.input.data).stem, n_train=len(Y), hidden=np.array(p.hidden), pretrain_steps=steps,
         diverged=result.diverged, diverged_step=result.diverged_step,
         **{f"hist_{k}": v for k, v in result.history.items()},
         **{f"param{i}": w.numpy() for i, w in enumerate(result.params)})
print(f"final loss {result.history['loss'][-1]}, accuracy {result.history['acc'][-1]}, "
      f"diverged: {int(result.diverged.sum())} of {len(seeds)}")

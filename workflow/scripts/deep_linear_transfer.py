"""Rule deep_linear_transfer (Fig. 5): transfer T(A<-B) = min_t test_A(alone) - min_t test_A(joint).

Task A (rank 1, strength sbar_a) is trained alone, and jointly with task B
(rank 1, strength sbar_b, separate outputs, input alignment q = v_A.v_B) through
a shared hidden layer. Task A's data and noise are the same in both runs of a
seed. Initialisation with product scale eps: `init: aligned` (the authors' protocol,
the default) builds each network from the singular vectors of its own training data
(Sigma31 = Yhat for one-hot inputs: task A's outputs alone, or both tasks' stacked),
`init: random` uses random orthogonal matrices.

Divergence is recorded per member: a joint run whose own member or whose task-A-alone partner
diverged has no transfer (NaN), flagged in `diverged` (and `joint_diverged` / `alone_diverged`,
with the step of the blow-up, -1 if none).
"""
import numpy as np
import torch

from spdl.studies import deep_linear as dl
from spdl.device import resolve_device
from spdl.engine import LinearGD, train
from spdl.io import save_npz
from spdl.jobs import record_schedule, start_job
from spdl.models import MLP, init_params

smk = snakemake  # noqa: F821
log = start_job(smk)
dev = resolve_device(smk.params.device)
c = smk.params.cfg
n1, n2, n3 = c["n1"], c["n2"], c["n3_per_task"]
noise_var = smk.params.noise_std ** 2 / (n1 if c["noise_convention"] == "per_input" else n3)
steps = int(round(c["t_max"] / c["lr"]))
record = record_schedule(steps, 150)


def min_test_a(tasks, n_out, init_seeds, label):
    """Train one member per task; return min over recorded steps of task A's test error (NaN for a
    member that diverged: its history stops at the blow-up), and per member whether and when it diverged."""
    arch = MLP((n1, n2, n_out), activation="linear")
    if c["init"] == "aligned":  # Yhat is n_out x n1 and Sigma31 = Yhat X^T = Yhat
        svds = [np.linalg.svd(t["Yhat"], full_matrices=False) for t in tasks]
        inits = [dl.aligned_init(u, vt.T, n2, c["eps"], n_layers=2) for u, _, vt in svds]
        params = [torch.tensor(np.stack([w[k] for w in inits]), dtype=torch.float32) for k in range(2)]
    else:
        params = init_params(arch, seeds=init_seeds, init_scale=np.sqrt(c["eps"]), scheme="orthogonal")
    Y = torch.tensor(np.stack([t["Yhat"] for t in tasks]), dtype=torch.float32).transpose(1, 2)
    Wbar_a = torch.tensor(np.stack([t["Wbar_a"] for t in tasks]), dtype=torch.float32, device=dev)

    def test_a(params, step):
        W = params[1] @ params[0]
        return {"test_a": ((W[:, :n3] - Wbar_a) ** 2).sum((1, 2)) / (Wbar_a ** 2).sum((1, 2))}

    result = train(arch, params, torch.eye(n1), Y, steps=steps, lr=c["lr"], loss="mse_sum",
                   record_at=record, metrics=test_a, progress=log,
                   checkpoint=f"results/checkpoints/deep_linear/transfer_{label}.pt",
                   checkpoint_every=max(1, steps // 20), device=dev, update=LinearGD())
    mins = np.where(result.diverged, np.nan, np.nanmin(result.history["test_a"], axis=0))
    return mins, result.diverged, result.diverged_step


alone_rows, alone_tasks, joint_rows, joint_tasks = [], [], [], []
for sa in c["sbar_a"]:
    for seed in range(c["seeds"]):
        pair = dl.make_transfer_task(n1, n3, sa, 1.0, 0.0, seed, noise_var)
        alone_rows.append((sa, seed))
        alone_tasks.append({"Yhat": pair["Yhat_a"], "Wbar_a": pair["Wbar_a"]})
        for sb in c["sbar_b"]:
            for q in c["q"]:
                pair = dl.make_transfer_task(n1, n3, sa, sb, q, seed, noise_var)
                joint_rows.append((sa, sb, q, seed))
                joint_tasks.append({"Yhat": np.vstack([pair["Yhat_a"], pair["Yhat_b"]]),
                                    "Wbar_a": pair["Wbar_a"]})

alone_min, alone_div, alone_step = min_test_a(alone_tasks, n3, [s for _, s in alone_rows], "alone")
joint_min, joint_div, joint_step = min_test_a(joint_tasks, 2 * n3, [s for *_, s in joint_rows], "joint")
alone = {row: i for i, row in enumerate(alone_rows)}
partner = np.array([alone[(sa, seed)] for sa, _, _, seed in joint_rows])  # task A alone, same seed
transfer = alone_min[partner] - joint_min  # NaN where either run diverged
sa, sb, q, seed = (np.array(x) for x in zip(*joint_rows))
save_npz(smk.output[0], sbar_a=sa.astype(float), sbar_b=sb.astype(float), q=q.astype(float), seed=seed,
         transfer=transfer, joint_min=joint_min, alone_min=alone_min[partner],
         diverged=joint_div | alone_div[partner], joint_diverged=joint_div, joint_diverged_step=joint_step,
         alone_diverged=alone_div[partner], alone_diverged_step=alone_step[partner], noise_var=noise_var,
         init=c["init"], eps=c["eps"])
print(f"{len(alone_rows)} alone + {len(joint_rows)} joint members, {steps} steps, diverged: "
      f"{int(alone_div.sum())} alone, {int(joint_div.sum())} joint")

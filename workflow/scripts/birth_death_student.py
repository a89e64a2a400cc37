"""Rule `birth_death_student`: student-teacher ReLU networks (input d, teacher k units, student n,
fresh batches), SGD vs SGD + birth-death (spdl.engine.train with a resampling update rule)
(cloning; prior) in the notebook's parametrisation and in a mean-field one (our design), all
variants x seeds stacked (Rotskoff et al., ICML 2019,
arXiv:1902.01843; the authors' student_teacher_example notebook).
"""
import numpy as np

from spdl.device import resolve_device
from spdl.io import save_npz
from spdl.jobs import record_schedule, start_job
from spdl.studies import birth_death as bd

smk = snakemake  # noqa: F821
log = start_job(smk)
p = smk.params.student
dev = resolve_device(smk.params.device)
variants = [bd.StudentRun(v["name"], v["param"], v["scheme"], v.get("alpha", 0.0), v.get("center", False))
            for v in p["variants"]]
seeds = list(range(p["seed"], p["seed"] + p["seeds"]))
r = bd.run_student(variants, seeds, d=p["d"], teacher_units=p["teacher_units"], n=p["n"], batch=p["batch"],
                   lr=p["lr"], steps=p["steps"], record_at=record_schedule(p["steps"], p["records"]),
                   test_size=p["test_size"], prior_std_scale=p["prior_std_scale"], mf_c_scale=p["mf_c_scale"],
                   project_seed=0, checkpoint="results/checkpoints/birth_death/student.pt",
                   checkpoint_every=max(1, p["steps"] // 10), progress=log, device=dev)
V, S = len(variants), len(seeds)
out = {"steps": r["steps"], "variant_names": np.array([v.name for v in variants]), "seeds": np.array(seeds),
       "variant_param": np.array([v.param for v in variants]), "variant_scheme": np.array([v.scheme for v in variants]),
       "variant_alpha": np.array([v.alpha for v in variants]), "teacher_projection": r["teacher_projection"],
       "projection": r["projection"], "n": p["n"], "lr": p["lr"], "batch": p["batch"]}
for k in ("test_loss", "kills", "births", "population"):
    out[k] = r[k].reshape(-1, V, S)  # (record, variant, seed)
out["diverged_step"] = r["diverged_step"].reshape(V, S)
print("final test loss (variant x seed):\n", out["test_loss"][-1])
save_npz(smk.output[0], **out)

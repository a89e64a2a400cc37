"""Parse-time checks of config["mislabeled_phases"] that the JSON schema cannot express (no torch).

Run by ``register_study(..., checks=...)`` before any job, with the data section of the config so
that the sizes of the data set are known (spdl.datasets.class_counts). One message per problem,
each starting with the offending key and naming the limit.
"""

from __future__ import annotations

from spdl.datasets import class_counts

S = "mislabeled_phases"


def n_mislabeled(n_correct: int, rho: float) -> int:
    """As spdl.studies.mislabeled_phases.n_mislabeled (kept torch-free here)."""
    return int(round(n_correct * rho / (1 - rho)))


def check_config(section: dict, data: dict | None = None, manifest_dir=None) -> list[str]:
    """Cross-field and data-size checks of ``config["mislabeled_phases"]``; every message starts with the key."""
    msgs: list[str] = []
    rho, n_c, b = section["rho"], section["n_correct"], section["batch_size"]
    names = [f"{r:g}" for r in rho]
    for name in sorted({n for n in names if names.count(n) > 1}):
        msgs.append(f"{S}.rho: {name} appears {names.count(name)} times (one sweep per rho; each names a file)")
    if 0 not in rho:
        msgs.append(f"{S}.rho: must contain 0 (clean training: the two-phase reference and the cleaning baseline), "
                    f"has {rho}")
    if list(rho) != sorted(rho):
        msgs.append(f"{S}.rho: must be sorted ascending, has {rho}")
    for r in rho:
        if 0 < r and n_mislabeled(n_c, r) < 1:
            msgs.append(f"{S}.rho: rho={r:g} with n_correct={n_c} gives no mislabeled sample (need >= 1)")
    missing = [r for r in section["curves_rho"] if not any(abs(r - x) < 1e-12 for x in rho)]
    if missing:
        msgs.append(f"{S}.curves_rho: {missing} not in rho={rho} (learning curves are drawn from the sweeps)")
    if b > n_c:
        msgs.append(f"{S}.batch_size: {b} exceeds n_correct={n_c}, the smallest training set (rho = 0 and the "
                    "cleaned sets)")
    steps = int(round(section["epochs"] * n_c / b))
    if steps < section["n_records"]:
        msgs.append(f"{S}.epochs: {section['epochs']} epochs of n_correct={n_c} at batch {b} give {steps} SGD "
                    f"steps at rho = 0, fewer than n_records={section['n_records']}")
    if data is not None:
        counts = class_counts(section["dataset"], data, manifest_dir)
        if counts is not None:
            pool = sum(counts["train"])
            need = n_c + n_mislabeled(n_c, max(rho))
            if need > pool:
                msgs.append(f"{S}.n_correct: {n_c} correct + {need - n_c} mislabeled at rho={max(rho):g} need "
                            f"{need} training images, {section['dataset']} has {pool}")
    return msgs

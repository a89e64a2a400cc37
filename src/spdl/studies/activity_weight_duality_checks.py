"""Parse-time checks of config["activity_weight_duality"] that the JSON schema cannot express (no torch).

Run by ``register_study(..., checks=...)`` before any job, with the data section of the config so
that the sizes of the data set are known (spdl.datasets.class_counts). Every setting of the
one-at-a-time sweeps (spdl.studies.activity_weight_duality_sweeps.settings) is checked against
its own training set. One message per problem, each starting with the offending key.
"""

from __future__ import annotations

from spdl.datasets import class_counts
from spdl.studies.activity_weight_duality_sweeps import HYPERPARAMETERS, setting_name, settings, sweep_base

S = "activity_weight_duality"
MIN_DIRECTIONS = 11  # Fig. 4 compares c_n over the 10 sharpest directions with directions 11-100


def n_mislabeled(n_per_class: int, rho: float, n_classes: int = 10) -> int:
    """Extra mislabeled samples of a training set, as spdl.studies.activity_weight_duality.training_set."""
    return int(round(n_classes * n_per_class * rho / (1 - rho)))


def _key(base: dict, hp: str, value, section: dict | None = None) -> str:
    """The config key that set hyperparameter hp to value: the base, else its sweep, else a sweep's base."""
    if value == base[hp]:
        return f"{S}.base.{hp}"
    if section is None or value in section["sweeps"][hp]:
        return f"{S}.sweeps.{hp}"
    owner = next((k for k, v in section.get("sweep_base", {}).items() if v.get(hp) == value), hp)
    return f"{S}.sweep_base.{owner}.{hp}"


def check_config(section: dict, data: dict | None = None, manifest_dir=None) -> list[str]:
    """Cross-field and data-size checks of ``config["activity_weight_duality"]``; every message starts with the key."""
    msgs: list[str] = []
    base, sweeps = section["base"], section["sweeps"]
    for hp, over in section.get("sweep_base", {}).items():
        if hp in over:
            msgs.append(f"{S}.sweep_base.{hp}.{hp}: a sweep's base cannot set the swept hyperparameter itself")
    for hp in HYPERPARAMETERS:
        names = [setting_name(dict(sweep_base(section, hp), **{hp: v})) for v in sweeps[hp]]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            msgs.append(f"{S}.sweeps.{hp}: values {sweeps[hp]} name the same setting twice ({', '.join(dup)})")
    all_settings = settings(section)
    if not any(s["base"] for s in all_settings):
        msgs.append(f"{S}.base: the base setting is in no sweep (each base value must be one of its sweep's "
                    "values for at least one hyperparameter)")

    ml = section["multilearner"]
    if ml["batch_size"] % ml["learners"]:
        msgs.append(f"{S}.multilearner.batch_size: {ml['batch_size']} must be a multiple of "
                    f"learners={ml['learners']}")
    stop = section["stop"]
    if stop["window"] > stop["max_epochs"]:
        msgs.append(f"{S}.stop.window: {stop['window']} epochs exceed max_epochs={stop['max_epochs']}")

    H, hess = section["hidden"], section["hessian"]
    P = H * H
    n_dir = P if P <= hess["exact_max_weights"] else hess["lanczos_k"]
    if P > hess["exact_max_weights"] and hess["lanczos_k"] >= P:
        msgs.append(f"{S}.hessian.lanczos_k: {hess['lanczos_k']} must be below the layer's {P} weights")
    if section["sharp_directions"] >= n_dir:
        msgs.append(f"{S}.sharp_directions: {section['sharp_directions']} must be below the {n_dir} analysed "
                    "directions (hidden^2, or hessian.lanczos_k for larger layers)")
    if n_dir < MIN_DIRECTIONS:
        msgs.append(f"{S}.hidden: {H} gives {n_dir} analysed directions, Fig. 4 needs at least {MIN_DIRECTIONS}")

    if data is None:
        return msgs
    counts = class_counts(section["dataset"], data, manifest_dir)
    if counts is None:
        return msgs
    per_class, pool, n_test = min(counts["train"]), sum(counts["train"]), sum(counts["test"])
    if section["n_test"] > n_test:
        msgs.append(f"{S}.n_test: {section['n_test']} exceeds the {n_test} test images of {section['dataset']}")
    seen = set()
    for s in all_settings:
        n, rho, B = s["n_per_class"], s["rho"], s["batch_size"]
        if n > per_class and ("n", n) not in seen:
            seen.add(("n", n))
            msgs.append(f"{_key(base, 'n_per_class', n, section)}: {n} per class exceeds {section['dataset']}'s "
                        f"{per_class} training images of its smallest class")
            continue
        N, n_mis = 10 * n + n_mislabeled(n, rho), n_mislabeled(n, rho)
        if n_mis > pool - 10 * n and ("rho", n, rho) not in seen:
            seen.add(("rho", n, rho))
            msgs.append(f"{_key(base, 'rho', rho, section)}: rho={rho:g} at n_per_class={n} needs {n_mis} mislabeled "
                        f"extras, {section['dataset']} has {pool - 10 * n} training images left")
        if B > N and ("B", B, N) not in seen:
            seen.add(("B", B, N))
            key = (_key(base, "batch_size", B, section) if B != base["batch_size"] or n == base["n_per_class"]
                   else _key(base, "n_per_class", n, section))
            msgs.append(f"{key}: batch size {B} exceeds the training set of setting {s['name']} "
                        f"({N} samples)")
    N_base = 10 * base["n_per_class"]
    if ml["batch_size"] > N_base:
        msgs.append(f"{S}.multilearner.batch_size: {ml['batch_size']} exceeds the base training set "
                    f"({N_base} samples: 10 x base.n_per_class)")
    return msgs

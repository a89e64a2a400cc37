"""Parse-time checks of config["sgd_noise_flatness"] that the JSON schema cannot express (no torch).

Run by ``register_study(..., checks=...)`` before any job, with the data section of the config so
that the sizes of the data set are known (spdl.datasets.class_counts). One message per problem,
each starting with the offending key and naming the limit.
"""

from __future__ import annotations

import math

from spdl.datasets import class_counts

S = "sgd_noise_flatness"
N_INPUTS = 784  # the MNIST images of this study, flattened


def check_config(section: dict, data: dict | None = None, manifest_dir=None) -> list[str]:
    """Cross-field and data-size checks of ``config["sgd_noise_flatness"]``; every message starts with the key."""
    msgs: list[str] = []
    widths = [N_INPUTS, *section["hidden"], 10]
    n_layers = len(widths) - 1
    layer = section["layer"]
    if layer >= n_layers:
        msgs.append(f"{S}.layer: {layer} is out of range: the network has weight matrices 0..{n_layers - 1} "
                    f"(hidden={section['hidden']})")
        n_weights = None
    else:
        n_weights = widths[layer] * widths[layer + 1]
    n_pcs, (first, last) = section["n_pcs"], section["fit_pcs"]
    if n_weights is not None and n_pcs > n_weights:
        msgs.append(f"{S}.n_pcs: {n_pcs} exceeds the {n_weights} weights of layer {layer}")
    if n_pcs >= section["window_steps"]:
        msgs.append(f"{S}.window_steps: {section['window_steps']} recorded steps cannot give n_pcs={n_pcs} components "
                    "(need more steps than components)")
    lang = section["langevin"]
    if lang["window_steps"] // lang["record_every"] < 10:
        msgs.append(f"{S}.langevin.record_every: {lang['record_every']} leaves "
                    f"{lang['window_steps'] // lang['record_every']} records of the "
                    f"{lang['window_steps']}-step window (need at least 10 for a variance)")
    if last > n_pcs:
        msgs.append(f"{S}.fit_pcs: last PC {last} exceeds n_pcs={n_pcs}")
    if first >= last:
        msgs.append(f"{S}.fit_pcs: first PC {first} must be below the last {last} (a fit needs two PCs)")
    beyond = [pc for pc in section["profile_pcs"] if pc > n_pcs]
    if beyond:
        msgs.append(f"{S}.profile_pcs: {beyond} exceed n_pcs={n_pcs}")
    if section["langevin"]["seeds"] > section["seeds"]:
        msgs.append(f"{S}.langevin.seeds: {section['langevin']['seeds']} exceeds seeds={section['seeds']} "
                    "(the control continues the main setting's pretrained seeds)")

    v = section["valley"]
    st = v["stationary"]
    if st["burnin"] >= st["steps"]:
        msgs.append(f"{S}.valley.stationary.burnin: {st['burnin']} must be below steps={st['steps']}")
    elif st["sample_every"] > st["steps"] - st["burnin"]:
        msgs.append(f"{S}.valley.stationary.sample_every: {st['sample_every']} exceeds the "
                    f"{st['steps'] - st['burnin']} "
                    "steps after burn-in (no sample)")
    if v["drift"]["record_every"] > v["drift"]["steps"]:
        msgs.append(f"{S}.valley.drift.record_every: {v['drift']['record_every']} exceeds steps={v['drift']['steps']}")
    crit = v["critical"]["lr"]
    if not crit["min"] < crit["max"]:
        msgs.append(f"{S}.valley.critical.lr.max: {crit['max']} must exceed min={crit['min']} (a grid from min to max)")
    c, tol = v["c"], v["flat_time"]["lambda_tol"]
    delta_flat = math.sqrt(((1 + tol) * 2 * c) ** 2 - 4 * c * c)
    if v["delta0"] <= delta_flat:
        msgs.append(f"{S}.valley.delta0: {v['delta0']} must exceed the flat end's delta {delta_flat:.3g} "
                    f"(lambda within lambda_tol={tol} of the flattest 2c)")

    if data is None:
        return msgs
    counts = class_counts(section["dataset"], data, manifest_dir)
    if counts is None:
        return msgs
    pool = sum(counts["train"])
    n_train = pool if section["n_train"] is None else section["n_train"]
    if n_train > pool:
        msgs.append(f"{S}.n_train: {n_train} exceeds the {pool} training images of {section['dataset']}")
        n_train = pool
    big = [b for b in section["batch_size"] if b > n_train]
    if big:
        msgs.append(f"{S}.batch_size: {big} exceed the training set (n_train = {n_train})")
    return msgs

"""Activity-weight duality: the one-at-a-time sweep layout (Feng, Zhang & Tu 2023, "Demo setup").

Pure config logic, free of torch, so the rules file can name the training jobs at parse time.
"""

from __future__ import annotations

# hyperparameter -> symbol of the paper and of setting names
HYPERPARAMETERS = {"batch_size": "B", "lr": "lr", "init_scale": "s", "dropout": "d", "norm_penalty": "beta",
                   "rho": "rho", "n_per_class": "n"}


def setting_name(setting: dict) -> str:
    """E.g. B25_lr0.1_s1_d0_beta0_rho0_n200."""
    return "_".join(f"{sym}{setting[hp]:g}" for hp, sym in HYPERPARAMETERS.items())


def settings(cfg: dict) -> list[dict]:
    """Every distinct hyperparameter setting of the one-at-a-time sweeps ("Demo setup").

    A setting is the base setting with one hyperparameter changed (the base of a sweep may differ
    from ``base`` in the keys that ``sweep_base[hp]`` sets, e.g. the batch sweep on the demo's 400
    per class while the other sweeps use fewer); settings shared by several
    sweeps (the base itself, mostly) are trained once. Each has a name, ``base`` (whether it is
    the base setting), ``sweeps`` (hyperparameter -> its position in that sweep's values, for
    every sweep it belongs to) and a job: settings that share batch size and training set can
    train in one ensemble; they are split into jobs of at most members_per_job members
    (settings x seeds), named <B..._n..._rho...>_p<i>.
    """
    base = setting_name(cfg["base"])
    out = {}
    for hp in HYPERPARAMETERS:
        for i, value in enumerate(cfg["sweeps"][hp]):
            s = dict(sweep_base(cfg, hp), **{hp: value})
            s["name"] = setting_name(s)
            s["base"] = s["name"] == base
            s["job"] = f"B{s['batch_size']:g}_n{s['n_per_class']:g}_rho{s['rho']:g}"
            out.setdefault(s["name"], dict(s, sweeps={}))["sweeps"][hp] = i
    per_job = max(1, cfg["members_per_job"] // cfg["seeds"])
    groups = {}
    for s in out.values():
        groups.setdefault(s["job"], []).append(s)
    for group, members in groups.items():
        for i, s in enumerate(members):
            s["job"] = f"{group}_p{i // per_job}"
    return list(out.values())


def sweep_base(cfg: dict, hp: str) -> dict:
    """The setting the sweep over hp starts from: ``base`` updated by ``sweep_base[hp]`` (if any)."""
    return dict(cfg["base"], **cfg.get("sweep_base", {}).get(hp, {}))


def jobs(cfg: dict) -> list[str]:
    """Names of the training jobs."""
    return sorted({s["job"] for s in settings(cfg)})


def sweep_members(cfg: dict, hp: str) -> list[str]:
    """Setting names of the sweep over hyperparameter hp, in the config's order of values."""
    return [setting_name(dict(sweep_base(cfg, hp), **{hp: v})) for v in cfg["sweeps"][hp]]

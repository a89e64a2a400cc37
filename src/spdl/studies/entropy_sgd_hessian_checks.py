"""Parse-time checks of config["entropy_sgd_hessian"] that the JSON schema cannot express (no torch)."""

from __future__ import annotations

S = "entropy_sgd_hessian"


def check_config(section: dict) -> list[str]:
    """Cross-field checks; every message starts with the offending key."""
    msgs = []
    c = section["cartoon"]
    if not c["x_min"] < c["x_max"]:
        msgs.append(f"{S}.cartoon.x_max: {c['x_max']} must exceed x_min={c['x_min']}")
    dx = (c["x_max"] - c["x_min"]) / (c["n_grid"] - 1)
    if c["sharp"]["width"] < 4 * dx:
        msgs.append(f"{S}.cartoon.n_grid: {c['n_grid']} gives dx={dx:.3g}, too coarse for the sharp well "
                    f"(width {c['sharp']['width']}; need dx <= width/4)")
    for well in ("wide", "sharp"):
        if not -c["window"] <= c[well]["center"] <= c["window"]:
            msgs.append(f"{S}.cartoon.{well}.center: {c[well]['center']} lies outside the compared window "
                        f"|x| <= {c['window']}")
    if c["window"] >= min(-c["x_min"], c["x_max"]):
        msgs.append(f"{S}.cartoon.window: {c['window']} must lie inside the grid [{c['x_min']}, {c['x_max']}]")
    q = section["quadratic"]
    if q["burn_in"] >= q["steps"]:
        msgs.append(f"{S}.quadratic.burn_in: {q['burn_in']} must be below steps={q['steps']}")
    if q["eta_prime"] * (q["eig_max"] + q["gamma"]) >= 2:
        msgs.append(f"{S}.quadratic.eta_prime: {q['eta_prime']} makes the SGLD chain unstable "
                    f"(need eta_prime (eig_max + gamma) < 2)")
    if q["eig_min"] >= q["eig_max"]:
        msgs.append(f"{S}.quadratic.eig_max: {q['eig_max']} must exceed eig_min={q['eig_min']}")
    sp = section["spectrum"]
    if max(sp["snapshots"]) > sp["epochs"]:
        msgs.append(f"{S}.spectrum.snapshots: {max(sp['snapshots'])} exceeds epochs={sp['epochs']}")
    if sp["slq"]["steps"] < 10:
        msgs.append(f"{S}.spectrum.slq.steps: {sp['slq']['steps']} Lanczos steps cannot resolve 5 top eigenvalues")
    cp = section["compare"]
    if cp["esgd"]["variant"] == "paper" and cp["esgd"]["L"] == 0:
        msgs.append(f"{S}.compare.esgd.L: the paper's algorithm needs L >= 1 inner steps")
    for key in ("sgd", "adam", "esgd"):
        if any(m > cp["epochs"] for m in cp[key]["lr_milestones"]):
            msgs.append(f"{S}.compare.{key}.lr_milestones: {cp[key]['lr_milestones']} exceed epochs={cp['epochs']}")
    return msgs

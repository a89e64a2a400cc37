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
    msgs += _hessian_memory(section)
    cp = section["compare"]
    if cp["esgd"]["variant"] == "paper" and cp["esgd"]["L"] == 0:
        msgs.append(f"{S}.compare.esgd.L: the paper's algorithm needs L >= 1 inner steps")
    for key in ("sgd", "adam", "esgd"):
        if any(m > cp["epochs"] for m in cp[key]["lr_milestones"]):
            msgs.append(f"{S}.compare.{key}.lr_milestones: {cp[key]['lr_milestones']} exceed epochs={cp['epochs']}")
    return msgs


def lenet_params(side, channels, kernel, hidden, classes=10):
    """(parameters, feature-map side) of spdl.convnets.LeNet, by arithmetic (torch-free)."""
    f = ((side - kernel + 1) // 2 - kernel + 1) // 2
    c1, c2 = channels
    feats = c2 * max(f, 0) ** 2
    return c1 * kernel**2 + c1 + c2 * c1 * kernel**2 + c2 + feats * hidden + hidden + hidden * classes + classes, f


def _hessian_memory(section):
    """The dense Hessians (spectrum's net in hessian_dtype, the sweep's widest net in float64) must fit
    in spectrum.hessian_max_gb: P^2 x bytes for the matrix and as much again for eigvalsh's copy."""
    msgs = []
    sp, sw = section["spectrum"], section["sweep"]
    side = 28 // sp["downsample"]
    if sp["model"] == "lenet":
        lc = sp["lenet"]
        P, f = lenet_params(side, lc["channels"], lc["kernel"], lc["hidden"])
        if f < 1:
            msgs.append(f"{S}.spectrum.downsample: {sp['downsample']} gives {side}x{side} images, too small for the "
                        f"LeNet's two {lc['kernel']}x{lc['kernel']} convolutions and poolings (use 1)")
            return msgs
        what = f"small-LeNet ({P:,} parameters)"
    else:
        P = side**2 * sp["hidden"] + sp["hidden"] + 10 * sp["hidden"] + 10
        what = f"{side**2}-{sp['hidden']}-10 MLP ({P:,} parameters)"
    nbytes = {"float32": 4, "float64": 8}[sp["hessian_dtype"]]
    need = 2 * P**2 * nbytes / 1e9
    if need > sp["hessian_max_gb"]:
        msgs.append(f"{S}.spectrum.hessian_max_gb: the exact Hessian of the {what} needs {need:.1f} GB in "
                    f"{sp['hessian_dtype']} (matrix + eigvalsh copy), above the declared {sp['hessian_max_gb']} GB; "
                    f"shrink the network or run on a host with that memory and raise the limit")
    w = max(sw["widths"] + [sw["base"]["hidden"]])
    side_w = 28 // sw["downsample"]
    Pw = side_w**2 * w + w + 10 * w + 10
    need_w = 2 * Pw**2 * 8 / 1e9
    if need_w > sp["hessian_max_gb"]:
        msgs.append(f"{S}.sweep.widths: width {w} ({Pw:,} parameters) needs {need_w:.1f} GB for its float64 exact "
                    f"Hessian (matrix + eigvalsh copy), above spectrum.hessian_max_gb = {sp['hessian_max_gb']} GB")
    return msgs

"""Parse-time checks of config["deep_linear"] that the JSON schema cannot express (no torch, no scipy).

Run by ``register_study(..., checks=check_config)`` before any job: one message per problem, each
starting with the offending key and naming the limit.
"""

from __future__ import annotations

S = "deep_linear"
MIN_STEPS = 10  # fewer GD steps than this cannot resolve a learning curve


def _grid(msgs, key, spec):
    if not spec["min"] < spec["max"]:
        msgs.append(f"{S}.{key}.max: {spec['max']} must exceed min={spec['min']} (a grid from min to max)")


def _steps(msgs, key, t_max, lr):
    steps = int(round(t_max / lr))
    if steps < MIN_STEPS:
        msgs.append(f"{S}.{key}.t_max: t_max/lr = {t_max}/{lr} gives {steps} GD steps, need at least {MIN_STEPS}")


def check_config(section: dict) -> list[str]:
    """Cross-field checks of ``config["deep_linear"]``; every message starts with the key."""
    msgs: list[str] = []
    modes = section["modes"]
    _grid(msgs, "modes.wave_shat", modes["wave_shat"])
    _steps(msgs, "modes", modes["t_max"], modes["lr"])
    if max(modes["wave_times"]) > modes["t_max"]:
        msgs.append(f"{S}.modes.wave_times: {max(modes['wave_times'])} exceeds t_max={modes['t_max']} "
                    "(the wave of learning is read off the simulated curves)")

    sp = section["spectrum"]
    _grid(msgs, "spectrum.sbar", sp["sbar"])
    ex = sp["example"]
    n3_ex = int(round(ex["aspect"] * ex["n1"]))
    if len(ex["sbar"]) > min(ex["n1"], n3_ex):
        msgs.append(f"{S}.spectrum.example.sbar: {len(ex['sbar'])} teacher modes exceed min(n1, aspect n1) = "
                    f"{min(ex['n1'], n3_ex)}")
    for a in sp["aspects"]:
        if int(round(a * sp["n1"])) < 1:
            msgs.append(f"{S}.spectrum.aspects: aspect {a} x n1={sp['n1']} gives no output dimension (need >= 1)")

    dyn = section["dynamics"]
    hidden = [d["hidden_layers"] for d in dyn["depths"]]
    for h in sorted({h for h in hidden if hidden.count(h) > 1}):
        msgs.append(f"{S}.dynamics.depths: hidden_layers {h} appears {hidden.count(h)} times "
                    "(one entry per depth; each names one results file)")
    if sorted(set(hidden)) != [1, 3]:
        msgs.append(f"{S}.dynamics.depths: needs the depths hidden_layers 1 (Figs. 3 and 7) and 3 "
                    f"(Fig. 4, claims h3_*), "
                    f"has {hidden}")
    rank = len(dyn["rank3_profile"])
    if min(dyn["n1"], dyn["n3"]) < rank:
        msgs.append(f"{S}.dynamics.n3: min(n1, n3) = {min(dyn['n1'], dyn['n3'])} is below the rank-{rank} "
                    "teacher's rank")
    for i, d in enumerate(dyn["depths"]):
        _steps(msgs, f"dynamics.depths.{i}", d["t_max"], d["lr"])
        key = f"dynamics.depths.{i}.seeds" if "seeds" in d else "dynamics.seeds"
        n_seeds = d.get("seeds", dyn["seeds"])
        if n_seeds < 2 and f"{S}.{key}:" not in "".join(msgs):
            msgs.append(f"{S}.{key}: {n_seeds} seed(s); the paired TA/random comparison needs a standard error "
                        "(>= 2)")

    tr = section["transfer"]
    _steps(msgs, "transfer", tr["t_max"], tr["lr"])
    if tr["n1"] < 2:
        msgs.append(f"{S}.transfer.n1: {tr['n1']} inputs cannot hold two input directions at alignment q < 1 "
                    "(need >= 2)")
    for q in (0.0, 1.0):
        if not any(abs(x - q) < 1e-9 for x in tr["q"]):
            msgs.append(f"{S}.transfer.q: must contain {q:g} (the claims compare q = 0 and q = 1), has {tr['q']}")
    if len(set(tr["sbar_a"])) < 3:
        msgs.append(f"{S}.transfer.sbar_a: needs 3 distinct task-A strengths (weak, mid, strong), "
                    f"has {tr['sbar_a']}")

    vp = section["varying_p"]
    _steps(msgs, "varying_p", vp["t_max"], vp["lr"])
    if vp["seeds"] < 2:
        msgs.append(f"{S}.varying_p.seeds: {vp['seeds']} (the collapse test needs a seed variance: >= 2)")
    for r in vp["p_ratio"]:
        if abs(r * vp["n1"] - round(r * vp["n1"])) > 1e-9 * vp["n1"]:
            msgs.append(f"{S}.varying_p.p_ratio: {r} x n1={vp['n1']} is not a whole number of samples")
    if sum(r >= 1 for r in vp["p_ratio"]) < 2:
        msgs.append(f"{S}.varying_p.p_ratio: needs at least 2 values >= 1 (the collapse on sbar sqrt(P/N1)), "
                    f"has {vp['p_ratio']}")

    _grid(msgs, "optimum.snr", section["optimum"]["snr"])

    rl = section["random_labels"]
    _steps(msgs, "random_labels", rl["t_max"], rl["lr"])
    if len(rl["sbar"]) > min(rl["n1"], rl["n3"]):
        msgs.append(f"{S}.random_labels.sbar: {len(rl['sbar'])} teacher modes exceed min(n1, n3) = "
                    f"{min(rl['n1'], rl['n3'])}")
    if rl["n3"] > rl["n1"]:
        msgs.append(f"{S}.random_labels.n3: {rl['n3']} exceeds n1={rl['n1']} (the randomized spectrum's theory "
                    "uses the aspect ratio n3/n1 <= 1)")
    if max(rl["sbar"]) * rl["lr"] > 0.05:
        msgs.append(f"{S}.random_labels.lr: {rl['lr']} x the largest sbar {max(rl['sbar'])} exceeds 0.05 "
                    "(GD on the strongest mode would be inaccurate or unstable)")

    ns = section["network_size"]
    _steps(msgs, "network_size", ns["t_max"], ns["lr"])
    full = min(ns["n1"], ns["n3"])
    if max(ns["widths"]) > full:
        msgs.append(f"{S}.network_size.widths: {max(ns['widths'])} exceeds full rank min(n1, n3) = {full}")
    for i, sbar in enumerate(ns["teachers"]):
        if sum(w >= len(sbar) for w in ns["widths"]) < 2:
            msgs.append(f"{S}.network_size.teachers.{i}: rank {len(sbar)} leaves fewer than 2 widths >= the rank "
                        "(widths below a teacher's rank are not compared)")
    return msgs

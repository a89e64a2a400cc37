"""Rule `benchmark_protocols`: the pipeline's own engine on two of the authors' protocols, timed.

(a) Activity-weight duality, the demo's batch sweep (Feng, Zhang & Tu, Nat. Mach. Intell. 2023,
    arXiv:2203.10736; the authors' demo): per batch size one ensemble of `networks` 784-H-H-10 ReLU
    networks on n_per_class images per class, trained to the demo's fit criterion, then the exact
    hidden-layer Hessian analysis of every network (spdl.studies.activity_weight_duality).
(b) Deep linear networks, Fig. 3 of Lampinen & Ganguli (ICLR 2019, arXiv:1809.10374): seeds x SNRs
    students N1-N2-N3 on one-hot inputs, full-batch gradient descent for `epochs` epochs with the
    train and test errors recorded every `record_every` epochs (spdl.studies.deep_linear), with the
    study's rule spdl.engine.LinearGD (and, with `backprop`, the engine's generic SGD for comparison).

Writes wall and CPU seconds per part (training, analysis, start-up), networks per second and the
fraction of the measured float32 matmul peak as JSON and as a TSV table (one row per part). FLOPs:
(a) per update 6 per weight and sample, 4 in the first layer (no gradient of the data), and 2 per
weight and sample per evaluation; (b) the products one-hot inputs leave, 6 N1 N2 N3 per update and
4 N1 N2 N3 per record. fraction_of_peak is wall-clock
against the wall-clock peak of all threads; fraction_of_peak_cpu is per CPU-second against one
thread's peak per CPU-second (the steadier figure on a machine shared with other jobs).

    python workflow/scripts/benchmark_protocols.py --config config.json --data results/data/mnist5k.npz
or as the Snakemake rule `benchmark_protocols` (snakemake --cores 2 benchmark_protocols).
"""

import argparse
import json
import time

import numpy as np
import pandas as pd
import torch

from spdl.benchmark import cpu_name, matmul_peak, matmul_peak_cpu, stopwatch
from spdl.datasets import load
from spdl.device import resolve_device
from spdl.engine import SGD, LinearGD, set_threads, train
from spdl.io import atomic_path, write_json
from spdl.models import MLP, init_params
from spdl.studies import activity_weight_duality as awd
from spdl.studies import deep_linear as dl


# The authors' own code on the same protocols, timed as whole processes on this machine kind (2 cores, the same
# torch and numpy, with their default threads, one per core; issue 19 of this project): the demo sweep of Feng,
# Zhang & Tu and the generalization-dynamics script of Lampinen & Ganguli. A run is compared with them only when
# its protocol is theirs; the rule runs alone with config["benchmarks"]["threads"] (2 by default, like them).
AUTHORS = {
    "activity_weight": dict(wall_s=39 * 60 + 48, protocol=dict(batch_sizes=[25, 100, 200, 400], networks=10,
                                                               n_per_class=400, hidden=30)),
    "deep_linear": dict(wall_s_per_network=3.0, protocol=dict(n1=100, n2=50, n3=50, epochs=10000, record_every=5)),
}


def authors_comparison(cfg, totals):
    """{protocol: {authors' wall s, ours, speed-up}} for the protocols run as the authors' (others: absent)."""
    out = {}
    for name, ref in AUTHORS.items():
        if name not in totals or any(cfg[name].get(k) != v for k, v in ref["protocol"].items()):
            continue
        ours, networks = totals[name]["wall_s"], totals[name]["networks"]
        theirs = ref["wall_s"] if "wall_s" in ref else ref["wall_s_per_network"] * networks
        out[name] = {"authors_wall_s": theirs, "wall_s": ours, "speedup": theirs / ours}
    return out


def weights_of(widths):
    return sum(a * b for a, b in zip(widths[:-1], widths[1:]))


def activity_weight(cfg, data, device):
    """The demo's batch sweep: one ensemble per batch size, trained to the fit, then analysed."""
    rows = []
    for B in cfg["batch_sizes"]:
        times = {}
        with stopwatch(times, "setup", device):
            ts = awd.training_set(data["y_train"], cfg["n_per_class"], 0.0, cfg["split_seed"], 1000)
            X, Y = torch.tensor(data["x_train"][ts["idx"]]), torch.tensor(ts["labels"])
            seeds = list(range(cfg["networks"]))
            arch = MLP((X.shape[1], cfg["hidden"], cfg["hidden"], 10), activation="relu", bias=False)
            params = init_params(arch, seeds, scheme="torch_default", device=device)
        with stopwatch(times, "training", device):
            fit = awd.train_to_fit(arch, params, X.to(device), Y.to(device), ts["correct"], lr=cfg["lr"],
                                   batch_size=B, seeds=seeds, stop=cfg["stop"])
        with stopwatch(times, "analysis", device):
            x_test, y_test = data["x_test"][:cfg["n_test"]], data["y_test"][:cfg["n_test"]]
            x_cor, y_cor = X[torch.tensor(ts["correct"])].numpy(), ts["labels"][ts["correct"]]
            pair = awd.nearest_same_label(x_test, y_test, x_cor, y_cor)
            res = awd.analyse_networks([p.cpu() for p in fit["params"]], x_cor, y_cor, x_test, y_test, pair,
                                       sharp=cfg["sharp_directions"], exact_max=cfg["exact_max_weights"])
        N, W = len(X), weights_of(arch.widths)
        epochs = np.asarray(fit["stopped"])  # epochs each network trained (it leaves the ensemble then)
        steps = int(epochs.sum()) * (N // B)
        W1 = arch.widths[0] * arch.widths[1]  # the first layer computes no gradient of the data
        flops = (6 * W - 2 * W1) * B * steps + 2 * W * int(ts["correct"].sum()) * int((epochs + 1).sum())
        facts = dict(protocol="activity_weight", setting=f"B={B}", networks=len(seeds), updates=steps,
                     epochs_mean=float(epochs.mean()), gap_mean=float(np.nanmean(res["gap"])),
                     estimate_mean=float(np.nanmean(res["estimate"])), diverged=int(res["diverged"].sum()))
        rows += _rows(facts, times, {"training": flops})
    return rows


def deep_linear(cfg, device, backprop=False):
    """Fig. 3: rank-1 teachers, seeds x SNRs random orthogonal students in one ensemble, full batch, with
    the study's update rule LinearGD (gradients from the data's moments); backprop: the engine's generic
    SGD instead (forward/backward through the network; the same update up to rounding)."""
    times = {}
    with stopwatch(times, "setup", device):
        n1, n2, n3 = cfg["n1"], cfg["n2"], cfg["n3"]
        tasks = [dl.make_task(n1, n3, [snr], seed=1000 * i + s) for i, snr in enumerate(cfg["snr"])
                 for s in range(cfg["seeds"])]
        arch = MLP((n1, n2, n3), activation="linear")
        E, steps = len(tasks), cfg["epochs"]
        params = init_params(arch, range(E), init_scale=cfg["eps"] ** (1 / 2), scheme="orthogonal", device=device)
        Wbar = torch.tensor(np.stack([t["Wbar"] for t in tasks]), dtype=torch.float32, device=device)
        Yhat = torch.tensor(np.stack([t["Yhat"] for t in tasks]), dtype=torch.float32, device=device)

    # the authors' script records the train and test errors ||W - target||^2 / ||target||^2; the engine records
    # the loss ||W - Yhat||^2 / 2 at the same steps, so only the test error is a metric of its own
    yy, ww = (t.flatten(1).square().sum(1) for t in (Yhat, Wbar))

    def errors(params, step):
        W = torch.bmm(params[1], params[0])
        return {"test": torch.linalg.vector_norm((W - Wbar).flatten(1), dim=1).square() / ww}

    record = np.arange(0, steps + 1, cfg["record_every"])
    with stopwatch(times, "training", device):
        res = train(arch, params, torch.eye(n1), Yhat.transpose(1, 2), steps=steps, lr=cfg["lr"], loss="mse_sum",
                    record_at=record, metrics=errors, device=device,
                    update=SGD() if backprop else LinearGD())
    # the work that one-hot inputs leave: W2 W1 and the two gradient products (the product with X = I is no work)
    flops = 6 * n1 * n2 * n3 * steps * E + 4 * n1 * n2 * n3 * E * len(record)
    test, train_error = res.history["test"], 2 * res.history["loss"] / yy.cpu().double().numpy()
    facts = dict(protocol="deep_linear_backprop" if backprop else "deep_linear",
                 setting=f"{steps} epochs, record every {cfg['record_every']}", networks=E,
                 updates=steps * E, epochs_mean=float(steps), min_test_mean=float(np.nanmean(np.nanmin(test, 0))),
                 final_train_mean=float(np.nanmean(train_error[-1])),
                 diverged=int(res.diverged.sum()))
    return _rows(facts, times, {"training": flops})


def _rows(facts, times, flops):
    """One row per timed part; `total` sums them. GFLOP/s and the fraction of peak where FLOPs are counted."""
    parts = dict(times)
    parts["total"] = {k: sum(t[k] for t in times.values()) for k in ("wall_s", "cpu_s")}
    rows = []
    for part, t in parts.items():
        row = dict(facts, part=part, **t)
        row["networks_per_s"] = facts["networks"] / t["wall_s"] if t["wall_s"] > 0 else float("nan")
        row["s_per_network"] = t["wall_s"] / facts["networks"]
        row["gflop"] = flops.get(part, float("nan")) / 1e9
        rows.append(row)
    return rows


def main(cfg, data_path, out_json, out_tsv, threads, device="cpu"):
    t_start = time.perf_counter()
    set_threads(threads)
    device = resolve_device(device)
    peak = matmul_peak(device=device)
    peak_cpu = matmul_peak_cpu()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {cpu_name()}, device {device}")
    print(f"float32 matmul peak (2048^3): {peak:.1f} GFLOP/s; one thread (1024^3): {peak_cpu:.1f} GFLOP per CPU-s")
    rows = []
    if cfg["activity_weight"]["batch_sizes"]:
        rows += activity_weight(cfg["activity_weight"], load(data_path), device)
    if cfg["deep_linear"]["seeds"]:
        rows += deep_linear(cfg["deep_linear"], device)
        if cfg["deep_linear"]["backprop"]:
            rows += deep_linear(cfg["deep_linear"], device, backprop=True)
    table = pd.DataFrame(rows)
    table["gflops"] = table["gflop"] / table["wall_s"]
    table["fraction_of_peak"] = table["gflops"] / peak
    table["fraction_of_peak_cpu"] = table["gflop"] / table["cpu_s"] / peak_cpu
    table["cpu_per_wall"] = table["cpu_s"] / table["wall_s"]
    cols = ["protocol", "setting", "part", "networks", "wall_s", "cpu_s", "cpu_per_wall", "s_per_network",
            "networks_per_s", "gflop", "gflops", "fraction_of_peak", "fraction_of_peak_cpu"]
    table = table[cols + [c for c in table.columns if c not in cols]]
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.precision", 3):
        print(table[cols].to_string(index=False))
    totals = table[table.part == "total"].groupby("protocol", sort=False)[["networks", "wall_s", "cpu_s"]].sum()
    for protocol, t in totals.iterrows():
        print(f"{protocol}: {int(t.networks)} networks, {t.wall_s:.1f} s wall, {t.cpu_s:.1f} s CPU, "
              f"{t.wall_s / t.networks:.3f} s per network")
    versus = authors_comparison(cfg, {p: dict(t) for p, t in totals.iterrows()})
    for protocol, v in versus.items():
        print(f"{protocol}: the authors' code {v['authors_wall_s']:.1f} s, this pipeline {v['wall_s']:.1f} s "
              f"({torch.get_num_threads()} threads): {v['speedup']:.1f}x")
    with atomic_path(out_tsv) as tmp:
        table.to_csv(tmp, sep="\t", index=False, float_format="%.6g")
    write_json(out_json, {"torch": torch.__version__, "threads": torch.get_num_threads(), "device": str(device),
                          "processor": cpu_name(), "matmul_peak_gflops": peak,
                          "matmul_peak_gflop_per_cpu_s": peak_cpu, "config": cfg,
                          "protocols": {p: {"networks": int(t.networks), "wall_s": t.wall_s, "cpu_s": t.cpu_s}
                                        for p, t in totals.iterrows()},
                          "versus_authors": versus, "script_wall_s": time.perf_counter() - t_start,
                          "rows": table.to_dict("records")})
    print(f"wrote {out_json} and {out_tsv}")


if "snakemake" in globals():
    from spdl.jobs import start_job

    smk = snakemake  # noqa: F821
    start_job(smk)
    main(smk.params.cfg, smk.input.data, smk.output.json, smk.output.tsv, smk.threads, smk.params.device)
elif __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="JSON file holding the benchmarks: section of the config")
    parser.add_argument("--data", default="results/data/mnist5k.npz")
    parser.add_argument("--out", default="results/benchmarks/protocols")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    with open(args.config) as fh:
        main(json.load(fh), args.data, args.out + ".json", args.out + ".tsv", args.threads, args.device)

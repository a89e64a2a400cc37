"""Benchmark the ensemble engine on this machine.

Measures (a) the float32 matmul peak, (b) spdl.engine.train on an ensemble of E
networks, (c) a plain one-model-at-a-time PyTorch loop (nn.Sequential +
optim.SGD) doing the same work and (d) the step's matrix products alone at the
ensemble's shapes (the ceiling of (b)), and writes speedup and fractions of peak as JSON.

    python workflow/scripts/benchmark_engine.py --out results/benchmarks/engine.json --threads 2
or as the Snakemake rule `benchmark_engine` (snakemake --cores 2 benchmark_engine).
"""

import argparse
import platform
import sys
import time

import torch

from spdl.benchmark import cpu_name, matmul_peak
from spdl.engine import set_threads, train
from spdl.io import write_json
from spdl.models import MLP, init_params

REPS = 5  # every timing is the best of REPS repetitions (robust to other load on the machine)
CASES = [
    # a classifier trained with minibatch SGD, and Saxe et al.'s deep linear network trained full batch
    dict(name="mlp_784-100-100-10_relu_minibatch", widths=(784, 100, 100, 10), activation="relu",
         loss="cross_entropy", n=4096, batch_size=128, lr=0.05, members=64, steps=20, loop_members=8),
    dict(name="deep_linear_100-50-50_full_batch", widths=(100, 50, 50), activation="linear",
         loss="mse_sum", n=1000, batch_size=None, lr=1e-4, members=64, steps=20, loop_members=8),
]


def make_data(case):
    g = torch.Generator().manual_seed(0)
    X = torch.randn(case["n"], case["widths"][0], generator=g)
    if case["loss"] == "cross_entropy":
        return X, torch.randint(0, case["widths"][-1], (case["n"],), generator=g)
    return X, torch.randn(case["n"], case["widths"][-1], generator=g)


def flops_per_member_step(case):
    """FLOPs of one update of one member: per weight and sample 2 forward, 2 for the weight gradient and, above
    the first layer, 2 for the input gradient (the data need none): (6 W - 2 W_1) B. (The 6 W B of earlier runs
    and of issue 19 counted the first layer's input gradient too, 1.4x the work of 784-100-100-10.)"""
    w = case["widths"]
    weights = sum(a * b for a, b in zip(w[:-1], w[1:]))
    return (6 * weights - 2 * w[0] * w[1]) * (case["batch_size"] or case["n"])


def ensemble_run(case, X, Y):
    """A function that trains E members at once with spdl.engine.train."""
    arch = MLP(case["widths"], case["activation"])
    params = init_params(arch, range(case["members"]))
    kw = dict(lr=case["lr"], batch_size=case["batch_size"], loss=case["loss"])

    def run(steps=case["steps"]):
        assert not train(arch, params, X, Y, steps=steps, **kw).diverged.any(), "benchmark run diverged"
    return run


def one_by_one_run(case, X, Y):
    """A function doing the same work the usual way: one nn.Sequential + optim.SGD per member, in turn."""
    widths, n, batch = case["widths"], case["n"], case["batch_size"]
    act = torch.nn.ReLU if case["activation"] == "relu" else torch.nn.Identity
    loss_fn = (torch.nn.functional.cross_entropy if case["loss"] == "cross_entropy"
               else lambda out, y: 0.5 * (out - y).square().sum())

    def run_member(seed, steps):
        torch.manual_seed(seed)
        layers = []
        for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
            layers += [torch.nn.Linear(a, b, bias=False)] + ([act()] if i < len(widths) - 2 else [])
        net = torch.nn.Sequential(*layers)
        opt = torch.optim.SGD(net.parameters(), lr=case["lr"])
        gen, perm, pos = torch.Generator().manual_seed(seed), None, n
        for _ in range(steps):
            if batch is None:
                xb, yb = X, Y
            else:
                if pos + batch > n:
                    perm, pos = torch.randperm(n, generator=gen), 0
                idx, pos = perm[pos:pos + batch], pos + batch
                xb, yb = X[idx], Y[idx]
            opt.zero_grad()
            loss_fn(net(xb), yb).backward()
            opt.step()

    def run(steps=case["steps"]):
        for seed in range(case["loop_members"]):
            run_member(seed, steps)
    return run


def matmul_ceiling(case):
    """GFLOP/s of one step's matrix products alone, at the case's shapes and in the engine's layout (per layer
    the forward h W^T, the weight gradient d^T h and, above the first layer, the input gradient d W, batched
    over members; a full batch's first layer as one product over all members, as models.forward), best of
    REPS: the rate the engine would reach if nothing but its products took time."""
    E, B, widths = case["members"], case["batch_size"] or case["n"], case["widths"]
    g = torch.Generator().manual_seed(0)
    hs = [torch.randn(E, B, d, generator=g) for d in widths]
    ws = [torch.randn(E, d_out, d_in, generator=g) for d_in, d_out in zip(widths[:-1], widths[1:])]
    x = hs[0][0]  # full batch: every member sees the same data, one (B, d_in) @ (d_in, E d_out) product

    def step():
        for layer, w in enumerate(ws):
            if layer == 0 and case["batch_size"] is None:
                x @ w.reshape(-1, w.shape[2]).T
                hs[1].transpose(0, 1).reshape(B, -1).T @ x
                continue
            torch.bmm(hs[layer], w.transpose(1, 2))
            torch.bmm(hs[layer + 1].transpose(1, 2), hs[layer])
            if layer > 0:  # as autograd: no gradient of the input data
                torch.bmm(hs[layer + 1], w)

    step()  # warm up
    best = float("inf")
    for _ in range(REPS):
        t0 = time.perf_counter()
        for _ in range(case["steps"]):
            step()
        best = min(best, time.perf_counter() - t0)
    return flops_per_member_step(case) * E * case["steps"] / best / 1e9


def member_steps_per_s(case):
    """Best of REPS timings of each method, interleaved so that both see the same machine load."""
    X, Y = make_data(case)
    runs = {"ensemble": ensemble_run(case, X, Y), "one_by_one": one_by_one_run(case, X, Y)}
    work = {"ensemble": case["members"] * case["steps"], "one_by_one": case["loop_members"] * case["steps"]}
    best = {method: float("inf") for method in runs}
    for run in runs.values():
        run(steps=2)  # warm up
    for _ in range(REPS):
        for method, run in runs.items():
            t0 = time.perf_counter()
            run()
            best[method] = min(best[method], time.perf_counter() - t0)
    return {method: work[method] / best[method] for method in runs}


def main(out, threads):
    set_threads(threads)
    peak = matmul_peak()
    report = {"torch": torch.__version__, "threads": torch.get_num_threads(), "machine": platform.machine(),
              "processor": cpu_name(), "matmul_peak_gflops": peak, "cases": {}}
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {cpu_name()}")
    print(f"float32 matmul peak (2048^3): {peak:.1f} GFLOP/s\n")
    print(f"{'case':36s} {'method':12s} {'member-steps/s':>15s} {'GFLOP/s':>9s} {'% peak':>7s}")
    for case in CASES:
        flops = flops_per_member_step(case)
        rates = member_steps_per_s(case)
        entry = {k: case[k] for k in ("widths", "activation", "loss", "n", "batch_size", "members", "steps")}
        entry["flops_per_member_step"] = flops
        for method, rate in rates.items():
            gflops = rate * flops / 1e9
            entry[method] = {"member_steps_per_s": rate, "gflops": gflops, "fraction_of_peak": gflops / peak}
            print(f"{case['name']:36s} {method:12s} {rate:15.1f} {gflops:9.1f} {100 * gflops / peak:6.1f}%")
        entry["speedup"] = rates["ensemble"] / rates["one_by_one"]
        ceiling = matmul_ceiling(case)
        entry["matmul_ceiling"] = {"gflops": ceiling, "fraction_of_peak": ceiling / peak,
                                   "ensemble_fraction_of_ceiling": entry["ensemble"]["gflops"] / ceiling}
        print(f"{'':36s} {'speedup':12s} {entry['speedup']:15.2f}x")
        print(f"{'':36s} {'products only':12s} {'':15s} {ceiling:9.1f} {100 * ceiling / peak:6.1f}%  "
              f"(the ensemble reaches {100 * entry['ensemble']['gflops'] / ceiling:.0f}% of it)")
        report["cases"][case["name"]] = entry
    write_json(out, report)
    print(f"\nwrote {out}")


if "snakemake" in globals():
    sys.stdout = sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: F821
    main(snakemake.output[0], snakemake.threads)  # noqa: F821
elif __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="results/benchmarks/engine.json")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    main(args.out, args.threads)

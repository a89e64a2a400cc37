"""Timing helpers of the machine benchmarks (workflow/scripts/benchmark_engine.py, benchmark_protocols.py).

Wall time is time.perf_counter, CPU time is time.process_time (all threads of this process): on a
machine shared with other jobs the CPU time is the steadier measure of the work done.
"""

from __future__ import annotations

import platform
import time
from contextlib import contextmanager

import torch


def matmul_peak(n=2048, reps=10, device=None):
    """GFLOP/s of the best of `reps` (n x n) @ (n x n) float32 matmuls on `device` (default CPU)."""
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(n, n, generator=g).to(device), torch.randn(n, n, generator=g).to(device)
    _sync(a)
    a @ b  # warm up
    best = float("inf")
    for _ in range(reps):
        _sync(a)
        t0 = time.perf_counter()
        a @ b
        _sync(a)
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


def matmul_peak_cpu(n=1024, reps=10):
    """GFLOP per CPU-second of the best of `reps` (n x n) @ (n x n) float32 matmuls on the CPU: on a
    machine shared with other jobs, the rate a thread reaches while it runs (robust to waiting for a core)."""
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(n, n, generator=g), torch.randn(n, n, generator=g)
    a @ b  # warm up
    best = float("inf")
    for _ in range(reps):
        t0 = time.process_time()
        a @ b
        best = min(best, time.process_time() - t0)
    return 2 * n**3 / best / 1e9


def _sync(t):
    if t.device.type == "cuda":
        torch.cuda.synchronize(t.device)


@contextmanager
def stopwatch(sink: dict, key: str, device=None):
    """Add the wall and CPU seconds of the block to sink[key] = {"wall_s": ..., "cpu_s": ...}."""
    if device is not None and torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)
    w0, c0 = time.perf_counter(), time.process_time()
    try:
        yield
    finally:
        if device is not None and torch.device(device).type == "cuda":
            torch.cuda.synchronize(device)
        entry = sink.setdefault(key, {"wall_s": 0.0, "cpu_s": 0.0})
        entry["wall_s"] += time.perf_counter() - w0
        entry["cpu_s"] += time.process_time() - c0


def cpu_name() -> str:
    """The processor's model name (Linux /proc/cpuinfo), else platform's guess."""
    try:
        with open("/proc/cpuinfo") as fh:
            return next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown"

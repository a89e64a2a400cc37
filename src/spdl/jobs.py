"""Helpers for the rule scripts under workflow/scripts: logging, threads, record schedules."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits


class ProgressLog:
    """A log file in which each progress-bar refresh (``\\r``) becomes its own line, written at once."""

    def __init__(self, path):
        self._file = open(path, "w", buffering=1)

    def write(self, text: str) -> int:
        return self._file.write(text.replace("\r", "\n"))

    def flush(self) -> None:
        self._file.flush()


def start_job(smk) -> ProgressLog:
    """Send the script's output to the rule's log and use the rule's ``threads`` (BLAS, and torch when the
    script imported it); fail at once,
    naming the folder, if an output folder cannot be written (not after hours of training)."""
    log = ProgressLog(smk.log[0])
    sys.stdout = sys.stderr = log
    for folder in {Path(out).parent for out in smk.output}:
        folder.mkdir(parents=True, exist_ok=True)
        if not os.access(folder, os.W_OK | os.X_OK):
            raise PermissionError(f"output folder {folder} is not writable; nothing was computed")
    threads = max(1, int(smk.threads))
    threadpool_limits(threads)  # numpy/scipy BLAS: one job's threads = its rule's threads
    if "torch" in sys.modules:  # scripts import what they use first; numpy-only jobs never load torch
        from .engine import set_threads

        set_threads(threads)
    return log


def record_schedule(steps: int, n: int) -> np.ndarray:
    """About ``n`` recording steps in [0, steps]: half linearly, half log spaced, 0 and ``steps`` included."""
    lin = np.linspace(0, steps, n // 2 + 1)
    log = np.geomspace(1, steps, n - n // 2) if steps >= 1 else []
    return np.unique(np.concatenate([lin, log, [0, steps]]).round().astype(np.int64))


def grid(spec: dict) -> np.ndarray:
    """A config grid ``{min, max, n}`` as ``n`` evenly spaced points."""
    return np.linspace(spec["min"], spec["max"], spec["n"])

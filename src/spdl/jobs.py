"""Helpers for the rule scripts under workflow/scripts: logging, threads, record schedules."""

from __future__ import annotations

import sys

import numpy as np

from .engine import set_threads


class ProgressLog:
    """A log file in which each progress-bar refresh (``\\r``) becomes its own line, written at once."""

    def __init__(self, path):
        self._file = open(path, "w", buffering=1)

    def write(self, text: str) -> int:
        return self._file.write(text.replace("\r", "\n"))

    def flush(self) -> None:
        self._file.flush()


def start_job(smk) -> ProgressLog:
    """Send the script's output to the rule's log and use the rule's ``threads``."""
    log = ProgressLog(smk.log[0])
    sys.stdout = sys.stderr = log
    set_threads(max(1, int(smk.threads)))
    return log


def record_schedule(steps: int, n: int) -> np.ndarray:
    """About ``n`` recording steps in [0, steps]: half linearly, half log spaced, 0 and ``steps`` included."""
    lin = np.linspace(0, steps, n // 2 + 1)
    log = np.geomspace(1, steps, n - n // 2) if steps >= 1 else []
    return np.unique(np.concatenate([lin, log, [0, steps]]).round().astype(np.int64))


def grid(spec: dict) -> np.ndarray:
    """A config grid ``{min, max, n}`` as ``n`` evenly spaced points."""
    return np.linspace(spec["min"], spec["max"], spec["n"])

"""Fingerprinted, atomically written checkpoints of training loops.

A checkpoint is one ``torch.save`` file holding ``{"fingerprint": str, "state": dict}``. The
fingerprint (``fingerprint(...)``) hashes everything that determines the run: architecture,
data, initial parameters and hyperparameters. A run resumes from a checkpoint only if the
fingerprints match; a file that cannot be read (truncated, not a checkpoint, written by
something else) or that belongs to another run is moved aside to ``<name>.stale`` (or
``<name>.stale.<n>``), with a warning naming both files, and the run starts from scratch.

The state may hold tensors, Python scalars, strings, None, and lists/tuples/dicts of them;
it is read with ``weights_only=True`` (never ``weights_only=False``: a checkpoint is data, not
code) and mapped onto the CPU; ``to_device`` moves it where the run lives.

Usage::

    ckpt = Checkpoint(path, fingerprint(arch, params, X, Y, hyper))
    state = ckpt.load()            # None: start from scratch
    ...
    ckpt.save(state)               # atomic: a kill mid-write leaves the previous checkpoint
    ckpt.remove()                  # once the run's outputs are written

``path=None`` gives a disabled checkpoint (load -> None; save and remove do nothing).
"""

from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path

import numpy as np
import torch

from spdl.io import atomic_path

__all__ = ["Checkpoint", "CheckpointWarning", "fingerprint", "to_device"]


class CheckpointWarning(UserWarning):
    """A checkpoint was unreadable or from another run and was moved aside."""


def fingerprint(arch, tensors, hyper) -> str:
    """SHA-256 over repr((arch, hyper)) and the shape, dtype and bytes of every tensor/array.

    Tensors on any device hash identically (their CPU copy is hashed); a numpy array hashes like
    the tensor torch.as_tensor makes of it."""
    h = hashlib.sha256(repr((arch, hyper)).encode())
    for t in tensors:
        t = t.detach().cpu() if isinstance(t, torch.Tensor) else torch.as_tensor(np.asarray(t))
        h.update(repr((tuple(t.shape), str(t.dtype))).encode())
        h.update(t.contiguous().numpy().tobytes())
    return h.hexdigest()


def to_device(obj, device):
    """obj with every tensor in it (nested lists/tuples/dicts) moved to device."""
    if isinstance(obj, torch.Tensor):
        return obj.to(device)
    if isinstance(obj, dict):
        return {k: to_device(v, device) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_device(v, device) for v in obj)
    return obj


class Checkpoint:
    """The checkpoint file of one run: ``load`` (or None), atomic ``save``, ``remove``."""

    def __init__(self, path, fingerprint: str):
        self.path = None if path is None else Path(path)
        self.fingerprint = fingerprint

    def __bool__(self) -> bool:
        return self.path is not None

    def load(self):
        """The saved state if the file exists, is readable and has this run's fingerprint, else None.

        A file that fails either test is moved aside with a CheckpointWarning."""
        if self.path is None or not self.path.exists():
            return None
        try:
            saved = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as err:  # truncated, corrupt, or holding objects weights_only refuses
            self._move_aside(f"cannot be read ({type(err).__name__}: {str(err).splitlines()[0][:200]})")
            return None
        if not (isinstance(saved, dict) and isinstance(saved.get("fingerprint"), str) and "state" in saved):
            self._move_aside("is not a checkpoint of this format")
            return None
        if saved["fingerprint"] != self.fingerprint:
            self._move_aside("is from a different run (fingerprint mismatch)")
            return None
        return saved["state"]

    def save(self, state) -> None:
        if self.path is not None:
            with atomic_path(self.path) as tmp:
                torch.save({"fingerprint": self.fingerprint, "state": state}, tmp)

    def remove(self) -> None:
        if self.path is not None and self.path.exists():
            os.remove(self.path)

    def _move_aside(self, why: str) -> None:
        aside, n = self.path.with_name(self.path.name + ".stale"), 0
        while aside.exists():
            n += 1
            aside = self.path.with_name(f"{self.path.name}.stale.{n}")
        os.replace(self.path, aside)
        warnings.warn(f"checkpoint {self.path} {why}; moved to {aside}, starting from scratch",
                      CheckpointWarning, stacklevel=3)

"""Where tensors live: ``resolve_device`` turns a config string into a ``torch.device``.

Conventions (``spdl.models.init_params``, ``spdl.engine.train``)
- Parameters are created on the CPU from per-member CPU generators and then moved, so a
  network's initial weights do not depend on the device.
- ``train`` runs on the device of the parameters it is given; it moves the data there and
  creates every tensor there. Random draws (reshuffles, dropout masks, Langevin noise) still come
  from per-member CPU generators and are moved to the device, so they are the same numbers on
  every device. The arithmetic (matmuls, reductions) is device dependent: results on a GPU agree
  with the CPU's to rounding, not bitwise, and only same-device runs are bitwise reproducible.
- Checkpoints are loaded onto the CPU (``map_location="cpu"``) and copied to the device, so a run
  checkpointed on a GPU can be resumed on one (bitwise) and read on a machine without one.
"""

from __future__ import annotations

import torch

__all__ = ["resolve_device"]


def resolve_device(name="auto") -> torch.device:
    """"auto" (cuda if available, else cpu) | "cpu" | "cuda" | "cuda:<index>" | a torch.device.

    Raises RuntimeError when cuda is requested but torch sees no CUDA device, ValueError for
    anything else.
    """
    if isinstance(name, torch.device):
        name = str(name)
    if not isinstance(name, str):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {name!r}")
    key = name.strip().lower()
    if key == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if key == "cpu":
        return torch.device("cpu")
    if key == "cuda" or key.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise RuntimeError(f"device {name!r} requested but CUDA is not available (torch {torch.__version__}, "
                               f"built with CUDA {torch.version.cuda}); use 'cpu' or 'auto'")
        device = torch.device(key)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise RuntimeError(f"device {name!r} requested but only {torch.cuda.device_count()} CUDA device(s) exist")
        return device
    raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {name!r}")

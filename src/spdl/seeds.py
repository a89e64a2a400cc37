"""Seeds for new studies, derived from names instead of hand-picked integers.

``derive_seed(study, setting, seed)`` maps a (study, setting, seed index) triple to a
63-bit integer that is stable across machines, Python versions and processes:

1. each string is encoded as UTF-8 and hashed with SHA-256 (Python's ``hash()`` is salted per
   process, so it is never used); the first 16 bytes of each digest, read big-endian, are one
   128-bit integer;
2. ``numpy.random.SeedSequence([h(study), h(setting), seed])`` mixes them (the entropy is a list,
   so ("ab", "c") and ("a", "bc") differ);
3. its first 64-bit word of ``generate_state`` with the top bit cleared is the seed, so it fits
   a signed int64 (npz arrays, torch tensors) and is accepted by ``torch.Generator.manual_seed``
   and ``numpy.random.default_rng``.

Existing studies keep their own seeds: changing them would change published results.
"""

from __future__ import annotations

import hashlib
import numbers

import numpy as np

__all__ = ["derive_seed"]

_MASK63 = (1 << 63) - 1


def _text_entropy(text: str) -> int:
    if not isinstance(text, str):
        raise TypeError(f"expected a string, got {type(text).__name__}")
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:16], "big")


def derive_seed(study: str, setting: str, seed: int) -> int:
    """A stable 63-bit seed for replicate ``seed`` (a non-negative int) of ``setting`` in ``study``."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be an integer, got {seed!r}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    sequence = np.random.SeedSequence([_text_entropy(study), _text_entropy(setting), int(seed)])
    return int(sequence.generate_state(1, dtype=np.uint64)[0]) & _MASK63

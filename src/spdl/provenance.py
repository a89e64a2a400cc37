"""The software a result was made with: recorded in every claims file, the scorecard and the report."""

from __future__ import annotations

import platform
from importlib.metadata import PackageNotFoundError, version

# the packages whose version decides the numbers (python is added first)
KEY_PACKAGES = ("torch", "numpy", "scipy", "pandas", "matplotlib", "snakemake", "spdl")


def environment(packages=KEY_PACKAGES) -> dict[str, str]:
    """``{"python": "3.11.7", "torch": "2.13.0+cpu", ...}``; a package that is not installed is "absent"."""
    out = {"python": platform.python_version()}
    for name in packages:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "absent"
    return out

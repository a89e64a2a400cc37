"""Figure export: every figure is saved as PNG and PDF next to the tidy CSV of the data it shows."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from .io import atomic_path


def use_style() -> None:
    """One look for every study's figures."""
    sns.set_theme(context="paper", style="ticks", palette="colorblind", font_scale=1.1)
    plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 150, "savefig.bbox": "tight",
                         "axes.spines.top": False, "axes.spines.right": False})


def save_figure(fig, data: pd.DataFrame, outdir, name: str) -> Path:
    """Write ``outdir/name.{png,pdf,csv}`` atomically; return the PNG path."""
    outdir = Path(outdir)
    if data.empty:
        raise ValueError(f"figure {name!r}: the data behind it is empty")
    for ext in ("png", "pdf"):
        with atomic_path(outdir / f"{name}.{ext}") as tmp:
            fig.savefig(tmp, format=ext)
    with atomic_path(outdir / f"{name}.csv") as tmp:
        data.to_csv(tmp, index=False)
    return outdir / f"{name}.png"

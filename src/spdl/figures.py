"""Figure export: every figure is saved as PNG and PDF next to the tidy CSV of the data it shows.

In a notebook (an IPython kernel) the saved PNG is also shown inline, whatever matplotlib
backend the kernel runs, and the figure is closed so that it is not drawn a second time.
"""

from __future__ import annotations

import struct
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib import cycler

from .io import atomic_path


# seaborn's colorblind palette (Waskom et al.; the colours of seaborn.color_palette("colorblind"))
COLORBLIND = ["#0173b2", "#de8f05", "#029e73", "#d55e00", "#cc78bc", "#ca9161", "#fbafe4", "#949494", "#ece133",
              "#56b4e9"]
# what seaborn.set_theme(context="paper", style="ticks", font_scale=1.1) set, written out so that the look
# does not need seaborn (the one difference: images without a cmap stay viridis, not seaborn's "rocket")
_FONT, _SMALL = 10.56, 9.68
STYLE = {
    "axes.prop_cycle": cycler(color=COLORBLIND), "axes.axisbelow": True, "axes.edgecolor": ".15",
    "axes.labelcolor": ".15", "axes.linewidth": 1.0, "axes.labelsize": _FONT, "axes.titlesize": _FONT,
    "text.color": ".15", "font.size": _FONT, "legend.fontsize": _SMALL, "legend.title_fontsize": _FONT,
    "font.sans-serif": ["Arial", "DejaVu Sans", "Liberation Sans", "Bitstream Vera Sans", "sans-serif"],
    "grid.color": ".8", "lines.linewidth": 1.2, "lines.markersize": 4.8, "lines.solid_capstyle": "round",
    "patch.edgecolor": "w", "patch.force_edgecolor": True, "patch.linewidth": 0.8,
    **{f"{axis}.{key}": value for axis in ("xtick", "ytick") for key, value in (
        ("color", ".15"), ("labelsize", _SMALL), ("major.size", 4.8), ("major.width", 1.0),
        ("minor.size", 3.2), ("minor.width", 0.8))},
    "figure.dpi": 110, "savefig.dpi": 150, "savefig.bbox": "tight",
    "axes.spines.top": False, "axes.spines.right": False,
}


def use_style() -> None:
    """One look for every study's figures (seaborn's "paper"/"ticks" theme with its colorblind palette)."""
    plt.rcParams.update(STYLE)


class FigurePath(type(Path())):
    """The PNG path ``save_figure`` returns: a ``Path`` that a notebook does not echo as the cell's result."""

    def _ipython_display_(self) -> None:
        pass


def save_figure(fig, data: pd.DataFrame, outdir, name: str) -> Path:
    """Write ``outdir/name.{png,pdf,csv}`` atomically, show the PNG when run in a notebook; return the PNG path."""
    outdir = Path(outdir)
    if data.empty:
        raise ValueError(f"figure {name!r}: the data behind it is empty")
    for ext in ("png", "pdf"):
        with atomic_path(outdir / f"{name}.{ext}") as tmp:
            fig.savefig(tmp, format=ext)
    with atomic_path(outdir / f"{name}.csv") as tmp:
        data.to_csv(tmp, index=False)
    png = FigurePath(outdir / f"{name}.png")
    if _in_kernel():
        show_png(png.read_bytes(), scale=fig.dpi / _savefig_dpi(fig))
        plt.close(fig)
    return png


def _in_kernel() -> bool:
    """True inside a Jupyter kernel (papermill, JupyterLab), False in scripts and plain IPython."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


def _savefig_dpi(fig) -> float:
    dpi = plt.rcParams["savefig.dpi"]
    return fig.dpi if dpi == "figure" else float(dpi)


def show_png(png: bytes, scale: float = 1.0) -> None:
    """Display PNG bytes in the notebook, ``scale`` times their pixel width (the figure's on-screen size)."""
    from IPython.display import Image, display

    width = struct.unpack(">I", png[16:20])[0] if png[:8] == b"\x89PNG\r\n\x1a\n" else None
    display(Image(data=png, format="png", width=round(width * scale) if width else None))

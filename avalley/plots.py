"""One figure style for the book, and the figure types the chapters share."""
from __future__ import annotations

import matplotlib.pyplot as plt
import seaborn as sns

# colours by role, used the same way in every chapter
TRAIN, TEST, FLAT, SHARP = "#1f77b4", "#d62728", "#2ca02c", "#9467bd"
SWA, SGD = "#ff7f0e", "#1f77b4"


# Figure size and type, for print quality at the width the page shows a figure.
#
# The book's content column is about 700-800 px wide (sphinx-book-theme on a desktop screen,
# body text 16 px, small print such as captions and code about 14 px). A figure is shown at
# its pixel size, shrunk to the column when wider, so a font of s pt in a figure W inches
# wide appears at  s * (dpi / 72) * min(1, column / (W * dpi))  px: once the figure is wider
# than the column the dpi cancels, and the size on screen is s * column / (72 * W). A figure
# 11 in wide has 730 / (72 * 11) = 0.92 px per pt, so 9-pt text shows at 8 px: unreadable.
# Hence figures are made at the column's width, WIDTH = 7.5 in (about 97 px per inch at
# 730 px), where 1 pt shows as 1.35 px: tick labels and legends at 10.5 pt show at 14 px
# (the page's small print), axis labels and titles at 11.5-12 pt at 15.5-16 px (its body).
# Several panels go side by side within WIDTH, or in rows, not wider. The dpi only sets the
# sharpness: 150 dpi gives 1125 px for WIDTH, above the column, so the image is shrunk (not
# magnified) and stays crisp; on high-density screens 150 dpi is still 1.5 image px per
# CSS px at 730 px.
WIDTH = 7.5          # inches: a figure as wide as the page's content column
HEIGHT = 3.4         # inches: the default height of one row of panels
DPI = 150

RC = {
    "figure.figsize": (WIDTH, HEIGHT),
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "figure.autolayout": True,
    "font.size": 11.5,
    "axes.titlesize": 12,
    "axes.labelsize": 11.5,
    "xtick.labelsize": 10.5,
    "ytick.labelsize": 10.5,
    "legend.fontsize": 10.5,
    "legend.title_fontsize": 10.5,
    "figure.titlesize": 12,
    "lines.linewidth": 1.8,
}


def style():
    """The book's figure style: seaborn's whitegrid look, sizes from RC (see above)."""
    sns.set_theme(context="notebook", style="whitegrid", palette="deep")
    plt.rcParams.update(RC)


def figsize(rows: int = 1, height: float = HEIGHT) -> tuple[float, float]:
    """A figure as wide as the page's column, `rows` rows of panels `height` inches tall."""
    return (WIDTH, rows * height)


def landscape_caption(meta: dict) -> str:
    """The line every landscape figure carries: direction kind, normalization, BN mode."""
    parts = [f"direction: {meta.get('kind', '?')}"]
    if meta.get("normalization"):
        parts.append(f"normalization: {meta['normalization']}")
    if meta.get("subset") and meta["subset"] != "all":
        parts.append(f"subset: {meta['subset']}")
    parts.append(f"BN mode: {meta.get('bn_mode', 'n/a')}")
    return " | ".join(parts)

"""One figure style for the book, and the figure types the chapters share."""
from __future__ import annotations

import matplotlib.pyplot as plt
import seaborn as sns

# colours by role, used the same way in every chapter
TRAIN, TEST, FLAT, SHARP = "#1f77b4", "#d62728", "#2ca02c", "#9467bd"
SWA, SGD = "#ff7f0e", "#1f77b4"


def style():
    sns.set_theme(context="notebook", style="whitegrid", palette="deep")
    plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 110, "axes.titlesize": 11,
                         "axes.labelsize": 10, "legend.fontsize": 9, "figure.autolayout": True})


def landscape_caption(meta: dict) -> str:
    """The line every landscape figure carries: direction kind, normalization, BN mode."""
    parts = [f"direction: {meta.get('kind', '?')}"]
    if meta.get("normalization"):
        parts.append(f"normalization: {meta['normalization']}")
    if meta.get("subset") and meta["subset"] != "all":
        parts.append(f"subset: {meta['subset']}")
    parts.append(f"BN mode: {meta.get('bn_mode', 'n/a')}")
    return " | ".join(parts)

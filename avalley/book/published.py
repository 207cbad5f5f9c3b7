"""The paper's published numbers (from PAPER.md: the paper, its slides, and the SWA paper it
builds on), per chapter, for the page's paper-scale part: rows of (quantity, the published
value, measure), where `measure(results)` reads the same quantity from a chapter's
paper-scale bundle (its results.json), or returns None where the bundle does not hold it.
"""
from __future__ import annotations

import statistics


def _test_accuracy(metric: str, recipe: str, field: str, value: str):
    """Mean ± standard deviation over seeds of the test accuracy (%) of the rows of
    metrics[metric] with recipe `recipe` and row[field] == value."""
    def measure(results: dict) -> str | None:
        rows = [r for r in results.get("metrics", {}).get(metric, [])
                if isinstance(r, dict) and r.get("recipe") == recipe and r.get(field) == value]
        accs = [100 * r["test_acc"] for r in rows if isinstance(r.get("test_acc"), float)]
        if not accs:
            return None
        if len(accs) == 1:
            return f"{accs[0]:.2f} (1 seed)"
        return f"{statistics.mean(accs):.2f} ± {statistics.stdev(accs):.2f} ({len(accs)} seeds)"
    return measure


def _absent(results: dict) -> None:
    return None


_SWA_SOURCE = "Izmailov et al. 2018, SWA after 1.5 budgets"
PUBLISHED = {
    "swa": [
        ("PreResNet-164, CIFAR-10: SGD test accuracy (%)", f"95.28 ± 0.10 ({_SWA_SOURCE})",
         _test_accuracy("runs", "preresnet164-cifar10", "solution", "sgd_baseline")),
        ("PreResNet-164, CIFAR-10: SWA test accuracy (%)", f"95.83 ± 0.03 ({_SWA_SOURCE})",
         _test_accuracy("runs", "preresnet164-cifar10", "solution", "swa")),
    ],
    "training": [
        ("PreResNet-164, CIFAR-10: SGD test accuracy (%)", f"95.28 ± 0.10 ({_SWA_SOURCE})",
         _test_accuracy("networks", "preresnet164-cifar10", "solution", "SGD baseline")),
        ("PreResNet-164, CIFAR-10: SWA test accuracy (%)", f"95.83 ± 0.03 ({_SWA_SOURCE})",
         _test_accuracy("networks", "preresnet164-cifar10", "solution", "SWA")),
        ("WRN-28-10, CIFAR-10: SGD / SWA test accuracy (%)",
         f"96.18 ± 0.11 / 96.79 ± 0.05 ({_SWA_SOURCE})", _absent),
    ],
    "directions": [
        ("DenseNet-BC-100, CIFAR-10: training loss along a U(0,1) direction at l = 0, −9, +9",
         "≈ 0.09, 2.0, 0.3 (slides, read off the plot)", _absent),
        ("PreResNet-164, CIFAR-100: training loss at l = 0, +10, −10",
         "≈ 0.39, 2.3, 0.6 (slides, read off the plot)", _absent),
    ],
    "bias": [
        ("random-shift check: ξ_δ/ξ_0 at δ = 0, 0.1, …, 0.8",
         "1.0, 0.77, 0.52, 0.25, 0.15, 0.37, 0.67, 1.0, 1.33 (slides; minimum at δ ≈ 0.4)",
         _absent),
    ],
    "definition": [
        ("toy model, seed 2: loss at l = 0, +7.5, −7.5", "≈ 0.6, 5.2, 1.2 (slides)", _absent),
    ],
}

"""The one rule that turns measurements over independent units into a verdict on a claim.

A unit is something whose measurements are independent of the other units': a training seed
(a network trained from its own initialization and data order), or a separately trained
network. Near-duplicate draws of one thing (a hundred U(0,1) directions through one network,
which all point almost the same way) are one unit, not a hundred.

The rule (`RULE`), the same for every finding of the book: take one number per unit (a
paired difference, a log ratio, ...), and its mean with the two-sided 95% Student-t
interval. The claim **holds** when the interval lies entirely on the side the paper
predicts of the null value, **fails** when it lies entirely on the other side, and is
**inconclusive** otherwise, or with fewer than two units. The count of units on the paper's
side is reported beside it.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

CONFIDENCE = 0.95
VERDICTS = ("holds", "fails", "inconclusive")
EXPECT = ("above", "below")
RULE = ("holds when the two-sided 95% Student-t interval of the mean over independent units "
        "lies entirely on the paper's side of the null value; fails when it lies entirely on "
        "the other side; inconclusive otherwise, or with fewer than two units")


@dataclass(frozen=True)
class Verdict:
    verdict: str                 # holds | fails | inconclusive
    statistic: str               # what one unit's number is, in words
    estimate: float              # mean over units (NaN when there is none)
    ci: tuple                    # (low, high) of the 95% interval (NaN, NaN when none)
    null: float                  # the value the claim is tested against
    expect: str                  # "above" or "below": the paper's side of `null`
    n_units: int
    unit: str                    # e.g. "training seeds"
    sign_count: int              # units on the paper's side of `null`
    values: tuple = field(default=())   # one number per unit
    reason: str = ""             # why it is inconclusive, when that is not the interval
    rule: str = RULE

    @property
    def holds(self) -> bool:
        return self.verdict == "holds"

    def as_dict(self) -> dict:
        d = asdict(self)
        d["ci"] = list(self.ci)
        d["values"] = list(self.values)
        return d

    def describe(self, digits: int = 3) -> str:
        """One sentence of numbers for prose, e.g. 'mean −0.012 (95% CI −0.020 to −0.004)
        over 5 training seeds, 5 of 5 below 0'."""
        if self.n_units == 0 or not math.isfinite(self.estimate):
            return f"not measured ({self.reason})" if self.reason else "not measured"
        f = f"{{:.{digits}g}}"
        side = f"{self.sign_count} of {self.n_units} {self.expect} {self.null:g}"
        if self.n_units < 2:
            return f"{f.format(self.estimate)} from one {self.unit[:-1] or self.unit}, {side}"
        lo, hi = self.ci
        return (f"mean {f.format(self.estimate)} (95% CI {f.format(lo)} to {f.format(hi)}) "
                f"over {self.n_units} {self.unit}, {side}")


def t_interval(values, confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """Mean and two-sided Student-t interval of `values` (mean, low, high); with one value
    the interval is (-inf, inf)."""
    from scipy import stats  # imported where used: a second at start-up otherwise
    x = np.asarray(values, dtype=float)
    m = float(x.mean())
    if x.size < 2:
        return m, -math.inf, math.inf
    half = float(stats.t.ppf(0.5 + confidence / 2, x.size - 1) * x.std(ddof=1)
                 / math.sqrt(x.size))
    return m, m - half, m + half


def decide(values, expect: str, statistic: str, unit: str = "training seeds",
           null: float = 0.0, confidence: float = CONFIDENCE) -> Verdict:
    """The verdict on `values`, one number per independent unit, when the paper predicts
    that their mean is `expect` ("above" or "below") `null`."""
    if expect not in EXPECT:
        raise ValueError(f"expect must be one of {EXPECT}, not {expect!r}")
    x = np.asarray(values, dtype=float).ravel()
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{statistic}: every unit needs a finite value, got {x.tolist()}; "
                         "leave a unit out with its reason, or call `unmeasurable`")
    if x.size == 0:
        return unmeasurable(statistic, unit, "no units", expect, null)
    m, lo, hi = t_interval(x, confidence)
    on_side = int(np.sum(x > null) if expect == "above" else np.sum(x < null))
    if x.size < 2:
        verdict, reason = "inconclusive", "fewer than two independent units"
    elif (lo > null) if expect == "above" else (hi < null):
        verdict, reason = "holds", ""
    elif (hi < null) if expect == "above" else (lo > null):
        verdict, reason = "fails", ""
    else:
        verdict, reason = "inconclusive", ""
    return Verdict(verdict, statistic, m, (lo, hi), null, expect, int(x.size), unit, on_side,
                   tuple(float(v) for v in x), reason)


def paired(a, b, expect: str, statistic: str, unit: str = "training seeds") -> Verdict:
    """The verdict on the paired differences a − b (the same units, in the same order)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired: a and b have different shapes {a.shape} and {b.shape}")
    return decide(a - b, expect, statistic, unit)


def unmeasurable(statistic: str, unit: str, reason: str, expect: str = "above",
                 null: float = 0.0) -> Verdict:
    """An inconclusive verdict for a claim that could not be measured, with the reason."""
    nan = float("nan")
    return Verdict("inconclusive", statistic, nan, (nan, nan), null, expect, 0, unit, 0, (),
                   reason)


def units_needed(sd: float, effect: float, confidence: float = CONFIDENCE,
                 power: float = 0.8, most: int = 1000) -> int:
    """The fewest units for which a true mean of size `effect`, with per-unit standard
    deviation `sd`, gives an interval that excludes zero with probability `power`
    (the usual t-based sample size: t_{1−α/2, n−1} + t_{power, n−1} ≤ |effect|·√n / sd).
    Returns `most` + 1 when even `most` units are not enough."""
    from scipy import stats
    if sd < 0 or not math.isfinite(sd):
        raise ValueError(f"sd must be finite and non-negative, got {sd}")
    if effect == 0:
        return most + 1
    for n in range(2, most + 1):
        df = n - 1
        need = stats.t.ppf(0.5 + confidence / 2, df) + stats.t.ppf(power, df)
        if need * sd <= abs(effect) * math.sqrt(n):
            return n
    return most + 1

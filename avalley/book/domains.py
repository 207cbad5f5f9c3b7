"""The domain of a chapter parameter: what values it may take, how to read one from the
command line, and how to say so in words.

A chapter declares one domain per parameter (in `chapters/NN_name.params.py`, next to the
chapter). `check` returns the value, normalized (an int given for a float becomes a float),
or raises `DomainError` with a phrase that completes "must be ...".
"""
from __future__ import annotations

import ast
import math


class DomainError(ValueError):
    """A value outside its domain; the message says what the domain is."""


class Domain:
    """Base class: subclasses implement `check` and `describe`; `parse` reads a CLI string."""

    def check(self, value):
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError

    def parse(self, text: str):
        """The value a command-line string stands for (a Python literal, else the string)."""
        try:
            return ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return text

    def fail(self):
        raise DomainError(self.describe())

    def shrink(self, value, scale: float):
        """`value` at scale < 1 (the chapters' `scale` parameter): unchanged, except for the
        domains that are budgets (Budget, Seeds, Cases)."""
        return value


def _bounds(gt=None, ge=None, lt=None, le=None) -> str:
    parts = [f"{w} {v:g}" for w, v in (("above", gt), ("at least", ge), ("below", lt),
                                       ("at most", le)) if v is not None]
    return " and ".join(parts)


class Int(Domain):
    """An integer (not a bool), optionally bounded, optionally odd."""

    def __init__(self, ge=None, le=None, odd=False):
        self.ge, self.le, self.odd = ge, le, odd

    def check(self, value):
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail()
        if (self.ge is not None and value < self.ge) or (self.le is not None and value > self.le) \
                or (self.odd and value % 2 == 0):
            self.fail()
        return value

    def describe(self) -> str:
        b = _bounds(ge=self.ge, le=self.le)
        return ("an odd integer" if self.odd else "an integer") + (f" {b}" if b else "")

    def parse(self, text):
        try:
            return int(text)
        except ValueError:
            return text


class Float(Domain):
    """A finite real number (an int is accepted and converted), optionally bounded."""

    def __init__(self, gt=None, ge=None, lt=None, le=None):
        self.gt, self.ge, self.lt, self.le = gt, ge, lt, le

    def check(self, value):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail()
        value = float(value)
        if not math.isfinite(value):
            self.fail()
        if (self.gt is not None and not value > self.gt) or \
                (self.ge is not None and not value >= self.ge) or \
                (self.lt is not None and not value < self.lt) or \
                (self.le is not None and not value <= self.le):
            self.fail()
        return value

    def describe(self) -> str:
        b = _bounds(self.gt, self.ge, self.lt, self.le)
        return "a finite number" + (f" {b}" if b else "")

    def parse(self, text):
        try:
            return float(text)
        except ValueError:
            return text


class Bool(Domain):
    def check(self, value):
        if not isinstance(value, bool):
            self.fail()
        return value

    def describe(self) -> str:
        return "true or false"

    def parse(self, text):
        low = text.strip().lower()
        return {"true": True, "1": True, "yes": True,
                "false": False, "0": False, "no": False}.get(low, text)


class Choice(Domain):
    """One of a fixed list of values (names from a registry, usually)."""

    def __init__(self, values, what: str = "one of"):
        self.values, self.what = tuple(values), what

    def check(self, value):
        if isinstance(value, (list, dict)) or value not in self.values:
            self.fail()
        return value

    def describe(self) -> str:
        return f"{self.what} {', '.join(map(repr, self.values))}"

    def parse(self, text):
        return text if text in self.values else super().parse(text)


class ListOf(Domain):
    """A list of items of one domain; non-empty and without repeats unless told otherwise."""

    def __init__(self, item: Domain, min_len: int = 1, unique: bool = True):
        self.item, self.min_len, self.unique = item, min_len, unique

    def check(self, value):
        if not isinstance(value, (list, tuple)) or len(value) < self.min_len:
            self.fail()
        try:
            out = [self.item.check(v) for v in value]
        except DomainError:
            self.fail()
        if self.unique and len({repr(v) for v in out}) != len(out):
            self.fail()
        return out

    def describe(self) -> str:
        size = ("a non-empty list" if self.min_len == 1 else
                f"a list of at least {self.min_len}" if self.min_len else "a list")
        return f"{size}{' without repeats' if self.unique else ''}, each {self.item.describe()}"

    def parse(self, text):
        value = super().parse(text)
        if isinstance(value, (list, tuple)):
            return list(value)
        # `-p seeds 0,1,2` and `-p recipe_names a,b`: comma-separated items
        return [self.item.parse(t.strip()) for t in str(text).split(",") if t.strip()]


class DictOf(Domain):
    """A dict from keys of one domain to values of another (may be empty)."""

    def __init__(self, key: Domain, value: Domain):
        self.key, self.value = key, value

    def check(self, value):
        if not isinstance(value, dict):
            self.fail()
        try:
            return {self.key.check(k): self.value.check(v) for k, v in value.items()}
        except DomainError:
            self.fail()

    def describe(self) -> str:
        return f"a dict from {self.key.describe()} to {self.value.describe()}"


# shorthands for the domains most chapters share
def Count(ge: int = 1) -> Int:
    """A number of things: an integer at least `ge` (1 by default)."""
    return Int(ge=ge)


def Positive() -> Float:
    return Float(gt=0)


def Fraction() -> Float:
    """A number in (0, 1)."""
    return Float(gt=0, lt=1)


class Seeds(ListOf):
    """Training seeds, the independent units of a verdict. The `scale` parameter keeps the
    first ones, at least two (the fewest a verdict over seeds accepts): a shrunk run proves
    the code path of every seed the same way, so more seeds only cost time."""

    def __init__(self, min_len: int = 1):
        super().__init__(Int(ge=0), min_len=min_len)

    def shrink(self, value, scale: float):
        if scale >= 1 or not isinstance(value, (list, tuple)):
            return value
        return list(value[:max(2, math.ceil(len(value) * scale))])


class Cases(ListOf):
    """A list of cases a chapter studies one by one (parameter groups, noises, mixing
    weights). The `scale` parameter keeps `keep` of them, the first (or with last=True the
    last, where a rule needs the list's end): a shrunk run proves the code path of one case
    as of another."""

    def __init__(self, item: Domain, keep: int = 1, last: bool = False, min_len: int = 1):
        super().__init__(item, min_len=min_len)
        self.keep, self.last = keep, last

    def shrink(self, value, scale: float):
        if scale >= 1 or not isinstance(value, (list, tuple)) or len(value) <= self.keep:
            return value
        return list(value[-self.keep:] if self.last else value[:self.keep])


class Budget(Domain):
    """A count that the `scale` parameter shrinks (epochs, images, points, directions,
    Monte Carlo draws): the value times `scale`, rounded up to the next value of
    `minimum + k·step` that the inner domain accepts. Checking is the inner domain's."""

    def __init__(self, inner: Domain, minimum: int = 1, step: int = 1):
        self.inner, self.minimum, self.step = inner, minimum, step

    def check(self, value):
        return self.inner.check(value)

    def describe(self) -> str:
        return self.inner.describe()

    def parse(self, text):
        return self.inner.parse(text)

    def shrink(self, value, scale: float):
        if scale >= 1 or not isinstance(value, int):
            return value
        k = max(0, math.ceil((value * scale - self.minimum) / self.step))
        out = self.minimum + k * self.step
        while out < value:
            try:
                return self.inner.check(out)
            except DomainError:
                out += self.step
        return value

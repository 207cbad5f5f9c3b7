"""Valid values of parameters whose names say what they hold (dataset, model, ...).

Each list comes from the registry of the module that owns it, so a new dataset or model
becomes a valid choice everywhere at once.
"""
from __future__ import annotations

import importlib

from .runtime import DEVICES

# parameter name (singular or plural) -> (module, attribute holding the valid names)
_REGISTRIES = {
    "dataset": ("avalley.data", "DATASETS"),
    "model": ("avalley.models", "MODELS"),
    "bn_mode": ("avalley.landscape", "BN_MODES"),
    "direction_kind": ("avalley.directions", "KINDS"),
    "recipe_name": ("avalley.recipes", "RECIPES"),
    "subset": ("avalley.directions", "SUBSETS"),
}


# parameters whose few valid values belong to no registry
_FIXED = {
    "device": DEVICES,
    "line_to": ("baseline", "last"),     # swa: which SGD solution ends the SWA-SGD line
    "reach_unit": ("weights", "absolute"),  # directions: scan distances relative to |w|, or not
}


def registry_of(name: str) -> str | None:
    """The registry (`dataset`, `recipe_name`, ...) whose names parameter `name` holds.
    A registry name matches the whole parameter name or its end after an underscore,
    singular or plural: `dataset`, `recipe_names`, `plane_bn_mode`, `subset_direction_kinds`.
    None for names with fixed choices of their own (`_FIXED`) and for free values."""
    if name in _FIXED:
        return None
    key = name.split("__")[0]
    for k in (key, key[:-1] if key.endswith("s") else None):
        for reg in sorted(_REGISTRIES, key=len, reverse=True):
            if k and (k == reg or k.endswith("_" + reg)):
                return reg
    return None


def for_parameter(name: str):
    """The valid values of parameter `name`, or None when any value of its type goes."""
    if name in _FIXED:
        return _FIXED[name]
    reg = registry_of(name)
    if reg is None:
        return None
    module, attr = _REGISTRIES[reg]
    return tuple(getattr(importlib.import_module(module), attr))


def datasets_needed(values: dict) -> set[str]:
    """The datasets a chapter run with these parameters loads: its dataset parameters, and
    the datasets of the shared recipes it names (at its profile)."""
    from . import recipes
    out = set()
    for name, value in values.items():
        items = value if isinstance(value, (list, tuple)) else [value]
        reg = registry_of(name)
        if reg == "dataset":
            out |= set(items)
        elif reg == "recipe_name":
            out |= {recipes.recipe(r, values.get("profile", "quick")).dataset for r in items}
    return out

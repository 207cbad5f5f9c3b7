"""Pre-flight for datasets: before any chapter runs, make sure every dataset it needs is on
disk, or stop with one message that says what to do.

Fashion-MNIST (the quick profile's image data) is looked for, in order: in `data/datasets/`,
in Debian's `/usr/share/datasets/fashion-mnist/`; then, where apt is available and we are
root, Debian's package `dataset-fashion-mnist` is installed; then torchvision downloads it
when the machine is online. CIFAR is downloaded by torchvision when online. Digits and
MNIST-1D are generated locally and need nothing.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

from .. import data
from ..errors import DatasetMissing
from . import chapters

DEBIAN_PACKAGES = {"fashion-mnist": "dataset-fashion-mnist"}


def _apt_install(package: str) -> bool:
    """apt-get install `package` when apt exists and we are root; True if it ran cleanly."""
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        return False
    print(f"installing Debian's {package} with apt-get ...", file=sys.stderr)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "install", "-y", "-qq", "--no-install-recommends", package],
                ["apt-get", "update", "-qq"],
                ["apt-get", "install", "-y", "-qq", "--no-install-recommends", package]):
        ok = subprocess.run(cmd, env=env, capture_output=True).returncode == 0
        if ok and cmd[1] == "install":
            return True
    return False


def ensure(name: str) -> None:
    """Make dataset `name` available (see the module docstring) or raise DatasetMissing."""
    try:
        data.ensure(name, download=False)
        return
    except DatasetMissing:
        pass
    if name in DEBIAN_PACKAGES and _apt_install(DEBIAN_PACKAGES[name]):
        try:
            data.ensure(name, download=False)
            return
        except DatasetMissing:
            pass
    data.ensure(name, download=True)     # torchvision's download; raises with what to do


def needed_by_book(profile: str = "quick") -> set[str]:
    """Every dataset the chapters load at `profile` (the book runs `quick`)."""
    out = set()
    for chapter in chapters.chapter_ids():
        out |= chapters.datasets_needed(chapter, chapters.for_profile(chapter, profile))
    return out

"""avalley: the shared library of the Asymmetric Valleys companion book.

One module per responsibility (see README.md, "The library").
"""
from pathlib import Path

__version__ = "0.1.0"

# The book's root (editable install: the folder above this package).
ROOT = Path(__file__).resolve().parent.parent
CHAPTERS_DIR = ROOT / "chapters"
DATA_DIR = ROOT / "data"

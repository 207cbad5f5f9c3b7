"""The book's own machinery: chapter parameters and their domains (`chapters`, `domains`),
the record of a chapter run (`record`), the dataset pre-flight (`datasets`) and the command
line (`cli`). The science modules of `avalley` never import this package.

A chapter's first cells call `start` and, for numbers in prose, `glue`.
"""
from .record import glue, load, start

__all__ = ["start", "glue", "load"]

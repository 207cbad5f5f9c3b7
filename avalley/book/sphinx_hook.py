"""A Sphinx extension (listed in _config.yml) that runs in the process that builds the book:
it tells the chapter kernels it spawns, through an environment variable they inherit, where
the site's static folder is, so that a finished chapter can put its results beside its page
(`avalley.book.page.publish`)."""
import os
from pathlib import Path

from .page import SITE_STATIC


def setup(app):
    os.environ[SITE_STATIC] = str(Path(app.srcdir) / "_static")
    return {"parallel_read_safe": True}

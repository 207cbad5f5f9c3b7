"""references.bib holds the works the book must cite, with their bibliographic data, and
every `{cite}` in the book names one of its entries (the build checks it too, but only after
executing every chapter). Also the figure style that avalley.plots sets."""
import re
from pathlib import Path

import pytest
from pybtex.database import parse_file

ROOT = Path(__file__).resolve().parent.parent
REQUIRED = {
    "he2019asymmetric": ("Asymmetric Valleys", "2019", "1902.00744"),
    "he2019code": ("code-for-Asymmetric-Valley", "2019",
                   "github.com/962086838/code-for-Asymmetric-Valley"),
    "izmailov2018averaging": ("Averaging Weights", "2018", "Uncertainty in Artificial"),
    "li2018visualizing": ("Visualizing the Loss Landscape", "2018", "1712.09913"),
    "li2024exploring": ("Asymmetric Valley of Deep Neural Networks", "2024", "2405.12489"),
    "keskar2017large": ("Large-Batch Training", "2017", "Learning Representations"),
    "dinh2017sharp": ("Sharp Minima Can Generalize", "2017", "Machine Learning"),
    "draxler2018essentially": ("Essentially No Barriers", "2018", "Machine Learning"),
    "garipov2018loss": ("Mode Connectivity", "2018", "1802.10026"),
}


@pytest.fixture(scope="module")
def bib():
    return parse_file(str(ROOT / "references.bib"), bib_format="bibtex")


def test_required_entries(bib):
    for key, needles in REQUIRED.items():
        assert key in bib.entries, f"references.bib lacks {key}"
        e = bib.entries[key]
        text = " ".join(str(v) for v in e.fields.values())
        for needle in needles:
            assert needle in text, f"{key}: {needle!r} not in its fields"
        assert e.persons.get("author"), f"{key}: no authors"


def test_every_citation_names_an_entry(bib):
    cite = re.compile(r"\{cite(?::[a-z]+)*\}`([^`]+)`")
    pages = sorted((ROOT / "chapters").glob("*.md")) + sorted(ROOT.glob("*.md"))
    used = {}
    for page in pages:
        for m in cite.finditer(page.read_text()):
            for key in m.group(1).split(","):
                used.setdefault(key.strip(), page.name)
    assert used, "no page cites anything"
    unknown = {k: p for k, p in used.items() if k not in bib.entries}
    assert not unknown, f"citations of keys not in references.bib: {unknown}"


def test_figure_style_is_print_quality():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from avalley import plots
    plots.style()
    rc = plt.rcParams
    assert rc["figure.dpi"] >= 150 and rc["savefig.dpi"] >= 150
    width = rc["figure.figsize"][0]
    # text size on screen once the figure is shrunk to a 730 px column (see avalley.plots)
    px_per_pt = min(1.0, 730 / (width * rc["figure.dpi"])) * rc["figure.dpi"] / 72
    for key in ("xtick.labelsize", "ytick.labelsize", "legend.fontsize", "axes.labelsize"):
        assert rc[key] * px_per_pt >= 13.5, f"{key} shows at {rc[key] * px_per_pt:.1f} px"
    assert plots.figsize(2) == (plots.WIDTH, 2 * plots.HEIGHT)

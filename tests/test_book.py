"""The built site (the session's `built_book`, see conftest.py): every chapter page has a figure
and no error output, the bibliography resolves, no page names a file of the machine that
built it, and no page loads anything from another site. The rendered pages are checked in a
browser by test_browser.py."""
import os
import re
from urllib.parse import urlsplit

import pytest
from bs4 import BeautifulSoup
from conftest import toc_pages

slow = pytest.mark.slow


def soup(path):
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def site_pages(site):
    return sorted(p for p in site.rglob("*.html") if "_static" not in p.parts)


@slow
def test_every_chapter_page_exists_with_a_figure_and_no_errors(built_book):
    for page in toc_pages():
        html_path = built_book / f"{page}.html"
        assert html_path.exists(), f"{page}.html missing"
        html = html_path.read_text()
        body = html[html.find("<main"):]
        if page.startswith("chapters/") and not page.endswith("claims"):
            assert re.search(r"<img [^>]*src=\"[^\"]*_images/", body), f"{page}: no figure"
        for bad in ("Traceback (most recent call last)", "output traceback", "output stderr"):
            assert bad not in body, f"{page}: error output on the page ({bad!r})"
        if page.startswith("chapters/") and not page.endswith("claims") \
                and "AVALLEY_SITE" not in os.environ:
            # AVALLEY_PROFILE=smoke reached every chapter's kernel
            assert "computed at the <strong>smoke</strong> profile" in body, page


# -- references ------------------------------------------------------------------------------

@slow
def test_bibliography_resolves(built_book):
    """The references page lists the bibliography, and every citation on every page links to
    an entry of it. (An unknown key is a warning, which --warningiserror turns into a failed
    build; this checks the result.)"""
    log = built_book.parent.parent / "build.log"
    if log.exists():                             # built by this session, not AVALLEY_SITE
        text = log.read_text()
        for bad in ("could not find bibtex key", "citation not found", "unknown target"):
            assert bad not in text.lower(), f"build log: {bad}"
    refs = soup(built_book / "references.html")
    entries = refs.select('[role="doc-biblioentry"]')
    assert len(entries) >= 9, f"references.html lists {len(entries)} entries"
    listed = " ".join(e.get_text(" ") for e in entries)
    for needle in ("Asymmetric valleys", "1902.00744", "Averaging weights", "2405.12489"):
        assert needle.lower() in listed.lower(), f"bibliography lacks {needle!r}"
    ids = {e.get("id") for e in refs.select("[id]")}
    cited = 0
    for page in site_pages(built_book):
        for a in soup(page).select('a[href*="references.html#"]'):
            target = urlsplit(a["href"]).fragment
            assert target in ids, f"{page.name}: citation link to missing #{target}"
            cited += 1
    assert cited >= 3, "the book cites nothing"


# -- local paths -----------------------------------------------------------------------------

# An absolute path of the build machine: a home, temp or work folder, an installed Python's
# files, a file:// address. The look-behind keeps addresses out ("https://h.org/home/x" has a
# word character before "/home"), and so are relative paths ("../tmp", the rerun box's
# ".venv/bin/python -m avalley ...").
ABSOLUTE = re.compile(
    r"(?<![\w.~/-])/(?:work|home|tmp|root|Users|mnt|private|var/folders|srv)/[\w.~-]"
    r"|file://|\bsite-packages/|\b[A-Z]:\\(?:Users|Windows)\\")
# A file under the repository's generated folders (data/runs, data/cache, data/datasets) in
# what a run printed or in a link: it exists only on the machine that built the site. Prose
# may name the folders ("`data/cache/train/`"), so only outputs and links are searched, and
# an upper-case placeholder (data/runs/CHAPTER/...) is not a file.
GENERATED = re.compile(r"(?<![\w.-])data/(?:runs|cache|datasets)/[a-z0-9_.-]")
OUTPUTS = ".cell_output, .output, .pasted-text, .pasted-inline"


@slow
def test_no_page_names_a_local_path(built_book):
    found = []
    for page in site_pages(built_book):
        html = page.read_text(encoding="utf-8")
        rel = page.relative_to(built_book)
        for m in ABSOLUTE.finditer(html):
            found.append(f"{rel}: {html[max(0, m.start() - 60):m.end() + 40]!r}")
        doc = BeautifulSoup(html, "html.parser")
        texts = [el.get_text(" ") for el in doc.select(OUTPUTS)]
        texts += [el.get(attr, "") for attr in ("href", "src")
                  for el in doc.select(f"[{attr}]")]
        for t in texts:
            for m in GENERATED.finditer(t):
                found.append(f"{rel}: {t[max(0, m.start() - 60):m.end() + 40]!r}")
    assert not found, "local paths on the site:\n" + "\n".join(found[:20])


def test_local_path_patterns():
    """What the two patterns above flag, and what they leave alone."""
    flagged = ["results written to /work/main/data/runs/intro/quick/results.json",
               "/home/ann/book/x.png", "see /tmp/tmpab12/out", "file:///srv/site/index.html",
               "/usr/lib/python3/site-packages/torch/nn.py:12: UserWarning",
               "/root/.cache/x", r"C:\Users\ann\book"]
    kept = ["https://github.com/home/x", "https://example.org/tmp/page", "../tmp/a.png",
            "a/b/c", "$w/\\|w\\|$", "Fashion-MNIST from Debian's dataset-fashion-mnist",
            "the TeX \\hat L", "20/tmp",
            # the rerun box's commands, relative to the repository's root
            '<span class="pre">.venv/bin/python</span> <span class="pre">-m</span>']
    assert [s for s in flagged if not ABSOLUTE.search(s)] == []
    assert [s for s in kept if ABSOLUTE.search(s)] == []
    assert GENERATED.search("results written to data/runs/intro/quick/results.json")
    assert GENERATED.search("loaded from data/datasets/cifar-10-batches-py")
    assert not GENERATED.search("data/runs/CHAPTER/PROFILE/results.json")
    assert not GENERATED.search("metadata/runs/x")


# -- offline ---------------------------------------------------------------------------------

REMOTE = re.compile(r"^\s*(?:https?:)?//", re.I)


@slow
def test_pages_load_nothing_from_other_sites(built_book):
    """Scripts, styles, fonts and MathJax come from the site itself: no <script src>, <link>
    to a stylesheet or preload, inline script or CSS url() names an http(s) address."""
    found = []
    for page in site_pages(built_book):
        rel = page.relative_to(built_book)
        doc = soup(page)
        for s in doc.find_all("script"):
            if REMOTE.match(s.get("src", "")):
                found.append(f"{rel}: <script src={s['src']}>")
            url = re.search(r"https?://[^\s\"']+", s.string or "")
            if url:
                found.append(f"{rel}: inline script names {url[0]}")
        for link in doc.find_all("link"):
            rels = set(link.get("rel", []))
            if rels & {"stylesheet", "preload", "modulepreload", "prefetch"} \
                    and REMOTE.match(link.get("href", "")):
                found.append(f"{rel}: <link {sorted(rels)} href={link['href']}>")
        for style in doc.find_all("style"):
            if re.search(r"url\(\s*['\"]?https?:|@import\s+['\"]?https?:", style.string or ""):
                found.append(f"{rel}: <style> imports from another site")
    for css in (built_book / "_static").rglob("*.css"):
        if re.search(r"url\(\s*['\"]?https?:|@import\s+(?:url\()?['\"]?https?:", css.read_text(
                errors="replace")):
            found.append(f"{css.relative_to(built_book)}: url() to another site")
    assert not found, "\n".join(found[:20])
    # MathJax itself is on the site, and the pages that have math load that copy
    assert (built_book / "_static" / "mathjax" / "tex-chtml.js").is_file()
    intro = (built_book / "chapters" / "01_intro.html").read_text()
    assert re.search(r'<script[^>]+src="\.\./_static/mathjax/tex-chtml\.js', intro)

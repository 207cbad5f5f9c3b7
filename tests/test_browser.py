"""Each page of the built site as a reader sees it, in Debian's Chromium driven headless by
Playwright, at a desktop and a tablet width. The site is served from 127.0.0.1, as GitHub
Pages would serve it, and every request to another host is refused and reported.

On every page: no raw TeX is left once MathJax has run (no text outside code containing
`\\(`, `\\[`, `$$` or a TeX command, every math element typeset, no MathJax error), every
image has loaded with a non-zero natural size, the console shows no error, the page does
not scroll sideways (wide tables and figures must scroll inside their own box; offenders are
named), and a screenshot of the first screen is not blank.

The site is the session's `built_book` (conftest.py): the full build, or AVALLEY_SITE.
"""
import functools
import http.server
import os
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
from conftest import toc_pages

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None and not os.environ.get("CI"):
    pytest.skip("Debian's chromium is not installed (.ci/run installs it)",
                allow_module_level=True)
try:
    from playwright.sync_api import sync_playwright
except ImportError:
    if os.environ.get("CI"):
        raise
    pytest.skip("playwright is not installed (pip install -r requirements.txt)",
                allow_module_level=True)

# what works headless as root on the CI machine; Playwright adds --headless and the fresh
# --user-data-dir (launch_persistent_context's folder) itself
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORTS = {"desktop": (1280, 900), "tablet": (768, 1024)}
PAGES = toc_pages()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site_url(built_book):
    handler = functools.partial(_Quiet, directory=str(built_book))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser(site_url, tmp_path_factory):
    """One Chromium with a fresh profile, and the list of requests to other hosts, which
    are refused."""
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=CHROMIUM,
            headless=True, args=FLAGS, viewport={"width": 1280, "height": 900})
        external = []

        def route(r):
            if r.request.url.startswith(site_url):
                r.continue_()
            else:
                external.append(r.request.url)
                r.abort()
        ctx.route("**/*", route)
        yield ctx, external
        ctx.close()


# Runs in the page once it has loaded: waits for the images and for MathJax, then reports
# what a reader would see wrong.
INSPECT = r"""async () => {
  const out = {};
  const imgs = [...document.images];
  imgs.forEach(i => { i.loading = "eager"; });
  await Promise.all(imgs.map(i => i.complete ? null : new Promise(r => {
    i.addEventListener("load", r); i.addEventListener("error", r); })));
  out.broken_images = imgs.filter(i => !(i.naturalWidth > 0 && i.naturalHeight > 0))
                          .map(i => i.getAttribute("src"));

  const mathEls = [...document.querySelectorAll(".math")];
  out.mathjax_loaded = !!(window.MathJax && window.MathJax.startup
                          && window.MathJax.startup.promise);
  if (out.mathjax_loaded) {
    await Promise.race([window.MathJax.startup.promise,
                        new Promise(r => setTimeout(r, 30000))]);
  }
  await document.fonts.ready;
  out.n_math = mathEls.length;
  out.untypeset = mathEls.filter(e => !e.querySelector("mjx-container"))
                         .map(e => e.textContent.slice(0, 80));
  // a TeX error, and an undefined macro (MathJax shows it in red as text: \foo)
  out.math_errors = [...document.querySelectorAll("mjx-merror")]
      .map(e => e.getAttribute("data-mjx-error") || e.textContent.slice(0, 80))
      .concat([...document.querySelectorAll('mjx-assistive-mml mtext[mathcolor="red"]')]
      .filter(e => e.textContent.startsWith("\\"))
      .map(e => "undefined macro " + e.textContent));

  // raw TeX in the text a reader sees (code, MathJax's own output and scripts excepted)
  const skip = "pre, code, kbd, samp, script, style, textarea, mjx-container, .highlight";
  const tex = /\\\(|\\\)|\\\[|\\\]|\$\$|\\[A-Za-z]{2,}/;
  const raw = [];
  const root = document.querySelector("main") || document.body;
  const walk = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  while (walk.nextNode()) {
    const n = walk.currentNode, el = n.parentElement;
    if (!el || el.closest(skip)) continue;
    const m = n.textContent.match(tex);
    if (m) {
      const t = n.textContent, i = m.index;
      raw.push(t.slice(Math.max(0, i - 40), i + 40).replace(/\s+/g, " "));
    }
  }
  out.raw_tex = raw;

  // horizontal overflow of the page, and the outermost elements that stick out
  const doc = document.documentElement;
  const vw = doc.clientWidth;
  out.viewport = vw;
  out.scroll_width = Math.max(doc.scrollWidth, document.body.scrollWidth);
  const offenders = [];
  if (out.scroll_width > vw) {
    const scrolls = el => {
      for (let p = el.parentElement; p; p = p.parentElement) {
        const ox = getComputedStyle(p).overflowX;
        if (ox === "auto" || ox === "scroll" || ox === "hidden" || ox === "clip") return true;
      }
      return false;
    };
    const sticksOut = el => {
      const r = el.getBoundingClientRect();
      return r.width > 0 && r.right + window.scrollX > vw + 1;
    };
    for (const el of document.body.querySelectorAll("*")) {
      if (!sticksOut(el) || scrolls(el)) continue;
      if (el.parentElement && sticksOut(el.parentElement) && !scrolls(el.parentElement)
          && el.parentElement !== document.body) continue;       // report the outermost
      const sec = el.closest("section[id]");
      const r = el.getBoundingClientRect();
      offenders.push({
        element: el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
                 + [...el.classList].slice(0, 3).map(c => "." + c).join(""),
        section: sec ? sec.id : null,
        right: Math.round(r.right + window.scrollX), width: Math.round(r.width),
        text: (el.innerText || el.getAttribute("src") || "").trim().slice(0, 60)});
    }
  }
  out.overflow = offenders.slice(0, 10);
  return out;
}"""


def _blank(png: bytes) -> str | None:
    import io

    from PIL import Image
    img = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=float)
    # a blank page is one flat colour; a rendered page has text and figures
    if img.std() <= 10 or (img < 128).mean() <= 0.005:
        return f"screenshot looks blank (std {img.std():.1f}, dark {(img < 128).mean():.4f})"
    return None


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
@pytest.mark.parametrize("page_name", PAGES)
def test_page_as_a_reader_sees_it(browser, site_url, page_name, viewport, tmp_path):
    context, external = browser
    page = context.new_page()
    problems = []
    page.on("console", lambda m: m.type == "error" and problems.append(
        f"console error: {m.text}"))
    page.on("pageerror", lambda e: problems.append(f"uncaught exception: {e}"))
    page.on("requestfailed", lambda r: r.url.startswith(site_url) and problems.append(
        f"request failed: {r.url} ({r.failure})"))
    w, h = VIEWPORTS[viewport]
    page.set_viewport_size({"width": w, "height": h})
    before = len(external)
    try:
        resp = page.goto(site_url + page_name + ".html", wait_until="load")
        assert resp is not None and resp.ok, f"{page_name}: HTTP {resp and resp.status}"
        seen = page.evaluate(INSPECT)
        shot = page.screenshot()
        (tmp_path / "screen.png").write_bytes(shot)
        if os.environ.get("AVALLEY_SHOTS"):
            d = Path(os.environ["AVALLEY_SHOTS"])
            d.mkdir(parents=True, exist_ok=True)
            (d / f"{page_name.replace('/', '_')}-{viewport}.png").write_bytes(shot)
            page.screenshot(path=str(d / f"{page_name.replace('/', '_')}-{viewport}-full.png"),
                            full_page=True)
    finally:
        page.close()

    problems += [f"loaded from another site: {u}" for u in external[before:]]
    problems += [f"image not loaded: {s}" for s in seen["broken_images"]]
    if seen["n_math"] and not seen["mathjax_loaded"]:
        problems.append(f"{seen['n_math']} math elements but MathJax did not load")
    problems += [f"math not typeset: {t!r}" for t in seen["untypeset"][:5]]
    problems += [f"MathJax error: {t!r}" for t in seen["math_errors"][:5]]
    problems += [f"raw TeX in the text: {t!r}" for t in seen["raw_tex"][:5]]
    if seen["scroll_width"] > seen["viewport"]:
        problems.append(f"page scrolls sideways: {seen['scroll_width']} px wide in a "
                        f"{seen['viewport']} px viewport; sticking out:")
        problems += [f"    {o['element']} in #{o['section']} (right edge {o['right']} px, "
                     f"{o['width']} px wide): {o['text']!r}" for o in seen["overflow"]]
    blank = _blank(shot)
    if blank:
        problems.append(blank)
    assert not problems, f"{page_name} at {viewport} width ({w} px):\n" + "\n".join(problems)


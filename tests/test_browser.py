"""The built book, as a reader's browser shows it.

Headless Chromium opens every page of ``_build/html`` and the tests fail on a
page with a broken image, a missing figure, an error output, or an internal
link to a file or anchor that does not exist.

Needs the built book (``make book``; ``make test`` builds it first) and
Chromium with chromedriver (``make browser`` installs the Debian packages
``chromium`` and ``chromium-driver`` when run as root). Without either, the
tests are skipped with a message saying what is missing, unless
``COURSE_REQUIRE_BROWSER=1`` (set in CI), which turns the skip into a failure.
"""

from __future__ import annotations

import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat
import pytest

from chromium import Chromium, PageLoadError, find_executables

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
NOT_PAGES = ("_static", "_sources", "_images", "_sphinx_design_static", "_panels_static")
PAGES = (
    sorted(
        str(p.relative_to(HTML))
        for p in HTML.rglob("*.html")
        if p.relative_to(HTML).parts[0] not in NOT_PAGES
    )
    if (HTML / "index.html").exists()
    else []
)
IMAGE_TYPES = ("image/png", "image/jpeg", "image/svg+xml", "image/gif")
HIDDEN_OUTPUT_TAGS = {"remove-output", "remove-cell"}

# Runs in the page once it has loaded; waits for every image to load or fail.
COLLECT = r"""
const done = arguments[arguments.length - 1];
(async () => {
  const probe = (src) => new Promise((resolve) => {
    const img = new Image();
    const timer = setTimeout(() => resolve(0), 15000);
    img.onload = () => { clearTimeout(timer); resolve(img.naturalWidth); };
    img.onerror = () => { clearTimeout(timer); resolve(0); };
    img.src = src;
  });
  const images = [];
  for (const img of document.images) {
    const src = img.currentSrc || img.src;
    const width = (img.complete && img.naturalWidth > 0) ? img.naturalWidth : await probe(src);
    images.push({src: img.getAttribute("src") || "", width: width});
  }
  const text = (e) => e.textContent.trim().replace(/\s+/g, " ").slice(0, 160);
  done({
    url: location.href,
    state: document.readyState,
    images: images,
    figures: Array.from(document.querySelectorAll("figure, div.figure")).map(
      (f) => ({id: f.id, text: text(f),
               hasImage: !!f.querySelector("img, svg, object, video, canvas")})),
    errors: Array.from(document.querySelectorAll(
      ".cell_output .output.error, .cell_output .output.traceback, " +
      "div.output.error, div.output.traceback, .system-message, .problematic")).map(
      (e) => e.className + ": " + text(e)),
    tracebacks: Array.from(document.querySelectorAll(".cell_output")).filter(
      (e) => e.textContent.includes("Traceback (most recent call last)")).map(text),
    outputImages: document.querySelectorAll(".cell_output img").length,
    // a Matplotlib figure stored without its picture shows only its repr
    figureReprs: Array.from(document.querySelectorAll(".cell_output")).map(text).filter(
      (t) => /<Figure size \d+(\.\d+)?x\d+(\.\d+)? with \d+ Axes>/.test(t)),
    ids: Array.from(document.querySelectorAll("[id]"), (e) => e.id).concat(
      Array.from(document.querySelectorAll("a[name]"), (a) => a.name)),
    links: Array.from(document.querySelectorAll("a[href]"),
      (a) => ({href: a.getAttribute("href"), url: a.href, text: text(a).slice(0, 60)})),
  });
})();
"""


def _unavailable(problem: str) -> None:
    """Skip with the reason, or fail when CI requires the browser test."""
    if os.environ.get("COURSE_REQUIRE_BROWSER", "") not in ("", "0"):
        pytest.fail(f"browser test required (COURSE_REQUIRE_BROWSER=1) but {problem}")
    pytest.skip(f"browser test skipped: {problem}")


@pytest.fixture(scope="session")
def browser():
    """A headless Chromium session (skips the test when Chromium is not installed)."""
    chromium, driver = find_executables()
    if not (chromium and driver):
        missing = " and ".join(
            n for n, p in (("chromium", chromium), ("chromedriver", driver)) if not p
        )
        _unavailable(
            f"{missing} not found: install the Debian packages chromium and chromium-driver "
            "(`make browser` does it as root), or set CHROMIUM and CHROMEDRIVER"
        )
    with Chromium(chromium, driver) as session:
        yield session


def snapshot_problems(seen: dict, url: str) -> list[str]:
    """Why a snapshot cannot be trusted: not of the page ``url``, or with nothing to check.

    A snapshot taken while a page is loading, or of the previous page, has no images, links
    or errors, so every check would pass without checking anything.
    """
    problems = []
    if seen["url"] != url:
        problems.append(f"the snapshot is of {seen['url']}, not of the page opened, {url}")
    if seen["state"] != "complete":
        problems.append(f"the snapshot was taken while loading (readyState {seen['state']!r})")
    if not any(seen[kind] for kind in ("images", "figures", "links", "ids")):
        problems.append("no images, figures, links or ids were collected: nothing to check")
    return problems


class Snapshots:
    """What the browser sees on a page of ``root``: ``snapshots(page)``, each page read once.

    A snapshot is kept only when `snapshot_problems` finds nothing wrong with it; else
    ``snapshots(page)`` fails, and a later call opens the page again.
    """

    def __init__(self, browser: Chromium, root: Path) -> None:
        self.browser, self.root, self.seen = browser, root, {}

    def __call__(self, page: str) -> dict:
        if page not in self.seen:
            url = self.browser.get((self.root / page).as_uri())
            seen = self.browser.run_async(COLLECT)
            problems = snapshot_problems(seen, url)
            if problems:
                raise AssertionError(f"{page}: nothing checked: " + "; ".join(problems))
            self.seen[page] = seen
        return self.seen[page]


@pytest.fixture(scope="session")
def facts(browser):
    """What the browser sees on a page of the book: ``facts(page)``, each page opened once."""
    if not (HTML / "index.html").exists():
        _unavailable(
            f"the book is not built ({HTML / 'index.html'} is missing): run `make book` first"
        )
    return Snapshots(browser, HTML)


def test_the_book_is_built():
    """Without a built book there are no pages to check; say so instead of passing silently."""
    if not PAGES:
        _unavailable(f"the book is not built ({HTML} has no pages): run `make book` first")
    assert "index.html" in PAGES


# --------------------------------------------------------------------------
# The checks: each returns the problems it finds on one page
# --------------------------------------------------------------------------


def broken_images(seen: dict) -> list[str]:
    """Images whose file does not load (naturalWidth 0)."""
    return [img["src"] for img in seen["images"] if not img["width"]]


def missing_figures(seen: dict, notebook: Path | None) -> list[str]:
    """Figures without a picture, and notebook pictures the page does not show."""
    problems = [
        f"figure without an image: {f['id'] or f['text']!r}"
        for f in seen["figures"]
        if not f["hasImage"]
    ]
    problems += [f"a figure shown as text, without its picture: {t!r}" for t in seen["figureReprs"]]
    if notebook is not None and notebook.exists():
        expected = stored_images(notebook)
        if seen["outputImages"] < expected:
            problems.append(
                f"{notebook.name} stores {expected} pictures in its outputs; "
                f"the page shows {seen['outputImages']}"
            )
    return problems


def error_outputs(seen: dict) -> list[str]:
    """Error outputs, tracebacks and Sphinx problem markers shown on the page."""
    return seen["errors"] + [f"traceback in an output: {t}" for t in seen["tracebacks"]]


def broken_links(seen: dict, html: Path, anchors_of) -> list[str]:
    """Links to a local file that does not exist, or to a missing anchor of a page.

    ``anchors_of(relative_page)`` returns the ids of a page of ``html``, or
    ``None`` for files that are not pages of the book.
    """
    broken = []
    for link in seen["links"]:
        url = urlsplit(link["url"])
        if url.scheme != "file":
            continue  # external: launch buttons, the repository, DOIs
        target = Path(unquote(url.path))
        if target.is_dir():
            target = target / "index.html"
        if not target.exists():
            broken.append(f"{link['href']!r} ({link['text']}): no file {target}")
            continue
        anchor = unquote(url.fragment)
        if anchor and target.suffix == ".html" and target.is_relative_to(html):
            ids = anchors_of(str(target.relative_to(html)))
            if ids is not None and anchor not in ids:
                broken.append(
                    f"{link['href']!r} ({link['text']}): no anchor #{anchor} in {target.name}"
                )
    return broken


# --------------------------------------------------------------------------
# Every page of the built book
# --------------------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES)
def test_images_load(page, facts):
    broken = broken_images(facts(page))
    assert not broken, f"{page}: images that do not load: {broken}"


@pytest.mark.parametrize("page", PAGES)
def test_no_missing_figures(page, facts):
    problems = missing_figures(facts(page), (ROOT / page).with_suffix(".ipynb"))
    assert not problems, f"{page}: missing figures: {problems}"


@pytest.mark.parametrize("page", PAGES)
def test_no_error_outputs(page, facts):
    problems = error_outputs(facts(page))
    assert not problems, f"{page}: error outputs or build problems shown: {problems}"


@pytest.mark.parametrize("page", PAGES)
def test_internal_links_resolve(page, facts):
    broken = broken_links(
        facts(page), HTML, lambda other: facts(other)["ids"] if other in PAGES else None
    )
    assert not broken, f"{page}: broken internal links:\n  " + "\n  ".join(broken)


# --------------------------------------------------------------------------
# The checks catch what they are meant to catch
# --------------------------------------------------------------------------

BROKEN_PAGE = """<!DOCTYPE html><html><body>
<h1 id="top">A broken page</h1>
<img src="ok.png"><img src="missing.png">
<figure id="fig-empty"><figcaption>A caption, no picture</figcaption></figure>
<div class="cell_output"><div class="output traceback"><pre>ValueError: boom</pre></div></div>
<div class="cell_output"><pre>Traceback (most recent call last): ...</pre></div>
<div class="cell_output"><pre>&lt;Figure size 640x480 with 1 Axes&gt;</pre></div>
<a href="#top">fine</a> <a href="other.html#there">fine</a> <a href="https://example.org/x">external</a>
<a href="nowhere.html">missing file</a> <a href="other.html#nothere">missing anchor</a>
</body></html>"""


def test_the_checks_catch_a_broken_page(browser, tmp_path):
    png = bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
    )
    (tmp_path / "ok.png").write_bytes(png)
    (tmp_path / "other.html").write_text('<html><body><p id="there">here</p></body></html>')
    (tmp_path / "page.html").write_text(BROKEN_PAGE)
    notebook = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                outputs=[
                    nbformat.v4.new_output(
                        "display_data", data={"image/png": "", "text/plain": "<Figure>"}
                    )
                    for _ in range(2)
                ]
            )
        ]
    )
    nbformat.write(notebook, tmp_path / "page.ipynb")

    browser.get((tmp_path / "page.html").as_uri())
    seen = browser.run_async(COLLECT)
    browser.get((tmp_path / "other.html").as_uri())
    other = browser.run_async(COLLECT)

    assert broken_images(seen) == ["missing.png"]
    problems = missing_figures(seen, tmp_path / "page.ipynb")
    assert len(problems) == 3, problems
    assert (
        "fig-empty" in problems[0]
        and "Figure size 640x480" in problems[1]
        and "stores 2 pictures" in problems[2]
    )
    problems = error_outputs(seen)
    assert len(problems) == 2 and "boom" in problems[0] and "Traceback" in problems[1], problems
    anchors = {"other.html": other["ids"], "page.html": seen["ids"]}
    broken = broken_links(seen, tmp_path, anchors.get)
    assert len(broken) == 2 and "nowhere.html" in broken[0] and "#nothere" in broken[1], broken


def stored_images(path: Path) -> int:
    """Pictures among a notebook's stored outputs that the book displays in place."""
    count = 0
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != "code" or HIDDEN_OUTPUT_TAGS & set(cell.metadata.get("tags", [])):
            continue
        for output in cell.get("outputs", []):
            glued = "scrapbook" in output.get("metadata", {})
            if output.get("output_type") in ("display_data", "execute_result") and not glued:
                count += any(kind in output.get("data", {}) for kind in IMAGE_TYPES)
    return count


# --------------------------------------------------------------------------
# Chromium.get waits for the page it opened, however late it comes
# --------------------------------------------------------------------------

SLOW = 1.0  # seconds the local site takes to answer for a slow page


def html_page(title: str, links: int) -> str:
    anchors = "".join(f'<a id="a{i}" href="#a{i}">{i}</a> ' for i in range(links))
    return f"<!DOCTYPE html><html><body><h1>{title}</h1>{anchors}</body></html>"


class Site(ThreadingHTTPServer):
    """A local web site whose pages can be slow: ``site.add(path, html, delay)`` returns the
    page's address. A page with ``delay=None`` answers only once ``site.release`` is set."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), SiteHandler)
        self.pages: dict[str, tuple[str, float | None]] = {}
        self.release = threading.Event()

    def add(self, path: str, html: str, delay: float | None = 0.0) -> str:
        self.pages[path] = (html, delay)
        return f"http://127.0.0.1:{self.server_address[1]}{path}"


class SiteHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path not in self.server.pages:
            self.send_error(404)
            return
        html, delay = self.server.pages[self.path]
        if delay is None:
            self.server.release.wait(60)
        else:
            time.sleep(delay)
        body = html.encode()
        try:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the browser gave up on the page

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def site(browser):
    server = Site()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    timeout = browser.timeout
    yield server
    server.release.set()
    browser.set_timeout(timeout)
    browser.get("about:blank")  # leave no page of this site loading
    server.shutdown()
    server.server_close()


def navigate_early(browser: Chromium):
    """A navigate command that returns before the page has even started to load, as
    chromedriver's sometimes does under load: the page changes 0.3 s later."""

    def navigate(url: str) -> None:
        browser.execute("setTimeout(() => { location.href = arguments[0]; }, 300);", url)

    return navigate


@pytest.mark.parametrize("early", [False, True], ids=["navigate", "navigate-returns-early"])
@pytest.mark.parametrize("redirect", [False, True], ids=["page", "redirect"])
def test_get_waits_for_the_page_it_opened(browser, site, monkeypatch, early, redirect):
    before = site.add("/before.html", html_page("before", links=1))
    slow = site.add("/slow.html", html_page("slow", links=3), delay=SLOW)
    # like the book's index.html; the refresh fires once this page has loaded
    index = site.add("/index.html", '<meta http-equiv="Refresh" content="0; url=slow.html" />')
    assert browser.get(before) == before
    if early:
        monkeypatch.setattr(browser, "_navigate", navigate_early(browser))

    start = time.monotonic()
    assert browser.get(index if redirect else slow) == slow
    assert time.monotonic() - start >= SLOW
    seen = browser.run_async(COLLECT)
    assert seen["url"] == slow and seen["state"] == "complete", seen
    assert len(seen["links"]) == 3 and not snapshot_problems(seen, slow)


def test_get_never_takes_the_previous_page_for_the_new_one(browser, site, monkeypatch):
    before = site.add("/before.html", html_page("before", links=1))
    browser.get(before)
    monkeypatch.setattr(browser, "_navigate", lambda url: None)  # the page never changes
    browser.set_timeout(1.5)
    with pytest.raises(PageLoadError, match=r"slow\.html did not finish loading within 1\.5 s"):
        browser.get(site.add("/slow.html", html_page("slow", links=3)))
    assert browser.execute("return location.href") == before


def test_get_gives_up_on_a_page_that_never_loads(browser, site):
    browser.set_timeout(1.5)
    hanging = site.add("/hanging.html", html_page("hanging", links=1), delay=None)
    start = time.monotonic()
    with pytest.raises(PageLoadError, match=r"hanging\.html did not finish loading within 1\.5 s"):
        browser.get(hanging)
    assert time.monotonic() - start < 15


class FakeBrowser:
    """Answers ``get`` and ``run_async`` with the snapshots given, one per page opening."""

    def __init__(self, *snapshots: dict) -> None:
        self.snapshots, self.opened = list(snapshots), 0

    def get(self, url: str) -> str:
        self.opened += 1
        return url

    def run_async(self, script: str) -> dict:
        return self.snapshots.pop(0)


def test_an_empty_or_stale_snapshot_fails_and_is_not_kept(tmp_path):
    url = (tmp_path / "page.html").as_uri()
    nothing = {"images": [], "figures": [], "links": [], "ids": []}
    loading = dict(nothing, url=url, state="loading")
    stale = dict(nothing, url=(tmp_path / "before.html").as_uri(), state="complete", ids=["x"])
    full = dict(nothing, url=url, state="complete", links=[{"href": "#x"}], ids=["x"])
    assert len(snapshot_problems(loading, url)) == 2
    assert snapshot_problems(stale, url) == [
        f"the snapshot is of {stale['url']}, not of the page opened, {url}"
    ]
    assert snapshot_problems(full, url) == []

    browser = FakeBrowser(loading, stale, full)
    snapshots = Snapshots(browser, tmp_path)
    with pytest.raises(AssertionError, match="page.html: nothing checked: .*readyState 'loading'"):
        snapshots("page.html")
    with pytest.raises(AssertionError, match="nothing checked: the snapshot is of .*before.html"):
        snapshots("page.html")
    assert snapshots("page.html") is full and snapshots("page.html") is full
    assert browser.opened == 3  # the bad snapshots were not kept; the good one is

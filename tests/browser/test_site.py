"""Open every page of the built site in headless Chromium and check what a reader would see.

For each HTML page of the site (default `_build/html`; set `SITE_DIR` to check another build)
served from a local http.server on 127.0.0.1, the test asserts that

- the mathematics was typeset: MathJax finished, every math element holds rendered output
  with no TeX error, and no raw TeX (`\\(`, `$$`, `\\frac`, ...) is left in the text;
- every image loaded (`naturalWidth > 0`);
- the browser console logged no error (no JavaScript exception, no failed resource);
- no request left the machine: every URL the page asked for, in the DevTools network log and
  in the page's resource timing entries, is on the local server (or `data:`/`blob:`);
- the first exercise solution on the page starts folded and opens on a click.

Two more tests: the search page finds pages for a common word, and the front page and the
glossary, opened straight from the disk (file://, as the README suggests), still typeset their
maths with MathJax's own fonts.

It saves a full-page screenshot of each page into `_build/screenshots/` (beside the site
folder; `SCREENSHOT_DIR` overrides) for a person to look at.

Run it after a build: `make browser` (part of `make test`). Without Chromium the test skips and
says why; with `CI=true` a missing Chromium or a missing site is a failure instead. `CHROMIUM`
and `CHROMEDRIVER` may name the two programs when they are not Debian's, on the PATH.
Chromium is also started so that it *cannot* reach another host (every host name resolves to
nothing and a dead proxy stands in for everything but loopback), so a page that tries is
caught by the log without any traffic leaving.
"""

from __future__ import annotations

import base64
import functools
import http.server
import json
import os
import re
import shutil
import tempfile
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SITE_DIR = Path(os.environ.get("SITE_DIR", REPO / "_build" / "html")).resolve()
SCREENSHOT_DIR = Path(os.environ.get("SCREENSHOT_DIR", SITE_DIR.parent / "screenshots")).resolve()
IN_CI = os.environ.get("CI", "").lower() == "true"

# Folders of the site that hold assets, not pages.
NOT_PAGES = {"_static", "_sources", "_images", "_downloads"}
PAGE_LOAD_SECONDS = 60
MATHJAX_SECONDS = 60
# Long pages are saved as several screenshots of this many pixels each.
SCREENSHOT_TILE = 6000

# The flags Debian's Chromium needs in a container, plus everything that would let the
# browser talk to the outside on its own (updates, sync, QUIC).
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,900",
    # Nothing resolves but loopback, and anything else goes to a proxy that is not there.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
    "--proxy-server=http://127.0.0.1:9",
]


def _find(env_var, *names):
    """A browser program: $env_var if set (a path), else the first of names on the PATH."""
    if os.environ.get(env_var):
        path = Path(os.environ[env_var])
        return str(path) if path.is_file() else None
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    for path in ("/usr/lib/chromium/chromedriver", "/usr/lib/chromium/chromium"):
        if Path(path).name in names and Path(path).exists():
            return path
    return None


def _skip_or_fail(reason):
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: the browser test must run)", pytrace=False)
    pytest.skip(reason)


def _pages():
    if not SITE_DIR.is_dir():
        return []
    pages = []
    for path in sorted(SITE_DIR.rglob("*.html")):
        relative = path.relative_to(SITE_DIR)
        if not NOT_PAGES.intersection(relative.parts):
            pages.append(relative.as_posix())
    return pages


PAGES = _pages()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture(scope="module")
def server():
    """The site on http://127.0.0.1:PORT/, for as long as this module's tests run."""
    handler = functools.partial(_QuietHandler, directory=str(SITE_DIR))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def browser():
    chromium = _find("CHROMIUM", "chromium", "chromium-browser")
    driver_path = _find("CHROMEDRIVER", "chromedriver")
    if chromium is None or driver_path is None:
        _skip_or_fail("Chromium not found: install Debian's `chromium` and `chromium-driver` "
                      "(apt-get install chromium chromium-driver) to run the browser test")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _skip_or_fail("selenium is not installed (it is in requirements.txt: `make install`)")

    # Selenium Manager would look for (and download) a driver and report usage; we give the
    # driver's path, and make sure it stays quiet anyway.
    os.environ["SE_AVOID_STATS"] = "true"
    profile = tempfile.mkdtemp(prefix="hello-autodiff-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS + [f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    driver.set_page_load_timeout(PAGE_LOAD_SECONDS)
    driver.set_script_timeout(MATHJAX_SECONDS)
    driver.get("about:blank")         # leave the new-tab page before the logs are read
    # Screenshots of this run only: a page removed from the book leaves no stale picture.
    shutil.rmtree(SCREENSHOT_DIR, ignore_errors=True)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def test_site_was_built():
    """Make the missing site visible: the page tests below would otherwise just not exist."""
    if not PAGES:
        _skip_or_fail(f"no built site at {SITE_DIR}: run `make book` (or set SITE_DIR)")


# --- what the page runs in the browser ------------------------------------------------------

# Resolves once MathJax has typeset the page ("none" on a page without MathJax).
WAIT_FOR_MATHJAX = """
const done = arguments[arguments.length - 1];
const deadline = Date.now() + 1000 * arguments[0];
(function poll() {
  const mj = window.MathJax;
  const hasScript = !!document.querySelector('script[src*="mathjax"]');
  if (!hasScript) return done("none");
  if (mj && mj.startup && mj.startup.promise && mj.typesetPromise) {
    mj.startup.promise.then(() => done("ok"), (e) => done("error: " + e));
  } else if (Date.now() > deadline) {
    done("MathJax did not start");
  } else {
    setTimeout(poll, 50);
  }
})();
"""

# Math elements Sphinx emits, and what MathJax made of them.
MATH_STATUS = """
const maths = Array.from(document.querySelectorAll('.math'));
return {
  total: maths.length,
  unrendered: maths.filter(m => !m.querySelector('mjx-container'))
                   .map(m => m.textContent.trim().slice(0, 80)),
  errors: Array.from(document.querySelectorAll('mjx-merror'))
               .map(e => (e.getAttribute('data-mjx-error') || e.textContent).slice(0, 80)),
};
"""

# The text a reader sees, without code (where `$` and backslashes are legitimate) and
# without MathJax's own output.
READER_TEXT = """
const main = document.querySelector('main') || document.body;
const copy = main.cloneNode(true);
copy.querySelectorAll('pre, code, script, style, mjx-container, .highlight, textarea')
    .forEach(e => e.remove());
return copy.innerText;
"""

# Images: force lazy ones to load, then wait until every image has settled.
WAIT_FOR_IMAGES = """
const done = arguments[arguments.length - 1];
const images = Array.from(document.images);
images.forEach(img => { img.loading = 'eager'; });
Promise.all(images.map(img => img.complete ? null : new Promise(r => {
  img.addEventListener('load', r); img.addEventListener('error', r);
}))).then(() => done(images.filter(img => !(img.complete && img.naturalWidth > 0))
                          .map(img => img.currentSrc || img.src || img.outerHTML.slice(0, 120))));
"""

RESOURCE_URLS = "return performance.getEntriesByType('resource').map(e => e.name);"

# An exercise's solution starts folded and opens when its title is clicked: [before, after]
# visibility of the first solution's body, or null on a page without one.
OPEN_FIRST_SOLUTION = """
const done = arguments[arguments.length - 1];
const solution = document.querySelector('.solution.dropdown');
if (!solution) return done(null);
const body = solution.querySelector('section') || solution.lastElementChild;
const shown = () => body.getClientRects().length > 0 && body.getBoundingClientRect().height > 0
                    && getComputedStyle(body).visibility !== 'hidden';
const before = shown();
(solution.querySelector('.admonition-title') || solution).click();
setTimeout(() => done([before, shown()]), 600);
"""

# The search page, asked for a word every chapter uses, lists pages (all offline).
SEARCH_RESULTS = """
const done = arguments[arguments.length - 1];
const deadline = Date.now() + 20000;
(function poll() {
  const hits = document.querySelectorAll('#search-results li');
  if (hits.length || Date.now() > deadline) return done(hits.length);
  setTimeout(poll, 100);
})();
"""

RAW_TEX = re.compile(
    r"\\\(|\\\)|\\\[|\\\]|\$\$|\\begin\{|\\(?:frac|partial|nabla|sum|prod|mathbb|mathbf|"
    r"operatorname|left|right|cdot|times|sqrt|log|exp|alpha|theta|varepsilon)\b"
    # $...$ that still holds TeX: a subscript, superscript, brace or command inside
    r"|\$[^\s$][^$\n]{0,80}?[\\^_{}][^$\n]{0,80}?\$"
)
# Schemes that never touch the network (chrome:// is the browser's own new-tab page).
LOCAL_SCHEMES = ("data:", "blob:", "about:", "javascript:", "chrome:", "chrome-extension:")


def _page_id(page):
    return page.removesuffix(".html").replace("/", "__")


def _network_urls(driver, from_documents=""):
    """Every URL the browser asked for since the last call (DevTools network log), by pages
    whose address starts with ``from_documents``."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            params = message["params"]
            if params.get("documentURL", "").startswith(from_documents):
                urls.append(params["request"]["url"])
    return urls


REDIRECT = re.compile(r'<meta\s+http-equiv="refresh"\s+content="\d+;\s*url=([^"]+)"', re.I)


def _follow_redirect(driver, page):
    """index.html only forwards to the first chapter (a meta refresh): check where it lands,
    once that page has loaded, not the forwarding page in the middle of the switch."""
    match = REDIRECT.search((SITE_DIR / page).read_text(encoding="utf-8", errors="replace"))
    if not match:
        return
    target = match.group(1).split("#")[0]
    deadline = time.monotonic() + PAGE_LOAD_SECONDS
    while time.monotonic() < deadline:
        if driver.current_url.split("#")[0].endswith(target) and driver.execute_script(
                "return document.readyState") == "complete":
            return
        time.sleep(0.05)
    pytest.fail(f"{page} should forward to {target}, but the browser is at {driver.current_url}")


def _screenshots(driver, folder, name):
    """The whole page, laid out at the usual window width, in tiles of SCREENSHOT_TILE pixels.

    Chromium's own "capture beyond the viewport" shifts this theme's layout sideways, and a
    single picture cannot be taller than about 16,000 pixels, so instead the window is made one
    tile tall and the page is scrolled a tile at a time; then the window is put back. Saves
    ``name.png`` for a page that fits in one tile, else ``name-1.png``, ``name-2.png``, ...
    """
    width, height = driver.execute_script(
        "return [window.innerWidth, document.documentElement.scrollHeight]")
    tile = max(1, min(int(height), SCREENSHOT_TILE))
    count = -(-int(height) // tile)
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": int(width), "height": tile, "deviceScaleFactor": 1, "mobile": False})
    try:
        for index in range(count):
            driver.execute_script("window.scrollTo(0, arguments[0]);", index * tile)
            shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})
            suffix = "" if count == 1 else f"-{index + 1}"
            (folder / f"{name}{suffix}.png").write_bytes(base64.b64decode(shot["data"]))
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        driver.execute_script("window.scrollTo(0, 0);")


@pytest.mark.parametrize("page", PAGES, ids=[_page_id(p) for p in PAGES])
def test_page(page, server, browser):
    browser.get_log("browser")        # start each page with empty logs
    _network_urls(browser)
    browser.get(server + page)
    _follow_redirect(browser, page)

    mathjax = browser.execute_async_script(WAIT_FOR_MATHJAX, MATHJAX_SECONDS)
    broken_images = browser.execute_async_script(WAIT_FOR_IMAGES)
    math = browser.execute_script(MATH_STATUS)
    text = browser.execute_script(READER_TEXT)
    requested = _network_urls(browser) + browser.execute_script(RESOURCE_URLS)
    console = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]

    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    _screenshots(browser, SCREENSHOT_DIR, _page_id(page))
    solution = browser.execute_async_script(OPEN_FIRST_SOLUTION)

    problems = []
    if mathjax not in ("ok", "none"):
        problems.append(f"MathJax: {mathjax}")
    if math["total"] and mathjax == "none":
        problems.append(f"{math['total']} math elements but no MathJax on the page")
    if math["unrendered"]:
        problems.append(f"math not typeset: {math['unrendered'][:5]}")
    if math["errors"]:
        problems.append(f"TeX errors: {math['errors'][:5]}")
    raw = sorted({m.group(0) for m in RAW_TEX.finditer(text)})
    if raw:
        where = [text[max(0, m.start() - 40):m.end() + 40].replace("\n", " ")
                 for m in list(RAW_TEX.finditer(text))[:3]]
        problems.append(f"raw TeX left on the page: {raw} in {where}")
    if broken_images:
        problems.append(f"images that did not load: {broken_images}")
    if solution is not None and solution != [False, True]:
        problems.append(f"the first exercise solution should start folded and open on a click; "
                        f"it was shown before/after the click: {solution}")
    console += [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    if console:
        problems.append("console errors: " + "; ".join(e["message"][:200] for e in console))
    remote = sorted({u for u in requested
                     if not u.startswith(server) and not u.startswith(LOCAL_SCHEMES)})
    if remote:
        problems.append(f"requests that would leave the machine: {remote}")
    assert not problems, f"{page}:\n  " + "\n  ".join(problems)


def test_search_works_offline(server, browser):
    """The search box is the site's other navigation: it must find pages without a network."""
    if "search.html" not in PAGES:
        _skip_or_fail(f"no search page in {SITE_DIR}")
    browser.get(server + "search.html?q=gradient")
    hits = browser.execute_async_script(SEARCH_RESULTS)
    console = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert hits > 0, "searching the site for 'gradient' found no page"
    assert not console, f"console errors on the search page: {console}"


def test_reads_from_file_url(browser):
    """The README says: open _build/html/index.html. Straight from the disk (file://, where
    browsers are strictest about fonts and scripts) the maths must still typeset, with
    MathJax's own fonts, and nothing may be fetched from elsewhere."""
    pages = [p for p in ("index.html", "book/glossary.html") if p in PAGES]
    if not pages:
        _skip_or_fail(f"no index.html or glossary in {SITE_DIR}")
    for page in pages:
        browser.get_log("browser")
        _network_urls(browser)
        browser.get((SITE_DIR / page).as_uri())
        mathjax = browser.execute_async_script(WAIT_FOR_MATHJAX, MATHJAX_SECONDS)
        math = browser.execute_script(MATH_STATUS)
        fonts = browser.execute_script(
            "return Array.from(document.fonts).filter(f => f.family.startsWith('MJX'))"
            ".map(f => f.family + ' ' + f.status);")
        # Only what the file:// page asked for: the search page of the test before may still
        # be fetching its results' text from the local server.
        requested = _network_urls(browser, "file:") + browser.execute_script(RESOURCE_URLS)
        console = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert mathjax in ("ok", "none"), f"{page} from file://: MathJax {mathjax}"
        assert not math["unrendered"] and not math["errors"], f"{page} from file://: {math}"
        if math["total"]:
            assert any(f.endswith(" loaded") for f in fonts), \
                f"{page} from file://: MathJax's fonts did not load: {fonts}"
        assert not console, f"{page} from file://: console errors {console}"
        remote = sorted({u for u in requested if not u.startswith(("file:",) + LOCAL_SCHEMES)})
        assert not remote, f"{page} from file://: requests off the disk: {remote}"

"""Open every page of the built site in headless Chromium and check what a reader would see.

For each HTML page of the site (default `_build/html`; set `SITE_DIR` to check another build)
served from a local http.server on 127.0.0.1, the test asserts that

- the mathematics was typeset: MathJax finished, every math element holds rendered output
  with no TeX error, and no raw TeX (`\\(`, `$$`, `\\frac`, ...) is left in the text;
- every image loaded (`naturalWidth > 0`), has an alt text that describes it (not empty, not
  a file name or a hash), is drawn at its own shape (drawn width:height within 2% of the
  image's own) at 1280 px and at 390 px (a phone), and a raster image has at least twice the
  pixels it is drawn with at 1280 px (sharp on a high-DPI screen);
- every slider player (`hellograd.viz.slider_player`) moves: its slider and its "next"
  button change the picture and the label;
- no code block scrolls sideways at 1280 px (folded "show code" cells opened first);
- no machine path (`/tmp/`, `/root/`, `/home/`, `site-packages`, the checkout's own path) and
  no `np.float64(...)`-style number is shown;
- no ipywidgets state or view ships in the page (no widget can run on the site), and the
  page's HTML weighs at most 1.5 MB (slider players carry their frames inside it);
- no link leads to the repository, Binder or Colab while `repository_links` is off in
  _config.yml (the repository address is a placeholder), and every link to a file of the site
  itself (the whole-book PDF) finds it;
- the browser console logged no error (no JavaScript exception, no failed resource);
- no request left the machine: every URL the page asked for, in the DevTools network log and
  in the page's resource timing entries, is on the local server (or `data:`/`blob:`);
- the first exercise solution on the page starts folded and opens on a click.

Two more tests: the search page finds pages for a common word, and the front page and the
glossary, opened straight from the disk (file://, as the README suggests), still typeset their
maths with MathJax's own fonts.

It saves full-page screenshots of each page into `_build/screenshots/` (beside the site
folder; `SCREENSHOT_DIR` overrides) for a person to look at: `PAGE.png` at 1280 px and
`PAGE@390.png` at phone width.

Run it after a build: `make browser` (part of `make test`). Without Chromium the test skips and
says why; with `CI=true` a missing Chromium or a missing site is a failure instead. `CHROMIUM`
and `CHROMEDRIVER` may name the two programs when they are not Debian's, on the PATH.
Chromium is also started so that it *cannot* reach another host (every host name resolves to
nothing and a dead proxy stands in for everything but loopback), so a page that tries is
caught by the log without any traffic leaving.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import tempfile
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

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


@pytest.fixture(scope="module")
def server(serve_directory):
    """The site on http://127.0.0.1:PORT/, for as long as this module's tests run."""
    with serve_directory(SITE_DIR) as url:
        yield url


@contextlib.contextmanager
def chromium_driver(what, profile_prefix, skip_or_fail, screenshots, window_size=None,
                    logs=False):
    """Headless Chromium under Selenium, with the flags this machine needs (CHROMIUM_FLAGS)
    and a new empty profile, quit and its profile removed on leaving. The JupyterLab test
    starts its browser here too. ``what`` names the test in the message given to
    ``skip_or_fail`` when Chromium, its driver or Selenium is missing; ``screenshots`` is
    the folder for this run's screenshots, emptied first (a page removed from the book
    leaves no stale picture); ``window_size`` ("1280,1000") replaces the flags' own;
    ``logs`` keeps the console and network logs."""
    chromium = _find("CHROMIUM", "chromium", "chromium-browser")
    driver_path = _find("CHROMEDRIVER", "chromedriver")
    if chromium is None or driver_path is None:
        skip_or_fail("Chromium not found: install Debian's `chromium` and `chromium-driver` "
                     f"(apt-get install chromium chromium-driver) to run the {what}")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        skip_or_fail("selenium is not installed (it is in requirements.txt: `make install`)")

    # Selenium Manager would look for (and download) a driver and report usage; we give the
    # driver's path, and make sure it stays quiet anyway.
    os.environ["SE_AVOID_STATS"] = "true"
    profile = tempfile.mkdtemp(prefix=profile_prefix)
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    flags = CHROMIUM_FLAGS
    if window_size is not None:
        flags = [f for f in flags if not f.startswith("--window-size")]
        flags += [f"--window-size={window_size}"]
    for flag in flags + [f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    if logs:
        options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    shutil.rmtree(screenshots, ignore_errors=True)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def browser():
    with chromium_driver("browser test", "hello-autodiff-chromium-", _skip_or_fail,
                         SCREENSHOT_DIR, logs=True) as driver:
        driver.set_page_load_timeout(PAGE_LOAD_SECONDS)
        driver.set_script_timeout(MATHJAX_SECONDS)
        driver.get("about:blank")         # leave the new-tab page before the logs are read
        yield driver


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

# A page's own HTML (its pictures' files not counted) may weigh this much: a slider player's
# frames are inside it, and a reader on a phone downloads all of it.
PAGE_BYTES = 1_500_000
# Phone width for the second look at each page (an iPhone 12 to 15 is 390 CSS pixels wide).
PHONE_WIDTH = 390
# A figure may be drawn at most this much off its own aspect ratio (2%, or 2 px of rounding).
SHAPE_TOLERANCE = 0.02
# A raster image must hold at least this many pixels per pixel it is drawn with at 1280 px:
# "retina" images hold two, so they stay sharp on a high-DPI screen.
SHARP_PIXELS = 1.9

# Every "show code" fold (<details>) opened: hidden code is code a reader can open.
OPEN_FOLDS = "document.querySelectorAll('main details').forEach(d => { d.open = true; });"

# Each image in the article: its alt text, its own size and the size it is drawn at.
IMAGE_SHAPES = """
return Array.from(document.querySelectorAll('main img')).map(img => {
  const r = img.getBoundingClientRect();
  const src = img.currentSrc || img.src || '';
  return {src: (img.getAttribute('src') || '').slice(0, 90), alt: img.getAttribute('alt'),
          naturalWidth: img.naturalWidth, naturalHeight: img.naturalHeight,
          width: r.width, height: r.height,
          vector: /^data:image\\/svg/.test(src) || /\\.svg([?#]|$)/.test(src)};
});
"""

# Code blocks wider than their box (they would scroll sideways), with their longest line and
# how many characters the box holds.
SIDEWAYS_CODE = """
const wide = [];
for (const pre of document.querySelectorAll('main pre')) {
  if (!pre.getClientRects().length || pre.scrollWidth <= pre.clientWidth + 1) continue;
  const probe = document.createElement('span');
  probe.textContent = 'x'.repeat(100);
  pre.appendChild(probe);
  const charWidth = probe.getBoundingClientRect().width / 100;
  probe.remove();
  const style = getComputedStyle(pre);
  const inner = pre.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  const longest = pre.textContent.split('\\n').reduce((a, l) => l.length > a.length ? l : a, '');
  wide.push({fits: Math.floor(inner / charWidth), chars: longest.length,
             line: longest.trim().slice(0, 80)});
}
return wide;
"""

# What the article shows besides its code inputs (outputs, folded or not, and prose), the
# printed results alone, every link's address, and any ipywidgets script left in the page.
PAGE_CONTENT = """
const main = document.querySelector('main') || document.body;
const copy = main.cloneNode(true);
copy.querySelectorAll('.cell_input, script, style, mjx-container').forEach(e => e.remove());
return {
  text: copy.textContent,
  // Printed results only: a traceback or a library listing (show_source) quotes code,
  // where np.float32(100.0) is meant.
  outputs: Array.from(main.querySelectorAll('.cell_output .output:not(.traceback)'))
                .map(o => {
                  const c = o.cloneNode(true);
                  c.querySelectorAll('.hg-listing').forEach(e => e.remove());
                  return c.textContent;
                }).join('\\n'),
  links: Array.from(document.querySelectorAll('a[href]')).map(a => a.href),
  widgets: document.querySelectorAll('script[type^="application/vnd.jupyter.widget"]').length,
};
"""

# Where the build machine shows through: temporary files, home folders, installed packages,
# and the checkout itself.
MACHINE_PATH = re.compile(
    r"(?<![\w.])/(?:tmp|root|home|Users|private/var)/\S*|\S*site-packages\S*|\S*dist-packages\S*"
    + "|" + re.escape(str(REPO)) + r"\S*")
# NumPy 2 prints a scalar as np.float64(3.0): a number should read 3.0.
NUMPY_SCALAR = re.compile(r"\bnp\.(?:float|int|uint|complex|bool|str)\w*\(")
# What an alt text must not be: empty, the image's file name or a hash.
FILE_NAME_ALT = re.compile(r"(^|/)_images/|\.(?:png|svg|jpe?g|gif|webp)$|^[0-9a-f]{16,}", re.I)
# Launchers that need the repository to be public.
LAUNCH_HOSTS = ("mybinder.org", "colab.research.google.com")


def _site_config():
    """repository.url and whether _config.yml lets pages link to it (repository_links)."""
    import yaml

    config = yaml.safe_load((REPO / "_config.yml").read_text(encoding="utf-8"))
    url = (config.get("repository") or {}).get("url", "").rstrip("/")
    on = bool(((config.get("sphinx") or {}).get("config") or {}).get("repository_links"))
    return url, on


REPOSITORY_URL, REPOSITORY_LINKS = _site_config()


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


def _set_width(driver, width, height=900):
    """Lay the page out at ``width`` CSS pixels (a phone below 600), without resizing the
    window."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": int(width), "height": int(height), "deviceScaleFactor": 1,
        "mobile": width < 600})


def _screenshots(driver, folder, name, width):
    """The whole page, laid out ``width`` pixels wide, in tiles of SCREENSHOT_TILE pixels.

    Chromium's own "capture beyond the viewport" shifts this theme's layout sideways, and a
    single picture cannot be taller than about 16,000 pixels, so instead the page is laid out
    one tile tall and scrolled a tile at a time; then the window's own size is put back.
    Saves ``name.png`` for a page that fits in one tile, else ``name-1.png``, ``name-2.png``...
    """
    _set_width(driver, width)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    tile = max(1, min(int(height), SCREENSHOT_TILE))
    count = -(-int(height) // tile)
    _set_width(driver, width, tile)
    try:
        for index in range(count):
            driver.execute_script("window.scrollTo(0, arguments[0]);", index * tile)
            shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})
            suffix = "" if count == 1 else f"-{index + 1}"
            (folder / f"{name}{suffix}.png").write_bytes(base64.b64decode(shot["data"]))
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        driver.execute_script("window.scrollTo(0, 0);")


def _shape_problems(images, width):
    """Images drawn at another shape than their own, at this layout width."""
    problems = []
    for image in images:
        if not (image["width"] and image["naturalWidth"] and image["naturalHeight"]):
            continue                    # not drawn (an unopened fold) or not loaded
        own = image["naturalWidth"] / image["naturalHeight"]
        expected_height = image["width"] / own
        if abs(image["height"] - expected_height) > max(SHAPE_TOLERANCE * expected_height, 2):
            problems.append(f"{image['src']} is drawn {image['width']:.0f}x"
                            f"{image['height']:.0f} px at {width} px wide, but its own shape "
                            f"is {own:.2f}:1 (drawn {image['width'] / image['height']:.2f}:1)")
    return problems


def _image_problems(images):
    """Alt texts that do not describe, and raster images too coarse for high-DPI screens."""
    problems = []
    for image in images:
        if "_static/" in image["src"]:
            continue                    # the theme's own icons, not figures of the book
        alt = (image["alt"] or "").strip()
        if not alt or FILE_NAME_ALT.search(alt):
            problems.append(f"{image['src']}: alt text {image['alt']!r} does not describe the "
                            f"figure (set it in the cell's metadata: mystnb.image.alt)")
        if (image["width"] and not image["vector"]
                and image["naturalWidth"] < SHARP_PIXELS * image["width"]):
            problems.append(f"{image['src']}: {image['naturalWidth']} pixels wide, drawn "
                            f"{image['width']:.0f} px wide: blurred on a high-DPI screen")
    return problems


def _player_problems(driver):
    """Each slider player: moving the slider (keyboard) and its "next" button change the
    picture and the label."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    problems = []
    for player in driver.find_elements(By.CSS_SELECTOR, ".hellograd-player"):
        name = player.get_attribute("id")
        img = player.find_element(By.TAG_NAME, "img")
        slider = player.find_element(By.CSS_SELECTOR, "input[type=range]")
        label = player.find_element(By.TAG_NAME, "output")
        if int(slider.get_attribute("max")) < 1:
            problems.append(f"player {name} has a single picture: nothing to move")
            continue
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", player)
        slider.send_keys(Keys.HOME)
        first = (img.get_attribute("src"), label.text)
        slider.send_keys(Keys.END)
        last = (img.get_attribute("src"), label.text)
        slider.send_keys(Keys.HOME)
        player.find_element(By.CSS_SELECTOR, "button[data-step='1']").click()
        second = (img.get_attribute("src"), label.text)
        if last[0] == first[0] or last[1] == first[1]:
            problems.append(f"player {name}: moving the slider to its end did not change the "
                            f"picture and its label ({first[1]!r} -> {last[1]!r})")
        if second[0] == first[0] or second[1] == first[1]:
            problems.append(f"player {name}: its 'next' button did not change the picture")
    return problems


def _link_problems(server, links):
    """Links to the placeholder repository or a launcher while those are off, and links to
    files of this site that are not there."""
    problems = set()
    for link in links:
        if not REPOSITORY_LINKS and (
                (REPOSITORY_URL and link.startswith(REPOSITORY_URL))
                or any(host in link for host in LAUNCH_HOSTS)):
            problems.add(f"a link to {link[:100]} while repository_links is off in _config.yml")
        elif link.startswith(server):
            path = unquote(urlsplit(link).path).lstrip("/")
            target = SITE_DIR / path
            if target.is_dir():
                target = target / "index.html"
            if not target.is_file():
                problems.add(f"a link to {path}, which the site does not have")
    return sorted(problems)


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
    _screenshots(browser, SCREENSHOT_DIR, _page_id(page), 1280)
    solution = browser.execute_async_script(OPEN_FIRST_SOLUTION)

    # What a reader sees with every fold open: figures, sliders, code, text and links.
    browser.execute_script(OPEN_FOLDS)
    images = browser.execute_script(IMAGE_SHAPES)
    shapes = _shape_problems(images, 1280)
    sideways = browser.execute_script(SIDEWAYS_CODE)
    content = browser.execute_script(PAGE_CONTENT)
    players = _player_problems(browser)
    _set_width(browser, PHONE_WIDTH)
    try:
        shapes += _shape_problems(browser.execute_script(IMAGE_SHAPES), PHONE_WIDTH)
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    _screenshots(browser, SCREENSHOT_DIR, f"{_page_id(page)}@{PHONE_WIDTH}", PHONE_WIDTH)

    problems = []
    weight = (SITE_DIR / page).stat().st_size
    if weight > PAGE_BYTES:
        problems.append(f"the page weighs {weight / 1e6:.1f} MB, over {PAGE_BYTES / 1e6:.1f} MB: "
                        f"fewer or smaller frames in its slider players?")
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
    problems += _image_problems(images) + shapes + players
    for block in sideways:
        problems.append(f"a code block scrolls sideways at 1280 px: a line of {block['chars']} "
                        f"characters where it holds {block['fits']}: {block['line']!r}")
    paths = sorted({m.group(0)[:80] for m in MACHINE_PATH.finditer(content["text"])})
    if paths:
        problems.append(f"machine paths shown: {paths[:5]}")
    scalars = sorted({content["outputs"][m.start():m.start() + 30].split("\n")[0]
                      for m in NUMPY_SCALAR.finditer(content["outputs"])})
    if scalars:
        problems.append(f"numbers printed as NumPy scalars (np.float64(3.0) should read 3.0): "
                        f"{scalars[:3]}")
    if content["widgets"]:
        problems.append(f"{content['widgets']} ipywidgets scripts shipped, where no widget can "
                        f"run")
    problems += _link_problems(server, content["links"])
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

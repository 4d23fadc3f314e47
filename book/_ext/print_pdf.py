"""Print the single-page build of the book to one PDF with headless Chromium.

    python book/_ext/print_pdf.py _build/singlehtml _build/pdf/hello-autodiff.pdf

(``make pdf`` runs it after ``jupyter-book build . --builder singlehtml``.) The page is served
from 127.0.0.1 to a Chromium that cannot reach any other host (the same flags as the browser
test), so the PDF builds offline. Before printing, the script waits until MathJax has typeset
every formula and every image has loaded, and fails, saying what is missing, if either does
not happen. The print layout (each chapter on a new page, no sliders' controls, code wrapped
at the margin) is in book/_static/hello-autodiff.css; the table of contents is the theme's
own printed "Contents", and the PDF also gets bookmarks from the headings and page numbers.
The file is written atomically: an old PDF stays whole until the new one is complete.
"""

from __future__ import annotations

import argparse
import base64
import functools
import http.server
import os
import re
import shutil
import sys
import tempfile
import threading
from pathlib import Path

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-quic", "--window-size=1280,900",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
    "--proxy-server=http://127.0.0.1:9",
]
SECONDS = 180

# Resolves once MathJax has typeset the page, every image has loaded and the fonts are ready.
READY = """
const done = arguments[arguments.length - 1];
const deadline = Date.now() + 1000 * arguments[0];
document.querySelectorAll('img').forEach(img => { img.loading = 'eager'; });
(function poll() {
  const mj = window.MathJax;
  if (!(mj && mj.startup && mj.startup.promise)) {
    if (Date.now() > deadline) return done({error: 'MathJax did not start'});
    return setTimeout(poll, 100);
  }
  mj.startup.promise.then(() => Promise.all(Array.from(document.images).map(img =>
      img.complete ? null : new Promise(r => { img.onload = r; img.onerror = r; }))))
    .then(() => document.fonts.ready)
    .then(() => done({
      unrendered: Array.from(document.querySelectorAll('.math'))
                       .filter(m => !m.querySelector('mjx-container')).length,
      errors: document.querySelectorAll('mjx-merror').length,
      broken: Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0))
                   .map(i => i.src.slice(0, 100)),
    }), e => done({error: String(e)}));
})();
"""

FOOTER = ('<div style="font-size:8px;width:100%;text-align:center;color:#666">'
          '<span class="pageNumber"></span> / <span class="totalPages"></span></div>')


def _program(env_var, *candidates):
    if os.environ.get(env_var):
        return os.environ[env_var]
    for name in candidates:
        found = shutil.which(name) or (name if Path(name).is_file() else None)
        if found:
            return found
    sys.exit(f"print_pdf: {candidates[0]} not found: install Debian's chromium and "
             f"chromium-driver (apt-get install chromium chromium-driver), or set {env_var}")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


def _page(site: Path) -> str:
    """The single page of the build, as a file in the build's root folder.

    index.html only forwards to the page, which Jupyter Book writes where the root document
    is (book/intro.html) although its links to images, styles and scripts are written as
    seen from the root folder: a copy in the root folder finds them all.
    """
    index = site / "index.html"
    if not index.is_file():
        sys.exit(f"print_pdf: no {index}: run `jupyter-book build . --builder singlehtml` first")
    forward = re.search(r'url=([^"\s]+)', index.read_text(encoding="utf-8"))
    if not forward:
        return "index.html"
    copy = site / "whole-book.html"
    shutil.copyfile(site / forward.group(1), copy)
    return copy.name


def print_pdf(site: Path, out: Path) -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    page = _page(site)
    handler = functools.partial(_QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    os.environ["SE_AVOID_STATS"] = "true"
    profile = tempfile.mkdtemp(prefix="hello-autodiff-pdf-")
    options = webdriver.ChromeOptions()
    options.binary_location = _program("CHROMIUM", "chromium", "chromium-browser")
    for flag in CHROMIUM_FLAGS + [f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(
        executable_path=_program("CHROMEDRIVER", "chromedriver", "/usr/lib/chromium/chromedriver")))
    try:
        driver.set_page_load_timeout(SECONDS)
        driver.set_script_timeout(SECONDS)
        driver.get(f"http://127.0.0.1:{httpd.server_address[1]}/{page}")
        state = driver.execute_async_script(READY, SECONDS)
        problems = [state["error"]] if "error" in state else []
        if state.get("unrendered") or state.get("errors"):
            problems.append(f"{state['unrendered']} formulas not typeset, {state['errors']} "
                            f"TeX errors")
        if state.get("broken"):
            problems.append(f"images that did not load: {state['broken'][:5]}")
        if problems:
            sys.exit(f"print_pdf: {page}: " + "; ".join(problems))
        pdf = driver.execute_cdp_cmd("Page.printToPDF", {
            "printBackground": True,
            "preferCSSPageSize": True,
            "displayHeaderFooter": True,
            "headerTemplate": "<span></span>",
            "footerTemplate": FOOTER,
            "generateDocumentOutline": True,
            "generateTaggedPDF": True,
        })
    finally:
        driver.quit()
        httpd.shutdown()
        httpd.server_close()
        shutil.rmtree(profile, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    partial.write_bytes(base64.b64decode(pdf["data"]))
    os.replace(partial, out)
    print(f"print_pdf: {out} ({out.stat().st_size / 1e6:.1f} MB)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("site", type=Path, help="the single-page build (_build/singlehtml)")
    parser.add_argument("out", type=Path, help="the PDF to write")
    args = parser.parse_args(argv)
    print_pdf(args.site.resolve(), args.out)


if __name__ == "__main__":
    main()

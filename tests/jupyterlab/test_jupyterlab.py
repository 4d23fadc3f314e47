"""Open every notebook of the book in a real JupyterLab, in headless Chromium, as a reader would.

A JupyterLab from this environment (with jupyterlab-myst, requirements.txt) serves copies of
book/*.ipynb on 127.0.0.1; each notebook is opened in Chromium, every cell rendered (no
windowing), and the test asserts that

- every markdown cell was rendered, and jupyterlab-myst rendered the book's MyST: no raw
  directive (```{...} or :::{...}) or role ({cite:p}`...`) is left in the text a reader sees,
  and no MyST error box is shown;

and saves screenshots into _build/jupyterlab-screenshots/ (SCREENSHOT_DIR overrides) for a
person to look at: the top of each notebook and its first exercise, solution and code listing
(LAB_SCREENSHOTS=all: the whole notebook, one window-full per picture).

JupyterLab starts no kernel, fetches no news and checks no updates; Chromium is started with
tests/browser/test_site.py's flags, so it cannot reach another host either. Run it with
`make lab-browser` (or by naming this folder to pytest: a plain `pytest` leaves it out,
tests/conftest.py). It skips
without Chromium, except under CI=true.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BOOK = REPO / "book"
SCREENSHOT_DIR = Path(os.environ.get(
    "SCREENSHOT_DIR", REPO / "_build" / "jupyterlab-screenshots")).resolve()
IN_CI = os.environ.get("CI", "").lower() == "true"
NOTEBOOKS = sorted(BOOK.glob("*.ipynb"))
START_SECONDS = 120
RENDER_SECONDS = 180
MAX_TILES = 60

# What is left of MyST when nothing rendered it: a directive fence or a role.
RAW_MYST = re.compile(r"(?:```|:::)\s*\{[\w:-]+\}|\{[\w:-]+\}`")


def _site_test():
    """tests/browser/test_site.py, for its Chromium flags and program lookup (one copy)."""
    spec = importlib.util.spec_from_file_location(
        "_hello_autodiff_site_test", REPO / "tests" / "browser" / "test_site.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SITE = _site_test()


def _skip_or_fail(reason):
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: the JupyterLab test must run)", pytrace=False)
    pytest.skip(reason)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent():
    """In the server's process, before it starts (Linux): end it when pytest ends, even when
    pytest is killed and never reaches the fixture's teardown."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _write_json(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab on http://127.0.0.1:PORT/ over copies of the book's notebooks."""
    root = tmp_path_factory.mktemp("lab")
    notebooks = root / "book"
    notebooks.mkdir()
    for path in NOTEBOOKS:
        shutil.copy(path, notebooks)
    config, settings = root / "config", root / "settings"
    # Everything server-side that could reach the network is off.
    _write_json(config / "jupyter_server_config.json", {"LabApp": {
        "news_url": None,
        "check_for_updates_class": "jupyterlab.NeverCheckForUpdate",
        "extension_manager": "readonly",
        "notebook_starts_kernel": False,
        # window.jupyterapp: the test opens each notebook with JupyterLab's own command, in
        # one page, instead of loading the whole application again for every notebook.
        "expose_app_in_browser": True,
    }})
    # Every cell rendered at once (JupyterLab renders only the visible ones by default), and
    # no question about news in a toast over the notebook.
    _write_json(settings / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings",
                {"windowingMode": "none"})
    _write_json(settings / "@jupyterlab" / "apputils-extension" /
                "notification.jupyterlab-settings", {"fetchNews": "false"})
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER")}
    env.update(JUPYTER_CONFIG_DIR=str(config), JUPYTER_RUNTIME_DIR=str(root / "runtime"),
               JUPYTERLAB_SETTINGS_DIR=str(settings),
               JUPYTERLAB_WORKSPACES_DIR=str(root / "workspaces"))
    env.pop("MPLBACKEND", None)
    port, token = _free_port(), secrets.token_hex(16)
    log = (root / "jupyterlab.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
         "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
         f"--ServerApp.root_dir={notebooks}", f"--IdentityProvider.token={token}"],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root, preexec_fn=_die_with_parent)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_SECONDS
    try:
        while True:
            if server.poll() is not None:
                pytest.fail("JupyterLab exited at start:\n"
                            + (root / "jupyterlab.log").read_text()[-3000:], pytrace=False)
            try:
                request = urllib.request.Request(f"{base}/api/status",
                                                 headers={"Authorization": f"token {token}"})
                with urllib.request.urlopen(request, timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not answer within {START_SECONDS} s:\n"
                            + (root / "jupyterlab.log").read_text()[-3000:], pytrace=False)
            time.sleep(0.5)
        yield {"base": base, "token": token, "log": root / "jupyterlab.log"}
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@pytest.fixture(scope="module")
def browser():
    with SITE.chromium_driver("JupyterLab test", "hello-autodiff-lab-chromium-", _skip_or_fail,
                              SCREENSHOT_DIR, window_size="1280,1000") as driver:
        driver.set_page_load_timeout(START_SECONDS)
        driver.set_script_timeout(RENDER_SECONDS)
        # Selenium's own HTTP client gives up on the driver after 120 s by default: less than
        # a script may wait for a notebook to render on a busy machine, which then failed as
        # a read timeout instead of the test's own message.
        driver.command_executor.client_config.timeout = RENDER_SECONDS + START_SECONDS
        yield driver


@pytest.fixture(scope="module")
def app(lab, browser):
    """JupyterLab loaded once in the browser; the tests open notebooks in it."""
    browser.get(f"{lab['base']}/lab?token={lab['token']}")
    browser.execute_async_script(APP_STARTED, START_SECONDS)
    return browser


APP_STARTED = """
const done = arguments[arguments.length - 1];
const deadline = Date.now() + 1000 * arguments[0];
(function poll() {
  if (window.jupyterapp && window.jupyterapp.started) return window.jupyterapp.started.then(done);
  if (Date.now() > deadline) return done('JupyterLab did not start');
  setTimeout(poll, 100);
})();
"""

# Closes every open document (dispose: no "save your changes?" dialog; JupyterLab marks a
# notebook changed as soon as it opens it without a kernel), then opens one notebook (its path
# relative to the server's root).
OPEN = """
const done = arguments[arguments.length - 1];
const app = window.jupyterapp;
Array.from(app.shell.widgets('main')).forEach(widget => widget.dispose());
app.commands.execute('docmanager:open', {path: arguments[0]})
  .then(() => done(null), (error) => done(String(error)));
"""

# Resolves once the open notebook shows every cell and every markdown cell is rendered:
# counts of {cells, markdown, rendered, myst} (myst: rendered by jupyterlab-myst), returned
# as they are at the deadline if it comes first.
WAIT_FOR_NOTEBOOK = """
const [cells, markdown, seconds] = [arguments[0], arguments[1], arguments[2]];
const done = arguments[arguments.length - 1];
const deadline = Date.now() + 1000 * seconds;
(function poll() {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  const state = {cells: 0, markdown: 0, rendered: 0, myst: 0};
  if (panel) {
    state.cells = panel.querySelectorAll('.jp-Notebook .jp-Cell').length;
    const md = Array.from(panel.querySelectorAll('.jp-MarkdownCell'));
    state.markdown = md.length;
    state.rendered = md.filter(c => c.classList.contains('jp-mod-rendered')
        && c.querySelector('.myst, .jp-RenderedMarkdown')).length;
    state.myst = md.filter(c => c.querySelector('.myst')).length;
  }
  if (state.cells >= cells && state.rendered >= markdown) return done(state);
  if (Date.now() > deadline) return done(state);
  setTimeout(poll, 250);
})();
"""

# The text a reader sees in the rendered markdown cells (not the hidden editors holding their
# source), without code, where braces and backticks are legitimate.
READER_TEXT = """
const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
return Array.from(panel.querySelectorAll('.jp-MarkdownCell .myst, .jp-MarkdownCell .jp-RenderedMarkdown'))
  .map(out => {
    const copy = out.cloneNode(true);
    copy.querySelectorAll('pre, code, .highlight').forEach(e => e.remove());
    return copy.textContent;
  });
"""

SCROLLER = """
const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
return panel.querySelector('.jp-WindowedPanel-outer') || panel.querySelector('.jp-Notebook');
"""

# The cells worth a picture: the first of each of these, besides the notebook's top.
SHOW = {"exercise": re.compile(r"\{exercise"), "solution": re.compile(r"\{solution"),
        "listing": re.compile(r"show_source\(")}


def _screenshots(driver, name, cells):
    """The top of the notebook and its first exercise, solution and code listing; with
    LAB_SCREENSHOTS=all, the whole notebook, one window-full per picture."""
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    scroller = driver.execute_script(SCROLLER)
    if os.environ.get("LAB_SCREENSHOTS") == "all":
        height = driver.execute_script("return arguments[0].scrollHeight", scroller)
        step = max(200, driver.execute_script("return arguments[0].clientHeight", scroller) - 40)
        tops = {f"{tile:02d}": tile * step for tile in range(min(MAX_TILES, height // step + 1))}
    else:
        tops = {"top": 0}
        for what, pattern in SHOW.items():
            first = next((i for i, c in enumerate(cells) if pattern.search("".join(c["source"]))),
                         None)
            if first is not None:
                tops[what] = driver.execute_script(
                    "const cell = document.querySelectorAll("
                    "'.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell')[arguments[0]];"
                    "return cell ? cell.offsetTop - 20 : 0;", first)
    for label, top in tops.items():
        driver.execute_script("arguments[0].scrollTop = arguments[1]", scroller, top)
        time.sleep(0.2)
        driver.save_screenshot(str(SCREENSHOT_DIR / f"{name}-{label}.png"))


# Directives jupyterlab-myst drops without a trace (the reader sees nothing where the site
# shows code): a chapter must show library code some other way (a code cell that displays it).
DROPPED = re.compile(r"(?:```|:::)\s*\{(literalinclude|include)\}")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_reads_well_in_jupyterlab(path, app):
    browser = app
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    markdown = sum(c["cell_type"] == "markdown" for c in cells)
    error = browser.execute_async_script(OPEN, path.name)
    assert error is None, f"{path.name}: JupyterLab could not open it: {error}"
    state = browser.execute_async_script(WAIT_FOR_NOTEBOOK, len(cells), markdown,
                                         RENDER_SECONDS - 5)
    _screenshots(browser, path.stem, cells)
    assert state["cells"] >= len(cells) and state["rendered"] >= markdown, (
        f"{path.name}: JupyterLab showed {state['cells']} of {len(cells)} cells and rendered "
        f"{state['rendered']} of {markdown} markdown cells within {RENDER_SECONDS} s")
    assert state["myst"] >= markdown, (
        f"{path.name}: jupyterlab-myst rendered {state['myst']} of {markdown} markdown cells "
        "(is it installed, and enabled in `jupyter labextension list`?)")
    raw = sorted({m.group(0) for text in browser.execute_script(READER_TEXT)
                  for m in RAW_MYST.finditer(text)})
    assert not raw, (f"{path.name}: raw MyST shows in JupyterLab (jupyterlab-myst does not "
                     f"render it): {raw}; screenshots in {SCREENSHOT_DIR}")
    dropped = sorted({f"{{{m.group(1)}}} in cell {i}" for i, c in enumerate(cells)
                      if c["cell_type"] == "markdown"
                      for m in DROPPED.finditer("".join(c["source"]))})
    assert not dropped, (f"{path.name}: JupyterLab shows nothing for {', '.join(dropped)} "
                         "(jupyterlab-myst drops these directives); show the code with a code "
                         "cell instead")

"""The book's promises about installing and running it, checked from its files.

- The version is written once; the Python minimum is the same in pyproject.toml, README.md and
  the intro, and every pinned package (requirements.txt) runs on it.
- The `notebooks` extra declares every module a chapter imports.
- Every notebook opens the same way anywhere (JupyterLab, Colab, Binder, a download): a
  kernelspec; as its first code cell, the install cell below, whose address comes from the one
  place the repository's address is written (_config.yml, `repository: url:`); and its check
  cells (tagged remove-cell, hidden on the site) collapsed in Jupyter too.
- LICENSE, CITATION.cff and binder/ say what pyproject.toml says.
- Without matplotlib the library still imports, draw_graph names the extra that brings it,
  and the tests that need it skip.

`python tests/test_packaging.py --write book/*.ipynb` puts the install cell, the kernelspec
and the collapsed check cells into the notebooks named (after a change of the repository's
address, for instance); the tests below say what it would change.
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BOOK = REPO / "book"
NOTEBOOKS = sorted(BOOK.glob("*.ipynb"))
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
# Collapses a cell's code in JupyterLab and Jupyter Notebook (its first line stays visible).
HIDDEN = {"source_hidden": True}
CHECK_TAG = "remove-cell"

# The top-level module a chapter imports -> the distribution that brings it, for the
# third-party ones.
DISTRIBUTION = {"numpy": "numpy", "matplotlib": "matplotlib", "ipywidgets": "ipywidgets",
                "threadpoolctl": "threadpoolctl", "IPython": "ipykernel"}


def repository_url():
    """`repository: url:` of _config.yml, the one place the repository's address is set."""
    text = (REPO / "_config.yml").read_text(encoding="utf-8")
    match = re.search(r"^repository:\s*\n(?:[ \t]+.*\n)*?[ \t]+url:\s*(\S+)", text, re.M)
    assert match, "_config.yml has no `repository:` with a `url:`"
    return match.group(1).strip("'\"")


def install_cell_source(url=None):
    """The first code cell of every notebook: installs the library where it is missing.

    It imports nothing itself (find_spec only looks), so a chapter's own first cell still
    comes before NumPy is loaded.
    """
    url = url or repository_url()
    return ("# Colab, Binder, a downloaded notebook: install the library where it is missing.\n"
            "import importlib.util\n"
            "\n"
            'if importlib.util.find_spec("hellograd") is None:\n'
            f'    %pip install --quiet "hellograd[notebooks] @ git+{url}"')


def _source(cell):
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _code_cells(nb):
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def _read(path):
    return json.loads(path.read_text(encoding="utf-8"))


def _ids(paths):
    return [p.stem for p in paths]


# --- versions ------------------------------------------------------------------------------

def test_the_version_is_written_once():
    assert "version" not in PYPROJECT["project"], "pyproject.toml: the version is dynamic"
    assert "version" in PYPROJECT["project"]["dynamic"]
    init = ast.parse((REPO / "src" / "hellograd" / "__init__.py").read_text(encoding="utf-8"))
    versions = [node.value.value for node in init.body if isinstance(node, ast.Assign)
                and any(getattr(t, "id", None) == "__version__" for t in node.targets)]
    assert len(versions) == 1, "src/hellograd/__init__.py sets __version__ once, as a string"
    assert importlib.metadata.version("hellograd") == versions[0], \
        "the installed metadata is stale: reinstall (make install)"


def _python_minimum():
    spec = PYPROJECT["project"]["requires-python"]
    match = re.fullmatch(r">=\s*3\.(\d+)", spec)
    assert match, f"requires-python is {spec!r}; expected '>=3.N'"
    return (3, int(match.group(1)))


@pytest.mark.parametrize("name", ["README.md", "book/intro.md"])
def test_the_python_minimum_is_the_same_everywhere(name):
    minimum = "%d.%d" % _python_minimum()
    text = (REPO / name).read_text(encoding="utf-8")
    stated = re.findall(r"Python (3\.\d+)(?:\+| or newer| or later| and newer)", text)
    assert stated, f"{name} does not say which Python it needs (say 'Python {minimum}+')"
    assert set(stated) == {minimum}, \
        f"{name} says Python {', '.join(sorted(set(stated)))}; pyproject.toml requires {minimum}"


def _pins(path):
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#")[0].strip()
        if "==" in line and not line.startswith("-"):
            name, version = line.split("==")
            pins[name.strip()] = version.strip()
    return pins


def test_every_pinned_package_runs_on_the_python_minimum():
    # Checked in the book's environment (.venv), where requirements.txt is installed; `make
    # oldest` runs the unit tests in another one.
    pytest.importorskip("jupyter_book", reason="not the book's environment (requirements.txt)")
    from packaging.specifiers import SpecifierSet

    minimum = "%d.%d" % _python_minimum()
    too_new = []
    for name, version in _pins(REPO / "requirements.txt").items():
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            pytest.fail(f"{name} (pinned in requirements.txt) is not installed: make install")
        if dist.version != version:
            pytest.fail(f"{name} {dist.version} is installed, requirements.txt pins {version}: "
                        "make install")
        requires = dist.metadata.get("Requires-Python")
        if requires and not SpecifierSet(requires).contains(f"{minimum}.0"):
            too_new.append(f"{name}=={version} needs Python {requires}")
    assert not too_new, (f"pinned packages that do not run on Python {minimum} "
                         f"(pyproject's minimum): {too_new}")


# --- what the chapters import --------------------------------------------------------------

def _imports(source):
    """Top-level modules imported by a cell (IPython magics and shell lines left out)."""
    lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
    try:
        tree = ast.parse("\n".join(lines))
    except SyntaxError:
        return set()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _extra(name):
    return {re.split(r"[<>=!~ ;\[]", req)[0].lower()
            for req in PYPROJECT["project"]["optional-dependencies"][name]}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_the_notebooks_extra_declares_every_import(path):
    declared = _extra("notebooks") | {"numpy"}
    imported = set().union(*(_imports(_source(c)) for c in _code_cells(_read(path))))
    third_party = imported - set(sys.stdlib_module_names) - {"hellograd"}
    unknown = sorted(m for m in third_party if m not in DISTRIBUTION)
    assert not unknown, (f"{path.name} imports {unknown}: a notebook runs with only `pip "
                         "install hellograd[notebooks]`, so it may import the standard library, "
                         "hellograd and the `notebooks` extra (a new third-party package: add it "
                         "to the extra in pyproject.toml and to DISTRIBUTION here)")
    missing = sorted(DISTRIBUTION[m] for m in third_party if DISTRIBUTION[m] not in declared)
    assert not missing, f"{path.name} needs {missing}, missing from the `notebooks` extra"


# --- every notebook opens anywhere ---------------------------------------------------------

@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_names_its_kernel(path):
    spec = _read(path)["metadata"].get("kernelspec")
    assert spec and spec.get("name") == "python3" and spec.get("language") == "python", (
        f"{path.name}: metadata.kernelspec is {spec}; Jupyter asks which kernel to use without "
        f"it. Set it to {KERNELSPEC} (`python tests/test_packaging.py --write {path.name}`)")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_first_code_cell_installs_the_library_from_the_repository(path):
    expected = install_cell_source()
    code = _code_cells(_read(path))
    first = _source(code[0]) if code else ""
    assert first == expected, (
        f"{path.name}: the first code cell must be the install cell, exactly\n{expected}\n"
        f"(the address is _config.yml's repository url); it is\n{first[:300]}\n"
        f"`python tests/test_packaging.py --write book/{path.name}` puts it there")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_check_cells_are_collapsed_in_jupyter(path):
    cells = _read(path)["cells"]
    open_checks = [i for i, c in enumerate(cells) if c["cell_type"] == "code"
                   and CHECK_TAG in c["metadata"].get("tags", [])
                   and _source(c) != install_cell_source()
                   and not c["metadata"].get("jupyter", {}).get("source_hidden")]
    assert not open_checks, (
        f"{path.name}: cells {open_checks} are tagged {CHECK_TAG} (hidden on the site) but open "
        f"in Jupyter; give them metadata \"jupyter\": {json.dumps(HIDDEN)}")


def test_install_cell_installs_what_it_says():
    """The cell's magic is IPython syntax that becomes one `%pip install` of the extra."""
    pytest.importorskip("IPython")
    from IPython.core.inputtransformer2 import TransformerManager

    python = TransformerManager().transform_cell(install_cell_source("https://example.org/r"))
    ast.parse(python)
    assert ("run_line_magic('pip', 'install --quiet \"hellograd[notebooks] @ "
            "git+https://example.org/r\"')") in python


# --- LICENSE, CITATION.cff, binder/ --------------------------------------------------------

def test_license_file_is_the_license_pyproject_names():
    assert PYPROJECT["project"]["license"] == "MIT"
    assert (REPO / "LICENSE").read_text(encoding="utf-8").startswith("MIT License\n")


def test_citation_file_is_citation_file_format_1_2():
    yaml = pytest.importorskip("yaml")

    cff = yaml.safe_load((REPO / "CITATION.cff").read_text(encoding="utf-8"))
    assert cff["cff-version"] == "1.2.0"
    assert cff["message"] and cff["title"] and cff["authors"]
    assert all("name" in a or "family-names" in a for a in cff["authors"])
    assert cff.get("license") == PYPROJECT["project"]["license"]
    assert "version" not in cff, "the version is written once, in src/hellograd/__init__.py"


def test_binder_installs_the_extra_on_the_python_minimum():
    assert (REPO / "binder" / "runtime.txt").read_text().strip() == "python-%d.%d" % \
        _python_minimum()
    lines = [line.split("#")[0].strip()
             for line in (REPO / "binder" / "requirements.txt").read_text().splitlines()]
    lines = [line for line in lines if line]
    assert ".[notebooks]" in lines
    assert not any(line.startswith(("jupyter-book", "selenium", "pytest", "-r")) for line in lines)


# --- without matplotlib --------------------------------------------------------------------

# Runs Python as if matplotlib were not installed: importing it raises ModuleNotFoundError.
NO_MATPLOTLIB = """\
import importlib.abc, sys
class NoMatplotlib(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "matplotlib":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, NoMatplotlib())
"""


def _python(code, *args):
    return subprocess.run([sys.executable, "-c", NO_MATPLOTLIB + code, *args], cwd=REPO,
                          capture_output=True, text=True, timeout=300)


def test_library_imports_without_matplotlib_and_names_the_plot_extra():
    done = _python("import hellograd as hg\n"
                   "try:\n"
                   "    hg.draw_graph(hg.Scalar(1.0) * 2)\n"
                   "except ImportError as error:\n"
                   "    print('ImportError:', error)\n")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "ImportError:" in done.stdout and "hellograd[plot]" in done.stdout, (
        f"draw_graph without matplotlib should say `pip install hellograd[plot]`; "
        f"it said: {done.stdout.strip() or done.stderr[-500:]}")


def test_tests_that_need_matplotlib_skip_without_it():
    needs = [p.name for p in sorted((REPO / "tests").glob("test_*.py"))
             if re.search(r"^\s*(import|from) matplotlib", p.read_text(encoding="utf-8"), re.M)]
    if not needs:
        pytest.skip("no test module imports matplotlib")
    done = _python("import pytest; sys.exit(pytest.main(sys.argv[1:]))",
                   *[f"tests/{name}" for name in needs], "-q", "-p", "no:cacheprovider")
    # A module skipped as a whole leaves pytest nothing collected: exit code 5, not 0.
    assert done.returncode in (0, 5) and "skipped" in done.stdout, (
        f"{needs} should skip without matplotlib (pytest.importorskip('matplotlib') before "
        f"importing it); pytest said:\n{done.stdout[-1500:]}")


# --- the fixer -----------------------------------------------------------------------------

def write(paths):
    """Put the install cell, the kernelspec and collapsed check cells into these notebooks."""
    import nbformat

    marker = install_cell_source("").splitlines()[0]
    for path in map(Path, paths):
        nb = nbformat.read(path, as_version=4)
        nb.metadata["kernelspec"] = dict(KERNELSPEC)
        code = [c for c in nb.cells if c.cell_type == "code"]
        if code and _source(code[0]).startswith(marker):
            install = code[0]
        else:
            install = nbformat.v4.new_code_cell()
            nb.cells.insert(nb.cells.index(code[0]) if code else len(nb.cells), install)
        install.source = install_cell_source()
        # Hidden on the site (nothing to install there), shown in Jupyter.
        install.metadata["tags"] = sorted(set(install.metadata.get("tags", [])) | {CHECK_TAG})
        install.metadata.get("jupyter", {}).pop("source_hidden", None)
        for c in nb.cells:
            if c is not install and c.cell_type == "code" \
                    and CHECK_TAG in c.metadata.get("tags", []):
                c.metadata.setdefault("jupyter", {}).update(HIDDEN)
        nbformat.write(nb, path)
        print(f"{path}: install cell, kernelspec, check cells collapsed")


if __name__ == "__main__":
    if sys.argv[1:2] != ["--write"] or not sys.argv[2:]:
        sys.exit("usage: python tests/test_packaging.py --write NOTEBOOK.ipynb ...")
    write(sys.argv[2:])

"""The whole book as one PDF (`make pdf`): every chapter in it, each on a new page, a table of
contents, maths typeset, figures in place.

It reads `_build/pdf/hello-autodiff.pdf` (beside the site folder; `PDF_FILE` overrides) with
poppler's `pdftotext` and `pdfimages` (Debian: `apt-get install poppler-utils`) and checks

- every chapter's title (the first heading of each file in _toc.yml) is in the text;
- each chapter starts a new page: its title is at the top of a page;
- the first page is a table of contents listing every chapter;
- no raw TeX is left (the same patterns as the browser test): MathJax typeset the maths;
- the figures are there: at least as many images as the single-page build it was printed
  from shows as raster pictures.

Runs with the browser test (`make browser`, after `make pdf`); skips, saying why, without a
PDF or poppler, except under CI=true, where either is a failure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from test_site import IN_CI, RAW_TEX, REPO, SITE_DIR, _skip_or_fail

PDF = Path(os.environ.get("PDF_FILE", SITE_DIR.parent / "pdf" / "hello-autodiff.pdf"))
SINGLE_PAGE = PDF.parent.parent / "singlehtml"


def _toc_files():
    toc = yaml.safe_load((REPO / "_toc.yml").read_text(encoding="utf-8"))
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [chapter["file"] for chapter in part.get("chapters", [])]
    return files


def _title(file):
    """The first heading of a chapter, as text (no Markdown marks)."""
    path = next(p for p in (REPO / f"{file}.ipynb", REPO / f"{file}.md") if p.exists())
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        source = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    else:
        source = path.read_text(encoding="utf-8")
    heading = re.search(r"^#\s+(.+)$", source, re.M).group(1)
    return _words(re.sub(r"[`*_]|\{[a-z]+\}", "", heading))


def _words(text):
    """Text with its white space (line breaks of the PDF included) made single spaces, and
    the typographic quotes and dashes that the PDF may use made plain."""
    text = text.translate(str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "–": "-",
                                         "—": "-", "\u00ad": ""}))
    return " ".join(text.split())


TITLES = {file: _title(file) for file in _toc_files()}


@pytest.fixture(scope="module")
def pages():
    """The PDF's text, one string per page."""
    if not PDF.is_file():
        _skip_or_fail(f"no PDF at {PDF}: run `make pdf` (or set PDF_FILE)")
    if shutil.which("pdftotext") is None:
        _skip_or_fail("pdftotext not found: install Debian's poppler-utils "
                      "(apt-get install poppler-utils) to check the PDF")
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(PDF), "-"], check=True,
                          capture_output=True, text=True).stdout
    return text.split("\f")


def test_every_chapter_is_in_the_pdf_and_starts_a_page(pages):
    whole = _words(" ".join(pages))
    missing = [title for title in TITLES.values() if title not in whole]
    assert not missing, f"{PDF.name} lacks the chapters {missing}"
    tops = [_words(" ".join(page.strip().splitlines()[:4])) for page in pages]
    # The root page's title heads the PDF itself; each chapter's heads a page of its own.
    not_on_top = [title for file, title in TITLES.items()
                  if file != _toc_files()[0] and not any(title in top for top in tops[1:])]
    assert not not_on_top, f"chapters that do not start a new page: {not_on_top}"


def test_the_first_page_lists_the_chapters(pages):
    first = _words(pages[0])
    assert "Contents" in first, f"no table of contents on the first page: {first[:200]!r}"
    unlisted = [title for file, title in TITLES.items()
                if file != _toc_files()[0] and title not in first]
    assert not unlisted, f"the table of contents lacks {unlisted}"


def test_no_raw_tex_is_left(pages):
    text = "\n".join(pages)
    raw = [text[max(0, m.start() - 40):m.end() + 40].replace("\n", " ")
           for m in RAW_TEX.finditer(text)]
    assert not raw, f"raw TeX in {PDF.name} (maths not typeset): {raw[:5]}"


def test_the_figures_are_in_place(pages):
    if shutil.which("pdfimages") is None:
        _skip_or_fail("pdfimages not found: install Debian's poppler-utils")
    listing = subprocess.run(["pdfimages", "-list", str(PDF)], check=True,
                             capture_output=True, text=True).stdout.splitlines()[2:]
    in_pdf = sum(1 for line in listing if line.split()[2] == "image")
    page = next(iter(sorted(SINGLE_PAGE.rglob("*.html"), key=lambda p: -p.stat().st_size)), None)
    if page is None:
        if IN_CI:
            pytest.fail(f"no single-page build in {SINGLE_PAGE} to count the figures of")
        pytest.skip(f"no single-page build in {SINGLE_PAGE} to count the figures of")
    html = page.read_text(encoding="utf-8")
    raster = len(re.findall(r'<img[^>]+src="[^"]+\.(?:png|jpe?g|gif)"', html))
    assert in_pdf >= raster > 0, (f"{PDF.name} holds {in_pdf} raster images; the page it was "
                                  f"printed from shows {raster}")

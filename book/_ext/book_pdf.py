"""The whole book as one PDF: a button on every page of the site, and the file beside it.

``make pdf`` builds the book as one HTML page (``jupyter-book build --builder singlehtml``)
and prints it with headless Chromium (book/_ext/print_pdf.py) to
``_build/pdf/hello-autodiff.pdf``, then copies it to the root of the site if the site is
there; a site built after it copies the file itself (below). Every page of the site gets a
button in its header that downloads it; the single page it is printed from does not.

The single-page build also needs one repair: Sphinx gives a builder the HTML writers of its
own name *instead of* those of the format "html" as soon as any extension registers one for
it, and sphinx-exercise registers some for "singlehtml". Every other extension's writers
(MyST-NB's folded "show code" cells first) were then missing, and the build failed. So the
single-page builder gets every "html" writer that it has none of its own for.
"""

import shutil
from pathlib import Path

PDF_NAME = "hello-autodiff.pdf"


def add_pdf_button(app, pagename, templatename, context, doctree):
    if app.builder.name != "html" or "header_buttons" not in context:
        return
    context["header_buttons"].append({
        "type": "link",
        "url": context["pathto"](PDF_NAME, 1),
        "tooltip": "Download the whole book as one PDF",
        "icon": "fas fa-book",
        "label": "whole-book-pdf-button",
    })


def copy_pdf(app, exception):
    """The PDF that `make pdf` left beside this build's folder, into the site."""
    if exception is not None or app.builder.name != "html":
        return
    pdf = Path(app.outdir).parent / "pdf" / PDF_NAME
    if pdf.is_file():
        shutil.copy2(pdf, Path(app.outdir) / PDF_NAME)


def share_html_writers(app):
    if app.builder.name != "singlehtml":
        return
    handlers = app.registry.translation_handlers
    own = handlers.setdefault("singlehtml", {})
    for node, writers in handlers.get("html", {}).items():
        own.setdefault(node, writers)


def setup(app):
    app.connect("builder-inited", share_html_writers)
    # After sphinx-book-theme has made its header buttons (its handler has the default 500).
    app.connect("html-page-context", add_pdf_button, priority=600)
    app.connect("build-finished", copy_pdf)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

"""Ship no ipywidgets state or views in the book's pages.

A chapter may keep a live ``ipywidgets`` slider for the reader who runs the notebook. When
the site build executes that notebook, the kernel records every widget's state in the
notebook's metadata (tens of kilobytes: chapter 1's slider was 76 kB of its page) and each
widget output as a "view" that only the ipywidgets JavaScript can draw. The site loads no
such JavaScript (``nb_ipywidgets_js: {}`` in _config.yml) and has no kernel, so neither can
ever draw a thing there: the site shows a precomputed player instead
(``hellograd.viz.slider_player``). So this extension drops, from every page it writes:

- the page's widget-state ``<script type="application/vnd.jupyter.widget-state+json">``;
- every widget-view output (and the output box left empty by it).

It works on what is written, not on the notebooks: JupyterLab still sees the widgets.
"""

from docutils import nodes

WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def drop_widget_views(app, doctree, docname):
    for raw in list(doctree.findall(nodes.raw)):
        if f'type="{WIDGET_VIEW}"' not in raw.astext():
            continue
        node = raw
        # Remove the boxes too that this view was all of (its output, a cell with no input).
        while isinstance(node.parent, nodes.container) and len(node.parent.children) == 1:
            node = node.parent
        node.parent.remove(node)


def drop_widget_state(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if isinstance(scripts, list):
        context["script_files"] = [
            script for script in scripts
            if getattr(script, "attributes", {}).get("type") != WIDGET_STATE]


def setup(app):
    app.connect("doctree-resolved", drop_widget_views)
    # Late, like dedupe_scripts: after MyST-NB has added the page's scripts.
    app.connect("html-page-context", drop_widget_state, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

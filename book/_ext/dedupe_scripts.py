"""Write each <script> into a page once.

With Sphinx 7.4, an inline script that an extension adds after the builder has started is
registered twice (once with the builder, once in the registry that is copied into it), and
both copies reach the page. For sphinx-thebe's `const THEBE_JS_URL = ...` the second copy is
a JavaScript error ("Identifier 'THEBE_JS_URL' has already been declared") on every page, which
the browser test (tests/browser/test_site.py) rightly fails on. Two identical script tags are
never intended, so we drop the repeats just before each page is written.
"""


def _key(script):
    # The two copies differ only in how they say "no file": None in one, "" in the other.
    return (script.filename or "", script.priority, tuple(sorted(script.attributes.items())))


def drop_repeated_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if isinstance(scripts, list):
        unique = {}
        for script in scripts:
            unique.setdefault(_key(script), script)
        context["script_files"] = list(unique.values())


def setup(app):
    # Late (high priority number): after every extension has added its page scripts.
    app.connect("html-page-context", drop_repeated_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

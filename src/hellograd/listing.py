"""Showing the library's own code in a chapter: :func:`show_source`.

The chapters show hellograd's source rather than a copy of it, so the text
and the code cannot drift apart. A code cell ``show_source(Tensor.__mul__)``
reads the function from ``src/hellograd`` and displays it highlighted, with
its file and line numbers as a caption. Unlike Sphinx's
``{literalinclude}``, which only the site build understands, this works
wherever the notebook runs: on the site (MyST-NB keeps the HTML), in
JupyterLab, Colab and VS Code (HTML too), in a terminal or the PDF built
through LaTeX (plain text).

On the site, the listing uses the same markup and CSS classes as Sphinx's
code blocks, so the site's own highlighting style (light or dark) colours
it. Where that style is absent (in Jupyter), a small stylesheet carried with
each listing takes over, using JupyterLab's editor colours when they are
defined.
"""

from __future__ import annotations

import ast
import html
import importlib
import inspect
import os
import re
import sys
import textwrap

__all__ = ["show_source", "Listing"]


def show_source(*objects, highlight=None, lines=None):
    """Display the source of library objects, highlighted, with file and
    line numbers.

    ``objects`` are functions, methods, properties, classes or modules, or
    the dotted name of one as a string (``"hellograd.tensor.make_op"``); a
    string naming a module-level assignment (``make_op = _make``) shows that
    statement and the comment above it. With several objects, their listings
    follow each other in one output.

    ``highlight`` marks lines, to show what changed since a listing was last
    shown: a line number (1 is the listing's first line), a string (every
    line that contains it), or a list of those. ``lines=(first, last)``
    shows only part of one object, both ends included; each end is a line
    number or a string (the first line containing it, the search for
    ``last`` starting at ``first``). Prefer showing whole small functions. A
    highlight or a range that matches no line is an error, so a listing
    cannot silently go stale when the library changes.

    Returns a :class:`Listing`, which notebooks display as highlighted HTML
    and ``print`` shows as text (highlighted lines marked ``>``).

    >>> from hellograd import Tensor, show_source
    >>> show_source(Tensor.__mul__)
    >>> # two listings, one output
    >>> show_source(Tensor.__add__, Tensor.__mul__)
    >>> # mark the lines that changed
    >>> show_source(Tensor.backward, highlight="autograd")

    Introduced for the chapters of the book, which call it instead of
    copying code.
    """
    if not objects:
        raise TypeError("show_source: give at least one object (a "
                        "function, class, method or module)")
    if len(objects) > 1 and (lines is not None or _has_numbers(highlight)):
        raise ValueError("show_source: with several objects, `lines` and "
                         "line-number highlights are ambiguous; show the "
                         "objects one by one, or highlight by string")
    blocks = [_block(obj, lines) for obj in objects]
    marks = _highlight_marks(highlight)
    for block in blocks:
        block.highlighted = _resolve_highlight(block, marks)
    unmatched = [m for m in marks if isinstance(m, str)
                 and not any(m in line for b in blocks
                             for line in b.code.splitlines())]
    if unmatched:
        raise ValueError(f"show_source: highlight {unmatched[0]!r} matches "
                         f"no line of {', '.join(b.title for b in blocks)}")
    return Listing(blocks)


class _Block:
    """The code of one object, where it comes from, and which of its lines
    to highlight."""

    def __init__(self, code, path, first_line, title):
        self.code = code
        # relative to the package's parent: "hellograd/tensor.py"
        self.path = path
        # line number of the code's first line in that file
        self.first_line = first_line
        self.title = title  # what was asked for, for error messages
        self.highlighted = ()  # line numbers within the listing, 1-based

    @property
    def last_line(self):
        return self.first_line + self.code.count("\n")

    @property
    def caption(self):
        # a notebook cell: its line numbers would mean nothing to a reader
        if self.path is None:
            return f"{self.title}, defined in this notebook"
        if self.first_line == self.last_line:
            return f"{self.path}, line {self.first_line}"
        return (f"{self.path}, lines "
                f"{self.first_line}\N{EN DASH}{self.last_line}")


class Listing:
    """One or more pieces of source code, displayed by notebooks as
    highlighted HTML.

    Made by :func:`show_source`. ``str(listing)`` (and ``repr``) is the
    plain text: a caption line per piece, then the code, with highlighted
    lines marked ``>``. ``listing.code`` is the code alone (the pieces
    separated by a blank line), for tests and for reuse.
    """

    def __init__(self, blocks):
        self._blocks = list(blocks)

    @property
    def code(self):
        return "\n\n".join(b.code for b in self._blocks)

    @property
    def captions(self):
        """One caption per piece, e.g.
        ``"hellograd/tensor.py, lines 214–217"``."""
        return [b.caption for b in self._blocks]

    def __repr__(self):
        parts = []
        for b in self._blocks:
            caption = b.caption.replace("\N{EN DASH}", "-")
            code_lines = b.code.splitlines()
            if b.highlighted:
                code_lines = [("> " if i in b.highlighted else "  ") + line
                              for i, line in enumerate(code_lines, start=1)]
            parts.append("\n".join([f"# {caption}"] + code_lines))
        return "\n\n".join(parts)

    __str__ = __repr__

    def _repr_html_(self):
        bodies = [_highlighted_html(b) for b in self._blocks]
        classes = set()
        for body in bodies:
            classes.update(_css_classes(body))
        pieces = [
            '<div class="literal-block-wrapper docutils container '
            'hg-listing-block"><div class="code-block-caption"><span '
            f'class="caption-text">{html.escape(b.caption)}'
            '</span></div><div class="highlight-python '
            f'notranslate">{body}</div></div>'
            for b, body in zip(self._blocks, bodies)
        ]
        return (f'<div class="hg-listing"><style>{_stylesheet(classes)}'
                f'</style>{"".join(pieces)}</div>')


# ----- finding the code ---------------------------------------------------

def _block(obj, lines):
    if isinstance(obj, str):
        title = obj
    else:
        title = getattr(obj, "__qualname__", None) or repr(obj)
    if isinstance(obj, str):
        obj, statement = _resolve_name(obj)
    else:
        statement = None
    if statement is not None:
        source_lines, first, filename = statement
    else:
        target = _unwrap(obj)
        try:
            # a decorated function: the file it was written in
            target = inspect.unwrap(target)
            filename = (inspect.getsourcefile(target)
                        or inspect.getfile(target))
            source_lines, first = inspect.getsourcelines(target)
        except (TypeError, OSError) as error:
            raise TypeError(
                f"show_source: cannot find the source of {title!r} "
                f"({type(obj).__name__}): {error}. It works on functions, "
                "methods, properties, classes and modules written in "
                "Python files, not on built-ins or values"
            ) from None
        # a module's source starts at line 0 in inspect's count
        first = max(first, 1)
    source_lines = [line.rstrip("\n") for line in source_lines]
    if lines is not None:
        start, stop = _resolve_range(source_lines, lines, title)
        source_lines = source_lines[start - 1:stop]
        first += start - 1
    while source_lines and not source_lines[-1].strip():
        source_lines.pop()
    code = textwrap.dedent("\n".join(source_lines))
    return _Block(code, _package_path(filename), first, str(title))


def _unwrap(obj):
    """The function behind a property, a classmethod, a staticmethod or a
    bound method."""
    if isinstance(obj, property):
        return obj.fget
    if isinstance(obj, (classmethod, staticmethod)):
        return obj.__func__
    return obj


def _resolve_name(dotted):
    """``"package.module.name"`` -> (object, statement or None); a statement
    is ``(lines, first line number, file name)`` of a module-level
    assignment."""
    parts = dotted.replace(":", ".").split(".")
    for split in range(len(parts), 0, -1):
        try:
            module = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        obj, attributes = module, parts[split:]
        for attribute in attributes:
            if not hasattr(obj, attribute):
                raise ValueError(f"show_source: {dotted!r}: "
                                 f"{obj.__name__!r} has no attribute "
                                 f"{attribute!r}")
            obj = getattr(obj, attribute)
        if (len(attributes) == 1
                and getattr(obj, "__name__", None) != attributes[0]):
            statement = _assignment(module, attributes[0])
            if statement is not None:
                return obj, statement
        return obj, None
    raise ValueError(f"show_source: {dotted!r} names no importable module")


def _assignment(module, name):
    """The module-level statement assigning ``name``, with the comment lines
    just above it."""
    filename = inspect.getsourcefile(module)
    if filename is None:
        return None
    with open(filename, encoding="utf-8") as file:
        text = file.read()
    all_lines = text.splitlines()
    for node in ast.parse(text).body:
        if isinstance(node, ast.Assign):
            targets = node.targets
        else:
            targets = [getattr(node, "target", None)]
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            start = node.lineno
            while (start > 1
                   and all_lines[start - 2].lstrip().startswith("#")):
                start -= 1
            return all_lines[start - 1:node.end_lineno], start, filename
    return None


def _package_path(filename):
    """The file's path from its top-level package's parent, e.g.
    ``hellograd/tensor.py``.

    Outside any package only the file's name (a listing never shows the
    machine's folders), and ``None`` for a notebook cell, which IPython
    keeps in a numbered temporary file (``.../ipykernel_4711/1234567.py``)
    or a ``<...>`` name."""
    notebook = re.search(r"ipykernel_\d+[/\\]\d+\.py$", filename)
    if filename.startswith("<") or notebook:
        return None
    filename = os.path.abspath(filename)
    for module in list(sys.modules.values()):
        package_file = getattr(module, "__file__", None)
        if (package_file and os.path.basename(package_file) == "__init__.py"
                and "." not in module.__name__):
            package_dir = os.path.dirname(os.path.abspath(package_file))
            root = os.path.dirname(package_dir)
            if filename.startswith(package_dir + os.sep):
                return os.path.relpath(filename, root).replace(os.sep, "/")
    return os.path.basename(filename)


def _resolve_range(source_lines, lines, title):
    try:
        first, last = lines
    except (TypeError, ValueError):
        raise ValueError("show_source: lines must be a pair (first, last), "
                         f"got {lines!r}") from None
    start = _find_line(source_lines, first, 1, title, "first")
    stop = _find_line(source_lines, last, start, title, "last")
    if stop < start:
        raise ValueError(f"show_source: lines={lines!r} of {title}: the "
                         "last line comes before the first")
    return start, stop


def _find_line(source_lines, bound, search_from, title, which):
    if isinstance(bound, str):
        for number in range(search_from, len(source_lines) + 1):
            if bound in source_lines[number - 1]:
                return number
        raise ValueError(f"show_source: the {which} line {bound!r} matches "
                         f"no line of {title}")
    if (isinstance(bound, bool) or not isinstance(bound, int)
            or not 1 <= bound <= len(source_lines)):
        raise ValueError(f"show_source: the {which} line {bound!r} of "
                         f"{title} must be a string or a line number from "
                         f"1 to {len(source_lines)}")
    return bound


# ----- highlighted lines --------------------------------------------------

def _highlight_marks(highlight):
    if highlight is None:
        return []
    if isinstance(highlight, (list, tuple, set, range)):
        marks = list(highlight)
    else:
        marks = [highlight]
    for mark in marks:
        if isinstance(mark, bool) or not isinstance(mark, (int, str)):
            raise TypeError("show_source: highlight takes line numbers and "
                            f"strings, got {mark!r}")
    return marks


def _has_numbers(highlight):
    return any(isinstance(m, int) for m in _highlight_marks(highlight))


def _resolve_highlight(block, marks):
    code_lines = block.code.splitlines()
    numbers = set()
    for mark in marks:
        if isinstance(mark, str):
            numbers.update(i for i, line in enumerate(code_lines, start=1)
                           if mark in line)
        elif 1 <= mark <= len(code_lines):
            numbers.add(mark)
        else:
            raise ValueError(f"show_source: highlight line {mark} is "
                             f"outside the listing of {block.title} (lines "
                             f"1 to {len(code_lines)})")
    return tuple(sorted(numbers))


# ----- HTML ---------------------------------------------------------------

def _highlighted_html(block):
    """``<div class="highlight"><pre>...</pre></div>``, the markup of
    Sphinx's code blocks."""
    # pygments comes with IPython; without it the code is shown uncoloured
    try:
        from pygments import highlight as pygmentize
        from pygments.formatters import HtmlFormatter
        from pygments.lexers import PythonLexer
    except ImportError:
        code_lines = [html.escape(line) + "\n"
                      for line in block.code.splitlines()]
        for number in block.highlighted:
            line = code_lines[number - 1]
            code_lines[number - 1] = f'<span class="hll">{line}</span>'
        return ('<div class="highlight"><pre><span></span>'
                f'{"".join(code_lines)}</pre></div>')
    formatter = HtmlFormatter(hl_lines=list(block.highlighted))
    lexer = PythonLexer(stripnl=False)
    return pygmentize(block.code + "\n", lexer, formatter).rstrip("\n")


def _css_classes(body):
    return set(re.findall(r'class="([a-z0-9]+)"', body))


# Colours for Jupyter: JupyterLab's own editor colours (CSS variables, so
# its light and dark themes both work), else those of pygments' "default"
# style, which classic Jupyter used. Keyed by pygments token type; a token
# without an entry takes its parent type's.
_JUPYTER_COLOURS = {
    "Keyword": "color: var(--jp-mirror-editor-keyword-color, #008000); "
               "font-weight: bold",
    "Operator.Word": "color: var(--jp-mirror-editor-keyword-color, "
                     "#AA22FF); font-weight: bold",
    "Operator": "color: var(--jp-mirror-editor-operator-color, #666666)",
    "Name.Builtin": "color: var(--jp-mirror-editor-builtin-color, #008000)",
    "Name.Function": "color: var(--jp-mirror-editor-def-color, #0000FF)",
    "Name.Class": "color: var(--jp-mirror-editor-def-color, #0000FF); "
                  "font-weight: bold",
    "Name.Decorator": "color: var(--jp-mirror-editor-meta-color, #AA22FF)",
    "Name.Exception": "color: var(--jp-mirror-editor-builtin-color, "
                      "#CB3F38); font-weight: bold",
    "Literal.String": "color: var(--jp-mirror-editor-string-color, "
                      "#BA2121)",
    "Literal.String.Doc": "color: var(--jp-mirror-editor-string-color, "
                          "#BA2121); font-style: italic",
    "Literal.Number": "color: var(--jp-mirror-editor-number-color, "
                      "#666666)",
    "Comment": "color: var(--jp-mirror-editor-comment-color, #3D7B7B); "
               "font-style: italic",
    "Punctuation": "color: var(--jp-mirror-editor-punctuation-color, "
                   "inherit)",
}

# Only where the page has no `data-theme` on <html>: the site's theme
# (pydata-sphinx-theme) sets one and brings its own, matching style for
# these classes.
_SCOPE = "html:not([data-theme]) .hg-listing"

_LAYOUT = (
    f"{_SCOPE} .code-block-caption {{"
    "font-family: var(--jp-ui-font-family, sans-serif); "
    "font-size: 0.8em; color: var(--jp-ui-font-color2, #616161); "
    "margin: 0.6em 0 0.2em}"
    f"{_SCOPE} .highlight pre {{margin: 0; padding: 0.4em 0.6em; "
    "line-height: 1.35; white-space: pre; overflow-x: auto; "
    "background: var(--jp-cell-editor-background, #f7f7f7); "
    "border: 1px solid var(--jp-border-color2, #e0e0e0); "
    "border-radius: 2px}"
    f"{_SCOPE} .hll {{display: block; background-color: "
    "var(--jp-editor-selected-focused-background, #ffffcc)}"
    # A highlighted line must still show on paper, where browsers drop
    # backgrounds by default.
    ".hg-listing .hll {-webkit-print-color-adjust: exact; "
    "print-color-adjust: exact}"
)


def _stylesheet(classes):
    try:
        from pygments.token import STANDARD_TYPES
    except ImportError:
        return _LAYOUT
    rules = []
    for token_type, css_class in STANDARD_TYPES.items():
        if css_class not in classes:
            continue
        while (token_type is not None
               and _dotted(token_type) not in _JUPYTER_COLOURS):
            token_type = token_type.parent
        if token_type is not None:
            rules.append(f"{_SCOPE} .highlight .{css_class} "
                         f"{{{_JUPYTER_COLOURS[_dotted(token_type)]}}}")
    return _LAYOUT + "".join(sorted(rules))


def _dotted(token_type):
    return ".".join(token_type)  # Token.Literal.String -> "Literal.String"

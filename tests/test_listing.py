"""hellograd.show_source: the chapters' way of showing library code."""

import importlib
import inspect
import re
import sys
import textwrap

import pytest

import hellograd
from hellograd import Scalar, Tensor, nn
from hellograd.listing import Listing, show_source


DEMO_CORE = textwrap.dedent('''\
    """A module for the tests of show_source: its line numbers are known."""

    SCALE = 2.0


    def double(x):
        """Two times x."""
        y = x * SCALE
        return y


    class Box:
        """A box."""

        def __init__(self, value):
            self.value = value

        @property
        def doubled(self):
            return double(self.value)


    # The old name of double, kept for old callers.
    twice = double
    ''')


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """A small package on disk, so that these tests do not follow the library's edits."""
    root = tmp_path_factory.mktemp("demo")
    (root / "listing_demo").mkdir()
    (root / "listing_demo" / "__init__.py").write_text("")
    (root / "listing_demo" / "core.py").write_text(DEMO_CORE)
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module("listing_demo.core")
    finally:
        sys.path.remove(str(root))
        for name in ("listing_demo.core", "listing_demo"):
            sys.modules.pop(name, None)


def _text_of_html(markup):
    """The characters a reader sees: tags dropped, entities decoded."""
    import html
    body = markup.split("</style>", 1)[1]
    return html.unescape(re.sub(r"<[^>]+>", "", body))


def test_html_holds_the_functions_own_source():
    listing = show_source(Tensor.__mul__)
    assert isinstance(listing, Listing)
    expected = inspect.getsource(Tensor.__mul__)
    # Dedented: a method reads as a function, its first line at column 0.
    assert listing.code == "\n".join(line[4:] for line in expected.rstrip("\n").splitlines())
    markup = listing._repr_html_()
    assert listing.code in _text_of_html(markup)
    # The markup of Sphinx's own code blocks, so the site's style colours it as it does them.
    assert '<div class="highlight"><pre>' in markup and 'class="k">def</span>' in markup


def test_caption_gives_the_file_from_the_package_and_the_lines():
    listing = show_source(Tensor.__mul__)
    lines, first = inspect.getsourcelines(Tensor.__mul__)
    caption = f"hellograd/tensor.py, lines {first}\N{EN DASH}{first + len(lines) - 1}"
    assert listing.captions == [caption]
    assert caption in _text_of_html(listing._repr_html_())
    # No folder of the machine it ran on (the site must not show build paths).
    assert str(hellograd.__file__).rsplit("/", 2)[0] not in listing._repr_html_()


def test_a_decorated_function_is_captioned_with_its_own_file():
    # detect_anomaly is wrapped by contextlib.contextmanager, which lives in contextlib.py.
    listing = show_source(hellograd.detect_anomaly)
    assert listing.captions[0].startswith("hellograd/anomaly.py, lines ")
    assert "def detect_anomaly" in listing.code


def test_plain_text_has_caption_and_code():
    text = repr(show_source(Tensor.__mul__))
    assert text.splitlines()[0].startswith("# hellograd/tensor.py, lines ")
    assert "def __mul__(self, other):" in text
    assert str(show_source(Tensor.__mul__)) == text


def test_highlight_by_line_number_and_by_string():
    by_number = show_source(Tensor.__mul__, highlight=[1, 3])
    by_string = show_source(Tensor.__mul__, highlight=["def __mul__", "return"])
    for listing in (by_number, by_string):
        marked = [line for line in repr(listing).splitlines()[1:] if line.startswith("> ")]
        assert [m[2:] for m in marked] == [listing.code.splitlines()[0], listing.code.splitlines()[2]]
        assert listing._repr_html_().count('<span class="hll">') == 2
    plain = repr(show_source(Tensor.__mul__))
    assert not any(line.startswith("> ") for line in plain.splitlines())


def test_a_highlight_that_matches_nothing_is_an_error():
    with pytest.raises(ValueError, match="'no such text' matches no line"):
        show_source(Tensor.__mul__, highlight="no such text")
    with pytest.raises(ValueError, match="highlight line 99 is outside"):
        show_source(Tensor.__mul__, highlight=99)
    with pytest.raises(TypeError, match="line numbers and strings"):
        show_source(Tensor.__mul__, highlight=1.5)


def test_captions_of_a_known_file(demo):
    assert show_source(demo.double).captions == ["listing_demo/core.py, lines 6\N{EN DASH}9"]
    assert show_source(demo.Box.doubled).captions == ["listing_demo/core.py, lines 18\N{EN DASH}20"]
    assert show_source(demo.double, lines=(3, 3)).captions == ["listing_demo/core.py, line 8"]
    assert show_source(demo.Box.doubled).code == "@property\ndef doubled(self):\n    return double(self.value)"


def test_part_of_a_function_by_lines(demo):
    part = show_source(demo.Box, lines=("def __init__", "self.value = value"))
    assert part.code == "def __init__(self, value):\n    self.value = value"  # dedented
    assert part.captions == ["listing_demo/core.py, lines 15\N{EN DASH}16"]
    assert show_source(demo.double, lines=(2, 3)).code == '"""Two times x."""\ny = x * SCALE'
    # The search for the last line starts at the first: "y" is found on line 3, not line 1.
    assert show_source(demo.double, lines=("y =", "y")).code == "y = x * SCALE"
    with pytest.raises(ValueError, match="matches no line"):
        show_source(demo.double, lines=("nowhere", 3))
    with pytest.raises(ValueError, match="line number from 1 to 4"):
        show_source(demo.double, lines=(0, 3))
    with pytest.raises(ValueError, match="comes before the first"):
        show_source(demo.double, lines=(3, 2))


def test_methods_properties_classes_and_modules():
    assert show_source(Tensor.T).code.startswith("@property\ndef T(self):")
    assert show_source(Tensor.shape).code.startswith("shape = property(lambda self: self.data.shape")
    assert show_source(Scalar).code.startswith("class Scalar:")
    assert show_source(nn.Linear.forward).code.startswith("def forward(self, x):")
    assert show_source(Tensor(1.0).exp).code.startswith("def exp(self):")  # a bound method
    assert show_source(hellograd.optim).captions[0].startswith("hellograd/optim.py, lines 1\N{EN DASH}")
    # A decorated function shows the function as written (custom_gradient uses functools.wraps).
    assert "def custom_gradient(fn):" in show_source(hellograd.custom_gradient).code


def test_a_module_level_name_by_string(demo):
    alias = show_source("listing_demo.core.twice")
    # The assignment, with the comment just above it, not the function it names.
    assert alias.code == "# The old name of double, kept for old callers.\ntwice = double"
    assert alias.captions == ["listing_demo/core.py, lines 23\N{EN DASH}24"]
    assert show_source("listing_demo.core.SCALE").code == "SCALE = 2.0"
    # A string naming a function (or a method) shows it, as the object itself does.
    assert show_source("listing_demo.core.double").code == show_source(demo.double).code
    assert show_source("listing_demo.core.Box.__init__").code.startswith("def __init__(self, value):")
    assert show_source("hellograd.topological_order").code == show_source(
        hellograd.topological_order).code
    with pytest.raises(ValueError, match="has no attribute 'nope'"):
        show_source("listing_demo.core.nope")
    with pytest.raises(ValueError, match="names no importable module"):
        show_source("no_such_package_anywhere.x")


def test_several_objects_in_one_output():
    both = show_source(Tensor.__add__, Tensor.__mul__, highlight="def ")
    assert len(both.captions) == 2
    assert both._repr_html_().count('class="code-block-caption"') == 2
    assert both._repr_html_().count('<span class="hll">') == 2
    with pytest.raises(ValueError, match="ambiguous"):
        show_source(Tensor.__add__, Tensor.__mul__, highlight=1)
    with pytest.raises(ValueError, match="ambiguous"):
        show_source(Tensor.__add__, Tensor.__mul__, lines=(1, 2))


def test_objects_without_source_get_a_clear_error():
    for obj in (len, 3, Tensor(1.0)):
        with pytest.raises(TypeError, match="show_source: cannot find the source of"):
            show_source(obj)
    with pytest.raises(TypeError, match="at least one object"):
        show_source()


def test_without_pygments_the_code_is_plain_but_complete(monkeypatch):
    monkeypatch.setitem(sys.modules, "pygments", None)  # import pygments now raises ImportError
    listing = show_source(Tensor.__mul__, highlight=2)
    markup = listing._repr_html_()
    assert '<span class="k">' not in markup
    assert listing.code in _text_of_html(markup)
    assert markup.count('<span class="hll">') == 1


def test_jupyter_style_never_applies_on_the_site():
    """The stylesheet a listing carries is scoped to pages without the site theme's
    `data-theme`, so on the site the theme's own code-block style alone applies."""
    style = show_source(Tensor.__mul__)._repr_html_().split("<style>")[1].split("</style>")[0]
    selectors = [rule.split("{")[0] for rule in style.split("}") if "{" in rule]
    assert selectors and all(
        s.startswith("html:not([data-theme]) .hg-listing") or "color-adjust" in rule
        for s, rule in zip(selectors, style.split("}")))
    # Only the token classes this listing uses get a rule.
    assert ".highlight .k " in style and ".highlight .nc " not in style


def test_a_function_from_a_notebook_cell():
    """IPython runs each cell from a numbered temporary file; its name means nothing to a reader."""
    import linecache
    filename = "/tmp/ipykernel_4711/2934857.py"
    source = "def cell_function(x):\n    return x + 1\n"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = {}
    exec(compile(source, filename, "exec"), namespace)
    try:
        listing = show_source(namespace["cell_function"])
    finally:
        del linecache.cache[filename]
    assert listing.code == source.rstrip("\n")
    assert listing.captions == ["cell_function, defined in this notebook"]
    assert "ipykernel" not in listing._repr_html_() and "ipykernel" not in repr(listing)

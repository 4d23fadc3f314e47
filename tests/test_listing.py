"""hellograd.show_source: the chapters' way of showing library code."""

import inspect
import re
import sys

import pytest

import hellograd
from hellograd import Scalar, Tensor, nn
from hellograd.listing import Listing, show_source


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


def test_part_of_a_function_by_lines():
    full = show_source(hellograd.make_op)
    part = show_source(hellograd.make_op, lines=("out = Tensor", "return out"))
    assert part.code.splitlines()[0] == "out = Tensor.__new__(Tensor)"
    assert part.code.splitlines()[-1] == "return out"
    assert part.code in full.code.replace("\n    ", "\n")
    first = int(re.search(r"lines (\d+)", full.captions[0]).group(1))
    offset = full.code.splitlines().index("    out = Tensor.__new__(Tensor)")
    assert part.captions[0].startswith(f"hellograd/tensor.py, lines {first + offset}\N{EN DASH}")
    numbered = show_source(hellograd.make_op, lines=(1, 2))
    assert numbered.code == "\n".join(full.code.splitlines()[:2])
    with pytest.raises(ValueError, match="matches no line"):
        show_source(hellograd.make_op, lines=("nowhere", 3))
    with pytest.raises(ValueError, match="line number from 1 to"):
        show_source(hellograd.make_op, lines=(0, 3))


def test_methods_properties_classes_and_modules():
    assert show_source(Tensor.T).code.startswith("@property\ndef T(self):")
    assert show_source(Tensor.shape).code.startswith("shape = property(lambda self: self.data.shape")
    assert show_source(Scalar).code.startswith("class Scalar:")
    assert show_source(nn.Linear.forward).code.startswith("def forward(self, x):")
    assert show_source(Tensor(1.0).exp).code.startswith("def exp(self):")  # a bound method
    assert show_source(hellograd.optim).captions[0].startswith("hellograd/optim.py, lines 1\N{EN DASH}")
    # A decorated function shows the function as written (custom_gradient uses functools.wraps).
    assert "def custom_gradient(fn):" in show_source(hellograd.custom_gradient).code


def test_a_module_level_name_by_string():
    alias = show_source("hellograd.tensor.make_op")
    assert alias.code.splitlines()[-1] == "make_op = _make"
    assert alias.code.startswith("#")  # the comment above the assignment comes with it
    # A string naming a function shows the function, as the object itself does.
    assert show_source("hellograd.autograd.topological_order").code == show_source(
        hellograd.topological_order).code
    assert show_source("hellograd.__version__").code.startswith("__version__ = ")
    with pytest.raises(ValueError, match="has no attribute 'nope'"):
        show_source("hellograd.tensor.nope")


def test_several_objects_in_one_output():
    both = show_source(Tensor.__add__, Tensor.__mul__, highlight="_make")
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

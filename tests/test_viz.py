"""`draw_graph` (chapter "Building the graph"): a matplotlib Figure that labels every node."""

import pytest

# The library needs only NumPy; drawing needs the [plot] extra, so without it these skip.
matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from hellograd import Scalar, Tensor, draw_graph, topological_order  # noqa: E402


def texts(fig):
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def running_example(kind):
    x, z = kind(2.0, name="x"), kind(0.0, name="z")
    y = 3 * x * x * x + 4 * x + 1 + x * z
    y.name = "y"
    return x, z, y


def tensor(value, name):
    return Tensor(value, requires_grad=True, name=name)


def test_a_tensor_graph_before_and_after_backward():
    x, z, y = running_example(tensor)
    fig = draw_graph(y)
    assert isinstance(fig, matplotlib.figure.Figure)
    labels = texts(fig)
    assert "x\nvalue 2" in labels and "z\nvalue 0" in labels and "y: add\nvalue 33" in labels
    assert sum(label.startswith("mul") for label in labels) == 5
    assert not any("grad" in label for label in labels)
    plt.close(fig)

    y.backward(retain_graph=True)   # keep the graph to draw it
    fig = draw_graph(y)
    labels = texts(fig)
    assert "x\nvalue 2\ngrad 40" in labels and "z\nvalue 0\ngrad 2" in labels
    # Only leaves keep a Tensor's gradient: the rest are drawn without one.
    assert "y: add\nvalue 33" in labels and sum("grad" in label for label in labels) == 2
    # every node is drawn once: the 12 nodes of the graph plus the constants 3, 4, 1
    assert len(labels) == len(topological_order(y)) + 3
    plt.close(fig)


def test_a_scalar_graph():
    x, z, y = running_example(lambda v, name: Scalar(v, name=name))
    y.backward()
    fig = draw_graph(y)
    labels = texts(fig)
    assert "x\nvalue 2\ngrad 40" in labels and "y: +\nvalue 33\ngrad 1" in labels
    plt.close(fig)


def test_gradients_in_the_middle_of_a_backward_pass_and_highlight():
    x, z, y = running_example(lambda v, name: Scalar(v, name=name))
    fig, ax = plt.subplots()
    assert draw_graph(y, grads={id(y): 1.0}, highlight=y, ax=ax, title="step 1") is fig
    labels = texts(fig)
    assert "y: +\nvalue 33\ngrad 1" in labels and "x\nvalue 2" in labels
    assert ax.get_title() == "step 1"
    plt.close(fig)


def test_arrays_are_labelled_by_value_or_shape():
    w = Tensor(np.ones((3, 4)), requires_grad=True, name="W")
    v = Tensor([1.0, 2.0], requires_grad=True, name="v")
    fig = draw_graph((w.sum() * v).sum())
    labels = texts(fig)
    assert "W\nvalue array (3, 4)" in labels and "v\nvalue [1, 2]" in labels
    plt.close(fig)


def test_each_edge_is_drawn_even_for_a_node_used_twice():
    x = tensor(3.0, "x")
    fig = draw_graph(x * x)
    assert len(fig.axes[0].patches) == 2 + 2  # two boxes, two arrows
    plt.close(fig)


def test_a_graph_that_backward_freed_is_refused_with_the_way_out():
    x, z, y = running_example(tensor)
    y.backward()
    with pytest.raises(RuntimeError, match=r"draw_graph: the graph of y was freed .*"
                                           r"retain_graph=True"):
        draw_graph(y)
    plt.close("all")


def test_something_that_is_not_a_graph():
    with pytest.raises(TypeError, match="draw_graph: expected a hellograd Tensor or Scalar"):
        draw_graph(np.ones(3))


# --- slider_player: a demo that works with no kernel -------------------------------------------

import json  # noqa: E402
import re  # noqa: E402
from urllib.parse import unquote  # noqa: E402

from hellograd.viz import SliderPlayer, slider_player  # noqa: E402


def line(slope):
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1], [0, slope])
    ax.set_title(f"slope {slope}")
    return fig


def player_data(player):
    """The frames, labels and alt texts the player's script reads."""
    match = re.search(r'<script type="application/json">(.*?)</script>', player.html, re.S)
    return json.loads(match.group(1))


def test_a_player_holds_one_picture_per_value_and_shows_the_start_one():
    player = slider_player(line, [0.5, 1.0, 2.0], label="slope {:.1f}", start=1,
                           alt=lambda s: f"a line rising by {s} over one unit")
    assert isinstance(player, SliderPlayer) and len(player) == 3
    assert player.labels == ["slope 0.5", "slope 1.0", "slope 2.0"]
    data = player_data(player)
    assert len(data["frames"]) == 3 and all(f.startswith("<?xml") for f in data["frames"])
    assert "slope 2.0" in data["frames"][2] and "slope 2.0" not in data["frames"][0]  # text as text
    assert data["alts"][2] == "a line rising by 2.0 over one unit"
    # Without JavaScript (a PDF, a sanitised notebook) the start picture, its alt and label show.
    img = re.search(r'<img src="([^"]+)" alt="([^"]+)" width="(\d+)" height="(\d+)"', player.html)
    assert unquote(img.group(1)).endswith(data["frames"][1].split("?>", 1)[1])
    assert img.group(2) == "a line rising by 1.0 over one unit"
    assert (img.group(3), img.group(4)) == ("300", "200")   # the figure's size in CSS pixels
    assert 'value="1"' in player.html and ">slope 1.0</output>" in player.html
    assert 'aria-label="slope"' in player.html
    assert player._repr_html_() == player.html and "3 frames" in repr(player)
    assert not plt.get_fignums(), "every frame's figure is closed"


def test_the_page_loads_nothing_from_elsewhere():
    html = unquote(slider_player(line, [1, 2], alt="a line").html)
    # Addresses appear only as the SVG's namespace names, which nothing fetches.
    assert set(re.findall(r"https?://[^\s\\\"']+", html)) <= {
        "http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink",
        "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd"}
    assert "<link" not in html and "@import" not in html
    # A "</script>" in a label cannot end the data early.
    player = slider_player(line, [1], alt="a line", label="</script>{}")
    assert player_data(player)["labels"] == ["</script>1"]


def test_png_frames_are_drawn_for_high_dpi_screens():
    player = slider_player(line, [1, 2], alt="a line", image_format="png")
    frames = player_data(player)["frames"]
    assert all(f.startswith("data:image/png;base64,") for f in frames)
    import base64
    import struct
    png = base64.b64decode(frames[0].split(",", 1)[1])
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == (600, 400)   # twice the 300 x 200 CSS pixels


def test_draw_may_use_the_current_figure():
    def draw(slope):
        plt.figure(figsize=(3, 2))
        plt.plot([0, slope])
    assert len(slider_player(draw, [1, 2, 3], alt="a line")) == 3
    assert not plt.get_fignums()


def test_two_players_of_the_same_pictures_have_their_own_ids():
    ids = [re.search(r'id="([^"]+)"', slider_player(line, [1], alt="a line").html).group(1)
           for _ in range(2)]
    assert ids[0] != ids[1]


@pytest.mark.parametrize("kwargs, message", [
    ({"values": []}, "values is empty"),
    ({"start": 3}, r"start=3 is not an index into the 2 values"),
    ({"image_format": "gif"}, "image_format must be 'svg' or 'png'"),
    ({"alt": ""}, "alt for values\\[0\\]=1 is ''"),
    ({"alt": lambda v: None}, "alt for values\\[0\\]=1 is None"),
    ({"max_bytes": 1000}, r"1 of the 2 pictures already take .* over max_bytes"),
])
def test_bad_arguments_are_refused_by_name(kwargs, message):
    arguments = {"draw": line, "values": [1, 2], "alt": "a line", **kwargs}
    with pytest.raises(ValueError, match=message):
        slider_player(**arguments)
    plt.close("all")


def test_pictures_of_different_sizes_are_refused():
    sizes = iter([(3, 2), (4, 2)])

    def draw(value):
        return plt.figure(figsize=next(sizes))
    with pytest.raises(ValueError, match=r"values\[1\]=2 is 400x200 px, the first one 300x200"):
        slider_player(draw, [1, 2], alt="an empty figure")
    plt.close("all")

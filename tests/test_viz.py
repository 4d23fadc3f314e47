"""`draw_graph` (chapter "Building the graph"): a matplotlib Figure that labels every node."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

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

    y.backward()
    fig = draw_graph(y)
    labels = texts(fig)
    assert "x\nvalue 2\ngrad 40" in labels and "z\nvalue 0\ngrad 2" in labels
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


def test_something_that_is_not_a_graph():
    with pytest.raises(TypeError, match="draw_graph: expected a hellograd Tensor or Scalar"):
        draw_graph(np.ones(3))

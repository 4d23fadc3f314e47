"""Draw the two pictures on the book's first page, with the library the book builds.

    make figures        # or: python book/figures/make_intro_figures.py

writes, next to this file,

- ``intro_graph.svg``: the computation graph of one neuron, ``y = tanh(w * x + b)``, after
  ``y.backward()``, drawn by ``hellograd.draw_graph``: every box shows its value and the
  gradient of ``y`` with respect to it;
- ``intro_digits.svg``: the first sixteen MNIST test digits with their labels, loaded by
  ``hellograd.data.load_mnist`` (it reads ``$MNIST_DIR``; ``make`` sets it for the developers).

The files are committed (the site build does not run this script), so they are kept small and
byte-for-byte reproducible: SVG with the text kept as text, no date, a fixed hash salt.
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import hellograd as hg  # noqa: E402
from hellograd.data import load_mnist  # noqa: E402

HERE = Path(__file__).resolve().parent
SVG = {"format": "svg", "metadata": {"Date": None, "Creator": None}, "bbox_inches": "tight"}
plt.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "hello-autodiff",
                     "font.family": "DejaVu Sans"})


def neuron_graph():
    """One neuron, y = tanh(w * x + b), and its gradients: the graph the book learns to walk."""
    x = hg.Tensor(0.5, requires_grad=True, name="x")
    w = hg.Tensor(-1.5, requires_grad=True, name="w")
    b = hg.Tensor(2.0, requires_grad=True, name="b")
    wx = w * x
    s = wx + b
    y = s.tanh()
    y.name = "y"
    # The picture shows every node's gradient, so the inner nodes keep theirs (only leaves
    # do by default), and the graph stays to be drawn after the pass.
    for node in (wx, s, y):
        node.retain_grad()
    y.backward(retain_graph=True)
    fig = hg.draw_graph(y, title="y = tanh(w·x + b), after y.backward()")
    fig.savefig(HERE / "intro_graph.svg", **SVG)
    plt.close(fig)


def digits():
    """The first sixteen test digits, as the network of the last chapter sees them."""
    _, _, x_test, y_test = load_mnist(download=False)
    fig, axes = plt.subplots(2, 8, figsize=(8, 2.4))
    for ax, image, label in zip(axes.ravel(), x_test, y_test):
        ax.imshow(image, cmap="gray_r", interpolation="nearest")
        ax.set_title(str(label), fontsize=11)
        ax.set_axis_off()
    fig.savefig(HERE / "intro_digits.svg", **SVG)
    plt.close(fig)


if __name__ == "__main__":
    neuron_graph()
    digits()
    for name in ("intro_graph.svg", "intro_digits.svg"):
        print(f"{HERE / name}: {(HERE / name).stat().st_size / 1024:.1f} KiB")

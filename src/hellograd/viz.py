"""`draw_graph`: a picture of the computation graph, drawn with matplotlib alone.

Introduced in the chapter "Building the graph" and used again in "Topological
sort". It works on any node that has ``_parents`` and ``_op`` (a
:class:`hellograd.Tensor` or a :class:`hellograd.Scalar`): no Graphviz or other
system package is needed, so the drawings render wherever the book does.
"""

from __future__ import annotations

import numpy as np

# Box size, in units of the column (and row) spacing.
_BOX_WIDTH, _BOX_HEIGHT = 0.78, 0.74
_COLORS = {"input": "#dbeafe", "constant": "#eeeeee", "op": "#fef9c3", "highlight": "#fdba74"}


def _value_of(node):
    return node.value if hasattr(node, "value") else node.data


def _format(number):
    """A short label: scalars as numbers, small arrays in full, bigger ones by shape."""
    array = np.asarray(number, dtype=float)
    if array.size == 1:
        return f"{array.item():.4g}"
    if array.size <= 3:
        return "[" + ", ".join(f"{v:.3g}" for v in array.ravel()) + "]"
    return f"array {array.shape}"


def _columns(root):
    """Every node of the graph (each once, by identity) and its column.

    An operation sits one column right of its right-most parent. A leaf (an
    input or a constant) sits just left of the first operation that uses it,
    so a constant such as the ``1`` in ``... + 1`` is drawn next to its use.
    """
    nodes, column, children = {}, {}, {}
    stack = [root]
    while stack:  # iterative, parents before children
        node = stack[-1]
        if id(node) in nodes:
            stack.pop()
            continue
        waiting = [p for p in node._parents if id(p) not in nodes]
        if waiting:
            stack.extend(reversed(waiting))
            continue
        stack.pop()
        nodes[id(node)] = node
        column[id(node)] = 1 + max((column[id(p)] for p in node._parents), default=-1)
        for p in node._parents:
            children.setdefault(id(p), []).append(id(node))
    for key, node in nodes.items():
        if not node._parents and key in children:
            column[key] = max(0, min(column[c] for c in children[key]) - 1)
    return nodes, column


def _lanes(nodes, column):
    """Route every edge: one waypoint ("lane") per column that it passes over.

    A lane takes a slot in its column like a box does, so an edge that skips
    columns runs between the boxes instead of through them.
    """
    edges, neighbours = [], {key: [] for key in nodes}
    for key, node in nodes.items():
        for i, parent in enumerate(node._parents):
            chain = [id(parent)]
            for c in range(column[id(parent)] + 1, column[key]):
                lane = ("lane", key, i, c)
                column[lane], neighbours[lane] = c, []
                chain.append(lane)
            chain.append(key)
            for a, b in zip(chain, chain[1:]):
                neighbours[a].append(b)
                neighbours[b].append(a)
            edges.append((chain, i, len(node._parents)))
    return edges, neighbours


def _rows(column, neighbours, sweeps=6):
    """A vertical position per box and lane: sweeps that order each column by the
    mean height of the neighbours, which untangles most crossing edges."""
    layers = {}
    for key in neighbours:
        layers.setdefault(column[key], []).append(key)
    row = {}

    def place(layer):
        for rank, key in enumerate(layer):
            row[key] = (len(layer) - 1) / 2 - rank

    for layer in layers.values():
        place(layer)
    for sweep in range(sweeps):
        for c in sorted(layers, reverse=sweep % 2 == 1):
            layers[c].sort(key=lambda key: -np.mean([row[k] for k in neighbours[key]] or [row[key]]))
            place(layers[c])
    return row, max(len(layer) for layer in layers.values())


def draw_graph(y, grads=None, highlight=(), ax=None, title=None, fontsize=9):
    """Draw the graph that computed ``y``: one box per node, inputs on the left.

    Each box shows the node's name (or its op), its value and, once a backward
    pass has run, its gradient. Blue boxes are inputs, grey ones constants and
    yellow ones operations. Introduced in the chapter "Building the graph".

    ``grads`` (optional) maps ``id(node)`` to the gradient to show instead of
    ``node.grad``, to draw a backward pass in the middle (chapter "Topological
    sort"); ``highlight`` is a node or nodes to draw in orange. Draws into ``ax``
    if given. Returns the matplotlib Figure.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
    from matplotlib.path import Path

    if not (hasattr(y, "_parents") and hasattr(y, "_op")):
        raise TypeError(f"draw_graph: expected a hellograd Tensor or Scalar, got {type(y).__name__}")
    highlight = {id(h) for h in (highlight if isinstance(highlight, (list, tuple, set)) else [highlight])}

    nodes, column = _columns(y)
    edges, neighbours = _lanes(nodes, column)
    row, height = _rows(column, neighbours)
    width = max(column.values()) + 1
    if grads is None:
        # After backward the output's own gradient is set (Tensor: an array; Scalar: 1.0).
        grads = {key: n.grad for key, n in nodes.items()} if _has_gradients(y) else {}

    if ax is None:
        fig, ax = plt.subplots(figsize=(max(3.0, 1.75 * width), max(1.6, 1.05 * height)),
                               layout="constrained")
    fig = ax.figure

    half = _BOX_WIDTH / 2
    for chain, index, count in edges:
        # Leave the parent's right side, run along each lane, enter the child's left
        # side; the arguments of one op enter from top to bottom in argument order.
        points = [(column[chain[0]] + half, row[chain[0]])]
        for lane in chain[1:-1]:
            points += [(column[lane] - half, row[lane]), (column[lane] + half, row[lane])]
        points.append((column[chain[-1]] - half, row[chain[-1]] + 0.12 * ((count - 1) / 2 - index)))
        ax.add_patch(FancyArrowPatch(path=Path(points), arrowstyle="-|>", mutation_scale=10,
                                     color="#555555", lw=1.0, zorder=1))
    for key, node in nodes.items():
        x0, y0 = column[key], row[key]
        kind = "op" if node._parents else ("input" if _is_input(node) else "constant")
        color = _COLORS["highlight"] if key in highlight else _COLORS[kind]
        ax.add_patch(FancyBboxPatch((x0 - half, y0 - _BOX_HEIGHT / 2), _BOX_WIDTH, _BOX_HEIGHT,
                                    boxstyle="round,pad=0,rounding_size=0.08", facecolor=color,
                                    edgecolor="#333333", lw=1.0, zorder=2))
        lines = [_label(node), f"value {_format(_value_of(node))}"]
        if grads.get(key) is not None:
            lines.append(f"grad {_format(grads[key])}")
        ax.text(x0, y0, "\n".join(lines), ha="center", va="center", fontsize=fontsize,
                family="monospace", zorder=3)

    ax.set_xlim(-0.5, width - 0.5)
    ax.set_ylim(-height / 2, height / 2)
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=fontsize + 1)
    return fig


def _label(node):
    if node.name and node._op:
        return f"{node.name}: {node._op}"
    return node.name or node._op or "const"


def _is_input(node):
    """A leaf we differentiate by: a named Scalar, or a Tensor with requires_grad."""
    if hasattr(node, "value"):
        return node.name is not None
    return node.requires_grad


def _has_gradients(y):
    grad = y.grad
    return grad is not None and np.any(np.asarray(grad) != 0)

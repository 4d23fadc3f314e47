"""Pictures for the book, drawn with matplotlib alone.

`draw_graph` draws the computation graph: introduced in the chapter
"Building the graph" and used again in "Topological sort". It works on any
node that has ``_parents`` and ``_op`` (a :class:`hellograd.Tensor` or a
:class:`hellograd.Scalar`): no Graphviz or other system package is needed,
so the drawings render wherever the book does.

`slider_player` turns pictures drawn in advance into a slider that works
with no kernel behind the page (the book's site, its PDF).
"""

from __future__ import annotations

import numpy as np

# Box size, in units of the column (and row) spacing.
_BOX_WIDTH, _BOX_HEIGHT = 0.78, 0.74
_COLORS = {"input": "#dbeafe", "constant": "#eeeeee", "op": "#fef9c3",
           "highlight": "#fdba74"}


def _value_of(node):
    return node.value if hasattr(node, "value") else node.data


def _format(number):
    """A short label: scalars as numbers, small arrays in full, bigger
    ones by shape."""
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
        column[id(node)] = 1 + max((column[id(p)] for p in node._parents),
                                   default=-1)
        for p in node._parents:
            children.setdefault(id(p), []).append(id(node))
    for key, node in nodes.items():
        if not node._parents and key in children:
            column[key] = max(0, min(column[c] for c in children[key]) - 1)
    return nodes, column


def _lanes(nodes, column):
    """Route every edge: one waypoint ("lane") per column that it passes
    over.

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
    """A vertical position per box and lane: sweeps that order each column
    by the mean height of the neighbours, which untangles most crossing
    edges."""
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
            layers[c].sort(key=lambda key: -np.mean(
                [row[k] for k in neighbours[key]] or [row[key]]))
            place(layers[c])
    return row, max(len(layer) for layer in layers.values())


def _pyplot(caller):
    """matplotlib.pyplot, or an ImportError that says how to get it: the
    library itself needs only NumPy, and drawing is an extra."""
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError(
            f"{caller} draws with matplotlib, which is not installed: "
            f'pip install "hellograd[plot]" (or matplotlib itself)'
        ) from None
    return plt


def draw_graph(y, grads=None, highlight=(), ax=None, title=None,
               fontsize=9):
    """Draw the graph that computed ``y``: one box per node, inputs on the
    left.

    Each box shows the node's name (or its op), its value and, once a
    backward pass has run, its gradient. Blue boxes are inputs, grey ones
    constants and yellow ones operations. Introduced in the chapter
    "Building the graph".

    ``grads`` (optional) maps ``id(node)`` to the gradient to show instead
    of ``node.grad``, to draw a backward pass in the middle (chapter
    "Topological sort"); ``highlight`` is a node or nodes to draw in orange.
    Draws into ``ax`` if given. Returns the matplotlib Figure.
    """
    plt = _pyplot("draw_graph")
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
    from matplotlib.path import Path

    if not (hasattr(y, "_parents") and hasattr(y, "_op")):
        raise TypeError(f"draw_graph: expected a hellograd Tensor or "
                        f"Scalar, got {type(y).__name__}")
    if not isinstance(highlight, (list, tuple, set)):
        highlight = [highlight]
    highlight = {id(h) for h in highlight}

    try:
        nodes, column = _columns(y)
    except RuntimeError as error:  # a Tensor graph that backward() freed
        raise RuntimeError(
            "draw_graph: the graph of y was freed by its backward pass; "
            "call y.backward(retain_graph=True) to draw it afterwards"
        ) from error
    edges, neighbours = _lanes(nodes, column)
    row, height = _rows(column, neighbours)
    width = max(column.values()) + 1
    if grads is None:
        # What backward() left: a Tensor keeps .grad on its leaves (and on
        # nodes that asked with retain_grad()), a Scalar on every node (0.0
        # before any pass: so only once some gradient is not zero).
        after = any(_has_gradient(n) for n in nodes.values())
        grads = {key: n.grad for key, n in nodes.items()
                 if after and n.grad is not None}

    if ax is None:
        size = (max(3.0, 1.75 * width), max(1.6, 1.05 * height))
        fig, ax = plt.subplots(figsize=size, layout="constrained")
    fig = ax.figure

    half = _BOX_WIDTH / 2
    for chain, index, count in edges:
        # Leave the parent's right side, run along each lane, enter the
        # child's left side; the arguments of one op enter from top to
        # bottom in argument order.
        points = [(column[chain[0]] + half, row[chain[0]])]
        for lane in chain[1:-1]:
            points += [(column[lane] - half, row[lane]),
                       (column[lane] + half, row[lane])]
        child = chain[-1]
        points.append((column[child] - half,
                       row[child] + 0.12 * ((count - 1) / 2 - index)))
        ax.add_patch(FancyArrowPatch(path=Path(points), arrowstyle="-|>",
                                     mutation_scale=10, color="#555555",
                                     lw=1.0, zorder=1))
    for key, node in nodes.items():
        x0, y0 = column[key], row[key]
        if node._parents:
            kind = "op"
        else:
            kind = "input" if _is_input(node) else "constant"
        color = _COLORS["highlight"] if key in highlight else _COLORS[kind]
        ax.add_patch(FancyBboxPatch(
            (x0 - half, y0 - _BOX_HEIGHT / 2), _BOX_WIDTH, _BOX_HEIGHT,
            boxstyle="round,pad=0,rounding_size=0.08", facecolor=color,
            edgecolor="#333333", lw=1.0, zorder=2))
        lines = [_label(node), f"value {_format(_value_of(node))}"]
        if grads.get(key) is not None:
            lines.append(f"grad {_format(grads[key])}")
        ax.text(x0, y0, "\n".join(lines), ha="center", va="center",
                fontsize=fontsize, family="monospace", zorder=3)

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
    """A leaf we differentiate by: a named Scalar, or a Tensor with
    requires_grad."""
    if hasattr(node, "value"):
        return node.name is not None
    return node.requires_grad


def _has_gradient(node):
    # A Scalar starts at grad 0.0 before any backward pass: not a gradient.
    grad = node.grad
    return grad is not None and np.any(np.asarray(grad) != 0)


# --- a slider that works without a kernel ---------------------------------

# Every frame is inside the page: a cap keeps pages light.
_PLAYER_MAX_BYTES = 1_500_000
# SVG frames keep their text as text: a third of the size of glyph
# outlines, and nearly identical frames then compress to almost nothing
# when the site is served gzipped.
_SVG_RC = {"svg.fonttype": "none", "svg.hashsalt": "hellograd-player"}
_SVG_URI = "data:image/svg+xml;charset=utf-8,"
# No RDF block naming matplotlib's web site, no date: small, reproducible.
_SVG_METADATA = {"Creator": None, "Date": None, "Format": None,
                 "Type": None}


class SliderPlayer:
    """A slider over pictures drawn in advance, as self-contained HTML
    (made by :func:`slider_player`).

    It displays itself in a notebook and on the book's site
    (``_repr_html_``); ``html`` is the markup, ``labels`` the slider's
    label at each position, ``len(player)`` the number of frames and
    ``size`` the size of ``html`` in bytes.
    """

    def __init__(self, html, labels):
        self.html = html
        self.labels = list(labels)

    def __len__(self):
        return len(self.labels)

    @property
    def size(self):
        return len(self.html.encode("utf-8"))

    def _repr_html_(self):
        return self.html

    def __repr__(self):
        return (f"<SliderPlayer: {len(self)} frames, "
                f"{self.size / 1024:.0f} KiB>")


_players_made = 0


def slider_player(draw, values, *, alt, label="{}", start=0,
                  image_format="svg", max_bytes=_PLAYER_MAX_BYTES):
    """Draw one picture per value and return a slider that flips between
    them.

    A demo for a page with no Python behind it (the book's site, its PDF,
    a notebook opened without a kernel): every picture is drawn now and
    embedded in the HTML, and a few lines of JavaScript in the same HTML
    show the one the slider points at. Nothing is loaded from elsewhere.
    Beside a live ``ipywidgets`` slider, which redraws in a running
    notebook, it is what the site shows. Introduced in the chapter
    "Gradient descent"; the backward-pass stepper of "Topological sort"
    uses it too.

    ``draw(value)`` draws the picture for one value into a new matplotlib
    figure and returns it (or returns None, and the current figure is
    taken). Every picture must have the same size, so that the page does
    not jump while the slider moves. Each figure is closed once saved.

    ``values`` are the slider's positions, in order. Keep them few: each
    is a picture in the page, and a player over ``max_bytes`` raises
    ``ValueError``. ``alt`` describes the picture for a reader who cannot
    see it, in a sentence: a string, or a function of the value that
    returns one (each frame gets its own). ``label`` is a format string
    for the value, shown beside the slider (``"rate {:.2f}"``). ``start``
    is the index shown first, and the picture a page without JavaScript
    (a PDF) shows. ``image_format`` is ``"svg"`` (sharp at any size; best
    for line plots and drawings) or ``"png"`` (drawn at twice the figure's
    dpi for high-DPI screens; for pictures with many pixels).

    Example (the last expression of a cell displays the player)::

        def draw(lr):
            fig, ax = plt.subplots(figsize=(6, 3.5),
                                   layout="constrained")
            ax.plot(gradient_descent(x=-1.0, lr=lr, num_steps=25))
            return fig

        def alt(lr):
            return f"25 steps of gradient descent at rate {lr}"

        slider_player(draw, [0.1, 0.3, 0.5, 0.9, 1.05], alt=alt,
                      label="learning rate {:.2f}")
    """
    import base64
    import hashlib
    import io

    plt = _pyplot("slider_player")

    global _players_made
    values = list(values)
    if not values:
        raise ValueError("slider_player: values is empty; give at least "
                         "one value to draw")
    if not -len(values) <= start < len(values):
        raise ValueError(f"slider_player: start={start} is not an index "
                         f"into the {len(values)} values")
    if image_format not in ("svg", "png"):
        raise ValueError(f"slider_player: image_format must be 'svg' or "
                         f"'png', got {image_format!r}")
    start %= len(values)

    frames, labels, alts, size, total = [], [], [], None, 0
    for index, value in enumerate(values):
        where = f"values[{index}]={value!r}"
        text = alt(value) if callable(alt) else alt
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"slider_player: alt for {where} is {text!r}; "
                             f"it must describe the picture in words")
        fig = draw(value)
        if fig is None:
            fig = plt.gcf()
        try:
            buffer = io.BytesIO()
            if image_format == "svg":
                with plt.rc_context(_SVG_RC):
                    fig.savefig(buffer, format="svg",
                                metadata=_SVG_METADATA)
                frame = buffer.getvalue().decode("utf-8")
            else:
                fig.savefig(buffer, format="png", dpi=2 * fig.dpi)
                frame = ("data:image/png;base64,"
                         + base64.b64encode(buffer.getvalue()).decode())
            inches = fig.get_size_inches()
            frame_size = tuple(round(v) for v in inches * fig.dpi)
        finally:
            plt.close(fig)
        if size is None:
            size = frame_size
        elif frame_size != size:
            raise ValueError(
                f"slider_player: the picture for {where} is "
                f"{frame_size[0]}x{frame_size[1]} px, the first one "
                f"{size[0]}x{size[1]} px; draw every frame at the same "
                f"figsize")
        total += len(frame)
        if total > max_bytes:
            raise ValueError(
                f"slider_player: {index + 1} of the {len(values)} pictures "
                f"already take {total / 1e6:.2f} MB, over max_bytes="
                f"{max_bytes / 1e6:.2f} MB; use fewer values or a smaller "
                f"figure")
        frames.append(frame)
        labels.append(label.format(value))
        alts.append(text)

    # Ids from the content (reproducible builds) and a count (the same
    # player shown twice).
    _players_made += 1
    digest = hashlib.sha256("".join(frames).encode()).hexdigest()[:12]
    uid = f"hellograd-player-{digest}-{_players_made}"
    prefix = _SVG_URI if image_format == "svg" else ""
    return SliderPlayer(_player_html(uid, frames, labels, alts, prefix,
                                     start, size, label), labels)


def _player_html(uid, frames, labels, alts, prefix, start, size, label):
    """The player's markup: the start picture (what a page without
    JavaScript shows), the controls, the frames as JSON, and the script."""
    import html
    import json
    import string
    from urllib.parse import quote

    # SVG frames travel as text and become data: addresses in the browser.
    data = json.dumps({"frames": frames, "labels": labels, "alts": alts,
                       "prefix": prefix})
    # A "</script>" inside must not end the script.
    data = data.replace("</", "<\\/")
    first = prefix + quote(frames[start]) if prefix else frames[start]
    # The slider's name for a screen reader: the label without its value.
    words = "".join(text for text, *_ in string.Formatter().parse(label))
    name = html.escape(words.strip(" :=") or "frame")
    alt, shown = html.escape(alts[start]), html.escape(labels[start])
    width, height = size
    return f"""<div class="hellograd-player" id="{uid}">
<img src="{first}" alt="{alt}" width="{width}" height="{height}"
 style="display:block;max-width:100%;height:auto">
<div class="hellograd-player-controls"
 style="display:flex;align-items:center;gap:0.5em;max-width:{width}px">
<button type="button" data-step="-1" aria-label="previous">&#9664;</button>
<input type="range" min="0" max="{len(frames) - 1}" step="1"
 value="{start}" aria-valuetext="{shown}" aria-label="{name}"
 style="flex:1;min-width:0">
<button type="button" data-step="1" aria-label="next">&#9654;</button>
<output style="white-space:nowrap;font-variant-numeric:tabular-nums"
 >{shown}</output>
</div>
<script type="application/json">{data}</script>
<script>
(function () {{
  var root = document.getElementById("{uid}");
  if (!root || root.dataset.ready) return;
  root.dataset.ready = "1";
  var data = JSON.parse(
    root.querySelector('script[type="application/json"]').textContent);
  var img = root.querySelector("img"),
      slider = root.querySelector("input"),
      out = root.querySelector("output");
  function uri(i) {{
    var frame = data.frames[i];
    return data.prefix ? data.prefix + encodeURIComponent(frame) : frame;
  }}
  function show(i) {{
    i = Math.max(0, Math.min(data.frames.length - 1, i));
    slider.value = i;
    img.src = uri(i);
    img.alt = data.alts[i];
    out.textContent = data.labels[i];
    slider.setAttribute("aria-valuetext", data.labels[i]);
  }}
  slider.addEventListener("input", function () {{
    show(Number(slider.value));
  }});
  root.querySelectorAll("button").forEach(function (button) {{
    button.addEventListener("click", function () {{
      show(Number(slider.value) + Number(button.dataset.step));
    }});
  }});
}})();
</script>
</div>"""

"""`Scalar`: the teaching version of the engine, one Python float per node.

Introduced in the chapter "Building the graph" and used again in
"Topological sort". It is micrograd-sized on purpose: every operation
computes its result, records its parents (a tuple, in argument order) and
the op's name, and leaves a small closure ``_backward`` that *adds* its
share of the gradient into each parent. ``backward()`` runs those closures
once each, in reverse topological order (the iterative walk of
:func:`hellograd.topological_order`).

Why the book then moves on to :class:`hellograd.Tensor`: a Scalar holds one
number, so a layer with a million weights becomes a million Python objects
and a million closure calls per backward pass. A Tensor node holds a whole
NumPy array, and the same bookkeeping then costs one node per *array*
operation (the chapter "From scalars to tensors" times the two against each
other).
"""

from __future__ import annotations

import math
import numbers

from .autograd import topological_order


class Scalar:
    """A float that remembers how it was computed (chapter "Building the
    graph").

    ``Scalar(value, parents=(), op="", name=None)``: ``value`` is the
    number, ``parents`` the Scalars it was computed from, ``op`` the
    operation's name and ``name`` an optional label for drawings. After
    ``y.backward()`` every node ``v`` of the graph holds ``v.grad``, the
    derivative dy/dv.

    Supports ``+ - * /`` with Scalars and plain numbers on either side,
    ``**`` with a number as exponent, unary ``-``, and
    ``exp() tanh() relu() sin()``.
    """

    # Scalars are always differentiated; hellograd.topological_order asks
    # this.
    requires_grad = True

    def __init__(self, value, parents=(), op="", name=None):
        if not isinstance(value, numbers.Real):
            raise TypeError("Scalar: value must be a real number, got "
                            f"{type(value).__name__}")
        self.value = float(value)
        self.grad = 0.0
        self.name = name
        self._parents = tuple(parents)
        self._op = op
        self._backward = lambda: None  # a leaf passes nothing further down

    def __repr__(self):
        name = f", name={self.name!r}" if self.name else ""
        return f"Scalar(value={self.value:.6g}, grad={self.grad:.6g}{name})"

    @staticmethod
    def _lift(other):
        """A plain number becomes a leaf Scalar; anything else is not ours
        to handle."""
        if isinstance(other, Scalar):
            return other
        if isinstance(other, numbers.Real):
            return Scalar(other)
        return None

    # ----- primitive operations -------------------------------------------
    # Each one records its parents and its local rule.
    def __add__(self, other):
        other = self._lift(other)
        if other is None:
            return NotImplemented
        out = Scalar(self.value + other.value, (self, other), "+")

        def _backward():  # d(a + b)/da = d(a + b)/db = 1
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out

    def __mul__(self, other):
        other = self._lift(other)
        if other is None:
            return NotImplemented
        out = Scalar(self.value * other.value, (self, other), "*")

        def _backward():  # d(a b)/da = b, d(a b)/db = a
            self.grad += other.value * out.grad
            other.grad += self.value * out.grad

        out._backward = _backward
        return out

    def __pow__(self, exponent):
        if not isinstance(exponent, numbers.Real):
            raise TypeError(
                "Scalar ** : the exponent must be a plain number, got "
                f"{type(exponent).__name__} (use Tensor for a "
                "differentiable exponent)"
            )
        out = Scalar(self.value ** exponent, (self,), f"**{exponent:g}")

        # d(a^n)/da = n a^(n-1); for n = 0 nothing passes, even at a = 0
        def _backward():
            if exponent != 0:
                slope = exponent * self.value ** (exponent - 1)
                self.grad += slope * out.grad

        out._backward = _backward
        return out

    def exp(self):
        """e ** self (chapter "Building the graph")."""
        out = Scalar(math.exp(self.value), (self,), "exp")

        def _backward():  # d(e^a)/da = e^a, which is out's own value
            self.grad += out.value * out.grad

        out._backward = _backward
        return out

    def tanh(self):
        """Hyperbolic tangent (chapter "Building the graph")."""
        out = Scalar(math.tanh(self.value), (self,), "tanh")

        def _backward():  # d tanh(a)/da = 1 - tanh(a)^2
            self.grad += (1.0 - out.value ** 2) * out.grad

        out._backward = _backward
        return out

    def relu(self):
        """max(self, 0); the derivative at exactly 0 is taken to be 0
        (chapter "Building the graph")."""
        out = Scalar(max(self.value, 0.0), (self,), "relu")

        def _backward():
            self.grad += (1.0 if self.value > 0 else 0.0) * out.grad

        out._backward = _backward
        return out

    def sin(self):
        """Sine (chapter "Building the graph")."""
        out = Scalar(math.sin(self.value), (self,), "sin")

        def _backward():  # d sin(a)/da = cos(a)
            self.grad += math.cos(self.value) * out.grad

        out._backward = _backward
        return out

    # ----- derived operations ---------------------------------------------
    # One-liners over the primitives, with no rules of their own.
    def __neg__(self):
        return self * -1

    def __sub__(self, other):
        return self + (-other)

    def __truediv__(self, other):
        other = self._lift(other)
        if other is None:
            return NotImplemented
        return self * other ** -1

    def __radd__(self, other):
        return self + other

    def __rmul__(self, other):
        return self * other

    def __rsub__(self, other):
        return (-self) + other

    def __rtruediv__(self, other):
        return self ** -1 * other

    # ----- the backward pass ----------------------------------------------
    def backward(self):
        """Fill ``.grad`` of every node this Scalar depends on with
        d(self)/d(node) (chapter "Building the graph"; its order, chapter
        "Topological sort").

        Unlike :meth:`Tensor.backward`, every call starts again from zero:
        the teaching engine keeps one gradient per node and no history
        across calls. Nodes are visited in reverse topological order, found
        without recursion, so each node has received every contribution
        before it passes its own on.
        """
        order = topological_order(self)
        for node in order:
            node.grad = 0.0
        self.grad = 1.0
        for node in reversed(order):
            node._backward()

"""`Dual`: forward-mode automatic differentiation with dual numbers.

Introduced in the chapter "The chain rule, and forward mode". A Dual carries
a value and the vector of its partial derivatives with respect to some
chosen inputs, like Eigen's ``AutoDiffScalar``. Every operation computes its
value and, by the chain rule, its derivatives from those of its operands, so
one function written once runs on floats and on Duals and nothing is
recorded: there is no graph and no backward pass.

The price: the derivative vector has one entry per input, so every operation
costs as much as ``n`` extra multiplications. For a scalar loss of a million
weights that is hopeless, and it is why the rest of the book does reverse
mode.
"""

from __future__ import annotations

import math
import numbers
import operator

import numpy as np


class Dual:
    """A value and its partial derivatives (chapter "The chain rule, and
    forward mode").

    ``Dual(value, derivatives)``: ``value`` is a real number,
    ``derivatives`` a number or a 1-D sequence, the partial derivatives of
    ``value`` with respect to each input. Read them back as ``.value`` (a
    float) and ``.derivatives`` (a float64 array). Seed an input ``x`` that
    you differentiate by with ``Dual(x, 1.0)``, or many at once with
    :meth:`Dual.variables`.

    Works with ``+ - * / **`` (Duals and plain numbers on either side),
    unary ``-``, comparisons (on the value), the methods
    ``exp log sin cos tanh sqrt`` and the same NumPy ufuncs (``np.exp(d)``),
    and inside NumPy object arrays, so ``X @ W`` with an array of Duals
    ``W`` runs through NumPy's own matmul.
    """

    __slots__ = ("value", "derivatives")

    def __init__(self, value, derivatives):
        if not isinstance(value, numbers.Real):
            raise TypeError("Dual: value must be a real number, got "
                            f"{type(value).__name__}")
        derivatives = np.asarray(derivatives, dtype=np.float64)
        if derivatives.ndim > 1:
            raise ValueError("Dual: derivatives must be a number or a 1-D "
                             f"vector, got shape {derivatives.shape}")
        self.value = float(value)
        self.derivatives = np.atleast_1d(derivatives)

    def __repr__(self):
        body = np.array2string(self.derivatives, precision=6,
                               separator=", ")
        return f"Dual({self.value:.6g}, derivatives={body})"

    # ----- seeding and reading back arrays of Duals -----------------------
    @staticmethod
    def variables(values):
        """An object array of Duals, one per element of ``values``, each the
        input ``k`` (in row-major order) with derivative 1 in slot ``k`` and
        0 elsewhere (chapter "The chain rule, and forward mode")."""
        values = np.asarray(values, dtype=np.float64)
        seeds = np.eye(values.size)
        out = np.empty(values.shape, dtype=object)
        for k, index in enumerate(np.ndindex(values.shape)):
            out[index] = Dual(values[index], seeds[k])
        return out

    @staticmethod
    def values_of(array):
        """The float array of the values of an array of Duals (numbers pass
        through) (chapter "The chain rule, and forward mode")."""
        array = np.asarray(array, dtype=object)

        def value(d):
            return d.value if isinstance(d, Dual) else float(d)

        return np.vectorize(value, otypes=[float])(array)

    @staticmethod
    def jacobian(array):
        """The derivatives of an array of Duals stacked into one float array
        of shape ``array.shape + (n,)``: entry ``[..., k]`` is
        d(element)/d(input k) (chapter "The chain rule, and forward mode").
        """
        array = np.asarray(array, dtype=object)
        all_duals = all(isinstance(d, Dual) for d in array.flat)
        if array.size == 0 or not all_duals:
            raise TypeError("Dual.jacobian: expected a non-empty array "
                            "whose elements are all Duals")
        rows = [d.derivatives for d in array.flat]
        return np.stack(rows).reshape(array.shape + (rows[0].size,))

    # ----- the chain rule -------------------------------------------------
    # A new value, and derivatives = local slope * old derivatives.
    def _lift(self, other):
        """Plain numbers are constants: their derivatives are zero."""
        if isinstance(other, Dual):
            if other.derivatives.size != self.derivatives.size:
                raise ValueError(
                    "Dual: derivative vectors of lengths "
                    f"{self.derivatives.size} and {other.derivatives.size} "
                    "do not match; seed every input against the same list "
                    "of variables"
                )
            return other
        if isinstance(other, numbers.Real):
            return Dual(other, np.zeros_like(self.derivatives))
        return None

    def _unary(self, value, slope):
        """f(self) for an f with f(self.value) = value and f'(self.value) =
        slope."""
        return Dual(value, slope * self.derivatives)

    def __add__(self, other):
        other = self._lift(other)
        if other is None:
            return NotImplemented
        return Dual(self.value + other.value,
                    self.derivatives + other.derivatives)

    def __sub__(self, other):
        other = self._lift(other)
        if other is None:
            return NotImplemented
        return Dual(self.value - other.value,
                    self.derivatives - other.derivatives)

    def __mul__(self, other):
        other = self._lift(other)
        if other is None:
            return NotImplemented
        return Dual(self.value * other.value,
                    other.value * self.derivatives
                    + self.value * other.derivatives)

    def __truediv__(self, other):
        other = self._lift(other)
        if other is None:
            return NotImplemented
        value = self.value / other.value
        derivatives = self.derivatives - value * other.derivatives
        return Dual(value, derivatives / other.value)

    def __pow__(self, exponent):
        # d(a^n) = n a^(n-1) da; 0 for n = 0, even at a = 0
        if isinstance(exponent, numbers.Real):
            slope = 0.0
            if exponent != 0:
                slope = exponent * self.value ** (exponent - 1)
            return self._unary(self.value ** exponent, slope)
        exponent = self._lift(exponent)
        if exponent is None:
            return NotImplemented
        return (exponent * self.log()).exp()  # a^b = e^(b log a)

    def __radd__(self, other):
        return self + other

    def __rsub__(self, other):
        other = self._lift(other)
        return NotImplemented if other is None else other - self

    def __rmul__(self, other):
        return self * other

    def __rtruediv__(self, other):
        other = self._lift(other)
        return NotImplemented if other is None else other / self

    def __rpow__(self, base):
        base = self._lift(base)
        return NotImplemented if base is None else base ** self

    def __neg__(self):
        return Dual(-self.value, -self.derivatives)

    def __pos__(self):
        return self

    # Comparisons look at the value only, so code with `if x > 0:` runs on
    # Duals.
    def __lt__(self, other):
        return self.value < _value(other)

    def __le__(self, other):
        return self.value <= _value(other)

    def __gt__(self, other):
        return self.value > _value(other)

    def __ge__(self, other):
        return self.value >= _value(other)

    # ----- elementary functions -------------------------------------------
    def exp(self):
        """e ** self; its slope is its own value
        (chapter "The chain rule, and forward mode")."""
        value = math.exp(self.value)
        return self._unary(value, value)

    def log(self):
        """Natural logarithm; slope 1/x
        (chapter "The chain rule, and forward mode")."""
        if self.value <= 0:
            raise ValueError("Dual.log: the value must be positive, got "
                             f"{self.value}")
        return self._unary(math.log(self.value), 1.0 / self.value)

    def sin(self):
        """Sine; slope cos(x)
        (chapter "The chain rule, and forward mode")."""
        return self._unary(math.sin(self.value), math.cos(self.value))

    def cos(self):
        """Cosine; slope -sin(x)
        (chapter "The chain rule, and forward mode")."""
        return self._unary(math.cos(self.value), -math.sin(self.value))

    def tanh(self):
        """Hyperbolic tangent; slope 1 - tanh(x)^2
        (chapter "The chain rule, and forward mode")."""
        value = math.tanh(self.value)
        return self._unary(value, 1.0 - value * value)

    def sqrt(self):
        """Square root; slope 1 / (2 sqrt(x))
        (chapter "The chain rule, and forward mode")."""
        if self.value <= 0:
            raise ValueError("Dual.sqrt: the value must be positive (the "
                             f"slope is infinite at 0), got {self.value}")
        value = math.sqrt(self.value)
        return self._unary(value, 0.5 / value)

    # ----- NumPy: np.exp(d), np.float64(2) * d, array + d -----------------
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if method != "__call__" or kwargs:
            return NotImplemented
        if any(isinstance(x, np.ndarray) for x in inputs):
            # An array meets a Dual: hand NumPy the Dual as a 0-d object
            # array, and its object loop applies the Python operators above
            # element by element.
            return ufunc(*(_boxed(x) if isinstance(x, Dual) else x
                           for x in inputs))
        function = _UFUNCS.get(ufunc)
        if function is None:
            return NotImplemented
        # NumPy scalars become Python numbers, or `np.float64(2) * d` would
        # come back here.
        return function(*(x.item() if isinstance(x, np.generic) else x
                          for x in inputs))


def _value(x):
    return x.value if isinstance(x, Dual) else x


def _boxed(dual):
    box = np.empty((), dtype=object)
    box[()] = dual
    return box


_UFUNCS = {
    np.add: operator.add, np.subtract: operator.sub,
    np.multiply: operator.mul, np.true_divide: operator.truediv,
    np.power: operator.pow, np.negative: operator.neg,
    np.positive: operator.pos,
    np.exp: Dual.exp, np.log: Dual.log, np.sin: Dual.sin,
    np.cos: Dual.cos, np.tanh: Dual.tanh, np.sqrt: Dual.sqrt,
}

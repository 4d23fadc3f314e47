"""Checkers for the code you write in the exercises, in the spirit of
``numpy.testing``.

Each chapter from 1 to 9 has a build-it-yourself exercise: you write a small
piece of an autodiff engine (a gradient-descent loop, a topological sort, a
backward rule, an optimizer...) and hand it to the chapter's checker. The
checker runs your code on a battery of small cases chosen to catch the usual
mistakes. When all pass it prints one line, such as
``All 9 checks passed.``; at the first case that fails it raises
:class:`CheckFailed`, naming the case and saying what it expected, what your
code gave, and, when the mistake is a common one, what probably went wrong.

The checker of each chapter:

- Gradient descent: :func:`check_gradient_descent`
- Three ways to differentiate: :func:`check_central_difference`
- The chain rule, and forward mode: :func:`check_dual`
- Building the graph: :func:`check_scalar_engine`
- Topological sort: :func:`check_topological_sort`
- From scalars to tensors: :func:`check_op`
- When autodiff fails: custom gradients: :func:`check_custom_gradient`
- Derivatives of derivatives: :func:`check_hvp`
- Learning from data: :func:`check_linear`, :func:`check_sgd_momentum`

A scaffold that is still unwritten (its body raises ``NotImplementedError``
before any case has passed) is not a failure: the checker says so in one
line and returns, so that a notebook still runs from top to bottom.

On a failure, read the case's name first: it says which small program your
code got wrong. The checkers only ever read gradients that the engine keeps
(on inputs, the leaves of the graph), never those of intermediate results.
"""

from __future__ import annotations

import functools
import inspect
import math
import sys

import numpy as np

from .autograd import grad, topological_order
from .gradcheck import GradcheckError, gradcheck, numeric_gradient
from .tensor import Tensor, make_op

__all__ = [
    "CheckFailed",
    "check_gradient_descent",
    "check_central_difference",
    "check_dual",
    "check_scalar_engine",
    "check_topological_sort",
    "check_op",
    "check_custom_gradient",
    "check_hvp",
    "check_linear",
    "check_sgd_momentum",
]


class CheckFailed(AssertionError):
    """A case of a ``hellograd.testing`` checker failed.

    ``case`` is the case's name; the message says what was expected, what
    your code gave, and a likely cause when there is one. When your code
    raised an exception instead, that exception is chained (shown above the
    message), so the traceback still points into your code.
    """

    def __init__(self, case, message):
        super().__init__(f"Case '{case}': {message}")
        self.case = case


class _NotWrittenYet(Exception):
    """The reader's code raised NotImplementedError before any case passed.
    """


def _checker(check):
    """Run ``check``; if the reader's code is still the bare scaffold, say
    so and return."""
    @functools.wraps(check)
    def run(*args, **kwargs):
        try:
            return check(*args, **kwargs)
        except _NotWrittenYet as unwritten:
            detail = f" ({unwritten})" if str(unwritten) else ""
            print("Not written yet: your code raises "
                  f"NotImplementedError{detail}. Fill in the body, then "
                  "run this cell again.")

    return run


class _Cases:
    """Runs a checker's cases in turn: ``with cases("name"): ...`` is one
    case.

    An exception from the reader's code inside a case becomes a
    :class:`CheckFailed` naming the case; ``done()`` prints the one line
    that says all passed.
    """

    def __init__(self):
        self.passed = 0
        self.name = None

    def __call__(self, name):
        self.name = name
        return self

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        if kind is None:
            self.passed += 1
            return False
        if issubclass(kind, CheckFailed) or not issubclass(kind, Exception):
            return False
        if issubclass(kind, NotImplementedError):
            if self.passed == 0:
                raise _NotWrittenYet(str(error)) from None
            raise CheckFailed(self.name,
                              "your code raised NotImplementedError: fill "
                              "in the rest of it first") from error
        raise CheckFailed(self.name,
                          f"your code raised {kind.__name__}: "
                          f"{error}") from error

    def fail(self, message, hint=None):
        raise CheckFailed(self.name,
                          message + (f"\n{hint}" if hint else ""))

    def expect(self, what, got, expected, hints=(), rtol=1e-9, atol=1e-12):
        """Fail unless ``got`` is close to ``expected``.

        ``hints`` are ``(wrong answer, explanation)`` pairs: when ``got``
        matches a wrong answer (and that answer is not also the right one),
        the explanation is added to the message.
        """
        expected = np.asarray(expected, dtype=np.float64)
        got = self.array(got, what, expected.shape)
        if _close(got, expected, rtol, atol):
            return
        hint = next((text for wrong, text in hints
                     if not _close(np.asarray(wrong, dtype=np.float64),
                                   expected, rtol, atol)
                     and _close(got, wrong, max(rtol, 1e-7), atol)), None)
        self.fail(f"expected {what} = {_show(expected, got)}, got "
                  f"{_show(got, expected)}.",
                  hint)

    def array(self, value, what, shape=None):
        """``value`` as a float64 array (a Tensor gives its data), checked
        against ``shape``."""
        if value is None:
            self.fail(f"{what} is None: did your function forget to "
                      "`return` its result?")
        if isinstance(value, Tensor):
            value = value.data
        try:
            array = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            self.fail(f"expected {what} to be a number or an array of "
                      f"numbers, got {type(value).__name__}: {value!r:.80}")
        if shape is not None and array.shape != tuple(shape):
            self.fail(f"expected {what} of shape {tuple(shape)}, got shape "
                      f"{array.shape}")
        return array

    def done(self):
        print(f"All {self.passed} checks passed.")


def _close(got, expected, rtol, atol):
    got, expected = (np.asarray(got, dtype=np.float64),
                     np.asarray(expected, dtype=np.float64))
    if got.shape != expected.shape:
        return False
    near = np.abs(got - expected) <= atol + rtol * np.abs(expected)
    return bool(np.all((got == expected) | near))


def _show(value, other):
    """A number or array as a learner reads it: 6 significant digits, or all
    17 when 6 would make ``value`` look the same as ``other``."""
    value, other = np.asarray(value), np.asarray(other)
    for precision in (6, 17):
        if value.ndim == 0:
            text = f"{float(value):.{precision}g}"
            same = (other.ndim == 0
                    and text == f"{float(other):.{precision}g}")
        else:
            text = np.array2string(value, precision=precision,
                                   separator=", ")
            same = other.shape == value.shape and text == np.array2string(
                other, precision=precision, separator=", ")
        if not same:
            break
    return text


def _tensors(arrays, dtype=np.float64):
    return [
        Tensor(np.array(a, dtype=dtype), requires_grad=True) for a in arrays
    ]


# ----- chapter 1 ----------------------------------------------------------

def _descend(grad_fn, x, lr, num_steps):
    """The reference: the path of ``x = x - lr * grad(x)``, start included.
    On NumPy floats, so that the diverging paths the hints compute end in
    inf, not OverflowError."""
    x = np.asarray(x, dtype=np.float64)
    path = [x]
    with np.errstate(all="ignore"):
        for _ in range(num_steps):
            x = x - lr * grad_fn(x)
            path.append(x)
    return np.array(path)


@_checker
def check_gradient_descent(gradient_descent):
    """Check your gradient-descent loop (chapter "Gradient descent: twisting
    the knobs").

    ``gradient_descent(grad, x, lr, num_steps)`` starts at ``x`` (a number
    or a NumPy array) and takes ``num_steps`` steps
    ``x = x - lr * grad(x)``, where ``grad(x)`` is the gradient of the
    function being minimised. It returns the path (the start, then one point
    per step, as the chapter's ``gradient_descent`` does) or only the last
    point. Checked: one step, no step, 25 steps, the learning rate that
    lands in one step, a function with two valleys, and a 2-D bowl with
    NumPy arrays.

    >>> def gradient_descent(grad, x, lr, num_steps):
    ...     path = [x]
    ...     for _ in range(num_steps):
    ...         x = x - lr * grad(x)
    ...         path.append(x)
    ...     return path
    >>> check_gradient_descent(gradient_descent)
    All 6 checks passed.
    """
    def parabola(x):  # the gradient of f(x) = (x - 3)**2 + 1
        return 2 * (x - 3)

    def two_valleys(x):  # the gradient of g(x) = x**4 - 3 x**2 + x
        return 4 * x ** 3 - 6 * x + 1

    def bowl(x):  # the gradient of f(x) = x[0]**2 + 10 x[1]**2
        return np.array([2.0, 20.0]) * x

    battery = [
        ("one step on f(x) = (x - 3)**2 + 1 from x = -1 with lr = 0.1",
         parabola, -1.0, 0.1, 1),
        ("num_steps = 0 from x = 5: nothing moves", parabola, 5.0, 0.1, 0),
        ("25 steps on f(x) = (x - 3)**2 + 1 from x = -1 with lr = 0.1",
         parabola, -1.0, 0.1, 25),
        ("lr = 0.5 on f(x) = (x - 3)**2 + 1 lands on 3 in one step from "
         "x = 100", parabola, 100.0, 0.5, 1),
        ("500 steps on g(x) = x**4 - 3 x**2 + x from x = -2 "
         "with lr = 0.01 (the valley near -1.30)",
         two_valleys, -2.0, 0.01, 500),
        ("100 steps on f(x) = x[0]**2 + 10 x[1]**2 from the array [1, 1] "
         "with lr = 0.04", bowl, np.array([1.0, 1.0]), 0.04, 100),
    ]
    cases = _Cases()
    for name, grad_fn, x0, lr, num_steps in battery:
        with cases(name):
            start = x0
            if isinstance(x0, np.ndarray):
                start = np.array(x0, dtype=np.float64)
            result = gradient_descent(grad_fn, start, lr, num_steps)
            if (isinstance(start, np.ndarray)
                    and not np.array_equal(start, x0)):
                cases.fail("your function changed the array it was given "
                           "as the start: `x -= ...` works in place; write "
                           "`x = x - lr * grad(x)` to make a new array")
            expected = _descend(grad_fn, x0, lr, num_steps)
            _expect_descent(cases, result, expected, grad_fn, x0, lr,
                            num_steps)
    cases.done()


def _expect_descent(cases, result, expected, grad_fn, x0, lr, num_steps):
    got = cases.array(result, "the result")
    point_shape = np.shape(x0)
    if got.shape == point_shape:  # only the last point
        hints = [
            (_descend(grad_fn, x0, -lr, num_steps)[-1],
             "Your x went uphill: step against the gradient, x = x - lr * "
             "grad(x)."),
            (_descend(grad_fn, x0, 1.0, num_steps)[-1],
             "The step must be scaled by lr: x - lr * grad(x)."),
            (_descend(grad_fn, x0, lr, max(num_steps - 1, 0))[-1],
             "That is one step too few."),
            (_descend(grad_fn, x0, lr, num_steps + 1)[-1],
             "That is one step too many."),
        ]
        cases.expect(f"x after {_steps(num_steps)}", got, expected[-1],
                     hints)
        return
    if got.shape[1:] != point_shape or got.ndim != len(point_shape) + 1:
        cases.fail(f"expected the last point (shape {point_shape}) or the "
                   f"path of {num_steps + 1} points, got an array of shape "
                   f"{got.shape}")
    if len(got) != num_steps + 1:
        cases.fail(f"your path has {len(got)} points for {num_steps} "
                   f"steps; it should have {num_steps + 1}: the start, "
                   "then one point per step")
    if num_steps > 1 and all(np.array_equal(row, got[-1]) for row in got):
        cases.fail("every point of your path is the same: `x -= ...` "
                   "changes the array in place, so the list holds one "
                   "array many times; write `x = x - lr * grad(x)`")
    for step, (row, want) in enumerate(zip(got, expected)):
        if not _close(row, want, 1e-9, 1e-12):
            hint = None
            if step == 1 and _close(row, _descend(grad_fn, x0, -lr, 1)[-1],
                                    1e-9, 1e-12):
                hint = ("Your x went uphill: step against the gradient, "
                        "x = x - lr * grad(x).")
            elif step == 0:
                hint = "The path starts with the starting point itself."
            cases.fail(f"expected x = {_show(want, row)} after "
                       f"{_steps(step)}, got {_show(row, want)}.",
                       hint)


def _steps(n):
    return f"{n} step" if n == 1 else f"{n} steps"


# ----- chapter 2 ----------------------------------------------------------

@_checker
def check_central_difference(derivative):
    """Check your central difference (chapter "Three ways to
    differentiate").

    ``derivative(f, x, h)`` returns ``(f(x + h) - f(x - h)) / (2 h)``, the
    central-difference estimate of f'(x). The cases use large steps ``h`` on
    purpose: then the exact answer of the formula differs from f'(x), and so
    from the forward difference, a wrong divisor or a sign error.

    >>> def derivative(f, x, h):
    ...     return (f(x + h) - f(x - h)) / (2 * h)
    >>> check_central_difference(derivative)
    All 5 checks passed.
    """
    battery = [  # name, f, x, h, the exact f'(x)
        ("f(x) = x**2 at x = 3 with h = 0.5", lambda x: x**2, 3.0, 0.5,
         6.0),
        ("f(x) = x**3 at x = 2 with h = 0.1", lambda x: x**3, 2.0, 0.1,
         12.0),
        ("f(x) = 1 / x at x = -2 with h = 0.5", lambda x: 1 / x, -2.0, 0.5,
         -0.25),
        ("f(x) = sin(x) at x = 1 with h = 1e-5", math.sin, 1.0, 1e-5,
         math.cos(1.0)),
    ]
    cases = _Cases()
    for name, f, x, h, exact in battery:
        with cases(name):
            got = derivative(f, x, h)
            difference = f(x + h) - f(x - h)
            hints = [
                ((f(x + h) - f(x)) / h,
                 "That is the forward difference (f(x + h) - f(x)) / h: "
                 "the central one steps both ways, f(x + h) - f(x - h)."),
                ((f(x) - f(x - h)) / h,
                 "That is the backward difference (f(x) - f(x - h)) / h: "
                 "the central one steps both ways, f(x + h) - f(x - h)."),
                (difference / h,
                 "Divide by 2 h, the distance between x - h and x + h, not "
                 "by h."),
                (-difference / (2 * h),
                 "The sign is flipped: f(x + h) comes first."),
                (difference / 2 * h,
                 "Operator precedence: `/ 2 * h` divides by 2, then "
                 "multiplies by h; write `/ (2 * h)`."),
                (exact,
                 "That is the exact derivative; with this h the central "
                 "difference is not exact. Did you use your own step "
                 "instead of h?"),
            ]
            cases.expect("the central difference of "
                         f"{name.split(' at ')[0]}",
                         got, difference / (2 * h), hints)
    with cases("the error falls like h**2: exp at x = 0 with h = 1e-2, "
               "then h = 1e-3"):
        errors = [abs(float(cases.array(derivative(math.exp, 0.0, h),
                                        "the derivative")) - 1.0)
                  for h in (1e-2, 1e-3)]
        ratio = errors[0] / errors[1] if errors[1] else math.inf
        if not 50 < ratio < 200:
            cases.fail(
                "expected the error to fall about 100-fold when h falls "
                f"10-fold, it fell {ratio:.3g}-fold (errors "
                f"{errors[0]:.2e} and {errors[1]:.2e}).",
                "A 10-fold fall is the forward difference's first-order "
                "error."
                if 5 < ratio < 20
                else None,
            )
    cases.done()


# ----- chapter 3 ----------------------------------------------------------

@_checker
def check_dual(Dual):
    """Check your dual number's ``*`` and ``sin`` (chapter "The chain rule,
    and forward mode").

    ``Dual(value, derivative)`` holds a number and its derivative with
    respect to the input; ``a * b`` and ``a.sin()`` return new Duals. The
    checker reads ``.value`` and ``.derivative`` (or ``.derivatives``, as in
    :class:`hellograd.Dual`, whose first entry it takes). Checked: the
    product rule (with one or both derivatives non-zero, and ``x * x``), a
    constant, the derivative of sin, the chain rule through sin, and that
    the operands are not changed.

    >>> class MyDual:
    ...     def __init__(self, value, derivative):
    ...         self.value, self.derivative = value, derivative
    ...     def __mul__(self, other):
    ...         return MyDual(self.value * other.value,
    ...                       self.derivative * other.value
    ...                       + self.value * other.derivative)
    ...     def sin(self):
    ...         return MyDual(math.sin(self.value),
    ...                       math.cos(self.value) * self.derivative)
    >>> check_dual(MyDual)
    All 9 checks passed.
    """
    cases = _Cases()

    def parts(d, what):
        if d is None:
            cases.fail(f"{what} is None: did your method forget to "
                       "`return` the new Dual?")
        if not hasattr(d, "value"):
            cases.fail(f"{what} is a {type(d).__name__} with no .value: "
                       "return a Dual")
        derivative = getattr(d, "derivative",
                             getattr(d, "derivatives", None))
        if derivative is None:
            cases.fail(f"{what} has no .derivative attribute")
        derivative = np.ravel(np.asarray(derivative, dtype=np.float64))
        if derivative.size != 1:
            cases.fail(f"{what}.derivative should be one number, got "
                       f"{derivative.size}")
        return float(d.value), float(derivative[0])

    def product(a, b, name, expression):
        (av, ad), (bv, bd) = a, b
        with cases(name):
            x = Dual(av, ad)
            got = parts(x * x if b is a else x * Dual(bv, bd), expression)
            cases.expect(f"the value of {expression}", got[0], av * bv)
            cases.expect(
                f"the derivative of {expression}",
                got[1],
                ad * bv + av * bd,
                [
                    (ad * bd,
                     "The product rule is (a b)' = a' b + a b', not a' "
                     "b'."),
                    (ad * bv - av * bd,
                     "Both terms of the product rule are added: a' b + a "
                     "b'."),
                    (av * bd - ad * bv,
                     "Both terms of the product rule are added: a' b + a "
                     "b'."),
                    (ad * bv,
                     "The term a * b' is missing: (a b)' = a' b + a b'."),
                    (av * bd,
                     "The term a' * b is missing: (a b)' = a' b + a b'."),
                    (ad * av + bd * bv,
                     "Each derivative multiplies the other number's value: "
                     "a' b + a b'."),
                ],
            )

    product((3.0, 1.0), (-2.0, 0.0),
            "x * y at x = 3, y = -2 (derivative with respect to x)",
            "x * y")
    same = (3.0, 1.0)
    product(same, same, "x * x at x = 3 (the same Dual on both sides)",
            "x * x")
    product((2.0, 5.0), (7.0, -1.0),
            "a * b with both derivatives: a = Dual(2, 5), b = Dual(7, -1)",
            "a * b")
    product((4.0, 0.0), (1.5, 1.0), "a constant: Dual(4, 0) * x at x = 1.5",
            "4 * x")

    def sine(value, derivative, name):
        with cases(name):
            got = parts(Dual(value, derivative).sin(), "sin(x)")
            cases.expect("the value of sin(x)", got[0], math.sin(value))
            cases.expect(
                "the derivative of sin(x)",
                got[1],
                math.cos(value) * derivative,
                [
                    (-math.cos(value) * derivative,
                     "The derivative of sin is +cos (cos's is -sin)."),
                    (math.sin(value) * derivative,
                     "The derivative of sin is cos, not sin."),
                    (math.cos(value),
                     "Chain rule: multiply cos(x) by the incoming "
                     "derivative, sin(a)' = cos(a) * a'."),
                    (math.cos(derivative),
                     "The derivative is cos(value) * derivative, not "
                     "cos(derivative)."),
                ],
            )

    sine(0.5, 1.0, "sin(x) at x = 0.5")
    sine(0.5, 3.0,
         "chain rule: Dual(0.5, 3).sin(), whose input changes 3 times as "
         "fast")
    with cases("sin(x * x) at x = 1.2"):
        got = parts((Dual(1.2, 1.0) * Dual(1.2, 1.0)).sin(), "sin(x * x)")
        cases.expect("the value of sin(x * x)", got[0], math.sin(1.44))
        cases.expect("the derivative of sin(x * x)", got[1],
                     2.4 * math.cos(1.44))
    with cases("x * sin(x) at x = 2"):
        x = Dual(2.0, 1.0)
        got = parts(x * x.sin(), "x * sin(x)")
        cases.expect("the value of x * sin(x)", got[0], 2 * math.sin(2.0))
        cases.expect("the derivative of x * sin(x)", got[1],
                     math.sin(2.0) + 2 * math.cos(2.0))
    with cases("the operands are left unchanged by a * b and a.sin()"):
        a, b = Dual(2.0, 5.0), Dual(7.0, -1.0)
        a * b
        a.sin()
        now = [parts(a, "a"), parts(b, "b")]
        if now != [(2.0, 5.0), (7.0, -1.0)]:
            (av, ad), (bv, bd) = now
            cases.fail(f"after a * b and a.sin(), a is ({av:g}, {ad:g}) "
                       f"and b is ({bv:g}, {bd:g}) (value, derivative); "
                       "they were (2, 5) and (7, -1). Return a new Dual "
                       "instead of changing self or other.")
    cases.done()


# ----- chapter 4 ----------------------------------------------------------

_ADD_UP = ("A node used twice must ADD its gradient contributions (+=), "
           "not overwrite them (=): each use sends it a share.")
_ORDER = ("A node's gradient must be complete, every use added in, before "
          "its _backward runs: call each node's _backward once, in reverse "
          "topological order.")


@_checker
def check_scalar_engine(Value):
    """Check your micrograd-sized scalar engine (chapter "Building the
    graph").

    ``Value(number)`` is a node holding ``.data`` (or ``.value``, as
    :class:`hellograd.Scalar`) and ``.grad`` (0 for a new node). It supports
    ``a + b`` and ``a * b`` with Values or plain numbers on either side, and
    ``a.tanh()``; ``y.backward()`` sets ``.grad`` of every node to
    dy/d(node). Checked on a battery of expressions against hellograd's own
    engine: values and input gradients, including a node used twice, a
    diamond and a neuron.

    >>> class Value:
    ...     def __init__(self, data, parents=()):
    ...         self.data, self.grad, self._parents = data, 0.0, parents
    ...         self._backward = lambda: None
    ...     def __add__(self, other):
    ...         other = other if isinstance(other, Value) else Value(other)
    ...         out = Value(self.data + other.data, (self, other))
    ...         def _backward():
    ...             self.grad += out.grad
    ...             other.grad += out.grad
    ...         out._backward = _backward
    ...         return out
    ...     def __mul__(self, other):
    ...         other = other if isinstance(other, Value) else Value(other)
    ...         out = Value(self.data * other.data, (self, other))
    ...         def _backward():
    ...             self.grad += other.data * out.grad
    ...             other.grad += self.data * out.grad
    ...         out._backward = _backward
    ...         return out
    ...     __radd__, __rmul__ = __add__, __mul__
    ...     def tanh(self):
    ...         t = math.tanh(self.data)
    ...         out = Value(t, (self,))
    ...         def _backward():
    ...             self.grad += (1 - t * t) * out.grad
    ...         out._backward = _backward
    ...         return out
    ...     def backward(self):
    ...         order, seen = [], set()
    ...         def visit(node):  # parents first: a topological order
    ...             if id(node) not in seen:
    ...                 seen.add(id(node))
    ...                 for parent in node._parents:
    ...                     visit(parent)
    ...                 order.append(node)
    ...         visit(self)
    ...         self.grad = 1.0
    ...         for node in reversed(order):
    ...             node._backward()
    >>> check_scalar_engine(Value)
    All 9 checks passed.
    """
    # makes the neuron's output tanh(0.8814) = 1/sqrt(2)
    micrograd_bias = 6.8813735870195432
    battery = [
        ("a + b at a = 2, b = -3", lambda a, b: a + b, (2.0, -3.0), None),
        ("a * b at a = 2, b = -3", lambda a, b: a * b, (2.0, -3.0),
         "For out = a * b, a's gradient is b * out.grad and b's is a * "
         "out.grad."),
        ("numbers on either side: (2 * a + 1) * (1 + b * 3) at a = 1.5, b "
         "= -0.5",
         lambda a, b: (2 * a + 1) * (1 + b * 3), (1.5, -0.5),
         "With a number on the left (2 * a), Python calls a.__rmul__(2): "
         "define __radd__ and __rmul__ too, turning the number into a "
         "Value."),
        ("tanh(x) at x = 0.5", lambda x: x.tanh(), (0.5,),
         "d tanh(x)/dx = 1 - tanh(x)**2: use the output t = tanh(x), 1 - t "
         "* t."),
        ("x used twice: y = x * x at x = 3", lambda x: x * x, (3.0,),
         _ADD_UP),
        ("x used twice: y = x + x at x = 3", lambda x: x + x, (3.0,),
         _ADD_UP),
        ("a diamond: b = 2 * a, then c = b + 1 and d = b * 3, y = c * d at "
         "a = 3",
         lambda a: (lambda b: (b + 1) * (b * 3))(2 * a), (3.0,),
         _ADD_UP + "\n" + _ORDER),
        ("a neuron: tanh(x1 * w1 + x2 * w2 + b) at x1 = 2, x2 = 0, w1 = "
         "-3, w2 = 1, b = 6.8814",
         lambda x1, x2, w1, w2, b: (x1 * w1 + x2 * w2 + b).tanh(),
         (2.0, 0.0, -3.0, 1.0, micrograd_bias), _ORDER),
        (
            "a longer expression with shared parts: c = a * b + b, y = "
            "(c.tanh() * a + c * c) * (a + 1) at a = 0.3, b = -0.7",
            lambda a, b: (lambda c: (c.tanh() * a + c * c) * (a + 1))(
                a * b + b
            ),
            (0.3, -0.7),
            _ADD_UP + "\n" + _ORDER,
        ),
    ]
    cases = _Cases()
    for name, expression, numbers, hint in battery:
        with cases(name):
            inputs = [Value(x) for x in numbers]
            out = expression(*inputs)
            tensors = _tensors(numbers)
            reference = expression(*tensors)
            expected_grads = [g.data for g in grad(reference, tensors)]
            value = getattr(out, "data", getattr(out, "value", None))
            cases.expect("the value", value, reference.data, rtol=1e-12)
            out.backward()
            for i, (node, want) in enumerate(zip(inputs, expected_grads)):
                label = (
                    f"d(out)/d(input {i + 1})"
                    if len(inputs) > 1
                    else "d(out)/d(input)"
                )
                got = cases.array(node.grad, label, ())
                if not _close(got, want, 1e-9, 1e-12):
                    cases.fail(f"expected {label} = {_show(want, got)}, "
                               f"got {_show(got, want)}.",
                               hint)
    cases.done()


# ----- chapter 5 ----------------------------------------------------------

@_checker
def check_topological_sort(topological_sort):
    """Check your topological sort (chapter "Topological sort").

    ``topological_sort(root)`` takes a :class:`hellograd.Tensor` and returns
    a list of the nodes ``root`` depends on, each exactly once, every node
    after all of its parents (so ``root`` comes last). A node's parents are
    ``node._parents``; leave out those with ``requires_grad=False``
    (constants: the backward pass has nothing to send them). Checked: a
    leaf, a chain, a node used twice, a diamond, a constant input, shared
    nodes, and a chain of 100,000 operations, which a recursive sort cannot
    walk (Python stops at about 1,000 nested calls).

    >>> def topological_sort(root):
    ...     order, visited, stack = [], set(), [(root, False)]
    ...     while stack:
    ...         node, parents_done = stack.pop()
    ...         if parents_done:
    ...             order.append(node)
    ...         elif id(node) not in visited:
    ...             visited.add(id(node))
    ...             stack.append((node, True))
    ...             for parent in node._parents:
    ...                 if (parent.requires_grad
    ...                         and id(parent) not in visited):
    ...                     stack.append((parent, False))
    ...     return order
    >>> check_topological_sort(topological_sort)
    All 7 checks passed.
    """

    def leaf(name, value=1.0):
        return Tensor(value, requires_grad=True, name=name)

    def named(tensor, name):
        tensor.name = name
        return tensor

    def a_leaf():
        return leaf("x")

    def chain():
        x = leaf("x")
        return named((named(named(2 * x, "2x") + 1, "2x+1")).exp(), "y")

    def used_twice():
        x = leaf("x")
        return named(x * x, "y")

    def diamond():
        a = leaf("a")
        return named(named(a.sin(), "b") * named(a.cos(), "c"), "d")

    def constant_input():
        x, c = leaf("x"), Tensor(2.0, name="c")
        return named(x * c, "y")

    def shared():
        w, x = leaf("w", 0.5), leaf("x", -1.5)
        h = named((w * x).tanh(), "h")
        return named(named(h * h, "h*h") + w, "y")

    # built with make_op directly: 100,000 Tensor operations take a while
    def long_chain():
        nodes = [leaf("x")]
        for _ in range(100_000):
            nodes.append(
                make_op("step", nodes[-1].data, (nodes[-1],),
                        _IDENTITY_RULE)
            )
        return nodes[-1], nodes

    battery = [
        ("a single leaf x", a_leaf),
        ("a chain: y = exp(2 * x + 1)", chain),
        ("x used twice: y = x * x", used_twice),
        ("a diamond: b = sin(a), c = cos(a), d = b * c", diamond),
        ("a constant input: y = x * c, where c = Tensor(2.0) does not "
         "require grad",
         constant_input),
        ("shared nodes: h = tanh(w * x), y = h * h + w", shared),
        ("a chain of 100,000 operations: x -> y1 -> y2 -> ... -> y100000",
         long_chain),
    ]
    cases = _Cases()
    for name, build in battery:
        with cases(name):
            built = build()
            root, expected = (
                built
                if isinstance(built, tuple)
                else (built, topological_order(built))
            )
            try:
                result = topological_sort(root)
            except RecursionError:
                raise CheckFailed(
                    name,
                    ("your function hit Python's recursion limit "
                     f"({sys.getrecursionlimit()} nested calls). A "
                     "recursive depth-first search makes one nested call "
                     "per node along the longest path, and this one is "
                     "100,001 nodes long. Use a loop and an explicit stack "
                     "(a list of nodes still to visit) instead of "
                     "recursion."),
                ) from None
            _expect_order(cases, result, expected)
    cases.done()


_IDENTITY_RULE = (lambda g, out: g,)


def _label(node):
    if node.name:
        return f"node {node.name!r}"
    return f"a {node._op!r} node" if node._op else "a leaf"


def _expect_order(cases, result, reference):
    """``result`` must hold the nodes of ``reference`` (a valid order), each
    once, parents first."""
    if result is None:
        cases.fail("your function returned None: return the list of nodes")
    try:
        order = list(result)
    except TypeError:
        cases.fail(f"expected a list of nodes, got {type(result).__name__}")
    positions = {}
    for i, node in enumerate(order):
        if not isinstance(node, Tensor):
            cases.fail(f"item {i} of your list is a {type(node).__name__}, "
                       "not a node: put the Tensors themselves in the list")
        if id(node) in positions:
            cases.fail(f"{_label(node)} appears twice (positions "
                       f"{positions[id(node)]} and {i}).",
                       "Mark each node as visited (by id) when you first "
                       "reach it, and add it once.")
        positions[id(node)] = i
    wanted = {id(node) for node in reference}
    for node in order:
        if id(node) not in wanted:
            if not node.requires_grad:
                cases.fail(f"your list contains {_label(node)}, which does "
                           "not require grad.",
                           "Skip parents with requires_grad=False: they "
                           "are constants, and the backward pass has "
                           "nothing to send them.")
            cases.fail(f"your list contains {_label(node)}, which the root "
                       "does not depend on")
    missing = [node for node in reference if id(node) not in positions]
    if missing:
        cases.fail(f"{len(missing)} of the {len(reference)} nodes are "
                   f"missing, for example {_label(missing[0])} (you "
                   f"returned {len(order)} nodes).")
    for node in order:
        for parent in node._parents:
            if (parent.requires_grad
                    and positions[id(parent)] > positions[id(node)]):
                reversed_ok = all(
                    positions[id(p)] > positions[id(n)]
                    for n in order
                    for p in n._parents
                    if p.requires_grad
                )
                cases.fail(
                    f"{_label(node)} comes before its parent "
                    f"{_label(parent)} (positions {positions[id(node)]} "
                    f"and {positions[id(parent)]}).",
                    "Your list is children first, the root at the front: "
                    "return it parents first, root last (the backward pass "
                    "walks it reversed)."
                    if reversed_ok
                    else "A node may only be added once all of its parents "
                         "have been added.",
                )


# ----- chapter 6 ----------------------------------------------------------

_SHAPES = {
    1: [((),), ((5,),), ((2, 3),)],
    2: [((), ()), ((4,), (4,)), ((2, 3), (2, 3)), ((2, 3), ()), ((), (3,)),
        ((3, 1), (1, 4)), ((2, 3), (3,))],
}


@_checker
def check_op(op, reference, *, domain=(-2.0, 2.0), shapes=None,
             float32=True, second_order=True):
    """Check a new tensor operation and its backward rules (chapter "From
    scalars to tensors").

    ``op(*tensors)`` computes its value with NumPy and returns
    ``hellograd.make_op(name, value, parents, rules)``: one rule per parent,
    ``rule(g, out)``, which maps the gradient ``g`` with respect to the
    output to the gradient with respect to that parent, written with Tensor
    operations. A rule may return a gradient of the output's shape: the
    engine sums it back over the dimensions that broadcasting stretched.

    ``reference(*arrays)`` computes the same values with NumPy (for example
    ``np.maximum``). Inputs are drawn uniformly from ``domain``; ``shapes``
    is a list of shape tuples, one shape per input (by default: 0-d,
    vectors, matrices, and broadcasting pairs such as (3, 1) with (1, 4)).
    For each: the values, the shape each rule returns, and the gradients
    against finite differences with a random upstream gradient (a rule that
    ignores ``g`` fails). Then, unless switched off: float32 inputs give
    float32 results and gradients (``float32``), and the rules can
    themselves be differentiated, as chapter "Derivatives of derivatives"
    needs (``second_order``).

    >>> from hellograd import Tensor, make_op
    >>> def maximum(a, b):
    ...     a_wins = (a.data >= b.data).astype(a.dtype)
    ...     return make_op("maximum", np.maximum(a.data, b.data), (a, b),
    ...                    (lambda g, out: g * Tensor(a_wins),
    ...                     lambda g, out: g * Tensor(1 - a_wins)))
    >>> check_op(maximum, np.maximum)
    All 16 checks passed.
    """
    name = getattr(op, "__name__", "op")
    if shapes is None:
        arity = _arity(op)
        shapes = _SHAPES.get(arity) or [((),) * arity, ((4,),) * arity,
                                        ((3, 1),) + ((1, 4),) * (arity - 1)]
    low, high = domain
    rng = np.random.default_rng(0)
    cases = _Cases()
    for input_shapes in shapes:
        label = (
            f"{name} on inputs of "
            f"shape{'s' if len(input_shapes) > 1 else ''} "
            + " and ".join(str(tuple(s)) for s in input_shapes)
        )
        arrays = [rng.uniform(low, high, size=s) for s in input_shapes]
        with cases(f"{label}: values"):
            _expect_op_values(cases, op, reference, arrays)
        with cases(f"{label}: gradients"):
            _expect_op_gradients(cases, op, arrays, rng)
    if float32:
        arrays = [
            rng.uniform(low, high, size=s).astype(np.float32)
            for s in shapes[-1]
        ]
        with cases(f"{name} on float32 inputs gives float32 values and "
                   "gradients") as case:
            tensors = _tensors(arrays, np.float32)
            try:
                out = op(*tensors)
                gradients = grad(out.sum(), tensors)
            except TypeError as error:
                if "dtype" not in str(error):
                    raise
                raise CheckFailed(case.name,
                                  "your code raised TypeError: "
                                  f"{error}\n{_FLOAT32_RULES}") from error
            want = np.result_type(
                np.asarray(reference(*[a.copy() for a in arrays]))
            )
            if out.dtype != want:
                cases.fail(f"expected a {want} result for float32 inputs, "
                           f"got {out.dtype}.",
                           "Compute the value from the inputs' arrays "
                           "(a.data) without mixing in float64 arrays; "
                           "convert constants with .astype(a.dtype).")
            for i, g in enumerate(gradients):
                if g.dtype != np.float32:
                    cases.fail("the gradient with respect to input "
                               f"{i + 1} is {g.dtype}, not float32.",
                               _FLOAT32_RULES)
    if second_order:
        arrays = [rng.uniform(low, high, size=s) for s in shapes[-1]]
        with cases(f"{name}: its backward rules can be differentiated "
                   "again (second derivatives)"):
            _expect_second_order(cases, op, arrays, rng)
    cases.done()


_FLOAT32_RULES = ("In the rules, convert NumPy constants (masks, counts) "
                  "to the input's dtype with .astype(a.dtype) before "
                  "making Tensors of them: Tensor(mask) of a boolean mask "
                  "is float64, and hellograd never mixes dtypes silently.")


def _arity(op):
    try:
        parameters = inspect.signature(op).parameters.values()
    except (TypeError, ValueError):
        raise TypeError("check_op: cannot tell how many inputs op takes; "
                        "pass shapes=[...]") from None
    return sum(
        p.default is p.empty
        and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        for p in parameters
    )


def _expect_op_values(cases, op, reference, arrays):
    tensors = _tensors(arrays)
    out = op(*tensors)
    if not isinstance(out, Tensor):
        cases.fail(f"your op returned a {type(out).__name__}, not a "
                   "Tensor: return make_op(name, value, parents, rules)")
    if not out.requires_grad:
        cases.fail("the result does not require grad although its inputs "
                   "do, so no graph was recorded: build it with "
                   "make_op(name, value, parents, rules), whose parents "
                   "are the input Tensors")
    expected = np.asarray(reference(*[a.copy() for a in arrays]),
                          dtype=np.float64)
    cases.expect("the value", out, expected, rtol=1e-12)
    for i, (tensor, array) in enumerate(zip(tensors, arrays)):
        if not np.array_equal(tensor.data, array):
            cases.fail(f"your op changed input {i + 1} in place: compute a "
                       "new array instead")


def _expect_op_gradients(cases, op, arrays, rng):
    tensors = _tensors(arrays)
    out = op(*tensors)
    upstream = rng.standard_normal(out.shape)
    _expect_rule_shapes(cases, out, upstream)

    # a random upstream gradient: a rule that forgets to multiply by g shows
    def weighted(*xs):
        return op(*xs) * Tensor(upstream)

    analytic = [g.data for g in grad(weighted(*tensors).sum(), tensors)]
    numeric = [
        numeric_gradient(weighted, tensors, i) for i in range(len(tensors))
    ]
    for i, (got, want) in enumerate(zip(analytic, numeric)):
        if _close(got, want, 1e-4, 1e-6):
            continue
        worst = (
            np.unravel_index(np.argmax(np.abs(got - want)), got.shape)
            if got.ndim
            else ()
        )
        index = (
            f" at index {tuple(int(k) for k in worst)}" if got.ndim else ""
        )
        # with g = 1 everywhere
        plain = grad(op(*tensors).sum(), tensors)[i].data
        hints = [
            (_close(got, -want, 1e-4, 1e-6),
             f"The rule for input {i + 1} has its sign flipped."),
            (not np.any(got) and np.any(want),
             f"The rule for input {i + 1} gives zeros."),
            (
                _close(got, plain, 1e-4, 1e-6)
                and not _close(want, plain, 1e-4, 1e-6),
                f"The rule for input {i + 1} ignores the incoming gradient "
                "g: multiply by it (the chain rule).",
            ),
            (
                len(numeric) == 2
                and got.shape == numeric[1 - i].shape
                and _close(got, numeric[1 - i], 1e-4, 1e-6),
                "The rules are swapped: the first rule is for the first "
                "parent, and so on.",
            ),
        ]
        cases.fail(f"the gradient with respect to input {i + 1} (shape "
                   f"{got.shape}) is "
                   f"{_show(got[worst], want[worst])}{index}, but finite "
                   f"differences give {_show(want[worst], got[worst])}.",
                   next((text for matched, text in hints if matched), None))


def _expect_rule_shapes(cases, out, upstream):
    """Call each rule once and check the shape of what it returns, before
    the engine does."""
    parents = getattr(out, "_parents", ())
    rules = getattr(out, "_backward_rules", ())
    for i, (parent, rule) in enumerate(zip(parents, rules)):
        if not parent.requires_grad:
            continue
        result = rule(Tensor(upstream), out)
        shape = np.shape(
            result.data if isinstance(result, Tensor) else result
        )
        try:
            stretched = np.broadcast_shapes(shape, parent.shape) == shape
        except ValueError:
            stretched = False
        if shape != parent.shape and not stretched:
            cases.fail(f"the rule for input {i + 1} returned a gradient of "
                       f"shape {shape}, but input {i + 1} has shape "
                       f"{parent.shape} (and the output {out.shape}).",
                       "A rule returns the gradient with respect to its "
                       "input: of the input's shape, or of the output's "
                       "shape, which the engine then sums down to the "
                       "input's.")


def _expect_second_order(cases, op, arrays, rng):
    tensors = _tensors(arrays)
    upstream = Tensor(rng.standard_normal(op(*tensors).shape))
    directions = [Tensor(rng.standard_normal(a.shape)) for a in arrays]

    # <gradient of sum(op * upstream), directions>, recorded
    def first_derivative(*xs):
        gradients = grad((op(*xs) * upstream).sum(), xs, create_graph=True)
        return sum(((g * d).sum() for g, d in zip(gradients, directions)),
                   Tensor(0.0))

    inner = first_derivative(*tensors)
    analytic = (
        [g.data for g in grad(inner, tensors)]
        if inner.requires_grad
        else [np.zeros_like(a) for a in arrays]
    )
    eps = 1e-5
    for i, x in enumerate(tensors):
        numeric = np.zeros_like(x.data)
        for position in np.ndindex(x.shape):
            original = x.data[position]
            x.data[position] = original + eps
            plus = first_derivative(*tensors).item()
            x.data[position] = original - eps
            minus = first_derivative(*tensors).item()
            x.data[position] = original
            numeric[position] = (plus - minus) / (2 * eps)
        if not _close(analytic[i], numeric, 1e-3, 1e-5):
            cases.fail(
                f"second derivatives with respect to input {i + 1}: "
                f"through your rules {_show(analytic[i], numeric)}, by "
                f"finite differences {_show(numeric, analytic[i])}.",
                "Your rules compute with NumPy arrays (.data), so the "
                "backward pass is not recorded and cannot be "
                "differentiated again: write them with Tensor operations "
                "on g, the inputs and out."
                if not inner.requires_grad
                else None,
            )


# ----- chapter 7 ----------------------------------------------------------

_CUSTOM = {
    "softplus": dict(
        formula="log(1 + exp(x))",
        value=lambda x: np.logaddexp(0.0, x),
        # sigmoid(x) = 1 / (1 + exp(-x))
        derivative=lambda x: np.exp(-np.logaddexp(0.0, -x)),
        moderate=np.linspace(-5.0, 5.0, 11),
        extreme=np.array([-1000.0, -50.0, 50.0, 1000.0]),
        float32=100.0,
        fix="Written directly, exp(x) overflows to inf for large x: the "
            "value becomes inf and the gradient inf / inf = NaN. Wrap the "
            "function with custom_gradient: compute the value as max(x, 0) "
            "+ log1p(exp(-|x|)) and give the gradient as upstream * "
            "sigmoid(x) (Tensor.sigmoid cannot overflow).",
    ),
    "inv_exp": dict(
        formula="1 / exp(x)",
        value=lambda x: np.exp(-x),
        derivative=lambda x: -np.exp(-x),
        moderate=np.linspace(-3.0, 3.0, 7),
        extreme=np.array([50.0, 300.0, 1000.0]),
        float32=100.0,
        fix="Written directly, exp(x) overflows to inf and the backward "
            "pass multiplies 0 by inf. Wrap the function with "
            "custom_gradient: compute y = exp(-x) and give the gradient as "
            "-upstream * y.",
    ),
    "x_sqrt_x": dict(
        formula="x * sqrt(x)",
        value=lambda x: x * np.sqrt(x),
        derivative=lambda x: 1.5 * np.sqrt(x),
        moderate=np.linspace(0.25, 4.0, 7),
        extreme=np.array([0.0]),
        float32=0.0,
        fix="Written directly, the backward pass meets 0 * inf at x = 0 "
            "(sqrt's slope there). Wrap the function with custom_gradient "
            "and give the gradient as upstream * 1.5 * sqrt(x).",
    ),
}


@_checker
def check_custom_gradient(fn, reference="softplus", *, moderate=None,
                          extreme=None):
    """Check a function with a hand-written gradient (chapter "When autodiff
    fails: custom gradients").

    ``fn(x)`` takes a Tensor and returns a Tensor, elementwise, usually
    built with :func:`hellograd.custom_gradient`. ``reference`` says what it
    should compute: ``"softplus"`` (log(1 + exp(x))), ``"inv_exp"`` (1 /
    exp(x)) or ``"x_sqrt_x"`` (x * sqrt(x)), or a pair
    ``(value, derivative)`` of NumPy functions. Checked: values and
    gradients in a moderate range (where :func:`hellograd.gradcheck` works,
    with a random upstream gradient too), then values and gradients at the
    extreme points where the direct formula overflows or divides by zero,
    which must be finite and right, and a float32 input that must stay
    float32. ``moderate`` and ``extreme`` (arrays of points) replace the
    built-in ones.

    >>> from hellograd import Tensor, custom_gradient
    >>> @custom_gradient
    ... def softplus(x):
    ...     a = x.data
    ...     value = np.maximum(a, 0) + np.log1p(np.exp(-np.abs(a)))
    ...     return value, lambda upstream: upstream * x.sigmoid()
    >>> check_custom_gradient(softplus, "softplus")
    All 5 checks passed.
    """
    if isinstance(reference, str):
        if reference not in _CUSTOM:
            raise ValueError("check_custom_gradient: reference must be one "
                             f"of {sorted(_CUSTOM)} or a pair (value, "
                             "derivative) of NumPy functions, got "
                             f"{reference!r}")
        spec = dict(_CUSTOM[reference])
    else:
        value_fn, derivative_fn = reference
        spec = dict(formula=getattr(value_fn, "__name__", "the function"),
                    value=value_fn, derivative=derivative_fn,
                    moderate=np.linspace(-3.0, 3.0, 7),
                    extreme=np.array([]), float32=1.0, fix=None)
    if moderate is not None:
        spec["moderate"] = np.asarray(moderate, dtype=np.float64)
    if extreme is not None:
        spec["extreme"] = np.asarray(extreme, dtype=np.float64)
    formula, value_fn, derivative_fn = (spec["formula"], spec["value"],
                                        spec["derivative"])
    cases = _Cases()
    # the naive formulas overflow; the messages say so
    with np.errstate(all="ignore"):
        points = spec["moderate"]
        span = f"x from {points.min():g} to {points.max():g}"
        with cases(f"values of {formula} for {span}"):
            cases.expect(f"{formula}",
                         fn(Tensor(points, requires_grad=True)),
                         value_fn(points))
        with cases(f"gradients of {formula} for {span} (gradcheck, and a "
                   "random upstream gradient)"):
            try:
                gradcheck(fn, points)
            except GradcheckError as error:
                cases.fail(f"gradcheck failed: {error}")
            x = Tensor(points.copy(), requires_grad=True)
            upstream = np.random.default_rng(0).standard_normal(
                points.shape
            )
            (x_grad,) = grad((fn(x) * Tensor(upstream)).sum(), [x])
            cases.expect(
                "the gradient",
                x_grad,
                upstream * derivative_fn(points),
                [
                    (derivative_fn(points),
                     "Your grad_fn ignores its upstream gradient: multiply "
                     "by it (the chain rule).")
                ],
                rtol=1e-6,
                atol=1e-10,
            )
        if spec["extreme"].size:
            extreme = spec["extreme"]
            where = f"x = {', '.join(f'{v:g}' for v in extreme)}"
            with cases(f"values of {formula} at {where}"):
                got = cases.array(
                    fn(Tensor(extreme.copy(), requires_grad=True)),
                    "the value",
                    extreme.shape,
                )
                _expect_finite(cases, "the value", got, extreme,
                               spec["fix"])
                cases.expect(f"{formula}", got, value_fn(extreme),
                             atol=1e-15)
            with cases(f"gradients of {formula} at {where}"):
                x = Tensor(extreme.copy(), requires_grad=True)
                (x_grad,) = grad(fn(x).sum(), [x])
                got = cases.array(x_grad, "the gradient", extreme.shape)
                _expect_finite(cases, "the gradient", got, extreme,
                               spec["fix"])
                cases.expect("the gradient", got, derivative_fn(extreme),
                             atol=1e-15)
        point = spec["float32"]
        with cases(f"float32 in, float32 out: {formula} and its gradient "
                   f"at x = {point:g}"):
            x = Tensor(np.float32(point), requires_grad=True)
            y = fn(x)
            y.backward()
            for what, tensor_or_array in (("the value", y),
                                          ("the gradient", x.grad)):
                array = getattr(tensor_or_array, "data", tensor_or_array)
                dtype = np.asarray(array).dtype
                if dtype != np.float32:
                    cases.fail(f"{what} is {dtype}, not float32: hellograd "
                               "never changes a dtype silently, so keep "
                               "your arithmetic in the input's dtype")
            at = np.float64(point)
            for what, got, want in (("the value", y, value_fn(at)),
                                    ("the gradient", x.grad,
                                     derivative_fn(at))):
                got = cases.array(got, what, ())
                _expect_finite(cases, what, got, np.float64(point),
                               spec["fix"])
                # float32: 6 to 7 digits
                cases.expect(what, got, want, rtol=1e-5, atol=1e-30)
    cases.done()


def _expect_finite(cases, what, got, points, fix):
    if not np.all(np.isfinite(got)):
        bad = (
            np.unravel_index(int(np.argmin(np.isfinite(got))), got.shape)
            if got.ndim
            else ()
        )
        cases.fail(f"{what} at x = {np.asarray(points)[bad]:g} is "
                   f"{got[bad]}, not a finite number.",
                   fix)


# ----- chapter 8 ----------------------------------------------------------

@_checker
def check_hvp(hvp):
    """Check your Hessian-vector product (chapter "Derivatives of
    derivatives").

    ``hvp(f, x, v)`` returns H(x) v, the Hessian of the scalar function
    ``f`` at ``x`` times the vector ``v``, without forming H. ``f`` takes a
    Tensor and returns a 0-d Tensor; ``x`` and ``v`` are NumPy float64
    arrays of the same shape (0-d, a vector or a matrix); the result is an
    array (or a Tensor) of that shape. Checked against closed-form Hessians:
    sums of squares and cubes, a product with a sine, a non-symmetric
    quadratic form, a logistic regression loss, a 0-d input and a matrix
    input.

    >>> from hellograd import Tensor, grad
    >>> def hvp(f, x, v):
    ...     x = Tensor(x, requires_grad=True)
    ...     (g,) = grad(f(x), [x], create_graph=True)
    ...     (hv,) = grad((g * v).sum(), [x])
    ...     return hv.data
    >>> check_hvp(hvp)
    All 7 checks passed.
    """
    rng = np.random.default_rng(0)
    A = rng.standard_normal((3, 3))
    X = rng.standard_normal((20, 3))
    y = (rng.random(20) < 0.5).astype(np.float64)
    u = np.array([0.5, -1.0, 0.8])

    def logistic_loss(w):
        z = Tensor(X) @ w
        return -(
            y * z.sigmoid().log() + (1 - y) * (-z).sigmoid().log()
        ).mean()

    def logistic_hessian(w):
        p = 1 / (1 + np.exp(-X @ w))
        return X.T @ (X * (p * (1 - p))[:, None]) / len(X)

    # f(X) = sum_i tanh(X_i . u): each row is its own small problem
    def tanh_rows_hvp(x, v):
        t = np.tanh(x @ u)
        return (-2 * t * (1 - t * t) * (v @ u))[:, None] * u[None, :]

    x_mixed = np.array([0.3, -1.2])
    battery = [
        ("f(x) = sum(x**2), whose Hessian is 2 I", lambda x: (x * x).sum(),
         np.array([1.0, 2.0, 3.0]), np.array([0.5, -1.0, 2.0]),
         lambda x, v: 2 * v),
        ("f(x) = sum(x**3), whose Hessian is diag(6 x)",
         lambda x: (x * x * x).sum(), np.array([1.0, -2.0, 0.5]),
         np.array([1.0, 1.0, -2.0]), lambda x, v: 6 * x * v),
        ("f(x) = x[0] * x[1] + sin(x[0])",
         lambda x: x[0] * x[1] + x[0].sin(), x_mixed, np.array([2.0, 0.5]),
         lambda x, v: np.array([[-np.sin(x[0]), 1.0], [1.0, 0.0]]) @ v),
        ("f(x) = x . (A x) / 2 with A not symmetric, whose Hessian is "
         "(A + A.T) / 2", lambda x: (x * (Tensor(A) @ x)).sum() / 2,
         np.array([0.2, -0.4, 1.0]), np.array([1.0, 0.0, -1.0]),
         lambda x, v: (A + A.T) / 2 @ v),
        ("a logistic regression loss on 20 points", logistic_loss,
         np.array([0.1, -0.3, 0.2]), np.array([0.7, 0.2, -0.5]),
         lambda x, v: logistic_hessian(x) @ v),
        ("a 0-d x: f(x) = x**4 at x = 1.5", lambda x: x * x * x * x,
         np.array(1.5), np.array(2.0), lambda x, v: 12 * x**2 * v),
        ("a matrix x of shape (2, 3): f(X) = sum(tanh(X @ u))",
         lambda x: (x @ Tensor(u)).tanh().sum(),
         np.array([[0.2, -0.5, 0.3], [1.0, 0.4, -0.8]]),
         np.array([[1.0, 0.0, -1.0], [0.5, 0.5, 0.5]]), tanh_rows_hvp),
    ]
    create_graph_hint = ("The first grad() must record the backward pass, "
                         "grad(..., create_graph=True), so that its result "
                         "can be differentiated again.")
    cases = _Cases()
    for name, f, x, v, closed_form in battery:
        with cases(name):
            expected = closed_form(x, v)
            try:
                got = hvp(f, x.copy(), v.copy())
            except RuntimeError as error:
                if "require" in str(error) and "grad" in str(error):
                    raise CheckFailed(name,
                                      "your code raised RuntimeError: "
                                      f"{error}\n"
                                      f"{create_graph_hint}") from error
                raise
            tensor = Tensor(x.copy(), requires_grad=True)
            (gradient,) = grad(f(tensor), [tensor], create_graph=True)
            (h_ones,) = grad(gradient.sum(), [tensor])
            cases.expect(
                "H v",
                got,
                expected,
                [
                    (np.zeros_like(expected), create_graph_hint),
                    (gradient.data,
                     "That is the gradient of f; differentiate "
                     "sum(gradient * v) once more."),
                    (h_ones.data,
                     "That is H times a vector of ones: differentiate "
                     "sum(gradient * v), not sum(gradient)."),
                ],
                rtol=1e-7,
                atol=1e-10,
            )
    cases.done()


# ----- chapter 9 ----------------------------------------------------------

@_checker
def check_linear(Linear, *, he_init=True):
    """Check your fully connected layer (chapter "Learning from data").

    ``Linear(in_features, out_features)`` holds ``weight``, a Tensor of
    shape ``(in_features, out_features)``, and ``bias``, of shape
    ``(out_features,)``, both with ``requires_grad=True``; calling it on
    ``x`` of shape ``(n, in_features)`` returns ``x @ weight + bias``. The
    checker sets the weights itself (in place, in their own dtype) and
    compares the outputs and the gradients of the weights, the bias and the
    input. With ``he_init`` the starting weights must look like He
    initialisation (normal, variance 2 / in_features) and the biases start
    at zero, as :class:`hellograd.nn.Linear` does.

    >>> from hellograd import Tensor, nn
    >>> class Linear(nn.Module):
    ...     def __init__(self, in_features, out_features, rng=None):
    ...         rng = np.random.default_rng(rng)
    ...         scale = np.sqrt(2 / in_features)
    ...         weight = rng.standard_normal((in_features, out_features))
    ...         self.weight = Tensor((weight * scale).astype(np.float32),
    ...                              requires_grad=True)
    ...         bias = np.zeros(out_features, dtype=np.float32)
    ...         self.bias = Tensor(bias, requires_grad=True)
    ...     def forward(self, x):
    ...         return x @ self.weight + self.bias
    >>> check_linear(Linear)
    All 4 checks passed.
    """
    rng = np.random.default_rng(0)
    cases = _Cases()
    with cases("Linear(4, 3) has a weight of shape (4, 3) and a bias of "
               "shape (3,), both requiring grad"):
        layer = Linear(4, 3)
        for attribute, shape in (("weight", (4, 3)), ("bias", (3,))):
            tensor = getattr(layer, attribute, None)
            if not isinstance(tensor, Tensor):
                cases.fail(f"layer.{attribute} should be a Tensor, got "
                           f"{type(tensor).__name__}")
            if not tensor.requires_grad:
                cases.fail(f"layer.{attribute} does not require grad: "
                           "create it with requires_grad=True, or it will "
                           "never get a gradient")
            if tensor.shape != shape:
                cases.fail(
                    f"expected layer.{attribute} of shape {shape}, got "
                    f"{tensor.shape}.",
                    "hellograd's weight is (in_features, out_features), so "
                    "that a batch of rows x computes x @ weight (PyTorch "
                    "stores the transpose)."
                    if attribute == "weight" and tensor.shape == (3, 4)
                    else "One bias per output: shape (out_features,), "
                         "which broadcasts over the rows of the batch."
                    if attribute == "bias"
                    else None,
                )
        if callable(getattr(layer, "parameters", None)):
            listed = {id(p) for p in layer.parameters()}
            if listed != {id(layer.weight), id(layer.bias)}:
                cases.fail("layer.parameters() should list exactly the "
                           "weight and the bias")
    if he_init:
        with cases("He initialisation: Linear(512, 256) starts with "
                   "weights of standard deviation sqrt(2 / 512) = 0.0625 "
                   "and zero biases"):
            big = Linear(512, 256)
            weights, biases = (big.weight.data.astype(np.float64),
                               big.bias.data)
            std, want = float(weights.std()), math.sqrt(2 / 512)
            mean = float(weights.mean())
            if not 0.9 * want < std < 1.1 * want or abs(mean) > 0.01:
                cases.fail(
                    "expected weights of mean 0 and standard deviation "
                    f"about {want:.4f}, got mean {weights.mean():.4f} and "
                    f"standard deviation {std:.4f}.",
                    "Draw them from a standard normal and multiply by "
                    "sqrt(2 / in_features)."
                    if 0.9 < std < 1.1
                    else None,
                )
            if np.any(biases != 0):
                cases.fail("the biases should start at zero")
    layer = Linear(4, 3)
    dtype = layer.weight.dtype
    weight = rng.standard_normal((4, 3)).astype(dtype)
    bias = rng.standard_normal(3).astype(dtype)
    layer.weight.data[...] = weight
    layer.bias.data[...] = bias
    rtol = 1e-5 if dtype == np.float32 else 1e-10
    x = rng.standard_normal((5, 4)).astype(dtype)
    with cases("a batch x of shape (5, 4) gives x @ weight + bias, of "
               "shape (5, 3)"):
        cases.expect("layer(x)", layer(Tensor(x)), x @ weight + bias,
                     rtol=rtol, atol=rtol)
    with cases("gradients: weight.grad = x.T @ r, bias.grad = r summed "
               "over the rows, x.grad = r @ weight.T, for out = layer(x) "
               "and the loss sum(out * r)"):
        r = rng.standard_normal((5, 3)).astype(dtype)
        layer.weight.grad = layer.bias.grad = None
        inputs = Tensor(x, requires_grad=True)
        (layer(inputs) * Tensor(r)).sum().backward()
        cases.expect("weight.grad", layer.weight.grad, x.T @ r, rtol=rtol,
                     atol=rtol)
        cases.expect("bias.grad", layer.bias.grad, r.sum(axis=0), rtol=rtol,
                     atol=rtol)
        cases.expect("x.grad", inputs.grad, r @ weight.T, rtol=rtol,
                     atol=rtol)
    cases.done()


def _sgd_reference(start, gradients, lrs, momentum, form="pytorch"):
    """Parameters after each step: PyTorch's v = mu v + g, p -= lr v (first
    step v = g), or the wrong forms the hints name."""
    p, v, path = np.array(start, dtype=np.float64), None, []
    for g, lr in zip(gradients, lrs):
        if form == "lr inside":        # v = mu v + lr g; p -= v
            v = lr * g if v is None else momentum * v + lr * g
            p = p - v
        elif form == "damped":  # v = mu v + (1 - mu) g, from zero
            v = (
                (1 - momentum) * g
                if v is None
                else momentum * v + (1 - momentum) * g
            )
            p = p - lr * v
        else:
            v = g if v is None or momentum == 0 else momentum * v + g
            p = p - lr * v
        path.append(p)
    return path


@_checker
def check_sgd_momentum(SGD):
    """Check your SGD with momentum (chapter "Learning from data").

    ``SGD(params, lr=..., momentum=...)`` keeps the list of parameters
    (Tensors with ``requires_grad=True``) and a plain ``lr`` attribute that
    a schedule may change between steps. ``step()`` updates each parameter
    whose ``.grad`` is not ``None`` with PyTorch's convention: a velocity
    per parameter, ``v = momentum * v + grad`` (so the first step has
    ``v = grad``), then ``p -= lr * v``; a float32 parameter stays float32.
    ``zero_grad()`` clears the gradients. Checked against reference numbers,
    including a change of ``lr`` between steps, which tells PyTorch's
    convention from ``v = mu v + lr g``.

    >>> from hellograd import optim
    >>> class SGD(optim.Optimizer):
    ...     def __init__(self, params, lr, momentum=0.0):
    ...         super().__init__(params, lr)
    ...         self.momentum = momentum
    ...         self.velocities = [np.zeros_like(p.data)
    ...                            for p in self.params]
    ...     def step(self):
    ...         for p, v in zip(self.params, self.velocities):
    ...             if p.grad is not None:
    ...                 v *= self.momentum
    ...                 v += p.grad
    ...                 p.data -= self.lr * v
    >>> check_sgd_momentum(SGD)
    All 8 checks passed.
    """
    cases = _Cases()
    start = np.array([1.0, -2.0, 3.0])
    gradients = [np.array([0.5, 0.5, -1.0]), np.array([0.2, -0.4, 1.0]),
                 np.array([-0.3, 0.1, 0.6]), np.array([1.0, 1.0, 1.0])]

    def run(momentum, lrs, grads, dtype=np.float64, starts=(start,)):
        params = [
            Tensor(np.array(s, dtype=dtype), requires_grad=True)
            for s in starts
        ]
        optimizer = SGD(params, lr=lrs[0], momentum=momentum)
        path = []
        for lr, g in zip(lrs, grads):
            optimizer.lr = lr
            for p, gradient in zip(params, g if len(starts) > 1 else [g]):
                p.grad = (
                    None
                    if gradient is None
                    else np.array(gradient, dtype=dtype)
                )
            optimizer.step()
            path.append([p.data.copy() for p in params])
        return path, params, optimizer

    def expect_path(got, lrs, grads, momentum, what="p"):
        for step, params in enumerate(got):
            want = _sgd_reference(start, grads, lrs, momentum)[step]
            hints = [
                (_sgd_reference(start, grads, lrs, momentum, form)[step],
                 text)
                for form, text in (
                    ("damped",
                     "No (1 - momentum) factor in PyTorch's convention: v "
                     "= momentum * v + grad."),
                    ("lr inside",
                     "Your velocity holds lr * grad; PyTorch's holds the "
                     "gradients alone, v = momentum * v + grad, and the "
                     "step is lr * v, so a new lr applies at once."),
                )
            ] + [
                (_sgd_reference(start, grads, lrs, 0.0)[step],
                 "That is SGD without momentum: keep a velocity per "
                 "parameter."),
                (
                    2 * start
                    - _sgd_reference(start, grads, lrs, momentum)[step],
                    "Your parameters moved uphill: p -= lr * v.",
                ),
            ]
            cases.expect(f"{what} after step {step + 1}", params[0], want,
                         hints, rtol=1e-9)

    with cases("first step, momentum 0.9, lr 0.1: the velocity starts as "
               "the gradient, p -= lr * grad"):
        path, _, _ = run(0.9, [0.1], gradients[:1])
        expect_path(path, [0.1], gradients[:1], 0.9)
    with cases("three steps with changing gradients (momentum 0.9, lr "
               "0.1)"):
        path, _, _ = run(0.9, [0.1] * 3, gradients[:3])
        expect_path(path, [0.1] * 3, gradients[:3], 0.9)
    with cases("lr changed to 0.01 before the fourth step (as a schedule "
               "does)"):
        lrs = [0.1, 0.1, 0.1, 0.01]
        path, _, _ = run(0.9, lrs, gradients)
        expect_path(path, lrs, gradients, 0.9)
    with cases("momentum 0 is plain SGD"):
        path, _, _ = run(0.0, [0.1] * 3, gradients[:3])
        expect_path(path, [0.1] * 3, gradients[:3], 0.0)
    with cases("two parameters of different shapes, each with its own "
               "velocity"):
        starts = (np.array([[1.0, 2.0], [3.0, 4.0]]),
                  np.array([0.5, -0.5, 1.5]))
        grads = [
            (np.full((2, 2), 0.5), np.array([1.0, -1.0, 0.5])),
            (np.array([[1.0, -1.0], [0.0, 2.0]]),
             np.array([0.2, 0.2, 0.2])),
        ]
        path, _, _ = run(0.5, [0.1, 0.1], grads, starts=starts)
        for k in range(2):
            want = _sgd_reference(starts[k], [g[k] for g in grads],
                                  [0.1, 0.1], 0.5)[-1]
            cases.expect(f"parameter {k + 1} after two steps", path[-1][k],
                         want)
    with cases("a parameter whose .grad is None does not move"):
        starts = (start, np.array([7.0, 8.0]))
        path, _, _ = run(0.9, [0.1, 0.1],
                         [(gradients[0], None), (gradients[1], None)],
                         starts=starts)
        cases.expect("the parameter without a gradient", path[-1][1],
                     starts[1])
        cases.expect(
            "the other parameter after two steps",
            path[-1][0],
            _sgd_reference(start, gradients[:2], [0.1, 0.1], 0.9)[-1],
        )
    with cases("float32 parameters stay float32"):
        path, params, _ = run(0.9, [0.1] * 3, gradients[:3],
                              dtype=np.float32)
        if params[0].dtype != np.float32:
            cases.fail(f"the parameter became {params[0].dtype}.",
                       "Make the velocity with np.zeros_like(p.data), "
                       "which keeps p's dtype, and update in place (p.data "
                       "-= ...).")
        cases.expect(
            "p after three steps",
            path[-1][0],
            _sgd_reference(start, gradients[:3], [0.1] * 3, 0.9)[-1],
            rtol=1e-6,
            atol=1e-6,
        )
    with cases("zero_grad() clears the gradients"):
        _, params, optimizer = run(0.9, [0.1], gradients[:1])
        params[0].grad = np.ones(3)
        optimizer.zero_grad()
        if params[0].grad is not None and np.any(params[0].grad):
            cases.fail(f"after zero_grad(), p.grad is {params[0].grad}; it "
                       "should be None (or zeros)")
    cases.done()

"""hellograd.testing: every checker passes a right implementation and rejects the usual
wrong ones, naming the case and saying what went wrong."""

import doctest
import math

import numpy as np
import pytest

import hellograd
from hellograd import Tensor, custom_gradient, grad, make_op, nn, optim, testing
from hellograd.testing import CheckFailed


def rejects(checker, *args, case, says, **kwargs):
    """Run ``checker(*args)`` and check that it fails in ``case`` with ``says`` in its message."""
    with pytest.raises(CheckFailed) as failure:
        checker(*args, **kwargs)
    message = str(failure.value)
    assert case in failure.value.case, message
    assert f"Case '{failure.value.case}'" in message
    for fragment in [says] if isinstance(says, str) else says:
        assert fragment in message, message
    return failure.value


def test_docstring_examples_pass_and_print_one_line():
    """The docstrings' examples are the solutions the chapters can copy: they must pass."""
    result = doctest.testmod(testing, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 10 and result.failed == 0


def test_check_failed_is_an_assertion_error():
    assert issubclass(CheckFailed, AssertionError)
    assert hellograd.testing is testing


def test_success_prints_one_short_line(capsys):
    testing.check_central_difference(lambda f, x, h: (f(x + h) - f(x - h)) / (2 * h))
    assert capsys.readouterr().out == "All 5 checks passed.\n"


def test_an_untouched_scaffold_is_reported_not_raised(capsys):
    """So that a notebook with the scaffold cell still runs top to bottom."""
    def derivative(f, x, h):
        raise NotImplementedError
    assert testing.check_central_difference(derivative) is None
    assert capsys.readouterr().out == ("Not written yet: your code raises NotImplementedError. "
                                       "Fill in the body, then run this cell again.\n")

    class Value:  # a class scaffold: one method written, the others not
        def __init__(self, data):
            self.data, self.grad = data, 0.0

        def __add__(self, other):
            raise NotImplementedError("write __add__")
    testing.check_scalar_engine(Value)
    assert "(write __add__)" in capsys.readouterr().out


def test_a_half_written_scaffold_fails():
    def derivative(f, x, h):
        if h < 1e-3:
            raise NotImplementedError
        return (f(x + h) - f(x - h)) / (2 * h)
    error = rejects(testing.check_central_difference, derivative, case="sin", says="fill in the rest")
    assert isinstance(error.__cause__, NotImplementedError)


def test_an_exception_in_the_readers_code_is_chained():
    error = rejects(testing.check_central_difference, lambda f, x, h: f(x + h) - undefined_name,  # noqa: F821
                    case="x**2", says="your code raised NameError")
    assert isinstance(error.__cause__, NameError)


def test_a_missing_return_is_named():
    def derivative(f, x, h):
        (f(x + h) - f(x - h)) / (2 * h)
    rejects(testing.check_central_difference, derivative, case="x**2", says="forget to `return`")


# ----- chapter 1 ------------------------------------------------------------------------------

def test_gradient_descent_accepts_path_or_last_point():
    def last_point(grad, x, lr, num_steps):
        for _ in range(num_steps):
            x = x - lr * grad(x)
        return x
    testing.check_gradient_descent(last_point)


def test_gradient_descent_rejects_ascent():
    def uphill(grad, x, lr, num_steps):
        for _ in range(num_steps):
            x = x + lr * grad(x)
        return x
    rejects(testing.check_gradient_descent, uphill, case="one step", says=[
        "expected x after 1 step = -0.2, got -1.8", "uphill"])


def test_gradient_descent_rejects_in_place_updates():
    def in_place(grad, x, lr, num_steps):
        path = [x]
        for _ in range(num_steps):
            x -= lr * grad(x)
            path.append(x)
        return path
    rejects(testing.check_gradient_descent, in_place, case="[1, 1]", says="in place")


def test_gradient_descent_rejects_an_off_by_one_and_a_path_without_its_start():
    def one_short(grad, x, lr, num_steps):
        for _ in range(num_steps - 1):
            x = x - lr * grad(x)
        return x
    rejects(testing.check_gradient_descent, one_short, case="one step", says="one step too few")

    def no_start(grad, x, lr, num_steps):
        path = []
        for _ in range(num_steps):
            x = x - lr * grad(x)
            path.append(x)
        return path
    rejects(testing.check_gradient_descent, no_start, case="one step", says="1 points for 1 steps")


# ----- chapter 2 ------------------------------------------------------------------------------

@pytest.mark.parametrize("derivative, says", [
    (lambda f, x, h: (f(x + h) - f(x)) / h, "forward difference"),
    (lambda f, x, h: (f(x + h) - f(x - h)) / h, "Divide by 2 h"),
    (lambda f, x, h: (f(x - h) - f(x + h)) / (2 * h), "sign is flipped"),
    (lambda f, x, h: (f(x + h) - f(x - h)) / 2 * h, "precedence"),
])
def test_central_difference_rejects_typical_mistakes(derivative, says):
    rejects(testing.check_central_difference, derivative, case="f(x) = x**2 at x = 3 with h = 0.5",
            says=["expected the central difference of f(x) = x**2 = 6, got", says])


def test_central_difference_rejects_a_step_of_its_own():
    def own_step(f, x, h):
        return (f(x + 1e-6) - f(x - 1e-6)) / 2e-6
    rejects(testing.check_central_difference, own_step, case="x**3", says="your own step")


# ----- chapter 3 ------------------------------------------------------------------------------

def make_dual(mul, sin):
    class MyDual:
        def __init__(self, value, derivative):
            self.value, self.derivative = value, derivative
        __mul__ = mul
        sin = None
    MyDual.sin = sin
    return MyDual


def right_sin(self):
    return type(self)(math.sin(self.value), math.cos(self.value) * self.derivative)


def right_mul(self, other):
    return type(self)(self.value * other.value, self.derivative * other.value + self.value * other.derivative)


def test_dual_accepts_hellograds_own_dual():
    testing.check_dual(hellograd.Dual)


@pytest.mark.parametrize("mul, sin, case, says", [
    (lambda a, b: type(a)(a.value * b.value, a.derivative * b.value), right_sin,
     "x * x", "The term a * b' is missing"),
    (lambda a, b: type(a)(a.value * b.value, a.derivative * b.value - a.value * b.derivative), right_sin,
     "x * x", "Both terms of the product rule are added"),
    (right_mul, lambda a: type(a)(math.sin(a.value), math.cos(a.value)),
     "chain rule", "multiply cos(x) by the incoming derivative"),
    (right_mul, lambda a: type(a)(math.sin(a.value), -math.cos(a.value) * a.derivative),
     "sin(x) at x = 0.5", "+cos"),
])
def test_dual_rejects_typical_mistakes(mul, sin, case, says):
    rejects(testing.check_dual, make_dual(mul, sin), case=case, says=says)


def test_dual_rejects_changing_an_operand():
    def mul_in_place(self, other):
        self.derivative = self.derivative * other.value + self.value * other.derivative
        self.value *= other.value
        return self
    rejects(testing.check_dual, make_dual(mul_in_place, right_sin), case="operands are left unchanged",
            says=["a is (14, 33)", "Return a new Dual"])
    def mul_then_scribble(self, other):
        result = right_mul(self, other)
        self.value = 0.0
        return result
    rejects(testing.check_dual, make_dual(mul_then_scribble, right_sin), case="operands",
            says="Return a new Dual")


# ----- chapter 4 ------------------------------------------------------------------------------

def make_value(accumulate=True, ordered=True, tanh_from_input=False):
    """A micrograd-style Value, right by default, with one of the classic mistakes switched on."""

    class Value:
        def __init__(self, data, parents=()):
            self.data, self.grad, self._parents = data, 0.0, parents
            self._backward = lambda: None

        def _send(self, node, amount):
            node.grad = node.grad + amount if accumulate else amount

        def __add__(self, other):
            other = other if isinstance(other, Value) else Value(other)
            out = Value(self.data + other.data, (self, other))

            def _backward():
                self._send(self, out.grad)
                self._send(other, out.grad)
            out._backward = _backward
            return out

        def __mul__(self, other):
            other = other if isinstance(other, Value) else Value(other)
            out = Value(self.data * other.data, (self, other))

            def _backward():
                self._send(self, other.data * out.grad)
                self._send(other, self.data * out.grad)
            out._backward = _backward
            return out

        __radd__, __rmul__ = __add__, __mul__

        def tanh(self):
            t = math.tanh(self.data)
            out = Value(t, (self,))

            def _backward():
                slope = 1 - self.data ** 2 if tanh_from_input else 1 - t * t
                self._send(self, slope * out.grad)
            out._backward = _backward
            return out

        def backward(self):
            self.grad = 1.0
            if not ordered:  # no topological order: each node passes its gradient on at once
                def visit(node):
                    node._backward()
                    for parent in node._parents:
                        visit(parent)
                visit(self)
                return
            order, seen = [], set()

            def build(node):
                if id(node) not in seen:
                    seen.add(id(node))
                    for parent in node._parents:
                        build(parent)
                    order.append(node)
            build(self)
            for node in reversed(order):
                node._backward()

    return Value


def test_scalar_engine_accepts_micrograd_style_and_hellograds_scalar():
    testing.check_scalar_engine(make_value())
    testing.check_scalar_engine(hellograd.Scalar)


def test_scalar_engine_rejects_a_forgotten_plus_equals():
    rejects(testing.check_scalar_engine, make_value(accumulate=False),
            case="x used twice: y = x * x at x = 3",
            says=["expected d(out)/d(input) = 6, got 3", "must ADD its gradient contributions (+=)"])


def test_scalar_engine_rejects_a_backward_without_topological_order():
    rejects(testing.check_scalar_engine, make_value(ordered=False), case="a diamond",
            says="reverse topological order")


def test_scalar_engine_rejects_tanh_slope_from_the_input():
    rejects(testing.check_scalar_engine, make_value(tanh_from_input=True), case="tanh(x) at x = 0.5",
            says="use the output t = tanh(x)")


def test_scalar_engine_rejects_missing_reflected_operators():
    Value = make_value()
    del Value.__radd__, Value.__rmul__
    rejects(testing.check_scalar_engine, Value, case="numbers on either side", says="TypeError")


# ----- chapter 5 ------------------------------------------------------------------------------

def recursive_sort(root):
    order, visited = [], set()

    def visit(node):
        if id(node) not in visited:
            visited.add(id(node))
            for parent in node._parents:
                if parent.requires_grad:
                    visit(parent)
            order.append(node)
    visit(root)
    return order


def test_topological_sort_accepts_the_librarys():
    testing.check_topological_sort(hellograd.topological_order)


def test_topological_sort_rejects_recursion_on_the_long_chain():
    error = rejects(testing.check_topological_sort, recursive_sort, case="a chain of 100,000 operations",
                    says=["recursion limit", "explicit stack"])
    assert error.__cause__ is None and error.__suppress_context__  # no 1,000-frame traceback


def test_topological_sort_rejects_children_first():
    rejects(testing.check_topological_sort, lambda root: recursive_sort(root)[::-1],
            case="a chain: y = exp(2 * x + 1)", says="children first")


def test_topological_sort_rejects_duplicates_and_constants():
    def no_visited_set(root):  # breadth first from the root, then reversed: x * x lists x twice
        order, queue = [], [root]
        while queue:
            node = queue.pop(0)
            order.append(node)
            queue.extend(p for p in node._parents if p.requires_grad)
        return order[::-1]
    rejects(testing.check_topological_sort, no_visited_set, case="x used twice", says="appears twice")

    def with_constants(root):
        order, visited, stack = [], set(), [(root, False)]
        while stack:
            node, done = stack.pop()
            if done:
                order.append(node)
            elif id(node) not in visited:
                visited.add(id(node))
                stack.append((node, True))
                stack.extend((p, False) for p in node._parents)
        return order
    rejects(testing.check_topological_sort, with_constants, case="a chain",
            says="does not require grad")


# ----- chapter 6 ------------------------------------------------------------------------------

def maximum_with(rule_a, rule_b, dtype_safe=True):
    def maximum(a, b):
        a_wins = (a.data >= b.data)
        if dtype_safe:
            a_wins = a_wins.astype(a.dtype)
        return make_op("maximum", np.maximum(a.data, b.data), (a, b),
                       (lambda g, out: rule_a(g, a_wins), lambda g, out: rule_b(g, a_wins)))
    return maximum


def test_op_accepts_a_right_maximum_whose_rules_return_the_output_shape():
    """Rules return g-shaped gradients; summing over broadcast axes is the engine's job."""
    testing.check_op(maximum_with(lambda g, m: g * Tensor(m), lambda g, m: g * Tensor(1 - m)), np.maximum)


def test_op_rejects_a_sign_error():
    wrong = maximum_with(lambda g, m: g * Tensor(m), lambda g, m: -g * Tensor(1 - m))
    rejects(testing.check_op, wrong, np.maximum, case="gradients", says=[
        "the gradient with respect to input 2", "finite differences give", "sign flipped"])


def test_op_rejects_a_rule_that_ignores_g():
    wrong = maximum_with(lambda g, m: Tensor(m), lambda g, m: g * Tensor(1 - m))
    rejects(testing.check_op, wrong, np.maximum, case="gradients", says="ignores the incoming gradient g")


def test_op_rejects_a_wrong_un_broadcast():
    def multiply(a, b):  # sums a's gradient over axis 0 of a matrix, as if it had been broadcast
        return make_op("multiply", a.data * b.data, (a, b),
                       (lambda g, out: (g * b).sum(axis=0) if g.ndim == 2 else g * b,
                        lambda g, out: g * a))
    rejects(testing.check_op, multiply, np.multiply, case="shapes (2, 3) and (2, 3): gradients",
            says=["returned a gradient of shape (3,), but input 1 has shape (2, 3)", "engine then sums"])


def test_op_rejects_swapped_rules_and_a_missing_graph():
    def multiply(a, b):
        return make_op("multiply", a.data * b.data, (a, b), (lambda g, out: g * a, lambda g, out: g * b))
    rejects(testing.check_op, multiply, np.multiply, case="shapes () and ()", says="swapped")
    rejects(testing.check_op, lambda a, b: Tensor(np.maximum(a.data, b.data)), np.maximum,
            case="values", says="no graph was recorded")


def test_op_rejects_float64_masks_in_float32():
    wrong = maximum_with(lambda g, m: g * Tensor(m), lambda g, m: g * Tensor(1 - m), dtype_safe=False)
    rejects(testing.check_op, wrong, np.maximum, case="float32", says=["your code raised TypeError", ".astype(a.dtype)"])


def test_op_rejects_rules_written_on_numpy_arrays():
    def cube(x):
        return make_op("cube", x.data ** 3, (x,), (lambda g, out: 3 * x.data ** 2 * g.data,))
    rejects(testing.check_op, cube, lambda a: a ** 3, case="differentiated again",
            says="cannot be differentiated again")
    testing.check_op(cube, lambda a: a ** 3, second_order=False)


def test_op_with_one_input_and_a_domain():
    def log(x):
        return make_op("log", np.log(x.data), (x,), (lambda g, out: g / x,))
    testing.check_op(log, np.log, domain=(0.5, 3.0))


# ----- chapter 7 ------------------------------------------------------------------------------

@custom_gradient
def softplus(x):
    a = x.data
    return np.maximum(a, 0) + np.log1p(np.exp(-np.abs(a))), lambda upstream: upstream * x.sigmoid()


def test_custom_gradient_accepts_the_three_references():
    testing.check_custom_gradient(softplus, "softplus")

    @custom_gradient
    def inv_exp(x):
        y = (-x).exp()
        return y, lambda g: -g * y
    testing.check_custom_gradient(inv_exp, "inv_exp")

    @custom_gradient
    def x_sqrt_x(x):
        root = x.sqrt()
        return x * root, lambda g: g * 1.5 * root
    testing.check_custom_gradient(x_sqrt_x, "x_sqrt_x")
    testing.check_custom_gradient(softplus, (lambda x: np.logaddexp(0, x), lambda x: 1 / (1 + np.exp(-x))))


def test_custom_gradient_rejects_the_naive_formula():
    rejects(testing.check_custom_gradient, lambda x: (1 + x.exp()).log(), "softplus",
            case="at x = -1000, -50, 50, 1000", says=["not a finite number", "custom_gradient"])


def test_custom_gradient_rejects_ignoring_the_upstream_gradient_and_a_wrong_sign():
    @custom_gradient
    def ignores(x):
        a = x.data
        return np.maximum(a, 0) + np.log1p(np.exp(-np.abs(a))), lambda upstream: x.sigmoid()
    rejects(testing.check_custom_gradient, ignores, case="random upstream gradient", says="ignores")

    @custom_gradient
    def inv_exp_wrong(x):
        y = (-x).exp()
        return y, lambda g: g * y
    rejects(testing.check_custom_gradient, inv_exp_wrong, "inv_exp", case="gradcheck",
            says="gradcheck failed")


def test_custom_gradient_rejects_an_unknown_reference():
    with pytest.raises(ValueError, match="one of"):
        testing.check_custom_gradient(softplus, "tanh")


# ----- chapter 8 ------------------------------------------------------------------------------

def test_hvp_rejects_a_missing_create_graph():
    def hvp(f, x, v):
        x = Tensor(x, requires_grad=True)
        (g,) = grad(f(x), [x])
        (hv,) = grad((g * v).sum(), [x])
        return hv.data
    rejects(testing.check_hvp, hvp, case="sum(x**2)", says="create_graph=True")


def test_hvp_rejects_differentiating_the_sum_of_the_gradient():
    def hvp(f, x, v):
        x = Tensor(x, requires_grad=True)
        (g,) = grad(f(x), [x], create_graph=True)
        (hv,) = grad(g.sum(), [x])
        return hv
    rejects(testing.check_hvp, hvp, case="sum(x**2)", says="vector of ones")


def test_hvp_rejects_returning_the_gradient():
    def hvp(f, x, v):
        x = Tensor(x, requires_grad=True)
        return grad(f(x), [x])[0]
    rejects(testing.check_hvp, hvp, case="sum(x**2)", says="That is the gradient of f")


# ----- chapter 9 ------------------------------------------------------------------------------

def linear_class(weight_shape=lambda i, o: (i, o), bias_shape=lambda o: (o,), scale=lambda i: np.sqrt(2 / i)):
    class Linear(nn.Module):
        def __init__(self, in_features, out_features):
            rng = np.random.default_rng(1)
            w = rng.standard_normal(weight_shape(in_features, out_features)) * scale(in_features)
            self.weight = Tensor(w.astype(np.float32), requires_grad=True)
            self.bias = Tensor(np.zeros(bias_shape(out_features), dtype=np.float32), requires_grad=True)

        def forward(self, x):
            return x @ self.weight + self.bias
    return Linear


def test_linear_accepts_hellograds_own_and_a_float64_one():
    testing.check_linear(nn.Linear)
    testing.check_linear(lambda i, o: nn.Linear(i, o, dtype=np.float64))


def test_linear_rejects_pytorchs_weight_orientation_a_2d_bias_and_no_scaling():
    rejects(testing.check_linear, linear_class(weight_shape=lambda i, o: (o, i)), case="Linear(4, 3)",
            says="(in_features, out_features)")
    rejects(testing.check_linear, linear_class(bias_shape=lambda o: (1, o)), case="Linear(4, 3)",
            says="(out_features,)")
    rejects(testing.check_linear, linear_class(scale=lambda i: 1.0), case="He initialisation",
            says="sqrt(2 / in_features)")
    testing.check_linear(linear_class(scale=lambda i: 1.0), he_init=False)


def sgd_class(form="pytorch", velocity_dtype=None, skip_none=True):
    class SGD(optim.Optimizer):
        def __init__(self, params, lr, momentum=0.0):
            super().__init__(params, lr)
            self.momentum = momentum
            self.velocities = [np.zeros(p.shape, dtype=velocity_dtype or p.dtype) for p in self.params]

        def step(self):
            mu = self.momentum
            for i, p in enumerate(self.params):
                if p.grad is None and skip_none:
                    continue
                v = self.velocities[i]
                if form == "damped":
                    v = mu * v + (1 - mu) * p.grad
                    p.data = p.data - self.lr * v
                elif form == "lr inside":
                    v = mu * v + self.lr * p.grad
                    p.data = p.data - v
                else:
                    v = mu * v + p.grad
                    p.data = p.data - self.lr * v
                self.velocities[i] = v
    return SGD


def test_sgd_momentum_accepts_hellograds_and_a_right_one():
    testing.check_sgd_momentum(optim.SGD)
    testing.check_sgd_momentum(sgd_class())


def test_sgd_momentum_rejects_other_conventions():
    rejects(testing.check_sgd_momentum, sgd_class("damped"), case="first step", says="(1 - momentum)")
    rejects(testing.check_sgd_momentum, sgd_class("lr inside"), case="lr changed to 0.01",
            says="v = momentum * v + grad")


def test_sgd_momentum_rejects_float64_velocities_and_a_crash_on_none():
    rejects(testing.check_sgd_momentum, sgd_class(velocity_dtype=np.float64), case="float32",
            says="became float64")
    rejects(testing.check_sgd_momentum, sgd_class(skip_none=False), case=".grad is None",
            says="your code raised TypeError")


def test_op_accepts_the_librarys_own_operations():
    testing.check_op(lambda a, b: a * b, np.multiply)
    testing.check_op(lambda a, b: a @ b, np.matmul, shapes=[((2, 3), (3, 4)), ((3,), (3, 2))])
    testing.check_op(Tensor.tanh, np.tanh)

"""hellograd.custom_gradient: values, the NaN-free gradient of 1/exp(x) at 100,
use inside larger graphs, several inputs, second derivatives, bad grad_fns."""

import numpy as np
import pytest

from hellograd import Tensor, custom_gradient, gradcheck, grad, topological_order


@custom_gradient
def inv_exp(x):
    """1 / exp(x) computed as exp(-x), with the gradient -exp(-x)."""
    y = (-x).exp()
    return y, lambda g: -g * y


def test_naive_gradient_of_inv_exp_at_100_is_nan_in_float32():
    x = Tensor(np.float32(100.0), requires_grad=True)
    with np.errstate(over="ignore", invalid="ignore"):
        (1 / x.exp()).backward()
    assert np.isnan(x.grad)


def test_custom_gradient_of_inv_exp_at_100_is_finite():
    x = Tensor(np.float32(100.0), requires_grad=True)
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # no overflow, no NaN
        y = inv_exp(x)
        y.backward()
    assert y.dtype == np.float32 and x.grad.dtype == np.float32
    assert y.item() == np.exp(np.float32(-100.0))
    assert x.grad == -np.exp(np.float32(-100.0)) and x.grad < 0


def test_values_and_gradients_match_the_plain_function(rng):
    a = rng.uniform(-3, 3, size=(4, 3))
    np.testing.assert_allclose(inv_exp(Tensor(a)).data, 1 / np.exp(a), rtol=1e-14)
    assert gradcheck(inv_exp, a)


def test_the_forward_is_one_node_and_records_nothing_inside():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = inv_exp(x)
    assert y._op == "inv_exp" and y._parents == (x,)
    assert [n._op for n in topological_order(y)] == ["", "inv_exp"]


def test_inside_a_larger_graph(rng):
    w = rng.standard_normal((3, 2))
    a = rng.standard_normal((4, 3))

    def f(x, w):
        h = x @ w
        return (inv_exp(h.tanh()) * h.sin()).sum(axis=0) + inv_exp(x).mean()

    assert gradcheck(f, a, w)
    # the node is used twice: both uses add up
    assert gradcheck(lambda x: inv_exp(x) * inv_exp(x) + x, a)


def test_several_inputs_and_non_tensor_arguments(rng):
    @custom_gradient
    def scaled_product(x, y, scale):
        value = scale * x * y
        return value, lambda g: (g * scale * y, g * scale * x)

    a, b = rng.standard_normal((2, 3)), rng.standard_normal(3)  # b is broadcast
    np.testing.assert_allclose(scaled_product(Tensor(a), Tensor(b), 2.5).data, 2.5 * a * b)
    assert gradcheck(lambda x, y: scaled_product(x, y, 2.5), a, b)


def test_grad_fn_is_called_once_per_backward_visit():
    calls = []

    @custom_gradient
    def product(x, y):
        def grad_fn(g):
            calls.append(1)
            return g * y, g * x
        return x * y, grad_fn

    x, y = Tensor(2.0, requires_grad=True), Tensor(3.0, requires_grad=True)
    out = product(x, y)
    out.backward(retain_graph=True)
    assert (x.grad, y.grad, len(calls)) == (3.0, 2.0, 1)
    out.backward()  # a second backward pass calls it again
    assert (x.grad, y.grad, len(calls)) == (6.0, 4.0, 2)


def test_an_input_without_requires_grad_gets_nothing():
    @custom_gradient
    def product(x, y):
        return x * y, lambda g: (g * y, g * x)

    x, c = Tensor(2.0, requires_grad=True), Tensor(3.0)
    product(x, c).backward()
    assert x.grad == 3.0 and c.grad is None


def test_arrays_and_none_are_accepted_as_gradients():
    @custom_gradient
    def first(x, y):
        return x.data.copy(), lambda g: (g.data, None)

    x, y = Tensor([1.0, 2.0], requires_grad=True), Tensor([5.0, 6.0], requires_grad=True)
    dx, dy = grad(first(x, y).sum(), [x, y])
    np.testing.assert_array_equal(dx.data, [1.0, 1.0])
    np.testing.assert_array_equal(dy.data, [0.0, 0.0])


def test_second_derivatives_flow_through_a_differentiable_grad_fn():
    @custom_gradient
    def cube(x):
        return x * x * x, lambda g: g * 3 * x * x  # Tensor ops on x, which requires grad

    x = Tensor(2.0, requires_grad=True)
    (dy,) = grad(cube(x), [x], create_graph=True)
    (d2y,) = grad(dy, [x])
    assert dy.item() == 12.0 and d2y.item() == 12.0


def test_the_engineering_choice_at_a_kink():
    @custom_gradient
    def safe_norm(x):
        """sqrt(x**2) = |x|, with gradient 0 at 0 instead of NaN."""
        y = (x * x).sqrt()
        return y, lambda g: g * Tensor(np.sign(x.data))

    x = Tensor([-2.0, 0.0, 3.0], requires_grad=True)
    safe_norm(x).sum().backward()
    np.testing.assert_array_equal(x.grad, [-1.0, 0.0, 1.0])


def test_bad_grad_fns_get_clear_errors():
    @custom_gradient
    def two_grads(x):
        return x * 1.0, lambda g: (g, g)

    @custom_gradient
    def wrong_shape(x):
        return x * 1.0, lambda g: np.ones(5)

    @custom_gradient
    def wrong_dtype(x):
        return x * 1.0, lambda g: g.astype(np.float32)

    @custom_gradient
    def no_grad_fn(x):
        return x * 1.0

    x = Tensor(np.ones(3), requires_grad=True)
    with pytest.raises(ValueError, match=r"two_grads.*1 gradient\(s\).*returned 2"):
        two_grads(x).sum().backward()
    with pytest.raises(ValueError, match=r"wrong_shape.*shape \(5,\).*shape \(3,\)"):
        wrong_shape(x).sum().backward()
    with pytest.raises(TypeError, match=r"wrong_dtype.*float32.*float64"):
        wrong_dtype(x).sum().backward()
    with pytest.raises(TypeError, match=r"no_grad_fn.*must return \(value, grad_fn\)"):
        no_grad_fn(x)

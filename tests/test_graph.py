"""The backward pass: the book's running example, accumulation, deep graphs, grad mode."""

import numpy as np
import pytest

from hellograd import Tensor, grad, no_grad, topological_order


def running_example(x_value=2.0, z_value=0.0):
    x = Tensor(x_value, requires_grad=True, name="x")
    z = Tensor(z_value, requires_grad=True, name="z")
    y = 3 * x * x * x + 4 * x + 1 + x * z
    return x, z, y


def test_running_example_of_the_book():
    x, z, y = running_example()
    y.backward()
    assert y.item() == 33.0
    assert x.grad == 40.0  # 9x^2 + 4 + z
    assert z.grad == 2.0  # x


def test_every_node_is_in_topological_order_once():
    x, z, y = running_example()
    order = topological_order(y)
    assert len(order) == len({id(n) for n in order})
    position = {id(n): i for i, n in enumerate(order)}
    for node in order:
        for parent in node._parents:
            if parent.requires_grad:
                assert position[id(parent)] < position[id(node)]
    assert order[-1] is y and {id(x), id(z)} <= set(position)


def test_a_node_used_twice_adds_both_gradients():
    x = Tensor(3.0, requires_grad=True)
    y = x * x  # both uses of x contribute: dy/dx = 2x
    y.backward()
    assert x.grad == 6.0


def test_diamond_graph():
    x = Tensor(1.5, requires_grad=True)
    a = x.exp()
    y = a * a.sin() + a  # `a` feeds three places
    y.backward()
    e = np.exp(1.5)
    assert np.isclose(x.grad, e * np.sin(e) + e * e * np.cos(e) + e)


def test_gradients_accumulate_across_backward_calls():
    x = Tensor(2.0, requires_grad=True)
    (x * 5).backward()
    (x * 5).backward()
    assert x.grad == 10.0
    x.grad = None
    (x * x).backward()
    assert x.grad == 4.0


def test_only_leaves_and_retained_nodes_keep_gradients():
    x, z, y = running_example()
    order = topological_order(y)
    middle = order[-2]
    middle.retain_grad()
    y.retain_grad()
    y.backward()
    assert y.grad == 1.0 and middle.grad is not None and (x.grad, z.grad) == (40.0, 2.0)
    assert all(node.grad is None for node in order if node._parents and node is not y and node is not middle)


def test_a_chain_of_100000_operations_needs_no_recursion():
    x = Tensor(1.0, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0 + 0.0
    y.backward()
    assert x.grad == 1.0
    del y  # freeing the long chain must not overflow the stack either


def test_backward_of_a_non_scalar_needs_a_gradient():
    x = Tensor(np.ones(3), requires_grad=True)
    with pytest.raises(ValueError, match=r"needs a scalar output.*shape \(3,\)"):
        (x * 2).backward()
    (x * 2).backward(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(x.grad, [2.0, 4.0, 6.0])
    with pytest.raises(ValueError, match=r"grad has shape \(2,\) but the output has shape \(3,\)"):
        (x * 2).backward(np.ones(2))


def test_a_gradient_of_another_dtype_is_refused_not_converted():
    x = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    (x * 2).backward(np.ones(3))  # a plain array takes the output's dtype
    assert x.grad.dtype == np.float32
    with pytest.raises(TypeError, match="grad has dtype float64 but the output has dtype float32"):
        (x * 2).backward(Tensor(np.ones(3)))


def test_backward_without_a_graph_is_an_error():
    with pytest.raises(RuntimeError, match="does not require grad"):
        Tensor(2.0).backward()


def test_no_grad_records_nothing():
    x = Tensor(2.0, requires_grad=True)
    with no_grad():
        y = x * x
    assert not y.requires_grad and y._parents == ()
    z = x * x
    assert z.requires_grad  # and recording is back on afterwards


def test_grad_returns_tensors_and_leaves_dot_grad_alone():
    x, z, y = running_example()
    dx, dz = grad(y, [x, z])
    assert (dx.item(), dz.item()) == (40.0, 2.0)
    assert x.grad is None and z.grad is None


def test_grad_of_an_unused_input_is_zero():
    x, unused = Tensor(2.0, requires_grad=True), Tensor(5.0, requires_grad=True)
    (dx, du) = grad(x * x, [x, unused])
    assert dx.item() == 4.0 and du.item() == 0.0


def test_second_derivative_with_create_graph():
    x = Tensor(2.0, requires_grad=True)
    (dy,) = grad(x ** 3, [x], create_graph=True)
    assert dy.item() == 12.0 and dy.requires_grad
    (d2y,) = grad(dy, [x])
    assert d2y.item() == 12.0  # 6x at x = 2


def test_without_create_graph_the_gradient_has_no_history():
    x = Tensor(2.0, requires_grad=True)
    (dy,) = grad(x ** 3, [x])
    assert not dy.requires_grad


def test_gradcheck_names_input_index_and_both_values():
    from hellograd import GradcheckError, gradcheck
    from hellograd import make_op

    def wrong_square(x):  # forward x**2, backward claims 3x
        return make_op("wrong_square", x.data ** 2, (x,), (lambda g, out: g * x * 3,))

    with pytest.raises(GradcheckError, match=r"input 0 \(shape \(2,\)\), index \(1,\): "
                       r"reverse mode gives 6\.0, finite differences give 4\.0"):
        gradcheck(wrong_square, np.array([1e-9, 2.0]))

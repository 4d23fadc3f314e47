"""The engine's shortcuts taken for speed (chapter 10's training loop runs each op ~100,000
times) behave exactly like the general code they bypass."""

import threading

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from hellograd import Tensor, grad, gradcheck, is_grad_enabled, nn, no_grad
from hellograd.autograd import topological_order, unbroadcast
from hellograd.tensor import _wrap


@settings(max_examples=200, deadline=None)
@given(st.lists(hnp.array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=3), min_size=2, max_size=2))
def test_broadcast_check_agrees_with_numpy(shapes):
    a, b = shapes
    x, y = Tensor(np.ones(a)), Tensor(np.ones(b))
    try:
        expected = np.broadcast_shapes(a, b)
    except ValueError:
        with pytest.raises(ValueError, match="add: shapes .* cannot be broadcast together"):
            x + y
    else:
        assert (x + y).shape == expected


def test_python_numbers_take_the_tensor_dtype():
    x = Tensor(np.ones(3, dtype=np.float32))
    for result in (x * 2, x + 0.5, 2 * x, x / 3, x - True, x ** 2):
        assert result.dtype == np.float32


def test_mT_is_its_own_inverse_and_differentiable(rng):
    a = rng.standard_normal((2, 3, 4))
    np.testing.assert_array_equal(Tensor(a).mT.data, np.swapaxes(a, -1, -2))
    assert gradcheck(lambda x: x.mT * np.arange(24.0).reshape(2, 4, 3), a)
    with pytest.raises(ValueError, match=r"mT: needs at least 2 dimensions, got shape \(3,\)"):
        Tensor(np.ones(3)).mT


def test_matmul_of_matrices_and_of_stacks_still_checks_shapes():
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3\) and \(4, 5\) are not aligned"):
        Tensor(np.ones((2, 3))) @ Tensor(np.ones((4, 5)))
    with pytest.raises(ValueError, match="matmul: batch shapes"):
        Tensor(np.ones((2, 2, 3))) @ Tensor(np.ones((3, 3, 4)))


def test_unbroadcast_sums_new_leading_axes_without_keeping_them(rng):
    g = Tensor(rng.standard_normal((5, 4, 3)))
    np.testing.assert_allclose(unbroadcast(g, (3,)).data, g.data.sum(axis=(0, 1)))
    np.testing.assert_allclose(unbroadcast(g, (4, 1)).data, g.data.sum(axis=(0, 2))[:, None])
    assert unbroadcast(g, (5, 4, 3)) is g
    assert gradcheck(lambda b: (Tensor(np.ones((5, 3))) * b).sum(axis=1) ** 2, rng.standard_normal(3))


def test_mean_over_axes_divides_by_the_count(rng):
    a = rng.standard_normal((2, 3, 4))
    np.testing.assert_allclose(Tensor(a).mean(axis=(0, 2)).data, a.mean(axis=(0, 2)))
    np.testing.assert_allclose(Tensor(a).mean(axis=np.int64(1)).data, a.mean(axis=1))
    assert Tensor(np.float32(3.0)).mean().item() == 3.0


def test_grad_mode_is_on_by_default_in_every_thread_and_private_to_it():
    seen = []
    with no_grad():
        worker = threading.Thread(target=lambda: seen.append(is_grad_enabled()))
        worker.start()
        worker.join()
        assert not is_grad_enabled()
    assert seen == [True] and is_grad_enabled()


def test_grad_mode_is_restored_when_the_block_raises():
    with pytest.raises(ZeroDivisionError):
        with no_grad():
            1 / 0
    assert is_grad_enabled()


def test_relu_rule_masks_without_converting_and_differentiates_again(rng):
    x = Tensor(rng.standard_normal((4, 5)).astype(np.float32), requires_grad=True)
    weights = Tensor(rng.standard_normal((4, 5)).astype(np.float32))
    (g,) = grad((x.relu() * weights).sum(), [x])
    assert g.dtype == np.float32
    np.testing.assert_array_equal(g.data, np.where(x.data > 0, weights.data, 0))
    # The gradient of sum(relu(x) * x) is 2 relu(x), so that of sum(2 relu(x) * v) is
    # 2 v where x > 0: it has gone back through the mask op.
    (g,) = grad((x.relu() * x).sum(), [x], create_graph=True)
    v = rng.standard_normal((4, 5)).astype(np.float32)
    (h,) = grad((g * v).sum(), [x])
    np.testing.assert_allclose(h.data, np.where(x.data > 0, 2 * v, 0), rtol=1e-6)


def test_tensors_have_fixed_attributes():
    t = Tensor([1.0, 2.0])
    with pytest.raises(AttributeError):
        t.colour = "red"  # a typo in an attribute name fails loudly instead of adding one
    assert getattr(t, "_site", None) is None and t.grad is None  # _site: only in anomaly mode


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numpy_rules_give_what_the_tensor_rules_give(rng, dtype):
    """linear, relu and cross_entropy give each rule twice: on arrays for a plain backward
    pass, in Tensor operations for a recorded one. Both must give the same gradients."""
    x, w, b = (Tensor(rng.standard_normal(shape).astype(dtype), requires_grad=True)
               for shape in ((5, 4), (4, 3), (3,)))
    loss = nn.cross_entropy(nn.linear(x, w, b).relu() * 3, [0, 2, 1, 1, 0])
    for node in topological_order(loss):
        if node._op in ("linear", "relu", "cross_entropy"):
            with no_grad():  # as in a plain backward pass: the rules compute on arrays
                quick = [rule(_wrap(np.ones_like(node.data)), node) for rule in node._backward_rules]
            recorded_rules = [rule(_wrap(np.ones_like(node.data)), node) for rule in node._backward_rules]
            assert not any(q.requires_grad or q._op for q in quick)
            assert all(r._op for r in recorded_rules)  # made by Tensor operations
    plain = grad(loss, [x, w, b], retain_graph=True)
    recorded = grad(loss, [x, w, b], create_graph=True)
    for p, r, t in zip(plain, recorded, (x, w, b)):
        assert p.dtype == dtype and p.shape == t.shape and not p.requires_grad
        assert r.requires_grad  # it really went through the recorded Tensor rules
        np.testing.assert_allclose(p.data, r.data, rtol=1e-6 if dtype == np.float32 else 1e-13)
    assert gradcheck(lambda x, w, b: nn.cross_entropy(nn.linear(x, w, b).relu(), [0, 2, 1, 1, 0]),
                     *(t.data.astype(np.float64) for t in (x, w, b)))


def test_numpy_rules_are_not_kept_outside_the_graph(rng):
    with no_grad():
        y = nn.linear(Tensor(np.ones((2, 3))), Tensor(np.ones((3, 4))), Tensor(np.zeros(4)))
    assert y._parents == () and y._backward_rules == ()

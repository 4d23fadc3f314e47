"""hellograd.optim: each update against the formula worked out by hand, float32 kept,
updates in place without allocating, the cosine schedule, and bad arguments."""

import math
import tracemalloc

import numpy as np
import pytest

from hellograd import Tensor, nn, optim


def parameter(values, dtype=np.float32):
    return Tensor(np.array(values, dtype=dtype), requires_grad=True)


def set_grad(p, values):
    p.grad = np.array(values, dtype=p.dtype)


# ----- SGD ------------------------------------------------------------------------------------

def test_sgd_step_is_p_minus_lr_times_grad():
    p = parameter([1.0, -2.0, 3.0])
    array = p.data
    opt = optim.SGD([p], lr=0.1)
    set_grad(p, [0.5, 1.0, -2.0])
    opt.step()
    np.testing.assert_allclose(p.data, [0.95, -2.1, 3.2], rtol=1e-6)
    assert p.data is array and p.dtype == np.float32  # in place, float32 kept


def test_sgd_momentum_two_steps_by_hand():
    p = parameter([1.0, 2.0])
    opt = optim.SGD([p], lr=0.5, momentum=0.9)
    set_grad(p, [1.0, -1.0])
    opt.step()            # v = g1 = [1, -1];              p = [1, 2] - 0.5 v = [0.5, 2.5]
    np.testing.assert_allclose(p.data, [0.5, 2.5])
    set_grad(p, [2.0, 0.0])
    opt.step()            # v = 0.9 [1, -1] + [2, 0] = [2.9, -0.9];  p = [0.5, 2.5] - 0.5 v
    np.testing.assert_allclose(p.data, [0.5 - 1.45, 2.5 + 0.45], rtol=1e-6)
    assert opt.velocities[0].dtype == np.float32


def test_sgd_reads_lr_at_every_step_and_skips_parameters_without_grad():
    p, q = parameter([1.0]), parameter([1.0])
    opt = optim.SGD([p, q], lr=1.0)
    set_grad(p, [1.0])
    opt.lr = 0.25
    opt.step()
    np.testing.assert_allclose(p.data, [0.75])
    np.testing.assert_allclose(q.data, [1.0])  # q.grad is None: untouched


def test_zero_grad_forgets_every_gradient():
    p, q = parameter([1.0]), parameter([2.0])
    opt = optim.SGD([p, q], lr=0.1)
    (p * q).sum().backward()
    opt.zero_grad()
    assert p.grad is None and q.grad is None


# ----- Adam -----------------------------------------------------------------------------------

def adam_reference(p0, grads, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    """Adam as written in the paper, in float64, one line per formula."""
    p, m, v = np.array(p0, dtype=np.float64), 0.0, 0.0
    for t, g in enumerate(grads, start=1):
        g = np.asarray(g, dtype=np.float64)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        m_hat, v_hat = m / (1 - beta1 ** t), v / (1 - beta2 ** t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
    return p


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_matches_the_formula_over_several_steps(rng, dtype):
    p0 = rng.standard_normal(5)
    grads = [rng.standard_normal(5) * scale for scale in (1.0, 10.0, 0.01, 3.0)]
    p = parameter(p0, dtype)
    opt = optim.Adam([p], lr=0.01)
    for g in grads:
        set_grad(p, g)
        opt.step()
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(p.data, adam_reference(p0, grads, 0.01), rtol=rtol, atol=rtol * 1e-2)
    assert p.dtype == dtype and opt.m[0].dtype == dtype and opt.v[0].dtype == dtype
    assert opt.steps == 4


def test_adam_first_step_moves_each_parameter_by_about_lr():
    """Bias correction: m_hat = g and v_hat = g^2 after one step, so the step is lr * sign(g)."""
    p = parameter([0.0, 0.0, 0.0])
    opt = optim.Adam([p], lr=0.1)
    set_grad(p, [1e-3, -5.0, 100.0])
    opt.step()
    np.testing.assert_allclose(p.data, [-0.1, 0.1, -0.1], rtol=1e-4)


def test_adam_with_changing_lr_and_custom_betas():
    p0, grads = [1.0, -1.0], [[0.3, 0.1], [-0.2, 0.4]]
    p = parameter(p0, np.float64)
    opt = optim.Adam([p], lr=0.1, betas=(0.5, 0.9), eps=1e-6)
    set_grad(p, grads[0])
    opt.step()
    expected = adam_reference(p0, grads[:1], 0.1, 0.5, 0.9, 1e-6)
    np.testing.assert_allclose(p.data, expected, rtol=1e-12)
    opt.lr = 0.05  # as a schedule does: the second step uses the new lr
    set_grad(p, grads[1])
    opt.step()
    m = 0.5 * (0.5 * 0 + 0.5 * np.array(grads[0])) + 0.5 * np.array(grads[1])
    v = 0.9 * (0.1 * np.square(grads[0])) + 0.1 * np.square(grads[1])
    expected = expected - 0.05 * (m / (1 - 0.5 ** 2)) / (np.sqrt(v / (1 - 0.9 ** 2)) + 1e-6)
    np.testing.assert_allclose(p.data, expected, rtol=1e-12)


def test_adam_step_allocates_nothing():
    model = nn.Sequential(nn.Linear(300, 200, rng=0), nn.ReLU(), nn.Linear(200, 10, rng=1))
    opt = optim.Adam(model.parameters(), lr=1e-3)
    for p in model.parameters():
        p.grad = np.ones_like(p.data)
    arrays = [p.data for p in model.parameters()]
    opt.step()  # warm up
    tracemalloc.start()
    try:
        opt.step()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4096, f"Adam.step allocated {peak} bytes; the parameters hold {sum(a.nbytes for a in arrays)}"
    assert all(p.data is a for p, a in zip(model.parameters(), arrays))


# torch.optim.Adam's parameters after four steps from these inputs, recorded with PyTorch 2.14.1
# (CPU, float32) by running the same loop on torch.nn.Parameter. Kept as numbers, so the test
# runs without PyTorch installed: it pins our update (moments, bias correction, step size) to
# the one users of PyTorch expect. (Where eps sits is checked against the formula above: at these
# eps it moves the result by less than the tolerance.)
PYTORCH_ADAM_AFTER_FOUR_STEPS = {
    (0.01, (0.9, 0.999), 1e-8): [[1.0319942, 1.6171072, 1.1166214],
                                 [-0.9935922, -1.3884419, 0.095807955]],
    (0.1, (0.5, 0.9), 1e-6): [[1.1361533, 1.4469194, 0.90002906],
                              [-1.1264117, -1.2995734, 0.26624206]],
}


@pytest.mark.parametrize("lr, betas, eps", list(PYTORCH_ADAM_AFTER_FOUR_STEPS))
def test_adam_matches_pytorch(lr, betas, eps):
    inputs = np.random.default_rng(2024)
    p0 = inputs.standard_normal((2, 3)).astype(np.float32)
    grads = [inputs.standard_normal((2, 3)).astype(np.float32) for _ in range(4)]
    p = parameter(p0)
    opt = optim.Adam([p], lr=lr, betas=betas, eps=eps)
    for g in grads:
        set_grad(p, g)
        opt.step()
    expected = np.array(PYTORCH_ADAM_AFTER_FOUR_STEPS[lr, betas, eps], dtype=np.float32)
    np.testing.assert_allclose(p.data, expected, rtol=1e-6, atol=1e-7)


def test_optimizers_reduce_a_loss(rng):
    X = rng.standard_normal((64, 2)).astype(np.float32)
    y = (X[:, 0] > X[:, 1]).astype(np.int64)
    for make in (lambda ps: optim.SGD(ps, lr=0.5, momentum=0.9), lambda ps: optim.Adam(ps, lr=0.05)):
        model = nn.Sequential(nn.Linear(2, 8, rng), nn.ReLU(), nn.Linear(8, 2, rng))
        opt = make(model.parameters())
        first = None
        for _ in range(50):
            loss = nn.cross_entropy(model(X), y)
            first = loss.item() if first is None else first
            opt.zero_grad()
            loss.backward()
            opt.step()
        assert loss.item() < 0.3 * first


# ----- cosine schedule ------------------------------------------------------------------------

def test_cosine_lr_values():
    assert optim.cosine_lr(0, 100, 2e-3) == 2e-3
    assert math.isclose(optim.cosine_lr(50, 100, 2e-3), 1e-3)
    assert math.isclose(optim.cosine_lr(25, 100, 1.0), 0.5 + 0.5 * math.cos(math.pi / 4))
    assert optim.cosine_lr(100, 100, 2e-3) == 0.0
    assert optim.cosine_lr(150, 100, 2e-3) == 0.0          # past the end: stays at final_lr
    assert optim.cosine_lr(100, 100, 1.0, final_lr=0.1) == pytest.approx(0.1)
    assert optim.cosine_lr(50, 100, 1.0, final_lr=0.1) == pytest.approx(0.55)
    values = [optim.cosine_lr(t, 10, 1.0) for t in range(11)]
    assert all(a > b for a, b in zip(values, values[1:]))  # strictly decreasing


# ----- bad arguments --------------------------------------------------------------------------

def test_bad_arguments_are_refused_with_a_reason():
    p = parameter([1.0])
    with pytest.raises(ValueError, match="SGD: got no parameters"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="Adam: parameter 1 must be a leaf Tensor with requires_grad=True"):
        optim.Adam([p, Tensor([1.0])])
    with pytest.raises(TypeError, match="parameter 0 must be a leaf Tensor"):
        optim.SGD([np.ones(2)], lr=0.1)
    with pytest.raises(ValueError, match="lr must be non-negative"):
        optim.SGD([p], lr=-1)
    with pytest.raises(ValueError, match=r"momentum must be in \[0, 1\)"):
        optim.SGD([p], lr=0.1, momentum=1.0)
    with pytest.raises(ValueError, match=r"betas must be in \[0, 1\)"):
        optim.Adam([p], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="eps must be positive"):
        optim.Adam([p], eps=0)
    with pytest.raises(ValueError, match="cosine_lr: total_steps must be positive"):
        optim.cosine_lr(0, 0, 1.0)


def test_parameters_may_come_from_a_generator():
    model = nn.Linear(2, 2, rng=0)
    opt = optim.SGD((p for p in model.parameters()), lr=0.1)
    assert len(opt.params) == 2

"""hellograd.detect_anomaly: the first NaN/inf, forward or backward, names its op and line."""

import numpy as np
import pytest

from hellograd import AnomalyError, Tensor, detect_anomaly, grad
from hellograd import anomaly

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def test_forward_overflow_names_exp_and_this_line():
    x = Tensor(np.float32(100.0), requires_grad=True)
    with detect_anomaly(), pytest.raises(AnomalyError) as caught:
        y = 1 / x.exp()  # the line the error must name
    error = caught.value
    assert isinstance(error, FloatingPointError)
    assert (error.op, error.phase) == ("exp", "forward")
    assert error.site.startswith(f"{__file__}:") and "1 / x.exp()" in error.site
    assert "'exp'" in str(error) and "inf" in str(error) and "forward" in str(error)


def test_backward_nan_names_the_op_whose_rule_produced_it():
    x = Tensor(0.0, requires_grad=True)
    with detect_anomaly():
        y = (x * x).sqrt()  # sqrt(0) = 0 is fine; its derivative 1 / (2 sqrt(0)) is not
        with pytest.raises(AnomalyError) as caught:
            y.backward()
    error = caught.value
    assert (error.op, error.phase) == ("sqrt", "backward")
    assert "(x * x).sqrt()" in error.site
    assert "backward" in str(error) and "input 0" in str(error)


def test_backward_anomaly_of_a_graph_built_outside_the_context():
    x = Tensor(0.0, requires_grad=True)
    y = x.log()  # -inf, but nobody is watching yet
    with detect_anomaly(), pytest.raises(AnomalyError, match="'log'.*backward.*not recorded"):
        y.backward()


def test_second_order_backward_is_checked_too():
    x = Tensor(0.0, requires_grad=True)
    with detect_anomaly():
        (dy,) = grad(x ** 1.5, [x], create_graph=True)  # 1.5 sqrt(x): fine at 0
        assert dy.item() == 0.0
        with pytest.raises(AnomalyError, match="backward"):
            grad(dy, [x])  # 0.75 / sqrt(x): inf at 0


def test_finite_computations_pass_and_the_mode_switches_off():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with detect_anomaly():
        assert anomaly.enabled
        y = (x.exp() * x.sin()).sum()
        y.backward()
    assert not anomaly.enabled
    np.testing.assert_allclose(x.grad, np.exp([1.0, 2.0]) * (np.sin([1.0, 2.0]) + np.cos([1.0, 2.0])))
    z = 1 / Tensor(0.0, requires_grad=True)  # no error outside the context
    assert np.isinf(z.item()) and getattr(z, "_site", None) is None


def test_the_mode_is_off_again_after_an_error():
    with pytest.raises(AnomalyError), detect_anomaly():
        Tensor(-1.0, requires_grad=True).sqrt()
    assert not anomaly.enabled


def test_a_notebook_cell_is_named_as_such_not_by_the_kernels_temporary_file():
    # IPython compiles each cell under a numbered file in a temporary folder of the kernel's.
    cell = "x = Tensor(0.0, requires_grad=True)\ny = 1 / x\n"
    code = compile(cell, "/tmp/ipykernel_4711/1234567.py", "exec")
    with pytest.raises(AnomalyError) as error, detect_anomaly():
        exec(code, {"Tensor": Tensor})
    message = str(error.value)
    assert "line 2 of a notebook cell" in message and "/tmp" not in message

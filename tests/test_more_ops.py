"""hellograd.ops: where, maximum, minimum, concatenate, stack and the Tensor methods clip,
min, logsumexp, var, std, squeeze, unsqueeze/expand_dims and flatten. Values against NumPy,
gradients against finite differences (random shapes), second derivatives, and the edges:
0-d, empty, inf/NaN, ties, bad axes, shapes and dtypes."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import hellograd as hg
from hellograd import Tensor, gradcheck, grad, make_op
from hellograd.ops import AxisError
from test_higher_order import assert_hvp_matches_finite_differences

SETTINGS = settings(max_examples=20, deadline=None)


def arrays(shape, low=-2.0, high=2.0):
    return hnp.arrays(np.float64, shape, elements=st.floats(low, high, allow_nan=False, width=64))


def spaced(shape, odd=False):
    """Values k/20 (even or odd k): never two within a finite-difference step of each other
    or of a bound such as 0.525, so no kink lies in reach of the central differences."""
    return hnp.arrays(np.int64, shape, elements=st.integers(-20, 20)).map(lambda k: (2 * k + odd) / 20.0)


def distinct(shape):
    """Distinct values k/20: no ties for min, no zero spread for std."""
    return hnp.arrays(np.int64, shape, elements=st.integers(-40, 40), unique=True).map(lambda k: k / 20.0)


shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3)
nonempty = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)


def axes_of(data, ndim):
    """None, one axis (negative too) or the first two axes as a tuple."""
    if ndim == 0:
        return data.draw(st.none())
    return data.draw(st.none() | st.integers(-ndim, ndim - 1) | st.just(tuple(range(ndim))[:2]))


# ----- where ------------------------------------------------------------------------------------
@SETTINGS
@given(data=st.data())
def test_where_against_numpy_with_broadcasting(data):
    shapes_drawn = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=3))
    shape_c, shape_x, shape_y = shapes_drawn.input_shapes
    cond = data.draw(hnp.arrays(np.bool_, shape_c))
    a, b = data.draw(arrays(shape_x)), data.draw(arrays(shape_y))
    np.testing.assert_array_equal(hg.where(cond, Tensor(a), Tensor(b)).data, np.where(cond, a, b))
    assert gradcheck(lambda x, y: hg.where(cond, x * x, y), a, b)


def test_where_gives_the_unpicked_input_exactly_zero_even_at_inf():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = Tensor([np.inf, np.nan], requires_grad=True)
    out = hg.where(np.array([True, False]), x, y)
    out.backward(np.array([np.inf, 1.0]))  # an inf gradient times a 0/1 mask would be NaN
    np.testing.assert_array_equal(x.grad, [np.inf, 0.0])
    np.testing.assert_array_equal(y.grad, [0.0, 1.0])


def test_where_accepts_numbers_and_bool_tensors_and_keeps_float32():
    x = Tensor(np.array([-1.0, 2.0], dtype=np.float32), requires_grad=True)
    mask = make_op("greater", x.data > 0, (), ())  # a Tensor holding booleans
    out = hg.where(mask, x, 0)
    assert out.dtype == np.float32
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 1.0])
    assert hg.where(np.array(True), 1.0, 2.0).item() == 1.0  # 0-d, no Tensor at all


def test_where_condition_from_a_comparison():
    x = Tensor([-1.0, 0.0, 2.0], requires_grad=True)
    hg.where(x > 0, x, -x).sum().backward()
    np.testing.assert_array_equal(x.grad, [-1.0, -1.0, 1.0])


def test_where_refuses_a_condition_that_is_not_boolean():
    with pytest.raises(TypeError, match="where: the condition must be boolean.*float64"):
        hg.where(np.array([0.0, 1.0]), Tensor([1.0, 2.0]), 0)


def test_where_shape_mismatch_names_all_shapes():
    with pytest.raises(ValueError, match=r"where: shapes \(2,\), \(3,\), \(\) cannot be broadcast"):
        hg.where(np.array([True, False]), Tensor([1.0, 2.0, 3.0]), 0)


def test_where_of_a_log_and_the_double_where_trick():
    """The trap the docstring describes, and its way out."""
    x = Tensor([0.0, 2.0], requires_grad=True)
    positive = x.data > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        hg.where(positive, x.log(), 0).sum().backward()
    assert np.isnan(x.grad[0])
    x.grad = None
    hg.where(positive, hg.where(positive, x, 1).log(), 0).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.5])


# ----- maximum and minimum ----------------------------------------------------------------------
@pytest.mark.parametrize("op, reference", [(hg.maximum, np.maximum), (hg.minimum, np.minimum)])
@SETTINGS
@given(data=st.data())
def test_maximum_minimum_against_numpy_with_broadcasting(op, reference, data):
    shape_a, shape_b = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3)).input_shapes
    a, b = data.draw(spaced(shape_a)), data.draw(spaced(shape_b, odd=True))
    np.testing.assert_array_equal(op(Tensor(a), Tensor(b)).data, reference(a, b))
    assert gradcheck(op, a, b)
    assert gradcheck(lambda x: op(x, 0.025), a)  # a number on one side


@pytest.mark.parametrize("op, expected", [(hg.maximum, [0.5, 1.0, 0.0]), (hg.minimum, [0.5, 0.0, 1.0])])
def test_ties_split_the_gradient_half_and_half(op, expected):
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = Tensor([1.0, 0.0, 5.0], requires_grad=True)
    op(x, y).sum().backward()
    np.testing.assert_array_equal(x.grad, expected)
    np.testing.assert_array_equal(x.grad + y.grad, [1.0, 1.0, 1.0])  # nothing lost, nothing doubled
    z = Tensor([2.0, 3.0], requires_grad=True)
    op(z, z).sum().backward()  # a tie with itself: two halves make the whole
    np.testing.assert_array_equal(z.grad, [1.0, 1.0])


def test_maximum_broadcast_tie_sums_the_halves():
    x = Tensor([0.0, 0.0, 1.0], requires_grad=True)
    b = Tensor(0.0, requires_grad=True)
    hg.maximum(x, b).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.5, 0.5, 1.0])
    assert b.grad == 1.0  # two half-ties, summed over the broadcast


@pytest.mark.parametrize("op, reference", [(hg.maximum, np.maximum), (hg.minimum, np.minimum)])
def test_maximum_minimum_with_inf_and_nan(op, reference):
    a = np.array([np.inf, -np.inf, np.nan, 1.0, np.nan])
    b = np.array([1.0, 1.0, 1.0, np.nan, np.nan])
    x, y = Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)
    out = op(x, y)
    np.testing.assert_array_equal(out.data, reference(a, b))
    out.sum().backward()
    inf_wins = 1.0 if op is hg.maximum else 0.0
    # NaN: both inputs get the whole gradient (PyTorch's rule), never NaN
    np.testing.assert_array_equal(x.grad, [inf_wins, 1 - inf_wins, 1.0, 1.0, 1.0])
    np.testing.assert_array_equal(y.grad, [1 - inf_wins, inf_wins, 1.0, 1.0, 1.0])


@pytest.mark.parametrize("op", [hg.maximum, hg.minimum, lambda a, b: hg.where(np.array(True), a, b)])
def test_two_tensors_of_different_dtypes_are_refused(op):
    with pytest.raises(TypeError, match="dtypes float32 and float64 differ"):
        op(Tensor(np.float32(1.0)), Tensor(2.0))
    with pytest.raises(ValueError, match=r"(maximum|minimum|where): shapes .*\(2,\), \(3,\)"):
        op(Tensor([1.0, 2.0]), Tensor([1.0, 2.0, 3.0]))


# ----- concatenate and stack --------------------------------------------------------------------
@SETTINGS
@given(data=st.data())
def test_concatenate_against_numpy(data):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=3))
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    lengths = data.draw(st.lists(st.integers(0, 3), min_size=1, max_size=3))  # 0: an empty piece
    pieces = [data.draw(arrays(shape[:axis % len(shape)] + (n,) + shape[axis % len(shape) + 1:]))
              for n in lengths]
    expected = np.concatenate(pieces, axis=axis)
    np.testing.assert_array_equal(hg.concatenate([Tensor(p) for p in pieces], axis=axis).data, expected)
    weights = np.arange(expected.size, dtype=float).reshape(expected.shape)  # each slice matters
    assert gradcheck(lambda *xs: hg.concatenate(xs, axis=axis) * weights, *pieces)


def test_concatenate_axis_none_flattens_like_numpy():
    a, b = np.arange(6.0).reshape(2, 3), np.array(7.0)
    np.testing.assert_array_equal(hg.concatenate([Tensor(a), Tensor(b)], axis=None).data,
                                  np.concatenate([a, b], axis=None))
    assert gradcheck(lambda x, y: hg.concatenate([x, y], axis=None) * np.arange(7.0), a, b)


def test_concatenate_and_stack_errors_name_the_op_and_shapes():
    a, b = Tensor(np.ones((2, 3))), Tensor(np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"concatenate: .*\(shapes \(2, 3\), \(2, 2\)\)"):
        hg.concatenate([a, b])
    with pytest.raises(ValueError, match=r"concatenate: zero-dimensional .*\(shapes \(\), \(\)\)"):
        hg.concatenate([Tensor(1.0), Tensor(2.0)])
    with pytest.raises(ValueError, match=r"stack: all tensors must have the same shape, got \(2, 3\), \(2, 2\)"):
        hg.stack([a, b])
    for op in (hg.concatenate, hg.stack):
        with pytest.raises(ValueError, match=f"{op.__name__}: needs at least one tensor"):
            op([])
        with pytest.raises(TypeError, match=f"{op.__name__}: dtypes float64 and float32 differ"):
            op([a, Tensor(np.ones((2, 3), dtype=np.float32))])


@SETTINGS
@given(data=st.data())
def test_stack_against_numpy(data):
    shape = data.draw(shapes)
    axis = data.draw(st.integers(-len(shape) - 1, len(shape)))
    pieces = [data.draw(arrays(shape)) for _ in range(data.draw(st.integers(1, 3)))]
    expected = np.stack(pieces, axis=axis)
    np.testing.assert_array_equal(hg.stack([Tensor(p) for p in pieces], axis=axis).data, expected)
    weights = np.arange(expected.size, dtype=float).reshape(expected.shape)
    assert gradcheck(lambda *xs: hg.stack(xs, axis=axis) * weights, *pieces)


def test_concatenate_and_stack_lift_numbers_and_arrays_to_the_tensor_dtype():
    x = Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    joined = hg.concatenate([x, np.array([3.0]), [4.0]])
    assert joined.dtype == np.float32
    stacked = hg.stack([x, np.zeros(2)], axis=1)
    assert stacked.dtype == np.float32 and stacked.shape == (2, 2)
    (joined.sum() + stacked.sum()).backward()
    np.testing.assert_array_equal(x.grad, [2.0, 2.0])


# ----- clip -------------------------------------------------------------------------------------
@SETTINGS
@given(data=st.data())
def test_clip_against_numpy(data):
    a = data.draw(spaced(data.draw(shapes), odd=True))  # odd twentieths: never on a bound
    np.testing.assert_array_equal(Tensor(a).clip(-0.5, 1.0).data, np.clip(a, -0.5, 1.0))
    assert gradcheck(lambda x: x.clip(-0.5, 1.0) * x, a)
    assert gradcheck(lambda x: x.clip(None, 0.5) + x.clip(lo=-1.0), a)


def test_clip_passes_the_gradient_at_the_bounds_and_not_beyond():
    x = Tensor([-2.0, -1.0, 0.0, 1.0, 2.0, np.nan], requires_grad=True)
    out = x.clip(-1.0, 1.0)
    np.testing.assert_array_equal(out.data, [-1.0, -1.0, 0.0, 1.0, 1.0, np.nan])
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 1.0, 1.0, 1.0, 0.0, 0.0])


def test_clip_with_array_bounds_broadcasts_like_numpy():
    a = np.array([[0.1, 0.6], [0.9, -0.3]])
    lo, hi = np.array([0.0, 0.5]), np.array([[0.5], [0.8]])
    np.testing.assert_array_equal(Tensor(a).clip(lo, hi).data, np.clip(a, lo, hi))
    assert gradcheck(lambda x: x.clip(lo, hi) * np.array([[1.0, 2.0], [3.0, 4.0]]), a)
    bigger = Tensor([0.3, 0.7]).clip(np.zeros((3, 2)), 0.5)  # a bound may widen the result
    assert bigger.shape == (3, 2)
    with pytest.raises(ValueError, match=r"clip: shapes \(2,\), \(3,\), \(\) cannot be broadcast"):
        Tensor([0.3, 0.7]).clip(np.zeros(3), 1.0)


def test_clip_keeps_float32_and_refuses_bounds_that_need_gradients():
    x = Tensor(np.array([0.5, 3.0], dtype=np.float32))
    assert x.clip(0.0, np.array([1.0, 2.0])).dtype == np.float32  # a float64 bound is converted, as in x * 2
    with pytest.raises(TypeError, match="clip: the bounds are constants"):
        x.clip(Tensor(np.float32(0.0), requires_grad=True), 1.0)


# ----- reductions: min, logsumexp, var, std -----------------------------------------------------
REDUCTIONS = {
    "min": (Tensor.min, np.min),
    "logsumexp": (Tensor.logsumexp, lambda a, **kw: np.log(np.exp(a).sum(**kw))),  # naive, fine on [-2, 2]
}


@pytest.mark.parametrize("name", REDUCTIONS)
@pytest.mark.parametrize("keepdims", [False, True])
@SETTINGS
@given(data=st.data())
def test_min_and_logsumexp_against_numpy(name, keepdims, data):
    op, reference = REDUCTIONS[name]
    a = data.draw(distinct(data.draw(nonempty)))
    axis = axes_of(data, a.ndim)
    expected = reference(a, axis=axis, keepdims=keepdims)
    np.testing.assert_allclose(op(Tensor(a), axis=axis, keepdims=keepdims).data, expected,
                               rtol=1e-12, atol=1e-12)
    weights = np.linspace(-1.0, 2.0, expected.size).reshape(np.shape(expected))
    assert gradcheck(lambda x: op(x, axis=axis, keepdims=keepdims) * weights, a)


def test_min_ties_share_the_gradient_like_max():
    x = Tensor([[1.0, 1.0, 3.0], [0.0, 2.0, 0.0]], requires_grad=True)
    x.min(axis=1).sum().backward()
    np.testing.assert_array_equal(x.grad, [[0.5, 0.5, 0.0], [0.5, 0.0, 0.5]])


def test_min_of_nan_is_nan_and_the_nan_takes_the_gradient():
    x = Tensor([1.0, np.nan, 0.0], requires_grad=True)
    out = x.min()
    assert np.isnan(out.item())
    out.backward()
    np.testing.assert_array_equal(x.grad, [0.0, 1.0, 0.0])  # as Tensor.max, whose rule min uses


def test_min_of_an_empty_axis_is_an_error_but_an_empty_result_is_not():
    with pytest.raises(ValueError, match=r"min: an empty axis has no minimum \(shape \(0, 3\)"):
        Tensor(np.zeros((0, 3))).min()
    assert Tensor(np.zeros((0, 3))).min(axis=1).shape == (0,)


def test_logsumexp_does_not_overflow_and_keeps_float32():
    x = Tensor(np.array([[1000.0, 1000.0], [-1000.0, 0.0]], dtype=np.float32), requires_grad=True)
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # exp(-1000) may underflow to 0
        out = x.logsumexp(axis=1)
        out.sum().backward()
    assert out.dtype == np.float32 and x.grad.dtype == np.float32
    np.testing.assert_allclose(out.data, [1000.0 + np.log(2.0), 0.0], rtol=1e-6)
    # float32 holds 1000.69 to about 6e-5, and the softmax exp(x - out) inherits that
    np.testing.assert_allclose(x.grad, [[0.5, 0.5], [0.0, 1.0]], atol=1e-4)


def test_logsumexp_of_a_row_of_minus_inf_is_minus_inf_with_gradient_zero():
    x = Tensor([[-np.inf, -np.inf], [-np.inf, 0.0]], requires_grad=True)
    with np.errstate(all="raise"):
        out = x.logsumexp(axis=1)
        out.sum().backward()
    np.testing.assert_array_equal(out.data, [-np.inf, 0.0])
    np.testing.assert_array_equal(x.grad, [[0.0, 0.0], [0.0, 1.0]])


def test_logsumexp_of_nothing_inf_and_nan():
    empty = Tensor(np.zeros((2, 0)), requires_grad=True)
    out = empty.logsumexp(axis=1)
    np.testing.assert_array_equal(out.data, [-np.inf, -np.inf])  # the log of an empty sum
    out.sum().backward()
    assert empty.grad.shape == (2, 0)
    assert Tensor(np.zeros(0)).logsumexp().item() == -np.inf
    np.testing.assert_array_equal(Tensor([[np.inf, 1.0], [np.nan, 1.0]]).logsumexp(axis=1).data,
                                  [np.inf, np.nan])


@pytest.mark.parametrize("name", ["var", "std"])
@pytest.mark.parametrize("ddof", [0, 1])
@SETTINGS
@given(data=st.data())
def test_var_and_std_against_numpy(name, ddof, data):
    a = data.draw(distinct(data.draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=2, max_side=4))))
    axis = axes_of(data, a.ndim)
    keepdims = data.draw(st.booleans())
    op = getattr(Tensor, name)
    expected = getattr(np, name)(a, axis=axis, keepdims=keepdims, ddof=ddof)
    np.testing.assert_allclose(op(Tensor(a), axis=axis, keepdims=keepdims, ddof=ddof).data, expected,
                               rtol=1e-12, atol=1e-15)
    assert gradcheck(lambda x: op(x, axis=axis, keepdims=keepdims, ddof=ddof), a)


def test_std_of_constant_data_has_gradient_zero_not_nan():
    x = Tensor([[2.0, 2.0, 2.0], [1.0, 2.0, 3.0]], requires_grad=True)
    out = x.std(axis=1)
    np.testing.assert_array_equal(out.data, np.std(x.data, axis=1))
    with np.errstate(all="raise"):
        out.sum().backward()
    row = x.data[1]
    np.testing.assert_allclose(x.grad, [[0.0, 0.0, 0.0], (row - row.mean()) / (row.size * row.std())])
    y = Tensor([2.0, 2.0], requires_grad=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        y.var().sqrt().backward()
    assert np.isnan(y.grad).all()  # what std's own rule avoids


def test_var_with_too_few_degrees_of_freedom_matches_numpy():
    a = np.array([[1.0, 3.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = np.var(a, axis=0, ddof=1)
        empty = np.var(np.zeros(0))
    with pytest.warns(RuntimeWarning, match="var: degrees of freedom <= 0"), np.errstate(all="ignore"):
        np.testing.assert_array_equal(Tensor(a).var(axis=0, ddof=1).data, expected)
    with pytest.warns(RuntimeWarning, match="var: degrees of freedom"), np.errstate(all="ignore"):
        assert np.isnan(Tensor(np.zeros(0)).var().item()) and np.isnan(empty)


def test_reductions_keep_float32():
    x = Tensor(np.array([[1.0, 2.0], [3.0, 5.0]], dtype=np.float32), requires_grad=True)
    for out in (x.min(axis=0), x.logsumexp(), x.var(axis=1), x.std(ddof=1)):
        assert out.dtype == np.float32
        x.grad = None
        out.sum().backward()
        assert x.grad.dtype == np.float32


# ----- shapes: squeeze, unsqueeze / expand_dims, flatten ----------------------------------------
@SETTINGS
@given(data=st.data())
def test_squeeze_unsqueeze_flatten_against_numpy(data):
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=2))
    a = data.draw(arrays(shape))
    x = Tensor(a)
    ones = tuple(i for i, n in enumerate(shape) if n == 1)
    squeezable = data.draw(st.none() | st.sampled_from(ones) | st.just(ones[:2])) if ones else None
    assert x.squeeze(squeezable).shape == np.squeeze(a, squeezable).shape
    new = data.draw(st.integers(-a.ndim - 1, a.ndim))
    assert x.unsqueeze(new).shape == np.expand_dims(a, new).shape
    assert x.expand_dims((0, -1)).shape == np.expand_dims(a, (0, -1)).shape
    np.testing.assert_array_equal(x.flatten().data, a.flatten())
    weights = np.arange(a.size, dtype=float)
    assert gradcheck(lambda t: t.squeeze(squeezable).flatten() * weights, a)
    assert gradcheck(lambda t: t.unsqueeze(new).flatten() * weights, a)


def test_shape_errors_name_the_op_and_shape():
    x = Tensor(np.ones((1, 3)))
    with pytest.raises(ValueError, match=r"squeeze: axis 1 has length 3, not 1 \(shape \(1, 3\)\)"):
        x.squeeze(1)
    with pytest.raises(ValueError, match="unsqueeze: repeated axis"):
        x.unsqueeze((0, 0))


# ----- NumPy's axis conventions, for every op with an axis --------------------------------------
AXIS_OPS = {
    "min": lambda x, axis: x.min(axis=axis),
    "logsumexp": lambda x, axis: x.logsumexp(axis=axis),
    "var": lambda x, axis: x.var(axis=axis),
    "std": lambda x, axis: x.std(axis=axis),
    "squeeze": lambda x, axis: x.squeeze(axis),
    "unsqueeze": lambda x, axis: x.unsqueeze(axis + 1 if axis >= 0 else axis - 1),
    "concatenate": lambda x, axis: hg.concatenate([x, x], axis=axis),
    "stack": lambda x, axis: hg.stack([x, x], axis=axis + 1 if axis >= 0 else axis - 1),
}


@pytest.mark.parametrize("name", AXIS_OPS)
@pytest.mark.parametrize("axis", [2, -3])
def test_an_axis_out_of_range_raises_numpys_axis_error(name, axis):
    with pytest.raises(AxisError, match=name) as caught:
        AXIS_OPS[name](Tensor(np.ones((1, 1))), axis)
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, IndexError)


@pytest.mark.parametrize("name, reference", [
    ("min", np.min), ("logsumexp", np.sum), ("var", np.var), ("std", np.std), ("squeeze", np.squeeze),
])
@pytest.mark.parametrize("axis", [0, -1, None])
def test_a_0d_tensor_over_axis_0_or_minus_1_behaves_as_numpy(name, reference, axis):
    """np.min, np.sum and np.squeeze accept axis 0 or -1 on a 0-d array; np.var and np.std refuse it."""
    a = np.array(0.5)
    try:
        expected = reference(a, axis=axis)
    except AxisError:
        with pytest.raises(AxisError):
            AXIS_OPS[name](Tensor(a), axis)
        return
    x = Tensor(a, requires_grad=True)
    out = AXIS_OPS[name](x, axis) if axis is not None else getattr(x, name)()
    assert out.shape == np.shape(expected) == ()
    if name != "logsumexp":  # logsumexp of one number is that number; np.sum stands in for the rule
        assert out.item() == expected
    out.backward()
    assert x.grad.shape == ()


def test_0d_and_empty_edges():
    scalar = Tensor(2.0, requires_grad=True)
    parts = [hg.where(np.array(True), scalar, 0), hg.maximum(scalar, 1.0), hg.minimum(scalar, 3.0),
             scalar.clip(0.0, 1.0), scalar.logsumexp(), scalar.flatten()[0], hg.stack([scalar, scalar])[1]]
    sum(p for p in parts).backward()
    assert scalar.grad == 6.0  # every part but the clipped one passes the gradient 1
    assert scalar.unsqueeze(0).shape == (1,) and scalar.flatten().shape == (1,)
    empty = Tensor(np.zeros((0, 2)), requires_grad=True)
    outs = [hg.where(np.zeros((0, 2), bool), empty, 1.0), hg.maximum(empty, 0.0), empty.clip(0.0, 1.0),
            hg.concatenate([empty, empty]), hg.stack([empty, empty], axis=2), empty.unsqueeze(1),
            empty.squeeze(), empty.flatten(), empty.min(axis=1)]
    assert [o.shape for o in outs] == [(0, 2), (0, 2), (0, 2), (0, 2), (0, 2, 2), (0, 1, 2), (0, 2), (0,), (0,)]
    sum(o.sum() for o in outs).backward()
    assert empty.grad.shape == (0, 2)


# ----- second derivatives -----------------------------------------------------------------------
SECOND_ORDER = {
    "where": lambda x: (hg.where(x.data > 0, x ** 3, x.sin()) * x).sum(),
    "maximum": lambda x: (hg.maximum(x, x.sin() + 0.3) ** 3).sum(),
    "minimum": lambda x: (hg.minimum(x * x, 1.0) * x).sum(),
    "logsumexp": lambda x: (x.logsumexp(axis=1) ** 2).sum() + x.logsumexp(),
    "clip": lambda x: (x.clip(-1.0, 1.0) ** 3).sum(),
    "min": lambda x: (x.min(axis=0) * x.sum(axis=0)).sum(),
    "var_std": lambda x: x.var(axis=1, ddof=1).sum() + (x.std(axis=0) ** 3).sum(),
    "concatenate_stack": lambda x: (hg.concatenate([x, x * x], axis=1).sin()
                                    * hg.stack([x, x], axis=2).flatten().sum()).sum(),
}


@pytest.mark.parametrize("name", SECOND_ORDER)
def test_second_derivatives_against_finite_differences_of_the_first(name, rng):
    a = rng.uniform(-2, 2, size=(3, 4))
    a[np.abs(np.abs(a) - 1) < 0.05] = 0.5  # off the clip and minimum kinks
    assert_hvp_matches_finite_differences(SECOND_ORDER[name], [a], rng, atol=1e-7)


def test_second_derivative_of_logsumexp_is_the_softmax_covariance(rng):
    a = rng.standard_normal(4)

    def hessian_row(i):  # a fresh graph for each row: a backward pass frees the graph it walks
        x = Tensor(a, requires_grad=True)
        (g,) = grad(x.logsumexp(), [x], create_graph=True)
        return grad(g[i], [x])[0].data

    hessian = np.stack([hessian_row(i) for i in range(4)])
    p = np.exp(a) / np.exp(a).sum()
    np.testing.assert_allclose(hessian, np.diag(p) - np.outer(p, p), rtol=1e-12, atol=1e-15)


# ----- documentation ----------------------------------------------------------------------------
@pytest.mark.parametrize("obj", [hg.where, hg.maximum, hg.minimum, hg.concatenate, hg.stack, Tensor.clip,
                                 Tensor.min, Tensor.logsumexp, Tensor.var, Tensor.std, Tensor.squeeze,
                                 Tensor.unsqueeze, Tensor.expand_dims, Tensor.flatten])
def test_every_new_op_is_documented_and_names_its_chapter(obj):
    assert obj.__doc__ and 'chapter "From scalars to tensors"' in " ".join(obj.__doc__.split())
    assert obj.__module__ == "hellograd.ops"

"""hellograd.nn: layers against plain NumPy and finite differences, the loss against a
NumPy reference, parameter walking, and saving/loading weights."""

import numpy as np
import pytest

from hellograd import Tensor, grad, gradcheck, nn
from test_higher_order import assert_hvp_matches_finite_differences


def small_mlp(rng, dtype=np.float32):
    return nn.Sequential(nn.Linear(4, 5, rng, dtype), nn.ReLU(), nn.Linear(5, 3, rng, dtype))


def log_softmax_reference(z):
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


# ----- Linear ---------------------------------------------------------------------------------

def test_linear_shapes_dtype_and_zero_bias():
    layer = nn.Linear(784, 128, rng=0)
    assert layer.weight.shape == (784, 128) and layer.bias.shape == (128,)
    assert layer.weight.dtype == np.float32 and layer.bias.dtype == np.float32
    assert layer.weight.requires_grad and layer.bias.requires_grad
    assert not layer.bias.data.any()


def test_linear_he_initialisation_has_variance_two_over_fan_in():
    layer = nn.Linear(1000, 500, rng=0)
    assert abs(layer.weight.data.std() / np.sqrt(2 / 1000) - 1) < 0.01
    assert abs(layer.weight.data.mean()) < 0.01 * np.sqrt(2 / 1000) * 10


def test_linear_is_reproducible_from_a_seed_or_a_generator():
    a, b = nn.Linear(3, 2, rng=7), nn.Linear(3, 2, rng=7)
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    rng = np.random.default_rng(7)
    first, second = nn.Linear(3, 2, rng), nn.Linear(3, 2, rng)
    np.testing.assert_array_equal(first.weight.data, a.weight.data)
    assert not np.array_equal(first.weight.data, second.weight.data)  # the generator moved on


def test_linear_float64_and_bad_dtype():
    assert nn.Linear(2, 2, rng=0, dtype=np.float64).weight.dtype == np.float64
    with pytest.raises(TypeError, match="Linear: dtype must be a floating type"):
        nn.Linear(2, 2, rng=0, dtype=np.int32)


def test_linear_value_and_gradients_match_the_composition(rng):
    x = Tensor(rng.standard_normal((6, 4)), requires_grad=True)
    layer = nn.Linear(4, 3, rng, dtype=np.float64)
    layer.bias.data[:] = rng.standard_normal(3)
    upstream = rng.standard_normal((6, 3))

    fused = layer(x)
    np.testing.assert_allclose(fused.data, x.data @ layer.weight.data + layer.bias.data, rtol=1e-12)
    fused_grads = grad((fused * upstream).sum(), [x, layer.weight, layer.bias])
    composed = x @ layer.weight + layer.bias
    composed_grads = grad((composed * upstream).sum(), [x, layer.weight, layer.bias])
    for a, b in zip(fused_grads, composed_grads):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-12, atol=1e-12)


def test_linear_gradcheck_every_input(rng):
    assert gradcheck(nn.linear, rng.standard_normal((5, 4)), rng.standard_normal((4, 3)),
                     rng.standard_normal(3))


def test_linear_second_derivative(rng):
    """The rules are Tensor operations, so the gradient can be differentiated again."""
    arrays = [rng.standard_normal((3, 2)), rng.standard_normal((2, 2)), rng.standard_normal(2)]
    assert_hvp_matches_finite_differences(lambda x, w, b: nn.linear(x, w, b).tanh().sum(), arrays, rng, 1e-7)


def test_linear_accepts_an_array_and_keeps_float32():
    layer = nn.Linear(3, 2, rng=0)
    out = layer(np.ones((4, 3), dtype=np.float32))
    assert out.dtype == np.float32 and out.shape == (4, 2)


def test_linear_input_does_not_require_grad_so_no_gradient_for_it(rng):
    layer = nn.Linear(3, 2, rng)
    x = Tensor(rng.standard_normal((4, 3)).astype(np.float32))
    layer(x).sum().backward()
    assert x.grad is None and layer.weight.grad.shape == (3, 2) and layer.bias.grad.shape == (2,)
    np.testing.assert_allclose(layer.bias.grad, [4.0, 4.0])


def test_linear_errors():
    layer = nn.Linear(3, 2, rng=0)
    with pytest.raises(ValueError, match=r"linear: expected x of shape \(batch, 3\).*got x of shape \(4, 5\)"):
        layer(Tensor(np.ones((4, 5), dtype=np.float32)))
    with pytest.raises(ValueError, match=r"got x of shape \(3,\)"):
        layer(Tensor(np.ones(3, dtype=np.float32)))
    with pytest.raises(TypeError, match="linear: dtypes float32 and float64 differ"):
        layer(Tensor(np.ones((4, 3))))
    with pytest.raises(ValueError, match=r"linear: bias must have shape \(2,\), got \(3,\)"):
        nn.linear(np.ones((4, 3)), Tensor(np.ones((3, 2))), np.ones(3))


# ----- ReLU, Sequential, Module ---------------------------------------------------------------

def test_sequential_is_the_composition_of_its_layers(rng):
    model = small_mlp(rng)
    x = Tensor(rng.standard_normal((7, 4)).astype(np.float32))
    first, second = model[0], model[2]
    expected = np.maximum(x.data @ first.weight.data + first.bias.data, 0) @ second.weight.data + second.bias.data
    np.testing.assert_allclose(model(x).data, expected, rtol=1e-6)
    assert len(model) == 3 and model(x).dtype == np.float32


def test_mlp_gradients_against_finite_differences(rng):
    model = small_mlp(rng, dtype=np.float64)
    names = [name for name, _ in model.named_parameters()]

    def loss_of(x, *params):
        for p, (_, own) in zip(params, model.named_parameters()):
            own.data = p.data  # gradcheck perturbs its own float64 copies
        out = x
        for layer, (w, b) in zip([model[0], model[2]], [params[0:2], params[2:4]]):
            out = nn.linear(out, w, b)
            if layer is model[0]:
                out = out.relu()
        return nn.cross_entropy(out, [0, 2, 1, 2, 0])

    x = rng.standard_normal((5, 4))
    assert names == ["layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias"]
    assert gradcheck(loss_of, x, *[p.data for p in model.parameters()])


def test_parameters_walk_attributes_in_assignment_order_and_list_shared_ones_once(rng):
    class Net(nn.Module):
        def __init__(self):
            self.encoder = nn.Linear(2, 3, rng)
            self.blocks = [nn.Linear(3, 3, rng), nn.ReLU()]
            self.scale = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
            self.constant = Tensor(np.ones(3, dtype=np.float32))  # no grad: not a parameter
            self.tied = self.encoder  # the same layer again

        def forward(self, x):
            return self.blocks[0](self.encoder(x)) * self.scale

    net = Net()
    assert [name for name, _ in net.named_parameters()] == [
        "encoder.weight", "encoder.bias", "blocks.0.weight", "blocks.0.bias", "scale"]
    assert net.parameters()[0] is net.encoder.weight
    net(np.ones((1, 2), dtype=np.float32)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_module_without_forward_says_so():
    with pytest.raises(NotImplementedError, match="Empty must define forward"):
        type("Empty", (nn.Module,), {})()(1)


def test_sequential_rejects_a_non_module():
    with pytest.raises(TypeError, match="Sequential: every layer must be a Module, got function"):
        nn.Sequential(nn.ReLU(), lambda x: x)


def test_repr_shows_the_layers():
    text = repr(nn.Sequential(nn.Linear(2, 3, rng=0), nn.ReLU()))
    assert "(0): Linear(2, 3, dtype=float32)" in text and "(1): ReLU()" in text


# ----- cross_entropy --------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_value_matches_numpy(rng, dtype):
    z = (rng.standard_normal((8, 5)) * 3).astype(dtype)
    y = rng.integers(0, 5, 8)
    loss = nn.cross_entropy(Tensor(z), y)
    reference = -log_softmax_reference(z.astype(np.float64))[np.arange(8), y].mean()
    assert loss.dtype == dtype and loss.shape == ()
    np.testing.assert_allclose(loss.item(), reference, rtol=1e-6 if dtype == np.float32 else 1e-12)


def test_cross_entropy_gradient_is_softmax_minus_one_hot_over_n(rng):
    z = Tensor(rng.standard_normal((6, 4)), requires_grad=True)
    y = np.array([0, 3, 1, 1, 2, 3])
    nn.cross_entropy(z, y).backward()
    p = np.exp(log_softmax_reference(z.data))
    one_hot = np.eye(4)[y]
    np.testing.assert_allclose(z.grad, (p - one_hot) / 6, rtol=1e-12, atol=1e-15)


def test_cross_entropy_agrees_with_the_composition_through_log_softmax(rng):
    z = Tensor(rng.standard_normal((5, 3)), requires_grad=True)
    y = np.array([2, 0, 1, 1, 0])
    fused = nn.cross_entropy(z, y)
    composed = -z.log_softmax(axis=1)[np.arange(5), y].mean()
    np.testing.assert_allclose(fused.item(), composed.item(), rtol=1e-12)
    (a,), (b,) = grad(fused, [z]), grad(composed, [z])
    np.testing.assert_allclose(a.data, b.data, rtol=1e-12, atol=1e-15)


def test_cross_entropy_gradcheck_and_second_derivative(rng):
    y = np.array([1, 0, 2, 2])
    assert gradcheck(lambda z: nn.cross_entropy(z, y), rng.standard_normal((4, 3)))

    assert_hvp_matches_finite_differences(lambda z: nn.cross_entropy(z, y), [rng.standard_normal((4, 3))], rng, 1e-8)


def test_cross_entropy_is_stable_for_huge_logits():
    z = Tensor(np.array([[1000.0, 0.0, -1000.0], [0.0, 1000.0, 0.0]], dtype=np.float32), requires_grad=True)
    loss = nn.cross_entropy(z, [0, 0])
    loss.backward()
    np.testing.assert_allclose(loss.item(), 500.0)  # (0 + 1000) / 2
    assert np.isfinite(z.grad).all()


def test_cross_entropy_accepts_lists_and_tensor_labels(rng):
    z = Tensor(rng.standard_normal((3, 4)))
    expected = nn.cross_entropy(z, np.array([1, 2, 3])).item()
    assert nn.cross_entropy(z, [1, 2, 3]).item() == expected
    assert nn.cross_entropy(z, Tensor([1, 2, 3])).item() == expected


def test_cross_entropy_errors():
    z = Tensor(np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"expected 4 labels of shape \(4,\).*got labels of shape \(4, 1\)"):
        nn.cross_entropy(z, np.zeros((4, 1), dtype=int))
    with pytest.raises(ValueError, match=r"expected 4 labels.*got labels of shape \(3,\)"):
        nn.cross_entropy(z, [0, 1, 2])
    with pytest.raises(ValueError, match=r"labels must lie in 0..2, got values from 0 to 3"):
        nn.cross_entropy(z, [0, 1, 2, 3])
    with pytest.raises(ValueError, match=r"labels must lie in 0..2, got values from -1"):
        nn.cross_entropy(z, [0, 1, 2, -1])
    with pytest.raises(TypeError, match="labels must be integer class indices"):
        nn.cross_entropy(z, [0.5, 1, 2, 0])
    with pytest.raises(ValueError, match=r"logits must have shape \(batch, classes\), got \(3,\)"):
        nn.cross_entropy(Tensor(np.zeros(3)), [0, 1, 2])
    with pytest.raises(TypeError, match="logits must be a Tensor"):
        nn.cross_entropy(np.zeros((2, 3)), [0, 1])
    with pytest.raises(ValueError, match="the batch is empty"):
        nn.cross_entropy(Tensor(np.zeros((0, 3))), np.zeros(0, dtype=int))


# ----- state_dict, save, load -----------------------------------------------------------------

def test_state_dict_is_a_copy_keyed_by_name(rng):
    model = small_mlp(rng)
    state = model.state_dict()
    assert list(state) == ["layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias"]
    state["layers.0.weight"][:] = 0
    assert model[0].weight.data.any()


def test_load_state_dict_copies_in_place(rng):
    source, target = small_mlp(rng), small_mlp(rng)
    weight_before = target[0].weight
    array_before = target[0].weight.data
    target.load_state_dict(source.state_dict())
    assert target[0].weight is weight_before and target[0].weight.data is array_before
    for a, b in zip(source.parameters(), target.parameters()):
        np.testing.assert_array_equal(a.data, b.data)


def test_load_state_dict_checks_names_and_shapes_and_changes_nothing_on_error(rng):
    model = small_mlp(rng)
    before = model.state_dict()
    state = model.state_dict()
    state["layers.5.weight"] = state.pop("layers.2.weight")
    with pytest.raises(ValueError, match=r"missing: \['layers.2.weight'\], unexpected: \['layers.5.weight'\]"):
        model.load_state_dict(state)
    state = small_mlp(rng).state_dict()
    state["layers.2.bias"] = np.zeros(4, dtype=np.float32)
    with pytest.raises(ValueError, match=r"'layers.2.bias' has shape \(4,\) in the saved weights but \(3,\)"):
        model.load_state_dict(state)
    for name, array in model.state_dict().items():
        np.testing.assert_array_equal(array, before[name])


def test_save_and_load_round_trip_through_npz(tmp_path, rng):
    model, other = small_mlp(rng), small_mlp(rng)
    x = Tensor(rng.standard_normal((5, 4)).astype(np.float32))
    path = tmp_path / "weights.npz"
    model.save(path)
    other.load(path)
    np.testing.assert_array_equal(model(x).data, other(x).data)
    assert other[0].weight.dtype == np.float32
    with np.load(path) as archive:
        assert sorted(archive.files) == sorted(model.state_dict())


def test_save_writes_exactly_the_path_given(tmp_path, rng):
    model = small_mlp(rng)
    model.save(tmp_path / "weights.bin")
    assert (tmp_path / "weights.bin").exists() and not (tmp_path / "weights.bin.npz").exists()
    small_mlp(rng).load(str(tmp_path / "weights.bin"))


def test_load_errors_name_the_file(tmp_path, rng):
    model = small_mlp(rng)
    with pytest.raises(FileNotFoundError, match="no weights file at .*missing.npz"):
        model.load(tmp_path / "missing.npz")
    nn.Sequential(nn.Linear(4, 6, rng)).save(tmp_path / "other.npz")
    with pytest.raises(ValueError, match=r"other.npz' does not fit this model.*missing"):
        model.load(tmp_path / "other.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="junk.npz' is not a weights file"):
        model.load(tmp_path / "junk.npz")
    np.save(tmp_path / "single.npy", np.zeros(3))
    with pytest.raises(ValueError, match="holds a single array"):
        model.load(tmp_path / "single.npy")


def test_part_three_modules_are_attributes_of_the_package():
    import hellograd as hg

    assert hg.nn.Linear is nn.Linear and hg.optim.Adam.__module__ == "hellograd.optim"
    assert hg.data.load_mnist.__module__ == "hellograd.data"
    assert {"nn", "optim", "data"} <= set(hg.__all__)

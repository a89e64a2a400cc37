"""spdl.engine one-hot inputs: the identity-input shortcut of SGD is bitwise the generic product, and
OneHotLinearGD (closed-form gradients, opt in) follows SGD up to rounding."""
import pytest
import torch

from spdl.engine import SGD, OneHotLinearGD, train
from spdl.models import MLP, forward, init_params


def setup(depth, E=4, n1=12, n3=5, seed=0):
    arch = MLP((n1,) + (7,) * (depth - 1) + (n3,), "linear")
    params = init_params(arch, range(E), init_scale=0.5, scheme="orthogonal")
    Y = torch.randn(E, n1, n3, generator=torch.Generator().manual_seed(seed))
    return arch, params, Y


@pytest.mark.parametrize("depth", [2, 3])
def test_identity_shortcut_is_the_product_bitwise(depth):
    arch, params, _ = setup(depth)
    ps = [p.clone().requires_grad_(True) for p in params]
    x = torch.eye(arch.widths[0])
    out, fast = forward(arch, ps, x), forward(arch, ps, x, eye=True)
    assert torch.equal(out, fast) and out.stride() == fast.stride()
    g_out, g_fast = (torch.autograd.grad(o.square().sum(), ps) for o in (out, fast))
    assert all(torch.equal(a, b) and a.stride() == b.stride() for a, b in zip(g_out, g_fast))


@pytest.mark.parametrize("depth,loss", [(2, "mse_sum"), (3, "mse_sum"), (2, "mse")])
def test_onehot_rule_follows_sgd(depth, loss):
    arch, params, Y = setup(depth)
    lr = [0.01, 0.02, 0.005, 0.01] if loss == "mse_sum" else 0.1
    kw = dict(steps=300, lr=lr, loss=loss, record_at=range(0, 301, 50))
    ref = train(arch, params, torch.eye(12), Y, update=SGD(), **kw)
    fast = train(arch, params, torch.eye(12), Y, update=OneHotLinearGD(), **kw)
    for a, b in zip(ref.params, fast.params):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(torch.as_tensor(ref.history["loss"]), torch.as_tensor(fast.history["loss"]),
                               rtol=1e-4, atol=1e-8)
    assert ref.history["loss"][-1].max() < ref.history["loss"][0].min()  # it learned


def test_onehot_rule_records_divergence_like_sgd():
    arch, params, Y = setup(2)
    lr = [0.01, 50.0, 0.01, 0.01]  # member 1 blows up
    res = [train(arch, params, torch.eye(12), Y, steps=60, lr=lr, loss="mse_sum", update=u) for u in
           (SGD(), OneHotLinearGD())]
    assert res[0].diverged.tolist() == res[1].diverged.tolist() == [False, True, False, False]
    assert res[0].diverged_step[1] == res[1].diverged_step[1]


def test_onehot_rule_rejects_what_it_cannot_do():
    arch, params, Y = setup(2)
    with pytest.raises(ValueError, match="identity"):
        train(arch, params, torch.eye(12).roll(1, 0), Y, steps=1, lr=0.1, update=OneHotLinearGD())
    with pytest.raises(ValueError, match="weight decay"):
        train(arch, params, torch.eye(12), Y, steps=1, lr=0.1, weight_decay=0.1, update=OneHotLinearGD())
    relu = MLP(arch.widths, "relu")
    with pytest.raises(ValueError, match="linear"):
        train(relu, params, torch.eye(12), Y, steps=1, lr=0.1, update=OneHotLinearGD())

"""spdl.engine deep linear networks: the identity-input shortcut of SGD is the generic product (bitwise in the
same layout, to rounding otherwise),
and LinearGD (gradients from the data's second moments, opt in) follows SGD up to rounding on one-hot,
partly one-hot, whitened and generic inputs, shared or per member."""
import pytest
import torch

from spdl.engine import SGD, LinearGD, train
from spdl.models import MLP, _eye_linear, _linear, forward, init_params


def setup(depth, E=4, n1=12, n3=5, seed=0):
    arch = MLP((n1,) + (7,) * (depth - 1) + (n3,), "linear")
    params = init_params(arch, range(E), init_scale=0.5, scheme="orthogonal")
    Y = torch.randn(E, n1, n3, generator=torch.Generator().manual_seed(seed))
    return arch, params, Y


def inputs(kind, E=4, n1=12, seed=1):
    """Inputs X (N, n1) or (E, N, n1) of each kind."""
    g = torch.Generator().manual_seed(seed)
    if kind == "one_hot":
        return torch.eye(n1)
    if kind == "one_hot_subset":  # P < N1 samples on P of the N1 directions (a frozen subspace)
        return torch.eye(n1)[:7]
    if kind == "whitened":  # P = 3 N1 samples with X^T X = 3 I
        q, _ = torch.linalg.qr(torch.randn(3 * n1, n1, generator=g))
        return q * 3 ** 0.5
    if kind == "gaussian_per_member":
        return torch.randn(E, 20, n1, generator=g) / n1 ** 0.5
    raise ValueError(kind)


def _contiguous_first_layer(arch, ps, x):
    """The generic forward with the first layer's (E, N, d_out) output copied into a contiguous tensor."""
    h = _linear(x, ps[0], None).contiguous()
    for w in ps[1:]:
        h = _linear(h, w, None)
    return h


@pytest.mark.parametrize("depth", [2, 3])
def test_identity_shortcut_is_the_product(depth):
    arch, params, _ = setup(depth)
    ps = [p.clone().requires_grad_(True) for p in params]
    x = torch.eye(arch.widths[0])
    # the first layer's numbers are exactly the product's (1 * v + 0 * ...)
    assert torch.equal(_linear(x, ps[0], None), _eye_linear(ps[0], None))
    # the layers after it: bitwise the generic path in the same (contiguous) layout, forward and backward
    out, fast, ref = forward(arch, ps, x), forward(arch, ps, x, eye=True), _contiguous_first_layer(arch, ps, x)
    assert torch.equal(fast, ref) and fast.stride() == ref.stride()
    g_fast, g_ref = (torch.autograd.grad(o.square().sum(), ps) for o in (fast, ref))
    assert all(torch.equal(a, b) and a.stride() == b.stride() for a, b in zip(g_fast, g_ref))
    # and the generic strided path up to float32 rounding (bitwise where the batched product copies a
    # strided input first; MKL on an AVX-512 CPU reads it in place and rounds differently)
    torch.testing.assert_close(out, fast, rtol=1e-5, atol=1e-6)
    for a, b in zip(torch.autograd.grad(out.square().sum(), ps), g_fast):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("depth,loss,kind", [
    (2, "mse_sum", "one_hot"), (3, "mse_sum", "one_hot"), (4, "mse_sum", "one_hot"), (2, "mse", "one_hot"),
    (2, "mse_sum", "one_hot_subset"), (3, "mse_sum", "whitened"), (2, "mse", "gaussian_per_member"),
    (4, "mse_sum", "gaussian_per_member")])
def test_linear_gd_follows_sgd(depth, loss, kind):
    arch, params, Y = setup(depth)
    X = inputs(kind)
    N = X.shape[-2]
    Y = Y[:, :N] if N <= Y.shape[1] else torch.randn(4, N, 5, generator=torch.Generator().manual_seed(2))
    lr = [0.01, 0.02, 0.005, 0.01] if loss == "mse_sum" else 0.1
    kw = dict(steps=300, lr=lr, loss=loss, record_at=range(0, 301, 50))
    ref = train(arch, params, X, Y, update=SGD(), **kw)
    fast = train(arch, params, X, Y, update=LinearGD(), **kw)
    for a, b in zip(ref.params, fast.params):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(torch.as_tensor(ref.history["loss"]), torch.as_tensor(fast.history["loss"]),
                               rtol=1e-4, atol=1e-6)
    assert ref.history["loss"][-1].max() < 0.9 * ref.history["loss"][0].min()  # it learned


@pytest.mark.parametrize("kind", ["one_hot", "whitened"])
def test_linear_gd_records_divergence_like_sgd(kind):
    arch, params, Y = setup(2)
    X = inputs(kind)
    Y = torch.randn(4, X.shape[0], 5, generator=torch.Generator().manual_seed(2))
    lr = [0.01, 50.0, 0.01, 0.01]  # member 1 blows up
    res = [train(arch, params, X, Y, steps=60, lr=lr, loss="mse_sum", update=u) for u in (SGD(), LinearGD())]
    assert res[0].diverged.tolist() == res[1].diverged.tolist() == [False, True, False, False]
    assert res[0].diverged_step[1] == res[1].diverged_step[1]
    assert torch.isfinite(res[1].params[0][[0, 2, 3]]).all()  # NaN stays in the diverged member


def test_linear_gd_rejects_what_it_cannot_do():
    arch, params, Y = setup(2)
    with pytest.raises(ValueError, match="full-batch"):
        train(arch, params, torch.eye(12), Y, steps=1, lr=0.1, batch_size=4, update=LinearGD())
    with pytest.raises(ValueError, match="weight decay"):
        train(arch, params, torch.eye(12), Y, steps=1, lr=0.1, weight_decay=0.1, update=LinearGD())
    relu = MLP(arch.widths, "relu")
    with pytest.raises(ValueError, match="linear"):
        train(relu, params, torch.eye(12), Y, steps=1, lr=0.1, update=LinearGD())


def test_linear_gd_interrupted_run_resumes_bitwise(tmp_path):
    """The deep_linear rules checkpoint: a LinearGD run stopped after a checkpoint continues to the same bits."""
    arch, params, Y = setup(3)
    X = inputs("whitened")
    Y = torch.randn(4, X.shape[0], 5, generator=torch.Generator().manual_seed(2))
    ckpt = tmp_path / "run.ckpt"
    kw = dict(steps=40, lr=0.01, loss="mse_sum", update=LinearGD(), checkpoint_every=10)
    reference = train(arch, params, X, Y, record_at=range(0, 41, 5), **kw)

    def interrupting(ps, step):  # "Ctrl-C" at step 25, after the checkpoint of step 20
        if step == 25:
            raise KeyboardInterrupt
        return {}

    with pytest.raises(KeyboardInterrupt):
        train(arch, params, X, Y, record_at=range(0, 41, 5), metrics=interrupting, checkpoint=ckpt, **kw)
    resumed = train(arch, params, X, Y, record_at=range(0, 41, 5), checkpoint=ckpt, **kw)
    assert all(torch.equal(a, b) for a, b in zip(reference.params, resumed.params))
    assert (reference.history["loss"] == resumed.history["loss"]).all()
    assert not ckpt.exists()

"""spdl.device.resolve_device; training runs on CPU here, on a GPU where one is visible."""

import pytest
import torch

from spdl.device import resolve_device


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(" CPU ") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    assert resolve_device("auto") == torch.device("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device() == resolve_device("auto")
    for bad in ("gpu", "", "mps", None, 0):
        with pytest.raises(ValueError, match="device"):
            resolve_device(bad)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_requested_but_absent_is_a_clear_error():
    for name in ("cuda", "cuda:0"):
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            resolve_device(name)


def test_init_params_and_train_accept_a_device():
    from spdl.engine import train
    from spdl.models import MLP, init_params

    arch = MLP((5, 7, 3), "relu", bias=True)
    ref = init_params(arch, [1, 2])
    on = init_params(arch, [1, 2], device="cpu")
    assert all(p.device.type == "cpu" and torch.equal(p, q) for p, q in zip(on, ref))
    g = torch.Generator().manual_seed(0)
    X, Y = torch.randn(20, 5, generator=g), torch.randint(0, 3, (20,), generator=g)
    kw = dict(steps=5, lr=0.1, loss="cross_entropy", batch_size=4, seeds=[1, 2], dropout=0.1, noise_std=1e-3,
              record_at=[5])
    a, b = train(arch, ref, X, Y, **kw), train(arch, ref, X, Y, device="cpu", **kw)
    assert all(torch.equal(p, q) for p, q in zip(a.params, b.params))
    with pytest.raises(ValueError, match="device"):
        init_params(arch, [1], device="tpu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_training_on_cuda_matches_cpu_to_rounding():  # pragma: no cover - runs where a GPU is visible
    from spdl.engine import Momentum, train
    from spdl.models import MLP, init_params

    arch = MLP((5, 7, 3), "relu", bias=True)
    g = torch.Generator().manual_seed(0)
    X, Y = torch.randn(20, 5, generator=g), torch.randint(0, 3, (20,), generator=g)
    kw = dict(steps=20, lr=0.1, loss="cross_entropy", batch_size=4, seeds=[1, 2], dropout=0.1, noise_std=1e-3,
              record_at=[0, 20], update=Momentum(0.9))
    cpu = train(arch, init_params(arch, [1, 2]), X, Y, **kw)
    gpu = train(arch, init_params(arch, [1, 2], device="cuda"), X, Y, **kw)
    assert gpu.params[0].device.type == "cuda"
    for p, q in zip(cpu.params, gpu.params):
        torch.testing.assert_close(q.cpu(), p, rtol=1e-4, atol=1e-5)

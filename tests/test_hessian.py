"""spdl.hessian: exact Hessians, Hessian-vector products, eigsh, stochastic Lanczos quadrature."""

import math

import numpy as np
import pytest
import torch

from spdl import hessian as hs
from spdl.models import MLP, init_params

F64 = torch.float64
# torch's forward-mode AD (torch.func.jvp/hessian) loads its decompositions with torch.jit.script
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")


def _task(arch, loss, E=3, N=24, seed=0, per_member_labels=False):
    g = torch.Generator().manual_seed(seed)
    params = init_params(arch, list(range(10, 10 + E)), init_scale=1.5)
    if arch.bias:  # nonzero biases, so their blocks are exercised
        params = [p + 0.3 * torch.randn(p.shape, generator=g) if p.dim() == 2 else p for p in params]
    X = torch.randn(N, arch.widths[0], generator=g)
    if loss == "cross_entropy":
        Y = torch.randint(0, arch.widths[-1], (E, N) if per_member_labels else (N,), generator=g)
    else:
        Y = torch.randn(N, arch.widths[-1], generator=g)
    return params, X, Y


CASES = [(MLP((3, 5, 4, 2), "tanh", bias=True), "mse"),
         (MLP((4, 6, 3), "relu", bias=False), "cross_entropy"),
         (MLP((3, 4, 4, 1), "linear", bias=True), "mse_sum")]


@pytest.mark.parametrize("arch,loss", CASES)
def test_exact_hessian_matches_torch_func_hessian(arch, loss):
    params, X, Y = _task(arch, loss, per_member_labels=True)
    ens = hs.ensemble_hessians(arch, params, X, Y, loss, dtype=F64, batch=7)
    assert ens.shape == (3, arch.num_params(), arch.num_params())
    for e in range(3):
        f, theta = hs.network_loss(arch, params, X, Y, loss, member=e, dtype=F64)
        ref = torch.func.hessian(f)(theta)
        H = hs.network_hessian(arch, params, X, Y, loss, member=e, dtype=F64, batch=10)
        torch.testing.assert_close(H, ref, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(ens[e], ref, rtol=1e-10, atol=1e-12)
        assert torch.equal(H, H.T)
        torch.testing.assert_close(hs.eigenvalues(H), torch.linalg.eigvalsh(ref), rtol=1e-9, atol=1e-11)


def test_network_loss_is_the_training_loss():
    arch, loss = CASES[0]
    params, X, Y = _task(arch, loss)
    f, theta = hs.network_loss(arch, params, X, Y, loss, member=2)
    from spdl.engine import full_loss
    assert f(theta).item() == pytest.approx(full_loss(arch, params, X, Y, loss)[2].item(), rel=1e-6)
    assert torch.equal(hs.unflatten(theta, [p.shape[1:] for p in params])[2], params[2][2])


@pytest.mark.parametrize("arch,loss", CASES[:2])
def test_hvp_equals_exact_hessian_times_v(arch, loss):
    params, X, Y = _task(arch, loss)
    P = arch.num_params()
    V = torch.randn(5, P, generator=torch.Generator().manual_seed(3), dtype=F64)
    for e in range(3):
        f, theta = hs.network_loss(arch, params, X, Y, loss, member=e, dtype=F64)
        H = torch.func.hessian(f)(theta)
        for kw in (dict(method="reverse"), dict(method="forward"), dict(method="reverse", chunk=7),
                   dict(method="forward", chunk=10)):
            hvp, _ = hs.network_hvp(arch, params, X, Y, loss, member=e, dtype=F64, **kw)
            torch.testing.assert_close(hvp(V), V @ H, rtol=1e-10, atol=1e-12)
            torch.testing.assert_close(hvp(V[0]), H @ V[0], rtol=1e-10, atol=1e-12)
    hvp = hs.ensemble_hvp(arch, params, X, Y, loss, dtype=F64)
    Hs = hs.ensemble_hessians(arch, params, X, Y, loss, dtype=F64)
    VE = torch.randn(3, 4, P, generator=torch.Generator().manual_seed(4), dtype=F64)
    torch.testing.assert_close(hvp(VE), torch.einsum("epq,ekq->ekp", Hs, VE), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(hvp(VE[:, 0]), torch.einsum("epq,eq->ep", Hs, VE[:, 0]), rtol=1e-10, atol=1e-12)


def test_float32_parameters_stay_float32():
    arch, loss = CASES[1]
    params, X, Y = _task(arch, loss)
    hvp, theta = hs.network_hvp(arch, params, X, Y, loss)
    assert theta.dtype == torch.float32 and hvp(torch.ones(theta.numel())).dtype == torch.float32
    H32 = hs.network_hessian(arch, params, X, Y, loss)
    H64 = hs.network_hessian(arch, params, X, Y, loss, dtype=F64)
    assert H32.dtype == torch.float32
    torch.testing.assert_close(H32.double(), H64, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("arch,loss", CASES[:2])
def test_layer_hessian_is_the_full_hessians_diagonal_block(arch, loss):
    params, X, Y = _task(arch, loss)
    H = hs.network_hessian(arch, params, X, Y, loss, member=1, dtype=F64)
    offsets = hs.layer_offsets(arch)
    assert offsets[-1][1] == arch.num_params()
    for layer, (i, j) in enumerate(offsets):
        block = hs.network_layer_hessian(arch, params, X, Y, loss, layer, member=1, dtype=F64)
        torch.testing.assert_close(block, H[i:j, i:j], rtol=1e-10, atol=1e-13)
    with pytest.raises(ValueError, match="layer"):
        hs.network_layer_hessian(arch, params, X, Y, loss, arch.depth)


def test_layer_hessian_with_sum_reduction_and_bias():
    g = torch.Generator().manual_seed(0)
    W, b = torch.randn(3, 4, generator=g, dtype=F64), torch.randn(3, generator=g, dtype=F64)
    a, T = torch.randn(9, 4, generator=g, dtype=F64), torch.randn(9, 2, generator=g, dtype=F64)
    V = torch.randn(2, 3, generator=g, dtype=F64)
    head = lambda Z: ((torch.tanh(Z) @ V.T - T) ** 2).sum(1)  # noqa: E731

    def L(theta):
        return head(a @ theta[:12].view(3, 4).T + theta[12:]).sum()
    ref = torch.func.hessian(L)(torch.cat([W.flatten(), b]))
    torch.testing.assert_close(hs.layer_hessian(W, a, head, b, reduction="sum"), ref, rtol=1e-10, atol=1e-12)
    ref0 = torch.func.hessian(L)(torch.cat([W.flatten(), torch.zeros(3, dtype=F64)]))  # no bias = zero bias
    torch.testing.assert_close(hs.layer_hessian(W, a, head, reduction="mean"), ref0[:12, :12] / 9,
                               rtol=1e-10, atol=1e-12)


def test_eigsh_top_and_bottom_match_eigvalsh():
    arch, loss = CASES[0]
    params, X, Y = _task(arch, loss)
    hvp, theta = hs.network_hvp(arch, params, X, Y, loss, dtype=F64)
    H = hs.network_hessian(arch, params, X, Y, loss, dtype=F64)
    exact = torch.linalg.eigvalsh(H).numpy()
    assert exact[0] < 0 < exact[-1]  # away from a minimum: both ends matter
    top, U = hs.extreme_eigenpairs(hvp, theta.numel(), 4, "LA")
    np.testing.assert_allclose(top, exact[::-1][:4], rtol=1e-8, atol=1e-11)
    np.testing.assert_allclose(H.numpy() @ U, U * top, atol=1e-8)
    bottom, U = hs.extreme_eigenpairs(hvp, theta.numel(), 3, "SA")
    np.testing.assert_allclose(bottom, exact[:3], rtol=1e-8, atol=1e-11)
    np.testing.assert_allclose(H.numpy() @ U, U * bottom, atol=1e-8)
    big, _ = hs.extreme_eigenpairs(hvp, theta.numel(), 3, "LM")
    np.testing.assert_allclose(big, exact[np.argsort(-np.abs(exact))][:3], rtol=1e-8, atol=1e-11)


def _known_spectrum(n=400, seed=0):
    """A random symmetric matrix Q diag(lam) Q^T: a bulk at zero, a positive and a negative tail."""
    rng = np.random.default_rng(seed)
    n0, n_neg = int(0.65 * n), int(0.1 * n)
    lam = np.concatenate([rng.uniform(-1e-2, 1e-2, n0), rng.uniform(-2, -0.5, n_neg),
                          rng.uniform(0.5, 6, n - n0 - n_neg)])
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    A = torch.from_numpy((Q * lam) @ Q.T)
    return (A + A.T) / 2, np.sort(lam)


def test_quadrature_reproduces_each_probes_moments_exactly():
    A, lam = _known_spectrum(n=200)
    probes, m = 6, 12
    q = hs.slq(lambda V: V @ A, 200, probes=probes, steps=m, seed=1)
    V = hs.rademacher(probes, 200, seed=1)
    assert set(V.unique().tolist()) == {-1.0, 1.0}
    np.testing.assert_allclose(q.weights.sum(1), 1.0, atol=1e-12)
    Ak = torch.eye(200, dtype=F64)
    for k in range(1, 2 * m):  # Gauss quadrature with m nodes is exact up to degree 2m - 1
        Ak = Ak @ A
        exact = ((V @ Ak) * V).sum(1).numpy() / 200
        np.testing.assert_allclose((q.weights * q.nodes ** k).sum(1), exact, rtol=1e-8, atol=1e-10)
    # the probe average estimates tr(A)/n with the Hutchinson error
    assert abs(q.moment(lambda x: x) - lam.mean()) < 5 * q.standard_error(lambda x: x) + 1e-12


def test_fraction_below_threshold_on_a_known_spectrum():
    n, probes = 400, 40
    A, lam = _known_spectrum(n)
    q = hs.slq(lambda V: V @ A, n, probes=probes, steps=40, seed=2, probe_batch=16)
    assert q.nodes.shape == (probes, 40)
    true = float((np.abs(lam) < 0.1).mean())  # 0.65
    se = hs.fraction_standard_error(true, n, probes)  # Hutchinson bound for a projector
    assert se == pytest.approx(math.sqrt(2 * 0.65 * 0.35 / (n * probes)))
    assert abs(q.fraction_below(0.1) - true) < 4 * se + 0.01
    assert abs(q.fraction_below(0.1, sigma=0.02) - true) < 4 * se + 0.01
    # the smoothed density: normalised, and close to the exact spectrum smoothed the same way
    grid = np.linspace(-4, 9, 1301)
    dens = q.density(grid, sigma=0.3)
    exact = np.exp(-0.5 * ((grid[:, None] - lam) / 0.3) ** 2).sum(1) / (n * 0.3 * math.sqrt(2 * math.pi))
    assert np.trapezoid(dens, grid) == pytest.approx(1.0, abs=1e-3)
    assert np.trapezoid(np.abs(dens - exact), grid) < 0.1


def test_slq_of_a_tiny_net_matches_its_exact_spectrum():
    arch, loss = CASES[0]
    params, X, Y = _task(arch, loss)
    P = arch.num_params()  # 54: P Lanczos steps span the whole space
    H = hs.network_hessian(arch, params, X, Y, loss, member=0, dtype=F64)
    lam = torch.linalg.eigvalsh(H).numpy()
    q = hs.network_slq(arch, params, X, Y, loss, member=0, dtype=F64, probes=30, steps=P, seed=0)
    for nodes, weights in zip(q.nodes, q.weights):  # every node carrying weight is an eigenvalue
        heavy = nodes[weights > 1e-8]
        assert np.abs(heavy[:, None] - lam[None]).min(1).max() < 1e-7
    for k in (1, 2, 3):  # unbiased moments: within the probes' standard error
        f = lambda x, k=k: x ** k  # noqa: E731
        assert abs(q.moment(f) - (lam ** k).mean()) < 5 * q.standard_error(f)
    threshold = float(np.median(np.abs(lam)))
    true = float((np.abs(lam) < threshold).mean())
    assert abs(q.fraction_below(threshold) - true) < 4 * hs.fraction_standard_error(true, P, 30) + 0.02
    # fewer steps than parameters: the members' batched SLQ equals the one-member runs
    ens = hs.ensemble_slq(arch, params, X, Y, loss, dtype=F64, probes=4, steps=20, seed=5)
    for e in (0, 2):
        one = hs.network_slq(arch, params, X, Y, loss, member=e, dtype=F64, probes=4, steps=20, seed=5)
        np.testing.assert_allclose(ens[e].nodes, one.nodes, atol=1e-9)
        np.testing.assert_allclose(ens[e].weights, one.weights, atol=1e-9)


def test_lanczos_stops_on_an_invariant_subspace():
    rng = np.random.default_rng(0)
    lam = np.repeat([-1.0, 0.5, 3.0], [10, 20, 20])
    Q, _ = np.linalg.qr(rng.standard_normal((50, 50)))
    A = torch.from_numpy((Q * lam) @ Q.T)
    alpha, beta, sizes = hs.lanczos(lambda V: V @ A, hs.rademacher(3, 50), steps=10)
    assert sizes.tolist() == [3, 3, 3]  # three distinct eigenvalues: the Krylov space has dimension 3
    nodes, weights = hs.gauss_quadrature(alpha, beta, sizes)
    np.testing.assert_allclose(np.sort(nodes[:, :3], 1), np.tile([-1.0, 0.5, 3.0], (3, 1)), atol=1e-10)
    assert (weights[:, 3:] == 0).all()
    np.testing.assert_allclose(weights.sum(1), 1.0)


def test_ensemble_paths_agree_and_isolate_a_diverged_member():
    arch, loss = CASES[1]
    params, X, Y = _task(arch, loss, E=3)
    P = arch.num_params()
    V = torch.randn(3, 5, P, generator=torch.Generator().manual_seed(0), dtype=F64)
    loop = hs.ensemble_hvp(arch, params, X, Y, loss, dtype=F64, vmap=False)
    batched = hs.ensemble_hvp(arch, params, X, Y, loss, dtype=F64, vmap=True)
    torch.testing.assert_close(loop(V), batched(V), rtol=1e-12, atol=1e-14)
    assert (loop.n, loop.dtype, loop.sizes) == (P, F64, [p[0].numel() for p in params])
    whole = hs.ensemble_slq(arch, params, X, Y, loss, dtype=F64, probes=6, steps=15, seed=1)
    pieces = hs.ensemble_slq(arch, params, X, Y, loss, dtype=F64, probes=6, steps=15, seed=1, probe_batch=4)
    for a, b in zip(whole, pieces):
        np.testing.assert_allclose(a.nodes, b.nodes, atol=1e-10)
    bad = [p.clone() for p in params]
    for p in bad:
        p[1] = float("nan")
    res = hs.ensemble_slq(arch, bad, X, Y, loss, dtype=F64, probes=6, steps=15, seed=1)
    assert np.isnan(res[1].nodes).all() and math.isnan(res[1].fraction_below(0.1))
    for e in (0, 2):
        np.testing.assert_allclose(res[e].nodes, whole[e].nodes, atol=1e-10)


def test_operators_take_numpy_or_float32_input_and_know_their_size():
    arch, loss = CASES[0]
    params, X, Y = _task(arch, loss)
    hvp, theta = hs.network_hvp(arch, params, X, Y, loss, dtype=F64)
    v = np.ones(theta.numel(), np.float32)
    out = hvp(v)
    assert out.dtype == F64 and hvp.n == theta.numel() and hvp.device == theta.device
    torch.testing.assert_close(out, hvp(torch.ones(theta.numel(), dtype=F64)))
    q = hs.slq(hvp, probes=3, steps=10)  # n, dtype and device from the operator
    assert q.n == theta.numel() and q.nodes.shape == (3, 10)
    (top,), _ = hs.extreme_eigenpairs(hvp, k=1)
    (bottom,), _ = hs.extreme_eigenpairs(hvp, k=1, which="SA")
    assert bottom - 1e-10 <= q.nodes.min() and q.nodes.max() <= top + 1e-10  # Ritz values lie inside

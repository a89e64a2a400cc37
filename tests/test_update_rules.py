"""Per-member update rules of spdl.engine: SGD as before (bitwise), Momentum, Adam, Langevin and a rule
written outside the engine (Entropy-SGD, the worked example of the UpdateRule API)."""

import math

import numpy as np
import pytest
import torch

from spdl.checkpoint import CheckpointWarning
from spdl.engine import (SGD, SGLD, Adam, Langevin, Momentum, StepContext, UpdateRule, _keep_mask, _member_noise,
                         _norms, _rows, reduce_losses, sample_losses, train)
from spdl.models import MLP, forward, init_params

SEEDS = [21, 22, 23, 24]
LRS = [0.1, 0.05, 0.2, 0.08]


def _data(n, d_in, d_out, labels=True, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d_in, generator=g)
    return X, (torch.randint(0, d_out, (n,), generator=g) if labels else torch.randn(n, d_out, generator=g))


ARCH = MLP((6, 10, 10, 3), "relu", bias=True)
X, Y = _data(40, 6, 3)
KW = dict(loss="cross_entropy", batch_size=8, record_at=[0, 10, 25])


def _params():
    return init_params(ARCH, SEEDS, scheme="torch_default")


def _bitwise(a, b):
    assert all(torch.equal(p, q) for p, q in zip(a.params, b.params))
    assert a.history.keys() == b.history.keys()
    for k in a.history:
        np.testing.assert_array_equal(a.history[k], b.history[k])
    np.testing.assert_array_equal(a.diverged_step, b.diverged_step)


def _members_equal_solo(ens, solo_of, rtol=1e-4, atol=1e-6):
    for e in range(len(SEEDS)):
        solo = solo_of(e)
        for pe, ps in zip(ens.params, solo.params):
            torch.testing.assert_close(pe[e:e + 1], ps, rtol=rtol, atol=atol)
        np.testing.assert_allclose(ens.history["loss"][:, e], solo.history["loss"][:, 0], rtol=rtol, atol=atol)


# ----------------------------------------------------------------------------- SGD: the previous engine, bitwise
def _legacy_sgd(arch, params, X, Y, *, steps, lr, weight_decay, batch_size, seeds, dropout, norm_penalty, noise_std,
                mixing):
    """The step loop of spdl.engine before update rules existed (cross-entropy, shared data), op for op."""
    E = params[0].shape[0]
    vec = lambda v: torch.as_tensor(v, dtype=torch.float32).flatten().expand(E).clone()  # noqa: E731
    lr, wd, drop, beta, noise = map(vec, (lr, weight_decay, dropout, norm_penalty, noise_std))
    params = [p.detach().clone().requires_grad_(True) for p in params]
    gens = [torch.Generator().manual_seed(s) for s in seeds]
    N, pos, perms = X.shape[0], X.shape[0], None
    for _ in range(steps):
        if pos + batch_size > N:
            perms, pos = torch.stack([torch.randperm(N, generator=g) for g in gens]), 0
        idx = perms[:, pos:pos + batch_size]
        pos += batch_size
        xb, yb = _rows(X, idx, True), _rows(Y, idx, True)
        keep = _keep_mask(drop, gens, batch_size, arch.widths[1], torch.float32) if drop.any() else None
        losses = reduce_losses(sample_losses(forward(arch, params, xb, keep), yb, "cross_entropy"), "cross_entropy")
        grads = torch.autograd.grad(losses.sum(), params)
        with torch.no_grad():
            decay = wd + torch.where(beta > 0, beta / _norms(params), 0.0) if beta.any() else wd
            for p, g in zip(params, grads):
                shape = (E,) + (1,) * (p.dim() - 1)
                if wd.any() or beta.any():
                    g.addcmul_(p, decay.view(shape))
                p.addcmul_(g, lr.view(shape), value=-1)
                if noise.any():
                    p.add_(_member_noise(noise, gens, p))
                if mixing is not None:
                    p.copy_((mixing @ p.flatten(1)).view_as(p))
    return [p.detach() for p in params]


OPTIONS = {
    "plain": dict(),
    "weight_decay": dict(weight_decay=[0.0, 1e-2, 1e-1, 1e-3]),
    "norm_penalty": dict(norm_penalty=[0.0, 1e-2, 0.0, 1e-1], weight_decay=[0.0, 0.0, 1e-2, 1e-3]),
    "decay_runs": dict(weight_decay=[1e-2, 0.0, 0.0, 1e-3], norm_penalty=[0.0, 0.0, 1e-2, 0.0]),  # runs 0, 2-3
    "dropout": dict(dropout=[0.0, 0.2, 0.5, 0.1]),
    "noise": dict(noise_std=[0.0, 1e-2, 0.0, 1e-3]),
    "mixing": dict(mixing=torch.full((4, 4), 0.25), noise_std=1e-3),
    "everything": dict(weight_decay=1e-3, norm_penalty=[0.0, 1e-2, 0.0, 1e-2], dropout=[0.1, 0.0, 0.3, 0.0],
                       noise_std=[1e-3, 0.0, 0.0, 1e-2], mixing=torch.eye(4) * 0.5 + 0.125),
}


@pytest.mark.parametrize("option", sorted(OPTIONS))
def test_default_sgd_is_the_previous_engine_bitwise(option):
    opts = dict(dict(weight_decay=0.0, dropout=0.0, norm_penalty=0.0, noise_std=0.0, mixing=None), **OPTIONS[option])
    ref = _legacy_sgd(ARCH, _params(), X, Y, steps=13, lr=LRS, batch_size=8, seeds=SEEDS, **opts)
    for update in (None, SGD()):
        res = train(ARCH, _params(), X, Y, steps=13, lr=LRS, seeds=SEEDS, update=update, **dict(KW, record_at=[13]),
                    **opts)
        assert all(torch.equal(p, q) for p, q in zip(res.params, ref))


# ----------------------------------------------------------------------------- Momentum
def test_momentum_matches_torch_optim_sgd():
    arch = MLP((6, 8, 3), "tanh", bias=True)
    params = init_params(arch, [0, 1], scheme="torch_default")
    for nesterov in (False, True):
        res = train(arch, params, X, Y, steps=12, lr=[0.1, 0.05], weight_decay=[1e-2, 0.0], loss="cross_entropy",
                    update=Momentum([0.9, 0.5], nesterov=nesterov))  # full batch: no reshuffling to mirror
        for e, (mu, wd, lr) in enumerate([(0.9, 1e-2, 0.1), (0.5, 0.0, 0.05)]):
            net = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
            with torch.no_grad():
                for p, q in zip(net.parameters(), params):
                    p.copy_(q[e])
            opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=mu, weight_decay=wd, nesterov=nesterov)
            for _ in range(12):
                opt.zero_grad()
                torch.nn.functional.cross_entropy(net(X), Y).backward()
                opt.step()
            for p, q in zip(net.parameters(), res.params):
                torch.testing.assert_close(q[e], p.detach(), rtol=1e-5, atol=1e-6)


def test_momentum_members_equal_members_trained_alone_and_zero_momentum_is_sgd():
    mus = [0.9, 0.0, 0.5, 0.99]
    params = _params()
    kw = dict(KW, steps=25, weight_decay=1e-3, dropout=[0.0, 0.2, 0.0, 0.1])
    ens = train(ARCH, params, X, Y, lr=LRS, seeds=SEEDS, update=Momentum(mus), **kw)
    _members_equal_solo(ens, lambda e: train(ARCH, [p[e:e + 1] for p in params], X, Y, lr=LRS[e], seeds=[SEEDS[e]],
                                             update=Momentum(mus[e]), **dict(kw, dropout=kw["dropout"][e])))
    sgd = train(ARCH, params, X, Y, lr=LRS, seeds=SEEDS, **kw)
    assert all(torch.equal(p[1], q[1]) for p, q in zip(ens.params, sgd.params))  # mu = 0 is SGD, bitwise
    assert not torch.equal(ens.params[0][0], sgd.params[0][0])


# ----------------------------------------------------------------------------- Adam
def test_adam_matches_torch_optim_adam():
    arch = MLP((6, 8, 3), "tanh", bias=True)
    params = init_params(arch, [0, 1], scheme="torch_default")
    hyper = [(1e-2, 1e-2, 0.9, 0.999, 1e-8), (3e-3, 0.0, 0.5, 0.99, 1e-3)]  # lr, wd, beta1, beta2, eps
    lr, wd, b1, b2, eps = (list(v) for v in zip(*hyper))
    res = train(arch, params, X, Y, steps=30, lr=lr, weight_decay=wd, loss="cross_entropy",
                update=Adam(b1, b2, eps))  # full batch: no reshuffling to mirror
    for e, (lr_e, wd_e, b1_e, b2_e, eps_e) in enumerate(hyper):
        net = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
        with torch.no_grad():
            for p, q in zip(net.parameters(), params):
                p.copy_(q[e])
        opt = torch.optim.Adam(net.parameters(), lr=lr_e, betas=(b1_e, b2_e), eps=eps_e, weight_decay=wd_e)
        for _ in range(30):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(X), Y).backward()
            opt.step()
        for p, q in zip(net.parameters(), res.params):
            torch.testing.assert_close(q[e], p.detach(), rtol=1e-5, atol=1e-6)


def test_adam_members_equal_members_trained_alone():
    b1 = [0.9, 0.0, 0.5, 0.8]
    params = _params()
    kw = dict(KW, steps=25, dropout=[0.0, 0.2, 0.0, 0.1])
    lrs = [1e-2, 3e-3, 2e-2, 5e-3]
    ens = train(ARCH, params, X, Y, lr=lrs, seeds=SEEDS, update=Adam(b1, 0.99), **kw)
    assert (ens.history["loss"][-1] < ens.history["loss"][0]).all()
    _members_equal_solo(ens, lambda e: train(ARCH, [p[e:e + 1] for p in params], X, Y, lr=lrs[e], seeds=[SEEDS[e]],
                                             update=Adam(b1[e], 0.99), **dict(kw, dropout=kw["dropout"][e])))


# ----------------------------------------------------------------------------- Langevin
def test_langevin_is_sgd_with_noise_bitwise_and_members_are_independent():
    T = [0.0, 1e-4, 1e-3, 1e-5]
    params = _params()
    kw = dict(KW, steps=25)
    lang = train(ARCH, params, X, Y, lr=LRS, seeds=SEEDS, update=Langevin(T), **kw)
    std = torch.sqrt(2 * torch.tensor(LRS) * torch.tensor(T))
    _bitwise(lang, train(ARCH, params, X, Y, lr=LRS, seeds=SEEDS, noise_std=std, **kw))
    assert SGLD is Langevin
    sgd = train(ARCH, params, X, Y, lr=LRS, seeds=SEEDS, **kw)
    assert torch.equal(lang.params[0][0], sgd.params[0][0]) and not torch.equal(lang.params[0][1], sgd.params[0][1])
    _members_equal_solo(lang, lambda e: train(ARCH, [p[e:e + 1] for p in params], X, Y, lr=LRS[e], seeds=[SEEDS[e]],
                                              update=Langevin(T[e]), **kw))


def test_langevin_samples_the_gibbs_distribution_of_a_quadratic_loss():
    """Linear regression, full batch: L(w) = 0.5 mean (w.x - y)^2 has Hessian H = X^T X / N. The
    discrete SGLD chain w <- w - lr H (w - w*) + sqrt(2 lr T) xi is stationary at
    Cov = T (H - lr H^2 / 2)^-1; 500 members (independent chains) estimate it."""
    g = torch.Generator().manual_seed(5)
    Xq = torch.randn(50, 2, generator=g, dtype=torch.float64) * torch.tensor([1.0, 0.5], dtype=torch.float64)
    Yq = Xq @ torch.tensor([1.0, -2.0], dtype=torch.float64) + 0.3 * torch.randn(50, generator=g, dtype=torch.float64)
    arch, E, lr, T = MLP((2, 1), "linear"), 500, 0.2, 0.01
    start = [torch.zeros(E, 1, 2, dtype=torch.float64)]
    res = train(arch, start, Xq, Yq, steps=200, lr=lr, update=Langevin(T), seeds=range(E))
    w = res.params[0][:, 0, :]
    H = Xq.T @ Xq / 50
    w_star = torch.linalg.solve(Xq.T @ Xq, Xq.T @ Yq)
    cov = T * torch.linalg.inv(H - lr * H @ H / 2)
    emp = torch.cov(w.T)
    # 500 samples: relative sd of a variance estimate sqrt(2/500) = 6%; the slowest mode relaxes
    # in 1/(lr lambda_min) ~ 20 steps, 200 steps are converged
    torch.testing.assert_close(emp.diagonal(), cov.diagonal(), rtol=0.2, atol=0)
    torch.testing.assert_close(w.mean(0), w_star, rtol=0, atol=4 * cov.diagonal().max().sqrt().item() / math.sqrt(E))


# ----------------------------------------------------------------------------- a rule written outside the engine
class EntropySGD(UpdateRule):
    """Entropy-SGD (Chaudhari et al., ICLR 2017, Alg. 1) as a study would write it.

    Each outer step runs `inner` SGLD steps on the local-entropy objective
    f(x') + gamma/2 ||x' - x||^2 over fresh minibatches (ctx.next_batch()), keeps an exponential
    average mu of x', then moves x along gamma (x - mu). gamma may differ per member."""

    def __init__(self, gamma=0.03, inner=4, inner_lr=0.1, noise=1e-3, alpha=0.75):
        self.gamma, self.inner, self.inner_lr, self.noise, self.alpha = gamma, inner, inner_lr, noise, alpha

    def config(self):
        return dict(gamma=self.gamma, inner=self.inner, inner_lr=self.inner_lr, noise=self.noise, alpha=self.alpha)

    def init(self, ctx):
        self.g = ctx.per_member(self.gamma, "gamma")
        self.state = {"inner_steps": torch.zeros(ctx.E, dtype=torch.int64)}  # per-member state, checkpointed

    def update(self, ctx):
        x = [p.detach() for p in ctx.params]
        xp, mu = [p.clone() for p in x], [p.clone() for p in x]
        std = math.sqrt(self.inner_lr) * self.noise
        for k in range(self.inner):
            losses_k, grads = ctx.loss_and_grad(xp, ctx.batch if k == 0 else ctx.next_batch())
            if k == 0:
                losses = losses_k  # at x' = x on this step's batch: the loss before the update
            with torch.no_grad():
                for a, b, g, m in zip(xp, x, grads, mu):
                    g.add_(ctx.member_view(self.g, a) * (a - b))
                    a.add_(g, alpha=-self.inner_lr).add_(ctx.noise_like(a, std))
                    m.mul_(1 - self.alpha).add_(a, alpha=self.alpha)
        with torch.no_grad():
            for p, b, m in zip(ctx.params, x, mu):
                p.addcmul_(ctx.member_view(self.g, p) * (b - m), ctx.member_view(ctx.lr, p), value=-1)
        self.state["inner_steps"] += self.inner
        return losses


def test_custom_rule_members_equal_members_trained_alone_and_learn():
    gammas = [0.03, 0.1, 0.01, 0.05]
    params = _params()
    kw = dict(KW, steps=15, dropout=[0.0, 0.2, 0.0, 0.0], record_at=[0, 15])
    ens = train(ARCH, params, X, Y, lr=[1.0, 2.0, 3.0, 1.5], seeds=SEEDS, update=EntropySGD(gammas), **kw)
    assert (ens.history["loss"][-1] < ens.history["loss"][0]).all()
    _members_equal_solo(ens, lambda e: train(ARCH, [p[e:e + 1] for p in params], X, Y, lr=[1.0, 2.0, 3.0, 1.5][e],
                                             seeds=[SEEDS[e]], update=EntropySGD(gammas[e]),
                                             **dict(kw, dropout=kw["dropout"][e])))


@pytest.mark.parametrize("make_rule", [lambda: Momentum([0.9, 0.5, 0.0, 0.8]), lambda: Adam([0.9, 0.5, 0.0, 0.8]),
                                       lambda: EntropySGD(0.05, inner=2), lambda: Langevin(1e-4)],
                         ids=["momentum", "adam", "entropy_sgd", "langevin"])
def test_interrupted_run_with_rule_state_resumes_bitwise(tmp_path, make_rule):
    ckpt = tmp_path / "run.pt"
    kw = dict(KW, steps=20, lr=LRS, seeds=SEEDS, checkpoint_every=10, record_at=range(0, 21, 5))
    reference = train(ARCH, _params(), X, Y, update=make_rule(), **kw)

    def interrupt(params, step):
        if step == 15:
            raise KeyboardInterrupt
        return {}

    with pytest.raises(KeyboardInterrupt):
        train(ARCH, _params(), X, Y, update=make_rule(), checkpoint=ckpt, metrics=interrupt, **kw)
    saved = torch.load(ckpt, weights_only=True)["state"]
    assert saved["step"] == 10
    if isinstance(make_rule(), Momentum):
        assert len(saved["update"]["buffers"]) == 6 and saved["update"]["buffers"][0].abs().sum() > 0
    if isinstance(make_rule(), Adam):
        assert saved["update"]["t"] == 10 and saved["update"]["v"][0].abs().sum() > 0
    resumed = train(ARCH, _params(), X, Y, update=make_rule(), checkpoint=ckpt, **kw)
    _bitwise(reference, resumed)
    assert not ckpt.exists()


def test_checkpoint_of_another_rule_is_moved_aside(tmp_path):
    ckpt = tmp_path / "run.pt"
    kw = dict(KW, steps=20, lr=LRS, seeds=SEEDS, checkpoint_every=5, record_at=[0, 10, 20])

    def stop(params, step):
        if step == 10:
            raise KeyboardInterrupt
        return {}

    with pytest.raises(KeyboardInterrupt):
        train(ARCH, _params(), X, Y, update=Momentum(0.9), checkpoint=ckpt, metrics=stop, **kw)
    with pytest.warns(CheckpointWarning, match="different run"):
        other = train(ARCH, _params(), X, Y, update=Momentum(0.8), checkpoint=ckpt, **kw)
    _bitwise(other, train(ARCH, _params(), X, Y, update=Momentum(0.8), **kw))


# ----------------------------------------------------------------------------- invariants of the context
def test_context_exposes_step_batch_and_stream():
    seen = []

    class Probe(SGD):
        def update(self, ctx):
            assert isinstance(ctx, StepContext) and ctx.E == 4 and ctx.lr.shape == (4,)
            assert ctx.batch is ctx.batch and ctx.batch.x.shape == (4, 8, 6) and ctx.batch.idx.shape == (4, 8)
            seen.append((ctx.step, ctx.batch.idx.clone()))
            torch.testing.assert_close(ctx.losses(), ctx.loss_and_grad()[0])
            return super().update(ctx)

    res = train(ARCH, _params(), X, Y, steps=6, lr=LRS, seeds=SEEDS, update=Probe(), **dict(KW, record_at=[6]))
    assert [k for k, _ in seen] == list(range(6))
    plain = train(ARCH, _params(), X, Y, steps=6, lr=LRS, seeds=SEEDS, **dict(KW, record_at=[6]))
    _bitwise(res, plain)  # looking at the batch and the losses changes nothing
    epoch = torch.cat([idx for _, idx in seen[:5]], 1)  # 40 samples / 8 = 5 batches per epoch, each a permutation
    assert all(sorted(row.tolist()) == list(range(40)) for row in epoch)
    assert not torch.equal(seen[0][1][0], seen[0][1][1])  # members reshuffle with their own generators


def test_next_batch_advances_the_stream_like_a_step():
    """A rule that steps on every second batch sees the batches of steps 1, 3, 5, ... of plain SGD."""
    batches = {"skip": [], "plain": []}

    class Record(SGD):
        def __init__(self, key, skip):
            self.key, self.skip = key, skip

        def update(self, ctx):
            if self.skip:
                ctx.batch
                b = ctx.next_batch()
            else:
                b = ctx.batch
            batches[self.key].append(b.idx.clone())
            losses, grads = ctx.loss_and_grad(batch=b)
            with torch.no_grad():
                for p, g in zip(ctx.params, grads):
                    p.addcmul_(g, ctx.member_view(ctx.lr, p), value=-1)
            return losses

    train(ARCH, _params(), X, Y, steps=6, lr=LRS, seeds=SEEDS, update=Record("skip", True), **dict(KW, record_at=[]))
    train(ARCH, _params(), X, Y, steps=12, lr=LRS, seeds=SEEDS, update=Record("plain", False), **dict(KW, record_at=[]))
    assert all(torch.equal(a, b) for a, b in zip(batches["skip"], batches["plain"][1::2]))


def test_diverged_members_stay_nan_whatever_the_rule_does():
    class Reviving(SGD):  # a birth-death-like rule that rewrites parameters after the gradient step
        def update(self, ctx):
            losses = super().update(ctx)
            with torch.no_grad():
                for p in ctx.params:
                    p.nan_to_num_(0.0, 0.0, 0.0)
            return losses

    res = train(ARCH, _params(), X, Y, steps=20, lr=[0.1, 1e4, 0.05, 0.1], seeds=SEEDS, update=Reviving(),
                **dict(KW, record_at=[0, 10, 20]))
    assert res.diverged.tolist() == [False, True, False, False]
    assert (all(torch.isnan(p[1]).all() for p in res.params)
            and all(torch.isfinite(p[[0, 2, 3]]).all() for p in res.params))
    assert np.isnan(res.history["loss"][res.steps >= res.diverged_step[1], 1]).all()


def test_bad_rules_and_hyperparameters_are_refused():
    kw = dict(KW, steps=2, lr=0.1, seeds=SEEDS, record_at=[])

    class NoLosses(SGD):
        def update(self, ctx):
            super().update(ctx)

    class WrongShape(SGD):
        def update(self, ctx):
            return super().update(ctx).sum()

    with pytest.raises(TypeError, match="UpdateRule"):
        train(ARCH, _params(), X, Y, update=torch.optim.SGD, **kw)
    for rule in (NoLosses(), WrongShape()):
        with pytest.raises(TypeError, match=r"must return the \(4,\) minibatch losses"):
            train(ARCH, _params(), X, Y, update=rule, **kw)
    with pytest.raises(NotImplementedError):
        train(ARCH, _params(), X, Y, update=UpdateRule(), **kw)
    for rule, match in [(Momentum(1.0), "momentum"), (Momentum([0.9, 0.9]), "momentum"),
                        (Langevin(-1.0), "temperature"), (Langevin([1.0, 2.0, 3.0]), "temperature"),
                        (Adam(beta2=1.0), "beta2"), (Adam(eps=0.0), "eps"), (Adam([0.9, 0.9]), "beta1")]:
        with pytest.raises(ValueError, match=match):
            train(ARCH, _params(), X, Y, update=rule, **kw)
    with pytest.raises(ValueError, match="need 4 seeds"):
        train(ARCH, _params(), X, Y, update=Langevin(1e-3), **dict(kw, batch_size=None, seeds=[1]))
    with pytest.raises(ValueError, match="need 4 seeds"):
        train(ARCH, _params(), X, Y, noise_std=1e-3, **dict(kw, batch_size=None, seeds=[1, 2]))
    assert repr(Momentum([0.9, 0.5])) == "Momentum(momentum=[0.9, 0.5], nesterov=False)"
    assert repr(Adam()) == "Adam(beta1=0.9, beta2=0.999, eps=1e-08)"

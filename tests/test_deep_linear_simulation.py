"""The simulation path of the deep linear rules: engine-trained students against the mode theory."""
import numpy as np
import pytest
import torch

from spdl.studies import deep_linear as dl
from spdl.engine import train
from spdl.models import MLP


@pytest.mark.parametrize("D", [2, 4])
def test_engine_ta_student_follows_mode_dynamics(D):
    """A TA student trained by the engine (loss 0.5||WX - Yhat||^2, one-hot X) keeps its singular
    vectors and each mode follows s(t; shat) with t = steps * lr (Euler error O(lr shat))."""
    n1, n2, n3, eps, lr, steps = 30, 15, 15, 1e-3, 2e-3, 1500
    task = dl.make_task(n1, n3, [4.0, 2.0], seed=3)
    arch = MLP((n1,) + (n2,) * (D - 1) + (n3,), activation="linear")
    params = [torch.tensor(w, dtype=torch.float64)[None]
              for w in dl.aligned_init(task["Uhat"], task["Vhat"], n2, eps, D)]
    Y = torch.tensor(task["Yhat"].T)[None]
    out = train(arch, params, torch.eye(n1, dtype=torch.float64), Y, steps=steps, lr=lr, loss="mse_sum")
    W = out.params[0][0]
    for w in out.params[1:]:
        W = w[0] @ W
    W = W.numpy()
    k = min(n2, n3)
    s_sim = np.einsum("ik,ij,jk->k", task["Uhat"][:, :k], W, task["Vhat"][:, :k])
    s_th = dl.mode_trajectory(steps * lr, task["shat"][:k], eps, n_layers=D)
    assert np.max(np.abs(s_sim - s_th) / task["shat"][:k]) < 0.02
    # nothing leaks outside the aligned modes
    resid = W - (task["Uhat"][:, :k] * s_sim) @ task["Vhat"][:, :k].T
    assert np.linalg.norm(resid) < 1e-8 * np.linalg.norm(W)


def test_transfer_task_alignment_and_shared_task_a():
    n1, n3 = 40, 20
    base = dl.make_transfer_task(n1, n3, 3.0, 1.0, 0.0, seed=5, noise_var=1 / n1)
    for q in (0.0, 0.3, 1.0):
        t = dl.make_transfer_task(n1, n3, 3.0, 7.0, q, seed=5, noise_var=1 / n1)
        np.testing.assert_array_equal(t["Yhat_a"], base["Yhat_a"])  # task A does not depend on B
        v_a = np.linalg.svd(t["Wbar_a"])[2][0]
        v_b = np.linalg.svd(t["Wbar_b"])[2][0]
        assert abs(abs(v_a @ v_b) - q) < 1e-12
        assert np.isclose(np.linalg.norm(t["Wbar_b"], 2), 7.0)
    noise = np.concatenate([(t["Yhat_a"] - t["Wbar_a"]).ravel() for t in
                            (dl.make_transfer_task(n1, n3, 3.0, 1.0, 0.5, s, 0.25) for s in range(20))])
    assert abs(noise.var() / 0.25 - 1) < 0.05  # 16,000 draws: sd of the variance ratio ~0.011


def test_time_tolerant_distance_forgives_small_shifts_only():
    t_fine = np.linspace(0, 10, 2001)
    theory = np.exp(-np.clip(t_fine - 5, 0, None) * 4) + 1e-3  # steep drop at t = 5
    t = np.linspace(0.5, 10, 40)
    shifted = np.exp(-np.clip(t * 1.02 - 5, 0, None) * 4) + 1e-3  # transition 2 % earlier
    near = dl.time_tolerant_log_distance(t, shifted, t_fine, theory, 0.05)
    assert near.max() < 1e-2
    far = dl.time_tolerant_log_distance(t, np.exp(-np.clip(t * 1.3 - 5, 0, None) * 4) + 1e-3, t_fine, theory, 0.05)
    assert far.max() > 1.0


def test_check_config_new_sections():
    # the default section passes; each bad value of the randomized-labels and network-size sections is named
    import copy
    from pathlib import Path

    import yaml

    from spdl.studies.deep_linear_checks import check_config

    root = Path(__file__).resolve().parents[1]
    good = yaml.safe_load((root / "config" / "config.yaml").read_text())["deep_linear"]
    assert check_config(good) == []
    cases = [
        (("random_labels", "lr"), 0.01, "deep_linear.random_labels.lr"),
        (("random_labels", "n3"), 200, "deep_linear.random_labels.n3"),
        (("network_size", "widths"), [1, 5, 500], "deep_linear.network_size.widths"),
        (("network_size", "teachers"), [[2.0], [1.0 + 0.1 * i for i in range(30)]],
         "deep_linear.network_size.teachers.1"),
        (("network_size", "t_max"), 0.001, "deep_linear.network_size.t_max"),
        (("varying_p", "p_ratio"), [0.33, 1, 2, 4], "deep_linear.varying_p.p_ratio"),  # 16.5 samples
        (("varying_p", "p_ratio"), [0.4, 0.8, 4], "deep_linear.varying_p.p_ratio"),  # one value >= 1
    ]
    for (sec, key), value, prefix in cases:
        bad = copy.deepcopy(good)
        bad[sec][key] = value
        msgs = check_config(bad)
        assert msgs and all(m.startswith(prefix) for m in msgs), (prefix, msgs)

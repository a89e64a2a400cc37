"""Broken files in the studies deep_linear, mislabeled_phases, activity_weight_duality, sgd_noise_flatness:
an unreadable or foreign checkpoint is moved aside with a warning naming it and training restarts (same
result as a fresh run); a truncated results file stops the rule that reads it, naming the file."""
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch
import yaml
from conftest import copy_project

from spdl.checkpoint import CheckpointWarning
from spdl.models import MLP, init_params
from spdl.studies import activity_weight_duality as awd


def _task():
    g = torch.Generator().manual_seed(4)
    x = torch.rand(120, 10, generator=g)
    y = (x @ torch.randn(10, 3, generator=torch.Generator().manual_seed(9))).argmax(1)
    return MLP((10, 8, 8, 3), "relu"), x, y


FIT = dict(lr=[0.3, 0.2], batch_size=20, seeds=[0, 1], stop=dict(loss=1e-3, accuracy=0.99, window=2, max_epochs=15))


@pytest.mark.parametrize("damage", ["truncated", "garbage", "foreign"])
def test_train_to_fit_moves_a_bad_checkpoint_aside_and_restarts(tmp_path, damage):
    arch, X, Y = _task()
    params = init_params(arch, [0, 1], scheme="torch_default")
    correct = np.ones(len(Y), bool)
    fresh = awd.train_to_fit(arch, params, X, Y, correct, **FIT)
    ckpt = tmp_path / "job.pt"
    if damage == "foreign":  # a finished checkpoint of another run (other learning rates)
        awd.train_to_fit(arch, params, X, Y, correct, checkpoint=ckpt, **dict(FIT, lr=[0.1, 0.1]))
    else:
        awd.train_to_fit(arch, params, X, Y, correct, checkpoint=ckpt, **FIT)
        data = ckpt.read_bytes()
        ckpt.write_bytes(data[:len(data) // 3] if damage == "truncated" else b"\x00not a checkpoint" * 10)
    with pytest.warns(CheckpointWarning, match=r"job\.pt .*moved to .*job\.pt\.stale, starting from scratch"):
        again = awd.train_to_fit(arch, params, X, Y, correct, checkpoint=ckpt, **FIT)
    assert (tmp_path / "job.pt.stale").exists()
    np.testing.assert_array_equal(again["stopped"], fresh["stopped"])
    assert all(torch.equal(p, q) for p, q in zip(again["params"], fresh["params"]))
    with warnings.catch_warnings():
        warnings.simplefilter("error", CheckpointWarning)  # the fresh checkpoint it wrote is its own: resumed
        awd.train_to_fit(arch, params, X, Y, correct, checkpoint=ckpt, **FIT)


TINY = {"scale": "quick", "deep_linear": {
    "modes": {"shat": [1, 4], "wave_shat": {"min": 0.5, "max": 4.0, "n": 4}, "wave_times": [0.5, 1], "eps": 1.0e-3,
              "lr": 1.0e-2, "t_max": 2.0},
    "spectrum": {"example": {"n1": 20, "aspect": 0.5, "sbar": [3, 2], "seed": 0}, "n1": 20, "aspects": [0.5],
                 "sbar": {"min": 0.5, "max": 3.0, "n": 3}, "seeds": 2},
    "dynamics": {"n1": 12, "n2": 6, "n3": 6, "snr": [2, 8], "seeds": 2, "n_records": 20,
                 "depths": [{"hidden_layers": 1, "eps": 1.0e-3, "lr": 1.0e-2, "t_max": 4.0},
                            {"hidden_layers": 3, "eps": 1.0e-3, "lr": 1.0e-2, "t_max": 4.0}]},
    "transfer": {"n1": 12, "n3_per_task": 6, "n2": 6, "eps": 1.0e-3, "lr": 1.0e-2, "t_max": 2.0, "seeds": 2,
                 "q": [0.0, 1.0], "sbar_a": [0.84, 3.0, 10.0], "sbar_b": [3.0, 10.0]},
    "varying_p": {"n1": 10, "n2": 5, "n3": 5, "p_ratio": [1, 2], "effective_snr": [1.0, 4.0], "lr": 1.0e-2,
                  "t_max": 2.0, "seeds": 2},
    "optimum": {"snr": {"min": 0.5, "max": 8.0, "n": 5}}}}


def smk(work, *args):
    return subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2", "--configfile=tiny.yaml", *args],
                          cwd=work, capture_output=True, text=True)


@pytest.fixture(scope="module")
def deep_linear_run(root, tmp_path_factory):
    """The deep_linear study at a tiny config, run once in a copy of the project."""
    work = copy_project(tmp_path_factory.mktemp("deep_linear_faults"))
    (work / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    run = smk(work, "deep_linear")
    assert run.returncode == 0, run.stderr[-5000:]
    return work


@pytest.mark.slow  # reason: a snakemake run of the deep_linear study at a tiny config (under a minute)
def test_bad_checkpoint_of_a_study_rule_is_moved_aside_and_the_rule_completes(deep_linear_run):
    work = deep_linear_run
    out = work / "results/deep_linear/transfer.npz"
    before = dict(np.load(out))
    ckpt = work / "results/checkpoints/deep_linear/transfer_joint.pt"
    ckpt.parent.mkdir(parents=True, exist_ok=True)
    ckpt.write_bytes(b"PK\x03\x04 truncated zip")  # what a kill during torch.save could leave without atomic writes
    out.unlink()
    run = smk(work, "results/deep_linear/transfer.npz")
    assert run.returncode == 0, run.stderr[-5000:]
    log = (work / "results/logs/deep_linear/transfer.log").read_text()
    assert "transfer_joint.pt cannot be read" in log and "transfer_joint.pt.stale" in log
    assert ckpt.with_name("transfer_joint.pt.stale").exists()
    after = np.load(out)
    for k, v in before.items():  # restarted from scratch: the same result
        np.testing.assert_array_equal(after[k], v)


@pytest.mark.slow  # reason: reuses the snakemake run above
def test_truncated_results_file_stops_the_notebook_naming_it_and_keeps_the_last_figures(deep_linear_run):
    work = deep_linear_run
    kept = [work / "results/claims/deep_linear.json", work / "results/notebooks/deep_linear.html",
            *sorted((work / "results/figures/deep_linear").iterdir())]
    before = {path: path.read_bytes() for path in kept}
    out = work / "results/deep_linear/varying_p.npz"
    data = out.read_bytes()
    out.write_bytes(data[:len(data) // 2])
    run = smk(work, "deep_linear")
    assert run.returncode != 0
    text = run.stdout + run.stderr + (work / "results/logs/deep_linear/notebook.log").read_text()
    assert "results/deep_linear/varying_p.npz cannot be read" in text
    assert "written by rule deep_linear_varying_p" in text
    assert "Restored previous version" in text
    for path, content in before.items():  # the failed rerun left the last complete outputs as they were
        assert path.read_bytes() == content, path
    out.write_bytes(data)  # repaired: the notebook reruns and completes
    run = smk(work, "deep_linear")
    assert run.returncode == 0, run.stderr[-5000:]

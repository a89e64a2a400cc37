"""Embedded datasets: shapes, stratification, ranges, determinism, manifests."""

import subprocess
import sys
import json
import random
from pathlib import Path

import jsonschema
import numpy as np
import pytest
import yaml

from spdl import datasets
from spdl.datasets import DatasetError, array_sha256, prepare, stratified_split, teacher_forward
from spdl.io import save_npz, write_json

ROOT = Path(__file__).resolve().parents[1]
SPLIT = {"test_fraction": 0.2, "split_seed": 0}
TS = {"n_train": 50, "n_test": 40, "d_in": 20, "d_hidden": 5, "d_out": 2, "noise_std": 0.1, "seed": 3}


@pytest.fixture(scope="module")
def mnist5k():
    return prepare("mnist5k", SPLIT)


def _check_common(arrays, manifest, name):
    assert set(datasets.ARRAY_KEYS) <= set(arrays)
    assert manifest["name"] == name
    for key, a in arrays.items():
        assert manifest["shapes"][key] == list(a.shape)
        assert manifest["dtypes"][key] == str(a.dtype)
    assert manifest["array_sha256"] == array_sha256(arrays)
    json.dumps(manifest)  # JSON-ready as returned


def test_mnist5k_shapes_balance_and_range(mnist5k):
    arrays, manifest = mnist5k
    _check_common(arrays, manifest, "mnist5k")
    x_tr, y_tr, x_te, y_te = (arrays[k] for k in datasets.ARRAY_KEYS)
    assert x_tr.shape == (4000, 784) and x_te.shape == (1000, 784)
    assert x_tr.dtype == np.float32 and y_tr.dtype == np.int64
    # 500 per class overall, stratified: exactly 100 of each class in the test set
    assert np.bincount(np.concatenate([y_tr, y_te])).tolist() == [500] * 10
    assert np.bincount(y_te).tolist() == [100] * 10
    assert 0.0 <= min(x_tr.min(), x_te.min()) and max(x_tr.max(), x_te.max()) == 1.0
    assert manifest["n_classes"] == 10 and manifest["seeds"] == {"split_seed": 0}
    assert manifest["class_counts"]["train"] == [400] * 10
    assert len(manifest["source"]["files"]["mnist_5k.csv.gz"]["sha256"]) == 64


def test_mnist5k_split_is_a_partition(mnist5k):
    arrays, _ = mnist5k
    # no image lands in both halves (mnist5k has no duplicate images)
    rows_tr = {r.tobytes() for r in arrays["x_train"]}
    assert not any(r.tobytes() in rows_tr for r in arrays["x_test"])


def test_mnist5k_same_seed_same_arrays(mnist5k):
    arrays, manifest = mnist5k
    again, manifest2 = prepare("mnist5k", SPLIT)
    for k in datasets.ARRAY_KEYS:
        np.testing.assert_array_equal(arrays[k], again[k])
    assert manifest2["array_sha256"] == manifest["array_sha256"]


def test_digits_split_seed_changes_split_only():
    a, ma = prepare("digits", SPLIT)
    b, mb = prepare("digits", {**SPLIT, "split_seed": 1})
    _check_common(a, ma, "digits")
    assert a["x_train"].shape == (1438, 64) and a["x_test"].shape == (359, 64)
    assert 0.0 <= a["x_train"].min() and a["x_train"].max() <= 1.0 and a["x_train"].max() == 1.0
    assert ma["array_sha256"]["all"] != mb["array_sha256"]["all"]
    assert not np.array_equal(a["y_test"], b["y_test"])
    # same per-class test counts whatever the seed
    assert np.bincount(a["y_test"]).tolist() == np.bincount(b["y_test"]).tolist()
    full = np.concatenate([a["y_train"], a["y_test"]])
    assert np.bincount(full).sum() == 1797


def test_stratified_split_properties():
    y = np.repeat(np.arange(3), [10, 20, 31])
    tr, te = stratified_split(y, 0.3, seed=5)
    assert sorted(np.concatenate([tr, te]).tolist()) == list(range(len(y)))
    assert np.bincount(y[te]).tolist() == [3, 6, 9]  # round(0.3 * n_c)
    tr2, te2 = stratified_split(y, 0.3, seed=5)
    assert np.array_equal(tr, tr2) and np.array_equal(te, te2)


def test_mnist1d_generated_offline(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the package's cache would land here; nothing may be written
    cfg = {"num_samples": 200, "train_split": 0.75, "seed": 7}
    np.random.seed(123)
    random.seed(123)
    before = (np.random.get_state()[1].copy(), random.getstate())
    a, ma = prepare("mnist1d", cfg)
    assert np.array_equal(np.random.get_state()[1], before[0]) and random.getstate() == before[1]
    _check_common(a, ma, "mnist1d")
    assert a["x_train"].shape == (150, 40) and a["x_test"].shape == (50, 40)
    assert a["x_train"].dtype == np.float32 and a["y_train"].dtype == np.int64
    assert np.bincount(np.concatenate([a["y_train"], a["y_test"]])).tolist() == [20] * 10
    assert list(tmp_path.iterdir()) == []
    b, mb = prepare("mnist1d", cfg)
    assert mb["array_sha256"] == ma["array_sha256"]
    c, mc = prepare("mnist1d", {**cfg, "seed": 8})
    assert mc["array_sha256"]["all"] != ma["array_sha256"]["all"]


def test_teacher_student_determinism_and_shapes():
    a, ma = prepare("teacher_student", TS)
    b, mb = prepare("teacher_student", TS)
    _check_common(a, ma, "teacher_student")
    assert ma["array_sha256"] == mb["array_sha256"] and ma["n_classes"] is None
    assert a["x_train"].shape == (50, 20) and a["y_train"].shape == (50, 2)
    assert a["y_test"].dtype == np.float32 and a["teacher_w1"].shape == (5, 20)
    c, _ = prepare("teacher_student", {**TS, "seed": 4})
    assert not np.array_equal(a["x_train"], c["x_train"])
    # independent streams: more training data leaves teacher and test set unchanged
    d, _ = prepare("teacher_student", {**TS, "n_train": 80})
    for k in ("teacher_w1", "teacher_w2", "x_test", "y_test"):
        np.testing.assert_array_equal(a[k], d[k])
    np.testing.assert_array_equal(a["x_train"], d["x_train"][:50])


def test_teacher_student_noiseless_targets_are_the_teacher():
    a, _ = prepare("teacher_student", {**TS, "noise_std": 0.0})
    for s in ("train", "test"):
        y = teacher_forward(a[f"x_{s}"], a["teacher_w1"], a["teacher_w2"])
        assert np.array_equal(a[f"y_{s}"], y)
        # and the teacher is what the docstring says: relu(x W1^T) W2^T
        ref = np.maximum(a[f"x_{s}"] @ a["teacher_w1"].T, 0) @ a["teacher_w2"].T
        np.testing.assert_allclose(a[f"y_{s}"], ref, rtol=1e-5, atol=1e-5)
    noisy, _ = prepare("teacher_student", TS)
    resid = noisy["y_train"] - teacher_forward(noisy["x_train"], noisy["teacher_w1"], noisy["teacher_w2"])
    assert 0.05 < resid.std() < 0.2  # noise_std = 0.1


def test_teacher_student_input_and_weight_scales():
    a = datasets.teacher_student(n_train=4000, n_test=1, d_in=50, d_hidden=400, d_out=1,
                                 noise_std=0.0, seed=0)
    assert abs(a["x_train"].std() - 1.0) < 0.02
    assert abs(a["teacher_w1"].var() * 50 - 1.0) < 0.05  # N(0, 1/d_in)


def test_array_sha256_is_over_bytes():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    h = array_sha256({"x": x})
    assert h["x"] == array_sha256({"x": np.asfortranarray(x)})["x"]
    assert h["x"] == array_sha256({"x": x.astype(">f4")})["x"]  # byte order does not matter
    assert h["all"] != array_sha256({"x": x.reshape(3, 2)})["all"]  # shape does


def test_unknown_name_and_load_round_trip(tmp_path):
    with pytest.raises(DatasetError, match="unknown dataset 'nope'"):
        prepare("nope", {})
    arrays, manifest = prepare("teacher_student", TS)
    save_npz(tmp_path / "ts.npz", **arrays)
    write_json(tmp_path / "ts.json", manifest)
    back = datasets.load(tmp_path / "ts.npz")
    assert array_sha256(back) == manifest["array_sha256"]
    save_npz(tmp_path / "bad.npz", x_train=arrays["x_train"])
    with pytest.raises(DatasetError, match="lacks arrays y_train"):
        datasets.load(tmp_path / "bad.npz")


def test_local_sets_need_a_path():
    with pytest.raises(DatasetError, match=r"data\.mnist\.path is not set"):
        prepare("mnist", {"path": None})
    with pytest.raises(DatasetError, match=r"data\.cifar10\.path is not set"):
        prepare("cifar10", {"path": None})


def test_schema_accepts_config_and_rejects_typos():
    schema = yaml.safe_load((ROOT / "workflow/schemas/data.schema.yaml").read_text())
    data = yaml.safe_load((ROOT / "config/config.yaml").read_text())["data"]
    validator = jsonschema.Draft202012Validator(schema)
    validator.validate(data)
    assert set(data) == set(datasets.NAMES)
    bad = json.loads(json.dumps(data))
    bad["mnist5k"]["test_fraction"] = 1.0
    bad["digits"]["seed"] = 1
    bad["mnist"]["path"] = 3
    bad["mnist1d"]["num_samples"] = 205
    assert len(list(validator.iter_errors(bad))) == 4


def test_paper_scale_without_local_data_stops_before_any_job(root, tmp_path):
    """Full MNIST / CIFAR-10 needed but data.<name>.path unset: the dry run names the keys."""
    run = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--cores", "1", "--nolock",
                          "--snakefile", str(root / "Snakefile"), "--directory", str(tmp_path),
                          "--configfile", str(root / "config/paper.yaml")], capture_output=True, text=True)
    out = run.stdout + run.stderr
    assert run.returncode != 0 and "Job stats" not in out
    assert "activity_weight_duality.dataset: mnist needs data.mnist.path" in out, out[-2000:]
    assert "data.cifar10.path" in out

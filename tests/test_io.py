"""Atomic writes: a failure mid-write leaves neither a partial file nor a temporary."""
import numpy as np
import pytest

from spdl.io import atomic_path, load_npz, save_npz


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

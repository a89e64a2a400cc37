"""spdl.checkpoint: atomic, fingerprinted; unreadable or foreign checkpoints are moved aside."""

import warnings

import numpy as np
import pytest
import torch

from spdl.checkpoint import Checkpoint, CheckpointWarning, fingerprint, to_device
from spdl.models import MLP


def _state():
    g = torch.Generator().manual_seed(3)
    return {"step": 7, "params": [torch.randn(2, 3, generator=g)], "gen": g.get_state(), "note": "x",
            "nested": {"a": (1.5, None, torch.arange(3))}}


def test_round_trip_and_remove(tmp_path):
    path = tmp_path / "sub" / "run.pt"
    ckpt = Checkpoint(path, "abc")
    assert ckpt.load() is None  # nothing yet: no warning
    state = _state()
    ckpt.save(state)
    assert path.exists() and [p.name for p in path.parent.iterdir()] == ["run.pt"]  # no temporary left over
    back = Checkpoint(path, "abc").load()
    assert back["step"] == 7 and back["note"] == "x" and torch.equal(back["params"][0], state["params"][0])
    assert torch.equal(back["gen"], state["gen"]) and back["nested"]["a"][:2] == (1.5, None)
    ckpt.remove()
    assert not path.exists()
    ckpt.remove()  # idempotent


def test_foreign_and_unreadable_checkpoints_are_moved_aside(tmp_path):
    path = tmp_path / "run.pt"
    Checkpoint(path, "abc").save(_state())
    with pytest.warns(CheckpointWarning, match=r"run\.pt is from a different run.*run\.pt\.stale"):
        assert Checkpoint(path, "other").load() is None
    assert not path.exists() and (tmp_path / "run.pt.stale").exists()
    path.write_bytes(b"\x00garbage")  # truncated / corrupt
    with pytest.warns(CheckpointWarning, match=r"cannot be read.*run\.pt\.stale\.1"):
        assert Checkpoint(path, "abc").load() is None
    torch.save({"step": 3}, path)  # readable, not this format (e.g. an older engine's checkpoint)
    with pytest.warns(CheckpointWarning, match=r"not a checkpoint of this format.*stale\.2"):
        assert Checkpoint(path, "abc").load() is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.pt.stale", "run.pt.stale.1", "run.pt.stale.2"]


class Arbitrary:  # any pickled class: weights_only=True refuses to build it
    pass


def test_pickled_objects_are_refused_not_executed(tmp_path):
    path = tmp_path / "run.pt"
    torch.save({"fingerprint": "abc", "state": {"x": Arbitrary()}}, path)
    with pytest.warns(CheckpointWarning, match="cannot be read"):
        assert Checkpoint(path, "abc").load() is None


def test_disabled_checkpoint_does_nothing(tmp_path):
    ckpt = Checkpoint(None, "abc")
    assert not ckpt and ckpt.load() is None
    ckpt.save({"x": 1})
    ckpt.remove()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert Checkpoint(tmp_path / "missing.pt", "abc").load() is None


def test_fingerprint_sees_arch_data_and_hyperparameters():
    arch = MLP((3, 2))
    t = [torch.zeros(2, 3), torch.ones(4)]
    base = fingerprint(arch, t, (0.1,))
    assert fingerprint(arch, [x.clone() for x in t], (0.1,)) == base
    assert fingerprint(MLP((3, 2), "tanh"), t, (0.1,)) != base
    assert fingerprint(arch, t, (0.2,)) != base
    assert fingerprint(arch, [t[0], t[1].double()], (0.1,)) != base  # dtype
    assert fingerprint(arch, [t[0].reshape(3, 2), t[1]], (0.1,)) != base  # shape
    bumped = t[1].clone()
    bumped[2] = 1 + 1e-7
    assert fingerprint(arch, [t[0], bumped], (0.1,)) != base
    assert fingerprint(arch, [t[0].numpy(), t[1].numpy()], (0.1,)) == base  # arrays hash like tensors


def test_to_device_keeps_structure():
    state = to_device(_state(), "cpu")
    assert isinstance(state["nested"]["a"], tuple) and state["params"][0].device.type == "cpu"
    assert np.isclose(state["nested"]["a"][0], 1.5)

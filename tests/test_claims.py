"""Claims pass only inside their band; NaN never passes; the scorecard counts them."""
import json
import math

import pytest

from spdl.claims import ClaimBook, load_claims, write_scorecard


def test_band_edges_and_nan():
    book = ClaimBook("toy", "quick")
    assert book.check("a", "f", "s", "1", 0.5, lower=0.0, upper=1.0).passed
    assert not book.check("b", "f", "s", "1", 1.5, upper=1.0).passed
    assert not book.check("c", "f", "s", "1", -0.1, lower=0.0).passed
    assert not book.check("d", "f", "s", "1", math.nan, upper=1.0).passed
    with pytest.raises(ValueError):
        book.check("a", "f", "s", "1", 0.5)


def test_scorecard_counts(tmp_path):
    book = ClaimBook("toy", "quick")
    book.check("ok", "f", "s", "1", 1.0, lower=0.5)
    book.check("bad", "f", "s", "1", 0.0, lower=0.5)
    book.write(tmp_path / "toy.json")
    write_scorecard(load_claims([tmp_path / "toy.json"]), tmp_path / "s.md", tmp_path / "s.json")
    card = json.loads((tmp_path / "s.json").read_text())
    assert (card["passed"], card["total"]) == (1, 2)
    assert "**FAIL**" in (tmp_path / "s.md").read_text()

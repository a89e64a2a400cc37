"""Claims take their band from the declaration; NaN, divergence and missing data never pass."""
import json
import math

import pytest
import yaml

from spdl.claims import ClaimBook, DeclarationError, load_claims, load_declarations, write_scorecard
from spdl.config import ConfigError, set_values

DECLARED = {"study": "toy", "claims": [
    {"id": "inside", "figure": "fig1_a", "statement": "a number in [0, 1]", "paper_value": 0.5,
     "band": [0.0, 1.0], "reason": "the paper's range"},
    {"id": "above", "figure": "fig1_a", "statement": "a number above 0.5", "paper_value": "> 0.5",
     "band": [0.5, None], "reason": "the sign the paper states",
     "scales": {"quick": {"band": [0.2, None], "reason": "fewer seeds at the quick scale"}}},
    {"id": "never", "figure": "fig2_b", "statement": "a claim nobody measures", "paper_value": "x",
     "band": [None, 1.0], "reason": "declared but the notebook forgets it"},
]}


@pytest.fixture
def declarations(tmp_path):
    path = tmp_path / "toy.yaml"
    path.write_text(yaml.safe_dump(DECLARED))
    return path


def test_band_edges_nan_and_statuses(declarations):
    book = ClaimBook.declared("toy", "default", declarations)
    assert book.check("inside", 1.0)  # the edge is inside
    assert not book.check("above", 0.3)  # default band [0.5, inf)
    statuses = {c.id: c.status for c in book.claims}
    assert statuses == {"inside": "pass", "above": "fail"}
    book = ClaimBook.declared("toy", "default", declarations)
    assert not book.check("inside", math.nan)
    assert not book.check("above", 0.9, diverged=True)
    assert [c.status for c in book.claims] == ["fail", "diverged"]
    with pytest.raises(DeclarationError, match="checked twice"):
        book.check("inside", 0.5)
    with pytest.raises(DeclarationError, match="not declared"):
        book.check("made_up_after_the_fact", 0.5)


def test_scale_band_comes_from_the_declaration(declarations):
    assert load_declarations(declarations, "quick")["above"].lower == 0.2
    assert load_declarations(declarations, "default")["above"].lower == 0.5
    book = ClaimBook.declared("toy", "quick", declarations)
    assert book.check("above", 0.3)


def test_missing_reason_and_unmeasured_claims_fail(declarations, tmp_path):
    book = ClaimBook.declared("toy", "default", declarations)
    assert not book.check("inside", None, reason="no phase transition found")
    book.check("above", 0.7)
    book.write(tmp_path / "toy.json")
    claims = {c["id"]: c for c in load_claims([tmp_path / "toy.json"])}
    assert claims["inside"]["status"] == "missing" and "transition" in claims["inside"]["note"]
    assert claims["never"]["status"] == "missing" and not claims["never"]["passed"]


def test_malformed_declarations_are_rejected(tmp_path):
    bad = dict(DECLARED, claims=[dict(DECLARED["claims"][0], band=[1.0, 0.0])])
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad))
    with pytest.raises(DeclarationError, match=r"band \[1.0, 0.0\]"):
        load_declarations(path, "default")
    no_reason = dict(DECLARED, claims=[{k: v for k, v in DECLARED["claims"][0].items() if k != "reason"}])
    path.write_text(yaml.safe_dump(no_reason))
    with pytest.raises(DeclarationError, match="reason"):
        load_declarations(path, "default")
    path.write_text(yaml.safe_dump(DECLARED))
    with pytest.raises(DeclarationError, match="fig2_b"):
        load_declarations(path, "default", figures=["fig1_a"])


def test_scorecard_counts_statuses_and_escapes_pipes(declarations, tmp_path):
    book = ClaimBook.declared("toy", "default", declarations)
    book.check("inside", 0.5)
    book.check("above", 0.9, diverged=True)
    book.write(tmp_path / "toy.json")
    write_scorecard(load_claims([tmp_path / "toy.json"]), tmp_path / "s.md", tmp_path / "s.json")
    card = json.loads((tmp_path / "s.json").read_text())
    assert (card["passed"], card["total"]) == (1, 3)
    assert card["studies"]["toy"] | {} == {"pass": 1, "fail": 0, "diverged": 1, "missing": 1, "total": 3}
    md = (tmp_path / "s.md").read_text()
    assert "**DIVERGED**" in md and "**MISSING**" in md
    row = next(line for line in md.splitlines() if "`inside`" in line)
    assert row.count(" | ") == 8  # nine cells: nothing in a statement breaks the table


def test_unreadable_claims_file_is_named(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ValueError, match="broken.json"):
        load_claims([broken])


def test_config_overrides_from_dotted_keys():
    config = {"s": {"a": 1, "grid": {"n": 3}, "depths": [{"lr": 0.1, "eps": 1}, {"lr": 0.2, "eps": 2}]}}
    out = set_values(config, ["s.grid.n=5", "s.depths.1.lr=3e-3", "s.a=[1, 2]"])
    assert out == {"s": {"grid": {"n": 5}, "depths": [{"lr": 0.1, "eps": 1}, {"lr": 3e-3, "eps": 2}], "a": [1, 2]}}
    assert config["s"]["depths"][1]["lr"] == 0.2  # the base config is left alone
    for bad, key in (("s.nope=1", "s.nope"), ("s.depths.7.lr=1", "s.depths"), ("s.a", "KEY=VALUE")):
        with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
            set_values(config, [bad])

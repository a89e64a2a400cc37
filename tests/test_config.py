"""Config validation: every shipped scale is valid; bad configs stop with the key named."""
import copy
import subprocess
import sys

import pytest
import yaml

from spdl.config import ConfigError, load_config, validate_config

SCALES = {"default": ["config/config.yaml"], "quick": ["config/config.yaml", "config/quick.yaml"],
          "paper": ["config/config.yaml", "config/paper.yaml"]}


@pytest.fixture
def default(root):
    return load_config([root / "config/config.yaml"], root / "workflow/schemas")


@pytest.mark.parametrize("scale", SCALES)
def test_shipped_scales_are_valid(root, scale):
    cfg = load_config([root / f for f in SCALES[scale]], root / "workflow/schemas")
    assert cfg["scale"] == scale


@pytest.mark.parametrize("mutate, key", [
    (lambda c: c.update(bogus=1), "unknown key bogus"),
    (lambda c: c["deep_linear"].update(typo_key=3), "unknown key deep_linear.typo_key"),
    (lambda c: c["deep_linear"]["dynamics"].update(n1="many"), "key deep_linear.dynamics.n1"),
    (lambda c: c["deep_linear"]["dynamics"].update(seeds=0), "key deep_linear.dynamics.seeds"),
    (lambda c: c["deep_linear"]["transfer"].update(noise_convention="other"), "key deep_linear.transfer.noise_convention"),
    (lambda c: c["deep_linear"]["spectrum"]["example"].update(aspect=2.0), "key deep_linear.spectrum.example.aspect"),
    (lambda c: c["deep_linear"]["dynamics"]["depths"][0].update(lr=-1), "key deep_linear.dynamics.depths.0.lr"),
    (lambda c: c["deep_linear"].pop("transfer"), "missing key deep_linear.transfer"),
    (lambda c: c["activity_weight_duality"]["multilearner"].update(learners=3),
     "key activity_weight_duality.multilearner.learners"),
    (lambda c: c["activity_weight_duality"]["sweeps"].update(dropout=[0.0, 1.0]),
     "key activity_weight_duality.sweeps.dropout"),
    (lambda c: c.update(max_threads=0), "key max_threads"),
    (lambda c: c.update(scale="huge"), "key scale"),
    (lambda c: c.update(device="tpu"), "key device"),
    (lambda c: c["deep_linear"].update(noise_std=float("nan")), "key deep_linear.noise_std: nan is not a finite"),
    (lambda c: c["deep_linear"]["dynamics"]["depths"][0].update(lr=float("nan")), "key deep_linear.dynamics.depths.0.lr"),
    (lambda c: c["deep_linear"]["modes"].update(t_max=float("inf")), "key deep_linear.modes.t_max: inf"),
])
def test_bad_config_names_the_key(root, default, mutate, key):
    bad = copy.deepcopy(default)
    mutate(bad)
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        validate_config(bad, root / "workflow/schemas")


def test_snakemake_refuses_bad_config(root, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"deep_linear": {"modes": {"lr": "fast"}}}))
    run = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--cores", "1", "--configfile", str(bad)],
                         cwd=root, capture_output=True, text=True)
    assert run.returncode != 0
    assert "deep_linear.modes.lr" in run.stdout + run.stderr

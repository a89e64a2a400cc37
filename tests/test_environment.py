"""environment.yml (conda users) and pyproject.toml (pip users) describe the same environment."""
import re
import tomllib

import yaml


def _name(req: str) -> str:
    return re.split(r"[<>=!~ \[]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_matches_pyproject(root):
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    pip_reqs = project["dependencies"] + project["optional-dependencies"]["test"]
    env = yaml.safe_load((root / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    conda_reqs = [r for r in pip_section if not r.startswith("-e")]
    assert sorted(map(str.strip, conda_reqs)) == sorted(map(str.strip, pip_reqs))
    assert "torch==2.13.0" in pip_reqs
    assert {_name(r) for r in conda_reqs} == {_name(r) for r in pip_reqs}

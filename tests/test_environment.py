"""environment.yml (conda users) and pyproject.toml (pip users) describe the same environment, and
requirements.lock (what `make replicate` and `make test` install) pins a version of each that satisfies both."""
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


def _lock(root) -> tuple[list[str], dict[str, str]]:
    lines = (root / "requirements.lock").read_text().splitlines()
    pins = [line for line in lines if line.strip() and not line.startswith("#")]
    return lines, {_name(p): p.split("==", 1)[1] for p in pins}


def test_lock_pins_exact_versions(root):
    lines, pins = _lock(root)
    entries = [line for line in lines if line.strip() and not line.startswith("#")]
    for line in entries:
        assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*==[0-9][A-Za-z0-9.!-]*", line), line  # no local label (+cpu)
    assert len(pins) == len(entries), "a package is pinned twice"
    assert "spdl" not in pins  # the project itself is installed from the tree, --no-deps


def test_lock_satisfies_pyproject_and_environment_yml(root):
    from packaging.requirements import Requirement

    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    lines, pins = _lock(root)
    for req in map(Requirement, project["dependencies"] + project["optional-dependencies"]["test"]):
        name = _name(req.name)
        assert name in pins, f"{name} is in pyproject.toml but not in requirements.lock: run `make lock`"
        assert req.specifier.contains(pins[name], prereleases=True), f"{name}=={pins[name]} violates {req}"
    # the same Python everywhere: the lock's, environment.yml's and pyproject's
    built = re.search(r"Built with Python (\d+\.\d+)\.\d+", "\n".join(lines))
    env = yaml.safe_load((root / "environment.yml").read_text())
    conda_python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python="))
    assert built and conda_python == f"python={built.group(1)}"
    assert Requirement(f"python{project['requires-python']}").specifier.contains(f"{built.group(1)}.0")


def test_make_installs_from_the_lock(root):
    makefile = (root / "Makefile").read_text()
    assert "pip install -q -r $(LOCK)" in makefile and "--no-deps -e ." in makefile
    assert "LOCK   := requirements.lock" in makefile

"""The workflow itself: lint-clean, and the DAG holds every study's jobs and targets."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

from spdl.claims import load_declarations

NOT_STUDIES = {"common", "studies", "scorecard", "report", "data", "benchmarks"}


def registered_studies(root):
    return sorted(p.stem for p in (root / "workflow/rules").glob("*.smk") if p.stem not in NOT_STUDIES)


def smk(root, *args):
    return subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=root, capture_output=True, text=True)


def test_lint_clean(root):
    run = smk(root, "--lint")
    assert run.returncode == 0 and "Congratulations" in run.stdout + run.stderr, run.stdout + run.stderr


def test_dry_run_lists_every_study_rule(root, tmp_path):
    run = smk(root, "-n", "--cores", "2", "--directory", str(tmp_path))
    assert run.returncode == 0, run.stderr
    out = run.stdout + run.stderr
    for rule in ("data", "deep_linear_modes", "deep_linear_spectrum", "deep_linear_dynamics", "deep_linear_transfer",
                 "deep_linear_varying_p", "deep_linear_notebook", "scorecard", "all"):
        assert f"\n{rule} " in out, rule


def test_figure_targets_exist(root):
    run = smk(root, "--list-target-rules")
    targets = set(run.stdout.split())
    assert {"all", "deep_linear", "data_embedded", "benchmark_engine"} <= targets
    assert {f"deep_linear_fig{i}" for i in range(1, 8)} <= targets


@pytest.mark.parametrize("study", registered_studies(Path(__file__).resolve().parents[1]))
def test_every_study_has_its_layers_and_generated_tail(root, study):
    """One name in every layer; the notebook rule, the study target and one target per figure are generated."""
    for path in (f"workflow/rules/{study}.smk", f"src/spdl/studies/{study}.py", f"notebooks/{study}.py",
                 f"workflow/schemas/{study}.schema.yaml", f"workflow/claims/{study}.yaml"):
        assert (root / path).exists(), path
    assert list((root / "tests").glob(f"test_{study}*.py")), f"tests/test_{study}*.py"
    rules = (root / f"workflow/rules/{study}.smk").read_text()
    assert f"rule {study}_notebook" not in rules and f"rule {study}:" not in rules, "the tail comes from the registry"
    figures = [p.stem for p in (root / "workflow/report" / study).glob("fig*.rst")]
    assert figures, f"captions in workflow/report/{study}/"
    load_declarations(root / f"workflow/claims/{study}.yaml", "default", figures)  # valid, figures exist
    run = smk(root, "--list-rules")
    listed = set(run.stdout.split())
    assert {study, f"{study}_notebook"} | {f"{study}_{f.split('_')[0]}" for f in figures} <= listed


def test_no_global_wildcard_constraints(root):
    """A study's wildcard names ({rho}, {batch}, ...) must not constrain another study's rules."""
    for path in (root / "workflow/rules").glob("*.smk"):
        assert not re.search(r"^wildcard_constraints:", path.read_text(), re.M), path.name


def test_dry_run_of_one_study_does_not_import_torch(root, tmp_path):
    code = ("import atexit, sys; atexit.register(lambda: print('TORCH_LOADED', 'torch' in sys.modules)); "
            "from snakemake.cli import main; sys.argv = ['snakemake', '-n', '--nolock', '--cores', '1', "
            f"'--snakefile', {str(root / 'Snakefile')!r}, '--directory', {str(tmp_path)!r}, 'deep_linear']; main()")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "TORCH_LOADED False" in run.stdout, run.stdout[-2000:] + run.stderr[-2000:]


def test_notebooks_read_no_config_behind_their_rule(root):
    """Notebooks see only their rule's params (``cfg``); scripts only their rule's params."""
    for study in registered_studies(root):
        nb = (root / f"notebooks/{study}.py").read_text()
        assert "smk.config" not in nb and "snakemake.config" not in nb
    for script in (root / "workflow/scripts").glob("*.py"):
        assert "smk.config" not in script.read_text() and "snakemake.config" not in script.read_text(), script.name



@pytest.mark.parametrize("command", [["ruff", "check", "."], ["snakefmt", "--check", "workflow/", "Snakefile"]])
def test_code_style_is_clean(root, command):
    """`make lint` in CI: ruff and snakefmt (configured in pyproject.toml) find nothing to change."""
    tool = Path(sys.executable).with_name(command[0])
    run = subprocess.run([str(tool), *command[1:]], cwd=root, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

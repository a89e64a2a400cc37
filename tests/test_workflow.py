"""The workflow itself: lint-clean, and the DAG holds every study's jobs and targets."""
import subprocess
import sys


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

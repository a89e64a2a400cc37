"""End to end: the quick scale in a temporary copy of the project.

Checks that every expected artifact exists, every quick-scale claim passes, a
rerun gives identical claims, and a sweep killed mid-run resumes to the same result.
"""
import base64
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import yaml
from conftest import copy_project

pytestmark = pytest.mark.slow
QUICK = ["--configfile=config/quick.yaml"]  # "=": the option takes one file, targets may follow


def snakemake(cwd, *args, check=True):
    run = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2", *QUICK, *args],
                         cwd=cwd, capture_output=True, text=True)
    if check and run.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{run.stdout[-4000:]}\n{run.stderr[-8000:]}")
    return run


@pytest.fixture(scope="module")
def project(root, tmp_path_factory):
    work = copy_project(tmp_path_factory.mktemp("pipeline"))
    snakemake(work)
    return work


def test_all_artifacts_exist(project):
    card = json.loads((project / "results/scorecard.json").read_text())
    assert card["total"] > 0
    for study in card["studies"]:
        figures = sorted((project / "results/figures" / study).glob("*.png"))
        assert figures, study
        for png in figures:
            for ext in ("png", "pdf", "csv"):
                f = png.with_suffix(f".{ext}")
                assert f.stat().st_size > 0, f
        assert (project / f"results/notebooks/{study}.html").stat().st_size > 0
        assert (project / f"results/claims/{study}.json").exists()
    assert (project / "results/scorecard.md").exists()
    # nothing left to do: the DAG is complete
    dry = snakemake(project, "-n")
    assert "Nothing to be done" in dry.stdout + dry.stderr


# The quick-scale claims that failed honestly when this list was last reviewed (finite-size effects at
# quick, or a claim the paper's protocol does not bear out; each reason is in the closing notes and the
# scorecard). Any other claim that does not pass at quick is a regression; a listed one that starts to
# pass is welcome. A failure is never fixed by widening its band: the declarations are pre-registered.
KNOWN_QUICK_FAILURES = {
    "deep_linear": {"h3_t_opt_matches_theory", "network_size_flat"},
    "mislabeled_phases": {"rho0_amplitude_drops_per_seed", "mechanism_gradients_opposed_I_II",
                          "mechanism_strength_crosses_one_at_t_III", "t_IV_epochs_increases_with_rho",
                          "phase_II_narrows_with_rho"},
    "activity_weight_duality": {"sharp_part_tracks_gap", "norm_penalty_acts_through_size", "dpsgd_smaller_gap"},
    "sgd_noise_flatness": {"psi_value", "control_psi_negative_per_seed", "control_equipartition_per_seed"},
    "stochastic_collapse": {"linear_modes_match_theory", "linear_surviving_decrease", "proxy_teacher_groups"},
    "entropy_sgd_hessian": {"esgd_sgd_test_error_gap", "flat_shape_sweep_every_net"},
}


def test_every_quick_claim_is_measured_and_no_new_failure(project):
    card = json.loads((project / "results/scorecard.json").read_text())
    missing = [f"{c['study']}.{c['id']}: {c['note']}" for c in card["claims"] if c["status"] == "missing"]
    assert not missing, "\n".join(missing)
    failed = [f"{c['study']}.{c['id']}: {c['measured']:.4g} not in {c['band']} ({c['status']}: {c['note']})"
              for c in card["claims"]
              if c["status"] != "pass" and c["id"] not in KNOWN_QUICK_FAILURES.get(c["study"], ())]
    assert not failed, "\n".join(failed)


def test_report_builds(project):
    snakemake(project, "--report", "results/report.html")
    report = (project / "results/report.html").read_text()
    assert len(report) > 10_000
    # the front page with its summary, the scorecard and the cost of the run as HTML tables
    front = report[report.index("var workflow_desc = "):]
    front = json.JSONDecoder().raw_decode(front, len("var workflow_desc = "))[0]
    assert "claims pass</b> at scale <code>quick</code>" in front and "arxiv.org/abs/" in front
    start = report.index("var results = ", report.index("var workflow_desc = ")) + len("var results = ")
    results = json.JSONDecoder().raw_decode(report, start)[0]
    for page in ("results/report/scorecard.html", "results/report/benchmarks.html"):
        assert results[page]["mime_type"] == "text/html"
        assert b"<table" in base64.b64decode(results[page]["data_uri"].split("base64,", 1)[1])
    assert not any(r["mime_type"] == "text/markdown" for r in results.values())


def test_notebooks_show_every_figure_offline(project):
    """What a reader opens: one inline image per figure, no stray repr, nothing loaded from the network."""
    card = json.loads((project / "results/scorecard.json").read_text())
    for study in card["studies"]:
        html = (project / f"results/notebooks/{study}.html").read_text()
        figures = list((project / "results/figures" / study).glob("*.png"))
        assert html.count("<img") == len(figures), study
        for text in ("Claim(", "PosixPath(", "FigurePath(", "&lt;Figure size"):
            assert text not in html, f"{study}: {text}"
        assert not re.search(r"<script[^>]*\bsrc=", html), study
        assert "mathjax" not in html.lower(), study


def test_rerun_gives_identical_claims(project):
    claims = (project / "results/claims/deep_linear.json").read_text()
    modes = dict(np.load(project / "results/deep_linear/modes.npz"))
    snakemake(project, "--forcerun", "deep_linear_modes")
    assert (project / "results/claims/deep_linear.json").read_text() == claims
    again = np.load(project / "results/deep_linear/modes.npz")
    assert all(np.array_equal(modes[k], again[k]) for k in modes)


# the report's pages, remade whenever the scorecard is
REPORT_JOBS = {"benchmarks_table": 1, "report_summary": 1}


def scheduled(project, *overrides, target="all"):
    """Jobs a dry run would start, {rule: count}, with the quick config plus override files."""
    run = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--cores", "2", "--configfiles", "config/quick.yaml",
                          *overrides, "--", target], cwd=project, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    out = run.stdout + run.stderr
    if "Nothing to be done" in out:
        return {}
    table = out.split("Job stats:")[1].split("total")[0]
    return {m[0]: int(m[1]) for m in re.findall(r"^(\w+)\s+(\d+)$", table, re.M)}


def test_notebook_only_key_reruns_only_that_notebook(project):
    override = project / "override_notebook.yaml"
    override.write_text("deep_linear:\n  optimum:\n    snr: {min: 0.3, max: 10.0, n: 30}\n")
    assert scheduled(project, override.name) == {"deep_linear_notebook": 1, "scorecard": 1, **REPORT_JOBS, "all": 1}


def test_training_key_reruns_exactly_that_job_and_its_dependants(project):
    quick = yaml.safe_load((project / "config/quick.yaml").read_text())
    depths = quick["deep_linear"]["dynamics"]["depths"]
    depths[-1]["lr"] *= 0.9  # only the deepest network's training changes
    override = project / "override_training.yaml"
    override.write_text(yaml.safe_dump({"deep_linear": {"dynamics": {"depths": depths}}}))
    assert scheduled(project, override.name) == {"deep_linear_dynamics": 1, "deep_linear_notebook": 1,
                                                 "scorecard": 1, **REPORT_JOBS, "all": 1}


def test_moved_project_needs_no_rerun(project, tmp_path):
    moved = tmp_path / "moved"
    shutil.copytree(project, moved, symlinks=True)
    assert scheduled(moved) == {}


def test_killed_sweep_resumes_to_same_result(project):
    target = "results/deep_linear/dynamics_h1.npz"
    reference = dict(np.load(project / target))
    (project / target).unlink()
    checkpoint = project / "results/checkpoints/deep_linear/dynamics_h1.pt"
    proc = subprocess.Popen([sys.executable, "-m", "snakemake", "--cores", "1", *QUICK, target],
                            cwd=project, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.time() + 300
    while not checkpoint.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert checkpoint.exists(), "no checkpoint was written before the job ended"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (project / target).exists()
    snakemake(project, "--unlock", target)  # the killed run could not release its lock
    snakemake(project, "--rerun-incomplete", target)
    resumed = np.load(project / target)
    assert all(np.array_equal(reference[k], resumed[k]) for k in reference)
    assert not checkpoint.exists()

"""The pipeline on a real Slurm cluster, through workflow/profiles/slurm.

Needs a running Slurm with an idle node (CI: .ci/slurm/start.sh starts a single-node
one); skipped otherwise. In a temporary copy of the project the deep_linear study
(seven jobs: five simulations, one checkpointed training sweep per depth, the notebook
that aggregates them into figures and claims) runs as Slurm jobs, at a size below the
quick scale (SLURM_CI below) so that the whole module stays within a few minutes on
2 cores: this proves the execution path, the quick-scale science is tested locally by
test_pipeline.py. Then a training job is cancelled with scancel mid-sweep and the rerun
must resume it from its checkpoint to bitwise the same result as an uninterrupted
local run.
"""
import json
import re
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import copy_project

# Below quick scale: every job finishes in seconds, one thread each so that two jobs
# share the 2-core CI node. max_threads=1 also makes the local and Slurm runs identical.
SLURM_CI = """\
max_threads: 1
deep_linear:
  spectrum: {n1: 100, seeds: 2, sbar: {min: 0.1, max: 4.0, n: 6}}
  dynamics:
    n1: 40
    n2: 20
    n3: 20
    seeds: 2
    n_records: 40
    depths:
      - {hidden_layers: 1, eps: 1.0e-5, lr: 8.0e-3, t_max: 8.0}
      - {hidden_layers: 3, eps: 1.0e-5, lr: 3.5e-3, t_max: 25.0}
  transfer: {n1: 40, n3_per_task: 20, n2: 20, seeds: 2, q: [0.0, 1.0], sbar_b: [3.0]}
  varying_p: {p_ratio: [1, 2], seeds: 2}
"""
CONFIG = ["--configfile", "config/quick.yaml", "config/slurm_ci.yaml"]  # targets go before
# The profile as a user runs it, plus what this cluster needs: no accounting database
# (so no sacct and no account to guess) and short polling for a small CI cluster.
SLURM = ["--workflow-profile", "workflow/profiles/slurm", "--slurm-status-command", "squeue",
         "--slurm-no-account", "--slurm-init-seconds-before-status-checks", "2",
         "--latency-wait", "5"]
STUDY = "deep_linear"
SWEEP = "results/deep_linear/dynamics_h3.npz"          # the longest training job
CHECKPOINT = "results/checkpoints/deep_linear/dynamics_h3.pt"
SWEEP_JOB = "rule_deep_linear_dynamics_wildcards_3"    # its Slurm --comment


def _slurm_problem():
    """None when a Slurm cluster with an idle node answers, else why not."""
    missing = [c for c in ("sinfo", "squeue", "sbatch", "scancel") if shutil.which(c) is None]
    if missing:
        return f"Slurm client commands not found: {', '.join(missing)} (start one with .ci/slurm/start.sh)"
    try:
        states = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        return "sinfo did not answer within 20 s (is slurmctld running?)"
    if states.returncode != 0:
        return f"sinfo failed: {states.stderr.strip()} (start a cluster with .ci/slurm/start.sh)"
    if not {"idle", "mix"} & set(states.stdout.split()):
        return f"no idle Slurm node (sinfo states: {states.stdout.split() or 'none'})"
    try:
        import snakemake_executor_plugin_slurm  # noqa: F401
    except ImportError:
        return "snakemake-executor-plugin-slurm is not installed (pip install -e '.[test]')"
    return None


_PROBLEM = _slurm_problem()
pytestmark = [pytest.mark.slow, pytest.mark.skipif(_PROBLEM is not None, reason=str(_PROBLEM))]


def snakemake(cwd, *args, slurm=True, check=True):
    cmd = [sys.executable, "-m", "snakemake", *(SLURM if slurm else ["--cores", "2"]), *args, *CONFIG]
    run = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if check and run.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({run.returncode}):\n"
                             f"{run.stdout[-4000:]}\n{run.stderr[-8000:]}")
    return run


def copy_project_for_slurm(dest):
    copy_project(dest)
    (dest / "config/slurm_ci.yaml").write_text(SLURM_CI)
    return dest


def _minutes(limit):
    """Slurm's time limit ([days-]hours:minutes:seconds, or minutes:seconds) in minutes."""
    days, _, hms = limit.rpartition("-")
    parts = [int(x) for x in hms.split(":")]
    seconds = sum(v * 60 ** i for i, v in enumerate(reversed(parts)))
    return int(days or 0) * 1440 + seconds // 60


def _same(a, b):
    """Bitwise equal npz contents (NaN of a diverged ensemble member equals NaN)."""
    return a.keys() == b.keys() and all(
        np.array_equal(a[k], b[k], equal_nan=a[k].dtype.kind in "fc") for k in a)


def squeue(*args):
    out = subprocess.run(["squeue", "-h", *args], capture_output=True, text=True, check=True)
    return [line.split("|") for line in out.stdout.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def cluster_run(root, tmp_path_factory):
    """The study run through Slurm; returns the project and Snakemake's output."""
    work = copy_project_for_slurm(tmp_path_factory.mktemp("slurm"))
    start = time.time()
    run = snakemake(work, STUDY)
    log = run.stdout + run.stderr
    print(f"\n[slurm] {STUDY} through Slurm: {time.time() - start:.0f} s")
    return work, log


def test_study_artifacts_from_slurm_jobs(cluster_run):
    work, log = cluster_run
    jobs = re.findall(r"submitted with SLURM jobid (\d+)", log)
    # modes, spectrum, dynamics h1 + h3, transfer, varying_p, random_labels, network_size, notebook
    assert len(jobs) == 9, log[-3000:]
    assert (work / f"results/notebooks/{STUDY}.html").stat().st_size > 0
    claims = json.loads((work / f"results/claims/{STUDY}.json").read_text())
    assert claims, "the notebook wrote no claims"
    figures = sorted((work / "results/figures" / STUDY).glob("*.png"))
    assert len(figures) == 9
    for png in figures:
        for ext in ("png", "pdf", "csv"):
            assert png.with_suffix(f".{ext}").stat().st_size > 0, png.with_suffix(f".{ext}")
    dry = snakemake(work, "-n", STUDY, slurm=False)
    assert "Nothing to be done" in dry.stdout + dry.stderr


def test_jobs_get_the_rules_resources(cluster_run):
    """threads -> --cpus-per-task, mem_mb -> --mem, runtime (min) -> --time, as Slurm saw them."""
    work, log = cluster_run
    run_id = re.search(r"SLURM run ID: (\S+)", log).group(1)
    # what each job should get: the rules' resources after the profile's set-resources
    dry = snakemake(work, "-n", "--forceall", STUDY, check=True).stdout
    expected = {}
    for block in re.split(r"\n(?=rule )", dry):
        name = re.match(r"rule (\w+):", block)
        res = re.search(r"resources: (.*)", block)
        if not name or not res or "output:" not in block:  # target rules run no job
            continue
        wildcards = re.search(r"wildcards: (\w+)=(\S+)", block)
        comment = f"rule_{name.group(1)}" + (f"_wildcards_{wildcards.group(2)}" if wildcards else "")
        threads = re.search(r"threads: (\d+)", block)
        values = dict(kv.split("=", 1) for kv in res.group(1).split(", "))
        expected[comment] = (int(threads.group(1)) if threads else 1,
                             int(values["mem_mb"]), int(values["runtime"]))
    # squeue -t all still lists finished jobs (MinJobAge); %C cpus, %m memory, %l time limit
    seen = {}
    for comment, cpus, mem, limit in squeue("-t", "all", "--name", run_id, "-o", "%k|%C|%m|%l"):
        minutes = _minutes(limit)
        seen[comment] = (int(cpus), int(mem.rstrip("M")), minutes)
    print("\n[slurm] job: (cpus, mem MB, time min) requested by the rule -> granted by Slurm")
    for comment in sorted(expected):
        print(f"[slurm]   {comment}: {expected[comment]} -> {seen.get(comment)}")
    assert seen == expected


def test_cancelled_training_job_resumes_to_identical_result(cluster_run, root, tmp_path):
    work, _ = cluster_run
    uninterrupted_slurm = dict(np.load(work / SWEEP))
    # reference: the same sweep run locally, uninterrupted
    local = copy_project_for_slurm(tmp_path)
    snakemake(local, SWEEP, slurm=False)
    reference = dict(np.load(local / SWEEP))
    assert _same(reference, uninterrupted_slurm)

    t0 = time.time()
    say = lambda msg: print(f"[slurm] {time.time() - t0:5.1f}s {msg}")  # noqa: E731
    print()
    (work / SWEEP).unlink()
    proc = subprocess.Popen([sys.executable, "-m", "snakemake", *SLURM, SWEEP, *CONFIG], cwd=work,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    say(f"started the slurm executor on {SWEEP}")
    job = None
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        running = [j for j, comment, state in squeue("-o", "%i|%k|%T")
                   if comment == SWEEP_JOB and state == "RUNNING"]
        if running and (work / CHECKPOINT).exists():
            job = running[0]
            break
        time.sleep(0.2)
    assert job, "the training job never ran with a checkpoint written:\n" + (
        proc.communicate()[0][-4000:] if proc.poll() is not None else "timeout")
    say(f"Slurm job {job} RUNNING, checkpoint {CHECKPOINT} written "
        f"({(work / CHECKPOINT).stat().st_size} bytes)")
    subprocess.run(["scancel", job], check=True)
    say(f"scancel {job}")
    out, _ = proc.communicate(timeout=300)
    say(f"snakemake exited with {proc.returncode}")
    for line in dict.fromkeys(line.strip() for line in out.splitlines()):  # unique, in order
        if "Error in rule" in line or "CANCELLED" in line or "failed" in line.lower():
            say(f"  snakemake: {line}")
    state = squeue("-t", "all", "-j", job, "-o", "%T")
    say(f"squeue: job {job} is {state[0][0] if state else 'gone'}")
    assert proc.returncode != 0, out[-3000:]
    assert not (work / SWEEP).exists(), "a cancelled job left its output behind"
    assert (work / CHECKPOINT).exists(), "the checkpoint did not survive the cancelled job"

    rerun = snakemake(work, SWEEP)                  # the profile sets --rerun-incomplete
    resubmitted = re.findall(r"submitted with SLURM jobid (\d+)", rerun.stdout + rerun.stderr)
    say(f"rerun of the same command: resubmitted as Slurm job(s) {resubmitted}, exit 0")
    job_log = (work / "results/logs/deep_linear/dynamics_h3.log").read_text()
    resumed = [line for line in job_log.splitlines() if "resumed from checkpoint" in line]
    say(f"job log: {resumed[0] if resumed else 'NO RESUME LINE'}")
    assert resumed, job_log[-2000:]
    result = dict(np.load(work / SWEEP))
    same = _same(reference, result)
    say(f"{SWEEP} after cancel + rerun is bitwise identical to the uninterrupted local run: {same}")
    assert same
    assert not (work / CHECKPOINT).exists(), "the checkpoint was not removed after the sweep finished"

"""The report's own pages: the scorecard as an HTML table, the cost of the run (benchmarks_table), and the
front page (workflow/report/workflow.rst) with its summary, built by Snakemake on a one-study toy workflow
that uses the project's scorecard.smk and report.smk."""
import base64
import json
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from spdl.claims import ClaimBook, write_scorecard
from spdl.io import read_json
from spdl.report import benchmarks_html, per_study, read_benchmarks, rule_of, scorecard_html, study_of

PATTERNS = {"deep_linear_dynamics": "results/benchmarks/deep_linear/dynamics_h{hidden}.tsv",
            "deep_linear_notebook": "results/benchmarks/deep_linear/notebook.tsv",
            "data": "results/benchmarks/data/{name}.tsv",
            "scorecard": "results/benchmarks/scorecard.tsv"}
DECLARED = {"study": "toy", "claims": [
    {"id": "small", "figure": "fig1_a", "statement": "a | piped statement", "paper_value": 1,
     "band": [0.0, 2.0], "reason": "a toy band for the test"},
    {"id": "large", "figure": "fig1_a", "statement": "above <one>", "paper_value": "> 1",
     "band": [1.0, None], "reason": "a toy band for the test"}]}
BENCH = ("s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
         "{}\t0:00:05\t{}\t1\t1\t1\t0\t0\t50\t{}\n")


def test_rule_and_study_of_a_benchmark_file():
    assert rule_of("results/benchmarks/deep_linear/dynamics_h3.tsv", PATTERNS) == "deep_linear_dynamics"
    assert rule_of("results/benchmarks/deep_linear/notebook.tsv", PATTERNS) == "deep_linear_notebook"
    assert rule_of("results/benchmarks/data/mnist5k.tsv", PATTERNS) == "data"
    assert rule_of("results/benchmarks/other/x.tsv", PATTERNS) == "x"
    assert study_of("results/benchmarks/deep_linear/notebook.tsv") == "deep_linear"
    assert study_of("results/benchmarks/scorecard.tsv") == "pipeline"


def test_benchmark_tables(tmp_path):
    root = tmp_path / "results/benchmarks"
    files = {"deep_linear/dynamics_h1.tsv": (10, 300, 9), "deep_linear/dynamics_h3.tsv": (20, 500, 19),
             "deep_linear/notebook.tsv": (5, 200, 4), "scorecard.tsv": (1, 80, 1)}
    for name, (s, rss, cpu) in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(BENCH.format(s, rss, cpu))
    (root / "broken.tsv").write_text("")
    patterns = {k: str(tmp_path / v) for k, v in PATTERNS.items()}
    jobs = read_benchmarks(sorted(root.rglob("*.tsv")), patterns, str(root))
    assert len(jobs) == 4
    studies = per_study(jobs).set_index("study")
    assert studies.loc["deep_linear", "wall_s"] == 35 and studies.loc["deep_linear", "max_rss_mb"] == 500
    assert studies.loc["deep_linear", "jobs"] == 3
    page = benchmarks_html(jobs)
    assert "<code>deep_linear_dynamics</code>" in page and "0:35" in page and "500 MB" in page
    assert "<script" not in page


def test_scorecard_page_is_a_table(tmp_path):
    path = tmp_path / "toy.yaml"
    path.write_text(yaml.safe_dump(DECLARED))
    book = ClaimBook.declared("toy", "quick", path)
    book.check("small", 1.0)
    book.check("large", 0.5)
    book.write(tmp_path / "toy.json")
    claims = read_json(tmp_path / "toy.json")
    assert set(claims["environment"]) >= {"python", "torch", "numpy", "scipy", "snakemake"}
    write_scorecard(claims["claims"], tmp_path / "s.md", tmp_path / "s.json")
    card = read_json(tmp_path / "s.json")
    assert card["scale"] == "quick" and card["environment"]["python"].count(".") == 2
    page = scorecard_html(card)
    assert page.count("<table") == 2  # summary by study, then the claims of the study
    assert "a | piped statement" in page and "above &lt;one&gt;" in page
    assert ">PASS<" in page and ">FAIL<" in page


@pytest.fixture(scope="module")
def toy_report(tmp_path_factory, root):
    work = tmp_path_factory.mktemp("report")
    (work / "toy.yaml").write_text(yaml.safe_dump(DECLARED))
    (work / "Snakefile").write_text(f'''
import os, sys
from pathlib import Path
PROJECT = Path({str(root)!r})
sys.path.insert(0, str(PROJECT / "src"))
os.environ["PYTHONPATH"] = str(PROJECT / "src")
from spdl.claims import ClaimBook
config.update(scale="quick", device="cpu", toy={{}}, deep_linear={{}})
CONDA_ENV = str(PROJECT / "environment.yml")
STUDIES = {{"toy": {{}}}}
def claims_path(study):
    return f"results/claims/{{study}}.json"
report: str(PROJECT / "workflow/report/workflow.rst")
rule toy_notebook:
    input: "toy.yaml"
    output: claims_path("toy")
    benchmark: "results/benchmarks/toy/notebook.tsv"
    run:
        book = ClaimBook.declared("toy", "quick", input[0])
        book.check("small", 1.0)
        book.check("large", 0.5)
        book.write(output[0])
include: str(PROJECT / "workflow/rules/scorecard.smk")
include: str(PROJECT / "workflow/rules/report.smk")
rule all:
    default_target: True
    input: "results/report/scorecard.html", REPORT_PAGES
''')
    for args in ([], ["--report", "report.html"]):
        run = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "1", *args], cwd=work,
                             capture_output=True, text=True)
        assert run.returncode == 0, run.stderr[-4000:]
    return work, (work / "report.html").read_text()


def _report_var(text, name):
    start = text.index(f"var {name} = ", text.index("var workflow_desc = ")) + len(f"var {name} = ")
    return json.JSONDecoder().raw_decode(text, start)[0]


def test_report_front_page(toy_report):
    work, text = toy_report
    front = _report_var(text, "workflow_desc")
    assert "replication pipeline" in front and "quick" in front
    assert "1 of 2 claims pass" in front and "<table" in front  # the summary, included from summary.html
    assert "torch" in front and "snakemake" in front  # the software versions of the run
    assert "arXiv:1809.10374" in front and "https://arxiv.org/abs/1809.10374" in front  # deep_linear in config
    assert "arXiv:2306.04251" not in front  # stochastic_collapse is not in this config
    assert "System Message" not in front and "ERROR" not in front
    jobs = pd.read_csv(work / "results/benchmarks.tsv", sep="\t")
    assert set(jobs.rule) >= {"toy_notebook", "scorecard"}


def test_report_shows_the_scorecard_and_benchmarks_as_html(toy_report):
    _, text = toy_report
    results = _report_var(text, "results")
    assert "results/scorecard.md" not in results
    for path in ("results/report/scorecard.html", "results/report/benchmarks.html"):
        item = results[path]
        assert item["mime_type"] == "text/html"
        page = base64.b64decode(item["data_uri"].split("base64,", 1)[1]).decode()
        assert "<table" in page and "<script" not in page
    scorecard = base64.b64decode(results["results/report/scorecard.html"]["data_uri"].split("base64,", 1)[1])
    assert b"a | piped statement" in scorecard

# The report's own pages, made after every study: the cost of the run (benchmarks_table) and the
# summary on the report's front page (report_summary; workflow/report/workflow.rst includes it).
# Included last by the Snakefile, when every rule and its benchmark pattern is known.

REPORT_PAGES = [
    "results/benchmarks.tsv",
    "results/report/benchmarks.html",
    "results/report/summary.html",
]
# the page of `benchmark_protocols` (not part of `all`) once that target has been run
PROTOCOLS_RUN = "results/benchmarks/protocols.json"
if Path(PROTOCOLS_RUN).exists():
    REPORT_PAGES.append("results/report/protocols.html")


rule benchmarks_table:
    input:
        # after every study's jobs: the scorecard is made from all of them
        "results/scorecard.json",
    output:
        tsv="results/benchmarks.tsv",
        html=report(
            "results/report/benchmarks.html",
            caption="../report/benchmarks.rst",
            category="Overview",
            labels={"page": "benchmarks"},
        ),
    log:
        "results/logs/benchmarks_table.log",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    params:
        # rule -> its benchmark file pattern, to name the rule of each benchmark file
        patterns={r.name: str(r.benchmark) for r in workflow.rules if r.benchmark},
    script:
        "../scripts/benchmarks_table.py"


rule report_summary:
    input:
        scorecard="results/scorecard.json",
        benchmarks="results/benchmarks.tsv",
    output:
        report(
            "results/report/summary.html",
            caption="../report/summary.rst",
            category="Overview",
            labels={"page": "summary (front page)"},
        ),
    log:
        "results/logs/report_summary.log",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    script:
        "../scripts/report_summary.py"


rule protocols_page:
    # no input: the page shows the last run of benchmark_protocols and never starts one (`all` would
    # rerun it whenever the config changed); stamp remakes the page after each run
    output:
        report(
            "results/report/protocols.html",
            caption="../report/protocols.rst",
            category="Overview",
            labels={"page": "benchmarks of the authors' protocols"},
        ),
    log:
        "results/logs/protocols_page.log",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    params:
        run=PROTOCOLS_RUN,
        stamp=lambda w: Path(PROTOCOLS_RUN).stat().st_mtime_ns if Path(PROTOCOLS_RUN).exists() else 0,
    script:
        "../scripts/protocols_page.py"

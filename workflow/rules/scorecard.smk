# Aggregates every study's claims into results/scorecard.{md,json} and its HTML table (in the report).


rule scorecard:
    input:
        claims=lambda w: [claims_path(s) for s in STUDIES],
    output:
        md="results/scorecard.md",
        json="results/scorecard.json",
        html=report(
            "results/report/scorecard.html",
            caption="../report/scorecard.rst",
            category="Overview",
            labels={"page": "scorecard"},
        ),
    log:
        "results/logs/scorecard.log",
    benchmark:
        "results/benchmarks/scorecard.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    script:
        "../scripts/scorecard.py"

# Aggregates every study's claims into results/scorecard.{md,json}.


rule scorecard:
    input:
        claims=lambda w: [claims_path(s) for s in STUDIES],
    output:
        md=report("results/scorecard.md", caption="../report/scorecard.rst", category="Scorecard"),
        json="results/scorecard.json",
    log:
        "results/logs/scorecard.log",
    benchmark:
        "results/benchmarks/scorecard.tsv"
    threads: 1
    conda:
        CONDA_ENV
    resources:
        mem_mb=500,
        runtime=5,
    script:
        "../scripts/scorecard.py"

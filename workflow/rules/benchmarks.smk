# Machine benchmark of the ensemble training engine; not part of `all`.
#   snakemake --cores 2 benchmark_engine


rule benchmark_engine:
    output:
        "results/benchmarks/engine.json",
    log:
        "results/logs/benchmark_engine.log",
    benchmark:
        "results/benchmarks/benchmark_engine.tsv"
    conda:
        CONDA_ENV
    threads: config["max_threads"]
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../scripts/benchmark_engine.py"

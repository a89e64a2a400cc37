# Machine benchmarks of the ensemble training engine; not part of `all`.
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
    threads: config["benchmarks"]["threads"]
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../scripts/benchmark_engine.py"


# The pipeline's engine on the authors' own protocols (sizes in config["benchmarks"]); not part of `all`.
#   snakemake --cores 2 benchmark_protocols
rule benchmark_protocols:
    input:
        data="results/data/mnist5k.npz",
    output:
        json="results/benchmarks/protocols.json",
        tsv="results/benchmarks/protocols.tsv",
    log:
        "results/logs/benchmark_protocols.log",
    benchmark:
        "results/benchmarks/benchmark_protocols.tsv"
    conda:
        CONDA_ENV
    threads: config["benchmarks"]["threads"]
    resources:
        **GPU,
        mem_mb=3000,
        runtime=60,
    params:
        cfg={p: config["benchmarks"][p] for p in ("activity_weight", "deep_linear")},
        device=DEVICE,
    script:
        "../scripts/benchmark_protocols.py"

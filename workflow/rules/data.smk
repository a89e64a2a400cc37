# Datasets: results/data/<name>.npz (x_train, y_train, x_test, y_test) + <name>.json manifest.
# Embedded sets come from installed packages or are generated; `mnist` and `cifar10`
# need data.<name>.path in the config (see workflow/schemas/data.schema.yaml).
from spdl.datasets import EMBEDDED as DATA_EMBEDDED, NAMES as DATA_NAMES, missing_local_data

if missing_local_data(config):  # a study reads full MNIST/CIFAR-10: stop before any job, naming the keys
    raise ConfigError("invalid configuration:\n" + "\n".join(f"  - {m}" for m in missing_local_data(config)))


rule data:
    output:
        npz="results/data/{name}.npz",
        json="results/data/{name}.json",
    log:
        log_path("data", "{name}"),
    benchmark:
        benchmark_path("data", "{name}")
    wildcard_constraints:
        name="|".join(DATA_NAMES),
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=20,
    params:
        cfg=lambda w: config["data"][w.name],
    script:
        "../scripts/prepare_data.py"


rule data_embedded:
    input:
        expand("results/data/{name}.npz", name=DATA_EMBEDDED),

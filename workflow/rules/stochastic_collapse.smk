# Stochastic collapse (Chen, Kunin, Yamamura & Ganguli, NeurIPS 2023, arXiv:2306.04251).
# quartic / neuron: Euler-Maruyama SDEs (Figs. 1-2); linear: teacher-student modes (Fig. 5);
# proxy / large_lr: tanh teacher-student proxy of the deep-network figures (Figs. 3-4, 6);
# deep: the deep networks themselves (MLP on CPU, VGG-16 / ResNet-18 at paper scale; Fig. 4, reported, not
# claimed), one job per `deep.members_per_job` networks, gathered into deep.npz;
# notebooks/stochastic_collapse.py draws and checks.
from spdl.studies import stochastic_collapse as _sc

SC_FIGURES = [
    "fig1_quartic",
    "fig2_neuron",
    "fig3_linear_teacher_student",
    "fig4_independent_neurons",
    "fig5_large_lr",
]
SC = config["stochastic_collapse"]
SC_DEEP = SC["deep"]
SC_DEEP_MEMBERS = _sc.deep_members(SC_DEEP)
SC_DEEP_JOBS = _sc.deep_jobs(SC_DEEP)
# what every network of the deep sweep is trained with (a job's own networks come as `members`)
SC_DEEP_TRAINING = (
    "dataset",
    "mlp",
    "batch",
    "steps",
    "momentum",
    "weight_decay",
    "warmup_steps",
    "augment",
    "target_mass_norm",
    "n_records",
    "seed",
)

register_study(
    "stochastic_collapse",
    figures=SC_FIGURES,
    inputs={
        k: f"results/stochastic_collapse/{k}.npz" for k in ("quartic", "neuron", "linear", "proxy", "large_lr", "deep")
    },
    params={},  # the notebook reads only the results files
    # cross-field checks, and the deep sweep's against its data set (architecture, batch, pooling, a set
    # data.<set>.path), before any job. A null data.cifar10.path passes (dry runs show the DAG): the data job
    # then stops and names the key.
    checks=lambda c: _sc.check_config(c, config["data"], "results/data"),
)


rule stochastic_collapse_quartic:
    """Fig. 1: quartic toy SDE, paths, collapse probability vs zeta, log-growth near 0."""
    output:
        "results/stochastic_collapse/quartic.npz",
    log:
        log_path("stochastic_collapse", "quartic"),
    benchmark:
        benchmark_path("stochastic_collapse", "quartic")
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=1500,
        runtime=10,
    params:
        quartic=SC["quartic"],
    script:
        "../scripts/stochastic_collapse_quartic.py"


rule stochastic_collapse_neuron:
    """Fig. 2: single tanh neuron label-noise SDE, collapse probability vs eta, log-growth near 0."""
    output:
        "results/stochastic_collapse/neuron.npz",
    log:
        log_path("stochastic_collapse", "neuron"),
    benchmark:
        benchmark_path("stochastic_collapse", "neuron")
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=1500,
        runtime=15,
    params:
        neuron=SC["neuron"],
    script:
        "../scripts/stochastic_collapse_neuron.py"


rule stochastic_collapse_linear:
    """Fig. 5: linear teacher-student modes under label noise, lr drop, losses and singular values."""
    output:
        "results/stochastic_collapse/linear.npz",
    log:
        log_path("stochastic_collapse", "linear"),
    benchmark:
        benchmark_path("stochastic_collapse", "linear")
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=1500,
        runtime=10,
    params:
        linear_ts=SC["linear_ts"],
    script:
        "../scripts/stochastic_collapse_linear.py"


rule stochastic_collapse_proxy:
    """Figs. 3-4 proxy: independent-neuron fraction over lr x label noise x seeds."""
    output:
        "results/stochastic_collapse/proxy.npz",
    log:
        log_path("stochastic_collapse", "proxy"),
    benchmark:
        benchmark_path("stochastic_collapse", "proxy")
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=1500,
        runtime=15,
    params:
        proxy=SC["proxy"],
        net=SC["net"],
        metric=SC["metric"],
    script:
        "../scripts/stochastic_collapse_proxy.py"


rule stochastic_collapse_large_lr:
    """Fig. 6 proxy: large-lr phase of varying length, drop, fine-tune; fraction and test error."""
    output:
        "results/stochastic_collapse/large_lr.npz",
    log:
        log_path("stochastic_collapse", "large_lr"),
    benchmark:
        benchmark_path("stochastic_collapse", "large_lr")
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=1500,
        runtime=10,
    params:
        large_lr=SC["large_lr"],
        net=SC["net"],
        metric=SC["metric"],
    script:
        "../scripts/stochastic_collapse_large_lr.py"


rule stochastic_collapse_deep:
    """Fig. 4 deep networks: one job of the sweep arch x lr x label noise x seeds (MLP members batched together,
    VGG-16 / ResNet-18 one at a time on the device); independent-neuron fraction per layer, accuracy, divergence."""
    input:
        data=f"results/data/{SC_DEEP['dataset']}.npz",
    output:
        "results/stochastic_collapse/deep/{job}.npz",
    log:
        log_path("stochastic_collapse", "deep_{job}"),
    benchmark:
        benchmark_path("stochastic_collapse", "deep_{job}")
    wildcard_constraints:
        job="|".join(SC_DEEP_JOBS),
    conda:
        CONDA_ENV
    threads: 1
    resources:
        **GPU,
        mem_mb=lambda w: 2000 if w.job.startswith("mlp_") else 16000,
        # convnets: about 20 ms per step and network on a GPU, with margin
        runtime=lambda w: (
            30 if w.job.startswith("mlp_") else max(30, SC_DEEP["steps"] * SC_DEEP["members_per_job"] // 3000)
        ),
    params:
        members=lambda w: [m for m in SC_DEEP_MEMBERS if m["job"] == w.job],  # this job's networks only
        training={k: SC_DEEP[k] for k in SC_DEEP_TRAINING},
        metric=SC["metric"],
        device=DEVICE,
    script:
        "../scripts/stochastic_collapse_deep.py"


rule stochastic_collapse_deep_merge:
    """Fig. 4 deep networks: the sweep's jobs gathered on the grid arch x lr x label noise x seed (x layer)."""
    input:
        jobs=expand("results/stochastic_collapse/deep/{job}.npz", job=SC_DEEP_JOBS),
    output:
        "results/stochastic_collapse/deep.npz",
    log:
        log_path("stochastic_collapse", "deep_merge"),
    benchmark:
        benchmark_path("stochastic_collapse", "deep_merge")
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        deep=SC_DEEP,
        metric=SC["metric"],
    script:
        "../scripts/stochastic_collapse_deep_merge.py"

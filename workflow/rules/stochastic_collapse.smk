# Stochastic collapse (Chen, Kunin, Yamamura & Ganguli, NeurIPS 2023, arXiv:2306.04251).
# quartic / neuron: Euler-Maruyama SDEs (Figs. 1-2); linear: teacher-student modes (Fig. 5);
# proxy / large_lr: tanh teacher-student proxy of the deep-network figures (Figs. 3-4, 6);
# notebooks/stochastic_collapse.py draws and checks.
from spdl.studies.stochastic_collapse import check_config as _sc_check

SC_FIGURES = [
    "fig1_quartic",
    "fig2_neuron",
    "fig3_linear_teacher_student",
    "fig4_independent_neurons",
    "fig5_large_lr",
]
SC = config["stochastic_collapse"]

register_study(
    "stochastic_collapse",
    figures=SC_FIGURES,
    inputs={k: f"results/stochastic_collapse/{k}.npz" for k in ("quartic", "neuron", "linear", "proxy", "large_lr")},
    params={},  # the notebook reads only the results files
    checks=_sc_check,
)


rule stochastic_collapse_quartic:
    """Fig. 1: quartic toy SDE, paths, collapse probability vs zeta, log-growth near 0."""
    output:
        "results/stochastic_collapse/quartic.npz",
    params:
        quartic=SC["quartic"],
    log:
        log_path("stochastic_collapse", "quartic"),
    benchmark:
        benchmark_path("stochastic_collapse", "quartic")
    threads: 1
    conda:
        CONDA_ENV
    resources:
        mem_mb=1500,
        runtime=10,
    script:
        "../scripts/stochastic_collapse_quartic.py"


rule stochastic_collapse_neuron:
    """Fig. 2: single tanh neuron label-noise SDE, collapse probability vs eta, log-growth near 0."""
    output:
        "results/stochastic_collapse/neuron.npz",
    params:
        neuron=SC["neuron"],
    log:
        log_path("stochastic_collapse", "neuron"),
    benchmark:
        benchmark_path("stochastic_collapse", "neuron")
    threads: 1
    conda:
        CONDA_ENV
    resources:
        mem_mb=1500,
        runtime=15,
    script:
        "../scripts/stochastic_collapse_neuron.py"


rule stochastic_collapse_linear:
    """Fig. 5: linear teacher-student modes under label noise, lr drop, losses and singular values."""
    output:
        "results/stochastic_collapse/linear.npz",
    params:
        linear_ts=SC["linear_ts"],
    log:
        log_path("stochastic_collapse", "linear"),
    benchmark:
        benchmark_path("stochastic_collapse", "linear")
    threads: 1
    conda:
        CONDA_ENV
    resources:
        mem_mb=1500,
        runtime=10,
    script:
        "../scripts/stochastic_collapse_linear.py"


rule stochastic_collapse_proxy:
    """Figs. 3-4 proxy: independent-neuron fraction over lr x label noise x seeds."""
    output:
        "results/stochastic_collapse/proxy.npz",
    params:
        proxy=SC["proxy"],
        net=SC["net"],
        metric=SC["metric"],
    log:
        log_path("stochastic_collapse", "proxy"),
    benchmark:
        benchmark_path("stochastic_collapse", "proxy")
    threads: 1
    conda:
        CONDA_ENV
    resources:
        mem_mb=1500,
        runtime=15,
    script:
        "../scripts/stochastic_collapse_proxy.py"


rule stochastic_collapse_large_lr:
    """Fig. 6 proxy: large-lr phase of varying length, drop, fine-tune; fraction and test error."""
    output:
        "results/stochastic_collapse/large_lr.npz",
    params:
        large_lr=SC["large_lr"],
        net=SC["net"],
        metric=SC["metric"],
    log:
        log_path("stochastic_collapse", "large_lr"),
    benchmark:
        benchmark_path("stochastic_collapse", "large_lr")
    threads: 1
    conda:
        CONDA_ENV
    resources:
        mem_mb=1500,
        runtime=10,
    script:
        "../scripts/stochastic_collapse_large_lr.py"

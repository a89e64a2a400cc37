# Deep linear networks: generalization dynamics and transfer
# (Lampinen & Ganguli, ICLR 2019; Saxe, McClelland & Ganguli, ICLR 2014).
# Simulations -> results/deep_linear/*.npz -> notebooks/deep_linear.py -> figures + claims.

DEEP_LINEAR_FIGURES = [
    "fig1_mode_dynamics",
    "fig2_spiked_spectrum",
    "fig3_dynamics_1hidden",
    "fig4_dynamics_3hidden",
    "fig5_transfer",
    "fig6_varying_p",
    "fig7_nongradient_optimum",
]
DEEP_LINEAR_HIDDEN = [str(d["hidden_layers"]) for d in config["deep_linear"]["dynamics"]["depths"]]

register_study("deep_linear", DEEP_LINEAR_FIGURES)


wildcard_constraints:
    hidden="|".join(DEEP_LINEAR_HIDDEN),


rule deep_linear_modes:
    """Fig. 1: training-aligned students on a diagonal teacher, one mode per singular value."""
    output:
        "results/deep_linear/modes.npz",
    params:
        cfg=config["deep_linear"]["modes"],
    log:
        log_path("deep_linear", "modes"),
    benchmark:
        benchmark_path("deep_linear", "modes")
    threads: 1
    conda:
        CONDA_ENV
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../scripts/deep_linear_modes.py"


rule deep_linear_spectrum:
    """Fig. 2: singular values and overlaps of spiked random matrices."""
    output:
        "results/deep_linear/spectrum.npz",
    params:
        cfg=config["deep_linear"]["spectrum"],
        noise_std=config["deep_linear"]["noise_std"],
    log:
        log_path("deep_linear", "spectrum"),
    benchmark:
        benchmark_path("deep_linear", "spectrum")
    threads: MAX_THREADS
    conda:
        CONDA_ENV
    resources:
        mem_mb=2000,
        runtime=20,
    script:
        "../scripts/deep_linear_spectrum.py"


rule deep_linear_dynamics:
    """Figs. 3, 4, 7: TA and random students trained by full-batch GD, batched over seeds and SNRs."""
    output:
        "results/deep_linear/dynamics_h{hidden}.npz",
    params:
        cfg=config["deep_linear"]["dynamics"],
        noise_std=config["deep_linear"]["noise_std"],
    log:
        log_path("deep_linear", "dynamics_h{hidden}"),
    benchmark:
        benchmark_path("deep_linear", "dynamics_h{hidden}")
    threads: MAX_THREADS
    conda:
        CONDA_ENV
    resources:
        mem_mb=4000,
        runtime=60,
    script:
        "../scripts/deep_linear_dynamics.py"


rule deep_linear_transfer:
    """Fig. 5: task A trained alone and jointly with task B at input alignment q."""
    output:
        "results/deep_linear/transfer.npz",
    params:
        cfg=config["deep_linear"]["transfer"],
        noise_std=config["deep_linear"]["noise_std"],
    log:
        log_path("deep_linear", "transfer"),
    benchmark:
        benchmark_path("deep_linear", "transfer")
    threads: MAX_THREADS
    conda:
        CONDA_ENV
    resources:
        mem_mb=4000,
        runtime=60,
    script:
        "../scripts/deep_linear_transfer.py"


rule deep_linear_varying_p:
    """Fig. 6: training-aligned students with P samples, P >= N1."""
    output:
        "results/deep_linear/varying_p.npz",
    params:
        cfg=config["deep_linear"]["varying_p"],
        noise_std=config["deep_linear"]["noise_std"],
    log:
        log_path("deep_linear", "varying_p"),
    benchmark:
        benchmark_path("deep_linear", "varying_p")
    threads: MAX_THREADS
    conda:
        CONDA_ENV
    resources:
        mem_mb=4000,
        runtime=60,
    script:
        "../scripts/deep_linear_varying_p.py"


rule deep_linear_notebook:
    """Loads the simulations, draws every figure next to its theory, checks the claims."""
    input:
        notebook=notebook_source("deep_linear"),
        modes="results/deep_linear/modes.npz",
        spectrum="results/deep_linear/spectrum.npz",
        **{f"dynamics_h{h}": f"results/deep_linear/dynamics_h{h}.npz" for h in DEEP_LINEAR_HIDDEN},
        transfer="results/deep_linear/transfer.npz",
        varying_p="results/deep_linear/varying_p.npz",
    output:
        ipynb="results/notebooks/deep_linear.ipynb",
        html=report("results/notebooks/deep_linear.html", category="deep_linear", subcategory="notebook"),
        claims="results/claims/deep_linear.json",
        **figure_outputs("deep_linear", DEEP_LINEAR_FIGURES),
    params:
        study="deep_linear",
    log:
        log_path("deep_linear", "notebook"),
    benchmark:
        benchmark_path("deep_linear", "notebook")
    threads: 1
    conda:
        CONDA_ENV
    resources:
        mem_mb=3000,
        runtime=20,
    script:
        "../scripts/run_notebook.py"


rule deep_linear:
    """Target: every figure and claim of the deep linear study."""
    input:
        study_targets("deep_linear"),


for _fig in DEEP_LINEAR_FIGURES:

    rule:
        name:
            f"deep_linear_{_fig.split('_')[0]}"
        input:
            [figure_path("deep_linear", _fig, ext) for ext in ("png", "pdf", "csv")],

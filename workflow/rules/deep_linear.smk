# Deep linear networks: generalization dynamics and transfer
# (Lampinen & Ganguli, ICLR 2019; Saxe, McClelland & Ganguli, ICLR 2014).
# Simulations -> results/deep_linear/*.npz -> notebooks/deep_linear.py -> figures + claims.
from spdl.studies.deep_linear_checks import check_config as deep_linear_checks

DEEP_LINEAR_FIGURES = [
    "fig1_mode_dynamics",
    "fig2_spiked_spectrum",
    "fig3_dynamics_1hidden",
    "fig4_dynamics_3hidden",
    "fig5_transfer",
    "fig6_varying_p",
    "fig7_nongradient_optimum",
    "fig8_random_labels",
    "fig9_network_size",
]
DL = config["deep_linear"]
DL_DEPTHS = {str(d["hidden_layers"]): d for d in DL["dynamics"]["depths"]}

register_study(
    "deep_linear",
    figures=DEEP_LINEAR_FIGURES,
    inputs=dict(
        modes="results/deep_linear/modes.npz",
        spectrum="results/deep_linear/spectrum.npz",
        **{f"dynamics_h{h}": f"results/deep_linear/dynamics_h{h}.npz" for h in DL_DEPTHS},
        transfer="results/deep_linear/transfer.npz",
        varying_p="results/deep_linear/varying_p.npz",
        random_labels="results/deep_linear/random_labels.npz",
        network_size="results/deep_linear/network_size.npz",
    ),
    # what only the notebook reads; every other fact comes from the results files
    params={"modes": {"wave_times": DL["modes"]["wave_times"]}, "optimum": DL["optimum"]},
    checks=deep_linear_checks,
)


rule deep_linear_modes:
    """Fig. 1: training-aligned students on a diagonal teacher, one mode per singular value."""
    output:
        "results/deep_linear/modes.npz",
    log:
        log_path("deep_linear", "modes"),
    benchmark:
        benchmark_path("deep_linear", "modes")
    conda:
        CONDA_ENV
    threads: 1
    resources:
        **GPU,
        mem_mb=1000,
        runtime=10,
    params:
        **{k: DL["modes"][k] for k in ("shat", "wave_shat", "eps", "lr", "t_max")},
        device=DEVICE,
    script:
        "../scripts/deep_linear_modes.py"


rule deep_linear_spectrum:
    """Fig. 2: singular values and overlaps of spiked random matrices."""
    output:
        "results/deep_linear/spectrum.npz",
    log:
        log_path("deep_linear", "spectrum"),
    benchmark:
        benchmark_path("deep_linear", "spectrum")
    conda:
        CONDA_ENV
    threads: MAX_THREADS
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        **DL["spectrum"],
        noise_std=DL["noise_std"],
    script:
        "../scripts/deep_linear_spectrum.py"


rule deep_linear_dynamics:
    """Figs. 3, 4, 7: TA and random students trained by full-batch GD, batched over seeds and SNRs."""
    output:
        "results/deep_linear/dynamics_h{hidden}.npz",
    log:
        log_path("deep_linear", "dynamics_h{hidden}"),
    benchmark:
        benchmark_path("deep_linear", "dynamics_h{hidden}")
    wildcard_constraints:
        hidden="|".join(DL_DEPTHS),
    conda:
        CONDA_ENV
    threads: MAX_THREADS
    resources:
        **GPU,
        mem_mb=4000,
        runtime=60,
    params:
        **{k: DL["dynamics"][k] for k in ("n1", "n2", "n3", "snr", "rank3_profile", "seeds", "n_records")},
        depth=lambda w: DL_DEPTHS[w.hidden],
        noise_std=DL["noise_std"],
        device=DEVICE,
    script:
        "../scripts/deep_linear_dynamics.py"


rule deep_linear_transfer:
    """Fig. 5: task A trained alone and jointly with task B at input alignment q."""
    output:
        "results/deep_linear/transfer.npz",
    log:
        log_path("deep_linear", "transfer"),
    benchmark:
        benchmark_path("deep_linear", "transfer")
    conda:
        CONDA_ENV
    threads: MAX_THREADS
    resources:
        **GPU,
        mem_mb=4000,
        runtime=60,
    params:
        cfg=DL["transfer"],
        noise_std=DL["noise_std"],
        device=DEVICE,
    script:
        "../scripts/deep_linear_transfer.py"


rule deep_linear_varying_p:
    """Fig. 6: training-aligned students with P samples, above N1 (whitened) and below (frozen subspace)."""
    output:
        "results/deep_linear/varying_p.npz",
    log:
        log_path("deep_linear", "varying_p"),
    benchmark:
        benchmark_path("deep_linear", "varying_p")
    conda:
        CONDA_ENV
    threads: MAX_THREADS
    resources:
        **GPU,
        mem_mb=4000,
        runtime=60,
    params:
        cfg=DL["varying_p"],
        noise_std=DL["noise_std"],
        device=DEVICE,
    script:
        "../scripts/deep_linear_varying_p.py"


rule deep_linear_random_labels:
    """Fig. 8: random students fit real and randomized targets (randomizing slows training)."""
    output:
        "results/deep_linear/random_labels.npz",
    log:
        log_path("deep_linear", "random_labels"),
    benchmark:
        benchmark_path("deep_linear", "random_labels")
    conda:
        CONDA_ENV
    threads: MAX_THREADS
    resources:
        **GPU,
        mem_mb=2000,
        runtime=20,
    params:
        cfg=DL["random_labels"],
        noise_std=DL["noise_std"],
        device=DEVICE,
    script:
        "../scripts/deep_linear_random_labels.py"


rule deep_linear_network_size:
    """Fig. 9: optimally stopped test error of random students of several widths on the same tasks."""
    output:
        "results/deep_linear/network_size.npz",
    log:
        log_path("deep_linear", "network_size"),
    benchmark:
        benchmark_path("deep_linear", "network_size")
    conda:
        CONDA_ENV
    threads: MAX_THREADS
    resources:
        **GPU,
        mem_mb=2000,
        runtime=30,
    params:
        cfg=DL["network_size"],
        noise_std=DL["noise_std"],
        device=DEVICE,
    script:
        "../scripts/deep_linear_network_size.py"

# Hessian spectra at SGD minima and Entropy-SGD (Chaudhari et al., ICLR 2017, arXiv:1611.01838;
# Deep Relaxation, Res. Math. Sci. 2018, arXiv:1704.04932).
# cartoon (local entropy, viscous HJ) | quadratic (SGLD vs closed form) | spectrum (exact Hessian + SLQ at
# SGD/Adam minima) | compare (Entropy-SGD vs SGD/Adam at matched effective epochs)
# -> notebooks/entropy_sgd_hessian.py draws and checks.
from spdl.studies.entropy_sgd_hessian_checks import check_config as esh_check_config

ESH_FIGURES = [
    "fig1_hessian_spectrum",
    "fig2_local_entropy",
    "fig3_entropy_sgd",
    "fig4_quadratic",
]
ESH = config["entropy_sgd_hessian"]
ESH_DATA = f"results/data/{ESH['dataset']}.npz"

register_study(
    "entropy_sgd_hessian",
    figures=ESH_FIGURES,
    inputs={
        "cartoon": "results/entropy_sgd_hessian/cartoon.npz",
        "quadratic": "results/entropy_sgd_hessian/quadratic.npz",
        "spectrum": "results/entropy_sgd_hessian/spectrum.npz",
        "sweep": "results/entropy_sgd_hessian/sweep.npz",
        "compare": "results/entropy_sgd_hessian/compare.npz",
    },
    params={},  # the notebook reads every fact from the results files
    checks=esh_check_config,
)


rule entropy_sgd_hessian_cartoon:
    """Fig. 2: -F(x, gamma) of a 1-D landscape by quadrature and by the viscous HJ PDE (Cole-Hopf, direct)."""
    output:
        "results/entropy_sgd_hessian/cartoon.npz",
    log:
        log_path("entropy_sgd_hessian", "cartoon"),
    benchmark:
        benchmark_path("entropy_sgd_hessian", "cartoon")
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        cartoon=ESH["cartoon"],
    script:
        "../scripts/entropy_sgd_hessian_cartoon.py"


rule entropy_sgd_hessian_quadratic:
    """Fig. 4: SGLD estimates of <x'> and the Entropy-SGD step on a quadratic vs (A + gamma I)^-1."""
    output:
        "results/entropy_sgd_hessian/quadratic.npz",
    log:
        log_path("entropy_sgd_hessian", "quadratic"),
    benchmark:
        benchmark_path("entropy_sgd_hessian", "quadratic")
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        quadratic=ESH["quadratic"],
    script:
        "../scripts/entropy_sgd_hessian_quadratic.py"


rule entropy_sgd_hessian_spectrum:
    """Fig. 1: exact Hessian spectra (and SLQ) at minima of SGD and Adam; SLQ of a ~50k-parameter net."""
    input:
        data=ESH_DATA,
    output:
        "results/entropy_sgd_hessian/spectrum.npz",
    log:
        log_path("entropy_sgd_hessian", "spectrum"),
    benchmark:
        benchmark_path("entropy_sgd_hessian", "spectrum")
    conda:
        CONDA_ENV
    threads: 1
    resources:
        **GPU,
        mem_mb=4000,
        runtime=30,
    params:
        spectrum=ESH["spectrum"],
        device=DEVICE,
    script:
        "../scripts/entropy_sgd_hessian_spectrum.py"


rule entropy_sgd_hessian_sweep:
    """Fig. 1: exact Hessian spectra at SGD minima against hidden width and batch size (all settings x seeds, one job)."""
    input:
        data=ESH_DATA,
    output:
        "results/entropy_sgd_hessian/sweep.npz",
    log:
        log_path("entropy_sgd_hessian", "sweep"),
    benchmark:
        benchmark_path("entropy_sgd_hessian", "sweep")
    conda:
        CONDA_ENV
    threads: 1
    resources:
        **GPU,
        mem_mb=3000,
        runtime=30,
    params:
        sweep=ESH["sweep"],
        hvp_batch=ESH["spectrum"]["hvp_batch"],
        device=DEVICE,
    script:
        "../scripts/entropy_sgd_hessian_sweep.py"


rule entropy_sgd_hessian_compare:
    """Fig. 3: Entropy-SGD vs SGD and Adam at matched effective epochs; top eigenvalue and trace at the end."""
    input:
        data=ESH_DATA,
    output:
        "results/entropy_sgd_hessian/compare.npz",
    log:
        log_path("entropy_sgd_hessian", "compare"),
    benchmark:
        benchmark_path("entropy_sgd_hessian", "compare")
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=3000,
        runtime=30,
    params:
        compare=ESH["compare"],
    script:
        "../scripts/entropy_sgd_hessian_compare.py"

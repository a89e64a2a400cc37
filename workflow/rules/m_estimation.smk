# Optimal M-estimation in high dimensions: replica theory vs simulation
# (Advani & Ganguli, PRX 2016, arXiv:1601.04650; NeurIPS 2016, arXiv:1609.07060).
# Theory curves + simulations -> results/m_estimation/*.npz -> notebooks/m_estimation.py -> figures + claims.

from spdl.studies.m_estimation import check_config as m_estimation_checks

M_ESTIMATION_FIGURES = ["fig1_unregularised", "fig2_optimal_loss", "fig3_regularised"]
ME = config["m_estimation"]

register_study(
    "m_estimation",
    figures=M_ESTIMATION_FIGURES,
    inputs={
        "theory": "results/m_estimation/theory.npz",
        "unregularised": "results/m_estimation/unregularised.npz",
        "regularised": "results/m_estimation/regularised.npz",
    },
    params={},  # every fact the notebook needs is stored in the results files
    checks=m_estimation_checks,
    mem_mb=2000,
    runtime=10,
)


rule m_estimation_theory:
    """Figs. 1-3: replica curves (1-D quadrature and root finding), optimal losses, data saving."""
    output:
        "results/m_estimation/theory.npz",
    log:
        log_path("m_estimation", "theory"),
    benchmark:
        benchmark_path("m_estimation", "theory")
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        unregularised=ME["theory"]["unregularised"],
        losses=ME["theory"]["losses"],
        regularised=ME["theory"]["regularised"],
        check_alphas=ME["unregularised"]["alphas"],
        reg_check_alphas=ME["regularised"]["alphas"],
    script:
        "../scripts/m_estimation_theory.py"


rule m_estimation_unregularised:
    """Fig. 1: LS (lstsq), LAD (HiGHS LP) and the optimal loss (L-BFGS) on the same draws."""
    output:
        "results/m_estimation/unregularised.npz",
    log:
        log_path("m_estimation", "unregularised"),
    benchmark:
        benchmark_path("m_estimation", "unregularised")
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        cfg=ME["unregularised"],
    script:
        "../scripts/m_estimation_unregularised.py"


rule m_estimation_regularised:
    """Fig. 3: MAP (LASSO by batched FISTA) and ridge (closed form) on batched draws."""
    output:
        "results/m_estimation/regularised.npz",
    log:
        log_path("m_estimation", "regularised"),
    benchmark:
        benchmark_path("m_estimation", "regularised")
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=15,
    params:
        cfg=ME["regularised"],
    script:
        "../scripts/m_estimation_regularised.py"

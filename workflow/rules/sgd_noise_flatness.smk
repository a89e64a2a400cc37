# SGD noise and flatness (Feng & Tu, PNAS 2021; Yang, Tang & Tu, PRL 2023).
# pretrain_b{batch} (lr x seeds into the exploration phase) -> window_b{batch} (weights every step,
# PCA, flatness); langevin = the equilibrium control (layer Langevin, analysed along the SGD PCs); valley = the PRL
# toy model;
# notebooks/sgd_noise_flatness.py draws and checks.
from spdl.studies.sgd_noise_flatness_checks import check_config as sgd_noise_flatness_checks

SNF_FIGURES = [
    "fig1_learning_curve",
    "fig2_pca_spectrum",
    "fig3_loss_profiles",
    "fig4_variance_flatness",
    "fig5_langevin_control",
    "fig6_temperature",
    "fig7_valley_drift",
    "fig8_valley_stationary",
    "fig9_flat_time",
    "fig10_critical_lr",
]
SNF_CFG = config["sgd_noise_flatness"]
SNF_DATA = f"results/data/{SNF_CFG['dataset']}.npz"
SNF_BATCHES = [str(b) for b in SNF_CFG["batch_size"]]
SNF_WINDOWS = {f"sgd_b{b}": f"results/sgd_noise_flatness/sgd_b{b}.npz" for b in SNF_BATCHES}
# the analysis of a recorded window (spdl.sgd_noise_flatness.analyse_ensemble): SGD windows and the control alike
SNF_ANALYSIS = {k: SNF_CFG[k] for k in ("layer", "n_pcs", "profile_pcs", "profile_halfwidth", "profile_points")}

register_study(
    "sgd_noise_flatness",
    figures=SNF_FIGURES,
    inputs=dict(
        **SNF_WINDOWS,
        pretrain=f"results/sgd_noise_flatness/pretrain_b{SNF_BATCHES[0]}.npz",
        langevin="results/sgd_noise_flatness/langevin.npz",
        valley="results/sgd_noise_flatness/valley.npz",
    ),
    # the notebook reads no config key: every fact (settings, sizes, fit_pcs, valley runs) comes from the results files
    params={},
    # cross-field and data-size checks (layer index, PCs, batch vs training set), before any job
    checks=lambda c: sgd_noise_flatness_checks(c, config["data"], "results/data"),
)


rule sgd_noise_flatness_pretrain:
    """Train every lr x seed at one batch size into the exploration phase (checkpointed)."""
    input:
        data=SNF_DATA,
    output:
        "results/sgd_noise_flatness/pretrain_b{batch}.npz",
    log:
        log_path("sgd_noise_flatness", "pretrain_b{batch}"),
    benchmark:
        benchmark_path("sgd_noise_flatness", "pretrain_b{batch}")
    wildcard_constraints:
        batch="|".join(SNF_BATCHES),
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        **{k: SNF_CFG[k] for k in ("n_train", "hidden", "lr", "seeds", "pretrain_steps", "n_records")},
    script:
        "../scripts/sgd_noise_flatness_pretrain.py"


rule sgd_noise_flatness_window:
    """Figs. 1-4, 6: record the analysed layer every step; PCA, flatness, temperatures."""
    input:
        data=SNF_DATA,
        pretrain="results/sgd_noise_flatness/pretrain_b{batch}.npz",
    output:
        "results/sgd_noise_flatness/sgd_b{batch}.npz",
    log:
        log_path("sgd_noise_flatness", "sgd_b{batch}"),
    benchmark:
        benchmark_path("sgd_noise_flatness", "sgd_b{batch}")
    wildcard_constraints:
        batch="|".join(SNF_BATCHES),
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        **{k: SNF_CFG[k] for k in ("n_train", "hidden", "window_steps", "n_records")},
        analysis=SNF_ANALYSIS,
    script:
        "../scripts/sgd_noise_flatness_window.py"


rule sgd_noise_flatness_langevin:
    """Fig. 5: the equilibrium control, the analysed layer alone under full-batch GD + isotropic noise at the SGD
    temperature of the analysed directions, analysed along the SGD PCs of the same seed."""
    input:
        data=SNF_DATA,
        sgd=f"results/sgd_noise_flatness/sgd_b{SNF_BATCHES[0]}.npz",
    output:
        "results/sgd_noise_flatness/langevin.npz",
    log:
        log_path("sgd_noise_flatness", "langevin"),
    benchmark:
        benchmark_path("sgd_noise_flatness", "langevin")
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=3000,
        runtime=30,
    params:
        **{k: SNF_CFG[k] for k in ("n_train", "hidden", "langevin", "fit_pcs")},
        lr=SNF_CFG["lr"][0],  # the main setting's
    script:
        "../scripts/sgd_noise_flatness_langevin.py"


rule sgd_noise_flatness_valley:
    """Figs. 7-10: the PRL valley model, SGD vs isotropic noise, stationary law, flat time, critical lr."""
    output:
        "results/sgd_noise_flatness/valley.npz",
    log:
        log_path("sgd_noise_flatness", "valley"),
    benchmark:
        benchmark_path("sgd_noise_flatness", "valley")
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        **SNF_CFG["valley"],
    script:
        "../scripts/sgd_noise_flatness_valley.py"

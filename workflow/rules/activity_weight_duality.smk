# Activity-weight duality (Feng, Zhang & Tu, NMI 2023).
# One training job per (batch size, training set): every setting of the one-at-a-time sweeps that
# shares them, x seeds, in one ensemble -> results/activity_weight_duality/job_<job>.npz (trained to
# the fit criterion, then analysed); the SSGD/DPSGD comparison; notebooks/activity_weight_duality.py.
from spdl.studies import activity_weight_duality_sweeps as _awd
from spdl.studies.activity_weight_duality_checks import check_config as awd_checks

AWD_FIGURES = [
    "fig1_duality_exactness",
    "fig2_sharpness",
    "fig3_size",
    "fig4_correlation",
    "fig5_gap_estimate",
    "fig6_hyperparameters",
    "fig7_factors",
    "fig8_multilearner",
]
AWD_CFG = config["activity_weight_duality"]
AWD_DATA = f"results/data/{AWD_CFG['dataset']}.npz"
AWD_SETTINGS = _awd.settings(AWD_CFG)
AWD_JOBS = {f"job_{j}": f"results/activity_weight_duality/job_{j}.npz" for j in _awd.jobs(AWD_CFG)}
# what every network of the study is trained to and analysed with
AWD_TRAINING = ("split_seed", "hidden", "n_test", "stop", "sharp_directions", "hessian")


register_study(
    "activity_weight_duality",
    figures=AWD_FIGURES,
    inputs=dict(
        **AWD_JOBS,
        multilearner="results/activity_weight_duality/multilearner.npz",
    ),
    # the notebook reads no config: settings, sweeps, seeds and stop rule come from the results files
    params={},
    # cross-field and data-size checks (every setting's batch vs its training set, samples per class), before any job
    checks=lambda c: awd_checks(c, config["data"], "results/data"),
)


rule activity_weight_duality_train:
    """Figs. 1-7: one ensemble (settings x seeds) trained to the fit criterion, then analysed."""
    input:
        data=AWD_DATA,
    output:
        "results/activity_weight_duality/job_{job}.npz",
    log:
        log_path("activity_weight_duality", "train_{job}"),
    benchmark:
        benchmark_path("activity_weight_duality", "train_{job}")
    wildcard_constraints:
        job="|".join(j.replace(".", r"\.") for j in _awd.jobs(AWD_CFG)),
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        **{k: AWD_CFG[k] for k in AWD_TRAINING + ("seeds", "penalty_epochs")},
        settings=lambda w: [s for s in AWD_SETTINGS if s["job"] == w.job],  # this job's settings only
    script:
        "../scripts/activity_weight_duality_train.py"


rule activity_weight_duality_multilearner:
    """Fig. 8: K learners, synchronous averaging (SSGD) vs ring gossip (DPSGD), analysed."""
    input:
        data=AWD_DATA,
    output:
        "results/activity_weight_duality/multilearner.npz",
    log:
        log_path("activity_weight_duality", "multilearner"),
    benchmark:
        benchmark_path("activity_weight_duality", "multilearner")
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        **{k: AWD_CFG[k] for k in AWD_TRAINING + ("multilearner",)},
        **{k: AWD_CFG["base"][k] for k in ("n_per_class", "init_scale")},  # the base setting's data and init
    script:
        "../scripts/activity_weight_duality_multilearner.py"

# Phases of SGD learning with mislabeled data (Feng & Tu, MLST 2021).
# One ensemble per rho (seeds x weight decays) -> results/mislabeled_phases/sweep_rho*.npz;
# cleaning retrains on the phase-II-cleaned sets; notebooks/mislabeled_phases.py draws and checks.
from spdl.studies.mislabeled_phases_checks import check_config as mislabeled_phases_checks

MISLABELED_FIGURES = [
    "fig1_learning_curves",
    "fig2_order_parameters",
    "fig3_phase_diagram",
    "fig4_control_diagram",
    "fig5_loss_separation",
    "fig6_cleaning",
]
MP = config["mislabeled_phases"]
MISLABELED_RHO = [f"{r:g}" for r in MP["rho"]]
MISLABELED_DATA = f"results/data/{MP['dataset']}.npz"
# what every training of the study reads: the data set drawn and the network and SGD that fit it
MP_TRAINING = ("split_seed", "n_correct", "hidden", "lr", "batch_size", "seeds")
MISLABELED_SWEEPS = {f"sweep_rho{r}": f"results/mislabeled_phases/sweep_rho{r}.npz" for r in MISLABELED_RHO}

register_study(
    "mislabeled_phases",
    figures=MISLABELED_FIGURES,
    inputs=dict(
        **MISLABELED_SWEEPS,
        cleaning="results/mislabeled_phases/cleaning.npz",
        speedup="results/mislabeled_phases/speedup.npz",
    ),
    # what only the notebook reads; every other fact comes from the results files
    params={"curves_rho": MP["curves_rho"]},
    # cross-field and data-size checks (batch vs training set, rho list, curves_rho), before any job
    checks=lambda c: mislabeled_phases_checks(c, config["data"], "results/data"),
)


rule mislabeled_phases_sweep:
    """Figs. 1-5: all seeds and weight decays at one rho trained together, order parameters on a log schedule."""
    input:
        data=MISLABELED_DATA,
    output:
        "results/mislabeled_phases/sweep_rho{rho}.npz",
    log:
        log_path("mislabeled_phases", "sweep_rho{rho}"),
    benchmark:
        benchmark_path("mislabeled_phases", "sweep_rho{rho}")
    wildcard_constraints:
        rho="|".join(r.replace(".", r"\.") for r in MISLABELED_RHO),
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=3000,
        runtime=30,
    params:
        **{k: MP[k] for k in MP_TRAINING + ("epochs", "control", "n_records", "n_minibatches")},
    script:
        "../scripts/mislabeled_phases_sweep.py"


rule mislabeled_phases_cleaning:
    """Fig. 6: stop inside the detected phase II, drop the highest-loss samples, retrain from scratch."""
    input:
        **dict(data=MISLABELED_DATA, **MISLABELED_SWEEPS),
    output:
        "results/mislabeled_phases/cleaning.npz",
    log:
        log_path("mislabeled_phases", "cleaning"),
    benchmark:
        benchmark_path("mislabeled_phases", "cleaning")
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        **{k: MP[k] for k in MP_TRAINING + ("epochs", "rho", "phases")},
        n_records=MP["cleaning"]["n_records"],
    script:
        "../scripts/mislabeled_phases_cleaning.py"


rule mislabeled_phases_speedup:
    """Wall time of the largest sweep ensemble trained together vs its members one by one."""
    input:
        data=MISLABELED_DATA,
    output:
        "results/mislabeled_phases/speedup.npz",
    log:
        log_path("mislabeled_phases", "speedup"),
    benchmark:
        benchmark_path("mislabeled_phases", "speedup")
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        **{k: MP[k] for k in MP_TRAINING + ("control", "speedup_steps")},
        rho=max(MP["rho"]),  # the largest data set: the largest ensemble
    script:
        "../scripts/mislabeled_phases_speedup.py"

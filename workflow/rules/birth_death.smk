# Neuron birth-death dynamics (Rotskoff, Jelassi, Bruna & Vanden-Eijnden, ICML 2019, arXiv:1902.01843).
# mixture_{spread,bad} (Fig. 1: GD vs birth-death with cloning / with a prior on a 1-D Gaussian mixture),
# student (Fig. 2: student-teacher ReLU networks), sweep_{alpha,n} (Fig. 3) -> notebooks/birth_death.py.

from spdl.studies.birth_death import check_config as birth_death_checks

BIRTH_DEATH_FIGURES = ["fig1_mixture", "fig2_student", "fig3_sweeps"]
BD = config["birth_death"]
BD_SWEEP_COMMON = ("seeds", "seed", "steps", "quench", "half_width")
BD_SWEEP_KEYS = {"alpha": BD_SWEEP_COMMON + ("n", "alpha"), "n": BD_SWEEP_COMMON + ("n_list", "alpha_n_ref")}

register_study(
    "birth_death",
    figures=BIRTH_DEATH_FIGURES,
    inputs={
        "spread": "results/birth_death/mixture_spread.npz",
        "bad": "results/birth_death/mixture_bad.npz",
        "student": "results/birth_death/student.npz",
        "sweep_alpha": "results/birth_death/sweep_alpha.npz",
        "sweep_n": "results/birth_death/sweep_n.npz",
    },
    params={"energy_threshold": BD["energy_threshold"]},
    checks=birth_death_checks,
    mem_mb=2000,
    runtime=15,
)


rule birth_death_mixture:
    """Fig. 1: GD, GD + birth-death (cloning), GD + birth-death (prior) on the 1-D mixture, all seeds at once."""
    output:
        "results/birth_death/mixture_{case}.npz",
    log:
        log_path("birth_death", "mixture_{case}"),
    benchmark:
        benchmark_path("birth_death", "mixture_{case}")
    wildcard_constraints:
        case="spread|bad",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=1500,
        runtime=20,
    params:
        target=BD["target"],
        dynamics=BD["dynamics"],
        case=lambda w: BD[w.case],
        fit_points=BD["fit_points"],
    script:
        "../scripts/birth_death_mixture.py"


rule birth_death_sweep:
    """Fig. 3: final energy and time-to-energy over the birth-death rate alpha or the particle number n."""
    output:
        "results/birth_death/sweep_{kind}.npz",
    log:
        log_path("birth_death", "sweep_{kind}"),
    benchmark:
        benchmark_path("birth_death", "sweep_{kind}")
    wildcard_constraints:
        kind="alpha|n",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        target=BD["target"],
        dynamics=BD["dynamics"],
        sweep=lambda w: {k: BD["sweep"][k] for k in BD_SWEEP_KEYS[w.kind]},
    script:
        "../scripts/birth_death_sweep.py"


rule birth_death_student:
    """Fig. 2: student-teacher ReLU networks, SGD vs SGD + birth-death, notebook and mean-field variants."""
    output:
        "results/birth_death/student.npz",
    log:
        log_path("birth_death", "student"),
    benchmark:
        benchmark_path("birth_death", "student")
    conda:
        CONDA_ENV
    threads: 1
    resources:
        **GPU,
        mem_mb=1500,
        runtime=20,
    params:
        student=BD["student"],
        device=DEVICE,
    script:
        "../scripts/birth_death_student.py"

# Landscape geometry of the coherent Ising machine (Yamamura, Mabuchi & Ganguli, PRX 14, 031054 (2024),
# arXiv:2309.08119), checked on OUR chosen classical CIM model (the paper's equations were not available).
# Simulations -> results/cim_landscape/*.npz -> notebooks/cim_landscape.py -> figures + claims.

from spdl.studies.cim_landscape import check_config as cim_landscape_checks

CIM_LANDSCAPE_FIGURES = [
    "fig1_annealing",
    "fig2_census",
    "fig3_kac_rice",
    "fig4_schedules",
    "fig5_enumeration",
]
CIM = config["cim_landscape"]
CIM_CENSUS = {k: v for k, v in CIM["census"].items() if k != "n"}  # one census job per N

register_study(
    "cim_landscape",
    figures=CIM_LANDSCAPE_FIGURES,
    inputs=dict(
        anneal="results/cim_landscape/anneal.npz",
        **{f"census_{n}": f"results/cim_landscape/census_n{n}.npz" for n in CIM["census"]["n"]},
        kac_rice="results/cim_landscape/kac_rice.npz",
        schedules="results/cim_landscape/schedules.npz",
        enumerate="results/cim_landscape/enumerate.npz",
    ),
    params={"beta": CIM["beta"]},
    checks=cim_landscape_checks,
)


rule cim_landscape_anneal:
    """Fig. 1: linear gain ramps of the CIM on SK instances (runs x instances in one array), greedy and spectral baselines."""
    output:
        "results/cim_landscape/anneal.npz",
    log:
        log_path("cim_landscape", "anneal"),
    benchmark:
        benchmark_path("cim_landscape", "anneal")
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        cfg=CIM["anneal"],
        beta=CIM["beta"],
        seed=CIM["seed"],
    script:
        "../scripts/cim_landscape_anneal.py"


rule cim_landscape_census:
    """Figs. 2, 3: critical-point census at N = {n} over the gains, flat and rigid checks."""
    output:
        "results/cim_landscape/census_n{n}.npz",
    log:
        log_path("cim_landscape", "census_n{n}"),
    benchmark:
        benchmark_path("cim_landscape", "census_n{n}")
    wildcard_constraints:
        n="|".join(str(n) for n in CIM["census"]["n"]),
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        cfg=CIM_CENSUS,
        beta=CIM["beta"],
        seed=CIM["seed"],
    script:
        "../scripts/cim_landscape_census.py"


rule cim_landscape_kac_rice:
    """Fig. 3: annealed Kac-Rice complexity of our model over the gain (our derivation)."""
    output:
        "results/cim_landscape/kac_rice.npz",
    log:
        log_path("cim_landscape", "kac_rice"),
    benchmark:
        benchmark_path("cim_landscape", "kac_rice")
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        cfg=CIM["kac_rice"],
        beta=CIM["beta"],
    script:
        "../scripts/cim_landscape_kac_rice.py"


rule cim_landscape_schedules:
    """Fig. 4: linear vs census-guided slowed schedules, success against Gray-code ground states."""
    input:
        [f"results/cim_landscape/census_n{n}.npz" for n in CIM["schedules"]["n"]],
    output:
        "results/cim_landscape/schedules.npz",
    log:
        log_path("cim_landscape", "schedules"),
    benchmark:
        benchmark_path("cim_landscape", "schedules")
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        cfg=CIM["schedules"],
        beta=CIM["beta"],
        seed=CIM["seed"],
    script:
        "../scripts/cim_landscape_schedules.py"


rule cim_landscape_enumerate:
    """Fig. 5: Gray-code enumeration of all SK states: ground states and single-flip-stable states."""
    output:
        "results/cim_landscape/enumerate.npz",
    log:
        log_path("cim_landscape", "enumerate"),
    benchmark:
        benchmark_path("cim_landscape", "enumerate")
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        cfg=CIM["enumeration"],
        seed=CIM["seed"],
    script:
        "../scripts/cim_landscape_enumerate.py"

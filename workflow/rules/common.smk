# Shared helpers for every rules file: config validation, study registry, output paths.
import os
import sys
from pathlib import Path

# The library under src/ is importable here and in every job (scripts, notebook kernels),
# whether or not it was pip-installed into the environment (e.g. with --use-conda).
SRC = str(Path(workflow.basedir) / "src")
sys.path.insert(0, SRC)
os.environ.update(PYTHONPATH=os.pathsep.join(filter(None, [SRC, os.environ.get("PYTHONPATH")])))

from spdl.config import validate_config

validate_config(config, Path(workflow.basedir) / "workflow" / "schemas")

SCALE = config["scale"]
MAX_THREADS = config["max_threads"]
CONDA_ENV = "../../environment.yml"  # the same environment as pyproject.toml

# study name -> list of its figure names; filled by each workflow/rules/<study>.smk
STUDIES = {}


def register_study(name, figures):
    STUDIES[name] = list(figures)


def notebook_source(study):
    """notebooks/<study>.py next to the Snakefile (works with --directory elsewhere)."""
    return str(Path(workflow.basedir) / "notebooks" / f"{study}.py")


def figure_path(study, figure, ext="png"):
    return f"results/figures/{study}/{figure}.{ext}"


def claims_path(study):
    return f"results/claims/{study}.json"


def figure_outputs(study, figures):
    """Named outputs of a study's notebook rule: PNG (in the report), PDF, CSV per figure."""
    out = {}
    for fig in figures:
        out[f"{fig}_png"] = report(figure_path(study, fig, "png"),
                                   caption=f"../report/{study}/{fig}.rst",
                                   category=study, subcategory=fig)
        out[f"{fig}_pdf"] = figure_path(study, fig, "pdf")
        out[f"{fig}_csv"] = figure_path(study, fig, "csv")
    return out


def study_targets(study):
    return ([claims_path(study), f"results/notebooks/{study}.html"]
            + [figure_path(study, f, ext) for f in STUDIES[study] for ext in ("png", "pdf", "csv")])


def all_study_targets(wildcards):
    return [t for study in STUDIES for t in study_targets(study)]


def log_path(study, name):
    return f"results/logs/{study}/{name}.log"


def benchmark_path(study, name):
    return f"results/benchmarks/{study}/{name}.tsv"

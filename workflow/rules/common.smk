# Shared helpers for every rules file: config validation, study registry, output paths.
import os
import sys
from pathlib import Path

# The library under src/ is importable here and in every job (scripts, notebook kernels),
# whether or not it was pip-installed into the environment (e.g. with --use-conda).
SRC = str(Path(workflow.basedir) / "src")
sys.path.insert(0, SRC)
os.environ.update(PYTHONPATH=os.pathsep.join(filter(None, [SRC, os.environ.get("PYTHONPATH")])))

from snakemake.exceptions import WorkflowError
from spdl.claims import load_declarations
from spdl.config import ConfigError, validate_config

validate_config(config, Path(workflow.basedir) / "workflow" / "schemas")


def _key_sorted(node):
    if isinstance(node, dict):
        return {k: _key_sorted(node[k]) for k in sorted(node)}
    return [_key_sorted(v) for v in node] if isinstance(node, list) else node


# Snakemake compares params as repr strings: with the keys sorted, a config file that lists the
# same values in another order (an override file, `make SET=...`) reruns nothing.
_canonical = _key_sorted(config)
config.clear()
config.update(_canonical)

SCALE = config["scale"]
MAX_THREADS = config["max_threads"]
DEVICE = config["device"]
# resources of a training job when DEVICE is cuda: one GPU (Slurm passes it as --gpus=1)
GPU = {"gpu": 1} if DEVICE == "cuda" else {}
CONDA_ENV = "../../environment.yml"  # the same environment as pyproject.toml

# study name -> its registration (figures, notebook inputs and params); filled by each
# workflow/rules/<study>.smk, turned into the notebook rule and targets by studies.smk.
STUDIES = {}


def project_path(*parts):
    """A source file of the project, relative to the working directory (stable when the project moves)."""
    return os.path.relpath(Path(workflow.basedir, *parts), os.getcwd())


def register_study(name, figures, inputs, params, checks=None, mem_mb=3000, runtime=20):
    """Declare a study: its figures (named once), the results its notebook reads (name -> path) and
    exactly the config keys its notebook reads (``params``, passed to it as ``cfg``).

    ``checks(section) -> [messages]`` holds the study's cross-field and data-size checks; they run
    now, at parse time, so a bad config stops before any job. The notebook rule ``<name>_notebook``,
    the target ``<name>`` and one target per figure (``<name>_fig1`` ...) are generated in studies.smk.
    """
    if name in STUDIES:
        raise ValueError(f"study {name!r} registered twice")
    if len(set(figures)) != len(figures) or any(not f.startswith("fig") for f in figures):
        raise ValueError(f"study {name!r}: figure names must be unique and start with 'fig': {figures}")
    problems = list(checks(config[name])) if checks else []
    if problems:
        raise ConfigError("invalid configuration:\n" + "\n".join(f"  - {m}" for m in problems))
    declarations = project_path("workflow", "claims", f"{name}.yaml")
    load_declarations(declarations, SCALE, figures)  # a malformed declaration stops here, before any job
    STUDIES[name] = dict(
        figures=list(figures),
        inputs=dict(inputs),
        params=params,
        declarations=declarations,
        mem_mb=mem_mb,
        runtime=runtime,
    )


def notebook_source(study):
    """notebooks/<study>.py of the project."""
    return project_path("notebooks", f"{study}.py")


def figure_path(study, figure, ext="png"):
    return f"results/figures/{study}/{figure}.{ext}"


def claims_path(study):
    return f"results/claims/{study}.json"


def figure_outputs(study, figures):
    """Named outputs of a study's notebook rule: PNG (in the report), PDF, CSV per figure."""
    out = {}
    for fig in figures:
        out[f"{fig}_png"] = report(
            figure_path(study, fig, "png"), caption=f"../report/{study}/{fig}.rst", category=study, subcategory=fig
        )
        out[f"{fig}_pdf"] = figure_path(study, fig, "pdf")
        out[f"{fig}_csv"] = figure_path(study, fig, "csv")
    return out


def study_targets(study):
    return [claims_path(study), f"results/notebooks/{study}.html"] + [
        figure_path(study, f, ext) for f in STUDIES[study]["figures"] for ext in ("png", "pdf", "csv")
    ]


def notebook_inputs(study):
    """Named inputs of a study's notebook rule: the notebook, its claim declarations, then the results it reads."""
    spec = STUDIES[study]
    return dict(notebook=notebook_source(study), declarations=spec["declarations"], **spec["inputs"])


def notebook_outputs(study):
    """Named outputs of a study's notebook rule: executed notebook, its HTML (in the report), claims, figures.

    Every one is flagged ``update``: Snakemake backs up the previous version before the
    notebook runs and restores it if the notebook fails, so a failed rerun leaves the last
    complete figures, claims and HTML untouched (and says "Restored previous version").
    """
    outputs = dict(
        ipynb=f"results/notebooks/{study}.ipynb",
        html=report(f"results/notebooks/{study}.html", category=study, subcategory="notebook"),
        claims=claims_path(study),
        **figure_outputs(study, STUDIES[study]["figures"]),
    )
    return {name: update(path) for name, path in outputs.items()}


def producing_rules(study):
    """Name of the rule that writes each results file a study's notebook reads (named if the file is broken)."""
    rules = [r for r in workflow.rules if not r.name.endswith("_notebook")]
    producers = {}
    for name, path in STUDIES[study]["inputs"].items():
        producers[name] = next((r.name for r in rules if r.is_producer(path)), None)
        if producers[name] is None:
            raise WorkflowError(f"{study}: no rule writes {path}, which its notebook reads as {name!r}")
    return producers


def all_study_targets(wildcards):
    return [t for study in STUDIES for t in study_targets(study)]


def log_path(study, name):
    return f"results/logs/{study}/{name}.log"


def benchmark_path(study, name):
    return f"results/benchmarks/{study}/{name}.tsv"

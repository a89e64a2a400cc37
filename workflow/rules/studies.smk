# The tail of every registered study, generated from the registry (register_study in common.smk):
#   <study>_notebook  runs notebooks/<study>.py on the study's results -> figures, claims, HTML
#   <study>           target: every figure and claim of the study
#   <study>_figN      target: one figure (PNG, PDF and the CSV of its data)


for _study, _spec in STUDIES.items():

    rule:
        name:
            f"{_study}_notebook"
        input:
            **notebook_inputs(_study),
        output:
            **notebook_outputs(_study),
        log:
            log_path(_study, "notebook"),
        benchmark:
            benchmark_path(_study, "notebook")
        conda:
            CONDA_ENV
        threads: 1
        resources:
            mem_mb=_spec["mem_mb"],
            runtime=_spec["runtime"],
        params:
            study=_study,
            scale=SCALE,
            cfg=_spec["params"],
            producers=producing_rules(_study),
        script:
            "../scripts/run_notebook.py"

    rule:
        name:
            _study
        input:
            study_targets(_study),

    for _fig in _spec["figures"]:

        rule:
            name:
                f"{_study}_{_fig.split('_')[0]}"
            input:
                [figure_path(_study, _fig, ext) for ext in ("png", "pdf", "csv")],

# Replication pipeline for the statistical physics of deep learning.
#   snakemake --cores 2                                  # everything, default scale
#   snakemake --cores 2 --configfile config/quick.yaml   # CI scale
#   snakemake --cores 2 deep_linear                      # one study
#   snakemake --cores 2 deep_linear_fig3                 # one figure (or its file path)
# Every study lives in workflow/rules/<study>.smk and registers itself in STUDIES;
# `all` builds only the datasets the studies read (`data_embedded` builds every embedded set).


configfile: Path(workflow.basedir) / "config" / "config.yaml"


# the report's front page (snakemake --report results/report.html)
report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"


for _rules in sorted(Path(workflow.basedir, "workflow", "rules").glob("*.smk")):
    if _rules.stem not in ("common", "studies", "scorecard", "report"):

        include: _rules


include: "workflow/rules/studies.smk"
include: "workflow/rules/scorecard.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        "results/scorecard.md",
        "results/scorecard.json",
        "results/report/scorecard.html",
        REPORT_PAGES,
        all_study_targets,

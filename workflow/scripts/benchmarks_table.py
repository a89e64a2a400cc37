"""Rule `benchmarks_table`: every benchmark file under results/benchmarks/ -> one row per job
(results/benchmarks.tsv) and the report's page of wall time and peak memory per study and per rule."""
import sys
from pathlib import Path

from spdl.io import atomic_path, write_text
from spdl.report import benchmarks_html, read_benchmarks

smk = snakemake  # noqa: F821
sys.stderr = sys.stdout = open(smk.log[0], "w")
root = str(Path(smk.output.tsv).with_suffix(""))  # results/benchmarks.tsv gathers results/benchmarks/
jobs = read_benchmarks(sorted(Path(root).rglob("*.tsv")), dict(smk.params.patterns), root)
with atomic_path(smk.output.tsv) as tmp:
    jobs.to_csv(tmp, sep="\t", index=False)
write_text(smk.output.html, benchmarks_html(jobs))
print(f"{len(jobs)} benchmark files, {jobs.wall_s.sum():.0f} s of wall time")

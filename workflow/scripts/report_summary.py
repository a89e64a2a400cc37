"""Rule `report_summary`: the summary on the report's front page (claims and cost by study, software)."""
import sys

import pandas as pd

from spdl.io import read_json, write_text
from spdl.report import summary_fragment

smk = snakemake  # noqa: F821
sys.stderr = sys.stdout = open(smk.log[0], "w")
write_text(smk.output[0], summary_fragment(read_json(smk.input.scorecard),
                                           pd.read_csv(smk.input.benchmarks, sep="\t")))

"""Rule `scorecard`: gather results/claims/*.json into results/scorecard.{md,json} and its HTML table."""
import sys

from spdl.claims import load_claims, write_scorecard
from spdl.io import read_json, write_text
from spdl.report import scorecard_html

smk = snakemake  # noqa: F821
sys.stderr = sys.stdout = open(smk.log[0], "w")
claims = load_claims(smk.input.claims)
write_scorecard(claims, smk.output.md, smk.output.json)
write_text(smk.output.html, scorecard_html(read_json(smk.output.json)))
print(f"{sum(c['passed'] for c in claims)} / {len(claims)} claims pass")

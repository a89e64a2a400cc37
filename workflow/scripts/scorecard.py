"""Rule `scorecard`: gather results/claims/*.json into results/scorecard.{md,json}."""
import sys

from spdl.claims import load_claims, write_scorecard

sys.stderr = sys.stdout = open(snakemake.log[0], "w")  # noqa: F821
claims = load_claims(snakemake.input.claims)  # noqa: F821
write_scorecard(claims, snakemake.output.md, snakemake.output.json)  # noqa: F821
print(f"{sum(c['passed'] for c in claims)} / {len(claims)} claims pass")

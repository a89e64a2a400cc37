"""Claims: a number measured by the pipeline, the paper's value, and an honest band.

A claim passes when the measured value lies inside ``[lower, upper]``. The band
is fixed in the notebook next to the figure, with the reason for its width
(finite size, seeds), before the number is looked at; it is never tuned.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from .io import read_json, write_json, write_text


@dataclass(frozen=True)
class Claim:
    id: str
    study: str
    figure: str
    statement: str
    paper_value: str
    measured: float
    lower: float | None
    upper: float | None
    tolerance: str
    scale: str
    passed: bool


@dataclass
class ClaimBook:
    """Collects the claims of one study's notebook and writes them as JSON."""

    study: str
    scale: str
    claims: list[Claim] = field(default_factory=list)

    def check(self, id: str, figure: str, statement: str, paper_value, measured,
              lower: float | None = None, upper: float | None = None, tolerance: str = "") -> Claim:
        measured = float(measured)
        passed = math.isfinite(measured) and (lower is None or measured >= lower) and (
            upper is None or measured <= upper)
        claim = Claim(id=id, study=self.study, figure=figure, statement=statement,
                      paper_value=str(paper_value), measured=measured, lower=lower, upper=upper,
                      tolerance=tolerance or _band(lower, upper), scale=self.scale, passed=bool(passed))
        if any(c.id == id for c in self.claims):
            raise ValueError(f"claim id {id!r} checked twice")
        self.claims.append(claim)
        print(f"[{'PASS' if passed else 'FAIL'}] {id}: measured {measured:.4g}, band {claim.tolerance}")
        return claim

    def write(self, path) -> None:
        write_json(path, {"study": self.study, "scale": self.scale,
                          "claims": [asdict(c) for c in self.claims]})


def _band(lower, upper) -> str:
    lo = "-inf" if lower is None else f"{lower:.4g}"
    hi = "inf" if upper is None else f"{upper:.4g}"
    return f"[{lo}, {hi}]"


def load_claims(paths) -> list[dict]:
    out = []
    for p in paths:
        out.extend(read_json(p)["claims"])
    return out


def write_scorecard(claims: list[dict], md_path, json_path) -> None:
    """``results/scorecard.{md,json}``: every claim, and passed/total per study."""
    studies = sorted({c["study"] for c in claims})
    summary = {s: {"passed": sum(c["passed"] for c in claims if c["study"] == s),
                   "total": sum(c["study"] == s for c in claims)} for s in studies}
    n_pass = sum(c["passed"] for c in claims)
    write_json(json_path, {"passed": n_pass, "total": len(claims), "studies": summary, "claims": claims})
    lines = ["# Claims scorecard", "", f"**{n_pass} / {len(claims)} claims pass.**", "",
             "| study | passed | total |", "|---|---|---|"]
    lines += [f"| {s} | {v['passed']} | {v['total']} |" for s, v in summary.items()]
    lines += ["", "| | claim | figure | statement | paper | measured | band | scale |",
              "|---|---|---|---|---|---|---|---|"]
    for c in claims:
        mark = "PASS" if c["passed"] else "**FAIL**"
        lines.append(f"| {mark} | `{c['id']}` | {c['figure']} | {c['statement']} | {c['paper_value']} "
                     f"| {c['measured']:.4g} | {c['tolerance']} | {c['scale']} |")
    write_text(md_path, "\n".join(lines) + "\n")

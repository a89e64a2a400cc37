"""Claims: numbers measured by the pipeline against bands declared before measuring.

Every study declares its claims in ``workflow/claims/<study>.yaml`` (validated against
``workflow/schemas/claims/claims.schema.yaml``): id, figure, statement, the paper's value,
the band and the reason for its width, optionally another band at a named scale with its
own finite-size reason. The notebook only measures: ``ClaimBook.check(id, measured)``
takes the band from the declaration, so a band can never be chosen next to the number.

Status of a claim: ``pass``; ``fail``; ``diverged`` (a run it depends on diverged: failed,
whatever the number); ``missing`` (what it needs was not found, or the notebook never
measured it: failed, with the reason).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import jsonschema
import yaml

from .io import read_json, write_json, write_text
from .provenance import environment

SCHEMA = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "claims" / "claims.schema.yaml"
STATUSES = ("pass", "fail", "diverged", "missing")


class DeclarationError(ValueError):
    """A claims declaration that is malformed or does not match what the notebook measures."""


@dataclass(frozen=True)
class Declaration:
    id: str
    figure: str
    statement: str
    paper_value: str
    lower: float | None
    upper: float | None
    reason: str


def load_declarations(path, scale: str, figures=None, schema_path=SCHEMA) -> dict[str, Declaration]:
    """Declarations of one study at ``scale`` (its band and reason, or the scale's override)."""
    try:
        doc = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as err:
        raise DeclarationError(f"claims declaration {path}: cannot be read ({err})") from err
    schema = yaml.safe_load(Path(schema_path).read_text())
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(doc), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"  - {'.'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors]
        raise DeclarationError(f"claims declaration {path} is invalid:\n" + "\n".join(lines))
    out = {}
    for c in doc["claims"]:
        if c["id"] in out:
            raise DeclarationError(f"claims declaration {path}: claim {c['id']!r} declared twice")
        if figures is not None and c["figure"] not in figures:
            raise DeclarationError(f"claims declaration {path}: claim {c['id']!r} names figure "
                                   f"{c['figure']!r}, not one of {list(figures)}")
        at_scale = c.get("scales", {}).get(scale, {})
        lower, upper = at_scale.get("band", c["band"])
        if lower is not None and upper is not None and lower > upper:
            raise DeclarationError(f"claims declaration {path}: claim {c['id']!r} has band [{lower}, {upper}]")
        out[c["id"]] = Declaration(id=c["id"], figure=c["figure"], statement=c["statement"],
                                   paper_value=str(c["paper_value"]), lower=lower, upper=upper,
                                   reason=at_scale.get("reason", c["reason"]))
    return out


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
    band: str
    reason: str
    scale: str
    status: str
    note: str

    @property
    def passed(self) -> bool:
        return self.status == "pass"


class Verdict:
    """What ``ClaimBook.check`` returns: true if the claim passed, like a bool, but not echoed by a notebook
    when a check is the last line of a cell (the check prints its one-line verdict itself)."""

    __slots__ = ("claim",)

    def __init__(self, claim: Claim):
        self.claim = claim

    def __bool__(self) -> bool:
        return self.claim.passed

    def __eq__(self, other) -> bool:
        return bool(self) == other

    def __hash__(self) -> int:
        return hash(bool(self))

    def __repr__(self) -> str:
        return f"<{self.claim.status}: {self.claim.id}>"

    def _ipython_display_(self) -> None:
        pass


@dataclass
class ClaimBook:
    """The claims of one study's notebook: measured against their declarations, then written as JSON."""

    study: str
    scale: str
    declarations: dict[str, Declaration]
    claims: list[Claim] = field(default_factory=list)

    @classmethod
    def declared(cls, study: str, scale: str, path) -> "ClaimBook":
        return cls(study, scale, load_declarations(path, scale))

    def check(self, id: str, measured, *, diverged: bool = False, reason: str = "") -> Verdict:
        """Measure claim ``id`` against its declared band; ``diverged``/``reason`` make it fail, saying why.

        Prints a one-line verdict; returns a ``Verdict``, true if the claim passed (not echoed in a notebook)."""
        if id not in self.declarations:
            raise DeclarationError(f"claim {id!r} of {self.study} is not declared in workflow/claims/{self.study}.yaml")
        d = self.declarations[id]
        if any(c.id == id for c in self.claims):
            raise DeclarationError(f"claim {id!r} checked twice")
        measured = float("nan") if measured is None else float(measured)
        inside = (math.isfinite(measured) and (d.lower is None or measured >= d.lower)
                  and (d.upper is None or measured <= d.upper))
        status = "diverged" if diverged else "missing" if reason else "pass" if inside else "fail"
        notes = ["a run it depends on diverged" if diverged else "", reason,
                 "" if diverged or reason or inside or math.isfinite(measured) else "measured value is not finite"]
        note = "; ".join(n for n in notes if n)
        claim = Claim(id=id, study=self.study, figure=d.figure, statement=d.statement, paper_value=d.paper_value,
                      measured=measured, lower=d.lower, upper=d.upper, band=format_band(d.lower, d.upper),
                      reason=d.reason, scale=self.scale, status=status, note=note)
        self.claims.append(claim)
        print(f"[{status.upper()}] {id}: measured {measured:.4g}, band {format_band(d.lower, d.upper)}"
              + (f" ({note})" if note else ""))
        return Verdict(claim)

    def table(self, figure: str | None = None):
        """The claims of ``figure`` (all if None) as a table for the end of a figure section."""
        import pandas as pd

        rows = [dict(claim=c.id, statement=c.statement, paper=c.paper_value, measured=f"{c.measured:.4g}",
                     band=c.band, status=c.status.upper(), note=c.note)
                for c in self.claims if figure is None or c.figure == figure]
        return pd.DataFrame(rows, columns=["claim", "statement", "paper", "measured", "band", "status", "note"]
                            ).style.hide(axis="index")

    def write(self, path) -> None:
        """Write the claims; a declared claim the notebook never measured is recorded as missing."""
        measured = {c.id for c in self.claims}
        for d in self.declarations.values():
            if d.id not in measured:
                self.claims.append(Claim(id=d.id, study=self.study, figure=d.figure, statement=d.statement,
                                         paper_value=d.paper_value, measured=float("nan"), lower=d.lower,
                                         upper=d.upper, band=format_band(d.lower, d.upper), reason=d.reason,
                                         scale=self.scale, status="missing", note="declared but never measured"))
        write_json(path, {"study": self.study, "scale": self.scale, "environment": environment(),
                          "claims": [asdict(c) | {"passed": c.passed} for c in self.claims]})


def format_band(lower, upper) -> str:
    lo = "-inf" if lower is None else f"{lower:.4g}"
    hi = "inf" if upper is None else f"{upper:.4g}"
    return f"[{lo}, {hi}]"


def load_claims(paths) -> list[dict]:
    out = []
    for p in paths:
        try:
            out.extend(read_json(p)["claims"])
        except (OSError, ValueError, KeyError) as err:
            raise ValueError(f"claims file {p} (written by the study's notebook rule) cannot be read: {err}") from err
    return out


def _cell(text) -> str:
    """Markdown table cell: pipes escaped, newlines flattened."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def write_scorecard(claims: list[dict], md_path, json_path) -> None:
    """``results/scorecard.{md,json}``: every claim with paper vs measured, and counts per study and status."""
    studies = sorted({c["study"] for c in claims})
    summary = {s: {st: sum(c["study"] == s and c["status"] == st for c in claims) for st in STATUSES}
               | {"total": sum(c["study"] == s for c in claims)} for s in studies}
    n_pass = sum(c["status"] == "pass" for c in claims)
    scale = ", ".join(sorted({c["scale"] for c in claims}))
    env = environment()
    write_json(json_path, {"passed": n_pass, "total": len(claims), "scale": scale, "environment": env,
                           "studies": summary, "claims": claims})
    lines = ["# Claims scorecard", "", f"**{n_pass} / {len(claims)} claims pass** (scale: {scale}).", "",
             "Run with " + ", ".join(f"{k} {v}" for k, v in env.items()) + ".", "",
             "| study | passed | failed | failed: diverged | failed: missing | total |", "|---|---|---|---|---|---|"]
    lines += [f"| {s} | {v['pass']} | {v['fail']} | {v['diverged']} | {v['missing']} | {v['total']} |"
              for s, v in summary.items()]
    lines += ["", "| | claim | figure | statement | paper | measured | band | why this band | scale |",
              "|---|---|---|---|---|---|---|---|---|"]
    for c in claims:
        mark = "PASS" if c["status"] == "pass" else f"**{c['status'].upper()}**"
        measured = f"{c['measured']:.4g}" + (f" ({c['note']})" if c.get("note") else "")
        lines.append("| " + " | ".join(_cell(x) for x in (
            mark, f"`{c['id']}`", c["figure"], c["statement"], c["paper_value"], measured, c["band"],
            c["reason"], c["scale"])) + " |")
    write_text(md_path, "\n".join(lines) + "\n")

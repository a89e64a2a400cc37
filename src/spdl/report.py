"""Pages of the Snakemake report: the scorecard as a table, the cost of the run, the front-page summary.

Every page is plain HTML with its styles inline and no script, so it shows the same in the
report's frame, opened on its own, or offline.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pandas as pd

STATUS_COLOURS = {"pass": "#1a7f37", "fail": "#cf222e", "diverged": "#cf222e", "missing": "#9a6700"}
STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; font-size: 14px; margin: 1.2em; color: #1f2328; }
table.spdl { border-collapse: collapse; margin: 0.6em 0 1.4em 0; }
table.spdl th, table.spdl td { border: 1px solid #d0d7de; padding: 3px 8px; vertical-align: top; text-align: left; }
table.spdl th { background: #f6f8fa; }
table.spdl td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.spdl tr.total td { font-weight: 600; background: #f6f8fa; }
code { font-size: 0.95em; }
"""


def esc(text) -> str:
    return html.escape(str(text))


def page(title: str, body: str) -> str:
    """A complete HTML page: inline styles, no script, no external resource."""
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{esc(title)}</title>\n'
            f"<style>{STYLE}</style>\n</head>\n<body>\n<h1>{esc(title)}</h1>\n{body}\n</body>\n</html>\n")


def table(rows: list[list], header: list[str], numeric=(), classes=None) -> str:
    """An HTML table; cells are escaped unless given as ``Markup`` (pre-built HTML)."""
    out = ['<table class="spdl">', "<tr>" + "".join(f"<th>{esc(h)}</th>" for h in header) + "</tr>"]
    for i, row in enumerate(rows):
        cls = f' class="{classes[i]}"' if classes and classes[i] else ""
        cells = "".join(f'<td{" class=num" if j in numeric else ""}>{c if isinstance(c, Markup) else esc(c)}</td>'
                        for j, c in enumerate(row))
        out.append(f"<tr{cls}>{cells}</tr>")
    return "\n".join(out + ["</table>"])


class Markup(str):
    """HTML that ``table`` inserts as it is."""


def status_mark(status: str) -> Markup:
    colour = STATUS_COLOURS.get(status, "#1f2328")
    return Markup(f'<span style="color:{colour};font-weight:600">{esc(status.upper())}</span>')


def environment_line(env: dict) -> str:
    """``python 3.11.7, torch 2.13.0, ...``: python first, then the packages in the order spdl.provenance lists them."""
    from .provenance import KEY_PACKAGES

    order = {name: i for i, name in enumerate(("python", *KEY_PACKAGES))}
    return ", ".join(f"{k} {env[k]}" for k in sorted(env, key=lambda k: (order.get(k, len(order)), k)))


# ---------------------------------------------------------------- scorecard


def scorecard_body(card: dict) -> str:
    """Summary by study, then every claim: paper vs measured, band, why this band, status."""
    studies = card["studies"]
    rows = [[s, v["pass"], v["fail"], v["diverged"], v["missing"], v["total"]] for s, v in studies.items()]
    rows.append(["all studies", card["passed"], *(sum(v[k] for v in studies.values())
                                                  for k in ("fail", "diverged", "missing")), card["total"]])
    parts = [f"<p><b>{card['passed']} / {card['total']} claims pass.</b>"
             + (f" Scale: <code>{esc(card['scale'])}</code>." if card.get("scale") else "") + "</p>",
             table(rows, ["study", "passed", "failed", "failed: diverged", "failed: missing", "total"],
                   numeric=range(1, 6), classes=[None] * len(studies) + ["total"])]
    if card.get("environment"):
        parts.append(f"<p>Run with {esc(environment_line(card['environment']))}.</p>")
    for study in studies:
        rows = []
        for c in (c for c in card["claims"] if c["study"] == study):
            measured = f"{c['measured']:.4g}" + (f" ({c['note']})" if c.get("note") else "")
            rows.append([status_mark(c["status"]), Markup(f"<code>{esc(c['id'])}</code>"), c["figure"],
                         c["statement"], c["paper_value"], measured, c["band"], c["reason"]])
        parts += [f'<h2 id="{esc(study)}">{esc(study)}</h2>',
                  table(rows, ["", "claim", "figure", "statement", "paper", "measured", "band", "why this band"],
                        numeric=(5,))]
    return "\n".join(parts)


def scorecard_html(card: dict) -> str:
    return page("Claims scorecard", scorecard_body(card))


# ---------------------------------------------------------------- benchmarks


def pattern_regex(pattern: str) -> re.Pattern:
    """The regex of a rule's benchmark pattern, ``{wildcard}`` matching any non-empty text."""
    parts = re.split(r"(\{[^{}]+\})", pattern)
    return re.compile("".join("(.+)" if p.startswith("{") else re.escape(p) for p in parts) + "$")


def rule_of(path: str, patterns: dict[str, str]) -> str:
    """The rule whose benchmark pattern ``path`` matches (the most specific one); the file stem if none."""
    matches = [(len(p) - p.count("{") * 3, rule) for rule, p in patterns.items() if pattern_regex(p).match(path)]
    return max(matches)[1] if matches else Path(path).stem


def study_of(path: str, root: str = "results/benchmarks") -> str:
    """``results/benchmarks/<study>/x.tsv`` -> ``<study>``; files at the top belong to the ``pipeline``."""
    rel = Path(path).relative_to(root)
    return rel.parts[0] if len(rel.parts) > 1 else "pipeline"


def read_benchmarks(paths, patterns: dict[str, str], root: str = "results/benchmarks") -> pd.DataFrame:
    """One row per benchmark file (a job): rule, study, job, wall time (s), peak memory (MB), CPU time (s)."""
    rows = []
    for path in sorted(map(str, paths)):
        try:
            b = pd.read_csv(path, sep="\t")
        except (OSError, ValueError, pd.errors.EmptyDataError):
            continue
        if b.empty or "s" not in b:
            continue
        rows.append(dict(rule=rule_of(path, patterns), study=study_of(path, root),
                         job=str(Path(path).relative_to(root).with_suffix("")),
                         wall_s=float(b["s"].mean()), max_rss_mb=_num(b, "max_rss"), cpu_s=_num(b, "cpu_time")))
    return pd.DataFrame(rows, columns=["rule", "study", "job", "wall_s", "max_rss_mb", "cpu_s"])


def _num(b: pd.DataFrame, col: str) -> float:
    if col not in b:
        return float("nan")
    return float(pd.to_numeric(b[col], errors="coerce").max())


def per_rule(jobs: pd.DataFrame) -> pd.DataFrame:
    """Jobs, total and longest wall time, peak memory and CPU time of every rule."""
    return (jobs.groupby(["study", "rule"], sort=True)
            .agg(jobs=("job", "size"), wall_s=("wall_s", "sum"), longest_s=("wall_s", "max"),
                 max_rss_mb=("max_rss_mb", "max"), cpu_s=("cpu_s", "sum")).reset_index())


def per_study(jobs: pd.DataFrame) -> pd.DataFrame:
    """Jobs, total wall time (run one after another), peak memory of one job and CPU time of every study."""
    return (jobs.groupby("study", sort=True)
            .agg(jobs=("job", "size"), wall_s=("wall_s", "sum"), max_rss_mb=("max_rss_mb", "max"),
                 cpu_s=("cpu_s", "sum")).reset_index())


def duration(seconds: float) -> str:
    if seconds != seconds:
        return "–"
    seconds = round(seconds)
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def megabytes(mb: float) -> str:
    return "–" if mb != mb else f"{mb:,.0f} MB"


def study_cost_table(studies: pd.DataFrame) -> str:
    rows = [[r.study, r.jobs, duration(r.wall_s), megabytes(r.max_rss_mb), duration(r.cpu_s)]
            for r in studies.itertuples()]
    classes = [None] * len(rows)
    if len(studies):
        rows.append(["all", int(studies.jobs.sum()), duration(studies.wall_s.sum()),
                     megabytes(studies.max_rss_mb.max()), duration(studies.cpu_s.sum())])
        classes.append("total")
    return table(rows, ["study", "jobs", "wall time (sum)", "peak memory (one job)", "CPU time"],
                 numeric=range(1, 5), classes=classes)


def benchmarks_body(jobs: pd.DataFrame) -> str:
    if jobs.empty:
        return "<p>No benchmark files were found.</p>"
    rules = per_rule(jobs)
    rule_rows = [[r.study, Markup(f"<code>{esc(r.rule)}</code>"), r.jobs, duration(r.wall_s), duration(r.longest_s),
                  megabytes(r.max_rss_mb), duration(r.cpu_s)] for r in rules.itertuples()]
    return "\n".join([
        "<p>Measured by Snakemake's <code>benchmark:</code> directive for every job of this run "
        "(<code>results/benchmarks/</code>). Wall times are summed as if the jobs ran one after another; "
        "peak memory is the largest resident set size of one job. The data behind these tables is "
        "<code>results/benchmarks.tsv</code> (one row per job).</p>",
        "<h2>Per study</h2>", study_cost_table(per_study(jobs)),
        "<h2>Per rule</h2>",
        table(rule_rows, ["study", "rule", "jobs", "wall time (sum)", "longest job", "peak memory", "CPU time"],
              numeric=range(2, 7)),
    ])


def benchmarks_html(jobs: pd.DataFrame) -> str:
    return page("Cost of the run: wall time and peak memory", benchmarks_body(jobs))


# ---------------------------------------------------------------- front page


def summary_fragment(card: dict, jobs: pd.DataFrame) -> str:
    """The front page's summary (an HTML fragment, styles inline): claims and cost by study, environment."""
    costs = per_study(jobs).set_index("study") if not jobs.empty else pd.DataFrame()
    td = 'style="border:1px solid #d0d7de;padding:2px 8px;text-align:{}"'
    head = "".join(f'<th {td.format("left")}>{h}</th>' for h in
                   ("study", "claims passed", "failed", "wall time", "peak memory"))
    rows = []
    for study, v in card["studies"].items():
        cost = costs.loc[study] if study in costs.index else None
        colour = STATUS_COLOURS["pass" if v["pass"] == v["total"] else "fail"]
        cells = [esc(study), f'<span style="color:{colour};font-weight:600">{v["pass"]} / {v["total"]}</span>',
                 str(v["total"] - v["pass"]),
                 duration(cost.wall_s) if cost is not None else "–",
                 megabytes(cost.max_rss_mb) if cost is not None else "–"]
        rows.append("<tr>" + "".join(f'<td {td.format("left" if i == 0 else "right")}>{c}</td>'
                                     for i, c in enumerate(cells)) + "</tr>")
    total_wall = duration(jobs.wall_s.sum()) if not jobs.empty else "–"
    out = [f"<p><b>{card['passed']} of {card['total']} claims pass</b> at scale <code>{esc(card.get('scale', '?'))}"
           f"</code>; every job together ran {total_wall} (wall time, summed).</p>",
           f'<table style="border-collapse:collapse;margin:0.5em 0 1em 0"><tr>{head}</tr>{"".join(rows)}</table>']
    if card.get("environment"):
        out.append(f"<p>Software: {esc(environment_line(card['environment']))}.</p>")
    return "\n".join(out)

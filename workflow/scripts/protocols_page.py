"""Rule `protocols_page`: the report's page of `benchmark_protocols` (results/benchmarks/protocols.json):
wall and CPU seconds, seconds per network and fraction of the matmul peak of each protocol and part."""
import sys

from spdl.io import read_json, write_text
from spdl.report import esc, page, table

smk = snakemake  # noqa: F821
sys.stderr = sys.stdout = open(smk.log[0], "w")
run = read_json(smk.params.run)
cols = ["protocol", "setting", "part", "networks", "wall_s", "cpu_s", "s_per_network", "gflops", "fraction_of_peak",
        "fraction_of_peak_cpu"]
fmt = {"wall_s": "{:.2f}", "cpu_s": "{:.2f}", "s_per_network": "{:.3f}", "gflops": "{:.1f}",
       "fraction_of_peak": "{:.1%}", "fraction_of_peak_cpu": "{:.1%}"}
rows = [[fmt[c].format(r[c]) if c in fmt and r[c] == r[c] else ("–" if c in fmt else r[c]) for c in cols]
        for r in run["rows"]]
head = (f"<p>torch {esc(run['torch'])}, {run['threads']} threads, {esc(run['processor'])}, device "
        f"<code>{esc(run['device'])}</code>; float32 matmul peak {run['matmul_peak_gflops']:.1f} GFLOP/s "
        f"(one thread: {run['matmul_peak_gflop_per_cpu_s']:.1f} GFLOP per CPU-second).</p>")
totals = "".join(f"<li>{esc(p)}: {t['networks']} networks, {t['wall_s']:.1f} s wall, {t['cpu_s']:.1f} s CPU, "
                 f"{t['wall_s'] / t['networks']:.3f} s per network</li>" for p, t in run["protocols"].items())
versus = "".join(f"<li>{esc(p)}: the authors' code {v['authors_wall_s']:.1f} s, this pipeline {v['wall_s']:.1f} s: "
                 f"<b>{v['speedup']:.1f}x</b></li>" for p, v in run.get("versus_authors", {}).items())
versus = (f"<p>Against the authors' own code on the same protocol (timed as whole processes on a 2-core machine "
          f"with the same torch and numpy and their default threads, one per core, issue 19; this run: "
          f"{run['threads']} threads):</p><ul>{versus}</ul>") if versus else ""
body = head + f"<ul>{totals}</ul>" + versus + table(rows, cols, numeric=range(3, len(cols)))
write_text(smk.output[0], page("Benchmarks of the authors' protocols", body))
print(f"{len(rows)} rows")

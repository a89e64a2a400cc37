"""Notebook rule: jupytext py:percent -> ipynb, executed by papermill, then rendered to HTML.

The notebook receives as parameters: ``inputs`` (name -> path of every results file it
reads), ``cfg`` (exactly the config keys it reads: the rule's params, so a change of one
reruns it), ``scale``, ``figdir``, ``claims_path`` and ``declarations`` (the study's
pre-registered claims). It only loads results, plots and checks claims; all heavy
computation happens in the rules upstream.

What the reader gets (spdl.notebook): the parameters cell written readably (``cfg`` as YAML),
every figure inline (spdl.figures.save_figure shows what it saves; the kernel keeps its inline
backend), and an HTML page that needs no network (images embedded, math as MathML).
"""
import os
import sys
from pathlib import Path

import jupytext
import nbformat
import papermill as pm

from spdl.io import atomic_path, write_text
from spdl.notebook import notebook_html, register_readable_parameters

smk = snakemake  # noqa: F821
log = open(smk.log[0], "w")
sys.stdout = sys.stderr = log
os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
# the kernel draws inline even where the caller runs matplotlib headless (MPLBACKEND=Agg)
os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
register_readable_parameters()

study = smk.params.study
inputs = {k: str(v) for k, v in smk.input.items() if k not in ("notebook", "declarations")}
parameters = dict(inputs=inputs, cfg=dict(smk.params.cfg), scale=smk.params.scale,
                  figdir=str(Path(smk.output.claims).parents[1] / "figures" / study),
                  claims_path=str(smk.output.claims), declarations=str(smk.input.declarations))

notebook = jupytext.read(smk.input.notebook)
ipynb = Path(smk.output.ipynb)
source = ipynb.with_suffix(".source.ipynb")
nbformat.write(notebook, source)
with atomic_path(ipynb) as tmp:
    try:
        pm.execute_notebook(str(source), str(tmp), parameters=parameters, kernel_name="python3",
                            cwd=os.getcwd(), execution_timeout=smk.params.get("timeout", 1800),
                            log_output=True, progress_bar=False, stdout_file=log, stderr_file=log)
    except pm.PapermillExecutionError as err:
        if err.ename == "ResultsFileError":  # name the rule that writes the broken file
            for name, path in inputs.items():
                if path in err.evalue:
                    rule = smk.params.producers[name]
                    raise RuntimeError(f"{path} is written by rule {rule}: delete the file and rerun "
                                       f"(or `snakemake --forcerun {rule}`)\n{err.evalue}") from err
        raise
source.unlink()
write_text(smk.output.html, notebook_html(nbformat.read(ipynb, as_version=4)))

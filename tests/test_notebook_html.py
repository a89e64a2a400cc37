"""What a reader opens: a tiny notebook executed as the notebook rule executes one (papermill with
spdl.notebook's parameters cell, then spdl.notebook's HTML) shows every figure inline once, no stray
repr, readable parameters, math as MathML, and loads nothing from the network."""
import os
import re

import jupytext
import nbformat
import papermill as pm
import pytest
import yaml

from spdl.notebook import ReadableTranslator, notebook_html, register_readable_parameters, tex_to_mathml

DECLARED = {"study": "toy", "claims": [
    {"id": "small", "figure": "fig1_line", "statement": "a | piped statement", "paper_value": 1,
     "band": [0.0, 2.0], "reason": "a toy band for the test"},
    {"id": "large", "figure": "fig2_bars", "statement": "above one", "paper_value": "> 1",
     "band": [1.0, None], "reason": "a toy band for the test"},
]}

NOTEBOOK = '''# %% [markdown]
# # Toy study
# Loss $\\frac12\\|WX-\\hat Y\\|_F^2$ and a display
# $$\\tau\\dot s = 2s(\\hat s - s)$$

# %% tags=["parameters"]
figdir = ""
declarations = ""
cfg = {}

# %%
import matplotlib.pyplot as plt
import pandas as pd
from spdl.claims import ClaimBook
from spdl.figures import save_figure, use_style

use_style()
claims = ClaimBook.declared("toy", "quick", declarations)

# %% [markdown]
# ## Fig. 1

# %%
fig, ax = plt.subplots()
ax.plot([0, 1], [cfg["line"]["slope"]] * 2)
save_figure(fig, pd.DataFrame({"x": [0, 1]}), figdir, "fig1_line")

# %%
claims.check("small", 1.0)

# %%
fig, ax = plt.subplots()
ax.bar([0, 1], [1, 2])
save_figure(fig, pd.DataFrame({"x": [0, 1]}), figdir, "fig2_bars")
claims.check("large", 2.0)

# %%
claims.table("fig2_bars")
'''

CFG = {"line": {"slope": 0.5, "labels": ["a", "b"], "sizes": list(range(40))},
       "bars": {"heights": [1, 2.5e-05, 3], "name": "x" * 90}}


@pytest.fixture(scope="module")
def executed(tmp_path_factory, root):
    tmp = tmp_path_factory.mktemp("nb")
    (tmp / "toy.yaml").write_text(yaml.safe_dump(DECLARED))
    source = tmp / "toy.ipynb"
    nb = jupytext.reads(NOTEBOOK, fmt="py:percent")
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    nbformat.write(nb, source)
    env = dict(os.environ)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root / "src"), env.get("PYTHONPATH")]))
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"  # as the notebook rule sets it
    register_readable_parameters()
    try:
        pm.execute_notebook(str(source), str(tmp / "out.ipynb"), kernel_name="python3", progress_bar=False,
                            parameters=dict(figdir=str(tmp / "figures"), declarations=str(tmp / "toy.yaml"),
                                            cfg=CFG))
    finally:
        os.environ.clear()
        os.environ.update(env)
    nb = nbformat.read(tmp / "out.ipynb", as_version=4)
    return tmp, nb, notebook_html(nb)


def test_one_inline_image_per_figure(executed):
    tmp, nb, html = executed
    pngs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {})]
    assert len(pngs) == 2
    assert html.count("<img") == 2
    assert html.count('src="data:image/png;base64,') == 2
    for name in ("fig1_line", "fig2_bars"):
        for ext in ("png", "pdf", "csv"):
            assert (tmp / "figures" / f"{name}.{ext}").stat().st_size > 0


def test_no_stray_reprs(executed):
    _, nb, html = executed
    results = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "execute_result"]
    # the only cell result is the claims table, rendered as HTML
    assert len(results) == 1 and "text/html" in results[0]["data"]
    for text in ("Claim(", "PosixPath(", "FigurePath(", "Verdict", "&lt;Figure size", "<Figure size"):
        assert text not in html, text
    assert re.search(r"<table[^>]*>.*a \| piped statement|above one", html, re.S)
    assert "[PASS] small" in html


def test_html_needs_no_network(executed):
    _, _, html = executed
    assert not re.search(r"<script[^>]*\bsrc=", html)
    assert not re.search(r"<link[^>]*\bhref=[\"']?https?:", html)
    assert not re.search(r"\bimport\(\s*[\"']https?:", html)
    assert "mathjax" not in html.lower()
    assert html.count("<math") == 2 and 'display="block"' in html
    assert "\\frac12" not in html


def test_parameters_cell_is_readable(executed):
    _, nb, _ = executed
    cell = next(c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", []))
    assert max(map(len, cell.source.splitlines())) <= 110
    assert 'cfg = yaml.safe_load("""' in cell.source
    assert "  slope: 0.5" in cell.source
    namespace = {}
    exec(cell.source, namespace)
    assert namespace["cfg"] == CFG


def test_translator_falls_back_to_python_literals():
    # NaN does not survive the YAML round trip compared with ==: written as a Python literal instead
    text = ReadableTranslator.codify({"cfg": {"a": float("nan"), "b": "x" * 120}, "inputs": {"k": "v"}})
    assert "yaml" not in text
    namespace = {}
    exec(text, namespace)
    assert namespace["inputs"] == {"k": "v"} and namespace["cfg"]["b"] == "x" * 120


def test_unknown_tex_is_shown_as_code():
    assert tex_to_mathml("x^2").startswith("<math")
    assert "<code" in tex_to_mathml("\\begin{nonsense}\\end{other}") or "<math" in tex_to_mathml("x")

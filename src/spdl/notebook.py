"""What a reader opens: the executed notebook's parameters cell and its self-contained HTML.

``register_readable_parameters()`` makes papermill write the injected parameters cell one
name per line, each dict indented, and ``cfg`` as YAML (``cfg = yaml.safe_load('''...''')``:
the notebook still receives the same dict). ``notebook_html(nb)`` renders an executed
notebook as one HTML file that needs no network: figures are embedded as data URIs, math is
converted to MathML (drawn by the browser itself, no MathJax), and the template's
require.js, MathJax, mermaid and widget scripts are left out.
"""

from __future__ import annotations

import html
import math

import yaml
from jinja2 import DictLoader, pass_context
from nbconvert import HTMLExporter
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath
from papermill.translators import PythonTranslator, papermill_translators

WIDTH = 100  # a dict longer than this on one line is written one key per line

# ---------------------------------------------------------------- the parameters cell


class ReadableTranslator(PythonTranslator):
    """papermill's Python translator, writing parameters a reader can scan (``YAML_PARAMETERS`` as YAML)."""

    YAML_PARAMETERS = ("cfg",)

    @classmethod
    def codify(cls, parameters, comment="Parameters"):
        lines = [cls.comment(comment)]
        yaml_text = {name: _as_yaml(val) for name, val in parameters.items() if name in cls.YAML_PARAMETERS}
        yaml_text = {name: text for name, text in yaml_text.items() if text is not None}
        if yaml_text:
            lines.append("import yaml\n")
        for name, val in parameters.items():
            if name in yaml_text:
                lines.append(f'{name} = yaml.safe_load("""\n{yaml_text[name]}""")')
            else:
                lines.append(f"{name} = {cls.pretty(val)}")
        return "\n".join(lines) + "\n"

    @classmethod
    def pretty(cls, val, indent: int = 0) -> str:
        """A Python literal of ``val``: one line if short, else one item per line."""
        flat = cls.translate(val)
        if len(flat) + indent <= WIDTH or not isinstance(val, (dict, list, tuple)) or not val:
            return flat
        pad = " " * (indent + 4)
        if isinstance(val, dict):
            items = [f"{pad}{cls.translate_str(k)}: {cls.pretty(v, indent + 4)}," for k, v in val.items()]
            return "{\n" + "\n".join(items) + "\n" + " " * indent + "}"
        items = [f"{pad}{cls.pretty(v, indent + 4)}," for v in val]
        return "[\n" + "\n".join(items) + "\n" + " " * indent + "]"


def _as_yaml(val) -> str | None:
    """``val`` as block YAML that loads back to exactly ``val``; None where it would not."""
    if not isinstance(val, dict) or not val:
        return None
    try:
        text = yaml.safe_dump(val, sort_keys=False, default_flow_style=None, width=WIDTH, allow_unicode=True)
        back = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    if back != val or '"""' in text or "\\" in text or _has_nan(val):
        return None
    return text


def _has_nan(val) -> bool:
    if isinstance(val, float):
        return math.isnan(val)
    if isinstance(val, dict):
        return any(_has_nan(v) for v in val.values())
    if isinstance(val, (list, tuple)):
        return any(_has_nan(v) for v in val)
    return False


def register_readable_parameters() -> None:
    """Make papermill (in this process) write Python parameters cells with ``ReadableTranslator``."""
    papermill_translators.register("python", ReadableTranslator)


# ---------------------------------------------------------------- the HTML


def tex_to_mathml(tex: str, display: bool = False) -> str:
    """MathML for ``tex``; the TeX itself, as code, where it cannot be converted."""
    from latex2mathml.converter import convert

    try:
        return convert(tex.strip(), display="block" if display else "inline")
    except Exception:  # latex2mathml raises many kinds of errors on TeX it does not know
        code = f'<code class="tex">{html.escape(tex)}</code>'
        return f"<div>{code}</div>" if display else code


class MathMLRenderer(IPythonRenderer):
    """nbconvert's markdown renderer with math converted to MathML instead of left for MathJax."""

    def inline_math(self, body: str) -> str:
        return tex_to_mathml(body)

    def block_math(self, body: str) -> str:
        return tex_to_mathml(body, display=True)

    def latex_environment(self, name: str, body: str) -> str:
        return tex_to_mathml(f"\\begin{{{name}}}{body}\\end{{{name}}}", display=True)


OFFLINE_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}
<style>math[display="block"] { display: block; margin: 0.6em 0; } math { font-size: 1.1em; }</style>
{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""


class OfflineHTMLExporter(HTMLExporter):
    """The JupyterLab HTML export, self-contained: no script is loaded from the network."""

    def __init__(self, **kw):
        kw.setdefault("extra_loaders", [DictLoader({"spdl_offline.html.j2": OFFLINE_TEMPLATE})])
        super().__init__(template_name="lab", **kw)
        self.template_file = "spdl_offline.html.j2"
        self.embed_images = True

    @pass_context
    def markdown2html(self, context, source):
        cell = context.get("cell", {})
        renderer = MathMLRenderer(escape=False, attachments=cell.get("attachments", {}),
                                  embed_images=self.embed_images,
                                  path=context.get("resources", {}).get("metadata", {}).get("path", ""),
                                  anchor_link_text=self.anchor_link_text,
                                  exclude_anchor_links=self.exclude_anchor_links, **self.lexer_options)
        return MarkdownWithMath(renderer=renderer).render(source)


def notebook_html(nb) -> str:
    """The executed notebook ``nb`` (an nbformat node) as one self-contained HTML page."""
    body, _ = OfflineHTMLExporter().from_notebook_node(nb)
    return body

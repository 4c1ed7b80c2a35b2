"""The book's explorers: a MyST-NB mime renderer for `application/vnd.cnnbook.explorer+json` outputs.

A notebook cell shows `cnnbook.explorers.Explorer(payload)`: a bundle of that MIME type (the payload, JSON) and
a text/plain fallback. In the HTML builds this renderer wins over the fallback and writes

    <div class="cnnbook-explorer" id="cnnbook-explorer-ID" data-kind="KIND">
      <script type="application/json" class="cnnbook-explorer-data">PAYLOAD</script></div>

which `_static/explorers.js` (copied from book/_static/, added with explorers.css only to the pages that hold
an explorer) turns into the controls and pictures. Other builders keep the text fallback; in print the CSS hides
the explorer and the static figure before it stays.

MyST-NB 1.4 finds mime renderers through the entry-point group `myst_nb.mime_renderers`
(`myst_nb.core.render.load_mime_renders`). A local extension is not an installed distribution, so `setup`
adds `ExplorerRenderer` to the list that function returns (once, and only if no entry point provides it).
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from docutils import nodes

MIME_TYPE = "application/vnd.cnnbook.explorer+json"
STATIC = Path(__file__).resolve().parents[1] / "_static"
HTML_BUILDERS = ("html", "dirhtml", "singlehtml")


def script_json(payload: dict) -> str:
    """The payload as JSON that is inert inside <script> (no `<`, `>` or `&` left to end the element)."""
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


class ExplorerRenderer:
    """MyST-NB mime render plugin (the `MimeRenderPlugin` protocol of myst_nb.core.render)."""

    mime_priority_overrides = [(builder, MIME_TYPE, 1) for builder in HTML_BUILDERS]

    @staticmethod
    def handle_mime(renderer, data, inline):
        if inline or data.mime_type != MIME_TYPE:
            return None
        payload = data.content if isinstance(data.content, dict) else json.loads(data.content)
        explorer_id = str(payload.get("id", "explorer"))
        text = script_json(payload)
        markup = (f'<div class="cnnbook-explorer" id="cnnbook-explorer-{html.escape(explorer_id)}" '
                  f'data-kind="{html.escape(str(payload.get("kind", "")))}">'
                  f'<script type="application/json" class="cnnbook-explorer-data">{text}</script></div>')
        return [nodes.raw("", markup, format="html", classes=["output", "cnnbook-explorer-output"])]


def _register_plugin() -> None:
    from myst_nb.core import render

    if getattr(render.load_mime_renders, "cnnbook_explorers", False):
        return
    original = render.load_mime_renders

    def load_mime_renders():
        plugins = list(original())
        return plugins if any(p is ExplorerRenderer or getattr(p, "__name__", "") == "ExplorerRenderer"
                              for p in plugins) else plugins + [ExplorerRenderer]

    load_mime_renders.cnnbook_explorers = True
    render.load_mime_renders = load_mime_renders


def _add_static_path(app) -> None:
    """book/_static/ among the static paths (once: _config.yml may list it already)."""
    if all(Path(app.confdir, p).resolve() != STATIC for p in app.config.html_static_path):
        app.config.html_static_path.append(str(STATIC))


def _add_assets(app, pagename, templatename, context, doctree) -> None:
    """explorers.js and explorers.css, once, on the pages that hold an explorer."""
    if doctree is not None and "cnnbook-explorer" in context.get("body", ""):
        app.add_css_file("explorers.css")
        app.add_js_file("explorers.js", loading_method="defer")


def setup(app):
    _register_plugin()
    app.connect("builder-inited", _add_static_path)
    app.connect("html-page-context", _add_assets)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}

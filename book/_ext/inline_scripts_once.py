"""Each page's scripts once: removes the second copy of an inline script that Sphinx 7.4 writes twice.

Sphinx 7.4.7 (the version jupyter-book 1.0.4 pins) keeps a script an extension adds after the builder
started (sphinx-thebe in `env-before-read-docs`, sphinx-togglebutton in `builder-inited`) twice: once as it
was added (file name None), and again from its registry when it prepares writing (file name ""), so the two
copies differ and are both written. Two copies of sphinx-thebe's `const THEBE_JS_URL = …` stop the second
with "Identifier 'THEBE_JS_URL' has already been declared" on every page. This extension drops, on each page,
the scripts that are equal to an earlier one up to that None/"" difference (same body, attributes and
priority), and keeps their order. tests/test_browser_book.py checks that no page logs a console error.
"""

from __future__ import annotations


def _key(script) -> tuple:
    """What makes two scripts the same: file name (None and "" alike), priority, attributes (body included)."""
    filename = getattr(script, "filename", script) or ""
    attributes = getattr(script, "attributes", {})
    return filename, getattr(script, "priority", 500), tuple(sorted(attributes.items()))


def drop_repeated_scripts(app, pagename, templatename, context, doctree) -> None:
    """html-page-context handler: keep the first of the page's equal scripts (in place, in the page's order)."""
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        if _key(script) not in seen:
            seen.add(_key(script))
            unique.append(script)
    scripts[:] = unique


def setup(app):
    # Late (priority 900): after the theme and other extensions added the page's own scripts.
    app.connect("html-page-context", drop_repeated_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

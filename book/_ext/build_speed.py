"""Two slow spots of the pinned Sphinx 7.4 / pybtex 0.25 that cost the book's builds more than half their time.

- pybtex finds each plugin (a style, a backend) by scanning the entry points of every installed distribution,
  and sphinxcontrib-bibtex asks it for every citation of every page (about 280 scans, 11 s of a Chinese build):
  the scan is cached here per (group, name), as the installed distributions do not change during a build.
- Sphinx's Chinese search (`sphinx.search.zh.SearchChinese`) keeps every Latin word of every page in a list and
  tests membership in it once per word it stems, which is quadratic (about 30 000 tests of a growing list, 22 s of
  a Chinese build): the list becomes a set with the list's `extend`. Results are unchanged (tests/test_chinese.py
  checks the Chinese search index; tests/test_browser_chinese.py searches it).
"""

from __future__ import annotations

import functools


class _TermSet(set):
    """The set Sphinx's Chinese search tests words against, with the `extend` its `split` calls."""

    def extend(self, items):
        self.update(items)


def _patch() -> None:
    import pybtex.plugin
    from sphinx.search import zh

    if not getattr(pybtex.plugin.entry_points, "cnnbook_cached", False):
        scan = pybtex.plugin.entry_points

        @functools.lru_cache(maxsize=None)
        def cached(group, name):
            return tuple(scan(group=group) if name is None else scan(group=group, name=name))

        def entry_points(*, group, name=None):
            return cached(group, name)

        entry_points.cnnbook_cached = True
        pybtex.plugin.entry_points = entry_points
    if not isinstance(zh.SearchChinese.latin_terms, _TermSet):
        zh.SearchChinese.latin_terms = _TermSet(zh.SearchChinese.latin_terms)


def setup(app):
    _patch()
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}

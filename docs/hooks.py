"""MkDocs hooks of the documentation site (``hooks:`` in mkdocs.yml; excluded from the built site).

Two small fix-ups, neither of which hides a broken link:

* :func:`on_page_markdown` — a page may link to a file of the repository outside ``docs/`` (a config
  template, a test). The built site is self-contained and has no copy of those files, so such a link is
  rendered as its text (typically the path in a code span). Only links whose target **exists** in the
  repository are rewritten; a link to a missing file is left alone, and ``mkdocs build --strict`` fails
  on it as on any other broken link.
* :func:`on_page_content` — the package's docstrings use Sphinx cross-reference roles
  (``:class:`Call```, ``:meth:`~.Device.connect```). mkdocstrings renders docstrings as Google-style
  Markdown, which leaves the role in front of a code span (``:class:<code>Call</code>``); each such pair
  becomes a plain code span of the target's readable name, as Sphinx shows it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

__all__ = ["on_page_content", "on_page_markdown", "rewrite_repository_links", "strip_sphinx_roles"]

_ROLE = re.compile(r":(?:py:)?(class|meth|func|mod|attr|data|exc|obj|const):<code>(~?)([^<]*)</code>")
_CALLABLE_ROLES = frozenset({"meth", "func"})
_LINK = re.compile(r"(?<!!)\[(?P<text>[^\]\n]+)\]\((?P<target>[^)\s]+)\)")
_FENCE = re.compile(r"^\s*(```|~~~)")


def strip_sphinx_roles(html: str) -> str:
    """Replace ``:role:<code>target</code>`` with a code span of the target's readable name.

    ``~a.b.C`` shows ``C``; ``.x.y`` (relative) shows ``x.y``; functions and methods get ``()``.
    """

    def replace(match: re.Match[str]) -> str:
        role, tilde, target = match.group(1), match.group(2), match.group(3)
        text = target.lstrip(".")
        if tilde:
            text = text.rsplit(".", 1)[-1]
        if role in _CALLABLE_ROLES and not text.endswith(")"):
            text += "()"
        return f"<code>{text}</code>"

    return _ROLE.sub(replace, html)


def _absolute(path: Path) -> Path:
    """``path`` made absolute and normalised (``..`` folded) without following symbolic links."""
    return Path(os.path.normpath(os.path.abspath(path)))


def rewrite_repository_links(markdown: str, page_path: Path, docs_dir: Path, repo_root: Path) -> str:
    """Turn links to existing repository files outside ``docs_dir`` into their text (outside code fences).

    Args:
        markdown: the page source.
        page_path: absolute path of the page's Markdown file.
        docs_dir: absolute path of the documentation directory.
        repo_root: absolute path of the repository (the directory of mkdocs.yml).
    """
    docs_dir, repo_root = _absolute(docs_dir), _absolute(repo_root)

    def replace(match: re.Match[str]) -> str:
        target = match.group("target")
        if "://" in target or target.startswith(("#", "/", "mailto:")):
            return match.group(0)
        file_part = target.split("#", 1)[0]
        if not file_part:
            return match.group(0)
        resolved = _absolute(page_path.parent / file_part)
        if resolved.is_relative_to(docs_dir) or not resolved.is_relative_to(repo_root):
            return match.group(0)
        if not resolved.exists():
            return match.group(0)  # broken: leave it for mkdocs' link validation to report
        return match.group("text")

    out: list[str] = []
    in_fence = False
    for line in markdown.splitlines(keepends=True):
        if _FENCE.match(line):
            in_fence = not in_fence
            out.append(line)
        elif in_fence:
            out.append(line)
        else:
            out.append(_LINK.sub(replace, line))
    return "".join(out)


def on_page_markdown(markdown: str, *, page: Any, config: Any, **_kwargs: Any) -> str:
    """MkDocs event: rewrite links to repository files outside ``docs/``."""
    source = page.file.abs_src_path
    if source is None:
        return markdown
    docs_dir = Path(config["docs_dir"])
    repo_root = Path(config["config_file_path"]).parent
    return rewrite_repository_links(markdown, Path(source), docs_dir, repo_root)


def on_page_content(html: str, **_kwargs: Any) -> str:
    """MkDocs event: post-process every page's HTML."""
    return strip_sphinx_roles(html)

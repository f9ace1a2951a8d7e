"""Helpers of the documentation tests: paths, the fenced code blocks of a page, and running
``mkdocs build --strict``.

``mkdocs`` (requirements/docs.txt) is needed for the build tests. Without it they skip, except under
``CI=true``, where build.py installs requirements/docs.txt and a missing MkDocs is a failure.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCS_DIR = REPO_ROOT / "docs"
README = REPO_ROOT / "README.md"
MKDOCS_YML = REPO_ROOT / "mkdocs.yml"
IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")
BUILD_TIMEOUT = 600


FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>```+|~~~+)(?P<info>[^\n]*)$")


@dataclass(frozen=True)
class CodeBlock:
    """One fenced code block of a page."""

    page: str
    line: int
    language: str
    title: str | None
    code: str

    @property
    def ident(self) -> str:
        """``page:line``, the block's name in test ids and messages."""
        return f"{self.page}:{self.line}"


def code_blocks(path: Path) -> list[CodeBlock]:
    """The fenced code blocks of a Markdown page, in order (indented fences included, dedented).

    ``line`` is the 1-based line of the opening fence; ``page`` is the path relative to the
    repository root for README.md, else the file name.
    """
    blocks: list[CodeBlock] = []
    lines = path.read_text().splitlines()
    page = path.name if path.parent == DOCS_DIR else path.relative_to(REPO_ROOT).as_posix()
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        indent, fence, info = opening.group("indent"), opening.group("fence"), opening.group("info").strip()
        language = info.split()[0] if info else ""
        title_match = re.search(r'title="([^"]*)"', info)
        body: list[str] = []
        index += 1
        while index < len(lines) and lines[index].strip() != fence:
            body.append(lines[index][len(indent):] if lines[index].startswith(indent) else lines[index])
            index += 1
        blocks.append(
            CodeBlock(page, index - len(body), language,
                      title_match.group(1) if title_match else None, "\n".join(body) + "\n")
        )
        index += 1
    return blocks


def user_pages() -> list[Path]:
    """The user pages whose code blocks are checked: docs/*.md and README.md (docs/design/ holds
    contracts in signature notation, not examples)."""
    return [*sorted(DOCS_DIR.glob("*.md")), README]


def all_code_blocks() -> list[CodeBlock]:
    """Every fenced code block of every user page."""
    return [block for page in user_pages() for block in code_blocks(page)]


def titled_block(page: str, title: str) -> CodeBlock:
    """The block of docs/``page`` whose fence has ``title="<title>"``."""
    found = [block for block in code_blocks(DOCS_DIR / page) if block.title == title]
    assert len(found) == 1, f"{page}: expected one block titled {title!r}, found {len(found)}"
    return found[0]


@dataclass(frozen=True)
class SiteBuild:
    """The result of one ``mkdocs build``."""

    returncode: int
    output: str
    site_dir: Path

    @property
    def warnings(self) -> list[str]:
        """Every WARNING/ERROR line of the build log."""
        return [line for line in self.output.splitlines() if re.match(r"^(WARNING|ERROR)\b", line)]


def require_mkdocs() -> None:
    """Skip when MkDocs is not installed (fail instead under CI)."""
    if importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("mkdocstrings") is None:
        message = "mkdocs/mkdocstrings are not installed (pip install -r requirements/docs.txt)"
        if IN_CI:
            pytest.fail(f"CI=true: {message}")
        pytest.skip(message)


def run_mkdocs(config: Path, site_dir: Path, extra: Sequence[str] = ()) -> SiteBuild:
    """``mkdocs build --strict`` of ``config`` into ``site_dir`` (a subprocess of this interpreter)."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    completed = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--clean", "-f", str(config),
         "-d", str(site_dir), *extra],
        cwd=config.parent, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT, check=False,
    )
    return SiteBuild(completed.returncode, completed.stdout + completed.stderr, site_dir)

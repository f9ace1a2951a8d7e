"""Fixtures for the documentation tests: the strict MkDocs build, run once per session."""

from __future__ import annotations

from pathlib import Path

import pytest
from docsite import MKDOCS_YML, SiteBuild, require_mkdocs, run_mkdocs


@pytest.fixture(scope="session")
def site_build(tmp_path_factory: pytest.TempPathFactory) -> SiteBuild:
    """The documentation built with ``mkdocs build --strict`` into a temporary directory."""
    require_mkdocs()
    return run_mkdocs(MKDOCS_YML, tmp_path_factory.mktemp("docs-site") / "site")


@pytest.fixture(scope="session")
def built_site(site_build: SiteBuild) -> Path:
    """The built site's directory (fails the test when the strict build failed)."""
    if site_build.returncode != 0:
        pytest.fail(f"mkdocs build --strict failed:\n{site_build.output}")
    return site_build.site_dir

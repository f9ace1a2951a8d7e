"""The documentation site builds with ``mkdocs build --strict``, and that build catches what it must.

"The build fails on a broken link or a missing docstring of a public name":

* the strict build of the real site passes with no warning (broken links, broken anchors, pages
  missing from the nav, and ``:::`` references that cannot be collected all fail it);
* the negative tests prove the check bites: a copy of the site with a broken link, a broken anchor, or a
  ``:::`` block naming something that does not exist fails;
* every public name (``twochat_voice_web.__all__``, ``twochat_voice_web.sip.__all__``) has a docstring,
  and so has every public method and property of the exported classes;
* every public name has an entry in the site's reference (its object inventory);
* no page loads anything from outside the site (fonts, CDN scripts, analytics).
"""

from __future__ import annotations

import enum
import importlib
import inspect
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from docsite import DOCS_DIR, MKDOCS_YML, REPO_ROOT, SiteBuild, require_mkdocs, run_mkdocs

PUBLIC_MODULES = ("twochat_voice_web", "twochat_voice_web.sip")
#: Names of ``__all__`` that are not objects with a docstring of their own at run time.
NOT_INTROSPECTABLE = {"__version__": "a plain string; the package docstring and the changelog cover it"}


# ------------------------------------------------------------------------------------------ the build


def test_strict_build_passes_without_warnings(site_build: SiteBuild) -> None:
    assert site_build.returncode == 0, site_build.output
    assert site_build.warnings == [], "\n".join(site_build.warnings)


def test_every_page_of_the_docs_folder_is_built(built_site: Path) -> None:
    pages = sorted(p.relative_to(DOCS_DIR).with_suffix(".html") for p in DOCS_DIR.rglob("*.md"))
    missing = [str(page) for page in pages if not (built_site / page).is_file()]
    assert missing == []


def _site_copy(tmp_path: Path) -> Path:
    """A copy of mkdocs.yml and docs/ in ``tmp_path``, with src/ and tests/ linked in (for mkdocstrings
    and for the links to repository files). Returns the copied mkdocs.yml."""
    root = tmp_path / "repo"
    root.mkdir()
    (root / "mkdocs.yml").write_text(MKDOCS_YML.read_text())
    for name in ("src", "tests"):
        (root / name).symlink_to(REPO_ROOT / name, target_is_directory=True)
    for source in DOCS_DIR.rglob("*"):
        target = root / "docs" / source.relative_to(DOCS_DIR)
        if source.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes())
    return root / "mkdocs.yml"


def test_the_copy_used_by_the_negative_tests_builds(tmp_path: Path) -> None:
    require_mkdocs()
    build = run_mkdocs(_site_copy(tmp_path), tmp_path / "site")
    assert build.returncode == 0, build.output


@pytest.mark.parametrize(
    ("page", "addition", "expected"),
    [
        ("faq.md", "\nSee [the missing page](no-such-page.md).\n", r"no-such-page\.md"),
        ("faq.md", "\nSee [Errors](errors.md#no-such-anchor).\n", r"no-such-anchor"),
        ("faq.md", "\nSee [a repository file](../no/such/file.py).\n", r"no/such/file\.py"),
        ("call.md", "\n::: twochat_voice_web.NoSuchName\n", r"NoSuchName"),
    ],
    ids=["broken-link", "broken-anchor", "missing-repository-file", "missing-reference"],
)
def test_strict_build_fails_on_broken_links_and_references(
    tmp_path: Path, page: str, addition: str, expected: str
) -> None:
    require_mkdocs()
    config = _site_copy(tmp_path)
    with (config.parent / "docs" / page).open("a") as handle:
        handle.write(addition)
    build = run_mkdocs(config, tmp_path / "site")
    assert build.returncode != 0, f"the strict build accepted {addition.strip()!r}:\n{build.output}"
    assert re.search(expected, build.output), build.output


# ------------------------------------------------------------------------------------------ docstrings


def _public_names() -> Iterator[tuple[str, str, Any]]:
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            yield module_name, name, getattr(module, name)


def _generated_dataclass_doc(cls: type) -> str:
    """The ``__doc__`` that @dataclass writes for a class without a docstring."""
    try:
        signature = str(inspect.signature(cls)).replace(" -> None", "")
    except (TypeError, ValueError):
        return ""
    return cls.__name__ + signature


def _own_doc(obj: Any) -> str | None:
    doc = obj.__doc__ if isinstance(obj.__doc__, str) else None
    if inspect.isclass(obj) and doc is not None and doc == _generated_dataclass_doc(obj):
        return None
    return doc.strip() if doc else None


def _public_members(cls: type) -> Iterator[tuple[str, Any]]:
    """Public methods and properties defined by ``cls`` or by its bases from this package."""
    for klass in cls.__mro__:
        if not klass.__module__.startswith("twochat_voice_web"):
            continue
        for name, value in vars(klass).items():
            if name.startswith("_"):
                continue
            if isinstance(value, staticmethod | classmethod):
                yield f"{klass.__name__}.{name}", value.__func__
            elif isinstance(value, property) or inspect.isfunction(value):
                yield f"{klass.__name__}.{name}", value


def test_every_public_name_has_a_docstring() -> None:
    missing = []
    for module_name, name, obj in _public_names():
        if name in NOT_INTROSPECTABLE:
            continue
        if _own_doc(obj) is None:
            missing.append(f"{module_name}.{name}")
    assert missing == [], f"public names without a docstring: {missing}"


def test_every_public_method_and_property_has_a_docstring() -> None:
    missing = set()
    for module_name, name, obj in _public_names():
        if not inspect.isclass(obj) or issubclass(obj, enum.Enum):
            continue
        for member_name, member in _public_members(obj):
            if not (member.__doc__ or "").strip():
                missing.add(f"{module_name}.{name}: {member_name}")
    assert sorted(missing) == [], f"public methods/properties without a docstring: {sorted(missing)}"


def test_the_docstring_checks_see_what_is_missing() -> None:
    @dataclass
    class Bare:
        x: int

        def method(self) -> None:
            pass

        @property
        def value(self) -> int:
            return self.x

    Bare.__module__ = "twochat_voice_web.example"  # checked like a class of the package
    assert _own_doc(Bare) is None  # @dataclass's generated signature is not a docstring
    assert sorted(name for name, member in _public_members(Bare) if not member.__doc__) == [
        "Bare.method",
        "Bare.value",
    ]


def test_the_exemptions_name_real_public_names() -> None:
    exported = {name for _module, name, _obj in _public_names()}
    assert set(NOT_INTROSPECTABLE) <= exported


def _inventory(site: Path) -> set[str]:
    """The object names of the site's Sphinx inventory (objects.inv, written by mkdocstrings)."""
    raw = (site / "objects.inv").read_bytes()
    header_end = 0
    for _ in range(4):
        header_end = raw.index(b"\n", header_end) + 1
    text = zlib.decompress(raw[header_end:]).decode()
    return {line.split(" ", 1)[0] for line in text.splitlines() if line}


def test_every_public_name_is_in_the_reference(built_site: Path) -> None:
    documented = _inventory(built_site)
    missing = []
    for module_name, name, obj in _public_names():
        if name in NOT_INTROSPECTABLE:
            continue
        canonical = f"{obj.__module__}.{obj.__qualname__}"
        if not {f"{module_name}.{name}", canonical} & documented:
            missing.append(f"{module_name}.{name} ({canonical})")
    assert missing == [], f"public names missing from the API reference pages: {missing}"


# ------------------------------------------------------------------------------------------ offline

EXTERNAL_RESOURCE = re.compile(
    r"<(?:script|link|img|iframe|source|audio|video|embed)\b[^>]*?\b(?:src|href)=[\"']?(?:https?:)?//", re.I
)
EXTERNAL_CSS = re.compile(r"(?:url\(\s*[\"']?|@import\s+[\"']?)(?:https?:)?//", re.I)


def test_no_page_loads_anything_external(built_site: Path) -> None:
    offenders = []
    for path in built_site.rglob("*"):
        if path.suffix == ".html":
            for match in EXTERNAL_RESOURCE.finditer(path.read_text(errors="replace")):
                offenders.append(f"{path.relative_to(built_site)}: {match.group(0)}")
        elif path.suffix == ".css":
            for match in EXTERNAL_CSS.finditer(path.read_text(errors="replace")):
                offenders.append(f"{path.relative_to(built_site)}: {match.group(0)}")
    assert offenders == []


def test_the_theme_uses_no_web_fonts_and_no_analytics() -> None:
    config = "\n".join(line.split(" #", 1)[0] for line in MKDOCS_YML.read_text().splitlines()
                       if not line.lstrip().startswith("#"))
    assert re.search(r"^\s+font:\s*false\b", config, re.M), "theme.font must be false (no Google Fonts)"
    assert "analytics" not in config
    assert not re.search(r"^\s+-\s+offline\s*$", config, re.M), "material's offline plugin loads unpkg.com"

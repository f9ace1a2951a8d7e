"""The built site references no CDN: our files strictly, vendor files only on paths we never take."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from browser.harness import BuiltSite

TEXT_SUFFIXES = (".html", ".js", ".mjs", ".json", ".py", ".css")
URL = re.compile(r"https?://[^\s\"'`)<>\\]*")
VENDOR_DIRS = ("pyodide", "pyscript")


@dataclass(frozen=True)
class VendorUrl:
    """A URL that a vendored file contains, and why our site never makes that request."""

    files: str
    """Regex on the path under dist/site."""
    url: str
    """Regex on the URL."""
    unreachable_because: str


# Every http(s) reference in the vendored Pyodide and PyScript files, with the reason it is dead code
# for this site. A vendor upgrade that adds a URL fails test_vendor_urls_are_all_known until it is
# reviewed and listed here. The conditions named in the reasons are asserted by the tests below.
VENDOR_URLS = (
    VendorUrl(
        r"^pyodide/pyodide\.m?js$",
        r"^https://cdn\.jsdelivr\.net/pyodide/v\$\{\w+\}/full/$",
        "loadPyodide's cdnUrl: used only for packages not found under packageBaseUrl, which in a "
        "browser defaults to the lock file's directory (/pyodide/); we load no lock packages by name",
    ),
    VendorUrl(
        r"^pyodide/package\.json$",
        r"^https://github\.com/pyodide/pyodide",
        "npm metadata (homepage, repository, bugs) of the copied package.json; data, not code",
    ),
    VendorUrl(
        r"^pyodide/pyodide\.asm\.mjs$",
        r"^https://\$\{\w+\}$",
        "Node-only socket shim (URL parsing of a host:port), never run in a browser",
    ),
    VendorUrl(
        r"^pyscript/core-[\w-]+\.js$",
        r"^https://cdn\.jsdelivr\.net/pyodide/v\$\{\w+\}/full/pyodide\.mjs$",
        "PyScript's default interpreter URL, used only when a config has no 'interpreter'",
    ),
    VendorUrl(
        r"^pyscript/core-[\w-]+\.js$",
        r"^https://cdn\.jsdelivr\.net/npm/@micropython/micropython-webassembly-pyscript@",
        'MicroPython interpreter: only for <script type="mpy">, which no page uses',
    ),
    VendorUrl(
        r"^pyscript/core-[\w-]+\.js$",
        r"^https://micropython\.org/pi/v2$",
        "MicroPython's mip package index (MicroPython only)",
    ),
    VendorUrl(
        r"^pyscript/core-[\w-]+\.js$",
        r"^https://raw\.githubusercontent\.com/$",
        "MicroPython mip's github: URL rewriting (MicroPython only)",
    ),
    VendorUrl(
        r"^pyscript/core-[\w-]+\.js$",
        r"^https://packages\.pyscript\.net/\?q=",
        "text of a console warning about 'packages' (our config has none); never fetched",
    ),
    VendorUrl(
        r"^pyscript/core-[\w-]+\.js$",
        r"^https://(developer\.mozilla\.org|docs\.pyscript\.net|github\.com|pyscript\.github\.io)/",
        "links inside error/warning message texts; never fetched",
    ),
    VendorUrl(
        r"^pyscript/core-[\w-]+\.js$",
        r"^https?://(0\.0\.0\.0)?$",
        "protocol prefix tests and a URL-parsing base; never fetched",
    ),
    VendorUrl(
        r"^pyscript/[\w-]+\.js$",
        r"^http://www\.w3\.org/2000/svg$",
        "the SVG XML namespace name, an identifier; never fetched",
    ),
    VendorUrl(
        r"^pyscript/xterm\.css$",
        r"^https://www\.jsdelivr\.com/using-sri-with-dynamic-files$",
        "a comment in the stylesheet; never fetched",
    ),
)


def text_files(site: Path) -> list[Path]:
    return sorted(p for p in site.rglob("*") if p.is_file() and p.suffix in TEXT_SUFFIXES)


def is_vendor(site: Path, path: Path) -> bool:
    return path.relative_to(site).parts[0] in VENDOR_DIRS


# XML namespace names: identifiers that look like URLs and are never fetched (createElementNS, xmlns).
XML_NAMESPACES = frozenset(
    {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink", "http://www.w3.org/1999/xhtml"}
)


def test_our_files_reference_no_external_url(built_site: BuiltSite) -> None:
    site = built_site.site
    offenders = {}
    ours = [path for path in text_files(site) if not is_vendor(site, path)]
    assert any(path.name == "index.html" for path in ours)
    for path in ours:
        found = [url for url in URL.findall(path.read_text(errors="replace")) if url not in XML_NAMESPACES]
        if found:
            offenders[path.relative_to(site).as_posix()] = found
    assert offenders == {}


def test_vendor_urls_are_all_known_and_unreachable(built_site: BuiltSite) -> None:
    site = built_site.site
    unknown: dict[str, list[str]] = {}
    scanned = 0
    for path in text_files(site):
        if not is_vendor(site, path):
            continue
        scanned += 1
        relative = path.relative_to(site).as_posix()
        for url in set(URL.findall(path.read_text(errors="replace"))):
            known = (re.search(e.files, relative) and re.search(e.url, url) for e in VENDOR_URLS)
            if not any(known):
                unknown.setdefault(relative, []).append(url)
    assert scanned > 10
    assert unknown == {}, "review these vendor URLs and list them in VENDOR_URLS with a reason"


def test_pyscript_config_takes_no_cdn_path(built_site: BuiltSite) -> None:
    """The conditions the VENDOR_URLS reasons rely on hold for our config and pages."""
    site = built_site.site
    for config_path in (site / "pyscript.json", site / "app" / "pyscript.json"):
        config = json.loads(config_path.read_text())
        assert config["interpreter"] == "/scripts/twochat-pyodide.mjs"
        assert (site / "scripts" / "twochat-pyodide.mjs").is_file()
        assert "packages" not in config, "'packages' would go through micropip, which the npm pyodide lacks"
        for source, destination in config.get("files", {}).items():
            assert source.startswith("./"), source
            assert (config_path.parent / source).is_file(), source
            assert not destination.startswith(("http:", "https:", "github:"))
    for page in site.rglob("*.html"):
        html = page.read_text()
        assert 'type="mpy"' not in html, page
        assert "<mpy-" not in html, page
        for match in re.finditer(r"<script\b[^>]*type=\"py\"[^>]*>", html):
            assert re.search(r'config="\./(app/)?pyscript\.json"', match.group(0)), (page, match.group(0))


# The page's own backend (www/app/backend.py): endpoints the sandbox answers, not files of the site.
# The softphone preloads its account list from it while Python starts.
BACKEND_ENDPOINTS = ("./demo/users",)


@pytest.mark.parametrize("page_name", ["index.html", "click-to-call.html", "plain-js.html"])
def test_pages_load_scripts_and_styles_from_the_site(built_site: BuiltSite, page_name: str) -> None:
    html = (built_site.site / page_name).read_text()
    for reference in re.findall(r"""(?:src|href)=["']([^"']+)["']""", html):
        if reference.startswith(
            ("data:", "#")
        ):  # inline data, or a fragment of this page (<use href="#i-…">)
            continue
        assert reference.startswith("./"), reference
        if reference in BACKEND_ENDPOINTS:
            continue
        assert (built_site.site / reference.split("?")[0]).is_file(), reference

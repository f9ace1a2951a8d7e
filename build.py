#!/usr/bin/env python3
"""The single entry point for building, demoing, testing and benchmarking twochat-voice-web.

Runs with the system ``python3`` (stdlib only) on a fresh Debian machine:

    python3 build.py            build the wheel and stage dist/site/ (the self-contained demo site)
    python3 build.py demo       set up (.venv, npm), build, and run the sandbox serving the site
    python3 build.py test [..]  set up, install Chromium and the interop tools, build, run pytest
                                (arguments after ``test`` go to pytest: -k, -m, paths, ...)
    python3 build.py bench [..] set up, build, and run bench/bench_*.py (the named ones; none: all but the
                                long ones, --all: all); writes bench/results/ (latest.md: us vs JsSIP)

Every step is incremental: pip runs only when the pinned requirements change (a stamp in .venv), npm
only when package-lock.json changes, the wheel is rebuilt only when its sources change, pinned
wheels are downloaded only when missing, and files are copied into dist/ only when they differ.

Outputs (see docs/design/architecture.md, "Build outputs"):

    dist/wheels/                 our wheel (built) and the pinned third-party wheels (downloaded)
    dist/site/                   www/ pages, pyodide/ (vendored core), pyscript/, wheels/,
                                 pyscript.json (the PyScript config), build-info.json
    dist/test-assets/            test-only: pages/, vendor/jssip.min.js, wheels/ (pytest... for the
                                 in-Pyodide unit run), pyodide/ (the in-Pyodide runner), suites/*.zip
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
DIST = ROOT / "dist"
WHEELS = DIST / "wheels"
SITE = DIST / "site"
TEST_ASSETS = DIST / "test-assets"
NODE_MODULES = ROOT / "node_modules"
REQUIREMENTS = ROOT / "requirements"
REQUIREMENTS_DEV = REQUIREMENTS / "dev.txt"
REQUIREMENTS_SITE_WHEELS = REQUIREMENTS / "site-wheels.txt"
REQUIREMENTS_PYODIDE_TEST_WHEELS = REQUIREMENTS / "pyodide-test-wheels.txt"
# Wheels that are downloaded for the browser, never installed into .venv; every other
# requirements/*.txt (dev.txt, docs.txt, ...) is installed into .venv.
DOWNLOAD_ONLY_REQUIREMENTS = frozenset({REQUIREMENTS_SITE_WHEELS.name, REQUIREMENTS_PYODIDE_TEST_WHEELS.name})

PACKAGE_NAME = "twochat_voice_web"
DEMO_PORT = 8765

# Files of the npm pyodide package that make up the runtime we serve (the rest is typings, a Node
# console and docs; console.html would pull xterm from a CDN, so it is deliberately not copied).
PYODIDE_RUNTIME_FILES = (
    "pyodide.mjs",
    "pyodide.mjs.map",
    "pyodide.js",
    "pyodide.js.map",
    "pyodide.asm.mjs",
    "pyodide.asm.wasm",
    "python_stdlib.zip",
    "pyodide-lock.json",
    "package.json",
)

# Vendored files that get precompressed ``.br`` and ``.gz`` twins (the sandbox serves the best one the
# browser accepts, with Content-Encoding). python_stdlib.zip and wheels are already compressed; the
# Python bundle is a stored (uncompressed) zip precisely so that brotli can do better than deflate.
GZIP_SUFFIXES = frozenset({".wasm", ".mjs", ".js", ".json", ".css"})
GZIP_MIN_BYTES = 1024
# Brotli quality: 11 (the best) for vendored files, which change only with an npm upgrade (cached in
# dist/cache/br/, ~1-2 min once for pyodide.asm.wasm), and for the Python bundle too: its SDK zip changes
# with every SDK edit, but 1.5 MB take ~3 s at 11, and 11 sends 28 kB (9%) less than 9 on every first visit.
BROTLI_QUALITY_VENDORED = 11
BROTLI_QUALITY_BUNDLE = 11

# The Python bundle of the fast start (www/scripts/twochat-start.mjs), two stored zips in dist/site/pyodide/:
# twochat-stdlib-<hash>.zip, loadPyodide's ``stdLibURL``, holds only the standard-library modules that
# Pyodide's start-up and the SDK can import (a static import closure computed with Pyodide's own Python,
# plus the codecs below, which are imported by name); twochat-sdk-<hash>.zip holds the SDK. Both are
# compiled to bytecode by Pyodide's CPython, so that no import compiles source in the browser (the SDK's
# source alone takes ~0.9 s to compile there). Modules of the SDK that never run in a browser are left out.
PYTHON_BUNDLE_PACKAGES = ("twochat_voice_web", "pyodide", "_pyodide")
PYTHON_BUNDLE_EXCLUDED = ("twochat_voice_web.sandbox", "twochat_voice_web.server")
# Our own modules keep their class docstrings (a dataclass without one computes it with
# inspect.signature at import) and lose the others; the standard library is compiled like ``-OO``.
PYTHON_BUNDLE_OWN = ("twochat_voice_web",)
# Where the page puts the SDK zip in Pyodide's file system (on sys.path through PYTHONPATH).
PYTHON_BUNDLE_SDK_PATH = "/lib/twochat_voice_web.zip"
# A third zip for PyScript pages (www/scripts/twochat-pyodide.mjs, PyScript's ``interpreter``): PyScript's own
# Python package (``pyscript``, from npm @pyscript/core: the very files its standard-library step writes
# into the page's file system, see below) compiled to bytecode, put first on sys.path, so that
# ``import pyscript`` compiles nothing.
PYTHON_BUNDLE_PYSCRIPT_PATH = "/lib/pyscript.zip"
# PyScript's standard-library step: the Python source PyScript runs before each <script type="py"> (it writes
# the package above into the working directory, then imports it), as @pyscript/core's src/stdlib.js
# assembles it. build-info.json records its length and FNV-1a hash: twochat-pyodide.mjs runs that exact
# text as ``import pyscript`` (the bytecode package), any other text unchanged.
PYSCRIPT_STDLIB_STEP_MODULE = NODE_MODULES / "@pyscript" / "core" / "src" / "stdlib.js"
# The demo pages' modules (www/app/*.py) compiled the same way, unpacked by PyScript ("files") into app/ of
# its working directory (Pyodide's home), where Python imports them without their sources.
DEMO_APP_DIR = ROOT / "www" / "app"
PYSCRIPT_WORKING_DIRECTORY = "/home/pyodide"
# Standard-library modules that the static closure reaches only through code that never runs in a
# page (process pools, test frameworks, REPLs, debuggers, servers, Windows/macOS support): left out
# unless Pyodide itself imports them at start-up.
PYTHON_BUNDLE_DENIED = (
    "_aix_support", "_android_support", "_apple_support", "_ios_support", "_osx_support", "_pyrepl",
    "asyncio.__main__", "asyncio.windows_events", "asyncio.windows_utils", "bdb", "code",
    "concurrent.futures.interpreter", "concurrent.futures.process", "concurrent.interpreters", "curses",
    "dbm", "doctest", "ensurepip", "http.server", "idlelib", "lib2to3", "multiprocessing", "pdb",
    "pydoc", "pydoc_data", "pyodide.console", "rlcompleter", "sqlite3", "tkinter", "turtle", "unittest",
    "venv", "wsgiref", "xml", "xmlrpc", "zipapp",
    # command-line entry points (``main()`` of ast, calendar, platform, tarfile, uuid, zipfile...)
    "argparse", "getopt", "gettext",
    # the pure-Python fallbacks of C modules Pyodide has, and macOS/Windows-only helpers
    "_pydatetime", "_pydecimal", "_ast_unparse", "plistlib", "ctypes", "tracemalloc", "platform",
    # pickling (logging's loggers refuse it with pickle.PicklingError, lazily imported)
    "pickle", "_compat_pickle", "pprint",
    # URL fetching, mail and package metadata (pathlib.Path.from_uri, importlib.metadata): a page
    # fetches with pyodide.http / the browser, and the SDK reads no package metadata
    "email", "ftplib", "http.client", "http.cookiejar", "importlib.metadata", "mimetypes", "netrc",
    "urllib.request", "urllib.response",
    # archives and formats reached only through shutil's archive functions (tar: ``files`` in PyScript
    # take .zip and .whl archives here), ssl's certificate dates and zipfile's PyZipFile
    "tarfile", "gzip", "calendar", "py_compile",
    # exact statistics (and fractions, which it imports): only random's self-test (``random._test``)
    # reaches them; the SDK averages with math.fsum
    "statistics",
)
PYTHON_BUNDLE_MODULES = (
    "encodings.aliases", "encodings.ascii", "encodings.base64_codec", "encodings.charmap",
    "encodings.cp437", "encodings.hex_codec", "encodings.idna", "encodings.latin_1", "encodings.punycode",
    "encodings.raw_unicode_escape", "encodings.unicode_escape", "encodings.utf_16", "encodings.utf_16_be",
    "encodings.utf_16_le", "encodings.utf_32", "encodings.utf_32_be", "encodings.utf_32_le",
    "encodings.utf_8", "encodings.utf_8_sig", "sysconfig",
)

# The Debian packages the interop suite drives (recipe: shared/recipes/sip-stack.md).
INTEROP_APT_PACKAGES = (
    "kamailio",
    "kamailio-websocket-modules",
    "kamailio-tls-modules",
    "rtpengine-daemon",
    "rtpengine-utils",
    "sip-tester",
    "baresip",
    "tcpdump",
)

# The RFC torture-test corpora (tests/unit/rfc4475/README.md): the RFCs' own message files, byte for byte,
# downloaded at test set-up from a published package that carries them, checked against the repository's
# SHA256SUMS, and kept in SIP_TORTURE_DIR (git ignores .cache/), which `build.py test` hands to the tests as
# $TWOCHAT_SIP_TORTURE_DIR. corpus -> (npm package, version, SHA-256 of its tarball, folder in the tarball).
# npm `sip` 0.0.6 (kirm/sip.js, MIT) ships RFC 4475's Appendix A archive as test/messages/*.dat: all 50 files
# match tests/unit/rfc4475/SHA256SUMS (among other files of its own, which are not used).
# No published package here carries RFC 5118's archive (tests/unit/rfc5118/README.md lists what was checked).
SIP_TORTURE_DIR = ROOT / ".cache" / "sip-torture"
SIP_TORTURE_ENV = "TWOCHAT_SIP_TORTURE_DIR"
SIP_TORTURE_SOURCES = {
    "rfc4475": ("sip", "0.0.6", "7daa669522d687d4dd0a3c54a7e9c8514e35eecc1c38c7d4a445b4bc980277ff",
                "package/test/messages"),
}

# Test suites zipped into dist/test-assets/suites/ for the in-Pyodide pytest run: name -> directory.
PYODIDE_SUITES = {"unit": Path("tests/unit"), "selftest": Path("tests/pyodide/selftest")}

_STARTED = time.monotonic()
_APT_UPDATED = False
_GZIP_USED: set[Path] = set()
_BROTLI_USED: set[Path] = set()


class BuildError(Exception):
    """A build step failed; the message says which and why."""


# --------------------------------------------------------------------------------------------------
# output


def say(message: str) -> None:
    """Print one progress line (flushed, so that CI logs interleave correctly)."""
    print(message, flush=True)


@contextlib.contextmanager
def step(title: str) -> Iterator[None]:
    """Print a step header and, at the end, how long the step took."""
    say(f"==> {title}")
    started = time.monotonic()
    yield
    say(f"    ({time.monotonic() - started:.1f} s)")


def run(
    command: Sequence[str | Path], *, cwd: Path = ROOT, env: dict[str, str] | None = None, quiet: bool = False
) -> None:
    """Run a command, echoing it; raise BuildError when it fails.

    ``quiet`` keeps the command's output unless it fails.
    """
    shown = " ".join(str(part) for part in command)
    say(f"    $ {shown}")
    completed = subprocess.run(
        [str(part) for part in command], cwd=cwd, env=env, check=False,
        stdout=subprocess.PIPE if quiet else None, stderr=subprocess.STDOUT if quiet else None,
    )
    if completed.returncode != 0:
        if quiet:
            output = completed.stdout.decode(errors="replace")
            # Node prints the minified source line of an exception: keep the end, where the cause is.
            print(output if len(output) <= 12_000 else "…" + output[-12_000:], flush=True)
        raise BuildError(f"command failed with exit code {completed.returncode}: {shown}")


# --------------------------------------------------------------------------------------------------
# small file helpers


def sha256_of_files(paths: Sequence[Path], *, extra: str = "") -> str:
    """A digest over the names and contents of ``paths`` (in the given order) plus ``extra``."""
    digest = hashlib.sha256(extra.encode())
    for path in paths:
        digest.update(str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes() if path.exists() else b"<missing>")
        digest.update(b"\0")
    return digest.hexdigest()


def tree_files(directory: Path) -> list[Path]:
    """Every regular file under ``directory``, sorted, skipping caches and compiled files."""
    if not directory.is_dir():
        return []
    return sorted(
        path
        for path in directory.rglob("*")
        if path.is_file()
        and "__pycache__" not in path.parts
        and not any(part.startswith(".") for part in path.relative_to(directory).parts)  # .mypy_cache...
        and not any(part.endswith(".egg-info") for part in path.parts)
        and path.suffix not in (".pyc", ".pyo")
        and path.name != ".DS_Store"
    )


def shown_path(path: Path) -> str:
    """``path`` relative to the repository when inside it, for messages."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def read_stamp(path: Path) -> str | None:
    """The content of a stamp file, or None when absent."""
    return path.read_text().strip() if path.exists() else None


def write_if_changed(path: Path, data: bytes) -> bool:
    """Write ``data`` to ``path`` unless it already holds exactly that; return whether it wrote."""
    if path.exists() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(data)
    temporary.replace(path)
    return True


def sync_tree(destination: Path, plan: dict[str, Path | bytes]) -> tuple[int, int, int]:
    """Make ``destination`` hold exactly ``plan`` (relative path -> source file or generated bytes).

    Files are copied only when missing or different in size/mtime (copies keep the source mtime),
    generated content only when it changed, and files not in the plan are removed.
    Returns (copied, unchanged, removed).
    """
    copied = unchanged = removed = 0
    destination.mkdir(parents=True, exist_ok=True)
    for relative, source in sorted(plan.items()):
        target = destination / relative
        if isinstance(source, bytes):
            if write_if_changed(target, source):
                copied += 1
            else:
                unchanged += 1
            continue
        source_stat = source.stat()
        if target.exists():
            target_stat = target.stat()
            if target_stat.st_size == source_stat.st_size and int(target_stat.st_mtime) == int(
                source_stat.st_mtime
            ):
                unchanged += 1
                continue
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(target.name + ".tmp")
        shutil.copy2(source, temporary)
        temporary.replace(target)  # atomic: a server reading the site never sees half a file
        copied += 1
    wanted = {destination / relative for relative in plan}
    for existing in sorted(destination.rglob("*"), reverse=True):
        if existing.is_file() and existing not in wanted:
            existing.unlink()
            removed += 1
        elif existing.is_dir() and not any(existing.iterdir()):
            existing.rmdir()
    return copied, unchanged, removed


def gzip_variant(source: Path) -> Path:
    """A gzip -9 copy of ``source``, cached in dist/cache/gzip/ and rebuilt only when the source changes."""
    info = source.stat()
    key = hashlib.sha256(f"{source.resolve()}|{info.st_size}|{info.st_mtime_ns}".encode()).hexdigest()[:24]
    cached = DIST / "cache" / "gzip" / f"{key}-{source.name}.gz"
    if not cached.exists():
        cached.parent.mkdir(parents=True, exist_ok=True)
        temporary = cached.with_name(cached.name + ".tmp")
        with source.open("rb") as raw, gzip.GzipFile(temporary, "wb", compresslevel=9, mtime=0) as packed:
            shutil.copyfileobj(raw, packed, 1 << 20)
        temporary.replace(cached)
    _GZIP_USED.add(cached)
    return cached


def prune_gzip_cache() -> None:
    """Drop cached gzip twins that the last staging of dist/site did not use."""
    cache = DIST / "cache" / "gzip"
    if not _GZIP_USED or not cache.is_dir():
        return
    for cached in cache.glob("*.gz"):
        if cached not in _GZIP_USED:
            cached.unlink()


# A Node script (zlib's brotli: no Python package needed) compressing several files at once on the
# libuv thread pool. argv: a JSON file [[source, destination, quality], ...].
BROTLI_NODE_SCRIPT = """\
import { readFileSync, writeFileSync, renameSync } from "node:fs";
import { brotliCompress, constants } from "node:zlib";
import { promisify } from "node:util";
const compress = promisify(brotliCompress);
const jobs = JSON.parse(readFileSync(process.argv[2], "utf8"));
await Promise.all(jobs.map(async ([source, destination, quality]) => {
  const data = readFileSync(source);
  const packed = await compress(data, { params: {
    [constants.BROTLI_PARAM_QUALITY]: quality,
    [constants.BROTLI_PARAM_LGWIN]: 24,
    [constants.BROTLI_PARAM_SIZE_HINT]: data.length,
  } });
  writeFileSync(destination + ".tmp", packed);
  renameSync(destination + ".tmp", destination);
}));
"""


def node_script(name: str, text: str) -> Path:
    """Write one of build.py's embedded Node scripts to dist/cache/tools/ (when changed); its path."""
    path = DIST / "cache" / "tools" / name
    write_if_changed(path, text.encode())
    return path


def brotli_variants(sources: Sequence[Path], *, quality: int) -> dict[Path, Path]:
    """A brotli copy of each of ``sources`` (source -> cached .br), cached in dist/cache/br/.

    Only missing ones are compressed, all in one Node process (zlib's brotli, in parallel).
    """
    cached_for: dict[Path, Path] = {}
    pending: list[list[object]] = []
    for source in sources:
        key = hashlib.sha256(source.read_bytes() + f"|q{quality}".encode()).hexdigest()[:24]
        cached = DIST / "cache" / "br" / f"{key}-{source.name}.br"
        cached_for[source] = cached
        _BROTLI_USED.add(cached)
        if not cached.exists():
            pending.append([str(source), str(cached), quality])
    if pending:
        (DIST / "cache" / "br").mkdir(parents=True, exist_ok=True)
        ensure_node()
        names = ", ".join(Path(str(job[0])).name for job in pending)
        say(f"    brotli -q {quality}: {names} (once; cached in dist/cache/br/)")
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as jobs_file:
            json.dump(pending, jobs_file)
        try:
            run(["node", node_script("brotli.mjs", BROTLI_NODE_SCRIPT), jobs_file.name], quiet=True)
        finally:
            os.unlink(jobs_file.name)
    return cached_for


def prune_brotli_cache() -> None:
    """Drop cached brotli twins that the last staging of dist/site did not use."""
    cache = DIST / "cache" / "br"
    if not _BROTLI_USED or not cache.is_dir():
        return
    for cached in cache.glob("*.br"):
        if cached not in _BROTLI_USED:
            cached.unlink()


def deterministic_zip(files: Mapping[str, Path | bytes]) -> bytes:
    """A zip of ``files`` (archive name -> path or contents) with fixed timestamps, so equal inputs give
    equal bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            source = files[name]
            archive.writestr(info, source if isinstance(source, bytes) else source.read_bytes())
    return buffer.getvalue()


# --------------------------------------------------------------------------------------------------
# system packages (Debian)


def is_root() -> bool:
    """Whether we may run apt-get."""
    return hasattr(os, "geteuid") and os.geteuid() == 0


def dpkg_installed(package: str) -> bool:
    """Whether Debian package ``package`` is installed (dpkg-query)."""
    if shutil.which("dpkg-query") is None:
        return False
    completed = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True, check=False
    )
    return completed.returncode == 0 and completed.stdout.strip() == "install ok installed"


def apt_install(packages: Sequence[str], *, reason: str) -> bool:
    """Install the missing ones of ``packages`` with apt-get (no recommends); return whether all are there."""
    global _APT_UPDATED
    missing = [package for package in packages if not dpkg_installed(package)]
    if not missing:
        say(f"    {reason}: all {len(packages)} Debian packages present")
        return True
    if shutil.which("apt-get") is None or not is_root():
        say(f"    WARNING {reason}: missing {' '.join(missing)} and cannot install them here "
            "(needs root and apt-get); the tests that need them will skip (fail under CI=true)")
        return False
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    lock = ["-o", "DPkg::Lock::Timeout=900"]
    if not _APT_UPDATED:
        run(["apt-get", *lock, "update", "-q"], env=env)
        _APT_UPDATED = True
    run(["apt-get", *lock, "install", "-y", "-q", "--no-install-recommends", *missing], env=env)
    return True


def ensure_node() -> None:
    """Make sure node and npm exist (Debian's nodejs/npm when missing and root)."""
    if shutil.which("node") and shutil.which("npm"):
        return
    with step("installing node and npm (Debian)"):
        apt_install(["nodejs", "npm"], reason="node")
    if not (shutil.which("node") and shutil.which("npm")):
        raise BuildError("node and npm are required (apt-get install nodejs npm)")


# --------------------------------------------------------------------------------------------------
# Python virtualenv


def venv_python() -> Path:
    """The virtualenv's interpreter."""
    return VENV / "bin" / "python"


def venv_requirement_files() -> list[Path]:
    """The requirements files installed into .venv: dev.txt first, then the other non-download ones."""
    others = sorted(
        path for path in REQUIREMENTS.glob("*.txt")
        if path != REQUIREMENTS_DEV and path.name not in DOWNLOAD_ONLY_REQUIREMENTS
    )
    return [REQUIREMENTS_DEV, *others]


def ensure_venv() -> None:
    """Create .venv when missing and install the pinned requirements plus the package (editable).

    pip runs only when the stamp (requirements files, pyproject.toml, interpreter version) changed.
    """
    with step("python virtualenv (.venv)"):
        if not venv_python().exists():
            say(f"    creating {shown_path(VENV)} with {sys.executable}")
            completed = subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=False)
            if completed.returncode != 0:
                # Debian's python3 ships venv without ensurepip: python3-venv adds it.
                version = f"{sys.version_info.major}.{sys.version_info.minor}"
                apt_install(["python3-venv", f"python{version}-venv"], reason="venv")
                shutil.rmtree(VENV, ignore_errors=True)
                run([sys.executable, "-m", "venv", str(VENV)])
        interpreter = subprocess.run(
            [str(venv_python()), "-c", "import sys; print(sys.version)"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
        stamp_path = VENV / ".twochat-requirements.sha256"
        requirement_files = venv_requirement_files()
        stamp = sha256_of_files(
            [*requirement_files, ROOT / "pyproject.toml", SANDBOX_DIST / "pyproject.toml"], extra=interpreter
        )
        if read_stamp(stamp_path) == stamp:
            say("    pinned requirements already installed (stamp matches)")
            return
        pip = [str(venv_python()), "-m", "pip", "--disable-pip-version-check"]
        run([*pip, "install", "-q", *(part for path in requirement_files for part in ("-r", path))])
        run([*pip, "install", "-q", "--no-deps", "--no-build-isolation", "-e", ROOT])
        # The server-side distribution, editable too (its src is a link to ../src): the sandbox and the
        # pytest plugin's entry point, as a user's `pip install` of the built wheel gives them.
        run([*pip, "install", "-q", "--no-deps", "--no-build-isolation", "-e", SANDBOX_DIST])
        stamp_path.write_text(stamp + "\n")


# --------------------------------------------------------------------------------------------------
# npm


def ensure_node_modules() -> None:
    """Install the pinned npm packages with ``npm ci`` (``npm install`` when there is no lock yet)."""
    with step("npm packages (pyodide, @pyscript/core; esbuild; for tests jssip, puppeteer-core, typescript)"):
        lock = ROOT / "package-lock.json"
        stamp_path = NODE_MODULES / ".twochat-lock.sha256"
        stamp = sha256_of_files([ROOT / "package.json", lock])
        needed = [NODE_MODULES / "pyodide" / "pyodide.mjs", NODE_MODULES / "@pyscript" / "core" / "dist"]
        if read_stamp(stamp_path) == stamp and all(path.exists() for path in needed):
            say("    node_modules matches package-lock.json (stamp matches)")
            return
        ensure_node()
        quiet = ["--no-audit", "--no-fund", "--loglevel=error"]
        # puppeteer-core drives Debian's chromium and firefox-esr: it must not try to download a browser
        env = {**os.environ, "PUPPETEER_SKIP_DOWNLOAD": "1"}
        run(["npm", "ci", *quiet] if lock.exists() else ["npm", "install", *quiet], env=env)
        stamp_path.write_text(stamp + "\n")


def npm_version(package: str) -> str:
    """The installed version of an npm package."""
    manifest = NODE_MODULES / package / "package.json"
    return str(json.loads(manifest.read_text())["version"])


# --------------------------------------------------------------------------------------------------
# wheels


def package_version() -> str:
    """Our version, read from src/twochat_voice_web/_version.py without importing the package."""
    text = (ROOT / "src" / PACKAGE_NAME / "_version.py").read_text()
    match = re.search(r"""^__version__\s*=\s*["']([^"']+)["']""", text, re.MULTILINE)
    if match is None:
        raise BuildError("src/twochat_voice_web/_version.py has no __version__ = '...' line")
    return match.group(1)


SERVER_SIDE_PACKAGES = ("sandbox", "server", "testing")
"""Subpackages of twochat_voice_web that are not the SDK: they ship in the twochat-voice-web-sandbox wheel
(built from SANDBOX_DIST), never in the browser wheel."""
SANDBOX_DIST = ROOT / "twochat-voice-web-sandbox"
SANDBOX_DIST_NAME = "twochat_voice_web_sandbox"


def is_server_side(path: Path) -> bool:
    """Whether a file of src/twochat_voice_web belongs to the server-side distribution."""
    relative = path.relative_to(ROOT / "src" / PACKAGE_NAME)
    return bool(relative.parts) and relative.parts[0] in SERVER_SIDE_PACKAGES


def wheel_sources() -> list[Path]:
    """The files that go into our SDK wheel (the package without its server-side subpackages)."""
    extras = [ROOT / "pyproject.toml", ROOT / "README.md", *sorted(ROOT.glob("LICENSE*"))]
    package = [path for path in tree_files(ROOT / "src" / PACKAGE_NAME) if not is_server_side(path)]
    return [path for path in extras if path.exists()] + package


def sandbox_wheel_sources() -> dict[str, Path]:
    """The build tree of the server-side wheel: scratch-relative name -> file.

    SANDBOX_DIST's pyproject.toml and README, the server-side subpackages, and the package's __init__.py
    and _version.py (setuptools needs them to find the subpackages and read the version; they are not
    packaged: the wheel depends on the SDK's).
    """
    files = {name: SANDBOX_DIST / name for name in ("pyproject.toml", "README.md")}
    package_dir = ROOT / "src" / PACKAGE_NAME
    for name in ("__init__.py", "_version.py"):
        files[f"src/{PACKAGE_NAME}/{name}"] = package_dir / name
    for path in tree_files(package_dir):
        if is_server_side(path):
            files[f"src/{PACKAGE_NAME}/{path.relative_to(package_dir).as_posix()}"] = path
    return files


def build_one_wheel(label: str, distribution: str, files: dict[str, Path]) -> Path:
    """Build the pure wheel of ``distribution`` from ``files`` (scratch name -> source) into dist/wheels/,
    unless those files are unchanged since the last build."""
    with step(f"wheel: {label}"):
        WHEELS.mkdir(parents=True, exist_ok=True)
        version = package_version()
        expected = WHEELS / f"{distribution}-{version}-py3-none-any.whl"
        stamp_path = WHEELS / f".{distribution}.sha256"
        stamp = sha256_of_files(list(files.values()), extra="|".join(sorted(files)))
        if expected.exists() and read_stamp(stamp_path) == stamp:
            say(f"    {expected.name} is up to date")
            return expected
        for old in WHEELS.glob(f"{distribution}-*.whl"):
            old.unlink()
        # Build from a clean copy: no stale build/ directory, no egg-info, nothing but the sources.
        with tempfile.TemporaryDirectory(prefix="twochat-wheel-") as scratch:
            scratch_root = Path(scratch)
            for name, path in files.items():
                target = scratch_root / name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)
            # cwd must not be ROOT: there, `python -m build` would run this file instead of pypa/build.
            run([venv_python(), "-m", "build", "--wheel", "--no-isolation", "--outdir", WHEELS, "."],
                cwd=scratch_root, quiet=True)
        if not expected.exists():
            built = sorted(path.name for path in WHEELS.glob(f"{distribution}-*.whl"))
            raise BuildError(f"expected a pure wheel {expected.name}, the build produced {built}")
        stamp_path.write_text(stamp + "\n")
        say(f"    built {expected.name} ({expected.stat().st_size:,} bytes)")
        return expected


def build_wheel() -> Path:
    """Build the SDK's pure-Python wheel (what browsers unpack) into dist/wheels/."""
    return build_one_wheel(
        PACKAGE_NAME, PACKAGE_NAME, {path.relative_to(ROOT).as_posix(): path for path in wheel_sources()}
    )


def build_sandbox_wheel() -> Path:
    """Build the server-side wheel (twochat-voice-web-sandbox: sandbox, server, testing) into dist/wheels/."""
    return build_one_wheel(
        "twochat_voice_web_sandbox (server side)", SANDBOX_DIST_NAME, sandbox_wheel_sources()
    )


EXAMPLE_APP = ROOT / "examples" / "click-to-call-app"
EXAMPLE_WHEELHOUSE = WHEELS / "example"


def fetch_example_wheels() -> Path:
    """Download (once per change of their inputs) every wheel a fresh virtualenv needs to install the
    click-to-call example the way a user would: its pinned requirements and the dependencies of our two
    wheels. Tests install from there with ``--no-index`` (they run without the internet)."""
    with step("wheels for the click-to-call example (dist/wheels/example)"):
        requirements = EXAMPLE_APP / "requirements.txt"
        server_side = WHEELS / f"{SANDBOX_DIST_NAME}-{package_version()}-py3-none-any.whl"
        stamp_path = EXAMPLE_WHEELHOUSE / ".inputs.sha256"
        stamp = sha256_of_files([requirements, SANDBOX_DIST / "pyproject.toml"], extra=sys.version)
        if read_stamp(stamp_path) == stamp:
            say("    up to date (stamp matches)")
            return EXAMPLE_WHEELHOUSE
        EXAMPLE_WHEELHOUSE.mkdir(parents=True, exist_ok=True)
        run([
            venv_python(), "-m", "pip", "--disable-pip-version-check", "download", "-q",
            "--only-binary=:all:", "-d", EXAMPLE_WHEELHOUSE, "--find-links", WHEELS,
            "-r", requirements, server_side,
        ])
        # ours are installed from dist/wheels (always the fresh build), never from here
        for ours in EXAMPLE_WHEELHOUSE.glob(f"{PACKAGE_NAME}*.whl"):
            ours.unlink()
        stamp_path.write_text(stamp + "\n")
        return EXAMPLE_WHEELHOUSE


def pinned_requirements(requirements: Path) -> list[tuple[str, str]]:
    """The (name, version) pairs of a ``name==version --hash=...`` requirements file."""
    pairs = []
    for raw_line in requirements.read_text().splitlines():
        line = raw_line.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)", line)
        if match is None:
            raise BuildError(f"{shown_path(requirements)}: not an exact pin: {line!r}")
        pairs.append((match.group(1), match.group(2)))
    return pairs


def normalized_name(name: str) -> str:
    """A distribution name as it appears (normalised) in wheel file names."""
    return re.sub(r"[-_.]+", "_", name).lower()


def find_wheel(directory: Path, name: str, version: str) -> Path | None:
    """The wheel for name==version in ``directory``, or None."""
    prefix = f"{normalized_name(name)}-{version}-"
    for path in sorted(directory.glob("*.whl")):
        if path.name.lower().startswith(prefix.lower()) or normalized_name(path.name).startswith(
            normalized_name(prefix)
        ):
            return path
    return None


def fetch_pinned_wheels(requirements: Path, directory: Path) -> list[Path]:
    """Download the hash-pinned pure wheels of ``requirements`` into ``directory`` when missing."""
    with step(f"pinned wheels: {shown_path(requirements)}"):
        directory.mkdir(parents=True, exist_ok=True)
        pins = pinned_requirements(requirements)
        found = {pin: find_wheel(directory, *pin) for pin in pins}
        if any(path is None for path in found.values()):
            run([
                venv_python(), "-m", "pip", "--disable-pip-version-check", "download", "-q", "--no-deps",
                "--only-binary=:all:", "--require-hashes", "-r", requirements, "-d", directory,
            ])
            found = {pin: find_wheel(directory, *pin) for pin in pins}
        missing = [f"{name}=={version}" for (name, version), path in found.items() if path is None]
        if missing:
            raise BuildError(f"pip download did not produce wheels for {missing}")
        wheels = [path for path in found.values() if path is not None]
        impure = [path.name for path in wheels if not path.name.endswith("-none-any.whl")]
        if impure:
            raise BuildError(f"these wheels are not pure Python and cannot load in Pyodide: {impure}")
        for stale in sorted(set(directory.glob("*.whl")) - set(wheels)):
            say(f"    removing stale {stale.name}")
            stale.unlink()
        say(f"    {len(wheels)} wheels: {', '.join(path.name for path in wheels)}")
        return wheels


# --------------------------------------------------------------------------------------------------
# the Python bundle (fast start)

# Runs Pyodide (node_modules/pyodide) in Node: loads the inputs into its file system, runs the job's
# Python, writes the outputs. argv: a JSON job file (see python_bundle()).
BUNDLE_NODE_SCRIPT = """\
import { readFileSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
const job = JSON.parse(readFileSync(process.argv[2], "utf8"));
const { loadPyodide } = await import(pathToFileURL(job.pyodide_dir + "/pyodide.mjs").href);
const pyodide = await loadPyodide({ indexURL: job.pyodide_dir + "/" });
pyodide.FS.mkdirTree("/job");
job.inputs.forEach((path, index) => pyodide.FS.writeFile(`/job/in${index}.zip`, readFileSync(path)));
pyodide.globals.set("JOB", JSON.stringify(job));
pyodide.runPython(readFileSync(job.python, "utf8"));
writeFileSync(job.stdlib_output + ".tmp", pyodide.FS.readFile("/job/stdlib.zip"));
writeFileSync(job.own_output + ".tmp", pyodide.FS.readFile("/job/own.zip"));
writeFileSync(job.pyscript_output + ".tmp", pyodide.FS.readFile("/job/pyscript.zip"));
writeFileSync(job.app_output + ".tmp", pyodide.FS.readFile("/job/app.zip"));
writeFileSync(job.report, pyodide.FS.readFile("/job/report.json"));
"""

# The job, run by Pyodide's CPython 3.14 (the same interpreter as in the browser: its ast module reads
# 3.14 syntax and its compile() writes bytecode the browser's interpreter accepts).
BUNDLE_JOB_PYTHON = r"""
import ast
import importlib.util
import json
import sys
import zipfile
from importlib._bootstrap_external import _code_to_hash_pyc

job = json.loads(JOB)
zip_path = f"/lib/python{sys.version_info.major}{sys.version_info.minor}.zip"
archives = [zipfile.ZipFile(f"/job/in{index}.zip") for index in range(len(job["inputs"]))]

# module name -> (archive index, member, is a package); the stdlib (archive 0) wins over wheels.
modules = {}
loose_top_level = []
for index, archive in enumerate(archives):
    for member in archive.namelist():
        if not member.endswith(".py"):
            continue
        parts = member[:-3].split("/")
        package = parts[-1] == "__init__"
        if package:
            parts = parts[:-1]
        if index == 0 and len(parts) == 1 and not parts[0].isidentifier():
            loose_top_level.append(member)  # e.g. _sysconfigdata_<platform>.py, imported by name
            continue
        if parts and all(part.isidentifier() for part in parts):
            modules.setdefault(".".join(parts), (index, member, package))


def excluded(name):
    return any(name == prefix or name.startswith(prefix + ".") for prefix in job["excluded"])


def denied(name):
    return any(name == prefix or name.startswith(prefix + ".") for prefix in job["denied"])


def imports_of(name):
    # Every module ``name`` may import, anywhere in its code (a superset of what it does import).
    index, member, package = modules[name]
    tree = ast.parse(archives[index].read(member), member)
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name if package else name.rpartition(".")[0]
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                base = base + ("." + node.module if node.module else "") if base else (node.module or "")
            else:
                base = node.module or ""
            if base:
                found.add(base)
                # "from package import name": name is a submodule or an attribute.
                found.update(
                    f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in modules
                )
    return found


startup = sorted(
    name for name, module in list(sys.modules.items())
    if str(getattr(module, "__file__", None) or "").startswith(zip_path + "/")
)
def in_packages(name, packages):
    return any(name == package or name.startswith(package + ".") for package in packages)


included, unresolved, excluded_imports, denied_imports = set(), set(), set(), set()
via = {}  # module -> the module whose imports brought it in (for the report)


def walk(roots):
    queue = [(name, "<root>") for name in sorted(roots)]
    while queue:
        name, importer = queue.pop()
        parts = name.split(".")
        for depth in range(1, len(parts) + 1):
            candidate = ".".join(parts[:depth])
            if candidate in included:
                continue
            if excluded(candidate):
                excluded_imports.add(candidate)
                break
            if denied(candidate) and candidate not in startup:
                denied_imports.add(candidate)
                break
            if candidate not in modules:
                unresolved.add(candidate)
                break
            included.add(candidate)
            via[candidate] = importer
            queue.extend((imported, candidate) for imported in sorted(imports_of(candidate)))


# First what every page needs, then what PyScript's package needs beyond it (the PyScript zip's part).
walk(set(startup) | set(job["modules"]) | {name for name in modules if in_packages(name, job["packages"])})
every_page = set(included)
walk({name for name in modules if in_packages(name, job["pyscript_packages"] + job["app_packages"])})
app_modules = {name for name in included if in_packages(name, job["app_packages"])}
pyscript_only = included - every_page - app_modules

def without_function_docstrings(tree):
    # The module's and every function's docstring removed (line numbers unchanged); classes keep theirs.
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef)):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(
                first.value.value, str
            ):
                node.body = node.body[1:] or [ast.Pass(lineno=first.lineno, col_offset=first.col_offset)]
    return tree


def is_own(name):
    return any(name == own or name.startswith(own + ".") for own in job["own"])


def is_pyscript(name):
    return name in pyscript_only


def varint(value):
    out = bytearray()
    while value >= 64:
        out.append(0x40 | (value & 0x3F))
        value >>= 6
    out.append(value)
    return out


def svarint(value):
    return varint(((-value) << 1) | 1 if value < 0 else value << 1)


def lines_only(code):
    # ``code`` with a location table that keeps every line number and drops the columns (CPython's
    # "no column" entries, Objects/locations.md): a traceback still names each line, without the ^^^
    # markers under it. A third of the bytecode's size, in the download and in the snapshot.
    table = bytearray()
    previous = code.co_firstlineno
    for start, end, line in code.co_lines():
        units = (end - start) // 2
        while units > 0:
            length = min(units, 8)
            if line is None:
                table.append(0x80 | (15 << 3) | (length - 1))
            else:
                table.append(0x80 | (13 << 3) | (length - 1))
                table += svarint(line - previous)
                previous = line
            units -= length
    consts = tuple(lines_only(const) if isinstance(const, type(code)) else const for const in code.co_consts)
    trimmed = code.replace(co_linetable=bytes(table), co_consts=consts)
    if list(trimmed.co_lines()) != list(code.co_lines()):
        raise SystemExit(f"the trimmed location table changes the line numbers of {code.co_filename}")
    return trimmed


stdlib_entries, own_entries, pyscript_entries, app_entries = {}, {}, {}, {}
for name in included:
    index, member, package = modules[name]
    source = archives[index].read(member)
    if name in app_modules:
        # The demo pages' modules, unpacked by PyScript ("files") into the working directory's app/.
        filename = f"{job['app_dir']}/{member}"
        code = compile(source, filename, "exec", dont_inherit=True, optimize=0)
        entries = app_entries
        member = member.partition("/")[2]
    elif is_own(name):
        filename = f"{job['own_zip']}/{member}"
        tree = without_function_docstrings(ast.parse(source, filename))
        code = compile(tree, filename, "exec", dont_inherit=True, optimize=0)
        entries = own_entries
    elif is_pyscript(name):
        # PyScript's own Python package, compiled as it is (its docstrings are its help()), and the
        # standard-library modules only it imports.
        filename = f"{job['pyscript_zip']}/{member}"
        code = compile(source, filename, "exec", dont_inherit=True, optimize=0 if index != 0 else 2)
        entries = pyscript_entries
    else:
        filename = f"{zip_path}/{member}"
        code = compile(source, filename, "exec", dont_inherit=True, optimize=2)
        entries = stdlib_entries
    code = lines_only(code)
    entries[member[:-3] + ".pyc"] = bytes(_code_to_hash_pyc(code, importlib.util.source_hash(source), False))
for member in loose_top_level:
    stdlib_entries[member] = archives[0].read(member)


def write_zip(path, entries):
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as output:
        for member in sorted(entries):
            info = zipfile.ZipInfo(member, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            output.writestr(info, entries[member])


def pyc(source, filename):
    code = compile(source, filename, "exec", dont_inherit=True, optimize=0)
    return bytes(_code_to_hash_pyc(code, importlib.util.source_hash(source.encode()), False))


# Precompiled regular expressions. ``re.compile`` runs re's pure-Python parser and compiler (about 0.3 s
# for the SDK's import-time patterns in a browser); their output, the arguments of ``_sre.compile``, only
# depends on the pattern and this interpreter. So they are recorded here, while the SDK's modules are
# imported, and put back into ``re``'s cache at start-up (sitecustomize), after checking that the
# interpreter is this one: re.compile then finds them. A pattern not in the table compiles as usual.
import _sre
import re

recorded = {}
captured = []
original_sre_compile, original_compile = _sre.compile, re._compiler.compile


def capturing_sre_compile(*args):
    captured.append(args)
    return original_sre_compile(*args)


def recording_compile(pattern, flags=0):
    captured.clear()
    result = original_compile(pattern, flags)
    if isinstance(pattern, str) and isinstance(flags, int) and not flags & re.DEBUG and captured:
        recorded[(pattern, flags)] = captured[-1]
    return result


write_zip("/job/own.zip", own_entries)
_sre.compile, re._compiler.compile = capturing_sre_compile, recording_compile
startup_patterns = [key for key in list(re._cache) if key[0] is str]
re.purge()
for _, pattern, flags in startup_patterns:
    re.compile(pattern, flags)
sys.path.insert(0, "/job/own.zip")
import_failures = {}
for name in sorted(name for name in included if is_own(name)):
    try:
        importlib.import_module(name)
    except Exception as error:  # browser-only modules may need a page: their patterns compile there
        import_failures[name] = f"{type(error).__name__}: {error}"
_sre.compile, re._compiler.compile = original_sre_compile, original_compile
import array

table = []
for (pattern, flags), (_, final_flags, code, groups, groupindex, indexgroup) in sorted(recorded.items()):
    # Plain values only (re's opcodes are int subclasses), the code as 32-bit words (compact, and
    # brotli does well on them).
    table.append((pattern, int(flags), int(final_flags), array.array("I", map(int, code)).tobytes(),
                  int(groups), {str(k): int(v) for k, v in groupindex.items()}, tuple(indexgroup)))
cache_source = (
    "# Generated by build.py: re patterns precompiled for this interpreter (see sitecustomize).\n"
    "import _sre, array, re, sys\n"
    f"MAGIC = {_sre.MAGIC!r}\nVERSION = {tuple(sys.version_info[:3])!r}\nTABLE = {table!r}\n"
    "def install():\n"
    "    if (_sre.MAGIC, tuple(sys.version_info[:3]), array.array('I').itemsize) != (MAGIC, VERSION, 4):\n"
    "        return 0\n"
    "    for pattern, flags, final_flags, code, groups, groupindex, indexgroup in TABLE:\n"
    "        words = array.array('I', code).tolist()\n"
    "        compiled = _sre.compile(pattern, final_flags, words, groups, groupindex, indexgroup)\n"
    "        re._cache[(str, pattern, flags)] = compiled\n"
    "    return len(TABLE)\n"
)
# The generated module must rebuild exactly what re.compile builds.
namespace = {}
exec(compile(cache_source, "_twochat_re_cache.py", "exec"), namespace)
re.purge()
if namespace["install"]() != len(table):
    raise SystemExit("the precompiled patterns were not installed")
installed = dict(re._cache)
re.purge()
for pattern, flags, *_ in table:
    if installed[(str, pattern, flags)] != re.compile(pattern, flags):
        raise SystemExit(f"a precompiled pattern differs from re.compile: {pattern[:80]!r}")
own_entries["_twochat_re_cache.pyc"] = pyc(cache_source, f"{job['own_zip']}/_twochat_re_cache.py")
stdlib_entries["sitecustomize.pyc"] = pyc(
    "# Generated by build.py: installs the precompiled re patterns of the twochat bundle.\n"
    "try:\n    import _twochat_re_cache\nexcept ImportError:\n    pass\n"
    "else:\n    _twochat_re_cache.install()\n",
    f"{zip_path}/sitecustomize.py",
)
write_zip("/job/stdlib.zip", stdlib_entries)
write_zip("/job/own.zip", own_entries)
write_zip("/job/pyscript.zip", pyscript_entries)
write_zip("/job/app.zip", app_entries)

stdlib_total = sum(1 for index, _, _ in modules.values() if index == 0)
report = {
    "python": sys.version.split()[0],
    "modules": sorted(included),
    "imported_by": {name: via[name] for name in sorted(included)},
    "stdlib_modules": sum(1 for name in every_page if modules[name][0] == 0),
    "pyscript_modules": sorted(pyscript_only),
    "stdlib_modules_available": stdlib_total,
    "startup_modules": startup,
    "unresolved": sorted(unresolved),
    "excluded_but_imported": sorted(excluded_imports),
    "denied_but_imported": sorted(denied_imports),
    "precompiled_patterns": len(table),
    "precompile_import_failures": import_failures,
}
with open("/job/report.json", "w") as handle:
    json.dump(report, handle, indent=1)
"""


class PythonBundle:
    """The fast start's Python: two stored zips and what went into them (see PYTHON_BUNDLE_PACKAGES)."""

    def __init__(self, stdlib: Path, sdk: Path, pyscript: Path, app: Path, report: dict[str, Any]) -> None:
        self.stdlib = stdlib
        """loadPyodide's ``stdLibURL``: the trimmed standard library and Pyodide's own Python, as bytecode."""
        self.sdk = sdk
        """The SDK as bytecode, mounted at :data:`PYTHON_BUNDLE_SDK_PATH` (``PYTHONPATH``)."""
        self.pyscript = pyscript
        """PyScript's ``pyscript`` package as bytecode (PyScript pages only), at
        :data:`PYTHON_BUNDLE_PYSCRIPT_PATH`."""
        self.app = app
        """The demo pages' modules (www/app/) as bytecode, for dist/site/app/app.zip."""
        self.report = report
        """``modules`` (every module in either zip), ``imported_by``, ``stdlib_modules``,
        ``stdlib_modules_available``, ``startup_modules``, ``unresolved``, ``denied_but_imported``..."""


def python_bundle(wheels: Sequence[Path]) -> PythonBundle:
    """Build the fast start's Python from Pyodide's stdlib, ``wheels`` (our wheel) and PyScript's package.

    Pyodide's own interpreter runs the job in Node. The result is cached in dist/cache/bundle/ by a digest
    of the inputs (the stdlib zip, the runtime, the wheels, PyScript's package, the job), so an unchanged SDK
    costs nothing.
    """
    with step("python bundle (trimmed stdlib + SDK + PyScript's package, as bytecode)"):
        pyodide_dir = NODE_MODULES / "pyodide"
        stdlib = pyodide_dir / "python_stdlib.zip"
        pyscript_files = pyscript_package_files()
        app_sources = [path for path in tree_files(DEMO_APP_DIR) if path.suffix == ".py"]
        job: dict[str, object] = {
            "packages": list(PYTHON_BUNDLE_PACKAGES),
            "pyscript_packages": ["pyscript"],
            "app_packages": ["app"],
            "app_dir": PYSCRIPT_WORKING_DIRECTORY,
            "excluded": list(PYTHON_BUNDLE_EXCLUDED),
            "own": list(PYTHON_BUNDLE_OWN),
            "own_zip": PYTHON_BUNDLE_SDK_PATH,
            "pyscript_zip": PYTHON_BUNDLE_PYSCRIPT_PATH,
            "modules": list(PYTHON_BUNDLE_MODULES),
            "denied": list(PYTHON_BUNDLE_DENIED),
        }
        stamp = sha256_of_files(
            [stdlib, pyodide_dir / "pyodide.asm.wasm", *wheels, *app_sources],
            extra=json.dumps(job, sort_keys=True) + BUNDLE_JOB_PYTHON + BUNDLE_NODE_SCRIPT
            + json.dumps({name: data.decode() for name, data in pyscript_files.items()}, sort_keys=True),
        )[:16]
        cache = DIST / "cache" / "bundle"
        stdlib_output, sdk_output = cache / f"{stamp}-stdlib.zip", cache / f"{stamp}-sdk.zip"
        pyscript_output = cache / f"{stamp}-pyscript.zip"
        app_output = cache / f"{stamp}-app.zip"
        report_path = cache / f"{stamp}.json"
        outputs = (stdlib_output, sdk_output, pyscript_output, app_output)
        if not all(path.exists() for path in (*outputs, report_path)):
            ensure_node()
            cache.mkdir(parents=True, exist_ok=True)
            for old in cache.glob("*"):
                old.unlink()
            pyscript_input = cache / "pages-src.zip"
            pyscript_input.write_bytes(deterministic_zip({
                **pyscript_files,
                **{path.relative_to(DEMO_APP_DIR.parent).as_posix(): path for path in app_sources},
            }))
            job.update(
                pyodide_dir=str(pyodide_dir), inputs=[str(stdlib), *map(str, wheels), str(pyscript_input)],
                python=str(node_script("bundle_job.py", BUNDLE_JOB_PYTHON)),
                stdlib_output=str(stdlib_output), own_output=str(sdk_output),
                pyscript_output=str(pyscript_output), app_output=str(app_output), report=str(report_path),
            )
            job_file = cache / "job.json"
            job_file.write_text(json.dumps(job))
            run(["node", node_script("bundle.mjs", BUNDLE_NODE_SCRIPT), job_file], quiet=True)
            job_file.unlink()
            pyscript_input.unlink()
            for output in outputs:
                output.with_name(output.name + ".tmp").replace(output)
        report: dict[str, Any] = json.loads(report_path.read_text())
        say(f"    stdlib {stdlib_output.stat().st_size:,} bytes ({report['stdlib_modules']} of "
            f"{report['stdlib_modules_available']} modules), SDK {sdk_output.stat().st_size:,} bytes, "
            f"PyScript {pyscript_output.stat().st_size:,} bytes")
        return PythonBundle(stdlib_output, sdk_output, pyscript_output, app_output, report)


# --------------------------------------------------------------------------------------------------
# dist/site


# PyScript's ``interpreter`` for every PyScript page: our module (www/scripts/twochat-pyodide.mjs) that starts
# Pyodide the fast way. PyScript resolves ``interpreter`` against the *page*, not the config, so the path is
# taken from the site's root: the same config then serves pages in any folder of the site.
PYSCRIPT_INTERPRETER = "/scripts/twochat-pyodide.mjs"


def pyscript_config() -> dict[str, object]:
    """dist/site/pyscript.json, the PyScript config users copy: the fast-start interpreter, nothing else.

    The SDK, the trimmed standard library and PyScript's package come with the interpreter (build-info.json
    names them), so the config points at no wheel and no file whose name changes with a build.
    """
    return {"interpreter": PYSCRIPT_INTERPRETER}


def demo_pyscript_config() -> dict[str, object]:
    """dist/site/app/pyscript.json, the demo pages' config: the same interpreter, plus the demo's modules.

    ``app.zip`` (next to the config: ``files`` sources are resolved against it) holds www/app/*.py compiled
    to bytecode; PyScript unpacks it into ``./app/`` of the working directory, which is on ``sys.path``.
    """
    return {**pyscript_config(), "files": {"./app.zip": "./app/*"}}


@functools.cache
def pyscript_stdlib_step() -> str:
    """The text of PyScript's standard-library step, as @pyscript/core's own src/stdlib.js assembles it
    (read once per build: the bundle compiles the files it writes, build-info.json records its digest)."""
    if not PYSCRIPT_STDLIB_STEP_MODULE.exists():
        raise BuildError(f"{shown_path(PYSCRIPT_STDLIB_STEP_MODULE)} is missing: run `npm ci`")
    script = (
        f"import({json.dumps(PYSCRIPT_STDLIB_STEP_MODULE.as_uri())})"
        ".then((module) => process.stdout.write(JSON.stringify(module.stdlib)))"
    )
    completed = subprocess.run(
        ["node", "--input-type=module", "-e", script], capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        raise BuildError(f"reading PyScript's standard-library step failed: {completed.stderr.strip()}")
    text = json.loads(completed.stdout)
    if not isinstance(text, str) or "import pyscript" not in text:
        raise BuildError("PyScript's src/stdlib.js exported no standard-library step")
    return text


# One file of the step: ``_path = _Path("./pyscript/x.py")`` then ``_path.write_text(<JSON string>, ...)``.
PYSCRIPT_STEP_FILE = re.compile(
    r'^_path = _Path\("\./([^"]+)"\)\n_path\.write_text\(("(?:[^"\\]|\\.)*"),', re.M
)


def pyscript_package_files() -> dict[str, bytes]:
    """The files PyScript's standard-library step writes (``pyscript/...`` -> contents): the package that
    ``import pyscript`` runs in a PyScript page, as PyScript ships it (minified), compiled by the bundle."""
    files = {
        name: json.loads(literal).encode()
        for name, literal in PYSCRIPT_STEP_FILE.findall(pyscript_stdlib_step())
    }
    if "pyscript/__init__.py" not in files:
        raise BuildError("PyScript's standard-library step writes no pyscript/__init__.py")
    return files


def fnv1a32_utf16(text: str) -> int:
    """FNV-1a (32 bits) over ``text``'s UTF-16 code units, as JavaScript's ``charCodeAt`` reads them."""
    digest = 0x811C9DC5
    units = text.encode("utf-16-le")
    for index in range(0, len(units), 2):
        digest ^= units[index] | (units[index + 1] << 8)
        digest = (digest * 0x01000193) & 0xFFFFFFFF
    return digest


def stage_site(our_wheel: Path, site_wheels: Sequence[Path]) -> None:
    """Make dist/site/ the self-contained demo site."""
    with step("staging dist/site"):
        plan: dict[str, Path | bytes] = {}
        for path in tree_files(ROOT / "www"):
            plan[path.relative_to(ROOT / "www").as_posix()] = path
        pyodide_dir = NODE_MODULES / "pyodide"
        for name in PYODIDE_RUNTIME_FILES:
            source = pyodide_dir / name
            if not source.exists():
                raise BuildError(f"node_modules/pyodide/{name} is missing: run `npm ci`")
            plan[f"pyodide/{name}"] = source
        pyscript_dist = NODE_MODULES / "@pyscript" / "core" / "dist"
        for path in tree_files(pyscript_dist):
            plan[f"pyscript/{path.relative_to(pyscript_dist).as_posix()}"] = path
        for license_file in sorted((NODE_MODULES / "@pyscript" / "core").glob("LICENSE*")):
            plan[f"pyscript/{license_file.name}"] = license_file
        compressible = {
            relative: source
            for relative, source in plan.items()
            if relative.startswith(("pyodide/", "pyscript/", "scripts/"))
            and isinstance(source, Path)
            and source.suffix in GZIP_SUFFIXES
            and source.stat().st_size >= GZIP_MIN_BYTES
        }
        brotli_of = brotli_variants(list(compressible.values()), quality=BROTLI_QUALITY_VENDORED)
        for relative, vendored in compressible.items():
            plan[relative + ".br"] = brotli_of[vendored]
            plan[relative + ".gz"] = gzip_variant(vendored)
        # The fast start's Python: content-addressed URLs, so cached for a year like the runtime. The
        # stdlib part changes only with Pyodide (or the SDK's stdlib imports): best brotli, and a browser
        # keeps it across SDK releases; the SDK part changes with every SDK edit: faster brotli.
        bundle = python_bundle([our_wheel])
        bundle_urls: dict[str, str] = {}
        for part, path, quality in (
            ("stdlib", bundle.stdlib, BROTLI_QUALITY_VENDORED), ("sdk", bundle.sdk, BROTLI_QUALITY_BUNDLE),
            ("pyscript", bundle.pyscript, BROTLI_QUALITY_VENDORED),
        ):
            url = f"pyodide/twochat-{part}-{hashlib.sha256(path.read_bytes()).hexdigest()[:16]}.zip"
            bundle_urls[part] = url
            plan[url] = path
            plan[url + ".br"] = brotli_variants([path], quality=quality)[path]
            plan[url + ".gz"] = gzip_variant(path)
        # Our wheel keeps its version while the sources change during development, and the sandbox
        # lets browsers cache versioned wheels for a year: so its URL carries a content hash.
        sdk_digest = hashlib.sha256(our_wheel.read_bytes()).hexdigest()[:16]
        wheel_urls = [f"wheels/{sdk_digest}/{our_wheel.name}"] + [f"wheels/{w.name}" for w in site_wheels]
        plan[wheel_urls[0]] = our_wheel
        for wheel in site_wheels:
            plan[f"wheels/{wheel.name}"] = wheel
        # The JS facade: the ES module (www/twochat-voice.js, staged as it is), its classic-script build
        # and the TypeScript declarations of both (www/twochat-voice.d.ts).
        plan["twochat-voice.global.js"] = build_facade_classic()
        plan["pyscript.json"] = (json.dumps(pyscript_config(), indent=2) + "\n").encode()
        plan["app/pyscript.json"] = (json.dumps(demo_pyscript_config(), indent=2) + "\n").encode()
        plan["app/app.zip"] = bundle.app  # a stored zip: served compressed like the bundle
        plan["app/app.zip.br"] = brotli_variants([bundle.app], quality=BROTLI_QUALITY_BUNDLE)[bundle.app]
        plan["app/app.zip.gz"] = gzip_variant(bundle.app)
        lock_info = json.loads((pyodide_dir / "pyodide-lock.json").read_text()).get("info", {})
        stdlib_step = pyscript_stdlib_step()
        build_info = {
            "sdk_version": package_version(),
            "pyodide_version": npm_version("pyodide"),
            "pyscript_version": npm_version("@pyscript/core"),
            "wheels": wheel_urls,
            # The fast start (scripts/twochat-start.mjs): loadPyodide's stdLibURL, the lock file's
            # "info" (so that no pyodide-lock.json is fetched: the bundle needs no packages) and the
            # build id that names the memory snapshot a returning visitor starts from.
            "python_bundle": {
                "stdlib_url": bundle_urls["stdlib"],
                "sdk_url": bundle_urls["sdk"],
                "sdk_path": PYTHON_BUNDLE_SDK_PATH,
                "pyscript_url": bundle_urls["pyscript"],
                "pyscript_path": PYTHON_BUNDLE_PYSCRIPT_PATH,
                # PyScript's standard-library step, run from the bytecode package (twochat-pyodide.mjs).
                "pyscript_step": {
                    "length": len(stdlib_step.encode("utf-16-le")) // 2,
                    "fnv1a32": fnv1a32_utf16(stdlib_step),
                },
                "bytes": bundle.stdlib.stat().st_size + bundle.sdk.stat().st_size,
                "modules": len(bundle.report["modules"]),
                "stdlib_modules": bundle.report["stdlib_modules"],
                "python": bundle.report["python"],
            },
            "pyodide_lock_info": lock_info,
            "build_id": hashlib.sha256(
                "|".join([npm_version("pyodide"), bundle_urls["stdlib"], bundle_urls["sdk"]]).encode()
            ).hexdigest()[:16],
        }
        plan["build-info.json"] = (json.dumps(build_info, indent=2) + "\n").encode()
        # The service worker carries the build id, so that a new build installs it again (new runtime copied).
        service_worker = ROOT / "www" / "sw.js"
        if service_worker.exists():
            plan["sw.js"] = service_worker.read_bytes() + f"\n// build {build_info['build_id']}\n".encode()
        copied, unchanged, removed = sync_tree(SITE, plan)
        say(f"    {len(plan)} files: {copied} written, {unchanged} unchanged, {removed} removed")


# The JavaScript facade's classic-script build: inside an IIFE, esbuild leaves import.meta empty, so its
# ``url`` is defined as the <script src> that is running (document.currentScript, read while the script
# executes: the facade's base URL, like import.meta.url for the module).
FACADE_CLASSIC_SHIM = """\
// Injected by build.py into twochat-voice.global.js: import.meta.url of a classic script.
const script = document.currentScript;
export const import_meta_url =
  (script && script.src) || new URL("twochat-voice.global.js", location.href).href;
"""


def build_facade_classic() -> Path:
    """``twochat-voice.global.js``: www/twochat-voice.js and the fast start bundled by esbuild into one
    classic script (an IIFE) that defines the global ``TwoChatVoice``, for a plain ``<script src>``."""
    entry = ROOT / "www" / "twochat-voice.js"
    output = DIST / "cache" / "facade" / "twochat-voice.global.js"
    options = [
        "--bundle", "--format=iife", "--platform=browser", "--target=es2020",
        "--define:import.meta.url=import_meta_url", "--legal-comments=inline", "--log-level=warning",
        "--banner:js=// twochat-voice.global.js: the twochat-voice.js facade as a classic script (it defines "
        "the global TwoChatVoice). Built by build.py with esbuild from www/twochat-voice.js; see "
        "docs/js-facade.md.",
    ]
    stamp_path = output.with_suffix(".sha256")
    inputs = [entry, *tree_files(ROOT / "www" / "scripts"), ROOT / "package-lock.json"]
    stamp = sha256_of_files(inputs, extra=FACADE_CLASSIC_SHIM + "|".join(options))
    if output.exists() and read_stamp(stamp_path) == stamp:
        return output
    with step("JS facade: classic-script build (esbuild)"):
        output.parent.mkdir(parents=True, exist_ok=True)
        shim = node_script("facade-import-meta-url.js", FACADE_CLASSIC_SHIM)
        run([NODE_MODULES / ".bin" / "esbuild", entry, *options, f"--inject:{shim}", f"--outfile={output}"])
        stamp_path.write_text(stamp + "\n")
    return output


@contextlib.contextmanager
def build_lock() -> Iterator[None]:
    """Serialise builds of this tree (several people and test sessions may build at once)."""
    DIST.mkdir(parents=True, exist_ok=True)
    with (DIST / ".build.lock").open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say("    waiting for another build of this tree to finish…")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build_site() -> None:
    """Everything ``python3 build.py`` does after the environment is ready."""
    with build_lock():
        ensure_node_modules()
        our_wheel = build_wheel()
        build_sandbox_wheel()
        site_wheels = fetch_pinned_wheels(REQUIREMENTS_SITE_WHEELS, WHEELS / "site")
        stage_site(our_wheel, site_wheels)
        prune_gzip_cache()
        prune_brotli_cache()


# --------------------------------------------------------------------------------------------------
# dist/test-assets


def bundle_jssip() -> Path:
    """Bundle npm jssip (which ships no dist/) into one IIFE script with esbuild."""
    output = DIST / "jssip" / "jssip.min.js"
    stamp_path = output.with_suffix(".sha256")
    stamp = sha256_of_files([ROOT / "package-lock.json"])
    if output.exists() and read_stamp(stamp_path) == stamp:
        return output
    output.parent.mkdir(parents=True, exist_ok=True)
    run([
        NODE_MODULES / ".bin" / "esbuild", "node_modules/jssip/lib/JsSIP.js", "--bundle", "--minify",
        "--platform=browser", "--format=iife", "--global-name=JsSIP", "--log-level=warning",
        f"--outfile={output}",
    ])
    stamp_path.write_text(stamp + "\n")
    return output


def stage_test_assets() -> None:
    """Make dist/test-assets/: test pages, the JsSIP bundle, wheels and suites for the in-Pyodide run."""
    with build_lock(), step("staging dist/test-assets"):
        # the unit suite's in-memory peers use the server side's DigestServer: its wheel goes in too
        test_wheels = [
            *fetch_pinned_wheels(REQUIREMENTS_PYODIDE_TEST_WHEELS, WHEELS / "pyodide-tests"),
            build_sandbox_wheel(),
        ]
        plan: dict[str, Path | bytes] = {}
        for path in tree_files(ROOT / "tests" / "pages"):
            plan[f"pages/{path.relative_to(ROOT / 'tests' / 'pages').as_posix()}"] = path
        plan["vendor/jssip.min.js"] = bundle_jssip()
        for wheel in test_wheels:
            plan[f"wheels/{wheel.name}"] = wheel
        runner_dir = ROOT / "tests" / "pyodide"
        for path in sorted(runner_dir.glob("*.py")):
            plan[f"pyodide/{path.name}"] = path
        suites: dict[str, dict[str, object]] = {}
        for suite, directory in PYODIDE_SUITES.items():
            members = {
                path.relative_to(ROOT).as_posix(): path
                for path in tree_files(ROOT / directory)
                if path.suffix in (".py", ".txt", ".json", ".sdp", ".sip", ".bin")
            }
            members["pyproject.toml"] = ROOT / "pyproject.toml"
            for parent in (ROOT / directory).parents:
                if parent == ROOT or ROOT not in parent.parents:
                    break
                if (parent / "__init__.py").exists():
                    members[(parent / "__init__.py").relative_to(ROOT).as_posix()] = parent / "__init__.py"
            if suite == "unit":
                # the RFC torture corpora present on this machine go beside their manifests, so that
                # Pyodide runs the byte-exact tests that CPython runs (tests/unit/rfc_corpus.py)
                for corpus in SIP_TORTURE_SOURCES:
                    manifest = corpus_manifest(corpus)
                    present = SIP_TORTURE_DIR / corpus
                    if corpus_is_complete(present, manifest):
                        inside = f"{directory.as_posix()}/{corpus}"
                        members[f"{inside}/SHA256SUMS"] = ROOT / directory / corpus / "SHA256SUMS"
                        for name in manifest:
                            members[f"{inside}/{name}"] = present / name
            plan[f"suites/{suite}.zip"] = deterministic_zip(members)
            suites[suite] = {"path": directory.as_posix(), "files": len(members) - 1}
        manifest = {
            "wheels": [wheel.name for wheel in test_wheels],
            "runner": "pyodide/runner.py",
            "suites": suites,
        }
        plan["manifest.json"] = (json.dumps(manifest, indent=2) + "\n").encode()
        copied, unchanged, removed = sync_tree(TEST_ASSETS, plan)
        say(f"    {len(plan)} files: {copied} written, {unchanged} unchanged, {removed} removed")


# --------------------------------------------------------------------------------------------------
# RFC torture-test corpora


def corpus_manifest(corpus: str) -> dict[str, str]:
    """tests/unit/<corpus>/SHA256SUMS: file name -> SHA-256 (the digests of the RFC archive's files)."""
    manifest: dict[str, str] = {}
    for line in (ROOT / "tests" / "unit" / corpus / "SHA256SUMS").read_text(encoding="ascii").splitlines():
        digest, name = line.split(maxsplit=1)
        manifest[name.lstrip("*")] = digest
    return manifest


def corpus_is_complete(directory: Path, manifest: dict[str, str]) -> bool:
    """Whether ``directory`` holds every file of ``manifest`` with its digest."""
    return all(
        (directory / name).is_file() and hashlib.sha256((directory / name).read_bytes()).hexdigest() == digest
        for name, digest in manifest.items()
    )


def npm_tarball(package: str, version: str, sha256: str) -> Path:
    """The published tarball of npm ``package``@``version`` (``npm pack``, cached in SIP_TORTURE_DIR),
    checked against its pinned SHA-256."""
    tarball = SIP_TORTURE_DIR / f"{package}-{version}.tgz"
    if not tarball.is_file() or hashlib.sha256(tarball.read_bytes()).hexdigest() != sha256:
        ensure_node()
        SIP_TORTURE_DIR.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=SIP_TORTURE_DIR) as temporary:
            run(["npm", "pack", f"{package}@{version}", "--pack-destination", temporary],
                cwd=Path(temporary), quiet=True)
            packed = Path(temporary) / f"{package}-{version}.tgz"
            if not packed.is_file():
                raise BuildError(f"npm pack {package}@{version} left no {packed.name}")
            digest = hashlib.sha256(packed.read_bytes()).hexdigest()
            if digest != sha256:
                raise BuildError(f"npm {package}@{version}: tarball sha256 {digest}, pinned {sha256}")
            os.replace(packed, tarball)
    return tarball


def ensure_sip_torture_corpora() -> None:
    """Put the RFC torture corpora of SIP_TORTURE_SOURCES into SIP_TORTURE_DIR/<corpus>/, every file checked
    against tests/unit/<corpus>/SHA256SUMS (tests/unit/rfc_corpus.py checks them again as it reads)."""
    for corpus, (package, version, sha256, folder) in SIP_TORTURE_SOURCES.items():
        with step(f"{corpus} torture corpus (npm {package}@{version})"):
            manifest = corpus_manifest(corpus)
            destination = SIP_TORTURE_DIR / corpus
            if corpus_is_complete(destination, manifest):
                say(f"    {len(manifest)} files present in {shown_path(destination)}")
                continue
            tarball = npm_tarball(package, version, sha256)
            with tarfile.open(tarball, "r:gz") as archive:
                files: dict[str, bytes] = {}
                for name, digest in manifest.items():
                    try:
                        member = archive.extractfile(f"{folder}/{name}")
                    except KeyError:
                        member = None
                    data = member.read() if member is not None else b""
                    if hashlib.sha256(data).hexdigest() != digest:
                        raise BuildError(f"{tarball.name}: {folder}/{name} is not the RFC's file")
                    files[name] = data
            if destination.exists():
                shutil.rmtree(destination)
            staging = Path(tempfile.mkdtemp(dir=SIP_TORTURE_DIR))
            for name, data in files.items():
                (staging / name).write_bytes(data)
            staging.rename(destination)
            say(f"    {len(files)} files written to {shown_path(destination)}")


# --------------------------------------------------------------------------------------------------
# browsers and interop tools


def find_chromium() -> str | None:
    """The Chromium the tests will use (tests/browser/chromium.py decides), or None."""
    completed = subprocess.run(
        [str(venv_python()), str(ROOT / "tests" / "browser" / "chromium.py")],
        capture_output=True, text=True, check=False,
    )
    path = completed.stdout.strip()
    return path or None


def ensure_chromium() -> None:
    """Playwright's own Chromium if present, else Debian's; apt-get install chromium when neither is."""
    with step("chromium"):
        path = find_chromium()
        if path is None:
            apt_install(["chromium"], reason="chromium")
            path = find_chromium()
        say(f"    using {path}" if path else "    WARNING no Chromium: browser tests will skip")


REAL_BROWSER_APT_PACKAGES = ("firefox-esr", "iproute2", "webkit2gtk-driver", "xvfb")
"""The real-browser tier (tests/realbrowser): Firefox ESR (WebDriver BiDi), `ip netns`, and WebKitGTK's
WebDriver under Xvfb (the test that records why WebKit is not in the tier: no WebRTC in Debian's build)."""


def ensure_firefox() -> None:
    """Debian's Firefox ESR, iproute2 and WebKitGTK's driver for the real-browser tier (tests/realbrowser)."""
    with step("firefox-esr, iproute2, webkit2gtk-driver, xvfb (real-browser tier)"):
        apt_install(REAL_BROWSER_APT_PACKAGES, reason="real-browser tier")
        path = shutil.which("firefox-esr")
        say(f"    using {path}" if path else "    WARNING no firefox-esr: the Firefox tests will skip")


def ensure_interop_tools() -> None:
    """The Debian packages of the interop suite (Kamailio, rtpengine, sipp, baresip, tcpdump)."""
    with step("interop tools (Debian packages)"):
        apt_install(INTEROP_APT_PACKAGES, reason="interop")


# --------------------------------------------------------------------------------------------------
# commands


def prepare(*, for_tests: bool) -> None:
    """Environment + build shared by every command."""
    ensure_venv()
    if for_tests:
        ensure_chromium()
        ensure_firefox()
        ensure_interop_tools()
    build_site()
    if for_tests:
        ensure_sip_torture_corpora()  # before the test assets: the in-Pyodide unit suite carries them
        stage_test_assets()
        fetch_example_wheels()


def command_build(arguments: Sequence[str]) -> int:
    """``python3 build.py``: wheel + dist/site."""
    if arguments:
        raise BuildError(f"`build` takes no arguments, got {list(arguments)}")
    prepare(for_tests=False)
    say(f"dist/site is ready: {SITE}")
    return 0


def port_is_free(port: int) -> bool:
    """Whether 127.0.0.1:port can be bound."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def command_demo(arguments: Sequence[str]) -> int:
    """``python3 build.py demo [--port N]``: build, then run the sandbox serving the site."""
    port = DEMO_PORT
    rest = list(arguments)
    while rest:
        option = rest.pop(0)
        if option == "--port" and rest:
            port = int(rest.pop(0))
        elif option.startswith("--port="):
            port = int(option.split("=", 1)[1])
        else:
            raise BuildError(f"`demo` accepts only --port N, got {option!r}")
    prepare(for_tests=False)
    if port and not port_is_free(port):
        say(f"    port {port} is busy on 127.0.0.1: picking a free one")
        port = 0
    with tempfile.TemporaryDirectory(prefix="twochat-demo-") as scratch:
        ready_file = Path(scratch) / "ready.json"
        command = [
            str(venv_python()), "-m", f"{PACKAGE_NAME}.sandbox", "--host", "127.0.0.1", "--port", str(port),
            "--site", str(SITE), "--ready-file", str(ready_file), "--parent-pid", str(os.getpid()),
        ]
        say(f"==> starting the sandbox\n    $ {' '.join(command)}")
        process = subprocess.Popen(command, cwd=ROOT)
        # SIGTERM (e.g. `kill`) is forwarded like Ctrl-C; the sandbox also exits if we vanish.
        signal.signal(signal.SIGTERM, lambda signum, frame: process.send_signal(signal.SIGTERM))
        deadline = time.monotonic() + 60
        while not ready_file.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        if not ready_file.exists():
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            raise BuildError("the sandbox did not become ready (see its output above)")
        ready = json.loads(ready_file.read_text())
        say("")
        say(f"    Demo running at {ready['url']}/   (total set-up {time.monotonic() - _STARTED:.1f} s)")
        say(f"    API key: {ready.get('api_key', '?')}    Ctrl-C stops it.")
        say("")
        try:
            return process.wait()
        except KeyboardInterrupt:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
            return 0


TEST_NAMESPACE_ENV = "TWOCHAT_TEST_NETNS"
"""Set to ``0`` to run pytest in this machine's own network namespace (the default, as root, is one of
the run's own: see :func:`test_namespace`). Inside, it holds the namespace's name."""


def _ip(*arguments: str) -> None:
    completed = subprocess.run(["ip", *arguments], capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise BuildError(f"ip {' '.join(arguments)} failed: {completed.stderr.strip()}")


@contextlib.contextmanager
def test_namespace() -> Iterator[list[str]]:
    """A network namespace of the test run's own: yields the command prefix that runs inside it.

    The machine's rule: tests talk to 127.0.0.0/8, or to hosts in namespaces the run made itself, never to
    this machine's other addresses. Browsers gather ICE candidates on every interface, and a few tests
    probe the non-loopback addresses on purpose; inside this namespace those are the two ends of a veth
    pair that lives entirely in it (203.0.113.1/24 and .2, TEST-NET-3, RFC 5737; the default route ends
    at the other end), so nothing a test sends can leave. As root with iproute2 (CI); otherwise, or with
    TWOCHAT_TEST_NETNS=0, pytest runs in this machine's namespace. On the way out, whatever still runs
    inside is stopped (all of it was started by this run) and the namespace is deleted.
    """
    if os.environ.get(TEST_NAMESPACE_ENV) == "0" or not is_root() or shutil.which("ip") is None:
        say("    pytest runs in this machine's network namespace (not root, no iproute2, or "
            f"{TEST_NAMESPACE_ENV}=0)")
        yield []
        return
    name = f"twochat-test-{os.getpid()}"
    _ip("netns", "add", name)
    try:
        inside = ("-n", name)
        _ip(*inside, "link", "set", "lo", "up")
        _ip(*inside, "link", "add", "tct-a", "type", "veth", "peer", "name", "tct-b")
        for device, address in (("tct-a", "203.0.113.1/24"), ("tct-b", "203.0.113.2/24")):
            # no kernel-made IPv6 link-local address: its duplicate-address detection ends ~1-2 s after
            # the link is up, a network change that makes Chromium abort the loads in flight
            _ip(*inside, "link", "set", "dev", device, "addrgenmode", "none")
            _ip(*inside, "addr", "add", address, "dev", device)
            _ip(*inside, "link", "set", device, "up")
        _ip(*inside, "route", "add", "default", "via", "203.0.113.2", "dev", "tct-a")
        say(f"    pytest runs in network namespace {name} (lo, 203.0.113.1-2 on a veth pair inside it)")
        yield ["ip", "netns", "exec", name, "env", f"{TEST_NAMESPACE_ENV}={name}"]
    finally:

        def inside_pids() -> list[int]:
            listed = subprocess.run(
                ["ip", "netns", "pids", name], capture_output=True, text=True, check=False
            )
            return [int(token) for token in listed.stdout.split() if token.isdigit()]

        for sig, grace in ((signal.SIGTERM, 8.0), (signal.SIGKILL, 5.0)):
            pids = inside_pids()
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
            deadline = time.monotonic() + grace
            while pids and time.monotonic() < deadline:
                time.sleep(0.1)
                pids = inside_pids()
            if not pids:
                break
        subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)


def command_test(arguments: Sequence[str]) -> int:
    """``python3 build.py test [pytest args]``: full set-up, then the whole pytest suite (in the run's own
    network namespace, see :func:`test_namespace`)."""
    prepare(for_tests=True)
    # the RFC torture corpora fetched by ensure_sip_torture_corpora (unless the caller points elsewhere)
    os.environ.setdefault(SIP_TORTURE_ENV, str(SIP_TORTURE_DIR))
    # SIGTERM (a CI timeout, `timeout`, kill) unwinds like Ctrl-C, so the namespace's cleanup runs and
    # nothing this run started is left inside it
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    with step(f"pytest {' '.join(arguments)}".rstrip()), test_namespace() as prefix:
        completed = subprocess.run(
            [*prefix, str(venv_python()), "-m", "pytest", *arguments], cwd=ROOT, check=False
        )
    code = completed.returncode
    if code == 5:
        say("pytest ran no tests (exit code 5): that is a failure here")
        code = 1
    say(f"build.py test: exit {code}, total {time.monotonic() - _STARTED:.1f} s")
    return code


def command_bench(arguments: Sequence[str]) -> int:
    """``python3 build.py bench [--all | name ...]``: run bench/bench_<name>.py main().

    Without names: every benchmark except the long ones (BENCH_LONG, tens of minutes); ``--all`` runs those
    too. The ones that compare with JsSIP (calls, parse, startup) write bench/results/latest.*.
    """
    prepare(for_tests=True)
    benches = sorted((ROOT / "bench").glob("bench_*.py"))
    run_all = "--all" in arguments
    arguments = [argument for argument in arguments if argument != "--all"]
    if not arguments and not run_all:
        skipped = [path.name for path in benches if path.stem.removeprefix("bench_") in BENCH_LONG]
        if skipped:
            say(f"    not running the long {', '.join(skipped)} (name it, or pass --all)")
        benches = [path for path in benches if path.stem.removeprefix("bench_") not in BENCH_LONG]
    if arguments:
        wanted = {name.removeprefix("bench_").removesuffix(".py") for name in arguments}
        benches = [path for path in benches if path.stem.removeprefix("bench_") in wanted]
        unknown = wanted - {path.stem.removeprefix("bench_") for path in benches}
        if unknown:
            raise BuildError(f"no bench/bench_<name>.py for {sorted(unknown)}")
    if not benches:
        raise BuildError("no bench/bench_*.py to run")
    failures = []
    for path in benches:
        with step(f"bench {path.name}"):
            code = (
                "import importlib.util, sys\n"
                f"spec = importlib.util.spec_from_file_location({path.stem!r}, {str(path)!r})\n"
                "module = importlib.util.module_from_spec(spec); sys.modules[spec.name] = module\n"
                "spec.loader.exec_module(module)\n"
                "sys.exit(module.main())\n"
            )
            completed = subprocess.run([str(venv_python()), "-c", code], cwd=ROOT, check=False)
            if completed.returncode != 0:
                failures.append(path.name)
    say(f"build.py bench: {len(benches) - len(failures)}/{len(benches)} ok, results in bench/results/, "
        f"total {time.monotonic() - _STARTED:.1f} s")
    return 1 if failures else 0


# Benchmarks that take tens of minutes (bench_reliability.py: 20 runs of 5 failure scenarios): run by name
# or with ``bench --all``, so that ``python3 build.py bench`` stays within about ten minutes.
BENCH_LONG = frozenset({"reliability"})

COMMANDS = {"build": command_build, "demo": command_demo, "test": command_test, "bench": command_bench}


def main(argv: Sequence[str]) -> int:
    """Dispatch ``build.py [command] [arguments]``."""
    if argv and argv[0] in ("-h", "--help", "help"):
        print(__doc__)
        return 0
    name = argv[0] if argv and argv[0] in COMMANDS else "build"
    arguments = argv[1:] if argv and argv[0] in COMMANDS else argv
    if name == "build" and arguments:
        print(__doc__)
        say(f"build.py: ERROR unknown command {arguments[0]!r}")
        return 2
    try:
        return COMMANDS[name](arguments)
    except BuildError as error:
        say(f"build.py {name}: ERROR {error}")
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

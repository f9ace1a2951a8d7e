"""Static file serving for the built site (``/``) and ``--mount`` prefixes.

- MIME types fixed for what a Pyodide site serves (``.mjs``/``.js`` ``text/javascript``, ``.wasm``
  ``application/wasm``, ``.whl`` ``application/zip``, ...), text types with ``charset=utf-8``.
- Precompressed variants: when ``X.br`` or ``X.gz`` sits next to ``X`` and the client accepts that
  encoding (q-values honoured), the variant is sent with ``Content-Encoding`` and ``Vary: Accept-Encoding``.
- ``Cache-Control``: long-lived and immutable for vendored runtime files (``pyodide/``, ``pyscript/``) and
  versioned wheels; ``no-cache`` (revalidate with ETag/Last-Modified) for everything else, in particular
  HTML and configuration.
- ``/dir/`` serves ``dir/index.html``; ``/dir`` redirects to ``/dir/``; never a directory listing.
- Path traversal is refused: any ``..``/``.`` segment, backslash or NUL gives 404, and the resolved path
  must stay lexically below the root (symlinks placed inside the root by the build are trusted).
"""

from __future__ import annotations

import mimetypes
import os
import re
from pathlib import Path, PurePosixPath

from aiohttp import hdrs, web

__all__ = [
    "CACHE_IMMUTABLE",
    "CACHE_REVALIDATE",
    "MIME_TYPES",
    "StaticRoot",
    "cache_control_for",
    "content_type_for",
    "negotiate_encodings",
]

MIME_TYPES: dict[str, str] = {
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".toml": "application/toml",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
    ".py": "text/x-python; charset=utf-8",
    ".wasm": "application/wasm",
    ".whl": "application/zip",
    ".zip": "application/zip",
    ".tar": "application/x-tar",
    ".data": "application/octet-stream",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".wav": "audio/wav",
    ".mp3": "audio/mpeg",
    ".ogg": "audio/ogg",
    ".woff2": "font/woff2",
}
"""Content types by file suffix (lower-case); others fall back to :mod:`mimetypes`, then octet-stream."""

CACHE_IMMUTABLE = "public, max-age=31536000, immutable"
"""Cache-Control for files whose URL changes when their content does."""

CACHE_REVALIDATE = "no-cache"
"""Cache-Control for everything else: the browser may store it but revalidates (ETag) every time."""

_VENDORED_DIRS = frozenset({"pyodide", "pyscript"})
# PEP 427 wheel name: {name}-{version}(-{build})?-{python}-{abi}-{platform}.whl
_VERSIONED_WHEEL = re.compile(r"^[A-Za-z0-9_.]+-\d[^-]*(-\d[^-]*)?-[^-]+-[^-]+-[^-]+\.whl$")
_ENCODINGS: tuple[tuple[str, str], ...] = (("br", ".br"), ("gzip", ".gz"))


def content_type_for(name: str) -> str:
    """The Content-Type to send for a file named ``name``."""
    suffix = PurePosixPath(name).suffix.lower()
    known = MIME_TYPES.get(suffix)
    if known is not None:
        return known
    guessed, _ = mimetypes.guess_type("x" + suffix)
    if guessed is None:
        return "application/octet-stream"
    return guessed + "; charset=utf-8" if guessed.startswith("text/") else guessed


def cache_control_for(rel_path: str, *, no_cache: bool = False) -> str:
    """The Cache-Control for a file at ``rel_path`` (relative to its static root, ``/``-separated)."""
    if no_cache:
        return CACHE_REVALIDATE
    parts = PurePosixPath(rel_path).parts
    name = parts[-1] if parts else ""
    if any(p in _VENDORED_DIRS for p in parts[:-1]):
        return CACHE_IMMUTABLE
    if _VERSIONED_WHEEL.match(name):
        return CACHE_IMMUTABLE
    return CACHE_REVALIDATE


def negotiate_encodings(accept_encoding: str) -> list[str]:
    """Content codings from an ``Accept-Encoding`` value that we may use, best first (``br``, ``gzip``).

    Honours q-values (``gzip;q=0`` refuses gzip) and ``*``.
    """
    qualities: dict[str, float] = {}
    for item in accept_encoding.split(","):
        token, _, params = item.strip().partition(";")
        coding = token.strip().lower()
        if not coding:
            continue
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = 0.0
        qualities[coding] = q
    result: list[str] = []
    for coding, _suffix in _ENCODINGS:
        q = qualities.get(coding, qualities.get("*", 0.0))
        if q > 0:
            result.append(coding)
    return result


class StaticRoot:
    """A directory served below a URL prefix (``""`` for the site root)."""

    def __init__(self, prefix: str, directory: Path, *, no_cache: bool = False) -> None:
        self.prefix = prefix.rstrip("/")
        self.directory = directory
        self.no_cache = no_cache
        self._root = Path(directory).absolute()

    def add_routes(self, app: web.Application) -> None:
        """Register GET (and HEAD) routes for this root on ``app``."""
        if self.prefix:
            app.router.add_get(self.prefix, self._redirect_to_slash)
            app.router.add_get(self.prefix + "/{tail:.*}", self.handle)
        else:
            app.router.add_get("/{tail:.*}", self.handle)

    async def _redirect_to_slash(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPMovedPermanently(location=_with_path(request, self.prefix + "/"))

    def _resolve(self, tail: str) -> Path | None:
        if "\\" in tail or "\0" in tail:
            return None
        segments = [s for s in tail.split("/") if s != ""]
        if any(s in (".", "..") for s in segments):
            return None
        candidate = self._root.joinpath(*segments) if segments else self._root
        if not candidate.is_relative_to(self._root):
            return None
        return candidate

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Serve the file named by the ``tail`` match, per the module's rules."""
        return await self.serve(request, request.match_info.get("tail", ""))

    async def serve(self, request: web.Request, tail: str) -> web.StreamResponse:
        """Serve the file at ``tail`` (relative to this root, ``/``-separated), per the module's rules."""
        path = self._resolve(tail)
        if path is None:
            raise web.HTTPNotFound()
        if path.is_dir():
            if tail and not tail.endswith("/"):
                raise web.HTTPMovedPermanently(location=_with_path(request, request.rel_url.path + "/"))
            path = path / "index.html"
            tail = tail + "index.html"
        if not path.is_file():
            raise web.HTTPNotFound()
        chosen = path
        encoding: str | None = None
        has_variants = False
        accepted = negotiate_encodings(request.headers.get(hdrs.ACCEPT_ENCODING, ""))
        for coding, suffix in _ENCODINGS:
            variant = path.with_name(path.name + suffix)
            if variant.is_file():
                has_variants = True
                if encoding is None and coding in accepted:
                    chosen, encoding = variant, coding
        headers = {
            hdrs.CONTENT_TYPE: content_type_for(path.name),
            hdrs.CACHE_CONTROL: cache_control_for(tail, no_cache=self.no_cache),
            "X-Content-Type-Options": "nosniff",
        }
        if has_variants:
            headers[hdrs.VARY] = hdrs.ACCEPT_ENCODING
        if encoding is not None:
            headers[hdrs.CONTENT_ENCODING] = encoding
        return _PlainFileResponse(chosen, headers=headers)


def _with_path(request: web.Request, path: str) -> str:
    """The request's relative URL with another path, query kept (never a ``//host`` network path)."""
    path = "/" + path.lstrip("/")
    return str(request.rel_url.with_path(path).with_query(request.rel_url.query))


class _PlainFileResponse(web.FileResponse):
    """A FileResponse that does no encoding negotiation of its own (ours already chose the file)."""

    def _get_file_path_stat_encoding(
        self, accept_encoding: str
    ) -> tuple[Path | None, os.stat_result, str | None]:
        return super()._get_file_path_stat_encoding("")

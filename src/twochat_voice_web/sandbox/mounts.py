"""Directories served while the sandbox runs, beside the site: ``POST /sandbox/mounts``.

A test mounts its own pages (HTML and Python) next to the runtime the site serves (Pyodide, PyScript, the
SDK), so that the page, the runtime and the sandbox's APIs share one origin. ``--mount`` prefixes are fixed
at start-up; these are added later, by the pytest plugin's ``mount()`` (twochat_voice_web.testing).

- ``POST /sandbox/mounts`` (``X-User-API-Key``: it serves a directory of this machine) with JSON
  ``{"prefix": "/app", "directory": "/abs/path"}`` → ``{"success", "prefix", "directory", "url"}``.
  400: a prefix that is not a plain URL path, or a directory that is not an absolute path to a directory;
  409: a prefix that clashes with what the sandbox already serves (an API route such as ``/sandbox`` or
  ``/sdk``, a ``--mount`` prefix, a top-level name of the site such as ``/pyodide``, or a mount of another
  directory). Mounting the same directory at the same prefix again is a no-op.
- ``GET /sandbox/mounts`` → ``{"mounts": [{"prefix", "directory"}], "reserved": [first path segments]}``.

The site root and the mounts share the catch-all route (:class:`SiteAndMounts`), so a mount wins over the
site only below its own prefix, and never shadows a site file (that is a 409).
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from .config import ConfigError, parse_mount
from .rest import check_api_key, error_response, local_origin
from .static import StaticRoot

__all__ = ["MOUNTS_KEY", "SiteAndMounts", "add_mount_routes"]


class SiteAndMounts:
    """The catch-all GET route: the runtime mounts (longest prefix first), else the site, else 404."""

    def __init__(self, site: StaticRoot | None, *, no_cache: bool = False) -> None:
        self.site = site
        self.no_cache = no_cache
        self.mounts: dict[str, StaticRoot] = {}

    def reserved_segments(self, app: web.Application) -> set[str]:
        """First path segments a new mount may not take: API routes, ``--mount`` prefixes, site names."""
        taken: set[str] = set()
        for resource in app.router.resources():
            segment = resource.canonical.lstrip("/").split("/", 1)[0]
            if segment and not segment.startswith("{"):
                taken.add(segment)
        if self.site is not None and self.site.directory.is_dir():
            taken.update(entry.name for entry in self.site.directory.iterdir())
        return taken

    def add(self, app: web.Application, prefix: str, directory: Path) -> None:
        """Serve ``directory`` below ``prefix``; raise :class:`ConfigError` on a clash (see the module)."""
        existing = self.mounts.get(prefix)
        if existing is not None:
            if existing.directory == directory:
                return
            raise ConfigError(f"{prefix} is already mounted from {existing.directory}")
        first = prefix.lstrip("/").split("/", 1)[0]
        reserved = self.reserved_segments(app)
        if first in reserved:
            raise ConfigError(
                f"mount prefix {prefix} clashes with /{first}, which the sandbox serves already "
                f"(taken: {', '.join('/' + name for name in sorted(reserved))})"
            )
        for other in self.mounts:
            if prefix.startswith(other + "/") or other.startswith(prefix + "/"):
                raise ConfigError(f"mount prefix {prefix} overlaps the mount {other}")
        self.mounts[prefix] = StaticRoot(prefix, directory, no_cache=self.no_cache)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Serve ``/{tail}`` from the mount whose prefix it is under, else from the site."""
        path = "/" + request.match_info.get("tail", "")
        for prefix in sorted(self.mounts, key=len, reverse=True):
            if path == prefix:
                location = request.rel_url.with_path(prefix + "/").with_query(request.rel_url.query)
                raise web.HTTPMovedPermanently(location=str(location))
            if path.startswith(prefix + "/"):
                return await self.mounts[prefix].serve(request, path[len(prefix) + 1 :])
        if self.site is None:
            raise web.HTTPNotFound()
        return await self.site.serve(request, path[1:])


MOUNTS_KEY: web.AppKey[SiteAndMounts] = web.AppKey("twochat_site_and_mounts", SiteAndMounts)
"""Where the application keeps its :class:`SiteAndMounts`."""


async def post_mount(request: web.Request) -> web.Response:
    """``POST /sandbox/mounts``."""
    refused = check_api_key(request)
    if refused is not None:
        return refused
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        return error_response(400, "the body must be a JSON object {\"prefix\", \"directory\"}")
    prefix, directory = body.get("prefix"), body.get("directory")
    if not isinstance(prefix, str) or not isinstance(directory, str):
        return error_response(400, "'prefix' and 'directory' must be strings")
    path = Path(directory)
    if not path.is_absolute() or not path.is_dir():
        return error_response(400, f"'directory' must be the absolute path of a directory, got {directory!r}")
    try:
        mount = parse_mount(f"{prefix}={path}")
        request.app[MOUNTS_KEY].add(request.app, mount.prefix, mount.directory)
    except ConfigError as exc:
        status = 400 if "plain URL path" in str(exc) or "must not be '/'" in str(exc) else 409
        return error_response(status, str(exc).replace("--mount ", ""))
    url = f"{local_origin(request)}{mount.prefix}/"
    return web.json_response(
        {"success": True, "prefix": mount.prefix, "directory": str(mount.directory), "url": url}
    )


async def get_mounts(request: web.Request) -> web.Response:
    """``GET /sandbox/mounts``."""
    table = request.app[MOUNTS_KEY]
    return web.json_response(
        {
            "mounts": [
                {"prefix": prefix, "directory": str(root.directory)} for prefix, root in table.mounts.items()
            ],
            "reserved": sorted(table.reserved_segments(request.app)),
        }
    )


def add_mount_routes(app: web.Application, table: SiteAndMounts) -> None:
    """Register the mount endpoints and keep ``table`` at :data:`MOUNTS_KEY` (its catch-all route is
    added last, by ``create_app``)."""
    app[MOUNTS_KEY] = table
    app.router.add_post("/sandbox/mounts", post_mount)
    app.router.add_get("/sandbox/mounts", get_mounts)

"""Assembly of the sandbox's aiohttp application.

``create_app(config)`` builds the :class:`aiohttp.web.Application`, its shared
:class:`~twochat_voice_web.sandbox.state.SandboxState` (``app[STATE_KEY]``), the REST API, the demo backend,
the event-log API, the plugins, and last the static site and the run-time mounts
(:mod:`.mounts`) (so every API route wins over a file).

Plugins
-------
A plugin is a module with ``setup_app(app: web.Application) -> None`` (a distinctive name, so a module's
unrelated ``setup`` is never called by mistake). ``setup_app`` reads the state with
``app[STATE_KEY]``, adds its routes (e.g. ``/sip`` WebSocket, ``POST /sandbox/calls``) and registers
``app.on_startup`` / ``app.on_shutdown`` / ``app.on_cleanup`` callbacks (``on_shutdown`` is the place to
close open WebSockets and peer connections so Ctrl-C stops quickly). The default list is
:data:`DEFAULT_PLUGINS`; a module of that list that does not exist (yet) is skipped, any other import error
propagates. ``SandboxConfig.plugins`` overrides the list (``()`` for none).
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from collections.abc import Callable, Iterable
from typing import cast

from aiohttp import web

from .config import SandboxConfig
from .control import add_control_routes
from .demo import add_demo_routes
from .mounts import SiteAndMounts, add_mount_routes
from .rest import add_rest_routes
from .state import STATE_KEY, SandboxState
from .static import StaticRoot

__all__ = ["DEFAULT_PLUGINS", "PLUGIN_HOOK", "STATE_KEY", "PluginSetup", "create_app", "load_plugins"]

log = logging.getLogger("twochat_voice_web.sandbox")

DEFAULT_PLUGINS: tuple[str, ...] = ("twochat_voice_web.sandbox.sip_server",)
"""Modules whose ``setup_app(app)`` is called by default, in this order, when they exist and define it.
(``media`` is a library the SIP server uses, not a plugin of its own.)"""

PLUGIN_HOOK = "setup_app"
"""Name of the function a plugin module defines."""

PluginSetup = Callable[[web.Application], None]
"""Signature of a plugin's ``setup_app``."""


def load_plugins(names: Iterable[str]) -> list[tuple[str, PluginSetup]]:
    """Import each named module that exists and return its ``setup_app`` (modules without one are skipped)."""
    found: list[tuple[str, PluginSetup]] = []
    for name in names:
        try:
            spec = importlib.util.find_spec(name)
        except ModuleNotFoundError:
            spec = None
        if spec is None:
            log.debug("sandbox plugin %s not present; skipped", name)
            continue
        module = importlib.import_module(name)
        setup = getattr(module, PLUGIN_HOOK, None)
        if callable(setup):
            found.append((name, cast(PluginSetup, setup)))
    return found


def create_app(config: SandboxConfig, *, state: SandboxState | None = None) -> web.Application:
    """Build the sandbox application for ``config`` (``state``: a prepared state, e.g. with test users)."""
    app = web.Application(client_max_size=1024 * 1024)
    app[STATE_KEY] = state if state is not None else SandboxState.create(config)
    add_rest_routes(app)
    add_demo_routes(app)
    add_control_routes(app)

    plugin_names = DEFAULT_PLUGINS if config.plugins is None else config.plugins
    for name, setup in load_plugins(plugin_names):
        setup(app)
        log.debug("sandbox plugin %s set up", name)

    site = StaticRoot("", config.site_dir, no_cache=config.static_no_cache) if config.site_dir else None
    site_and_mounts = SiteAndMounts(site, no_cache=config.static_no_cache)
    add_mount_routes(app, site_and_mounts)
    for mount in config.mounts:
        StaticRoot(mount.prefix, mount.directory, no_cache=config.static_no_cache).add_routes(app)
    # last: the site and the directories mounted at run time (POST /sandbox/mounts) share the catch-all
    app.router.add_get("/{tail:.*}", site_and_mounts.handle)
    return app

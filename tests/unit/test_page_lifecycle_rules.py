"""Which page events a Device hooks, and that it lets go of them."""

from __future__ import annotations

from collections.abc import Callable

from twochat_voice_web.page_lifecycle import PageLifecycle


class _Hook:
    def __init__(self, hooks: list[_Hook], kind: str, callback: Callable[[], object]) -> None:
        self.kind, self.callback, self.disposed = kind, callback, False
        hooks.append(self)

    def dispose(self) -> None:
        self.disposed = True


class _Page:
    """A runtime with page events that records the hooks."""

    def __init__(self) -> None:
        self.hooks: list[_Hook] = []

    def on_page_leave(self, callback: Callable[[], None]) -> _Hook:
        return _Hook(self.hooks, "pagehide", callback)

    def protect_close(self, should_ask: Callable[[], bool]) -> _Hook:
        return _Hook(self.hooks, "beforeunload", should_ask)


def test_leaving_is_always_hooked_and_close_protection_only_when_asked() -> None:
    left: list[bool] = []
    page = _Page()
    plain = PageLifecycle(
        page, on_leave=lambda: left.append(True), has_live_call=lambda: True, close_protection=False
    )
    assert [h.kind for h in page.hooks] == ["pagehide"]
    page.hooks[0].callback()
    assert left == [True]
    plain.close()
    assert all(h.disposed for h in page.hooks)

    page = _Page()
    live = {"now": False}
    protected = PageLifecycle(
        page, on_leave=lambda: None, has_live_call=lambda: live["now"], close_protection=True
    )
    (_leave, ask) = page.hooks
    assert ask.kind == "beforeunload" and ask.callback() is False
    live["now"] = True
    assert ask.callback() is True
    protected.close()
    protected.close()  # idempotent
    assert protected.active is False and all(h.disposed for h in page.hooks)


def test_a_runtime_without_pages_gets_no_hooks() -> None:
    lifecycle = PageLifecycle(
        object(), on_leave=lambda: None, has_live_call=lambda: True, close_protection=True
    )
    assert lifecycle.active is False
    lifecycle.close()

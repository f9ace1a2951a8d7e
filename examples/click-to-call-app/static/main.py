"""The page: a Device registered with a token from our backend, one button that calls sales, a keypad
key, and inbound calls answered at once with the caller's X-2Chat-Order header shown."""

from __future__ import annotations

import asyncio

from pyscript import document, fetch, window
from pyscript.ffi import create_proxy

import twochat_voice_web as voice

PARAMS = window.URLSearchParams.new(window.location.search)
BACKEND = PARAMS.get("backend") or ""
FIRST_TTL = PARAMS.get("ttl")
SALES = "+15550100"  # the sandbox's echo number; your sales line in production

state: dict[str, object] = {"device": None, "call": None, "tokens": 0}
tasks: set[asyncio.Task[None]] = set()


def show(text: str) -> None:
    """Put ``text`` in the status line."""
    document.getElementById("status").textContent = text


def finished(task: asyncio.Task[None]) -> None:
    """Forget a finished task; show its exception, if any."""
    tasks.discard(task)
    if not task.cancelled() and task.exception() is not None:
        show(f"error: {task.exception()!r}")  # never a silent failure


def spawn(coroutine: object) -> None:
    """Run ``coroutine`` as a task the page keeps until it ends."""
    task = asyncio.ensure_future(coroutine)  # type: ignore[arg-type]
    tasks.add(task)
    task.add_done_callback(finished)


async def fetch_token(ttl: str | None = None) -> str:
    """A fresh access token from our backend (``ttl`` seconds, the backend's default when None)."""
    url = f"{BACKEND}/token" + (f"?ttl={ttl}" if ttl else "")
    response = await fetch(url, method="POST")
    if not response.ok:
        raise RuntimeError(f"the backend answered {response.status}")
    data = await response.json()
    state["tokens"] = int(state["tokens"]) + 1  # type: ignore[call-overload]
    document.getElementById("tokens").textContent = str(state["tokens"])
    return str(data["token"])


async def refresh_token() -> None:
    """On ``tokenWillExpire``: a new token for the registered Device."""
    device = state["device"]
    assert isinstance(device, voice.Device)
    await device.update_token(await fetch_token())
    document.getElementById("token-state").textContent = "(refreshed)"


def track(call: voice.Call) -> None:
    """Show ``call`` on the page and follow its state."""
    state["call"] = call
    document.getElementById("hangup").disabled = False
    document.getElementById("press-1").disabled = False
    call.on("accepted", lambda *_: show("in call"))
    call.on("reconnecting", lambda *_: show("reconnecting"))
    call.on("reconnected", lambda *_: show("in call (reconnected)"))

    def ended(*_: object) -> None:
        state["call"] = None
        document.getElementById("hangup").disabled = True
        document.getElementById("press-1").disabled = True
        show("call ended")

    call.on("disconnect", ended)


async def call_sales() -> None:
    """The call button: call sales."""
    device = state["device"]
    assert isinstance(device, voice.Device)
    show("calling")
    track(await device.connect(SALES))


async def answer(call: voice.Call) -> None:
    """An inbound call: show its X-2Chat-Order header and answer it."""
    document.getElementById("order").textContent = call.custom_headers.get("Order", "")
    track(call)
    await call.accept()


async def hang_up() -> None:
    """The hang-up button."""
    call = state["call"]
    if isinstance(call, voice.Call):
        await call.disconnect()


async def start() -> None:
    """Register the Device with a token from our backend, then enable the buttons."""
    device = voice.Device(await fetch_token(FIRST_TTL), api_base_url=str(window.location.origin))
    device.on("tokenWillExpire", lambda *_: spawn(refresh_token()))
    device.on("incoming", lambda call: spawn(answer(call)))
    state["device"] = device  # tokenWillExpire may fire as soon as it registers
    await device.register()
    for name, action in (("call", call_sales), ("hangup", hang_up)):
        document.getElementById(name).addEventListener(
            "click", create_proxy(lambda _event, _action=action: spawn(_action()))
        )
    document.getElementById("press-1").addEventListener(
        "click", create_proxy(lambda _event: state["call"].send_digits("1"))  # type: ignore[union-attr]
    )
    document.getElementById("call").disabled = False
    show("ready")


spawn(start())

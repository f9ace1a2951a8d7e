"""Small, safe bridges to JavaScript: plain-object conversion and promise calls that always settle.

Why :func:`call_async` instead of ``await obj.method()``: Pyodide turns a returned JS promise into a
Python future, and when the promise rejects with a value it cannot convert to a Python exception (seen
with Chromium's ``OverconstrainedError``, a DOMException subclass, and with non-Error values) the future
is never completed: the ``await`` hangs forever and only a page error ("invalid exception object") tells.
Here the promise is settled on the JavaScript side into ``[ok, value]`` (which always converts), and a
failure becomes a :class:`JsCallError` carrying the JS error's ``name`` and ``message``.

Nulls: in this Pyodide, JS ``null`` arrives as :data:`pyodide.ffi.jsnull` (falsy, but not ``None``) and
``undefined`` as ``None``; Python ``None`` goes to JS as ``undefined``. Test JS values with
:func:`is_nullish`, and pass :data:`JS_NULL` where an API wants ``null``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import js
from pyodide.ffi import jsnull, to_js

__all__ = [
    "JS_NULL",
    "JsCallError",
    "call_async",
    "call_sync",
    "has_member",
    "is_nullish",
    "js_array",
    "js_object",
    "same_object",
    "to_js_value",
]

#: JavaScript ``null`` (Python ``None`` becomes ``undefined``).
JS_NULL: Any = jsnull

_SETTLE_CALL: Any = js.Function.new(
    "target",
    "method",
    "args",
    """
    try {
      return Promise.resolve(target[method](...args)).then(
        (value) => [true, value], (error) => [false, error]);
    } catch (error) {
      return Promise.resolve([false, error]);
    }
    """,
)

_CALL: Any = js.Function.new(
    "target",
    "method",
    "args",
    """
    try { return [true, target[method](...args)]; } catch (error) { return [false, error]; }
    """,
)

_ERROR_INFO: Any = js.Function.new(
    "error",
    """
    if (error !== null && typeof error === "object") {
      return [String(error.name || (error.constructor && error.constructor.name) || "Error"),
              String(error.message === undefined ? "" : error.message)];
    }
    return ["Error", String(error)];
    """,
)

_IDENTICAL: Any = js.Function.new("a", "b", "return a === b;")

_HAS_MEMBER: Any = js.Function.new(
    "target", "name", "return target !== null && target !== undefined && (name in Object(target));"
)


def is_nullish(value: Any) -> bool:
    """True for JS ``null`` (``jsnull``) and ``undefined`` (``None``)."""
    return value is None or value is jsnull


class JsCallError(Exception):
    """A JavaScript call threw or its promise rejected.

    Attributes:
        name: the JS error's ``name`` (``"NotAllowedError"``, ``"TypeError"``...).
        message: the JS error's ``message``.
        error: the JS value itself.
    """

    def __init__(self, name: str, message: str, error: Any) -> None:
        self.name = name
        self.message = message
        self.error = error
        super().__init__(f"{name}: {message}" if message else name)


def _error_from(value: Any) -> JsCallError:
    info = _ERROR_INFO(value)
    return JsCallError(str(info[0]), str(info[1]), value)


def js_object(data: Mapping[str, Any]) -> Any:
    """A plain JS object (not a ``Map``) from a dict; nested dicts/lists convert, JsProxies pass through."""
    return to_js(dict(data), dict_converter=js.Object.fromEntries, create_pyproxies=False)


def to_js_value(value: Any) -> Any:
    """A JS value for an argument: dicts and lists become plain objects/arrays, bytes a Uint8Array."""
    if isinstance(value, Mapping):
        return js_object(value)
    if isinstance(value, list | tuple | bytes | bytearray):
        return to_js(value, dict_converter=js.Object.fromEntries, create_pyproxies=False)
    return value


def js_array(values: list[Any] | tuple[Any, ...]) -> Any:
    """A JS array of the converted ``values``."""
    return to_js([to_js_value(value) for value in values], create_pyproxies=False)


async def call_async(target: Any, method: str, *args: Any) -> Any:
    """``await target[method](...args)`` that never hangs on odd rejections.

    Raises:
        JsCallError: the call threw or the promise rejected.
    """
    outcome = await _SETTLE_CALL(target, method, js_array(args))
    if outcome[0]:
        return outcome[1]
    raise _error_from(outcome[1])


def call_sync(target: Any, method: str, *args: Any) -> Any:
    """``target[method](...args)`` with any thrown value turned into a :class:`JsCallError`."""
    outcome = _CALL(target, method, js_array(args))
    if outcome[0]:
        return outcome[1]
    raise _error_from(outcome[1])


def same_object(first: Any, second: Any) -> bool:
    """JS identity (``===``) of two JS values."""
    return bool(_IDENTICAL(first, second))


def has_member(target: Any, name: str) -> bool:
    """``name in target`` (own or inherited), False for null/undefined targets."""
    return bool(_HAS_MEMBER(target, name))

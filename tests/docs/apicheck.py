"""A static check of the Python on the documentation pages against the real API.

For one snippet it reports every name it uses that the package does not have:

* ``from twochat_voice_web[.module] import Name``: the module imports and has ``Name``;
* ``device.xxx``, ``call.xxx``, ``error.xxx``... : the attribute exists on the class the variable stands
  for. A variable's class comes from, in order: an annotation of the enclosing function's parameter
  (``def follow(call: Call)``), an ``except Class as name`` clause, an assignment from a constructor or
  from a method whose return annotation is one of ours (``call = await device.connect(...)``), and
  otherwise the page's convention (:data:`CONVENTIONS`: ``device`` is a Device, ``call`` a Call...);
* ``x.on("name", ...)`` / ``once`` / ``off``: the event is one the class emits;
* keyword arguments of a constructor or method of ours: the signature accepts them (``Device`` also its
  advanced options, the fields of ``DeviceOptions``).

Names that are not the package's (``js``, ``pyscript``, ``flask``, the page's own helpers) are not judged.
"""

from __future__ import annotations

import ast
import dataclasses
import enum
import importlib
import inspect
import textwrap
import typing
from collections.abc import Callable, Iterator
from typing import Any

import twochat_voice_web
from twochat_voice_web import Call, Device, SipCredentials, VoiceSDKError
from twochat_voice_web.device import DeviceOptions
from twochat_voice_web.quality import Sample, WarningChange
from twochat_voice_web.server import AccessToken
from twochat_voice_web.sip import UserAgent

PACKAGE = twochat_voice_web.__name__

#: What a bare variable of these names stands for on the documentation pages, unless the snippet says
#: otherwise (an annotation, an ``except`` clause, an assignment).
CONVENTIONS: dict[str, type] = {
    "device": Device,
    "call": Call,
    "current": Call,
    "error": VoiceSDKError,
    "sample": Sample,
    "change": WarningChange,
    "minted": AccessToken,
    "credentials": SipCredentials,
    "ua": UserAgent,
}

_ADVANCED_DEVICE_OPTIONS = frozenset(field.name for field in dataclasses.fields(DeviceOptions))
#: The keywords a ``**params`` of ours accepts (the JS spellings of ``connect()``).
_EXTRA_KEYWORDS: dict[object, frozenset[str]] = {
    Device.connect: frozenset({"from", "callerId", "extraHeaders"}),
}


def _subclasses(cls: type) -> Iterator[type]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def members(cls: type) -> frozenset[str]:
    """Every attribute an instance of ``cls`` may have: class members, dataclass fields, and the
    attributes its ``__init__`` methods (along the MRO) assign to ``self``. For a base class of ours (an
    ``event: Event`` narrowed by ``isinstance`` in the snippet), the members of its subclasses count too."""
    names = set(_own_members(cls))
    for sub in _subclasses(cls):
        if _is_ours(sub):
            names |= _own_members(sub)
    return frozenset(names)


def _own_members(cls: type) -> set[str]:
    names = set(dir(cls))
    if dataclasses.is_dataclass(cls):
        names.update(field.name for field in dataclasses.fields(cls))
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None or not inspect.isfunction(init):
            continue
        try:
            source = textwrap.dedent(inspect.getsource(init))
        except (OSError, TypeError):
            continue
        for node in ast.walk(ast.parse(source)):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.ctx, ast.Store)
                and isinstance(node.value, ast.Name)
                and node.value.id == "self"
            ):
                names.add(node.attr)
    return names


def events_of(cls: type) -> frozenset[str] | None:
    """The event names ``cls.on()`` accepts, or None when ``cls`` is not an event emitter."""
    events = getattr(cls, "EVENTS", None)
    return frozenset(events) if isinstance(events, frozenset) and events else None


def _is_ours(value: object) -> bool:
    module = getattr(value, "__module__", None) or ""
    return module == PACKAGE or module.startswith(PACKAGE + ".")


def _our_class(value: object) -> type | None:
    """``value`` when it is a class of ours, else None."""
    return value if isinstance(value, type) and _is_ours(value) else None


def _return_class(function: object) -> type | None:
    """The class of ours a callable returns, per its return annotation (None when unknown)."""
    try:
        hints = typing.get_type_hints(function)
    except Exception:
        return None
    returned = hints.get("return")
    origin = typing.get_origin(returned)
    if origin is not None:  # Awaitable[X], Coroutine[..., X]: not used by the package's async defs
        return None
    return returned if isinstance(returned, type) and _is_ours(returned) else None


def _keyword_problems(function: Callable[..., Any], keywords: list[str], what: str) -> list[str]:
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return []
    parameters = signature.parameters
    accepted = {name for name, p in parameters.items() if p.kind is not inspect.Parameter.VAR_KEYWORD}
    open_ended = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    if function is Device or (isinstance(function, type) and issubclass(function, Device)):
        accepted |= _ADVANCED_DEVICE_OPTIONS
        open_ended = False
    extra = _EXTRA_KEYWORDS.get(getattr(function, "__func__", function))
    if extra is not None:
        accepted |= extra
        open_ended = False
    if open_ended:
        return []
    return [f"{what}() has no parameter {name!r}" for name in keywords if name not in accepted]


class _Checker(ast.NodeVisitor):
    """Walks one snippet, keeping the class each variable stands for per function scope."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.imported: dict[str, object] = {}
        self.scopes: list[dict[str, type | None]] = [{}]

    # --------------------------------------------------------------- names and their classes

    def _class_of_name(self, name: str) -> type | None:
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        return CONVENTIONS.get(name)

    def _resolve(self, node: ast.expr | None) -> object | None:
        """The object of ours an expression names (an imported name, a dotted attribute of one)."""
        if isinstance(node, ast.Name):
            return self.imported.get(node.id)
        if isinstance(node, ast.Attribute):
            base = self._resolve(node.value)
            return getattr(base, node.attr, None) if base is not None else None
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return self.imported.get(node.value)
        return None

    def _class_of(self, node: ast.expr) -> type | None:
        """The class of ours an expression's value is an instance of, when the snippet tells."""
        if isinstance(node, ast.Await):
            return self._class_of(node.value)
        if isinstance(node, ast.Name):
            return self._class_of_name(node.id)
        if isinstance(node, ast.Call):
            target = self._resolve(node.func)
            if isinstance(target, type) and _is_ours(target):
                return target
            if isinstance(node.func, ast.Attribute):
                owner = self._class_of(node.func.value)
                if owner is not None:
                    method = getattr(owner, node.func.attr, None)
                    return _return_class(method) if method is not None else None
            if target is not None and callable(target):
                return _return_class(target)
        return None

    def _bind(self, name: str, cls: type | None) -> None:
        self.scopes[-1][name] = cls

    # --------------------------------------------------------------- imports

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module_name = node.module or ""
        if node.level or not (module_name == PACKAGE or module_name.startswith(PACKAGE + ".")):
            return
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            self.problems.append(f"line {node.lineno}: cannot import {module_name}: {exc}")
            return
        for alias in node.names:
            if not hasattr(module, alias.name):
                try:
                    value: object = importlib.import_module(f"{module_name}.{alias.name}")
                except ImportError:
                    self.problems.append(f"line {node.lineno}: {module_name} has no {alias.name!r}")
                    continue
            else:
                value = getattr(module, alias.name)
            self.imported[alias.asname or alias.name] = value
            self.scopes[-1].pop(alias.asname or alias.name, None)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name == PACKAGE or alias.name.startswith(PACKAGE + "."):
                try:
                    module = importlib.import_module(alias.name)
                except ImportError as exc:
                    self.problems.append(f"line {node.lineno}: cannot import {alias.name}: {exc}")
                    continue
                if alias.asname:
                    self.imported[alias.asname] = module
                else:
                    self.imported[PACKAGE] = importlib.import_module(PACKAGE)

    # --------------------------------------------------------------- scopes

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        for decorator in getattr(node, "decorator_list", []):
            self.visit(decorator)
        scope: dict[str, type | None] = {}
        arguments = node.args
        for argument in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]:
            if argument.annotation is not None:
                scope[argument.arg] = _our_class(self._resolve(argument.annotation))
            else:
                scope[argument.arg] = CONVENTIONS.get(argument.arg)
        for default in [*arguments.defaults, *arguments.kw_defaults]:
            if default is not None:
                self.visit(default)
        self.scopes.append(scope)
        body = node.body if isinstance(node.body, list) else [node.body]
        for statement in body:
            self.visit(statement)
        self.scopes.pop()

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._function(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._function(node)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._function(node)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.name:
            self._bind(node.name, _our_class(self._resolve(node.type)))
        self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        cls = self._class_of(node.value)
        for target in node.targets:
            if isinstance(target, ast.Name):
                self._bind(target.id, cls)
            else:
                self.visit(target)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)
        if isinstance(node.target, ast.Name):
            self._bind(node.target.id, _our_class(self._resolve(node.annotation)))

    # --------------------------------------------------------------- uses

    def visit_Attribute(self, node: ast.Attribute) -> None:
        self.generic_visit(node)
        if isinstance(node.value, ast.Name) and node.value.id not in self.imported:
            cls = self._class_of_name(node.value.id)
            if cls is not None and node.attr not in members(cls):
                self.problems.append(
                    f"line {node.lineno}: {node.value.id}.{node.attr}: {cls.__name__} has no {node.attr!r}"
                )
        elif isinstance(node.value, ast.Name | ast.Attribute):
            base = self._resolve(node.value)
            if (
                base is not None
                and _is_ours(base)
                and not isinstance(base, enum.Enum)
                and not hasattr(base, node.attr)
            ):
                self.problems.append(f"line {node.lineno}: {ast.unparse(node)} does not exist")

    def visit_Call(self, node: ast.Call) -> None:
        self.generic_visit(node)
        keywords = [k.arg for k in node.keywords if k.arg is not None]
        target = self._resolve(node.func)
        if target is not None and _is_ours(target) and callable(target):
            problems = _keyword_problems(target, keywords, ast.unparse(node.func))
            self.problems.extend(f"line {node.lineno}: {p}" for p in problems)
            return
        if not isinstance(node.func, ast.Attribute):
            return
        owner = self._class_of(node.func.value)
        if owner is None:
            return
        method = getattr(owner, node.func.attr, None)
        if method is None or not callable(method):
            return
        problems = _keyword_problems(method, keywords, f"{owner.__name__}.{node.func.attr}")
        self.problems.extend(f"line {node.lineno}: {p}" for p in problems)
        events = events_of(owner)
        if (
            node.func.attr in ("on", "once", "off")
            and events is not None
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and node.args[0].value not in events
        ):
            self.problems.append(
                f"line {node.lineno}: {owner.__name__} emits no event {node.args[0].value!r}"
            )


def api_problems(code: str, filename: str = "<snippet>") -> list[str]:
    """What ``code`` uses that the package does not have (an empty list: all of it exists)."""
    tree = ast.parse(code, filename)
    checker = _Checker()
    checker.visit(tree)
    return checker.problems

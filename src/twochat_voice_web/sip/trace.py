"""SIP messages as text for a debug trace, with every secret replaced by ``[redacted]``.

:func:`redact_message` never raises and never parses the message strictly: it is meant for anything that
crossed the wire, malformed or not. What it hides:

* ``Authorization`` and ``Proxy-Authorization`` (RFC 3261 §20.7, §20.28): every auth-param except the
  harmless ``username``, ``realm``, ``uri``, ``algorithm``, ``qop`` and ``nc``; so ``response``, ``nonce``,
  ``cnonce``, ``opaque`` and anything unknown are redacted. A value that is not a list of auth-params
  (another scheme's credentials, a token) is redacted after its scheme.
* ``WWW-Authenticate``, ``Proxy-Authenticate`` and ``Authentication-Info``: ``nonce``, ``nextnonce``,
  ``cnonce``, ``rspauth`` and ``opaque``.
* In an SDP body, the ICE password (``a=ice-pwd:``, RFC 8839) and SDES keys (``a=crypto:``, RFC 4568).

Folded header lines (RFC 3261 §7.3.1) are unfolded first, so a secret on a continuation line is hidden too.
"""

from __future__ import annotations

import re

__all__ = ["REDACTED", "redact_message"]

REDACTED = "[redacted]"
"""What a secret is replaced with."""

_CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization"})
_CHALLENGE_HEADERS = frozenset({"www-authenticate", "proxy-authenticate", "authentication-info"})
_KEEP_IN_CREDENTIALS = frozenset({"username", "realm", "uri", "algorithm", "qop", "nc"})
_HIDE_IN_CHALLENGES = frozenset({"nonce", "nextnonce", "cnonce", "rspauth", "opaque"})
_HEADER = re.compile(r"^([!#$%&'*+\-.^_`|~0-9A-Za-z]+)([ \t]*:[ \t]*)(.*)$", re.DOTALL)
_SCHEME = re.compile(r"^([!#$%&'*+\-.^_`|~0-9A-Za-z]+)([ \t]+)(.*)$", re.DOTALL)
_PARAM = re.compile(
    r'[ \t]*([!#$%&\'*+\-.^_`|~0-9A-Za-z]+)[ \t]*=[ \t]*("(?:[^"\\]|\\.)*"|[^,\s]*)[ \t]*(?:,|$)', re.DOTALL
)
_SDP_SECRET = re.compile(r"^(a=(?:ice-pwd|crypto):)(.*)$", re.IGNORECASE)


def redact_message(data: bytes | str) -> str:
    """The message as text, secrets replaced by :data:`REDACTED` (see the module docstring)."""
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    head, separator, body = _split(text)
    lines = _unfold(head.split("\r\n") if "\r\n" in head else head.split("\n"))
    out = [lines[0], *(_redact_header(line) for line in lines[1:])] if lines else []
    newline = "\r\n" if "\r\n" in head else "\n"
    if body:
        body_newline = "\r\n" if "\r\n" in body else "\n"
        body_lines = body.split(body_newline)
        body = body_newline.join(_SDP_SECRET.sub(rf"\g<1>{REDACTED}", line) for line in body_lines)
    return newline.join(out) + separator + body


def _split(text: str) -> tuple[str, str, str]:
    for separator in ("\r\n\r\n", "\n\n"):
        head, found, body = text.partition(separator)
        if found:
            return head, found, body
    return text, "", ""


def _unfold(lines: list[str]) -> list[str]:
    out: list[str] = []
    for line in lines:
        if out and len(out) > 1 and line[:1] in (" ", "\t"):
            out[-1] = out[-1] + " " + line.strip()
        else:
            out.append(line)
    return out


def _redact_header(line: str) -> str:
    match = _HEADER.match(line)
    if match is None:
        return line
    name, colon, value = match.groups()
    lowered = name.lower()
    if lowered in _CREDENTIAL_HEADERS:
        return name + colon + _redact_auth(value, keep=_KEEP_IN_CREDENTIALS)
    if lowered in _CHALLENGE_HEADERS:
        return name + colon + _redact_auth(value, hide=_HIDE_IN_CHALLENGES)
    return line


def _redact_auth(
    value: str, *, keep: frozenset[str] | None = None, hide: frozenset[str] = frozenset()
) -> str:
    """``Scheme p1=v1, p2=v2``: each value kept or replaced; anything unparseable is redacted whole."""
    scheme = _SCHEME.match(value)
    if scheme is None:
        # Authentication-Info has no scheme; a bare credentials token is all secret.
        if "=" not in value:
            return REDACTED if keep is not None else value
        prefix, rest = "", value
    else:
        prefix, rest = scheme.group(1) + scheme.group(2), scheme.group(3)
    params: list[str] = []
    position = 0
    while position < len(rest):
        match = _PARAM.match(rest, position)
        if match is None or match.end() == position:
            return prefix + REDACTED  # not auth-params: hide the lot
        name, param_value = match.group(1), match.group(2)
        secret = name.lower() not in keep if keep is not None else name.lower() in hide
        shown = (f'"{REDACTED}"' if param_value.startswith('"') else REDACTED) if secret else param_value
        params.append(f"{name}={shown}")
        position = match.end()
    return prefix + ", ".join(params)

"""Errors raised by the sans-I/O SIP core.

Modelled on h11: :class:`ProtocolError` is abstract; :class:`LocalProtocolError` means *we* (the caller
of this library) asked for something the protocol does not allow, :class:`RemoteProtocolError` means the
*peer* sent something malformed or out of place. Every error carries ``status_hint``: the SIP status code
a UAS should answer with when the error came from a request (400 Bad Request by default, 481, 491, 513...).

The parser and every ``parse_*`` helper raise only :class:`ParseError` (or a subclass) on bad input, never
``IndexError``/``KeyError``/``ValueError``/``UnicodeError``.
"""

from __future__ import annotations

__all__ = [
    "LocalProtocolError",
    "MessageTooLargeError",
    "ParseError",
    "ProtocolError",
    "RemoteProtocolError",
    "StatusHintedError",
]


class StatusHintedError(Exception):
    """An error that knows the SIP status a UAS should answer with when a request caused it.

    The base of the SIP core's :class:`ProtocolError` and of the sandbox's media endpoint errors.

    Attributes:
        status_hint: the SIP response status code that fits this error (the class's default unless the
            constructor was given one).
    """

    status_hint: int = 500

    def __init__(self, message: str, *, status_hint: int | None = None) -> None:
        super().__init__(message)
        if status_hint is not None:
            self.status_hint = status_hint

    @property
    def message(self) -> str:
        """The human-readable description of what is wrong."""
        return str(self.args[0]) if self.args else ""


class ProtocolError(StatusHintedError):
    """Base class of the SIP core's protocol errors (abstract: raise a subclass).

    Attributes:
        status_hint: the SIP response status code that fits this error when it was caused by a request.
    """

    status_hint: int = 400

    def __init__(self, message: str, *, status_hint: int | None = None) -> None:
        if type(self) is ProtocolError:
            raise TypeError("ProtocolError is abstract; raise LocalProtocolError or RemoteProtocolError")
        super().__init__(message, status_hint=status_hint)


class LocalProtocolError(ProtocolError):
    """The local application misused the API, or asked for something the protocol forbids."""

    status_hint = 500


class RemoteProtocolError(ProtocolError):
    """The peer sent something malformed, or something not allowed in the current state."""


class ParseError(RemoteProtocolError):
    """A SIP message, header, URI or SDP body does not follow its grammar.

    The message names what is wrong (which header, which part) so that a trace reader can fix it.
    """


class MessageTooLargeError(ParseError):
    """A message exceeded a configured limit (size, header count, header line length)."""

    status_hint = 513

"""How a :class:`~twochat_voice_web.sip.useragent.UserAgent` presents itself: :class:`UserAgentConfig`."""

from __future__ import annotations

from dataclasses import dataclass, field

from twochat_voice_web._version import __version__
from twochat_voice_web.sip.errors import LocalProtocolError
from twochat_voice_web.sip.message import DEFAULT_LIMITS, ParserLimits
from twochat_voice_web.sip.transaction import TimerConfig
from twochat_voice_web.sip.uri import SipUri

__all__ = ["UserAgentConfig"]


@dataclass(frozen=True)
class UserAgentConfig:
    """How a :class:`~twochat_voice_web.sip.useragent.UserAgent` presents itself. Only ``aor`` is required.

    Attributes:
        aor: our address of record (``sip:alice@example.com``): From of our requests, To of REGISTER.
        display_name: display name in From.
        username: digest user name (defaults to the AOR's user part).
        password: digest password (or give ``ha1``). Without either, challenges are not answered.
        ha1: precomputed MD5 H(user:realm:password), instead of the password.
        transport: the Via transport token, ``"WSS"`` or ``"WS"`` (or ``"TCP"``/``"TLS"``).
        via_host: sent-by of our Via (``host`` or ``host:port``); default a random ``.invalid`` name
            (RFC 7118 §5). The default Contact uses the same host and port.
        contact_uri: our Contact URI; default ``sip:<random>@<via_host>;transport=<ws|wss>;ob``.
        instance_id: ``+sip.instance`` URN (RFC 5626); default a random ``urn:uuid:``.
        reg_id: RFC 5626 ``reg-id`` of our flow.
        registrar: Request-URI of REGISTER; default ``sip:<aor host>``.
        register_expires: the registration interval we ask for, seconds.
        preloaded_routes: Route header values for initial requests (an outbound proxy).
        user_agent: the User-Agent header of our requests (None: no header).
        session_expires: ask for RFC 4028 session timers on our INVITEs (seconds), or None to use them
            only when the peer asks.
        min_se: the smallest session interval we accept (Min-SE), seconds.
        timers: transaction timer values.
        max_auth_attempts: authenticated retries per request before giving up.
        passthrough_methods: out-of-dialog methods handed to the application as
            :class:`~twochat_voice_web.sip.events.RequestReceived` instead of being answered here (e.g.
            ``{"REGISTER"}`` on a registrar).
        parser_limits: limits applied to incoming messages.
        use_gruu: use the public GRUU the registrar gives us (RFC 5627) as Contact of our dialogs.
    """

    aor: SipUri
    display_name: str | None = None
    username: str | None = None
    password: str | None = None
    ha1: str | None = None
    transport: str = "WSS"
    via_host: str | None = None
    contact_uri: SipUri | None = None
    instance_id: str | None = None
    reg_id: int = 1
    registrar: SipUri | None = None
    register_expires: int = 600
    preloaded_routes: tuple[str, ...] = ()
    user_agent: str | None = f"twochat-voice-web/{__version__}"
    session_expires: int | None = None
    min_se: int = 90
    timers: TimerConfig = field(default_factory=TimerConfig)
    max_auth_attempts: int = 2
    passthrough_methods: frozenset[str] = frozenset()
    parser_limits: ParserLimits = DEFAULT_LIMITS
    use_gruu: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.aor, SipUri):
            raise LocalProtocolError("aor must be a SipUri")
        if self.transport.upper() not in ("WS", "WSS", "TCP", "TLS", "UDP"):
            raise LocalProtocolError(f"unknown transport {self.transport!r}")
        if self.min_se < 90:
            raise LocalProtocolError("min_se must be at least 90 seconds (RFC 4028 §5)")
        if self.session_expires is not None and self.session_expires < self.min_se:
            raise LocalProtocolError("session_expires must not be below min_se")
        if self.register_expires <= 0:
            raise LocalProtocolError("register_expires must be positive")

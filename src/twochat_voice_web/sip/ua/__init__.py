"""The parts of :class:`~twochat_voice_web.sip.useragent.UserAgent`, one RFC concept a module.

:mod:`twochat_voice_web.sip.useragent` is the facade; these modules are its insides and not an API of their
own. They share one :class:`~.context.UaContext` (the transaction table, the outbox, the event queue and
the call table) and talk to each other only through the public names declared here, bottom up:

* :mod:`.config` — :class:`~.config.UserAgentConfig`, how the user agent presents itself;
* :mod:`.context` — shared state, the :class:`~.context.Purpose` of each client transaction, and the
  primitives every concept uses (send a request, answer one, end a call);
* :mod:`.session_timer` — RFC 4028 session timers;
* :mod:`.digest_retry` — answering 401/407 challenges and preemptive credentials (RFC 3261 §22);
* :mod:`.request_checks` — RFC 3261 §8.2 request checks, the method tables, and answering bad input;
* :mod:`.dtmf_info` — DTMF over SIP INFO (``application/dtmf-relay``, ``application/dtmf``);
* :mod:`.offer_answer` — re-INVITE/UPDATE offer/answer (RFC 3264) and 491 glare back-off (§14.1);
* :mod:`.invite_client` — INVITE as caller: forks, CANCEL, 422 retry (RFC 3261 §13.2, §9.1, RFC 4028 §6);
* :mod:`.invite_server` — INVITE as callee: ring, answer, reject, CANCEL, ACK (RFC 3261 §13.3, §9.2);
* :mod:`.in_dialog` — the peer's BYE and the results of our own in-dialog requests (RFC 3261 §12.2, §15).
"""

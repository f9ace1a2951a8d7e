"""Parse and serialise throughput of the SIP message layer (messages per second).

Four messages: a REGISTER, a 401 with WWW-Authenticate, an INVITE with SDP and a 200 OK with SDP. For
each one the benchmark measures:

* ``parse_warm``: the same bytes again and again; the header parsers' caches (keyed by raw value) hit.
* ``parse_fresh``: a new Call-ID, Via branch and tags in every message (as in real traffic: a new
  transaction each time), so the Via/From/To/Call-ID parsers miss their caches while URIs repeat.
* ``parse_cold``: every parse cache is emptied before each parse (worst case; includes the small cost
  of emptying the caches).
* ``serialise``: ``to_bytes()`` of the parsed message.

Each figure is the median of ``runs`` timed runs of ``iterations`` operations. :func:`run` is pure
Python without file I/O so that a page can call it inside Pyodide.

The comparison with JsSIP (:func:`run_full`, :func:`mix_run`) parses with the *full grammar checked*:
``parse_message`` and then every header that JsSIP's ``Parser.parseMessage`` parses eagerly with its PEG
grammar (Via, From, To, Call-ID, CSeq, Contact, Record-Route, Content-Length, Content-Type, Max-Forwards,
WWW-/Proxy-Authenticate, Session-Expires), on fresh messages (new Call-ID, branch and tags each time, the
parse caches emptied before every run). Neither side parses the SDP body.

``python3 build.py bench parse`` (:func:`main`) measures in CPython, then in Chromium: our parser in
Pyodide and JsSIP's parser *in the same page* (bench/pages/ours.html with the JsSIP bundle added), the
same messages, runs interleaved. It writes ``bench/results/parse_cpython.json`` (the CPython rows of
:func:`run`), ``bench/results/parse.json`` and the merged latest files (see _common.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from twochat_voice_web.sip.auth import parse_challenges
from twochat_voice_web.sip.message import Request, Response, clear_parse_caches, parse_message
from twochat_voice_web.sip.session import parse_session_expires

SDP = (
    b"v=0\r\n"
    b"o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n"
    b"s=-\r\n"
    b"t=0 0\r\n"
    b"a=group:BUNDLE 0\r\n"
    b"a=msid-semantic: WMS\r\n"
    b"m=audio 9 UDP/TLS/RTP/SAVPF 111 0 8 126\r\n"
    b"c=IN IP4 0.0.0.0\r\n"
    b"a=rtcp:9 IN IP4 0.0.0.0\r\n"
    b"a=candidate:1 1 udp 2122260223 192.0.2.10 54400 typ host generation 0\r\n"
    b"a=ice-ufrag:Zx9d\r\n"
    b"a=ice-pwd:asd88fgpdd777uzjYhagZg1f\r\n"
    b"a=fingerprint:sha-256 D2:FA:0E:C3:22:59:5E:14:95:69:92:3D:13:B4:84:24:"
    b"2C:C2:A2:C0:3E:FD:34:8E:5E:EA:6F:AF:52:CE:E6:0F\r\n"
    b"a=setup:actpass\r\n"
    b"a=mid:0\r\n"
    b"a=sendrecv\r\n"
    b"a=rtcp-mux\r\n"
    b"a=rtpmap:111 opus/48000/2\r\n"
    b"a=fmtp:111 minptime=10;useinbandfec=1\r\n"
    b"a=rtpmap:0 PCMU/8000\r\n"
    b"a=rtpmap:8 PCMA/8000\r\n"
    b"a=rtpmap:126 telephone-event/8000\r\n"
)


def _message(head: str, body: bytes = b"") -> bytes:
    lines = head.strip("\n").split("\n")
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


MESSAGES: dict[str, bytes] = {
    "register": _message(
        "REGISTER sip:sip.example.com SIP/2.0\n"
        "Via: SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bKBRANCH;rport\n"
        "Max-Forwards: 70\n"
        "To: <sip:1001@sip.example.com>\n"
        "From: <sip:1001@sip.example.com>;tag=FROMTAG\n"
        "Call-ID: CALLID@df7jal23ls0d.invalid\n"
        "CSeq: 2 REGISTER\n"
        "Authorization: Digest username=\"1001\", realm=\"sip.example.com\", nonce=\"ZmFrZS1ub25jZQ==\", "
        "uri=\"sip:sip.example.com\", response=\"6629fae49393a05397450978507c4ef1\", algorithm=MD5, "
        "cnonce=\"0a4f113b\", qop=auth, nc=00000001\n"
        "Contact: <sip:1001@df7jal23ls0d.invalid;transport=ws>;+sip.instance=\"<urn:uuid:00000000-0000-1000-"
        "8000-000A95A0E128>\";reg-id=1;expires=600\n"
        "Expires: 600\n"
        "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, NOTIFY, REFER\n"
        "Supported: path, gruu, outbound\n"
        "User-Agent: twochat-voice-web/0.1"
    ),
    "401": _message(
        "SIP/2.0 401 Unauthorized\n"
        "Via: SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bKBRANCH;rport=53412;received=192.0.2.33\n"
        "To: <sip:1001@sip.example.com>;tag=TOTAG\n"
        "From: <sip:1001@sip.example.com>;tag=FROMTAG\n"
        "Call-ID: CALLID@df7jal23ls0d.invalid\n"
        "CSeq: 1 REGISTER\n"
        "WWW-Authenticate: Digest realm=\"sip.example.com\", nonce=\"ZmFrZS1ub25jZQ==\", qop=\"auth\", "
        "algorithm=MD5, opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"\n"
        "Server: twochat-sandbox"
    ),
    "invite_sdp": _message(
        "INVITE sip:+15550100@sip.example.com SIP/2.0\n"
        "Via: SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bKBRANCH;rport\n"
        "Max-Forwards: 70\n"
        "To: <sip:+15550100@sip.example.com>\n"
        "From: \"Alice\" <sip:1001@sip.example.com>;tag=FROMTAG\n"
        "Call-ID: CALLID@df7jal23ls0d.invalid\n"
        "CSeq: 314159 INVITE\n"
        "Contact: <sip:1001@sip.example.com;gr=urn:uuid:00000000-0000-1000-8000-000A95A0E128;ob>\n"
        "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, NOTIFY, REFER\n"
        "Supported: timer, outbound, 100rel\n"
        "Session-Expires: 90\n"
        "User-Agent: twochat-voice-web/0.1\n"
        "Content-Type: application/sdp",
        SDP,
    ),
    "200_sdp": _message(
        "SIP/2.0 200 OK\n"
        "Via: SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bKBRANCH;rport=53412;received=192.0.2.33\n"
        "Record-Route: <sip:192.0.2.1:8443;transport=ws;lr;r2=on>, <sip:192.0.2.1;lr;r2=on>\n"
        "To: <sip:+15550100@sip.example.com>;tag=TOTAG\n"
        "From: \"Alice\" <sip:1001@sip.example.com>;tag=FROMTAG\n"
        "Call-ID: CALLID@df7jal23ls0d.invalid\n"
        "CSeq: 314159 INVITE\n"
        "Contact: <sip:+15550100@192.0.2.50:5060>\n"
        "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS\n"
        "Supported: timer\n"
        "Content-Type: application/sdp",
        SDP,
    ),
}


def _fresh_variants(template: bytes, count: int) -> list[bytes]:
    """Copies of ``template`` with a unique Call-ID, branch and tags in each (lengths kept)."""
    out = []
    for i in range(count):
        tag = f"{i:08x}".encode()
        out.append(
            template.replace(b"BRANCH", tag[-6:])
            .replace(b"FROMTAG", tag[-7:])
            .replace(b"TOTAG", tag[-5:])
            .replace(b"CALLID", tag[-6:])
        )
    return out


def _time(operation: Callable[[], object], iterations: int) -> float:
    """Seconds for ``iterations`` calls of ``operation``."""
    start = time.perf_counter()
    for _ in range(iterations):
        operation()
    return time.perf_counter() - start


def _parse_same(data: bytes) -> Callable[[], object]:
    """An operation that parses ``data`` (warm caches after the first call)."""
    parse_message(data)
    return lambda: parse_message(data)


def _parse_each(messages: list[bytes]) -> Callable[[], object]:
    """An operation that parses the next message of ``messages`` at each call."""
    feed = iter(messages)
    return lambda: parse_message(next(feed))


def _parse_cold(data: bytes) -> Callable[[], object]:
    """An operation that empties every parse cache, then parses ``data``."""

    def operation() -> object:
        clear_parse_caches()
        return parse_message(data)

    return operation


def _median(values: list[float]) -> float:
    """The median of ``values`` (not empty). Written here because this module also runs in the page, whose
    trimmed standard library has no ``statistics`` (see build.py's PYTHON_BUNDLE_DENIED)."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def _row(metric: str, rates: list[float]) -> dict[str, object]:
    median = _median(rates)
    return {
        "metric": metric,
        "value": round(median, 1),
        "unit": "messages/s",
        "runs": len(rates),
        "min": round(min(rates), 1),
        "median": round(median, 1),
        "max": round(max(rates), 1),
    }


def run(iterations: int, runs: int = 5) -> list[dict[str, object]]:
    """Measure every metric; return one row per metric (``value`` is the median rate over ``runs``).

    Pure Python, no file I/O: callable from a page in Pyodide.
    """
    if iterations < 1 or runs < 1:
        raise ValueError("iterations and runs must be positive")
    rows: list[dict[str, object]] = []
    for name, data in MESSAGES.items():
        fresh = _fresh_variants(data, iterations)
        message = parse_message(data)
        results: dict[str, list[float]] = {name: [] for name in ("parse_warm", "parse_fresh", "parse_cold",
                                                                 "serialise")}
        for _ in range(runs):
            results["parse_warm"].append(iterations / _time(_parse_same(data), iterations))
            clear_parse_caches()
            results["parse_fresh"].append(iterations / _time(_parse_each(fresh), iterations))
            results["parse_cold"].append(iterations / _time(_parse_cold(data), iterations))
            results["serialise"].append(iterations / _time(message.to_bytes, iterations))
        rows.extend(_row(f"{metric}_{name}", rates) for metric, rates in results.items())
    return rows


def parse_full(data: bytes) -> Request | Response:
    """``parse_message`` plus every header JsSIP parses eagerly, each through its grammar."""
    message = parse_message(data)
    _ = (message.via, message.from_, message.to, message.call_id, message.cseq, message.contacts)
    _ = (message.record_routes, message.content_length, message.content_type, message.max_forwards)
    for name in ("WWW-Authenticate", "Proxy-Authenticate"):
        for value in message.headers.get_all(name):
            parse_challenges(value)
    session_expires = message.session_expires
    if session_expires is not None:
        parse_session_expires(session_expires)
    return message


def fresh_sample(count: int) -> dict[str, list[bytes]]:
    """``count`` fresh copies of every sample message (unique Call-ID, branch and tags), by message name."""
    return {name: _fresh_variants(data, count) for name, data in MESSAGES.items()}


def mix(count: int) -> list[bytes]:
    """The four messages in turn, ``count`` fresh copies of each: the traffic of :func:`mix_run`."""
    sample = fresh_sample(count)
    return [sample[name][index] for index in range(count) for name in MESSAGES]


def _full_rate(messages: list[bytes], iterations: int) -> float:
    """Messages per second for ``iterations`` full parses of ``messages`` in turn, caches emptied first."""
    clear_parse_caches()
    feed = iter(messages * (iterations // len(messages) + 1))
    return iterations / _time(lambda: parse_full(next(feed)), iterations)


def run_full(iterations: int, runs: int = 5) -> list[dict[str, object]]:
    """Full-grammar parse rate of each sample message (``parse_full_<name>`` rows), fresh messages.

    Pure Python, no file I/O: callable from a page in Pyodide.
    """
    if iterations < 1 or runs < 1:
        raise ValueError("iterations and runs must be positive")
    sample = fresh_sample(min(iterations, 1000))
    rows: list[dict[str, object]] = []
    for name, messages in sample.items():
        parse_full(messages[0])
        rows.append(_row(f"parse_full_{name}", [_full_rate(messages, iterations) for _ in range(runs)]))
    return rows


def mix_run(iterations: int) -> dict[str, float]:
    """One timed run: the mix (messages/s) and the INVITE with SDP (µs per message), full grammar, fresh.

    Pure Python, no file I/O: the page calls it once per run, interleaved with JsSIP's runs.
    """
    count = max(1, min(iterations // len(MESSAGES), 1000))
    mix_rate = _full_rate(mix(count), iterations)
    invite_rate = _full_rate(fresh_sample(min(iterations, 1000))["invite_sdp"], max(1, iterations // 2))
    return {"mix_per_s": round(mix_rate, 1), "invite_sdp_us": round(1e6 / invite_rate, 2)}


def serialise_run(iterations: int) -> float:
    """One timed run: ``to_bytes()`` of the four parsed messages in turn (messages/s).

    Pure Python, no file I/O: the page calls it once per run.
    """
    messages = [parse_message(data) for data in MESSAGES.values()]
    feed = iter(messages * (iterations // len(messages) + 1))
    return round(iterations / _time(lambda: next(feed).to_bytes(), iterations), 1)


def markdown_table(rows: list[dict[str, object]]) -> str:
    """Render rows as a Markdown table with the per-message time next to the rate."""
    lines = [
        "| metric | median msg/s | µs/msg | min | max | runs |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        median = float(row["median"])  # type: ignore[arg-type]
        lines.append(
            f"| {row['metric']} | {median:,.0f} | {1e6 / median:.1f} | {float(row['min']):,.0f} | "  # type: ignore[arg-type]
            f"{float(row['max']):,.0f} | {row['runs']} |"  # type: ignore[arg-type]
        )
    return "\n".join(lines)


# JsSIP's parser in the page: the same runs as mix_run(), on the same messages as text.
JSSIP_MIX_RUN = """({ mix, invites, iterations }) => {
  const ua = {};
  const timed = (messages, count) => {
    const started = performance.now();
    for (let i = 0; i < count; i++) {
      if (!JsSIP.Parser.parseMessage(messages[i % messages.length], ua)) throw new Error("JsSIP: no parse");
    }
    return (performance.now() - started) / 1000;
  };
  const mixSeconds = timed(mix, iterations);
  const inviteCount = Math.max(1, Math.floor(iterations / 2));
  const inviteSeconds = timed(invites, inviteCount);
  return { mix_per_s: iterations / mixSeconds, invite_sdp_us: inviteSeconds * 1e6 / inviteCount };
}"""


# The same runs with each message arriving as a WebSocket frame does: a MessageEvent whose data is a JS
# string, dispatched to a "message" listener. Ours: bench_driver's listener proxy (the JS string becomes a
# Python str, then UTF-8 bytes, as in browser/_signalling.py, then the full-grammar parse); JsSIP: a JS
# listener calling Parser.parseMessage(event.data), as its WebSocketInterface does. Both pay the dispatch.
FRAME_MIX_RUN = """({ side, mix, invites, iterations }) => {
  const ua = {};
  const handler = side === "ours" ? window.benchFrameHandler : (event) => {
    if (!JsSIP.Parser.parseMessage(event.data, ua)) throw new Error("JsSIP: no parse");
  };
  const target = new EventTarget();
  target.addEventListener("message", handler);
  const timed = (messages, count) => {
    const started = performance.now();
    for (let i = 0; i < count; i++) {
      target.dispatchEvent(new MessageEvent("message", { data: messages[i % messages.length] }));
    }
    return (performance.now() - started) / 1000;
  };
  try {
    const mixSeconds = timed(mix, iterations);
    const inviteCount = Math.max(1, Math.floor(iterations / 2));
    const inviteSeconds = timed(invites, inviteCount);
    return { mix_per_s: iterations / mixSeconds, invite_sdp_us: inviteSeconds * 1e6 / inviteCount };
  } finally {
    target.removeEventListener("message", handler);
  }
}"""


def in_page(iterations: int, runs: int) -> dict[str, object]:
    """Our parser in Pyodide and JsSIP's in the same Chromium page, runs interleaved (one warm-up each)."""
    import json
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import _common as common
    from playwright.sync_api import sync_playwright

    results: dict[str, list[dict[str, float]]] = {"pyodide": [], "jssip": [], "pyodide_frames": [],
                                                  "jssip_frames": []}
    loads: list[float] = []
    with common.served_site() as served, sync_playwright() as playwright:
        browser = playwright.chromium.launch(**served.launch_options())
        try:
            context = browser.new_context(permissions=["microphone"])
            page = context.new_page()
            page.goto(served.url + "/bench/pages/ours.html")
            common.wait_ready(page, driver=True)
            page.add_script_tag(url="/bench-dist/jssip-bench.min.js")
            page.wait_for_function("() => typeof JsSIP !== 'undefined' && !!JsSIP.Parser")
            count = max(1, min(iterations // len(MESSAGES), 1000))
            texts = common.bench_run(page, "sample_messages", count=count)
            mix_text = [texts[name][index] for index in range(count) for name in MESSAGES]
            jssip_args = {"mix": mix_text, "invites": texts["invite_sdp"], "iterations": iterations}
            common.bench_run(page, "install_frame_handler")
            for run in range(runs + 1):  # the first run of each warms up (JIT, caches) and is dropped
                loads.append(common.load_average())
                common.bench_run(page, "clear_caches")
                ours_frames = page.evaluate(FRAME_MIX_RUN, {**jssip_args, "side": "ours"})
                theirs_frames = page.evaluate(FRAME_MIX_RUN, {**jssip_args, "side": "jssip"})
                ours = common.bench_run(page, "parse_mix_run", iterations=iterations)
                theirs = page.evaluate(JSSIP_MIX_RUN, jssip_args)
                serialised = common.bench_run(page, "serialise_run", iterations=iterations)
                if run:
                    results["pyodide"].append({**ours, "serialise_per_s": serialised})
                    results["jssip"].append(theirs)
                    results["pyodide_frames"].append(ours_frames)
                    results["jssip_frames"].append(theirs_frames)
            common.bench_run(page, "remove_frame_handler")
            per_message = common.bench_run(page, "parse_full_run", iterations=iterations, runs=runs)
            version = browser.version
            env = common.environment(served, version)
        finally:
            browser.close()
    return {"results": results, "loads": loads, "per_message_pyodide": per_message, "environment": env,
            "jssip_messages_bytes": len(json.dumps(mix_text))}


def main(argv: list[str] | None = None) -> int:
    """CPython rows (parse_cpython.json), then the in-page comparison (parse.json), then latest.*."""
    import argparse
    import json
    import platform
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import _common as common

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=2000, help="operations per timed run")
    parser.add_argument("--runs", type=int, default=7, help="timed runs per metric (the median is reported)")
    default_output = Path(__file__).parent / "results" / "parse_cpython.json"
    parser.add_argument("--output", type=Path, default=default_output)
    parser.add_argument("--cpython-only", action="store_true", help="skip the browser part")
    args = parser.parse_args(argv)
    rows = run(args.iterations, args.runs) + run_full(args.iterations, args.runs)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(rows, indent=2) + "\n")
    print(f"Python {platform.python_version()} ({sys.implementation.name}), {args.iterations} iterations x "
          f"{args.runs} runs\n")
    print(markdown_table(rows))
    if args.cpython_only:
        return 0
    cpython_mix = [mix_run(args.iterations) for _ in range(args.runs + 1)][1:]
    page = in_page(args.iterations, args.runs)
    results: dict[str, list[dict[str, float]]] = page["results"]  # type: ignore[assignment]
    loads: list[float] = page["loads"]  # type: ignore[assignment]

    def series(side: list[dict[str, float]], key: str) -> list[float]:
        return [float(sample[key]) for sample in side]

    def median(side: str, key: str) -> float:
        return _median(series(results[side], key))

    ours_mix = series(results["pyodide_frames"], "mix_per_s")
    jssip_mix = series(results["jssip_frames"], "mix_per_s")
    ratio = _median(ours_mix) / _median(jssip_mix)
    ours_invite = series(results["pyodide_frames"], "invite_sdp_us")
    jssip_invite = series(results["jssip_frames"], "invite_sdp_us")
    alone = {side: {key: median(side, key) for key in ("mix_per_s", "invite_sdp_us")}
             for side in ("pyodide", "jssip")}
    page_rows = [
        common.row(
            "parse_throughput_pyodide", "messages/s", ours=ours_mix, jssip=jssip_mix, loads=loads,
            higher_is_better=True, target="≥ 2.5x JsSIP's parser in the same page", target_met=ratio >= 2.5,
            note=("the 4-message mix (REGISTER, 401, INVITE+SDP, 200+SDP), fresh Call-IDs/branches/tags, "
                  "full header grammar on both sides, same Chromium page, each message delivered as a "
                  "WebSocket frame is (a MessageEvent with a JS string, to a \"message\" listener: ours "
                  "converts it into Python bytes as the SDK does); the parsers alone, bytes in: ours "
                  f"{alone['pyodide']['mix_per_s']:,.0f}, JsSIP {alone['jssip']['mix_per_s']:,.0f} "
                  "messages/s; CPython: "
                  f"{_median(series(cpython_mix, 'mix_per_s')):,.0f} messages/s"),
            extra={"cpython": _median(series(cpython_mix, "mix_per_s")),
                   "stats_cpython": common.summary(series(cpython_mix, "mix_per_s")),
                   "parser_alone": {"ours": alone["pyodide"]["mix_per_s"],
                                    "jssip": alone["jssip"]["mix_per_s"]}},
        ),
        common.row(
            "parse_invite_sdp_us", "us", ours=ours_invite, jssip=jssip_invite, loads=loads,
            target="≤ 100 µs (full grammar)", target_met=_median(ours_invite) <= 100,
            note=("time to take one INVITE with SDP from a WebSocket frame (JS string → Python for ours) and "
                  "check every header's grammar, in the page; the parsers alone: ours "
                  f"{alone['pyodide']['invite_sdp_us']:.1f} µs, "
                  f"JsSIP {alone['jssip']['invite_sdp_us']:.1f} µs"),
            extra={"cpython": _median(series(cpython_mix, "invite_sdp_us")),
                   "parser_alone": {"ours": alone["pyodide"]["invite_sdp_us"],
                                    "jssip": alone["jssip"]["invite_sdp_us"]}},
        ),
    ]
    cpython_serialise = [serialise_run(args.iterations) for _ in range(args.runs)]
    page_rows.append(common.row(
        "serialise_throughput_pyodide", "messages/s", ours=series(results["pyodide"], "serialise_per_s"),
        loads=loads, higher_is_better=True,
        note=(f"to_bytes() of the 4 parsed messages in turn, in the page; CPython: "
              f"{_median(cpython_serialise):,.0f} messages/s (JsSIP has no serialiser for received "
              "messages to compare with)"),
        extra={"cpython": _median(cpython_serialise)},
    ))
    common.write_results("parse", page_rows, page["environment"],  # type: ignore[arg-type]
                         {"page": page, "cpython_mix": cpython_mix, "cpython_rows": rows})
    common.write_latest()
    print(common.markdown_table(page_rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

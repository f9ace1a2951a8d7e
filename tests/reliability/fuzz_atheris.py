"""Coverage-guided fuzzing of the SIP receive path with atheris (optional, local; CI runs hypothesis).

Each input is fed to a fresh client user agent that is registered and in a call (the harness of
tests/sdk/test_reliability_fuzz.py), and must keep its contract: ``receive_data`` never raises, every reply
parses, no reply to an ACK or a response, and the user agent still answers OPTIONS, stays registered and can
hang its call up. The seed corpus is that test's seeds (in-dialog INFO, re-INVITE, BYE, a stray response,
an OPTIONS); the SDK's modules are instrumented for coverage.

Run (needs ``pip install atheris==3.0.0``; libFuzzer options pass through)::

    .venv/bin/python tests/reliability/fuzz_atheris.py -max_total_time=60 [corpus_dir]
"""

from __future__ import annotations

import importlib
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    """Fuzz until libFuzzer stops (``-max_total_time``, ``-runs``) or the contract breaks."""
    try:
        atheris: Any = importlib.import_module("atheris")
    except ImportError:
        print("atheris is not installed: .venv/bin/pip install atheris==3.0.0", file=sys.stderr)
        return 2
    sys.path.insert(0, str(HERE.parent / "sdk"))
    with atheris.instrument_imports(include=["twochat_voice_web"]):
        harness: Any = importlib.import_module("test_reliability_fuzz")
    if not any(not arg.startswith("-") for arg in argv[1:]):
        corpus = Path(tempfile.mkdtemp(prefix="sip-fuzz-corpus-"))
        for index, seed in enumerate(harness.SEEDS):
            (corpus / f"seed-{index}").write_bytes(seed)
        argv = [*argv, str(corpus)]

    def one_input(data: bytes) -> None:
        harness.check_contract(harness.make_pair(), data)

    atheris.Setup(argv, one_input)
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

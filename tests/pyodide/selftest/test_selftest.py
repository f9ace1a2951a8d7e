"""A fixed suite with known counts: proves the in-Pyodide harness counts what pytest counts.

Expected everywhere: 6 passed, 1 skipped, 1 xfailed (asserted by tests/browser/test_pyodide_unit_suite.py).
"""

import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

import twochat_voice_web


def test_plain_assertion() -> None:
    assert sum(range(5)) == 10


@pytest.mark.parametrize(("text", "expected"), [("sip", 3), ("sips", 4)])
def test_parametrized(text: str, expected: int) -> None:
    assert len(text) == expected


@given(st.text())
def test_hypothesis_round_trip(text: str) -> None:
    assert text.encode("utf-8").decode("utf-8") == text


def test_sdk_is_importable() -> None:
    assert twochat_voice_web.__version__


def test_runtime_is_known() -> None:
    assert sys.platform in ("emscripten", "linux", "darwin", "win32")


def test_skipped() -> None:
    pytest.skip("counted as skipped on purpose")


@pytest.mark.xfail(reason="counted as xfailed on purpose", strict=True)
def test_expected_failure() -> None:
    assert "sip:alice@example.com".startswith("sips:")

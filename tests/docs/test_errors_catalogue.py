"""docs/errors.md documents every ErrorCode, once, and nothing that is not one.

Each code has one row ``| `CODE` | meaning | raised / emitted | suggested action |`` in a catalogue table.
A code added to :class:`twochat_voice_web.errors.ErrorCode` without a row fails here, as does a row left
behind for a code that was removed.
"""

from __future__ import annotations

import re

from docsite import DOCS_DIR

from twochat_voice_web.errors import ErrorCode

ERRORS_MD = DOCS_DIR / "errors.md"
ROW = re.compile(r"^\|\s*`(?P<code>[A-Z][A-Z0-9_]*)`\s*\|(?P<rest>.*)\|\s*$")
#: The 2Chat codes (2chat-voice-sdk.md §6.3): documented first, with 2Chat's meanings.
TWOCHAT_CODES = (
    "TOKEN_INVALID",
    "TOKEN_EXPIRED",
    "AUTH_ERROR",
    "CONFIG_FETCH_FAILED",
    "REGISTRATION_FAILED",
    "REGISTER_ERROR",
    "UNREGISTER_ERROR",
    "NOT_REGISTERED",
)


def catalogue_rows() -> dict[str, list[list[str]]]:
    """Code -> the cells of every catalogue row naming it (rows of the 4-column tables)."""
    rows: dict[str, list[list[str]]] = {}
    for line in ERRORS_MD.read_text().splitlines():
        match = ROW.match(line)
        if match is None:
            continue
        cells = [cell.strip() for cell in match.group("rest").split(" | ")]
        if len(cells) == 3:  # meaning, raised / emitted, suggested action
            rows.setdefault(match.group("code"), []).append(cells)
    return rows


def test_every_error_code_has_exactly_one_row() -> None:
    rows = catalogue_rows()
    missing = [code.value for code in ErrorCode if code.value not in rows]
    duplicated = [code for code, found in rows.items() if len(found) > 1]
    assert missing == [], f"ErrorCode members missing from docs/errors.md: {missing}"
    assert duplicated == [], f"codes with more than one catalogue row: {duplicated}"


def test_no_row_documents_an_unknown_code() -> None:
    known = {code.value for code in ErrorCode}
    assert sorted(set(catalogue_rows()) - known) == []


def test_every_row_says_what_when_and_what_to_do() -> None:
    for code, found in catalogue_rows().items():
        meaning, when, action = found[0]
        assert meaning and when and action, code
        assert re.search(r"\b(Raised|Emitted)\b", when), f"{code}: say whether it is raised or emitted"


def test_the_2chat_codes_come_first_in_2chat_order() -> None:
    order = list(catalogue_rows())
    assert tuple(order[: len(TWOCHAT_CODES)]) == TWOCHAT_CODES
    assert set(TWOCHAT_CODES) <= {code.value for code in ErrorCode}

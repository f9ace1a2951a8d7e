"""The status area of a page: one line saying what is happening, with a level for styling."""

from __future__ import annotations

from enum import Enum

import js

from app.dom import nullable

__all__ = ["StatusArea", "StatusLevel"]


class StatusLevel(Enum):
    """How a status message is shown (the ``data-level`` attribute; see ``css/app.css``)."""

    INFO = "info"
    SUCCESS = "success"
    WARNING = "warning"
    ERROR = "error"


class StatusArea:
    """Writes messages into the element with id ``element_id`` (an ARIA live region in the pages)."""

    def __init__(self, element_id: str = "status") -> None:
        element = nullable(js.document.getElementById(element_id))
        if element is None:
            raise LookupError(f"the page has no element with id {element_id!r} for the status area")
        self._element = element

    @property
    def text(self) -> str:
        """The message shown now."""
        return str(self._element.textContent)

    def show(self, message: str, level: StatusLevel = StatusLevel.INFO) -> None:
        """Replace the message."""
        self._element.dataset.level = level.value
        self._element.textContent = message

    def info(self, message: str) -> None:
        """Show an informational message."""
        self.show(message, StatusLevel.INFO)

    def success(self, message: str) -> None:
        """Show a success message."""
        self.show(message, StatusLevel.SUCCESS)

    def warning(self, message: str) -> None:
        """Show a warning."""
        self.show(message, StatusLevel.WARNING)

    def error(self, message: str) -> None:
        """Show an error."""
        self.show(message, StatusLevel.ERROR)

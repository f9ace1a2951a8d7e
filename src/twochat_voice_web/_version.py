"""The one place the package version is written."""

__version__ = "0.1.0"
"""The SDK's version (PEP 440), as in the wheel's metadata."""

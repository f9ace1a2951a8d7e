"""Reliability and security tests of issue 7 (reconnects, restarts, tokens, leaks, hostile input)."""

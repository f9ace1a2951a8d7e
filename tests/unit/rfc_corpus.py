"""Find and read the RFC 4475 / RFC 5118 torture-test corpora byte for byte (tests/unit/rfc4475/README.md).

Each corpus directory of this repository holds a ``SHA256SUMS`` manifest of the RFC archive's files. The
files themselves are looked for, in order, in ``$TWOCHAT_SIP_TORTURE_DIR/<corpus>``, in
``tests/unit/<corpus>`` (where the in-Pyodide copy of the unit suite carries them), in the repository's
``.cache/sip-torture/<corpus>`` (where ``build.py test`` puts them) and in ``shared/sip-torture/<corpus>``
beside the repository; a directory is used
only when every file of the manifest is there, and every file read is checked against its SHA-256, so a
test never runs on bytes that are not the RFC's.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

HERE = Path(__file__).resolve().parent


def manifest(corpus: str) -> dict[str, str]:
    """The ``SHA256SUMS`` of ``corpus`` (``"rfc4475"`` or ``"rfc5118"``): file name -> hex digest."""
    out: dict[str, str] = {}
    for line in (HERE / corpus / "SHA256SUMS").read_text(encoding="ascii").splitlines():
        digest, name = line.split(maxsplit=1)
        out[name.lstrip("*")] = digest
    return out


def candidates(corpus: str) -> list[Path]:
    """The directories searched for ``corpus``, in order."""
    dirs = []
    env = os.environ.get("TWOCHAT_SIP_TORTURE_DIR")
    if env:
        dirs.append(Path(env) / corpus)
    dirs.append(HERE / corpus)
    if len(HERE.parents) >= 3:
        dirs.append(HERE.parents[1] / ".cache" / "sip-torture" / corpus)  # where build.py test puts them
        dirs.append(HERE.parents[2] / "shared" / "sip-torture" / corpus)
    return dirs


def find(corpus: str) -> Path | None:
    """The first candidate directory that holds every file of the manifest, or None (also when the
    manifest itself is not there)."""
    try:
        names = manifest(corpus)
    except FileNotFoundError:
        return None
    for directory in candidates(corpus):
        try:
            if all((directory / name).is_file() for name in names):
                return directory
        except OSError:
            continue
    return None


def read(corpus: str, name: str) -> bytes:
    """The bytes of one corpus file, checked against the manifest (AssertionError if they differ)."""
    directory = find(corpus)
    assert directory is not None, f"{corpus} corpus not found in {candidates(corpus)}"
    data = (directory / name).read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    assert digest == manifest(corpus)[name], f"{directory / name} is not the RFC's file (sha256 {digest})"
    return data

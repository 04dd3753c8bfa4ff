"""The community key: the secret every member of a sharing community holds.

A key file holds at least 32 random bytes as hex on one line (``stillwatch intel keygen``).
The key id names the key in bundles so a receiver can tell which key an indicator was made
with without learning the key:

    key_id = first 16 hex digits of SHA-256(b"stillwatch intel key id v1\\x00" + key bytes)

The prefix keeps the id apart from any other hash of the same bytes; SHA-256 is one-way, so
the id says nothing about the key. Sixteen hex digits (64 bits) keep ids of different keys
apart in any community.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from stillwatch.errors import InputError, UsageError

MIN_KEY_BYTES = 32
KEY_ID_PREFIX = b"stillwatch intel key id v1\x00"
KEY_ID_HEX = 16


@dataclass(frozen=True)
class CommunityKey:
    """The key bytes and their id. ``repr`` never shows the key."""

    secret: bytes

    def __repr__(self) -> str:
        return f"CommunityKey(key_id={self.key_id})"

    @property
    def key_id(self) -> str:
        return hashlib.sha256(KEY_ID_PREFIX + self.secret).hexdigest()[:KEY_ID_HEX]

    def keyed_hash(self, domain: str, value: str) -> str:
        """HMAC-SHA256 of ``domain`` NUL ``value`` (UTF-8), as 64 lower-case hex digits.

        ``domain`` names the kind and its canonical version (``tls-ja4/1``), so the same text
        under two kinds gives unrelated hashes.
        """
        message = domain.encode("utf-8") + b"\x00" + value.encode("utf-8")
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()


def generate(n_bytes: int = MIN_KEY_BYTES) -> CommunityKey:
    if n_bytes < MIN_KEY_BYTES:
        raise UsageError(f"--bytes: a community key needs at least {MIN_KEY_BYTES}, got {n_bytes}")
    return CommunityKey(secrets.token_bytes(n_bytes))


def write_key(key: CommunityKey, path: Path, *, force: bool = False) -> None:
    """Write the key as hex on one line, readable by its owner only; never overwrite unasked."""
    if path.exists() and not force:
        raise UsageError(f"{path}: already exists; a key is never overwritten without --force")
    if not path.parent.is_dir():
        raise UsageError(f"{path}: folder {path.parent} does not exist")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, stat.S_IRUSR | stat.S_IWUSR)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(key.secret.hex() + "\n")
    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)


def read_key(path: Path) -> CommunityKey:
    """Read a key file: one line of hex, at least 32 bytes."""
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        raise InputError(
            str(path), "no such file", "a community key from `stillwatch intel keygen`"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(str(path), f"unreadable: {exc}", "one line of hex") from None
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) != 1:
        raise InputError(str(path), f"{len(lines)} non-empty lines", "one line of hex")
    try:
        secret = bytes.fromhex(lines[0])
    except ValueError:
        raise InputError(str(path), "not hexadecimal", "one line of hex digits") from None
    if len(secret) < MIN_KEY_BYTES:
        raise InputError(
            str(path), f"{len(secret)} bytes is too short", f"at least {MIN_KEY_BYTES} bytes"
        )
    return CommunityKey(secret)

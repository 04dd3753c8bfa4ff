"""The community key file and its id."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pytest

from stillwatch.errors import InputError, UsageError
from stillwatch.intel.keys import generate, read_key, write_key


def test_keygen_writes_one_line_of_hex_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "community.key"
    key = generate(48)
    write_key(key, path)
    text = path.read_text()
    assert text.endswith("\n") and text.count("\n") == 1 and len(text.strip()) == 96
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = read_key(path)
    assert again.secret == key.secret
    # the documented derivation
    expected = hashlib.sha256(b"stillwatch intel key id v1\x00" + key.secret).hexdigest()[:16]
    assert again.key_id == expected and key.secret.hex() not in repr(again)
    with pytest.raises(UsageError, match="never overwritten"):
        write_key(generate(), path)
    assert generate().secret != generate().secret


@pytest.mark.parametrize(
    ("content", "problem"),
    [("ab" * 31 + "\n", "31 bytes is too short"), ("zz" * 40, "not hexadecimal"),
     ("ab" * 32 + "\n" + "cd" * 32, "2 non-empty lines")],
)  # fmt: skip
def test_bad_key_files(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "k"
    path.write_text(content)
    with pytest.raises(InputError, match=problem):
        read_key(path)


def test_short_keys_are_refused() -> None:
    with pytest.raises(UsageError, match="at least 32"):
        generate(16)

"""The integrations' tests run with nothing fetched from outside this machine.

LiteLLM fetches its model-cost map from GitHub when it is imported, unless
``LITELLM_LOCAL_MODEL_COST_MAP`` is true (then it reads the copy it ships), and
``LITELLM_OFFLINE_MODE`` makes every other catalogue or tokenizer it would fetch use its bundled
copy (tiktoken's encodings are bundled too). Both are set here, before LiteLLM is imported
(importing ``stillwatch.integrations.litellm_logger`` imports it).

A Python audit hook watches every name lookup and connect of this process: one to an address
outside the loopback range is refused (``OSError``) and recorded, and every test of this folder
fails if anything was recorded, from the imports at collection on.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import sys
from collections.abc import Iterator
from typing import Any

import pytest

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
os.environ["LITELLM_OFFLINE_MODE"] = "true"

OUTSIDE: list[str] = []  # what tried to leave the machine: "event host"
_watch = {"on": True}


def _local(host: Any) -> bool:
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    if host is None or host == "" or not isinstance(host, str):
        return True  # a passive lookup (bind), or an AF_UNIX / socketpair address
    name = host.split("%")[0].strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False  # a name other than localhost: a lookup that would leave the machine
    return address.is_loopback or address.is_unspecified


def _audit(
    event: str, args: tuple[Any, ...], _watch: dict[str, bool] = _watch, _seen: list[str] = OUTSIDE
) -> None:
    """(Called for every audit event of the process, to its end, when this module's globals are
    gone: so it holds what it needs as defaults and returns at once when off.)"""
    if not _watch["on"] or not event.startswith("socket."):
        return
    if event in ("socket.getaddrinfo", "socket.gethostbyname"):
        host = args[0]
    elif event == "socket.connect":
        address = args[1]
        if not isinstance(address, tuple):  # AF_UNIX path
            return
        host = address[0]
    else:
        return
    if not _local(host):
        _seen.append(f"{event} {host!r}")
        raise OSError(f"the tests reach nothing outside this machine: {event} {host!r}")


sys.addaudithook(_audit)  # (an audit hook stays for the process: off outside this folder)

# imported here, watched, and with the settings above in force; where the optional extra is not
# installed, its test skips
with contextlib.suppress(ImportError):
    import litellm  # noqa: F401

from tests.web.conftest import site, site_template  # noqa: E402, F401 - the web tests' site fixtures

_watch["on"] = False


@pytest.fixture(autouse=True)
def nothing_fetched() -> Iterator[list[str]]:
    """Watches the test; fails it if anything (it, or the imports before it) reached outside."""
    assert not OUTSIDE, f"reached outside this machine at import: {OUTSIDE}"
    _watch["on"] = True
    try:
        yield OUTSIDE
    finally:
        _watch["on"] = False
    assert not OUTSIDE, f"reached outside this machine: {OUTSIDE}"

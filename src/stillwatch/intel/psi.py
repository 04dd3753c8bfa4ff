"""Private set intersection: how many of our flagged low-entropy values a partner also flagged,
revealing neither list (``openmined-psi``, elliptic-curve Diffie-Hellman PSI-cardinality).

The exchange is three files, so it runs over any channel the two parties already trust to
carry files (mail, a shared bucket, TAXII is not needed):

1. **request** (party A, who learns the count): A blinds its items with a fresh secret key and
   writes ``request`` (the blinded items) and ``state`` (the secret key, owner-only; never
   sent).
2. **respond** (party B): B blinds A's items again and writes ``response``: the doubly blinded
   items, shuffled, and B's own items blinded once in a Golomb-compressed set. B learns only
   how many items A sent.
3. **count** (party A): A removes its blinding and counts how many of its items are in B's set.
   A learns that count and how many items B has, nothing else.

Items are ``<kind>/<version>:<canonical value>`` (``ip-prefix/1:198.51.100.0/24``), so both
sides must use the same canonical forms. The false-positive rate is 10^-9 per item.

Known limit (PSI-cardinality in general): a requester who sends a set holding one real guess
padded with values it knows B lacks learns whether B flagged the guess. B bounds that by
answering each partner rarely and refusing requests larger than ``intel_psi_max_items``;
docs/sharing.md says more.
"""

from __future__ import annotations

import base64
import json
import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import private_set_intersection.python as psi

from stillwatch.errors import InputError, UsageError

FALSE_POSITIVE_RATE = 1e-9
REQUEST_FORMAT = "stillwatch-psi-request/1"
STATE_FORMAT = "stillwatch-psi-state/1"
RESPONSE_FORMAT = "stillwatch-psi-response/1"


def _b64(message: Any) -> str:
    return base64.b64encode(message.SerializeToString()).decode("ascii")


def _write(path: Path, payload: dict[str, Any], *, private: bool = False) -> None:
    mode = stat.S_IRUSR | stat.S_IWUSR if private else 0o644
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        json.dump(payload, out)
        out.write("\n")


def _read(path: Path, expected: str, fields: Iterable[str]) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="ascii"))
    except FileNotFoundError:
        raise InputError(str(path), "no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(str(path), f"not a PSI message: {exc}", expected) from None
    if not isinstance(data, dict) or data.get("format") != expected:
        raise InputError(str(path), "not a PSI message of this step", expected)
    missing = [f for f in fields if f not in data]
    if missing:
        raise InputError(str(path), f"missing {', '.join(missing)}", expected)
    return data


def _proto(path: Path, cls: Any, text: str) -> Any:
    message = cls()
    try:
        message.ParseFromString(base64.b64decode(text, validate=True))
    except Exception as exc:  # protobuf raises its own DecodeError; binascii its own
        raise InputError(str(path), f"damaged PSI message: {exc}") from None
    return message


def request(items: set[str], request_path: Path, state_path: Path) -> int:
    """Step 1 (A): write the blinded request and the private state; returns the item count."""
    if not items:
        raise UsageError("no flagged values to compare: the campaigns give no prefix or domain")
    client = psi.client.CreateWithNewKey(False)
    message = client.CreateRequest(sorted(items))
    _write(state_path, {"format": STATE_FORMAT, "client_key": client.GetPrivateKeyBytes().hex(),
                        "items": len(items)}, private=True)  # fmt: skip
    _write(request_path, {"format": REQUEST_FORMAT, "request": _b64(message)})
    return len(items)


def respond(items: set[str], request_path: Path, response_path: Path, max_items: int) -> int:
    """Step 2 (B): answer a request with our items; returns how many items A sent."""
    data = _read(request_path, REQUEST_FORMAT, ["request"])
    message = _proto(request_path, psi.Request, data["request"])
    n = len(message.encrypted_elements)
    if n > max_items:
        raise InputError(
            str(request_path),
            f"asks about {n:,} items; we answer at most {max_items:,} (setting intel_psi_max_items)",
        )
    if message.reveal_intersection:
        raise InputError(
            str(request_path), "asks to reveal the intersection itself; only its size is answered"
        )
    server = psi.server.CreateWithNewKey(False)
    setup = server.CreateSetupMessage(
        FALSE_POSITIVE_RATE, max(n, 1), sorted(items), psi.DataStructure.GCS
    )
    answer = server.ProcessRequest(message)
    _write(response_path, {"format": RESPONSE_FORMAT, "setup": _b64(setup),
                           "response": _b64(answer), "responder_items": len(items)})  # fmt: skip
    return n


def count(state_path: Path, response_path: Path) -> tuple[int, int, int]:
    """Step 3 (A): (items in both sets, our items, the partner's items)."""
    state = _read(state_path, STATE_FORMAT, ["client_key", "items"])
    data = _read(response_path, RESPONSE_FORMAT, ["setup", "response", "responder_items"])
    client = psi.client.CreateFromKey(bytes.fromhex(state["client_key"]), False)
    setup = _proto(response_path, psi.ServerSetup, data["setup"])
    answer = _proto(response_path, psi.Response, data["response"])
    try:
        both = client.GetIntersectionSize(setup, answer)
    except RuntimeError as exc:
        raise InputError(str(response_path), f"does not answer this request: {exc}") from None
    return int(both), int(state["items"]), int(data["responder_items"])

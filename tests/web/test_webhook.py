"""The webhook against a real local HTTP receiver: signed, retried, nothing lost."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient

from stillwatch.engine.casebook import open_casebook
from stillwatch.web.app import create_app
from stillwatch.web.audit import outbox_state
from tests.web.conftest import PASSWORD, Site

SECRET = "webhook-test-secret"


class Receiver(ThreadingHTTPServer):
    """Answers 500 to the first ``fail_first`` posts, then 204; keeps every post."""

    def __init__(self, fail_first: int) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.fail_first = fail_first
        self.posts: list[dict[str, Any]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"


class Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.posts.append({"headers": dict(self.headers), "body": body})
        status = 500 if len(self.server.posts) <= self.server.fail_first else 204
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver(fail_first=2)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def verify(secret: str, header: str, body: bytes, max_age: float = 300) -> bool:
    """What a receiver does: recompute the HMAC over "<t>.<body>", reject stale ones."""
    fields = dict(part.split("=", 1) for part in header.split(","))
    expected = hmac.new(secret.encode(), f"{fields['t']}.".encode() + body, hashlib.sha256)
    fresh = abs(time.time() - int(fields["t"])) <= max_age
    return fresh and hmac.compare_digest(expected.hexdigest(), fields["v1"])


def wait_for(check: Any, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_events_reach_the_receiver_signed_after_retries(site: Site, receiver: Receiver) -> None:
    config = replace(
        site.config,
        webhook_url=receiver.url,
        webhook_secret=SECRET,
        webhook_backoff_seconds=0.05,
        webhook_retries=5,
    )
    with TestClient(create_app(config)) as client:
        auth = {"Authorization": f"Bearer {site.tokens['analyst']}"}
        client.post(
            "/api/v1/accounts/acct-1/actions",
            json={"action": "suspend", "reason": "hydra member"},
            headers=auth,
        )
        client.post("/api/v1/login", json={"username": "viewer", "password": PASSWORD})
        wait_for(lambda: len({p["headers"]["X-Stillwatch-Event-Id"] for p in receiver.posts}) >= 2
                 and len(receiver.posts) >= 4)  # fmt: skip
        with open_casebook(site.casebook) as book:
            wait_for(lambda: outbox_state(book)["delivered"] == 2)
            assert outbox_state(book) == {"delivered": 2, "failed": 0, "pending": 0}
    bodies = [json.loads(p["body"]) for p in receiver.posts]
    assert bodies[0]["event"] == "action"  # the first event, refused twice (500) ...
    assert len(receiver.posts) == 4  # ... then each event accepted once
    accepted = {b["event"]: b for b in bodies[2:]}  # a retry may come after a newer event
    assert set(accepted) == {"action", "login"}
    action = accepted["action"]
    assert action["detail"]["action"] == "suspend" and action["reason"] == "hydra member"
    assert action["actor"] == "analyst" and accepted["login"]["actor"] == "viewer"
    for post in receiver.posts:
        assert verify(SECRET, post["headers"]["X-Stillwatch-Signature"], post["body"])
        assert not verify("wrong secret", post["headers"]["X-Stillwatch-Signature"], post["body"])
    # Tamper with the action's delivery (retries and the login may arrive in either order).
    signed = next(p for p in receiver.posts if b"suspend" in p["body"])
    tampered = signed["body"].replace(b"suspend", b"observe")
    assert not verify(SECRET, signed["headers"]["X-Stillwatch-Signature"], tampered)


def test_an_unreachable_receiver_is_given_up_after_the_retries(site: Site) -> None:
    dead = Receiver(fail_first=0)
    url = dead.url
    dead.server_close()  # nothing listens there now
    config = replace(
        site.config,
        webhook_url=url,
        webhook_secret=SECRET,
        webhook_backoff_seconds=0.02,
        webhook_retries=3,
    )
    with TestClient(create_app(config)) as client:
        client.post("/api/v1/login", json={"username": "viewer", "password": PASSWORD})
        with open_casebook(site.casebook) as book:
            wait_for(lambda: outbox_state(book)["failed"] == 1)
            row = book.one("SELECT attempts, last_error FROM webhook_outbox")
            assert row is not None and row[0] == 3 and row[1]


def test_a_webhook_without_a_secret_is_refused(site: Site) -> None:
    from stillwatch.errors import UsageError

    with pytest.raises(UsageError, match="webhook_secret"):
        create_app(replace(site.config, webhook_url="http://127.0.0.1:9/x"))

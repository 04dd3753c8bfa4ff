"""``stillwatch users``: add, list, token, remove; secrets masked by ``config``."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from stillwatch.cli.app import _register, app
from stillwatch.engine.casebook import open_casebook
from stillwatch.web.auth import check_password, principal_for_token

_register()
runner = CliRunner()


def test_users_add_list_token_remove(tmp_path: Path) -> None:
    where = ["--store", str(tmp_path / "s.duckdb")]
    made = runner.invoke(
        app, ["users", "add", "ana", "--role", "admin", "--generate-password", "--format",
              "json", *where],
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    password = json.loads(made.output)["password"]
    assert len(password) == 16
    short = runner.invoke(app, ["users", "add", "bob", "--password-stdin", *where], input="short\n")
    assert short.exit_code != 0 and "at least 12" in str(short.exception)
    again = runner.invoke(app, ["users", "add", "ana", "--generate-password", *where])
    assert "exists" in str(again.exception)
    token = json.loads(
        runner.invoke(app, ["users", "token", "ana", "--format", "json", *where]).output
    )["token"]
    listed = json.loads(runner.invoke(app, ["users", "list", "--format", "json", *where]).output)
    assert listed == [
        {"username": "ana", "role": "admin", "created_at": listed[0]["created_at"],
         "created_by": listed[0]["created_by"], "tokens": 1}
    ]  # fmt: skip
    book_path = tmp_path / "s.casebook.sqlite"
    with open_casebook(book_path) as book:
        assert check_password(book, "ana", password) == "admin"
        assert check_password(book, "ana", password + "x") is None
        who = principal_for_token(book, token)
        assert who is not None and who.role == "admin"
        events = [r[0] for r in book.rows("SELECT event FROM audit ORDER BY audit_id")]
        assert events == ["user_add", "token_create"]
    assert runner.invoke(app, ["users", "remove", "ana", *where]).exit_code == 0
    with open_casebook(book_path) as book:
        assert principal_for_token(book, token) is None  # tokens go with their user
    gone = runner.invoke(app, ["users", "remove", "ana", *where])
    assert "no user" in str(gone.exception)


def test_config_masks_secrets(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("STILLWATCH_WEBHOOK_SECRET", "s3cr3t-value")
    shown = runner.invoke(app, ["config", "--format", "json"])
    rows = {r["setting"]: r["value"] for r in json.loads(shown.output)}
    assert rows["webhook_secret"] == "(set)" and rows["session_secret"] == "(not set)"
    assert "s3cr3t-value" not in shown.output

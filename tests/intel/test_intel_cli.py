"""`stillwatch intel` as a user runs it: exit codes, one-line errors, documentation."""

from __future__ import annotations

import json
import re
from pathlib import Path

from stillwatch.engine.forget import ACCOUNT_DATA
from stillwatch.engine.intel_tables import INTEL_ACCOUNT_ROWS, INTEL_DDL
from tests.cli.test_commands import sw
from tests.intel.sharing_fixtures import CAMPAIGNS, EXCLUDED

ROOT = Path(__file__).parents[2]


def test_keygen_export_import_match_psi(tmp_path: Path) -> None:
    assert sw("intel", "keygen", "--out", "k.hex", cwd=tmp_path).returncode == 0
    export = ["intel", "export", "--campaigns", str(CAMPAIGNS), "--exclude", str(EXCLUDED),
              "--tlp", "amber", "--community-key", "k.hex", "--format", "json"]  # fmt: skip
    done = sw(*export, "--all", "--out", "b.json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["campaigns"] == 2 and payload["skipped_low_confidence"] == ["camp-maybe-9"]
    one = json.loads(
        sw(*export, "--campaign", "camp-agentic-4", "--out", "one.json", cwd=tmp_path).stdout
    )
    assert one["campaigns"] == 1
    for bad, message in [
        (["--all", "--campaign", "x", "--out", "x.json"], "or pass --all"),
        (["--campaign", "nope", "--out", "x.json"], "nope not in"),
        (["--all", "--out", "x.txt"], "name the file *.json"),
        (["--all", "--out", "x.json", "--allow-raw", "--tlp", "clear"], "--allow-raw needs"),
    ]:
        failed = sw(*export, *bad, cwd=tmp_path)
        assert (
            failed.returncode == 2 and message in failed.stderr and failed.stderr.count("\n") == 1
        )

    imported = sw(
        "intel", "import", "b.json", "--community-key", "k.hex", "--format", "json", cwd=tmp_path
    )
    assert imported.returncode == 0 and json.loads(imported.stdout)[0]["new"] == 6
    (tmp_path / "bad.json").write_text('{"type": "bundle", "objects": [')
    bad = sw("intel", "import", "b.json", "bad.json", "--community-key", "k.hex", cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.startswith("error: bad.json: bad JSON")
    matched = sw("intel", "match", "--community-key", "k.hex", "--format", "json", cwd=tmp_path)
    assert matched.returncode == 0 and json.loads(matched.stdout)["accounts_matched"] == 0
    nokey = sw("intel", "match", cwd=tmp_path)
    assert nokey.returncode == 2 and "no community key" in nokey.stderr

    psi = ["--campaigns", str(CAMPAIGNS), "--exclude", str(EXCLUDED), "--format", "json"]
    assert (
        sw(
            "intel", "psi", "request", *psi, "--out", "req.json", "--state", "st.json", cwd=tmp_path
        ).returncode
        == 0
    )
    assert (
        sw(
            "intel", "psi", "respond", "req.json", *psi, "--out", "resp.json", cwd=tmp_path
        ).returncode
        == 0
    )
    counted = sw(
        "intel",
        "psi",
        "count",
        "--state",
        "st.json",
        "--response",
        "resp.json",
        "--format",
        "json",
        cwd=tmp_path,
    )
    assert counted.returncode == 1  # findings: every value is in both (the same campaigns)
    assert json.loads(counted.stdout) == {"in_both": 7, "ours": 7, "partners": 7}


def test_every_intel_command_and_table_is_documented() -> None:
    readme = (ROOT / "README.md").read_text()
    sharing = (ROOT / "docs" / "sharing.md").read_text()
    store_doc = (ROOT / "docs" / "store.md").read_text()
    for command in ("keygen", "export", "import", "match", "psi request", "psi respond",
                    "psi count", "push", "pull"):  # fmt: skip
        assert f"stillwatch intel {command.split()[0]}" in readme
        assert f"stillwatch intel {command}" in sharing, command
    tables = [re.search(r"CREATE TABLE IF NOT EXISTS (\w+)", ddl)[1] for ddl in INTEL_DDL]  # type: ignore[index]
    for table in tables:
        assert f"### `{table}`" in store_doc, table
    for table, ddl in zip(tables, INTEL_DDL, strict=True):
        if "account_id" in ddl:
            registered = {e.column for e in ACCOUNT_DATA if e.table == table}
            assert registered == {INTEL_ACCOUNT_ROWS.get(table)} == {"account_id"}

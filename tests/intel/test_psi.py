"""PSI: two local parties learn how many flagged values they share, and nothing else."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from stillwatch.errors import InputError
from stillwatch.intel import psi
from stillwatch.intel.indicators import low_entropy_values
from stillwatch.intel.shared import SharedCampaign


def _exchange(
    a: set[str], b: set[str], folder: Path, max_items: int = 1000
) -> tuple[int, int, int]:
    request, state, response = (
        folder / "request.json",
        folder / "state.json",
        folder / "response.json",
    )
    psi.request(a, request, state)
    psi.respond(b, request, response, max_items)
    return psi.count(state, response)


def test_two_parties_count_their_common_prefixes(tmp_path: Path) -> None:
    a = {f"ip-prefix/1:10.{i}.{j}.0/24" for i in range(3) for j in range(40)}  # 120
    b = {f"ip-prefix/1:10.{i}.{j}.0/24" for i in range(2, 6) for j in range(30)}  # 120
    b |= {"email-domain/1:quillfarm-mail.example"}
    assert _exchange(a, b, tmp_path) == (len(a & b), 120, 121) == (30, 120, 121)
    assert _exchange(a, {"ip-prefix/1:192.0.2.0/24"}, tmp_path)[0] == 0


def test_the_messages_hold_no_value_in_clear_and_the_state_stays_private(tmp_path: Path) -> None:
    a = {"ip-prefix/1:198.51.100.0/24", "email-domain/1:quillfarm-mail.example"}
    _exchange(a, a, tmp_path)
    for name in ("request.json", "response.json", "state.json"):
        text = (tmp_path / name).read_text()
        assert "198.51.100" not in text and "quillfarm" not in text
    assert stat.S_IMODE((tmp_path / "state.json").stat().st_mode) == 0o600
    assert "client_key" not in (tmp_path / "request.json").read_text()


def test_fixture_campaigns_against_a_partner(
    tmp_path: Path, campaigns: list[SharedCampaign]
) -> None:
    ours = low_entropy_values(campaigns, frozenset({"acct-106"}), 2)
    # Flagged by two or more shared accounts; public mail domains left out.
    assert ours == {
        "ip-prefix/1:198.51.100.0/24", "ip-prefix/1:203.0.113.0/24",
        "ip-prefix/1:2001:db8:4a1c::/48", "email-domain/1:quillfarm-mail.example",
        "email-domain/1:codeharvest.example", "ip-prefix/1:100.64.7.0/24",
        "email-domain/1:lowconf.example",
    }  # fmt: skip
    partner = {"ip-prefix/1:198.51.100.0/24", "email-domain/1:codeharvest.example",
               "ip-prefix/1:192.0.2.0/24", "email-domain/1:elsewhere.example"}  # fmt: skip
    assert _exchange(ours, partner, tmp_path) == (2, 7, 4)


def test_oversize_and_damaged_messages_are_refused(tmp_path: Path) -> None:
    a = {f"ip-prefix/1:10.0.{j}.0/24" for j in range(50)}
    with pytest.raises(InputError, match="at most 10 "):
        _exchange(a, a, tmp_path, max_items=10)
    response = tmp_path / "response.json"
    psi.respond(a, tmp_path / "request.json", response, 1000)
    data = json.loads(response.read_text())
    data["response"] = data["response"][:-8] + "AAAAAAA="
    response.write_text(json.dumps(data))
    with pytest.raises(InputError):
        psi.count(tmp_path / "state.json", response)
    with pytest.raises(InputError, match="not a PSI message of this step"):
        psi.count(tmp_path / "state.json", tmp_path / "request.json")

"""A key's limits: model scope, address allow-list, expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from appliance.apikeys.policy import address_allowed, expiry, model_allowed, parse_networks
from appliance.errors import InvalidRequest


def test_no_scope_allows_every_model_and_a_scope_only_its_own() -> None:
    assert model_allowed("deepseek-r1", None)
    assert model_allowed("deepseek-r1", [])
    assert model_allowed("deepseek-r1", ["deepseek-r1"])
    assert not model_allowed("qwen", ["deepseek-r1"])


def test_the_allow_list_admits_addresses_inside_its_networks_only() -> None:
    cidrs = ["10.1.0.0/16", "192.168.5.7/32", "fd00::/8"]
    assert address_allowed("10.1.200.3", cidrs)
    assert address_allowed("192.168.5.7", cidrs)
    assert address_allowed("fd00::1", cidrs)
    assert address_allowed("::ffff:10.1.0.9", cidrs)
    assert not address_allowed("10.2.0.1", cidrs)
    assert not address_allowed("192.168.5.8", cidrs)
    assert not address_allowed("", cidrs)
    assert not address_allowed("not-an-address", cidrs)
    assert address_allowed("203.0.113.9", [])


def test_a_malformed_network_is_a_400_naming_it() -> None:
    assert [str(n) for n in parse_networks(["10.0.0.5/8", "127.0.0.1"])] == [
        "10.0.0.0/8",
        "127.0.0.1/32",
    ]
    with pytest.raises(InvalidRequest, match=r"10\.0\.0\.300/8") as raised:
        parse_networks(["10.0.0.300/8"])
    assert raised.value.code == "invalid_cidr"


def test_expiry_defaults_and_is_bounded_by_the_maximum() -> None:
    now = datetime(2026, 12, 7, tzinfo=UTC)
    assert expiry(now, None, default_days=90, max_days=365) == now + timedelta(days=90)
    assert expiry(now, 365, default_days=90, max_days=365) == now + timedelta(days=365)
    for days in (0, -1, 366):
        with pytest.raises(InvalidRequest, match="between 1 and 365"):
            expiry(now, days, default_days=90, max_days=365)

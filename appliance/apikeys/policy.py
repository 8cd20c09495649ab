"""What a key allows beyond its owner's roles: the models it may call, the addresses it may
be used from, and how long it lives. Pure functions, so each rule is tested alone."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from appliance.errors import InvalidRequest

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(cidrs: Sequence[str]) -> list[Network]:
    """The allow-list as networks; a malformed entry is a 400 naming it."""
    networks: list[Network] = []
    for cidr in cidrs:
        try:
            networks.append(ipaddress.ip_network(cidr.strip(), strict=False))
        except ValueError as exc:
            raise InvalidRequest(
                f"Invalid value for 'allowed_cidrs': {cidr!r} is not an address or network.",
                code="invalid_cidr",
            ) from exc
    return networks


def address_allowed(client_ip: str, cidrs: Sequence[str]) -> bool:
    """An empty allow-list allows every address; otherwise the address must be in one."""
    if not cidrs:
        return True
    try:
        address = ipaddress.ip_address(client_ip)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for cidr in cidrs:
        network = ipaddress.ip_network(cidr, strict=False)
        if address.version == network.version and address in network:
            return True
    return False


def model_allowed(model: str, scope: Sequence[str] | None) -> bool:
    """No scope (``None`` or empty) allows every model the owner may use."""
    return not scope or model in scope


def cards_in_scope(cards: Sequence[Mapping[str, Any]], scope: object) -> list[Mapping[str, Any]]:
    """The model cards of ``/v1/models`` a key limited to ``scope`` may use (all of them
    when ``scope`` is not a non-empty list: a key without a scope, or a token)."""
    if not isinstance(scope, list) or not scope:
        return list(cards)
    return [card for card in cards if str(card.get("id")) in scope]


def expiry(now: datetime, days: int | None, *, default_days: int, max_days: int) -> datetime:
    """When a key made ``now`` expires: ``days`` or the default, at most ``max_days``."""
    chosen = default_days if days is None else days
    if chosen < 1 or chosen > max_days:
        raise InvalidRequest(
            f"Invalid value for 'expires_in_days': must be between 1 and {max_days}.",
            code="invalid_expiry",
        )
    return now + timedelta(days=chosen)

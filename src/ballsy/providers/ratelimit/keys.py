"""The one home of rate-limit keys: who a budget belongs to.

An authenticated user is `u:<id>` (from their bearer token, never from a `user_id`
the client wrote in a path or body: a new number must not buy a fresh budget);
everyone else is `ip:<address>`, with IPv6 addresses grouped by their /64 network,
which one subscriber usually holds whole, and IPv4-mapped IPv6 addresses written as
IPv4. Every caller builds keys here, so the API, the assistant and the limiter
always agree on whose bucket a check spends.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache


def user_key(user_id: int) -> str:
    """The key of an authenticated user (the id comes from their token)."""
    return f"u:{user_id}"


# Asked for on every message and request; parsing the address is most of its cost, and
# a server sees the same few addresses over and over.
@lru_cache(maxsize=4096)
def ip_key(address: str | None) -> str:
    """The key of a network address; IPv6 addresses share their /64."""
    if not address:
        return "ip:unknown"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return f"ip:{address[:64]}"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return f"ip:{ip.ipv4_mapped}"
        return f"ip:{ipaddress.IPv6Network((ip, 64), strict=False)}"
    return f"ip:{ip}"


def limit_key(user_id: int | None, address: str | None) -> str:
    """`u:<id>` for a user authenticated by token, else `ip:<address>`.

    Pass only an id proven by a token: tokenless requests carry the prototype's
    `user_id` field, which the client chose,, and must be keyed by their address.
    """
    if user_id is not None:
        return user_key(user_id)
    return ip_key(address)


def normalise_key(key: str) -> str:
    """`key` with an `ip:` address normalised by `ip_key`, so every caller agrees."""
    if key.startswith("ip:"):
        return ip_key(key[3:])
    return key

"""Flag parsing shared by the subcommands."""

from __future__ import annotations

from graphsurgeon.errors import GraphSurgeonError
from graphsurgeon.values import parse_bind_value


def parse_binds(items: list[str]) -> dict[str, object]:
    """``--bind NAME=VALUE`` items -> {name: value} (values as ``parse_bind_value`` reads them)."""
    binds: dict[str, object] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise GraphSurgeonError(f"--bind '{item}': expected NAME=VALUE, e.g. is_training=false")
        binds[name.strip()] = parse_bind_value(value)
    return binds

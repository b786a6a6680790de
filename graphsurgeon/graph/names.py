"""The only code that parses TensorFlow's name forms: ``node``, ``node:1`` and ``^node``."""

from __future__ import annotations

from collections.abc import Container, Iterable, Sequence
from typing import NamedTuple


class TensorRef(NamedTuple):
    """One reference to a node: a data input (``node:index``) or a control input (``^node``)."""

    node: str
    index: int = 0  # type: ignore[assignment]  # TensorFlow's word; shadows tuple.index on purpose
    is_control: bool = False

    def __str__(self) -> str:
        return format_input(self)

    @property
    def tensor_name(self) -> str:
        """Always ``node:index`` (``dense/BiasAdd:0``)."""
        return f"{self.node}:{self.index}"


def parse_input(name: str) -> TensorRef:
    """Parses a NodeDef input or a user-given name.

    ``"a"`` -> ``TensorRef("a", 0)``, ``"a:2"`` -> ``TensorRef("a", 2)``,
    ``"^a"`` -> ``TensorRef("a", 0, is_control=True)``. A suffix that is not a number stays in the
    node name (``"a:b"`` -> node ``"a:b"``).
    """
    if name.startswith("^"):
        return TensorRef(name[1:], 0, True)
    node, sep, index = name.rpartition(":")
    if sep and index.isdigit() and node:
        return TensorRef(node, int(index), False)
    return TensorRef(name, 0, False)


_new_ref = tuple.__new__


def parse_inputs(names: Iterable[str]) -> tuple[TensorRef, ...]:
    """``parse_input`` for many names at once, as a tuple; plain node names take a fast path.

    Building a view of a million-node graph parses millions of inputs; most are plain node
    names, which need no splitting.
    """
    out: list[TensorRef] = []
    append = out.append
    # Same rules as parse_input, inlined: this runs once for every input of every node.
    for name in names:
        if name[:1] == "^":
            append(_new_ref(TensorRef, (name[1:], 0, True)))
        elif ":" in name:
            node, _, index = name.rpartition(":")
            if index.isdigit() and node:
                append(_new_ref(TensorRef, (node, int(index), False)))
            else:
                append(_new_ref(TensorRef, (name, 0, False)))
        else:
            append(_new_ref(TensorRef, (name, 0, False)))
    return tuple(out)


def input_nodes(names: Sequence[str]) -> Sequence[str]:
    """The node each input refers to (``["a", "b:1", "^c"]`` -> ``["a", "b", "c"]``).

    When no name has a port or a ``^`` (the common case) ``names`` itself is returned, so
    building a view of a large graph allocates nothing for most nodes; otherwise a new list.
    """
    joined = "".join(names)
    if ":" not in joined and "^" not in joined:
        return names
    out: list[str] = []
    append = out.append
    for name in names:  # parse_input's rules, keeping only the node (this runs for millions of inputs)
        if name[:1] == "^":
            append(name[1:])
        elif ":" in name:
            node, _, index = name.rpartition(":")
            append(node if index.isdigit() and node else name)
        else:
            append(name)
    return out


def format_input(ref: TensorRef) -> str:
    """The NodeDef input string: ``^a`` for control, ``a`` for output 0, ``a:2`` otherwise."""
    if ref.is_control:
        return f"^{ref.node}"
    return ref.node if ref.index == 0 else f"{ref.node}:{ref.index}"


def node_name(name: str) -> str:
    """The node a name refers to: ``"^a"``, ``"a:1"`` and ``"a"`` all give ``"a"``."""
    return parse_input(name).node


def tensor_name(name: str) -> str:
    """``"a"`` -> ``"a:0"``; ``"a:1"`` stays. Control inputs are refused."""
    ref = parse_input(name)
    if ref.is_control:
        raise ValueError(f"'{name}' is a control input, not a tensor")
    return ref.tensor_name


def split_names(value: str | Iterable[str] | None) -> list[str]:
    """``"a, b:0"`` or ``["a", "b:0"]`` -> ``["a", "b:0"]`` (empty parts dropped)."""
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    out: list[str] = []
    for item in items:
        out.extend(part.strip() for part in str(item).split(",") if part.strip())
    return out


def unique_name(base: str, *taken: Container[str]) -> str:
    """``base``, or ``base_1``, ``base_2``, ... : the first that is in none of ``taken``.

    Nothing is added to ``taken``; a caller making several names adds each one it uses.
    """
    name, n = base, 1
    while any(name in t for t in taken):
        name = f"{base}_{n}"
        n += 1
    return name


# --- colocation: the one place that reads and writes ``_class: loc:@node`` entries ---------------------

COLOCATION_PREFIX = b"loc:@"


def colocation_target(entry: bytes) -> str | None:
    """The node a ``_class`` entry colocates with (``b"loc:@x"`` -> ``"x"``), or ``None`` for another entry."""
    if entry.startswith(COLOCATION_PREFIX):
        return entry[len(COLOCATION_PREFIX):].decode("utf-8", "replace")
    return None


def colocation_entry(node: str) -> bytes:
    """``"x"`` -> ``b"loc:@x"``."""
    return COLOCATION_PREFIX + node.encode("utf-8")

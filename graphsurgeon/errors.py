"""The exception hierarchy of graphsurgeon: every error a user can cause is one of these.

Bugs stay ordinary Python exceptions. The CLI prints ``gs: error: <message>`` for any
``GraphSurgeonError`` and exits 1; it never shows a traceback for one.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence


class GraphSurgeonError(Exception):
    """Base class of every user-facing error."""


class FileFormatError(GraphSurgeonError):
    """A file is missing, unreadable, or not in the format it should be in."""


class CheckpointError(GraphSurgeonError):
    """A checkpoint is missing, damaged, or does not hold what was asked for."""


class ChecksumError(CheckpointError):
    """Stored bytes do not match their crc32c."""


class NodeNotFoundError(GraphSurgeonError):
    """A node or tensor name does not exist in the graph."""


class InvalidGraphError(GraphSurgeonError):
    """A graph is structurally broken (duplicate names, dangling inputs, ...)."""


class NotFrozenError(InvalidGraphError):
    """A graph that should be frozen (for ``optimize``) still holds variables."""


class UnsupportedError(GraphSurgeonError):
    """The input uses something graphsurgeon does not handle (yet)."""


class MismatchError(GraphSurgeonError):
    """A graph and a checkpoint (or a value and its placeholder) disagree."""


class OutputError(GraphSurgeonError):
    """An output cannot be written: too large, unwritable, or the same file as an input."""


class ValidationError(GraphSurgeonError):
    """Running a result (in TensorFlow) failed or gave different answers."""


class MissingDependencyError(GraphSurgeonError):
    """An optional dependency (TensorFlow) is needed but not installed."""


class UsageError(GraphSurgeonError):
    """A Python API was called with an argument of the wrong kind (a number where a node was needed,
    a malformed regular expression, ...)."""


def listed(names: Sequence[str], limit: int = 5, quote: bool = True) -> str:
    """The first ``limit`` of ``names`` for a message, comma-separated, then "and N more"."""
    shown = ", ".join(f"'{n}'" if quote else n for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


# --- "did you mean": shared by every layer, so it lives at the bottom with the errors it builds

def close_matches(name: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """Up to ``n`` candidates similar to ``name`` (difflib), best first."""
    pool = list(candidates)
    matches = difflib.get_close_matches(name, pool, n=n, cutoff=0.6)
    if len(matches) < n:
        # A name that is a suffix of a longer scope ("logits" vs "model/logits") is a good hint too.
        tail = [c for c in pool if c.endswith("/" + name) and c not in matches]
        matches.extend(sorted(tail, key=len)[: n - len(matches)])
    return matches


def not_found(kind: str, name: str, candidates: Iterable[str], where: str = "the graph",
              hint: str = "run 'gs inspect' to list the graph's inputs and candidate outputs") -> NodeNotFoundError:
    """A ``NodeNotFoundError`` saying what is missing, where, what is close, and where to look."""
    matches = close_matches(name, candidates)
    msg = f"{kind} '{name}' not found in {where}"
    if matches:
        msg += "; did you mean " + ", ".join(f"'{m}'" for m in matches) + "?"
    if hint:
        msg += f" ({hint})"
    return NodeNotFoundError(msg)

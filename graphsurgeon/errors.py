"""The exception hierarchy of graphsurgeon: every error a user can cause is one of these.

Bugs stay ordinary Python exceptions. The CLI prints ``gs: error: <message>`` for any
``GraphSurgeonError`` and exits 1; it never shows a traceback for one.
"""

from __future__ import annotations


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

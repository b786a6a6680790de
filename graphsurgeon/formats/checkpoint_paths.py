"""Which files make a checkpoint: a prefix from any path a user may give (prefix, ``.index``, data
shard, ``checkpoint`` state file, directory, SavedModel), and a cheap test for "is this a checkpoint"."""

from __future__ import annotations

import logging
import os
import re

from graphsurgeon._proto import (
    checkpoint_state_pb2,
)
from graphsurgeon.errors import (
    CheckpointError,
    FileFormatError,
    close_matches,
)
from graphsurgeon.formats.protofile import parse_message
from graphsurgeon.formats.sstable import is_table_file

logger = logging.getLogger(__name__)


_DATA_SUFFIX = re.compile(r"\.data-(\d{5})-of-(\d{5})$")
_TEMP_NAME = re.compile(r"\.tempstate\d+$|_temp[/\\]part-")


# --- paths -----------------------------------------------------------------------------------

def _state_prefix(directory: str, state_file: str) -> str | None:
    """The latest prefix named by a ``checkpoint`` state file, resolved as tf.train.latest_checkpoint."""
    try:
        with open(state_file, "rb") as f:
            state = parse_message(f.read(), checkpoint_state_pb2.CheckpointState, state_file, text=True)
    except OSError as err:
        raise CheckpointError(f"cannot read checkpoint state file '{state_file}': {err.strerror or err}") from None
    except FileFormatError as err:
        raise CheckpointError(f"checkpoint state file '{state_file}' is not valid: {err}") from None
    name = state.model_checkpoint_path
    if not name:
        return None
    candidate = name if os.path.isabs(name) else os.path.join(directory, name)
    if os.path.exists(candidate + ".index") or is_table_file(candidate):
        return candidate
    # Saver writes absolute paths; if the directory was moved, look beside the state file.
    moved = os.path.join(directory, os.path.basename(name))
    if os.path.exists(moved + ".index") or is_table_file(moved):
        return moved
    raise CheckpointError(
        f"checkpoint state file '{state_file}' names '{name}', but neither '{candidate}.index' nor "
        f"'{moved}.index' exists; pass the checkpoint prefix explicitly")


def resolve_checkpoint_prefix(path: str | os.PathLike[str]) -> str:
    """Turns any accepted checkpoint path into its prefix.

    Accepted: a prefix (``model.ckpt-10``), its ``.index``, ``.data-SSSSS-of-NNNNN`` or ``.meta`` file, a
    legacy V1 single file, a directory holding a ``checkpoint`` state file (its latest, as
    ``tf.train.latest_checkpoint``; an absolute path that no longer exists falls back to its
    basename in that directory), the ``checkpoint`` state file itself, a SavedModel directory
    (its ``variables/variables``), a ``variables/`` directory, or a directory with exactly one
    ``.index`` file. Raises ``CheckpointError`` saying what was looked for.
    """
    text = os.fspath(path)
    if os.path.isdir(text):
        state_file = os.path.join(text, "checkpoint")
        if os.path.isfile(state_file):
            prefix = _state_prefix(text, state_file)
            if prefix:
                return prefix
        for stem in (os.path.join(text, "variables", "variables"), os.path.join(text, "variables")):
            if os.path.isfile(stem + ".index"):
                return stem
        indexes = sorted(n for n in os.listdir(text) if n.endswith(".index") and not _TEMP_NAME.search(n))
        if len(indexes) == 1:
            return os.path.join(text, indexes[0][: -len(".index")])
        found = f"; it holds {len(indexes)} .index files: {', '.join(indexes[:5])}" if indexes else ""
        raise CheckpointError(
            f"directory '{text}' holds no 'checkpoint' state file, no SavedModel variables and no single "
            f"checkpoint{found}; pass a checkpoint prefix such as '{os.path.join(text, 'model.ckpt-1000')}'")
    if os.path.basename(text) == "checkpoint" and os.path.isfile(text) and not is_table_file(text):
        directory = os.path.dirname(text) or "."
        prefix = _state_prefix(directory, text)
        if prefix:
            return prefix
        raise CheckpointError(f"checkpoint state file '{text}' names no checkpoint")
    if text.endswith(".index"):
        return text[: -len(".index")]
    if text.endswith(".meta") and os.path.isfile(text[: -len(".meta")] + ".index"):
        return text[: -len(".meta")]  # the graph beside a TF1 checkpoint: users often pass it
    match = _DATA_SUFFIX.search(text)
    if match:
        return text[: match.start()]
    if os.path.isfile(text + ".index") or is_table_file(text):
        return text
    hint = ""
    directory = os.path.dirname(text) or "."
    if os.path.isdir(directory):
        stems = [n[: -len(".index")] for n in os.listdir(directory) if n.endswith(".index")]
        close = close_matches(os.path.basename(text), stems)
        if close:
            hint = "; did you mean " + ", ".join(f"'{os.path.join(directory, m)}'" for m in close) + "?"
    raise CheckpointError(f"no checkpoint at '{text}': '{text}.index' does not exist{hint}")


def is_checkpoint_path(path: str | os.PathLike[str]) -> bool:
    """Cheaply decides whether ``path`` names a checkpoint rather than a graph; never raises.

    True for a prefix with ``.index`` beside it, a ``.index``/``.data-*`` file, a V1 single-file
    checkpoint, a ``checkpoint`` state file, or a directory holding a ``checkpoint`` state file, an
    ``.index`` file or a SavedModel ``variables/`` directory. A directory with a ``saved_model.pb``
    (or ``.pbtxt``) is a graph first, so it is not a checkpoint path here, although
    :func:`load_checkpoint` accepts it (and reads its ``variables/``).
    """
    try:
        text = os.fspath(path)
        if os.path.isdir(text):
            if os.path.isfile(os.path.join(text, "saved_model.pb")) or \
                    os.path.isfile(os.path.join(text, "saved_model.pbtxt")):
                return False
            return (os.path.isfile(os.path.join(text, "checkpoint"))
                    or os.path.isfile(os.path.join(text, "variables", "variables.index"))
                    or any(n.endswith(".index") and not _TEMP_NAME.search(n) for n in os.listdir(text)))
        if text.endswith(".index") or _DATA_SUFFIX.search(text):
            return os.path.isfile(text)
        if os.path.isfile(text + ".index"):
            return True
        if os.path.basename(text) == "checkpoint" and os.path.isfile(text):
            return True
        return is_table_file(text)
    except (OSError, TypeError, ValueError):
        return False



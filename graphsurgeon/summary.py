"""summarize(...): plain data describing a graph or a checkpoint; the CLI decides how to print it."""

from __future__ import annotations


# --- graphs (foundation issue) ---------------------------------------------------------------

def summarize(loaded):  # noqa: ANN001, ANN201
    """PLACEHOLDER: lands with the foundation issue."""
    raise NotImplementedError


# --- checkpoints (checkpoint issue) ----------------------------------------------------------

def summarize_checkpoint(checkpoint):  # noqa: ANN001, ANN201
    """PLACEHOLDER: lands with the checkpoint issue."""
    raise NotImplementedError

"""summarize(...): plain data describing a graph or a checkpoint; the CLI decides how to print it.

PLACEHOLDER: lands with the foundation and checkpoint issues.
"""

from __future__ import annotations


def summarize(loaded):  # noqa: ANN001, ANN201
    raise NotImplementedError


def summarize_checkpoint(checkpoint):  # noqa: ANN001, ANN201
    raise NotImplementedError

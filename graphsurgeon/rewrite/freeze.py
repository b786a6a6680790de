"""freeze(...) = constify + prune, with TensorFlow freeze_graph's options.

PLACEHOLDER: lands with the freeze issue.
"""

from __future__ import annotations


class FreezeResult:
    pass


def freeze(graph, checkpoint, outputs, **kwargs):  # noqa: ANN001, ANN003, ANN201
    raise NotImplementedError

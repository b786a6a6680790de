"""constify(graph_def, checkpoint): variables -> Const nodes holding their checkpoint values.

PLACEHOLDER: lands with the freeze issue.
"""

from __future__ import annotations


def constify(graph_def, checkpoint, **kwargs):  # noqa: ANN001, ANN003, ANN201
    raise NotImplementedError

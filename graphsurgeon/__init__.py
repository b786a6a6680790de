"""graphsurgeon: freeze, prune and inspect TensorFlow graphs without TensorFlow.

    import graphsurgeon as gs
    loaded = gs.load_graph("model.ckpt-10000.meta")
    ckpt = gs.load_checkpoint("model.ckpt-10000")
    frozen = gs.freeze(loaded, ckpt, outputs=["logits"])
    gs.save_graph(frozen.graph_def, "frozen.pb")

NVIDIA graphsurgeon's API (``StaticGraph``, ``DynamicGraph``, ``create_plugin_node``, ...) is here
too, so TensorRT/UFF preprocessing scripts run unchanged (``graphsurgeon.nvidia``).
"""

from __future__ import annotations

__version__ = "0.1.0"

from graphsurgeon import errors
from graphsurgeon.errors import GraphSurgeonError
from graphsurgeon.formats.checkpoint import Checkpoint, TensorInfo, load_checkpoint
from graphsurgeon.formats.model import LoadedGraph, load_graph, save_graph
from graphsurgeon.formats.tensors import array_to_tensor, tensor_to_array
from graphsurgeon.graph.check import check_graph
from graphsurgeon.graph.names import TensorRef, parse_input
from graphsurgeon.graph.view import GraphView
from graphsurgeon.nvidia import (
    DynamicGraph,
    StaticGraph,
    create_node,
    create_plugin_node,
    extract_numpy_array,
    extras,
    select_node_namespaces,
    shape,
    update_node,
)
from graphsurgeon.rewrite.constify import constify
from graphsurgeon.rewrite.freeze import FreezeResult, freeze
from graphsurgeon.rewrite.optimize import optimize
from graphsurgeon.rewrite.prune import prune
from graphsurgeon.rewrite.saved_model_v2 import SignatureFreezeResult, freeze_signature
from graphsurgeon.summary import summarize, summarize_checkpoint
from graphsurgeon.surgery import GraphEditor

__all__ = [
    "Checkpoint",
    "DynamicGraph",
    "FreezeResult",
    "GraphEditor",
    "GraphSurgeonError",
    "GraphView",
    "LoadedGraph",
    "SignatureFreezeResult",
    "StaticGraph",
    "TensorInfo",
    "TensorRef",
    "array_to_tensor",
    "check_graph",
    "constify",
    "create_node",
    "create_plugin_node",
    "errors",
    "extract_numpy_array",
    "extras",
    "freeze",
    "freeze_signature",
    "load_checkpoint",
    "load_graph",
    "optimize",
    "parse_input",
    "prune",
    "save_graph",
    "select_node_namespaces",
    "shape",
    "summarize",
    "summarize_checkpoint",
    "tensor_to_array",
    "update_node",
]

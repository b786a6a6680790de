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

from typing import TYPE_CHECKING, Any

# The public names are imported on first use (PEP 562), so that `gs --version`, or a command
# that needs only part of the package, does not pay for importing all of it.
_LAZY = {
    "errors": "graphsurgeon.errors",
    "GraphSurgeonError": "graphsurgeon.errors",
    "Checkpoint": "graphsurgeon.formats.checkpoint",
    "TensorInfo": "graphsurgeon.formats.bundle_entries",
    "load_checkpoint": "graphsurgeon.formats.checkpoint",
    "LoadedGraph": "graphsurgeon.formats.model",
    "load_graph": "graphsurgeon.formats.model",
    "save_graph": "graphsurgeon.formats.model",
    "array_to_tensor": "graphsurgeon.formats.tensors",
    "tensor_to_array": "graphsurgeon.formats.tensors",
    "check_graph": "graphsurgeon.graph.check",
    "TensorRef": "graphsurgeon.graph.names",
    "parse_input": "graphsurgeon.graph.names",
    "GraphView": "graphsurgeon.graph.view",
    "DynamicGraph": "graphsurgeon.nvidia",
    "StaticGraph": "graphsurgeon.nvidia",
    "create_node": "graphsurgeon.nvidia",
    "create_plugin_node": "graphsurgeon.nvidia",
    "extract_numpy_array": "graphsurgeon.nvidia",
    "extras": "graphsurgeon.nvidia",
    "select_node_namespaces": "graphsurgeon.nvidia",
    "shape": "graphsurgeon.nvidia",
    "update_node": "graphsurgeon.nvidia",
    "constify": "graphsurgeon.rewrite.constify",
    "fill_default_attrs": "graphsurgeon.rewrite.default_attrs",
    "strip_default_attrs": "graphsurgeon.rewrite.default_attrs",
    "FreezeResult": "graphsurgeon.rewrite.freeze",
    "freeze": "graphsurgeon.rewrite.freeze",
    "optimize": "graphsurgeon.rewrite.optimize",
    "prune": "graphsurgeon.rewrite.prune",
    "SignatureFreezeResult": "graphsurgeon.rewrite.saved_model_v2",
    "freeze_signature": "graphsurgeon.rewrite.saved_model_v2",
    "summarize": "graphsurgeon.summary",
    "summarize_checkpoint": "graphsurgeon.summary",
    "GraphEditor": "graphsurgeon.surgery",
}

if TYPE_CHECKING:
    from graphsurgeon import errors
    from graphsurgeon.errors import GraphSurgeonError
    from graphsurgeon.formats.bundle_entries import TensorInfo
    from graphsurgeon.formats.checkpoint import Checkpoint, load_checkpoint
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
    from graphsurgeon.rewrite.default_attrs import fill_default_attrs, strip_default_attrs
    from graphsurgeon.rewrite.freeze import FreezeResult, freeze
    from graphsurgeon.rewrite.optimize import optimize
    from graphsurgeon.rewrite.prune import prune
    from graphsurgeon.rewrite.saved_model_v2 import SignatureFreezeResult, freeze_signature
    from graphsurgeon.summary import summarize, summarize_checkpoint
    from graphsurgeon.surgery import GraphEditor


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'graphsurgeon' has no attribute '{name}'")
    import importlib

    module = importlib.import_module(module_name)
    value = module if name == "errors" else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


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
    "fill_default_attrs",
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
    "strip_default_attrs",
    "summarize",
    "summarize_checkpoint",
    "tensor_to_array",
    "update_node",
]

"""NVIDIA graphsurgeon's API (the TensorFlow graph surgery package that shipped with TensorRT for the
UFF workflow), without TensorFlow. Scripts written for it run unchanged with ``import graphsurgeon as gs``:

    import graphsurgeon as gs
    graph = gs.DynamicGraph("frozen_inference_graph.pb")
    nms = gs.create_plugin_node("NMS", op="NMS_TRT", topK=100, keepTopK=100)
    graph.collapse_namespaces({"Postprocessor": nms})
    graph.remove(graph.graph_outputs, remove_exclusive_dependencies=False)
    graph.write("plugin_graph.pb")          # then convert-to-uff, from TensorRT, if you still need UFF
"""

from __future__ import annotations

from graphsurgeon.nvidia import extras
from graphsurgeon.nvidia.dynamic_graph import DynamicGraph
from graphsurgeon.nvidia.node_manipulation import (
    create_node,
    create_plugin_node,
    extract_numpy_array,
    select_node_namespaces,
    shape,
    update_node,
)
from graphsurgeon.nvidia.static_graph import StaticGraph

__all__ = [
    "DynamicGraph",
    "StaticGraph",
    "create_node",
    "create_plugin_node",
    "extract_numpy_array",
    "extras",
    "select_node_namespaces",
    "shape",
    "update_node",
]

"""NVIDIA graphsurgeon's ``extras``: rewrites of TensorFlow op patterns into the forms the UFF
converter recognized. Reached as ``graphsurgeon.extras`` (``gs.extras.process_dilated_conv(graph)``).
"""

from __future__ import annotations

from typing import Any

from graphsurgeon.graph.names import node_name

__all__ = ["process_dilated_conv", "process_softmax"]


def process_dilated_conv(dynamic_graph: Any) -> None:
    """Turns each ``SpaceToBatchND -> Conv2D -> BatchToSpaceND`` run (TensorFlow's dilated convolution)
    into one ``Conv2D`` whose inputs are ``[input, block_shape, paddings, crops, filter]``, the form
    the UFF converter took for a dilated convolution.

    The BatchToSpaceND's ``crops`` input moves to the SpaceToBatchND, its other inputs (its own
    ``block_shape``) are removed with what only they need, and both ends are forwarded.
    """
    chains = dynamic_graph.find_node_chains_by_op(["SpaceToBatchND", "Conv2D", "BatchToSpaceND"])
    forward: list[Any] = []
    drop: list[str] = []
    for chain in chains:
        space_to_batch, batch_to_space = chain[0], chain[-1]
        conv_names = {n.name for n in chain if n.op == "Conv2D"}
        crops = dynamic_graph.find_node_inputs_by_name(batch_to_space, "crops")
        if crops:
            crops_ref = next(i for i in batch_to_space.input if node_name(i) == crops[0].name)
            batch_to_space.input.remove(crops_ref)
            space_to_batch.input.append(crops_ref)
        for inp in batch_to_space.input:
            source = node_name(inp)
            if source not in conv_names and source not in drop and not inp.startswith("^"):
                drop.append(source)
        forward.extend([space_to_batch, batch_to_space])
    dynamic_graph._initialize_analysis_data()  # crops moved: consumers changed
    if drop:
        dynamic_graph.remove(drop, remove_exclusive_dependencies=True)
    if forward:
        dynamic_graph.forward_inputs([n.name for n in forward])


def process_softmax(dynamic_graph: Any) -> None:
    """Turns TensorFlow 1's softmax over the last axis of an N-d tensor,
    ``Sub -> Pack -> Slice -> ConcatV2 -> Reshape -> Softmax -> Reshape``, into a lone ``Softmax`` on
    the original input: the shape arithmetic (Sub, Pack, Slice and their ``Shape`` inputs, the
    concat's ``values`` constant) is removed and the concat and both reshapes are forwarded.
    """
    chains = dynamic_graph.find_node_chains_by_op(["Sub", "Pack", "Slice", "ConcatV2", "Reshape", "Softmax",
                                                   "Reshape"])
    drop: list[str] = []
    forward: list[str] = []

    def add(names: list[str], nodes: list[Any]) -> None:
        for node in nodes:
            if node.name not in names:
                names.append(node.name)

    for chain in chains:
        sub, pack, slice_, concat, reshape_in, _softmax, reshape_out = chain[:7]
        add(drop, [sub, pack, slice_])
        add(drop, dynamic_graph.find_node_inputs_by_name(slice_, "Shape.*"))
        add(drop, dynamic_graph.find_node_inputs_by_name(concat, "values.*"))
        add(drop, dynamic_graph.find_node_inputs_by_name(reshape_out, "Shape.*"))
        add(forward, [concat, reshape_in, reshape_out])
    if drop:
        dynamic_graph.remove(drop)
    if forward:
        dynamic_graph.forward_inputs(forward)

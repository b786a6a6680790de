"""fold_batch_norm(graph_def, outputs): fold inference-mode batch norm into the preceding linear op.

Two forms are folded into a ``Conv2D``, ``DepthwiseConv2dNative`` or ``MatMul`` (optionally followed
by a ``BiasAdd`` with a constant bias) whose weights are constant:

* ``FusedBatchNorm`` / ``V2`` / ``V3`` with ``is_training=false`` and constant scale, offset, mean
  and variance: ``y = (x - mean) * scale / sqrt(variance + epsilon) + offset``;
* the legacy ``BatchNormWithGlobalNormalization`` (inputs ``t, m, v, beta, gamma``; ``gamma`` is used
  only with ``scale_after_normalization``; ``variance_epsilon``), as TensorFlow's
  ``optimize_for_inference`` folds it;
* the unfused form ``x * m + b`` (``Mul``, then optionally ``Add``/``AddV2``/``BiasAdd``/``Sub``)
  where ``m`` and ``b`` are per-channel constants, possibly computed from constants (the
  ``batchnorm/Rsqrt``, ``mul``, ``sub`` arithmetic of ``tf.nn.batch_normalization``; evaluated
  in float64 here, so results match within float tolerance, not bit for bit).

The weights become a new ``Const`` (``<op>/folded_weights``) scaled per output channel; the batch
norm node (or the last node of the unfused form) keeps its name and becomes a ``BiasAdd`` with a
new ``<name>/folded_bias``, so consumers and requested outputs are unchanged. Old constants are
left for ``prune``.

Skipped, with the reason logged: training mode, a batch-norm output other than ``y`` in use, any
intermediate tensor used elsewhere or requested as an output, non-constant operands, a channel
count or data format that does not match, non-float32/64 dtypes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from graphsurgeon._proto import graph_pb2, node_def_pb2
from graphsurgeon.formats.tensors import array_to_tensor
from graphsurgeon.graph.names import TensorRef, parse_input, split_names, unique_name
from graphsurgeon.graph.nodes import graph_like
from graphsurgeon.graph.view import GraphView
from graphsurgeon.rewrite.fold_constants import ConstantEvaluator

log = logging.getLogger(__name__)

FUSED_OPS = frozenset({"FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3"})
#: The pre-2016 batch norm op (graphs with GraphDef producer < 9), inputs (t, m, v, beta, gamma).
GLOBAL_NORM_OP = "BatchNormWithGlobalNormalization"
LINEAR_OPS = frozenset({"Conv2D", "DepthwiseConv2dNative", "MatMul"})
_ADD_OPS = frozenset({"Add", "AddV2", "BiasAdd", "Sub"})


class _Skip(Exception):
    pass


@dataclass
class _Linear:
    node: node_def_pb2.NodeDef
    weights: np.ndarray
    bias_node: node_def_pb2.NodeDef | None
    bias: np.ndarray
    channels_last: bool


def fold_batch_norm(graph_def: graph_pb2.GraphDef, outputs: str | Iterable[str] = ()) -> graph_pb2.GraphDef:
    """Returns a new GraphDef with inference batch norms folded into their convolution / MatMul weights.

    ``graph_def`` is not modified; requested ``outputs`` keep their names and are never folded away
    from the middle of a pattern. Run ``strip_training`` and ``fold_constant_switches`` first so the
    batch norm follows the convolution directly.
    """
    protected = {parse_input(o).node for o in split_names(outputs)}
    nodes = {n.name: n for n in graph_def.node}
    view = GraphView(graph_def, allow_dangling=True)
    evaluator = ConstantEvaluator(graph_def, exact=False)
    used: set[str] = set()
    replacements: dict[str, node_def_pb2.NodeDef] = {}
    # new constants as (name, value, device), made into nodes one at a time at the end: the folded
    # weights are held once (not as arrays, nodes and the output's copies of the nodes at once)
    added: dict[str, list[tuple[str, np.ndarray, str]]] = {}
    taken = set(nodes)
    folded = 0
    for node in graph_def.node:
        if node.name in used:
            continue
        try:
            if node.op in FUSED_OPS:
                plan = _fused(node, nodes, view, evaluator, protected)
            elif node.op == GLOBAL_NORM_OP:
                plan = _global_norm(node, nodes, view, evaluator, protected)
            elif node.op == "Mul":
                plan = _unfused(node, nodes, view, evaluator, protected)
            else:
                continue
        except _Skip as why:
            log.info("fold_batch_norm: not folding '%s' (%s): %s", node.name, node.op, why)
            continue
        if plan is None:
            continue
        linear, factor, shift, last, chain = plan
        if any(n in used for n in chain):
            continue
        used.update(chain)
        w_name = unique_name(f"{linear.node.name}/folded_weights", taken)
        b_name = unique_name(f"{last.name}/folded_bias", taken)
        taken.update((w_name, b_name))
        dtype = linear.weights.dtype
        weights = _scale_weights(linear, factor).astype(dtype)
        bias = (linear.bias.astype(np.float64) * factor + shift).astype(dtype)
        evaluator.release(_data(linear.node)[1].node)  # the old weights: read again if another node needs them
        new_linear = node_def_pb2.NodeDef()
        new_linear.CopyFrom(linear.node)
        new_linear.input[1] = w_name
        replacements[linear.node.name] = new_linear
        added.setdefault(linear.node.name, []).insert(0, (w_name, weights, linear.node.device))
        bias_add = node_def_pb2.NodeDef(name=last.name, op="BiasAdd", device=last.device)
        bias_add.input.extend([linear.node.name, b_name] + [i for i in last.input if i.startswith("^")])
        bias_add.attr["T"].type = linear.node.attr["T"].type
        bias_add.attr["data_format"].s = b"NHWC" if linear.channels_last else b"NCHW"
        if "_class" in last.attr:
            bias_add.attr["_class"].CopyFrom(last.attr["_class"])
        replacements[last.name] = bias_add
        added.setdefault(last.name, []).insert(0, (b_name, bias, last.device))
        folded += 1
        log.debug("fold_batch_norm: folded '%s' into '%s'", last.name, linear.node.name)
    out = graph_like(graph_def)
    for node in graph_def.node:
        for name, value, device in added.pop(node.name, ()):
            _const(out.node.add(), name, value, device)
        out.node.append(replacements.get(node.name, node))
    if folded:
        log.info("fold_batch_norm: %d batch norm(s) folded", folded)
    return out


def _const(node: node_def_pb2.NodeDef, name: str, value: np.ndarray, device: str) -> node_def_pb2.NodeDef:
    node.name, node.op, node.device = name, "Const", device
    tensor = array_to_tensor(value)
    node.attr["dtype"].type = tensor.dtype
    node.attr["value"].tensor.CopyFrom(tensor)
    return node


def _data(node: node_def_pb2.NodeDef) -> list[TensorRef]:
    return [r for r in map(parse_input, node.input) if not r.is_control]


def _only_consumer(name: str, consumer: str, view: GraphView, protected: set[str]) -> None:
    if name in protected:
        raise _Skip(f"'{name}' is a requested output")
    users = view.consumers(name, ("data", "control"))
    if users != [consumer]:
        others = [u for u in users if u != consumer]
        raise _Skip(f"'{name}' is also used by '{others[0]}'" if others else f"'{name}' is not used by '{consumer}'")
    colocated = [c for c in view.consumers(name, ("colocation",)) if c != consumer]
    if colocated:
        raise _Skip(f"'{colocated[0]}' is colocated with '{name}'")


def _float(value: np.ndarray | None, what: str) -> np.ndarray:
    if value is None:
        raise _Skip(f"{what} is not a constant")
    if value.dtype not in (np.float32, np.float64):
        raise _Skip(f"{what} is {value.dtype}; only float32/float64 are folded")
    return value


def _linear(ref: TensorRef, consumer: str, nodes: dict, view: GraphView, evaluator: ConstantEvaluator,
            protected: set[str]) -> _Linear:
    """The Conv2D / DepthwiseConv2dNative / MatMul (with an optional constant BiasAdd) producing ``ref``."""
    if ref.index != 0 or ref.node not in nodes:
        raise _Skip("its input is not output 0 of a known node")
    node = nodes[ref.node]
    bias_node = None
    bias = None
    if node.op == "BiasAdd":
        _only_consumer(node.name, consumer, view, protected)
        data = _data(node)
        if len(data) != 2:
            raise _Skip(f"'{node.name}' has {len(data)} data inputs")
        bias = _float(evaluator.value(data[1]), f"bias of '{node.name}'")
        bias_node = node
        consumer = node.name
        if data[0].index != 0 or data[0].node not in nodes:
            raise _Skip("the BiasAdd does not follow a known node")
        node = nodes[data[0].node]
    if node.op not in LINEAR_OPS:
        raise _Skip(f"its input comes from {node.op} '{node.name}', not Conv2D, DepthwiseConv2dNative or MatMul")
    _only_consumer(node.name, consumer, view, protected)
    data = _data(node)
    if len(data) != 2:
        raise _Skip(f"'{node.name}' has {len(data)} data inputs")
    weights = _float(evaluator.value(data[1]), f"weights of '{node.name}'")
    if weights.ndim != (2 if node.op == "MatMul" else 4):
        raise _Skip(f"weights of '{node.name}' have rank {weights.ndim}")
    if node.op == "MatMul":
        channels = weights.shape[0] if node.attr["transpose_b"].b else weights.shape[1]
        channels_last = True
    else:
        fmt = node.attr["data_format"].s if "data_format" in node.attr else b"NHWC"
        if fmt not in (b"NHWC", b"NCHW"):
            raise _Skip(f"data_format {fmt.decode()}")
        channels_last = fmt == b"NHWC"
        channels = weights.shape[3] if node.op == "Conv2D" else weights.shape[2] * weights.shape[3]
    if bias is None:
        bias = np.zeros(channels, weights.dtype)
    elif bias.shape != (channels,):
        where = bias_node.name if bias_node is not None else node.name
        raise _Skip(f"bias of '{where}' has shape {list(bias.shape)}, expected [{channels}]")
    if bias_node is not None:
        fmt = bias_node.attr["data_format"].s if "data_format" in bias_node.attr else b"NHWC"
        if (fmt == b"NHWC") != channels_last:
            raise _Skip("the BiasAdd and the convolution use different data formats")
    return _Linear(node, weights, bias_node, bias, channels_last)


def _channels(linear: _Linear) -> int:
    w, op = linear.weights, linear.node.op
    if op == "MatMul":
        return w.shape[0] if linear.node.attr["transpose_b"].b else w.shape[1]
    return w.shape[3] if op == "Conv2D" else w.shape[2] * w.shape[3]


def _scale_weights(linear: _Linear, factor: np.ndarray) -> np.ndarray:
    w = linear.weights.astype(np.float64)
    op = linear.node.op
    if op == "Conv2D":
        return w * factor
    if op == "DepthwiseConv2dNative":
        return w * factor.reshape(w.shape[2], w.shape[3])
    if linear.node.attr["transpose_b"].b:
        return w * factor[:, None]
    return w * factor


def _fused(node, nodes, view, evaluator, protected):
    if node.attr["is_training"].b if "is_training" in node.attr else True:
        raise _Skip("is_training is true (batch statistics)")
    for k in range(1, 6):
        if view.consumers(f"{node.name}:{k}"):
            raise _Skip(f"output {k} (batch statistics) is used")
    data = _data(node)
    if len(data) != 5:
        raise _Skip(f"{len(data)} data inputs")
    fmt = node.attr["data_format"].s if "data_format" in node.attr else b"NHWC"
    linear = _linear(data[0], node.name, nodes, view, evaluator, protected)
    if linear.node.op == "MatMul":
        raise _Skip("a FusedBatchNorm on a MatMul")
    if (fmt == b"NHWC") != linear.channels_last:
        raise _Skip("the batch norm and the convolution use different data formats")
    scale, offset, mean, variance = (_float(evaluator.value(r), name).astype(np.float64)
                                     for r, name in zip(data[1:], ("scale", "offset", "mean", "variance")))
    channels = _channels(linear)
    for value, name in ((scale, "scale"), (offset, "offset"), (mean, "mean"), (variance, "variance")):
        if value.shape != (channels,):
            raise _Skip(f"{name} has shape {list(value.shape)}, expected [{channels}]")
    epsilon = float(node.attr["epsilon"].f) if "epsilon" in node.attr else 1e-4
    factor = scale / np.sqrt(variance + epsilon)
    shift = offset - mean * factor
    chain = [linear.node.name, node.name] + ([linear.bias_node.name] if linear.bias_node is not None else [])
    return linear, factor, shift, node, chain


def _global_norm(node, nodes, view, evaluator, protected):
    data = _data(node)
    if len(data) != 5:
        raise _Skip(f"{len(data)} data inputs")
    linear = _linear(data[0], node.name, nodes, view, evaluator, protected)
    if linear.node.op == "MatMul":
        raise _Skip("a BatchNormWithGlobalNormalization on a MatMul")
    if not linear.channels_last:
        raise _Skip("BatchNormWithGlobalNormalization normalizes the last axis; the convolution is NCHW")
    mean, variance, beta, gamma = (_float(evaluator.value(r), name).astype(np.float64)
                                   for r, name in zip(data[1:], ("mean", "variance", "beta", "gamma")))
    channels = _channels(linear)
    for value, name in ((mean, "mean"), (variance, "variance"), (beta, "beta"), (gamma, "gamma")):
        if value.shape != (channels,):
            raise _Skip(f"{name} has shape {list(value.shape)}, expected [{channels}]")
    epsilon = float(node.attr["variance_epsilon"].f)
    factor = 1.0 / np.sqrt(variance + epsilon)
    if node.attr["scale_after_normalization"].b:
        factor = factor * gamma
    shift = beta - mean * factor
    chain = [linear.node.name, node.name] + ([linear.bias_node.name] if linear.bias_node is not None else [])
    return linear, factor, shift, node, chain


def _per_channel(value: np.ndarray | None, channels: int, channels_last: bool, what: str) -> np.ndarray:
    value = _float(value, what)
    if value.size == 1:
        return np.full(channels, float(value.reshape(-1)[0]))
    shape = value.shape
    squeezed = [d for d in shape if d != 1]
    if squeezed != [channels]:
        raise _Skip(f"{what} has shape {list(shape)}, not one value per channel ({channels})")
    axis_from_end = len(shape) - max(i for i, d in enumerate(shape) if d == channels)
    if channels_last and axis_from_end != 1:
        raise _Skip(f"{what} of shape {list(shape)} does not broadcast along the channel axis")
    if not channels_last and axis_from_end != 3:
        raise _Skip(f"{what} of shape {list(shape)} does not broadcast along the NCHW channel axis")
    return value.reshape(-1).astype(np.float64)


def _unfused(node, nodes, view, evaluator, protected):
    # A Mul is a batch norm only if it fits the pattern; one named like tf.nn.batch_normalization's
    # (``.../batchnorm/mul``) that does not is skipped with its reason (logged), any other silently.
    def not_folded(why: str) -> None:
        if "batchnorm" in node.name.lower() or "batch_norm" in node.name.lower():
            raise _Skip(why)
        return None

    data = _data(node)
    if len(data) != 2:
        return not_folded(f"{len(data)} data inputs")
    # Which operand is the convolution: the one that is not constant.
    consts = [evaluator.value(r) for r in data]
    if (consts[0] is None) == (consts[1] is None):
        return not_folded("both operands are constant" if consts[0] is not None
                          else "neither operand is constant (is the graph frozen?)")
    x_ref, m = (data[0], consts[1]) if consts[0] is None else (data[1], consts[0])
    producer = nodes.get(x_ref.node)
    if producer is None:
        return not_folded(f"its input '{x_ref.node}' is not in the graph")
    if producer.op not in LINEAR_OPS | {"BiasAdd"}:
        return not_folded(f"its input comes from {producer.op} '{producer.name}', "
                          "not Conv2D, DepthwiseConv2dNative, MatMul or BiasAdd")
    linear = _linear(x_ref, node.name, nodes, view, evaluator, protected)
    channels = _channels(linear)
    factor = _per_channel(m, channels, linear.channels_last, f"multiplier of '{node.name}'")
    shift = np.zeros(channels)
    last = node
    chain = [linear.node.name, node.name] + ([linear.bias_node.name] if linear.bias_node is not None else [])
    users = view.consumers(node.name, ("data",))
    if len(users) == 1 and node.name not in protected and nodes[users[0]].op in _ADD_OPS:
        add = nodes[users[0]]
        add_data = _data(add)
        if len(add_data) == 2 and view.consumers(node.name, ("data", "control")) == [add.name]:
            other = add_data[1] if add_data[0].node == node.name else add_data[0]
            first = add_data[0].node == node.name
            try:
                b = _per_channel(evaluator.value(other), channels, linear.channels_last, f"bias of '{add.name}'")
            except _Skip:
                b = None
            if b is not None and (add.op != "Sub" or first):
                shift = -b if add.op == "Sub" else b
                last = add
                chain.append(add.name)
    if last is node and len(view.consumers(node.name, ("data", "control"))) == 0:
        raise _Skip("nothing uses it")
    return linear, factor, shift, last, chain

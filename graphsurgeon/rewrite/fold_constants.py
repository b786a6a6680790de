"""fold_constants(graph_def, outputs): replace pure ops on constants by the Const they compute.

Only ops that numpy computes bit for bit as TensorFlow does are folded: Identity-like ops, Cast,
Reshape, shape ops (Shape/Size/Rank of a Const or of a Placeholder whose shape is fully known,
Pack, ConcatV2, ExpandDims, Squeeze, Transpose, Slice, StridedSlice without ellipsis/new-axis
masks, GatherV2, Tile, Fill, integer Range), elementwise Add/AddV2/Sub/Mul/Neg/Abs/Square/
Maximum/Minimum, float RealDiv and Sqrt (IEEE-exact), integer FloorDiv/FloorMod, comparisons and
logical ops, Select/SelectV2, ZerosLike/OnesLike, and integer Sum/Prod/Max/Min (float reductions
depend on summation order, so they are left alone). Anything else is kept, as is any node whose
evaluation fails (the failure is logged at debug level).

A folded node keeps its name, device and ``_class``; it becomes a ``Const`` whose control inputs
are the node's own control inputs plus those its constant inputs carried (so a constant inside a
``tf.cond`` branch or a while loop keeps the control edge that puts it in that branch or frame).

Size limit: folding may grow the graph by at most ``max_growth_bytes`` in total (default 1 MiB),
counting for each folded node the bytes of its result minus the bytes of its constant inputs
(Reshape, Cast to the same width and shape arithmetic cost nothing; Fill/Tile of a big shape are
skipped with a logged reason once the budget is spent). The inputs that are no longer used are
left for ``prune`` to remove.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from graphsurgeon._proto import graph_pb2, node_def_pb2, types_pb2
from graphsurgeon.errors import GraphSurgeonError
from graphsurgeon.formats.tensors import array_to_tensor, base_dtype, tensor_to_array, to_numpy_dtype
from graphsurgeon.graph.names import TensorRef, parse_input, split_names
from graphsurgeon.graph.nodes import graph_like
from graphsurgeon.graph.op_registry import output_dtype
from graphsurgeon.graph.view import GraphView
from graphsurgeon.rewrite.prune import output_shape

log = logging.getLogger(__name__)

DT = types_pb2.DataType

DEFAULT_MAX_GROWTH = 1 << 20
#: Fill / Tile / Range results larger than this are not even computed (a 4 GiB Fill, or a damaged
#: shape asking for terabytes, must not be allocated just to be refused by the growth budget).
MAX_EVALUATED_BYTES = 64 << 20

_FLOATS = (np.float32, np.float64)
_IDENTITY_OPS = frozenset({"Identity", "Snapshot", "StopGradient", "PreventGradient"})


class _Skip(Exception):
    """This node cannot be folded exactly; the message says why."""


def _attr(node: node_def_pb2.NodeDef, key: str, default: Any = None) -> Any:
    if key not in node.attr:
        return default
    value = node.attr[key]
    kind = value.WhichOneof("value")
    if kind == "list":
        lst = value.list
        return list(lst.i) or list(lst.type) or list(lst.s) or list(lst.f) or []
    return getattr(value, kind) if kind else default


def _is_float(a: np.ndarray) -> bool:
    return a.dtype.kind == "f"


def _exact_float(a: np.ndarray) -> None:
    if a.dtype.kind == "f" and a.dtype.type not in _FLOATS:
        raise _Skip(f"{a.dtype} arithmetic is not folded (numpy may round differently)")


def _binary(fn: Callable[[np.ndarray, np.ndarray], np.ndarray], ints_only: bool = False,
            floats_only: bool = False) -> Callable[[node_def_pb2.NodeDef, list[np.ndarray]], np.ndarray]:
    def run(node: node_def_pb2.NodeDef, args: list[np.ndarray]) -> np.ndarray:
        a, b = args
        if a.dtype != b.dtype:
            raise _Skip(f"operands differ in dtype ({a.dtype}, {b.dtype})")
        _exact_float(a)
        if ints_only and a.dtype.kind not in "iu":
            raise _Skip("only integer operands are folded")
        if floats_only and not _is_float(a):
            raise _Skip("only float operands are folded")
        with np.errstate(all="raise"):
            if a.dtype.kind in "iu":
                with np.errstate(over="ignore"):  # TensorFlow's integer ops wrap around too
                    return np.asarray(fn(a, b))
            return np.asarray(fn(a, b))
    return run


_Binary = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _int_div_guard(fn: _Binary) -> _Binary:
    def run(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        if np.any(b == 0):
            raise _Skip("integer division by zero (TensorFlow raises)")
        return fn(a, b)
    return run


def _unary(fn: Callable[[np.ndarray], np.ndarray], floats_only: bool = False
           ) -> Callable[[node_def_pb2.NodeDef, list[np.ndarray]], np.ndarray]:
    def run(node: node_def_pb2.NodeDef, args: list[np.ndarray]) -> np.ndarray:
        (a,) = args
        _exact_float(a)
        if floats_only and not _is_float(a):
            raise _Skip("only float operands are folded")
        with np.errstate(all="raise"):
            return np.asarray(fn(a))
    return run


def _cast(node: node_def_pb2.NodeDef, args: list[np.ndarray]) -> np.ndarray:
    (a,) = args
    dst = base_dtype(int(node.attr["DstT"].type))
    if dst == DT.DT_STRING or a.dtype == object:
        raise _Skip("string casts are not folded")
    target = to_numpy_dtype(dst)
    if _is_float(a) and target.kind in "iub":
        if not np.all(np.isfinite(a)):
            raise _Skip("casting a non-finite float to an integer")
        if target.kind in "iu":
            info = np.iinfo(target)
            if a.size and (a.min() < info.min or a.max() > info.max):
                raise _Skip("float out of the integer range (TensorFlow's result is platform-specific)")
    if _attr(node, "Truncate", False):
        raise _Skip("Cast with Truncate=true")
    if a.dtype.kind == "f" and a.dtype.type not in _FLOATS or target.kind == "f" and target.type not in _FLOATS:
        raise _Skip("casts to or from 16-bit floats are not folded")
    return a.astype(target)


def _reshape(node: node_def_pb2.NodeDef, args: list[np.ndarray]) -> np.ndarray:
    a, shape = args
    return a.reshape([int(s) for s in shape.reshape(-1)])


def _shape_of(node: node_def_pb2.NodeDef, args: list[np.ndarray]) -> np.ndarray:
    (a,) = args
    out_type = to_numpy_dtype(int(_attr(node, "out_type", DT.DT_INT32)))
    if node.op == "Shape":
        return np.asarray(a.shape, dtype=out_type)
    if node.op == "Size":
        return np.asarray(a.size, dtype=out_type)
    return np.asarray(a.ndim, dtype=np.int32)


def _pack(node: node_def_pb2.NodeDef, args: list[np.ndarray]) -> np.ndarray:
    return np.stack(args, axis=int(_attr(node, "axis", 0)))


def _concat(node: node_def_pb2.NodeDef, args: list[np.ndarray]) -> np.ndarray:
    *parts, axis = args
    if len({p.dtype for p in parts}) != 1:
        raise _Skip("ConcatV2 inputs differ in dtype")
    return np.concatenate(parts, axis=int(axis))


def _expand_dims(node: node_def_pb2.NodeDef, args: list[np.ndarray]) -> np.ndarray:
    a, axis = args
    return np.expand_dims(a, int(axis.reshape(-1)[0]))


def _squeeze(node: node_def_pb2.NodeDef, args: list[np.ndarray]) -> np.ndarray:
    (a,) = args
    dims = _attr(node, "squeeze_dims", []) or []
    return np.squeeze(a, axis=tuple(int(d) for d in dims)) if dims else np.squeeze(a)


def _transpose(node: node_def_pb2.NodeDef, args: list[np.ndarray]) -> np.ndarray:
    a, perm = args
    return np.transpose(a, [int(p) for p in perm.reshape(-1)])


def _slice(node: node_def_pb2.NodeDef, args: list[np.ndarray]) -> np.ndarray:
    a, begin, size = args
    index = []
    for axis, (b, s) in enumerate(zip(begin.reshape(-1), size.reshape(-1))):
        b, s = int(b), int(s)
        end = a.shape[axis] if s == -1 else b + s
        if b < 0 or end > a.shape[axis] or end < b:
            raise _Skip("Slice out of bounds (TensorFlow raises)")
        index.append(slice(b, end))
    return a[tuple(index)]


def _strided_slice(node: node_def_pb2.NodeDef, args: list[np.ndarray]) -> np.ndarray:
    a, begin, end, strides = args
    if int(_attr(node, "ellipsis_mask", 0)) or int(_attr(node, "new_axis_mask", 0)):
        raise _Skip("StridedSlice with ellipsis_mask or new_axis_mask")
    begin_mask, end_mask = int(_attr(node, "begin_mask", 0)), int(_attr(node, "end_mask", 0))
    shrink = int(_attr(node, "shrink_axis_mask", 0))
    index: list[Any] = []
    for i, (b, e, s) in enumerate(zip(begin.reshape(-1), end.reshape(-1), strides.reshape(-1))):
        if int(s) == 0:
            raise _Skip("StridedSlice with stride 0")
        if shrink >> i & 1:
            k = int(b)
            if not -a.shape[i] <= k < a.shape[i]:
                raise _Skip("StridedSlice index out of range (TensorFlow raises)")
            index.append(k)
        else:
            index.append(slice(None if begin_mask >> i & 1 else int(b), None if end_mask >> i & 1 else int(e), int(s)))
    return np.asarray(a[tuple(index)])


def _gather(node: node_def_pb2.NodeDef, args: list[np.ndarray]) -> np.ndarray:
    params, indices, axis = args
    if int(_attr(node, "batch_dims", 0)):
        raise _Skip("GatherV2 with batch_dims")
    ax = int(axis.reshape(-1)[0])
    if indices.size and (indices.min() < 0 or indices.max() >= params.shape[ax]):
        raise _Skip("GatherV2 index out of range")
    return np.take(params, indices, axis=ax)


def _check_result_size(count: int, dtype: np.dtype, op: str) -> None:
    if count * np.dtype(dtype).itemsize > MAX_EVALUATED_BYTES:
        raise _Skip(f"{op} would make {count * np.dtype(dtype).itemsize} bytes (more than {MAX_EVALUATED_BYTES})")


def _fill(node: node_def_pb2.NodeDef, args: list[np.ndarray]) -> np.ndarray:
    dims, value = args
    shape = [int(d) for d in dims.reshape(-1)]
    if any(d < 0 for d in shape):
        raise _Skip(f"Fill with negative dims {shape}")
    _check_result_size(math.prod(shape), value.dtype, "Fill")
    return np.full(shape, value, dtype=value.dtype)


def _tile(node: node_def_pb2.NodeDef, args: list[np.ndarray]) -> np.ndarray:
    a, multiples = args
    reps = [int(m) for m in multiples.reshape(-1)]
    if any(m < 0 for m in reps):
        raise _Skip(f"Tile with negative multiples {reps}")
    _check_result_size(a.size * math.prod(reps), a.dtype, "Tile")
    return np.tile(a, reps)


def _range(node: node_def_pb2.NodeDef, args: list[np.ndarray]) -> np.ndarray:
    start, limit, delta = args
    if start.dtype in (np.float32, np.float64):
        return _float_range(start, limit, delta)
    if start.dtype.kind not in "iu":
        raise _Skip(f"Range of {start.dtype}")
    if int(delta) == 0:
        raise _Skip("Range with delta 0")
    _check_result_size(len(range(int(start), int(limit), int(delta))), start.dtype, "Range")
    return np.arange(int(start), int(limit), int(delta), dtype=start.dtype)


def _float_range(start: np.ndarray, limit: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """TensorFlow's float Range: size ceil(|(limit - start) / delta|), value i = start + T(i) * delta,
    each step rounded to the dtype (so the result is bit-exact)."""
    dtype = start.dtype
    start, limit, delta = (np.asarray(a, dtype).reshape(()) for a in (start, limit, delta))
    if delta == 0 or not (np.isfinite(start) and np.isfinite(limit) and np.isfinite(delta)):
        raise _Skip("Range with delta 0 or a non-finite bound")
    if (delta > 0 and start > limit) or (delta < 0 and start < limit):
        raise _Skip("Range whose limit is on the wrong side of start (TensorFlow raises)")
    with np.errstate(all="ignore"):
        size = int(np.ceil(np.abs(np.asarray((limit - start) / delta, dtype))))
    _check_result_size(size, dtype, "Range")
    steps = np.arange(size).astype(dtype)
    return np.asarray(start + np.asarray(steps * delta, dtype), dtype)


def _reduce(fn: Callable[..., np.ndarray]) -> Callable[[node_def_pb2.NodeDef, list[np.ndarray]], np.ndarray]:
    def run(node: node_def_pb2.NodeDef, args: list[np.ndarray]) -> np.ndarray:
        a, axes = args
        if node.op in ("Sum", "Prod") and a.dtype.kind not in "iu":
            raise _Skip("float sums and products depend on summation order")
        if a.dtype.kind == "f":
            _exact_float(a)
        axis = tuple(int(x) for x in axes.reshape(-1))
        keep = bool(_attr(node, "keep_dims", False))
        with np.errstate(over="ignore"):
            return np.asarray(fn(a, axis=axis, keepdims=keep)).astype(a.dtype)
    return run


def _select(node: node_def_pb2.NodeDef, args: list[np.ndarray]) -> np.ndarray:
    cond, a, b = args
    if node.op == "Select" and cond.ndim == 1 and a.ndim > 1:
        cond = cond.reshape((-1,) + (1,) * (a.ndim - 1))
    return np.where(cond, a, b)


def _identity(node: node_def_pb2.NodeDef, args: list[np.ndarray]) -> np.ndarray:
    return args[0]


#: op -> evaluator(node, [input arrays]) for every op folded exactly.
EXACT_OPS: dict[str, Callable[[node_def_pb2.NodeDef, list[np.ndarray]], np.ndarray]] = {
    **{op: _identity for op in _IDENTITY_OPS},
    "Cast": _cast, "Reshape": _reshape, "Shape": _shape_of, "Size": _shape_of, "Rank": _shape_of,
    "Pack": _pack, "ConcatV2": _concat, "ExpandDims": _expand_dims, "Squeeze": _squeeze,
    "Transpose": _transpose, "Slice": _slice, "StridedSlice": _strided_slice, "GatherV2": _gather,
    "Fill": _fill, "Tile": _tile, "Range": _range,
    "Add": _binary(np.add), "AddV2": _binary(np.add), "Sub": _binary(np.subtract),
    "Mul": _binary(np.multiply), "Maximum": _binary(np.maximum), "Minimum": _binary(np.minimum),
    "RealDiv": _binary(np.divide, floats_only=True),
    "FloorDiv": _binary(_int_div_guard(np.floor_divide), ints_only=True),
    "FloorMod": _binary(_int_div_guard(np.mod), ints_only=True),
    "Neg": _unary(np.negative), "Abs": _unary(np.abs), "Square": _unary(np.square),
    "Sqrt": _unary(np.sqrt, floats_only=True),
    "Equal": _binary(np.equal), "NotEqual": _binary(np.not_equal), "Less": _binary(np.less),
    "LessEqual": _binary(np.less_equal), "Greater": _binary(np.greater), "GreaterEqual": _binary(np.greater_equal),
    "LogicalAnd": _binary(np.logical_and), "LogicalOr": _binary(np.logical_or), "LogicalNot": _unary(np.logical_not),
    "Select": _select, "SelectV2": _select,
    "ZerosLike": _unary(np.zeros_like), "OnesLike": _unary(np.ones_like),
    "Sum": _reduce(np.sum), "Prod": _reduce(np.prod), "Max": _reduce(np.max), "Min": _reduce(np.min),
}

#: Ops evaluated only where a small float difference is acceptable (``evaluate(..., exact=False)``),
#: e.g. the unfused batch-norm arithmetic that fold_batch_norm folds into weights.
INEXACT_OPS: dict[str, Callable[[node_def_pb2.NodeDef, list[np.ndarray]], np.ndarray]] = {
    "Rsqrt": _unary(lambda a: (1 / np.sqrt(a)).astype(a.dtype), floats_only=True),
    "Reciprocal": _unary(lambda a: (1 / a).astype(a.dtype), floats_only=True),
    "Sum": _reduce(np.sum), "Mean": _reduce(np.mean), "Prod": _reduce(np.prod),
}
_SHAPE_OPS = frozenset({"Shape", "Size", "Rank"})
_PLACEHOLDER_OPS = frozenset({"Placeholder", "PlaceholderV2"})


def _const_value(node: node_def_pb2.NodeDef) -> np.ndarray:
    return tensor_to_array(node.attr["value"].tensor, f"Const '{node.name}'")


class ConstantEvaluator:
    """Evaluates tensors of a graph whose whole ancestry is constant (memoized, lazy)."""

    def __init__(self, graph_def: graph_pb2.GraphDef | Iterable[node_def_pb2.NodeDef], *, exact: bool = True) -> None:
        nodes = graph_def.node if isinstance(graph_def, graph_pb2.GraphDef) else graph_def
        self._nodes = {n.name: n for n in nodes}
        self._exact = exact
        self._values: dict[str, np.ndarray | None] = {}
        self.reasons: dict[str, str] = {}

    def value(self, tensor: str | TensorRef, depth: int = 0) -> np.ndarray | None:
        """The value of ``tensor`` (``a`` / ``a:0``), or ``None`` when it is not a foldable constant."""
        ref = parse_input(tensor) if isinstance(tensor, str) else tensor
        if ref.is_control or ref.index != 0:
            return None
        if ref.node in self._values:
            return self._values[ref.node]
        node = self._nodes.get(ref.node)
        if node is None or depth > 200:
            return None
        self._values[ref.node] = None  # guards against cycles (loops are never constant)
        result = self._evaluate(node, depth)
        self._values[ref.node] = result
        return result

    def release(self, name: str) -> None:
        """Drops the remembered value of ``name`` (to save memory); it is computed again if asked for."""
        self._values.pop(name, None)

    def forget(self, name: str) -> None:
        """Treats node ``name`` as not constant from now on (its consumers are not folded through it)."""
        self._values[name] = None

    def _evaluate(self, node: node_def_pb2.NodeDef, depth: int) -> np.ndarray | None:
        if node.op == "Const":
            try:
                return _const_value(node)
            except GraphSurgeonError as err:
                self.reasons[node.name] = str(err)
                return None
        fn = EXACT_OPS.get(node.op) or (None if self._exact else INEXACT_OPS.get(node.op))
        if fn is None:
            return None
        refs = [r for r in map(parse_input, node.input) if not r.is_control]
        if node.op in _SHAPE_OPS and len(refs) == 1:
            args = [self._static(refs[0], depth)]
        else:
            args = [self.value(r, depth + 1) for r in refs]
        if any(a is None for a in args):
            return None
        try:
            result = fn(node, args)  # type: ignore[arg-type]
        except _Skip as why:
            self.reasons[node.name] = str(why)
            return None
        except (ValueError, TypeError, IndexError, FloatingPointError, GraphSurgeonError) as err:
            self.reasons[node.name] = f"{type(err).__name__}: {err}"
            return None
        return _typed(node, result, self.reasons)

    def _static(self, ref: TensorRef, depth: int) -> np.ndarray | None:
        """For Shape/Size/Rank: the input's value, or a stand-in of its fully known static shape."""
        value = self.value(ref, depth + 1)
        if value is not None:
            return value
        producer = self._nodes.get(ref.node)
        # Only placeholders: a folded Shape of a tensor computed inside a cond branch would lose the
        # control flow (deadness) the tensor carried.
        if producer is None or producer.op not in _PLACEHOLDER_OPS or producer.input:
            return None
        shape = output_shape(producer, ref.index)
        if shape is None or any(d < 0 for d in shape):
            return None
        return np.lib.stride_tricks.as_strided(np.zeros(1, np.int8), shape, [0] * len(shape))

    def controls(self, name: str, seen: set[str] | None = None) -> list[str]:
        """Control inputs a folded ``name`` must keep: its own and those of the constants it was computed from."""
        seen = set() if seen is None else seen
        node = self._nodes[name]
        out: dict[str, None] = {}
        for ref in map(parse_input, node.input):
            if ref.is_control:
                out[ref.node] = None
            elif ref.node not in seen and ref.node in self._nodes:
                seen.add(ref.node)
                for c in self.controls(ref.node, seen):
                    out[c] = None
        return list(out)


def _typed(node: node_def_pb2.NodeDef, result: np.ndarray, reasons: dict[str, str]) -> np.ndarray | None:
    """The result in the node's declared output dtype, or None when numpy computed another dtype."""
    want = output_dtype(node, 0)
    if want is None:
        return result
    try:
        np_want = to_numpy_dtype(base_dtype(want))
    except GraphSurgeonError:
        reasons[node.name] = "unsupported output dtype"
        return None
    if result.dtype != np_want:
        if node.op in _SHAPE_OPS:
            return result.astype(np_want)
        reasons[node.name] = f"numpy computed {result.dtype}, the op gives {np_want}"
        return None
    return result


def evaluate(graph_def: graph_pb2.GraphDef, tensor: str, *, exact: bool = True) -> np.ndarray | None:
    """The value of ``tensor`` when everything it depends on is constant and foldable; else ``None``."""
    return ConstantEvaluator(graph_def, exact=exact).value(tensor)


def fold_constants(graph_def: graph_pb2.GraphDef, outputs: str | Iterable[str] = (), *,
                   max_growth_bytes: int = DEFAULT_MAX_GROWTH) -> graph_pb2.GraphDef:
    """Returns a new GraphDef with every exactly-foldable node on constants replaced by a Const.

    ``graph_def`` is not modified. Node names and order stay; constants that are no longer used
    stay too (run ``prune`` after). ``outputs`` is accepted for a uniform pass signature: outputs
    keep their names either way. See the module docstring for the ops and the size limit.
    """
    split_names(outputs)
    nodes = list(graph_def.node)
    order = GraphView(graph_def, allow_dangling=True).topological_order()
    by_name = {n.name: n for n in nodes}
    evaluator = ConstantEvaluator(graph_def)
    budget = int(max_growth_bytes)
    folded: dict[str, node_def_pb2.NodeDef] = {}
    for name in order:
        node = by_name[name]
        if node.op == "Const" or node.op not in EXACT_OPS:
            continue
        value = evaluator.value(name)
        if value is None:
            if name in evaluator.reasons:
                log.debug("fold_constants: not folding '%s' (%s): %s", name, node.op, evaluator.reasons[name])
            continue
        input_bytes = 0
        for ref in map(parse_input, node.input):
            if not ref.is_control:
                known = evaluator.value(ref)
                input_bytes += 0 if known is None else int(known.nbytes)
        growth = max(0, int(value.nbytes) - input_bytes)
        if growth > budget:
            evaluator.forget(name)  # consumers must not fold it in either
            log.info("fold_constants: not folding '%s' (%s): its %d-byte result would grow the graph past the "
                     "%d-byte limit", name, node.op, value.nbytes, max_growth_bytes)
            continue
        budget -= growth
        folded[name] = _const_for(node, value, evaluator.controls(name))
    if not folded:
        out = graph_pb2.GraphDef()
        out.CopyFrom(graph_def)
        return out
    out = graph_like(graph_def)
    out.node.extend(folded.get(n.name, n) for n in nodes)
    log.info("fold_constants: folded %d node(s)", len(folded))
    return out


def _const_for(node: node_def_pb2.NodeDef, value: np.ndarray, controls: list[str]) -> node_def_pb2.NodeDef:
    const = node_def_pb2.NodeDef(name=node.name, op="Const", device=node.device)
    const.input.extend("^" + c for c in controls if c != node.name)
    dtype = output_dtype(node, 0)
    tensor = array_to_tensor(value, None if dtype is None else base_dtype(dtype))
    const.attr["dtype"].type = tensor.dtype
    const.attr["value"].tensor.CopyFrom(tensor)
    if "_class" in node.attr:
        const.attr["_class"].CopyFrom(node.attr["_class"])
    return const

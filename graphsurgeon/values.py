"""What validating and running a graph needs without TensorFlow: a graph's inputs and candidate
outputs, input values (random, or coerced from what the user gave; the bound value of a placeholder a
freeze removed), a TF2 signature's inputs. The comparison and its report are in
``graphsurgeon.comparison`` (re-exported here).

``graphsurgeon.validate`` runs graphs in TensorFlow with these; ``gs run`` and ``gs validate`` use
them to parse and check their arguments before TensorFlow is loaded.
"""

from __future__ import annotations

import ast
import dataclasses
import io
import logging
import math
import os
import pathlib
import re
import tokenize
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from graphsurgeon._proto import graph_pb2, meta_graph_pb2, types_pb2
from graphsurgeon.comparison import DEFAULT_ATOL as DEFAULT_ATOL  # re-exported: the comparison lives there
from graphsurgeon.comparison import DEFAULT_RTOL as DEFAULT_RTOL
from graphsurgeon.comparison import ValidationReport as ValidationReport
from graphsurgeon.comparison import ValidationRow as ValidationRow
from graphsurgeon.comparison import compare_arrays as compare_arrays
from graphsurgeon.comparison import dtype_label as dtype_label
from graphsurgeon.errors import CheckpointError, GraphSurgeonError, MismatchError, ValidationError, not_found
from graphsurgeon.formats import model as _model
from graphsurgeon.formats import tensors
from graphsurgeon.formats.checkpoint_paths import is_checkpoint_path, resolve_checkpoint_prefix
from graphsurgeon.graph import names
from graphsurgeon.graph.variables import VARIABLE_OPS
from graphsurgeon.graph.walk import ancestors
from graphsurgeon.summary import summarize, switch_hint

logger = logging.getLogger(__name__)

#: The signature of a TF2 SavedModel that is validated unless another is named.
DEFAULT_SIGNATURE = "serving_default"

PLACEHOLDER_OPS = frozenset({"Placeholder", "PlaceholderV2", "PlaceholderWithDefault"})
TABLE_INITIALIZER_OPS = frozenset({
    "InitializeTable", "InitializeTableV2", "InitializeTableFromTextFile", "InitializeTableFromTextFileV2",
    "InitializeTableFromDataset", "LookupTableImport", "LookupTableImportV2",
})
# Ops whose unconsumed nodes are bookkeeping, not model outputs.
_MACHINERY_OPS = frozenset({
    "NoOp", "Assert", "Const", "Save", "SaveV2", "SaveSlices", "Restore", "RestoreV2", "RestoreSlice",
    "MergeV2Checkpoints", "ShardedFilename", "ShardedFilespec", "StringJoin", "Assign", "AssignAdd",
    "AssignSub", "AssignVariableOp", "AssignAddVariableOp", "AssignSubVariableOp", "ReadVariableOp",
    "VarIsInitializedOp", "IsVariableInitialized", "DisableCopyOnRead", "Print", "PrintV2", "WriteFile",
    "ScalarSummary", "HistogramSummary", "ImageSummary", "AudioSummary", "AudioSummaryV2", "TensorSummary",
    "TensorSummaryV2", "MergeSummary", "HashTable", "HashTableV2", "MutableHashTable", "MutableHashTableV2",
    "MutableHashTableOfTensors", "MutableHashTableOfTensorsV2", "MutableDenseHashTable",
    "MutableDenseHashTableV2", "ApplyGradientDescent", "ResourceApplyGradientDescent",
}) | PLACEHOLDER_OPS | TABLE_INITIALIZER_OPS | VARIABLE_OPS
_MACHINERY_SCOPES = ("save", "init", "report_uninitialized_variables")


def normalize_device(device: str) -> str:
    """``cpu``, ``gpu:1``, ``GPU:0``, ``/gpu:0`` or ``/device:GPU:0`` -> ``/device:GPU:0`` form."""
    text = device.strip()
    body = text.split("device:", 1)[1] if "device:" in text else text.lstrip("/")
    kind, _, index = body.partition(":")
    if kind.upper() not in ("CPU", "GPU") or (index and not index.isdigit()):
        raise ValidationError(f"device '{device}' is not a CPU or GPU device name; use e.g. 'cpu', 'gpu:0'")
    return f"/device:{kind.upper()}:{index or 0}"


def short_device(device: str) -> str:
    """``/device:GPU:0`` -> ``GPU:0`` (for reports)."""
    return device.split("device:", 1)[-1]


# --- reading a graph (no TensorFlow) ------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class InputSpec:
    """One placeholder of a graph.

    Attributes:
        name: the tensor name (``x:0``).
        node: the node name (``x``).
        dtype: the DataType enum value.
        shape: the declared shape, -1 for unknown sizes, ``None`` for unknown rank.
        has_default: whether it is a ``PlaceholderWithDefault`` (feeding it is optional).
    """

    name: str
    node: str
    dtype: int
    shape: tuple[int, ...] | None
    has_default: bool = False

    @property
    def dtype_name(self) -> str:
        return tensors.dtype_name(self.dtype)

    @property
    def shape_text(self) -> str:
        if self.shape is None:
            return "<unknown rank>"
        return "[" + ",".join("?" if d < 0 else str(d) for d in self.shape) + "]"

    def describe(self) -> str:
        """``'x:0' (float, shape [?,8])``."""
        return f"'{self.name}' ({self.dtype_name}, shape {self.shape_text})"


def as_graph_def(graph: Any, tags: Iterable[str] | str | None = None) -> tuple[graph_pb2.GraphDef, str]:
    """(our GraphDef, a label for messages) from a path, a LoadedGraph or a GraphDef (``as_loaded``)."""
    loaded = _model.as_loaded(graph, tags)
    if isinstance(graph, (str, os.PathLike)):
        return loaded.graph_def, str(graph)
    if isinstance(graph, _model.LoadedGraph):
        return loaded.graph_def, str(graph.saved_model_dir or graph.path)
    return loaded.graph_def, "the graph"


def graph_inputs(graph_def: graph_pb2.GraphDef) -> list[InputSpec]:
    """The placeholders of ``graph_def`` in node order, with dtype and declared shape."""
    out = []
    for node in graph_def.node:
        if node.op not in PLACEHOLDER_OPS:
            continue
        dtype = node.attr["dtype"].type if "dtype" in node.attr else types_pb2.DT_INVALID
        shape: tuple[int, ...] | None = None
        if "shape" in node.attr and node.attr["shape"].HasField("shape"):
            shape = tensors.shape_from_proto(node.attr["shape"].shape)
        if shape is None and "_output_shapes" in node.attr and node.attr["_output_shapes"].list.shape:
            shape = tensors.shape_from_proto(node.attr["_output_shapes"].list.shape[0])
        out.append(InputSpec(f"{node.name}:0", node.name, dtype, shape, node.op == "PlaceholderWithDefault"))
    return out


def _in_machinery_scope(node_name: str) -> bool:
    first = node_name.split("/", 1)[0]
    return any(first == s or (first.startswith(s + "_") and first[len(s) + 1:].isdigit())
               for s in _MACHINERY_SCOPES)


def candidate_outputs(graph_def: graph_pb2.GraphDef) -> list[str]:
    """Tensor names (``probs:0``) of ``summarize``'s candidate outputs: nodes nothing consumes, minus machinery."""
    return [f"{out['name']}:0" for out in summarize(graph_def)["outputs"] if out["op"] not in _MACHINERY_OPS]


def initializer_nodes_of(graph_def: graph_pb2.GraphDef) -> list[str]:
    """Node names to run once before inference: ``init_all_tables`` if present, else table initializers."""
    by_name = {node.name: node for node in graph_def.node}
    if "init_all_tables" in by_name:
        return ["init_all_tables"]
    return [node.name for node in graph_def.node if node.op in TABLE_INITIALIZER_OPS]


def string_pool(graph_def: graph_pb2.GraphDef, limit: int = 256) -> list[bytes]:
    """String constants of the model (table keys, vocabularies), for random string inputs."""
    pool: list[bytes] = []
    for node in graph_def.node:
        if node.op != "Const" or _in_machinery_scope(node.name):
            continue
        value = node.attr["value"].tensor
        if value.dtype != types_pb2.DT_STRING:
            continue
        for item in value.string_val:
            if len(item) <= 64 and item not in pool:
                pool.append(item)
                if len(pool) >= limit:
                    return pool
    return pool


def random_value(spec: InputSpec, batch: int, rng: np.random.Generator,
                 string_pool: Sequence[bytes] = ()) -> np.ndarray:
    """A random array for a placeholder; unknown sizes become ``batch``.

    Floats: standard normal. uint8: 0..255. Other integers: 0..3 (safe as indices). Bools: fair
    coin. Strings: drawn from ``string_pool`` plus one out-of-vocabulary word.
    """
    if spec.shape is None:
        raise MismatchError(f"placeholder {spec.describe()} has an unknown rank, so no random value can be made; "
                            f"give it with --input {spec.node}=VALUE")
    shape = tuple(batch if d < 0 else d for d in spec.shape)
    dtype = tensors.to_numpy_dtype(spec.dtype, f"placeholder '{spec.name}'")
    base = tensors.base_dtype(spec.dtype)
    if base == types_pb2.DT_STRING:
        pool = [*string_pool, b"<unk>"] if string_pool else [f"word{i}".encode() for i in range(10)]
        picks = rng.integers(0, len(pool), size=shape)
        return np.vectorize(lambda i: pool[i], otypes=[object])(picks) if shape else np.array(pool[int(picks)],
                                                                                             dtype=object)
    if base == types_pb2.DT_BOOL:
        return rng.integers(0, 2, size=shape).astype(np.bool_)
    if dtype.kind == "c":
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)
    if dtype.kind in "iu":
        high = 256 if dtype.itemsize == 1 and dtype.kind == "u" else 4
        return rng.integers(0, high, size=shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def coerce_value(value: Any, spec: InputSpec) -> np.ndarray:
    """``value`` as an array of the placeholder's dtype, checked against its shape.

    Bools accept True/False and 0/1; integers refuse fractions and values out of range; strings
    become bytes. Raises ``MismatchError`` naming the placeholder, its dtype and shape.
    """
    target = tensors.to_numpy_dtype(spec.dtype, f"placeholder '{spec.name}'")
    base = tensors.base_dtype(spec.dtype)
    arr = value if isinstance(value, np.ndarray) else np.asarray(value)

    def fail(why: str) -> MismatchError:
        return MismatchError(f"value for placeholder {spec.describe()} {why}")

    if base == types_pb2.DT_STRING:
        if arr.dtype.kind not in "OSU":
            raise fail(f"must be text, got {arr.dtype}")
        out = np.empty(arr.shape, dtype=object)
        for idx, item in np.ndenumerate(arr):
            out[idx] = item.encode() if isinstance(item, str) else bytes(item)
        arr = out
    elif arr.dtype.kind in "OSU":
        raise fail(f"must be {spec.dtype_name}, got text")
    elif base == types_pb2.DT_BOOL:
        if arr.dtype.kind != "b":
            if not np.all((arr == 0) | (arr == 1)):
                raise fail("must be a bool (true/false or 1/0)")
        arr = arr.astype(np.bool_)
    elif target.kind in "iu":
        if arr.dtype.kind == "c" or (arr.dtype.kind == "f" and not np.all(np.mod(arr, 1) == 0)):
            raise fail(f"must be an integer ({spec.dtype_name}), got {arr.dtype} values")
        info = np.iinfo(target)
        if arr.size and (arr.min() < info.min or arr.max() > info.max):
            raise fail(f"has values out of the range of {spec.dtype_name} [{info.min}, {info.max}]")
        arr = arr.astype(target)
    elif target.kind != "c" and arr.dtype.kind == "c":
        raise fail(f"must be real ({spec.dtype_name}), got complex values")
    else:
        arr = arr.astype(target)
    if spec.shape is not None:
        if arr.ndim != len(spec.shape):
            if arr.ndim == 0:
                raise fail(f"is a scalar, but the placeholder has shape {spec.shape_text}; give an array "
                           "(a .npy file or a nested list)")
            raise fail(f"has shape [{','.join(map(str, arr.shape))}], which does not fit {spec.shape_text}")
        if any(want >= 0 and want != have for want, have in zip(spec.shape, arr.shape)):
            raise fail(f"has shape [{','.join(map(str, arr.shape))}], which does not fit {spec.shape_text}")
    return arr


def needed_nodes(graph_def: graph_pb2.GraphDef, outputs: Iterable[str], fed: Iterable[str] = ()) -> set[str]:
    """Names of the nodes TensorFlow runs to compute ``outputs``: their ancestors over data and control
    inputs, not looking past fed tensors (a fed node is included, its inputs are not)."""
    by_name = {node.name: node for node in graph_def.node}
    return set(ancestors(by_name, outputs, stop={names.node_name(name) for name in fed}))


def prepare_feeds(graph_def: graph_pb2.GraphDef, feeds: Mapping[str, Any] | None = None,
                  random_inputs: bool = False, batch: int = 1, seed: int = 0,
                  where: str = "the graph", outputs: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """The feed dict (tensor name -> array) for one run of ``graph_def``.

    ``feeds`` keys may be node or tensor names; values for placeholders are cast to their dtype and
    checked against their shape (``coerce_value``). With ``random_inputs``, every required
    placeholder not given gets a random value (``random_value``); placeholders with a default are
    left to it. Without it, a missing required placeholder is a ``MismatchError`` naming it with
    its dtype and shape. With ``outputs``, only the placeholders those outputs depend on count.
    """
    specs = {spec.name: spec for spec in graph_inputs(graph_def)}
    node_names = [node.name for node in graph_def.node]
    known = set(node_names)
    out: dict[str, np.ndarray] = {}
    for key, value in (feeds or {}).items():
        try:
            name = names.tensor_name(key)
        except ValueError as err:
            raise MismatchError(f"input '{key}' is a control input, not a tensor") from err
        if names.node_name(name) not in known:
            raise not_found("input", key, node_names, where=where)
        spec = specs.get(name)
        out[name] = coerce_value(value, spec) if spec else np.asarray(value)
    if batch < 1:
        raise MismatchError(f"batch must be at least 1, got {batch}")
    rng = np.random.default_rng(seed)
    pool: list[bytes] | None = None
    missing = []
    needed = needed_nodes(graph_def, outputs, out) if outputs is not None else None
    for spec in specs.values():
        if spec.name in out or spec.has_default or (needed is not None and spec.node not in needed):
            continue
        if not random_inputs:
            missing.append(spec)
            continue
        if pool is None:
            pool = string_pool(graph_def)
        out[spec.name] = random_value(spec, batch, rng, pool)
    if missing:
        listing = ", ".join(s.describe() for s in missing)
        raise MismatchError(f"no value for required input {listing} of {where}; give --input NAME=VALUE "
                            "(a .npy file, file.npz:key, or a literal) or use --random-inputs")
    return out


#: Where ``bound_values`` found the value of a placeholder that the frozen graph no longer has.
BOUND_IN_FROZEN = "bound in the frozen graph"
SWITCH_DEFAULT = "not in the frozen graph: the switch's inference value, as gs inspect gives it"


def bound_values(original_def: graph_pb2.GraphDef, frozen_def: graph_pb2.GraphDef, outputs: Sequence[str],
                 given: Iterable[str] = (), bound: Mapping[str, Any] | None = None
                 ) -> dict[str, tuple[np.ndarray, str]]:
    """Tensor name -> (value, source) for the placeholders of the original that ``outputs`` need and
    that the frozen graph no longer has as placeholders (bound at freeze time, or folded away).

    The value is that of the Const the freeze left in the placeholder's place (``gs freeze --bind``
    and ``--inference`` keep its name: ``BOUND_IN_FROZEN``). ``bound`` (placeholder -> value, what
    the freeze bound, as ``FreezeResult.bound`` has it) wins over that Const: a folding pass may
    have renamed or removed it. Where the frozen graph holds nothing
    usable for it, a training switch gets its inference value from ``summary.switch_hint``
    (``is_training`` -> False, ``keep_prob`` -> 1.0: ``SWITCH_DEFAULT``). Placeholders in ``given``
    (what the user fed) are left out, as are those with neither: a PlaceholderWithDefault then
    keeps its default, any other placeholder gets a random value.
    """
    frozen_nodes = {node.name: node for node in frozen_def.node}
    given_nodes = {names.node_name(name) for name in given}
    explicit = {names.node_name(name): value for name, value in (bound or {}).items()}
    needed = needed_nodes(original_def, outputs, given)
    out: dict[str, tuple[np.ndarray, str]] = {}
    for spec in graph_inputs(original_def):
        node = frozen_nodes.get(spec.node)
        if spec.node in given_nodes or spec.node not in needed or (node is not None and node.op in PLACEHOLDER_OPS):
            continue
        if spec.node in explicit:
            out[spec.name] = (coerce_value(explicit[spec.node], spec), BOUND_IN_FROZEN)
            continue
        if node is not None and node.op == "Const" and "value" in node.attr:
            try:
                out[spec.name] = (coerce_value(tensors.tensor_to_array(node.attr["value"].tensor), spec),
                                  BOUND_IN_FROZEN)
                continue
            except GraphSurgeonError:  # a Const of another dtype or shape: not this placeholder's binding
                pass
        hint = switch_hint(spec.node, spec.dtype, None if spec.shape is None else list(spec.shape))
        if hint is not None:
            out[spec.name] = (coerce_value(hint, spec), SWITCH_DEFAULT)
    return out


def original_only_values(original_def: graph_pb2.GraphDef, frozen_def: graph_pb2.GraphDef, outputs: Sequence[str],
                         given: Mapping[str, Any], fed: Iterable[str] = (), bound: Mapping[str, Any] | None = None
                         ) -> tuple[dict[str, tuple[np.ndarray, str]], dict[str, tuple[np.ndarray, np.ndarray]]]:
    """(``bound_values`` for what the user did not give, the overridden bindings) of the original's
    placeholders that the frozen graph no longer has. ``given``: what the user fed (it wins);
    ``fed``: the other tensors fed. An overridden binding is tensor name -> (given value, value
    bound in the frozen graph), for a placeholder given a value other than its ``BOUND_IN_FROZEN``
    one: the original then runs with the given value and the frozen graph with the bound one."""
    given_names = {names.tensor_name(key): value for key, value in given.items()}
    specs = {spec.name: spec for spec in graph_inputs(original_def)}
    cut = [*fed, *(name for name in given_names if name not in specs)]  # given tensors inside the graph
    found = bound_values(original_def, frozen_def, outputs, given=cut, bound=bound)
    overridden: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, value in given_names.items():
        if name in found and found[name][1] == BOUND_IN_FROZEN:
            mine, theirs = coerce_value(value, specs[name]), found[name][0]
            if mine.shape != theirs.shape or not np.array_equal(mine, theirs):
                overridden[name] = (mine, theirs)
    return {name: entry for name, entry in found.items() if name not in given_names}, overridden


def check_outputs(graph_def: graph_pb2.GraphDef, outputs: Sequence[str], where: str) -> list[str]:
    node_names = [node.name for node in graph_def.node]
    known = set(node_names)
    fetches = []
    for name in outputs:
        try:
            tensor = names.tensor_name(name)
        except ValueError as err:
            raise MismatchError(f"output '{name}' is a control input, not a tensor") from err
        if names.node_name(tensor) not in known:
            raise not_found("output", name, node_names, where=where)
        if tensor not in fetches:
            fetches.append(tensor)
    return fetches


# --- values typed on a command line -------------------------------------------------------------

_TRUE_FALSE = re.compile(r"\b(true|false)\b", re.IGNORECASE)
_SPECIAL_FLOATS = {"nan": math.nan, "+nan": math.nan, "-nan": math.nan, "inf": math.inf, "+inf": math.inf,
                   "-inf": -math.inf, "infinity": math.inf, "-infinity": -math.inf}
# nan / inf inside a list are read as floats (a quoted "nan" stays a string)
_SPECIAL_NAMES = frozenset({"nan", "inf", "infinity"})
_MARK = "\x00graphsurgeon-special:"


def parse_literal(text: str, spec: InputSpec | None = None) -> Any:
    """A Python value from a command-line literal.

    ``true``/``false`` (any case), numbers, ``nan``/``inf``, and nested lists (``[[1,2],[3,4]]``).
    For a string placeholder the text itself is the value, unless it is a list (``["a","b"]``).
    Raises ``MismatchError`` when the text is none of these.
    """
    stripped = text.strip()
    if spec is not None and spec.dtype_name == "string":
        if stripped.startswith("["):
            try:
                return _literal(stripped)
            except (ValueError, SyntaxError):
                pass
        return text
    if stripped.lower() in _SPECIAL_FLOATS:
        return _SPECIAL_FLOATS[stripped.lower()]
    try:
        return _literal(_TRUE_FALSE.sub(lambda m: m.group(1).capitalize(), _mark_specials(stripped)))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        target = f"placeholder {spec.describe()}" if spec else "an input"
        raise MismatchError(f"cannot read '{text}' as a value for {target}; give a number, true/false, a nested "
                            "list like [[1,2]], a .npy file, or file.npz:key") from None


def _literal(text: str) -> Any:
    value = _unmark(ast.literal_eval(text))
    if isinstance(value, (dict, set)) or value is None:
        raise ValueError("not a scalar or list")
    return value


def _mark_specials(text: str) -> str:
    """``[1, nan, -inf]`` -> the same list with each special float as a marked string, which
    ``ast.literal_eval`` reads and ``_unmark`` turns back into the float."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError):
        return text
    out: list[tuple[int, str]] = []
    for tok in tokens:
        if tok.type == tokenize.NAME and tok.string.lower() in _SPECIAL_NAMES:
            sign = ""
            if out and out[-1][1] in ("+", "-") and (len(out) < 2 or out[-2][1] in ("[", "(", ",")):
                sign = out.pop()[1]
            out.append((tokenize.STRING, repr(_MARK + sign + tok.string.lower())))
        else:
            out.append((tok.type, tok.string))
    return tokenize.untokenize(out)


def _unmark(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_MARK):
        return float(value[len(_MARK):])
    if isinstance(value, list):
        return [_unmark(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_unmark(v) for v in value)
    return value


def parse_bind_value(text: str) -> Any:
    """A ``--bind name=VALUE`` value: what ``parse_literal`` reads (numbers, ``true`` / ``false`` in any
    case, ``nan`` / ``inf``, nested lists such as ``[True, False]``), else the text itself (for a string
    placeholder; the placeholder is not known while the command line is read)."""
    try:
        return parse_literal(text)
    except MismatchError:
        return text


# --- a TF2 SavedModel's signature -----------------------------------------------------------------

def signature_def(loaded: _model.LoadedGraph, signature: str, label: str) -> Any:
    meta = loaded.meta_graph_def
    if meta is None or signature not in meta.signature_def:
        available = sorted(k for k in (meta.signature_def if meta is not None else {}) if not k.startswith("__"))
        raise ValidationError(f"signature '{signature}' not found in the SavedModel '{label}'; available "
                              f"signatures: {', '.join(available) or '(none)'} (pass one with --signature)")
    return meta.signature_def[signature]


def dense_tensor(info: Any, what: str) -> str:
    if info.WhichOneof("encoding") != "name" or not info.name:
        raise ValidationError(f"{what} is not a dense tensor (a sparse or composite tensor); validating it is "
                              "not supported")
    return names.tensor_name(info.name)


def signature_inputs(loaded: _model.LoadedGraph, signature: str = DEFAULT_SIGNATURE) -> dict[str, InputSpec]:
    """Signature key -> ``InputSpec`` (tensor name, dtype, shape) of a TF2 SavedModel signature's inputs.

    The spec's ``name`` is the graph tensor the key maps to (``serving_default_x:0``), which a
    frozen signature keeps as its placeholder. Keys are in sorted order. Raises
    ``ValidationError`` for an unknown signature (listing the available ones).
    """
    label = str(loaded.saved_model_dir or loaded.path)
    sig = signature_def(loaded, signature, label)
    out: dict[str, InputSpec] = {}
    for key in sorted(sig.inputs):
        info = sig.inputs[key]
        tensor = dense_tensor(info, f"input '{key}' of signature '{signature}' of '{label}'")
        shape = None if info.tensor_shape.unknown_rank else tuple(d.size for d in info.tensor_shape.dim)
        out[key] = InputSpec(tensor, names.node_name(tensor), info.dtype, shape)
    return out


def signature_key(name: str, mapping: Mapping[str, str], kind: str, where: str) -> str:
    """The signature key ``name`` refers to: a key itself, or the tensor (or node) a key maps to."""
    if name in mapping:
        return name
    try:
        tensor = names.tensor_name(name)
    except ValueError as err:
        raise MismatchError(f"{kind} '{name}' is a control input, not a tensor") from err
    by_tensor = {value: key for key, value in mapping.items()}
    if tensor in by_tensor:
        return by_tensor[tensor]
    node = names.node_name(tensor)
    if node in mapping and tensor == f"{node}:0":  # "x:0", as parse_feeds spells the key "x"
        return node
    listing = ", ".join(f"{key} ({value})" for key, value in sorted(mapping.items()))
    raise not_found(kind, name, list(mapping) + list(by_tensor), where=where,
                          hint=f"the signature's {kind}s are: {listing}")


def tensor_order(tensor: str) -> tuple[str, int]:
    ref = names.parse_input(tensor)
    return ref.node, ref.index


# Keys under which a SavedModel keeps its init op (TF1 builder, TF2 loader).
SAVED_MODEL_INIT_KEYS = ("saved_model_main_op", "legacy_init_op", "saved_model_init_op")


# --- the original model's files ----------------------------------------------------------------

def checkpoint_prefix(checkpoint: str | os.PathLike[str] | None, meta_path: pathlib.Path | None = None) -> str:
    """A checkpoint prefix, by the package's one resolver (``formats.checkpoint.resolve_checkpoint_prefix``);
    with no checkpoint, the graph's own (``formats.model.default_checkpoint``: a ``.meta`` file's prefix).

    Raises ``CheckpointError`` when nothing there looks like a checkpoint.
    """
    if checkpoint is None:
        candidate = None if meta_path is None else _model.meta_checkpoint(meta_path)
        if candidate is None:
            raise CheckpointError("no checkpoint given; pass --checkpoint PREFIX (e.g. model.ckpt-1000)")
        if not is_checkpoint_path(candidate):
            raise CheckpointError(f"no checkpoint '{candidate}' next to '{meta_path}' (expected "
                                  f"'{candidate}.index'); pass --checkpoint PREFIX")
        checkpoint = candidate
    return resolve_checkpoint_prefix(checkpoint)


def saver_nodes(graph_def: graph_pb2.GraphDef) -> tuple[str, str] | None:
    """(restore op, filename tensor) of a Saver built into a bare GraphDef (``save/restore_all``)."""
    by_name = {node.name: node for node in graph_def.node}
    scopes = sorted({n.name.rsplit("/", 1)[0] for n in graph_def.node
                     if n.name.endswith("/restore_all") and n.op == "NoOp"}, key=lambda s: (s != "save", s))
    for scope in scopes:
        for filename in (f"{scope}/Const", f"{scope}/filename"):
            if filename in by_name:
                return f"{scope}/restore_all", f"{filename}:0"
    return None


def has_saved_model_init(meta: meta_graph_pb2.MetaGraphDef) -> bool:
    return any(key in meta.collection_def for key in SAVED_MODEL_INIT_KEYS) or \
        "__saved_model_init_op" in meta.signature_def


def prepare_original(original: Any, checkpoint: str | os.PathLike[str] | None,
                     tags: Iterable[str] | str | None) -> tuple[_model.LoadedGraph, str | None, str]:
    """(LoadedGraph, checkpoint prefix or None, label) of an original model."""
    loaded = _model.as_loaded(original, tags)
    label = str(loaded.saved_model_dir or loaded.path)
    prefix: str | None = None
    if loaded.kind != _model.SAVED_MODEL:
        has_vars = any(node.op in VARIABLE_OPS for node in loaded.graph_def.node)
        if checkpoint is not None or (loaded.kind == _model.META_GRAPH_DEF and has_vars):
            prefix = checkpoint_prefix(checkpoint, loaded.path)
    return loaded, prefix, label

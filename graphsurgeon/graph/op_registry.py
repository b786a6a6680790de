"""TensorFlow's op registry, bundled: every op's OpDef, and what it says about a node.

``graphsurgeon/data/tf_ops.pb.gz`` is the OpList of every op TensorFlow registers (the raw ops
included), written by ``proto/dump_op_registry.py``; ``tf_ops.json`` beside it names the
TensorFlow version. It is read once, on first use (a few milliseconds), never at import.

From an op's OpDef and a node's attrs (the node's own, else the OpDef's defaults) follow the
node's outputs and inputs, as TensorFlow computes them (``InOutTypesForNode``): an arg is one
tensor of a fixed ``type`` or of the dtype in its ``type_attr``; ``number_attr`` copies of that;
or one tensor per dtype in its ``type_list_attr``; ``is_ref`` args are ref dtypes. A node whose op
is a function of the graph's library takes the function's signature instead (a library function
shadows a registered op of the same name, as in TensorFlow).
"""

from __future__ import annotations

import functools
import gzip
import json
import pathlib
from collections.abc import Iterable, Mapping

from google.protobuf.message import DecodeError

from graphsurgeon._proto import attr_value_pb2, function_pb2, node_def_pb2, op_def_pb2
from graphsurgeon.errors import FileFormatError

DATA_DIR = pathlib.Path(__file__).resolve().parent.parent / "data"
REGISTRY_PATH = DATA_DIR / "tf_ops.pb.gz"
_REF_OFFSET = 100  # DT_FLOAT_REF == DT_FLOAT + 100, for every dtype

#: Function name -> its signature (an OpDef), see ``function_signatures``.
Signatures = Mapping[str, op_def_pb2.OpDef]


class OpRegistry:
    """Op name -> OpDef, with the TensorFlow version the OpDefs came from."""

    def __init__(self, ops: Iterable[op_def_pb2.OpDef], tensorflow_version: str = "") -> None:
        self._ops = {op.name: op for op in ops}
        self.tensorflow_version = tensorflow_version

    def get(self, op: str) -> op_def_pb2.OpDef | None:
        """The OpDef of ``op``, or ``None`` when TensorFlow does not register it (a custom op)."""
        return self._ops.get(op)

    def __contains__(self, op: object) -> bool:
        return op in self._ops

    def __len__(self) -> int:
        return len(self._ops)

    def names(self) -> list[str]:
        """Every registered op name, sorted."""
        return sorted(self._ops)


def load_op_registry(path: str | pathlib.Path = REGISTRY_PATH) -> OpRegistry:
    """Reads a gzipped serialized OpList (and the ``.json`` beside it, for the TensorFlow version).

    Raises:
        FileFormatError: the file is missing or is not a gzipped OpList.
    """
    path = pathlib.Path(path)
    try:
        data = gzip.decompress(path.read_bytes())
        op_list = op_def_pb2.OpList.FromString(data)
    except (OSError, EOFError, DecodeError) as err:
        raise FileFormatError(f"op registry '{path}' cannot be read ({err}); reinstall graphsurgeon, or rewrite it "
                              "with 'python proto/dump_op_registry.py'") from err
    version = ""
    meta = path.with_name(path.name.removesuffix(".gz").removesuffix(".pb") + ".json")
    if meta.is_file():
        version = str(json.loads(meta.read_text()).get("tensorflow_version", ""))
    return OpRegistry(op_list.op, version)


@functools.cache
def op_registry() -> OpRegistry:
    """The bundled registry, read on first use."""
    return load_op_registry()


def function_signatures(library: function_pb2.FunctionDefLibrary | None) -> dict[str, op_def_pb2.OpDef]:
    """Function name -> signature for the functions of a graph's library."""
    if library is None:
        return {}
    return {f.signature.name: f.signature for f in library.function}


def lookup(op: str, functions: Signatures | None = None) -> op_def_pb2.OpDef | None:
    """The OpDef of ``op``: a library function's signature first, else the registered op; ``None`` if neither."""
    if functions:
        signature = functions.get(op)
        if signature is not None:
            return signature
    return op_registry().get(op)


def attr_def(op_def: op_def_pb2.OpDef, name: str) -> op_def_pb2.OpDef.AttrDef | None:
    for attr in op_def.attr:
        if attr.name == name:
            return attr
    return None


def attr_value(node: node_def_pb2.NodeDef, op_def: op_def_pb2.OpDef, name: str) -> attr_value_pb2.AttrValue | None:
    """The node's value of attr ``name``, else the OpDef's default, else ``None``."""
    if name in node.attr:
        return node.attr[name]
    attr = attr_def(op_def, name)
    if attr is not None and attr.HasField("default_value"):
        return attr.default_value
    return None


def _arg_types(node: node_def_pb2.NodeDef, op_def: op_def_pb2.OpDef, arg: op_def_pb2.OpDef.ArgDef) -> list[int] | None:
    """The dtypes of the tensors one arg of ``op_def`` stands for on ``node``; ``None`` when the attrs don't say."""
    if arg.type_list_attr:
        value = attr_value(node, op_def, arg.type_list_attr)
        if value is None or value.WhichOneof("value") not in ("list", None):
            return None
        types = list(value.list.type)
    else:
        if arg.type_attr:
            value = attr_value(node, op_def, arg.type_attr)
            if value is None or value.WhichOneof("value") != "type":
                return None
            dtype = value.type
        else:
            dtype = arg.type
        if arg.number_attr:
            value = attr_value(node, op_def, arg.number_attr)
            if value is None or value.WhichOneof("value") != "i" or value.i < 0:
                return None
            types = [dtype] * value.i
        else:
            types = [dtype]
    if arg.is_ref:
        types = [t if t > _REF_OFFSET else t + _REF_OFFSET for t in types]
    return types


def arg_count(node: node_def_pb2.NodeDef, op_def: op_def_pb2.OpDef, arg: op_def_pb2.OpDef.ArgDef) -> int | None:
    """How many tensors one arg of ``op_def`` stands for on ``node``; ``None`` when the attrs don't say.

    Only ``number_attr`` / ``type_list_attr`` args can stand for other than one tensor, so an arg whose
    dtype is a placeholder (``$T`` in a function body) still counts 1.
    """
    if arg.type_list_attr:
        value = attr_value(node, op_def, arg.type_list_attr)
        if value is None or value.WhichOneof("value") not in ("list", None):
            return None
        return len(value.list.type)
    if arg.number_attr:
        value = attr_value(node, op_def, arg.number_attr)
        if value is None or value.WhichOneof("value") != "i" or value.i < 0:
            return None
        return value.i
    return 1


def arg_types(node: node_def_pb2.NodeDef, op_def: op_def_pb2.OpDef,
              args: Iterable[op_def_pb2.OpDef.ArgDef]) -> list[int] | None:
    """The dtypes of the tensors ``args`` (``op_def.input_arg`` or ``output_arg``) stand for on ``node``."""
    out: list[int] = []
    for arg in args:
        types = _arg_types(node, op_def, arg)
        if types is None:
            return None
        out.extend(types)
    return out


def output_types(node: node_def_pb2.NodeDef, functions: Signatures | None = None) -> list[int] | None:
    """The dtype of each output of ``node``; ``None`` for an unknown op or attrs that don't say.

    ``functions`` (``function_signatures(graph_def.library)``) types calls of library functions.
    """
    op_def = lookup(node.op, functions)
    if op_def is None:
        return None
    return arg_types(node, op_def, op_def.output_arg)


def input_types(node: node_def_pb2.NodeDef, functions: Signatures | None = None) -> list[int] | None:
    """The dtype of each data input ``node`` takes; ``None`` for an unknown op or attrs that don't say."""
    op_def = lookup(node.op, functions)
    if op_def is None:
        return None
    return arg_types(node, op_def, op_def.input_arg)


def output_dtype(node: node_def_pb2.NodeDef, index: int, functions: Signatures | None = None) -> int | None:
    """The dtype of output ``index`` of ``node`` (a ref dtype for ref outputs), or ``None`` when unknown."""
    types = output_types(node, functions)
    if types is None or not 0 <= index < len(types):
        return None
    return types[index]


def output_count(node: node_def_pb2.NodeDef, functions: Signatures | None = None) -> int | None:
    """How many outputs ``node`` has, or ``None`` when its op is unknown or its attrs don't say."""
    types = output_types(node, functions)
    return None if types is None else len(types)


def input_count(node: node_def_pb2.NodeDef, functions: Signatures | None = None) -> int | None:
    """How many data inputs ``node`` must have, or ``None`` when its op is unknown or its attrs don't say."""
    types = input_types(node, functions)
    return None if types is None else len(types)


"""Fuzz targets over real fixture files, and a command line to run long campaigns against them.

Each target copies a real fixture (a checkpoint, a GraphDef in binary or text, a MetaGraphDef, a TF2
SavedModel, a frozen graph) into a work directory, replaces one of its files with mutated bytes (the
``*-records`` targets inside an index with valid checksums, the ``*-crc-fixed`` ones with the data
checksums recomputed, the ``*-structure`` ones with protobuf-level edits chosen by a seed), and runs
what a user would run on it: load, ``gs inspect``, freeze and write, or ``gs optimize``. Every
example starts from a fresh copy. The oracle: every run either succeeds
or raises ``GraphSurgeonError``; any other exception, a run longer than the time limit (a hang), a
written output after a failure, a temporary file left behind, or a changed input file is a finding.

tests/test_fuzz.py drives these targets with hypothesis (a bounded number of examples in CI); this
script runs long random campaigns:

    python tests/fuzz_campaign.py --examples 100000              # every target, round robin
    python tests/fuzz_campaign.py --target index --seconds 600    # one target for ten minutes
    python tests/fuzz_campaign.py --examples 2000 --memory        # also bound tracemalloc peaks

Findings are saved (mutated file + traceback) under ``--crashes`` (default ./fuzz-crashes) and
summarized at the end; the exit status is 1 when there are findings.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import io
import pathlib
import random
import shutil
import signal
import sys
import tempfile
import time
import traceback
import tracemalloc
from collections.abc import Callable, Iterator, Sequence

HERE = pathlib.Path(__file__).resolve().parent
for _path in (str(HERE.parent), str(HERE)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

import damage  # noqa: E402  (tests/damage.py)

from graphsurgeon._proto import graph_pb2, meta_graph_pb2, saved_model_pb2  # noqa: E402
from graphsurgeon.cli import main as gs_main  # noqa: E402
from graphsurgeon.errors import GraphSurgeonError  # noqa: E402
from graphsurgeon.formats import stream  # noqa: E402
from graphsurgeon.formats.checkpoint import load_checkpoint  # noqa: E402
from graphsurgeon.formats.model import load_graph  # noqa: E402
from graphsurgeon.rewrite.freeze import freeze  # noqa: E402
from graphsurgeon.rewrite.prune import prune  # noqa: E402
from graphsurgeon.rewrite.saved_model_v2 import freeze_signature  # noqa: E402
from graphsurgeon.summary import summarize  # noqa: E402

FIXTURES = HERE / "fixtures"
MLP = FIXTURES / "freeze" / "mlp"
DATA = ".data-00000-of-00001"
#: Seconds one example may run before it counts as a hang.
TIME_LIMIT = 10.0
#: tracemalloc peak allowed for one example (``--memory``): max(this, 4 x the work directory's size).
MEMORY_FLOOR = 64 << 20


class Hang(BaseException):
    """Raised by the alarm when one example runs past the time limit (BaseException: nothing swallows it)."""


class Finding(AssertionError):
    """The oracle failed for reasons other than an exception (output left, input changed, memory)."""


# --- mutations -----------------------------------------------------------------------------------

KINDS = ("flip", "byte", "run", "truncate", "delete", "insert", "duplicate", "int", "varint", "swap")
_INTERESTING = [0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, 2**40, 2**63 - 1, 2**64 - 1]


def mutate(data: bytes, kind: str, pos: int, payload: bytes) -> bytes:
    """One deterministic mutation of ``data``; ``pos`` is taken modulo the length, ``payload`` feeds values."""
    n = len(data)
    if n == 0:
        return payload
    at = pos % n
    seed = int.from_bytes(payload[:8].ljust(8, b"\0"), "little")
    if kind == "flip":
        return data[:at] + bytes([data[at] ^ (1 << (seed % 8))]) + data[at + 1:]
    if kind == "byte":
        return data[:at] + bytes([seed & 0xFF]) + data[at + 1:]
    if kind == "run":
        length = 1 + seed % 16
        fill = (b"\x00", b"\xff", payload[:1] or b"\x41")[seed % 3]
        return data[:at] + fill * length + data[at + length:]
    if kind == "truncate":
        return data[:at]
    if kind == "delete":
        return data[:at] + data[at + 1 + seed % 64:]
    if kind == "insert":
        return data[:at] + payload + data[at:]
    if kind == "duplicate":
        length = 1 + seed % 64
        return data[:at] + data[at:at + length] + data[at:]
    if kind == "int":
        value = _INTERESTING[seed % len(_INTERESTING)]
        width = (1, 2, 4, 8)[(seed >> 8) % 4]
        raw = (value & ((1 << (8 * width)) - 1)).to_bytes(width, "little")
        return data[:at] + raw + data[at + width:]
    if kind == "varint":  # replaces a varint-looking run with a large one: lengths, sizes, offsets, dims
        end = at
        while end < n and data[end] & 0x80 and end - at < 9:
            end += 1
        value = _INTERESTING[seed % len(_INTERESTING)]
        return data[:at] + damage.varint(value) + data[end + 1:]
    if kind == "swap":
        other = (at + 1 + seed) % n
        a, b = sorted((at, other))
        return data[:a] + data[b:b + 1] + data[a + 1:b] + data[a:a + 1] + data[b + 1:]
    raise ValueError(kind)


def mutate_text(data: bytes, kind: str, pos: int, payload: bytes) -> bytes:
    """Line- and token-level mutations for protobuf text files, falling back to byte mutations."""
    lines = data.split(b"\n")
    seed = int.from_bytes(payload[:8].ljust(8, b"\0"), "little")
    at = pos % max(len(lines), 1)
    if kind == "delete":
        return b"\n".join(lines[:at] + lines[at + 1 + seed % 3:])
    if kind == "duplicate":
        return b"\n".join(lines[:at + 1] + lines[at:])
    if kind == "swap":
        other = (at + 1 + seed) % len(lines)
        lines[at], lines[other] = lines[other], lines[at]
        return b"\n".join(lines)
    if kind == "int":  # a number becomes an extreme one
        import re

        numbers = list(re.finditer(rb"-?\d+", data))
        if numbers:
            match = numbers[pos % len(numbers)]
            value = str((-1 if seed & 1 else 1) * _INTERESTING[seed % len(_INTERESTING)]).encode()
            return data[:match.start()] + value + data[match.end():]
    return mutate(data, kind, pos, payload)


# --- targets -------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Target:
    """A fixture (copied into the work directory), the file in it that is mutated, and what to run."""

    name: str
    copy: Callable[[pathlib.Path], None]
    mutated: str  # relative to the work directory
    run: Callable[[pathlib.Path], None]
    text: bool = False
    #: what is mutated, from the pristine file (default: its bytes), and how it is written back
    represent: Callable[[pathlib.Path], bytes] | None = None
    encode: Callable[[pathlib.Path, bytes], None] | None = None

    def original(self, work: pathlib.Path) -> bytes:
        path = work / self.mutated
        return self.represent(path) if self.represent else path.read_bytes()

    def write(self, work: pathlib.Path, data: bytes) -> None:
        if self.encode:
            self.encode(work, data)
        else:
            (work / self.mutated).write_bytes(data)


def _copy_mlp(work: pathlib.Path) -> None:
    for name in ("graph.pb", "graph.pbtxt", "model.ckpt.index", "model.ckpt" + DATA, "model.ckpt.meta"):
        shutil.copy2(MLP / name, work / name)


def _copy_tree(src: pathlib.Path) -> Callable[[pathlib.Path], None]:
    def copy(work: pathlib.Path) -> None:
        shutil.copytree(src, work / src.name)
    return copy


def _copy_files(src_dir: pathlib.Path, pattern: str) -> Callable[[pathlib.Path], None]:
    def copy(work: pathlib.Path) -> None:
        for path in src_dir.glob(pattern):
            shutil.copy2(path, work / path.name)
    return copy


def _quiet_gs(*argv: object) -> int:
    """Runs ``gs`` in-process with stdout/stderr captured; a user error must be one ``gs: error:`` line."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = gs_main([str(a) for a in argv])
    if code == 1:
        lines = err.getvalue().strip().split("\n")
        if not (lines and lines[-1].startswith("gs: error: ")) or "Traceback" in err.getvalue() or \
                not lines[-1].isprintable():
            raise Finding(f"gs {argv[0]} exited 1 without a one-line error: {err.getvalue()[:500]!r}")
    elif code != 0:
        raise Finding(f"gs {argv[0]} exited {code}: {err.getvalue()[:500]!r}")
    return code


def _read_all(prefix: pathlib.Path, verify: bool = True) -> None:
    ckpt = load_checkpoint(prefix, verify=verify)
    for name in ckpt:
        ckpt.read(name)
        ckpt.info(name)


def _freeze_and_write(work: pathlib.Path, graph: pathlib.Path, prefix: pathlib.Path, outputs: str) -> None:
    out_dir = work / "out"
    out_dir.mkdir(exist_ok=True)
    target = out_dir / "frozen.pb"
    try:
        result = freeze(graph, prefix, outputs, defer_values=True)
        stream.save_frozen(result, target, inputs=[graph], fsync=False)
    except GraphSurgeonError:
        left = sorted(p.name for p in out_dir.iterdir())
        if left:
            raise Finding(f"a failed freeze left {left} in the output directory") from None
        raise
    finally:
        shutil.rmtree(out_dir)


def _run_checkpoint(prefix_name: str, graph: str | None = None, outputs: str = "probs",  # noqa: ANN202
                    verify: bool = True):
    def run(work: pathlib.Path) -> None:
        prefix = work / prefix_name
        with contextlib.suppress(GraphSurgeonError):
            _quiet_gs("inspect", prefix)
        if graph is None:
            _read_all(prefix, verify)
            return
        with contextlib.suppress(GraphSurgeonError):
            _read_all(prefix)
        _freeze_and_write(work, work / graph, prefix, outputs)
    return run


def _block_of(path: pathlib.Path) -> bytes:
    return damage.raw_data_block(path)


def _write_block(name: str) -> Callable[[pathlib.Path, bytes], None]:
    def encode(work: pathlib.Path, block: bytes) -> None:
        (work / name).write_bytes(damage.table_from_block(block))
    return encode


def _write_shard_fix_crc(name: str, prefix: str) -> Callable[[pathlib.Path, bytes], None]:
    def encode(work: pathlib.Path, data: bytes) -> None:
        (work / name).write_bytes(data)
        damage.fix_data_checksums(work / prefix)
    return encode


def _run_graph(name: str):  # noqa: ANN202
    def run(work: pathlib.Path) -> None:
        path = work / name
        loaded = load_graph(path)
        summarize(loaded)
        with contextlib.suppress(GraphSurgeonError):
            _quiet_gs("inspect", path)
        with contextlib.suppress(GraphSurgeonError):
            prune(loaded.graph_def, ["probs"])
        _draw_diff_convert(work, path, loaded.graph_def)
        _freeze_and_write(work, path, work / "model.ckpt", "probs")
    return run


def _draw_diff_convert(work: pathlib.Path, path: pathlib.Path, graph_def: graph_pb2.GraphDef) -> None:
    """gs draw (to DOT), gs diff against the pristine MLP and gs convert (text, event file and back)."""
    from graphsurgeon.diff import diff_graphs
    from graphsurgeon.draw import build_drawing, to_dot
    from graphsurgeon.formats.convert import convert

    with contextlib.suppress(GraphSurgeonError):
        to_dot(build_drawing(graph_def, outputs=["probs"], why="x"))
    with contextlib.suppress(GraphSurgeonError):
        to_dot(build_drawing(graph_def, depth=1))
    with contextlib.suppress(GraphSurgeonError):
        diff_graphs(load_graph(MLP / "graph.pb").graph_def, graph_def).format()
    out_dir = work / "converted"
    out_dir.mkdir(exist_ok=True)
    try:
        convert(path, out_dir / "graph.pbtxt")
        convert(path, out_dir / "events.out.tfevents.1.fuzz")
        convert(out_dir / "events.out.tfevents.1.fuzz", out_dir / "back.pb")
        if load_graph(out_dir / "back.pb").graph_def != graph_def:
            raise Finding("a graph converted to an event file and back changed")
    finally:
        shutil.rmtree(out_dir)


def mutate_graph_def(graph_def: graph_pb2.GraphDef, seed: bytes) -> None:
    """Structural edits, chosen by ``seed``, of a GraphDef in place: what a broken exporter or a hand edit does."""
    _mutate_nodes(graph_def.node, graph_def, random.Random(seed))


def mutate_saved_model(model: saved_model_pb2.SavedModel, seed: bytes) -> None:
    """Structural edits of a TF2 SavedModel: in the top graph, a function body, a signature or the object graph."""
    rng = random.Random(seed)
    meta = model.meta_graphs[0]
    for _ in range(1 + rng.randrange(2)):
        where = rng.randrange(4)
        functions = meta.graph_def.library.function
        if where == 0 or not functions:
            _mutate_nodes(meta.graph_def.node, meta.graph_def, rng)
        elif where == 1:
            fdef = functions[rng.randrange(len(functions))]
            _mutate_nodes(fdef.node_def, meta.graph_def, rng)
            if rng.randrange(3) == 0 and fdef.ret:
                fdef.ret[rng.choice(sorted(fdef.ret))] = rng.choice(["ghost:output:0", "x", ""])
        elif where == 2 and meta.signature_def:
            sig = meta.signature_def[rng.choice(sorted(meta.signature_def))]
            tensors = sig.inputs if rng.randrange(2) else sig.outputs
            if tensors:
                info = tensors[rng.choice(sorted(tensors))]
                choice = rng.randrange(3)
                if choice == 0:
                    info.name = rng.choice(["ghost:0", "", "x:9", info.name + "_"])
                elif choice == 1:
                    info.dtype = rng.choice((0, 2, 7, 20, 999))
                else:
                    info.tensor_shape.dim.add(size=rng.choice((-2, 2**40)))
        else:
            nodes = meta.object_graph_def.nodes
            if nodes:
                node = nodes[rng.randrange(len(nodes))]
                if node.children and rng.randrange(2):
                    node.children[rng.randrange(len(node.children))].node_id = rng.choice((0, len(nodes), 2**31 - 1))
                elif node.HasField("variable"):
                    node.variable.dtype = rng.choice((0, 2, 20, 999))
                    node.variable.shape.dim.add(size=rng.choice((-1, 7)))
                else:
                    del nodes[rng.randrange(len(nodes))]


def _mutate_nodes(nodes, graph_def: graph_pb2.GraphDef, rng: random.Random) -> None:  # noqa: ANN001
    names = [n.name for n in nodes]
    for _ in range(1 + rng.randrange(3)):
        if not nodes:
            return
        node = nodes[rng.randrange(len(nodes))]
        choice = rng.randrange(15)
        if choice == 0 and node.input:  # drop an input
            del node.input[rng.randrange(len(node.input))]
        elif choice == 1:  # add an input: existing, dangling, indexed, control
            other = rng.choice(names + ["ghost"])
            node.input.append(rng.choice([other, f"{other}:{rng.choice((0, 1, 7, 2**31))}", f"^{other}"]))
        elif choice == 2:  # a duplicate or empty name
            node.name = rng.choice(names + [""])
        elif choice == 3:  # another op
            node.op = rng.choice([n.op for n in nodes] + ["NoSuchOp", "Const", "VariableV2", "Placeholder"])
        elif choice == 4 and node.attr:  # drop an attr
            del node.attr[rng.choice(sorted(node.attr))]
        elif choice == 5:  # a dtype attr becomes another (or an invalid) dtype
            key = rng.choice(sorted(node.attr) or ["dtype"])
            node.attr[key].type = rng.choice((0, 1, 2, 7, 20, 101, 999))
        elif choice == 6:  # a shape attr with odd dims
            key = rng.choice(["shape", "_output_shapes", "value"] + sorted(node.attr))
            attr = node.attr[key]
            dims = attr.shape.dim if attr.HasField("shape") else attr.tensor.tensor_shape.dim
            dims.add(size=rng.choice((-2, -1, 0, 3, 2**40)))
        elif choice == 7 and "value" in node.attr:  # a constant's bytes no longer fit its shape
            tensor = node.attr["value"].tensor
            tensor.tensor_content = tensor.tensor_content[: rng.randrange(len(tensor.tensor_content) + 1)] + \
                rng.randbytes(rng.randrange(5))
        elif choice == 8:  # remove a node
            nodes.remove(node)
            names = [n.name for n in nodes]
        elif choice == 9:  # colocation with anything
            node.attr["_class"].list.s.append(b"loc:@" + rng.choice(names + ["ghost"]).encode())
        elif choice == 10:  # reorder
            other = nodes[rng.randrange(len(nodes))]
            copy = type(node)()
            copy.CopyFrom(node)
            node.CopyFrom(other)
            other.CopyFrom(copy)
        elif choice == 12:  # an int / bool attr takes an odd value (masks, axes, transpose flags, N)
            keys = [k for k, v in node.attr.items() if v.WhichOneof("value") in ("i", "b")]
            if keys:
                attr = node.attr[rng.choice(sorted(keys))]
                if attr.WhichOneof("value") == "b":
                    attr.b = not attr.b
                else:
                    attr.i = rng.choice((-1, 0, 1, 2, 31, 63, 2**31, -(2**40)))
        elif choice == 13:  # a list attr (strides, ksize, perm, dims) gets another length or values
            keys = [k for k, v in node.attr.items() if v.WhichOneof("value") == "list" and v.list.i]
            if keys:
                values = node.attr[rng.choice(sorted(keys))].list.i
                values.append(rng.choice((-1, 0, 1, 2**40))) if rng.randrange(2) else values.pop()
        elif choice == 14:  # a constant gets another small value: dtype, shape and contents at random
            import numpy as np

            from graphsurgeon.formats.tensors import array_to_tensor, from_numpy_dtype

            dtype = np.dtype(rng.choice(("float32", "int32", "int64", "bool", "float64")))
            shape = tuple(rng.randrange(4) for _ in range(rng.randrange(4)))
            value = np.asarray(np.random.default_rng(rng.randrange(2**32)).integers(-3, 4, shape)).astype(dtype)
            node.op = "Const"
            del node.input[:]
            node.attr["dtype"].type = from_numpy_dtype(dtype)
            node.attr["value"].tensor.CopyFrom(array_to_tensor(value))
        else:  # a function library entry that calls nothing that exists
            fn = graph_def.library.function.add()
            fn.signature.name = rng.choice(names + ["f"])
            node.op = fn.signature.name if rng.randrange(2) else node.op


#: frozen graphs that ``gs optimize`` targets start from: name -> (graph, checkpoint, outputs, bind)
_FROZEN_SOURCES = {
    "batchnorm": (FIXTURES / "freeze" / "batchnorm_inplace" / "graph.pb",
                  FIXTURES / "freeze" / "batchnorm_inplace" / "model.ckpt", "out", {"is_training": False}),
    "mobilenet": (FIXTURES / "surgery" / "mobilenet" / "model.ckpt.meta", FIXTURES / "surgery" / "mobilenet" /
                  "model.ckpt", "output", {"is_training": False, "keep_prob": 1.0}),
}
_FROZEN: dict[str, bytes] = {}


def _frozen(name: str) -> bytes:
    """A fixture frozen with its training flags bound: the input of ``gs optimize``."""
    if name not in _FROZEN:
        graph, checkpoint, outputs, bind = _FROZEN_SOURCES[name]
        _FROZEN[name] = freeze(graph, checkpoint, outputs, bind=bind).graph_def.SerializeToString(deterministic=True)
    return _FROZEN[name]


def _frozen_batchnorm() -> bytes:
    return _frozen("batchnorm")


def _optimize_target(name: str, structure: bool) -> Target:
    def copy(work: pathlib.Path) -> None:
        (work / "frozen.pb").write_bytes(_frozen(name))

    def encode(work: pathlib.Path, seed: bytes) -> None:
        graph_def = graph_pb2.GraphDef.FromString(_frozen(name))
        mutate_graph_def(graph_def, seed)
        (work / "frozen.pb").write_bytes(graph_def.SerializeToString())

    def run(work: pathlib.Path) -> None:
        out_dir = work / "out"
        out_dir.mkdir(exist_ok=True)
        try:
            code = _quiet_gs("optimize", work / "frozen.pb", "--outputs", _FROZEN_SOURCES[name][2],
                             "-o", out_dir / "o.pb")
            left = sorted(p.name for p in out_dir.iterdir())
            if left != (["o.pb"] if code == 0 else []):
                raise Finding(f"gs optimize exited {code} and left {left}")
            if code:
                raise GraphSurgeonError("gs optimize refused the graph")  # counted as an error, not a finding
        finally:
            shutil.rmtree(out_dir)

    if structure:
        return Target(f"optimize-{name}-structure", copy, "frozen.pb", run, represent=lambda path: b"\0" * 16,
                      encode=encode)
    return Target(f"optimize-{name}-bytes", copy, "frozen.pb", run)


def _write_mutated_saved_model(work: pathlib.Path, seed: bytes) -> None:
    model = saved_model_pb2.SavedModel.FromString((FIXTURES / "tf2" / "module" / "saved_model.pb").read_bytes())
    mutate_saved_model(model, seed)
    (work / "module" / "saved_model.pb").write_bytes(model.SerializeToString())


_ENTRY_FIELDS = ("dtype", "shard_id", "offset", "size", "crc32c", "dim", "rank", "slices", "header")


def _write_mutated_entries(work: pathlib.Path, seed: bytes) -> None:
    """Field-level edits of the pristine MLP index's entries, re-encoded with valid block checksums."""
    rng = random.Random(seed)
    index = work / "model.ckpt.index"
    index.write_bytes((MLP / "model.ckpt.index").read_bytes())
    names = [k.decode() for k, _ in damage.read_table(str(index))[1:]]
    edits: dict[str, list[tuple[str, int]]] = {}
    for _ in range(1 + rng.randrange(3)):
        edits.setdefault(rng.choice(names), []).append(
            (rng.choice(_ENTRY_FIELDS), rng.choice(_INTERESTING[:9] + [3, 4, 96, -1 & 0xFFFFFFFF])))

    def entry(name: str, proto) -> bool:  # noqa: ANN001
        for field, value in edits.get(name, []):
            if field == "dim":
                if proto.shape.dim:
                    dim = proto.shape.dim[rng.randrange(len(proto.shape.dim))]
                    dim.size = rng.choice((-5, -1, 0, 1, 7, 2**31, 2**40))
                continue
            if field == "rank":
                proto.shape.dim.add(size=value & 0xFFFF)
            elif field == "slices":
                piece = proto.slices.add()
                piece.extent.add(start=value & 0xFF, length=value & 0xFFF)
            elif field == "header":
                continue
            elif field == "dtype":
                proto.dtype = value & 0x7F
            elif field == "shard_id":
                proto.shard_id = value & 0x7FFFFFFF
            else:
                setattr(proto, field, value & 0xFFFFFFFF if field == "crc32c" else value & ((1 << 63) - 1))
        return name in edits

    def header(proto) -> None:  # noqa: ANN001
        if any(f == "header" for e in edits.values() for f, _ in e):
            proto.num_shards = rng.choice((0, 2, 99999))
            proto.endianness = rng.choice((0, 1))
    damage.edit_index(index, header=header, entry=entry)


def _write_mutated_graph(source: pathlib.Path, dest: pathlib.Path, seed: bytes) -> None:
    loaded = load_graph(source)
    if loaded.meta_graph_def is not None:
        meta = meta_graph_pb2.MetaGraphDef()
        meta.CopyFrom(loaded.meta_graph_def)
        mutate_graph_def(meta.graph_def, seed)
        dest.write_bytes(meta.SerializeToString())
    else:
        graph_def = graph_pb2.GraphDef()
        graph_def.CopyFrom(loaded.graph_def)
        mutate_graph_def(graph_def, seed)
        dest.write_bytes(graph_def.SerializeToString())


def _run_saved_model(work: pathlib.Path) -> None:
    saved = work / "module"
    with contextlib.suppress(GraphSurgeonError):
        _quiet_gs("inspect", saved)
    freeze_signature(saved)


TARGETS = {t.name: t for t in [
    Target("index", _copy_mlp, "model.ckpt.index", _run_checkpoint("model.ckpt", "graph.pb")),
    # the records are mutated inside a table with valid checksums, so the damage reaches the parsers
    Target("index-records", _copy_mlp, "model.ckpt.index", _run_checkpoint("model.ckpt", "graph.pb"),
           represent=_block_of, encode=_write_block("model.ckpt.index")),
    Target("sliced-index-records", _copy_files(FIXTURES / "checkpoints" / "tf2_sliced", "sliced.*"), "sliced.index",
           _run_checkpoint("sliced"), represent=_block_of, encode=_write_block("sliced.index")),
    # the data is damaged and the checksums made to match, so the damaged values are decoded
    Target("dtypes-shard-crc-fixed", _copy_files(FIXTURES / "checkpoints" / "dtypes", "model.ckpt.*"),
           "model.ckpt" + DATA, _run_checkpoint("model.ckpt", verify=False),  # string crcs are not raw crcs
           encode=_write_shard_fix_crc("model.ckpt" + DATA, "model.ckpt")),
    # structural edits of a real GraphDef (inputs, names, ops, attrs, values): the bytes are a seed
    Target("graph-structure", _copy_mlp, "graph.pb", _run_graph("graph.pb"), represent=lambda path: b"\0" * 16,
           encode=lambda work, seed: _write_mutated_graph(MLP / "graph.pb", work / "graph.pb", seed)),
    Target("tf2-structure", _copy_tree(FIXTURES / "tf2" / "module"), "module/saved_model.pb", _run_saved_model,
           represent=lambda path: b"\0" * 16, encode=_write_mutated_saved_model),
    Target("index-entries-structure", _copy_mlp, "model.ckpt.index", _run_checkpoint("model.ckpt", "graph.pb"),
           represent=lambda path: b"\0" * 16, encode=_write_mutated_entries),
    _optimize_target("batchnorm", structure=True),
    _optimize_target("batchnorm", structure=False),
    _optimize_target("mobilenet", structure=True),
    Target("meta-structure", _copy_mlp, "model.ckpt.meta", _run_graph("model.ckpt.meta"),
           represent=lambda path: b"\0" * 16,
           encode=lambda work, seed: _write_mutated_graph(MLP / "model.ckpt.meta", work / "model.ckpt.meta", seed)),
    Target("shard-crc-fixed", _copy_mlp, "model.ckpt" + DATA, _run_checkpoint("model.ckpt", "graph.pb"),
           encode=_write_shard_fix_crc("model.ckpt" + DATA, "model.ckpt")),
    Target("shard", _copy_mlp, "model.ckpt" + DATA, _run_checkpoint("model.ckpt", "graph.pb")),
    Target("sliced-index", _copy_files(FIXTURES / "checkpoints" / "tf2_sliced", "sliced.*"), "sliced.index",
           _run_checkpoint("sliced")),
    Target("dtypes-shard", _copy_files(FIXTURES / "checkpoints" / "dtypes", "model.ckpt.*"), "model.ckpt" + DATA,
           _run_checkpoint("model.ckpt")),
    Target("v1", _copy_files(FIXTURES / "checkpoints" / "v1", "v1.ckpt"), "v1.ckpt", _run_checkpoint("v1.ckpt")),
    Target("graph-binary", _copy_mlp, "graph.pb", _run_graph("graph.pb")),
    Target("graph-text", _copy_mlp, "graph.pbtxt", _run_graph("graph.pbtxt"), text=True),
    Target("meta", _copy_mlp, "model.ckpt.meta", _run_graph("model.ckpt.meta")),
    Target("tf2-saved-model", _copy_tree(FIXTURES / "tf2" / "module"), "module/saved_model.pb", _run_saved_model),
    Target("tf2-variables-index", _copy_tree(FIXTURES / "tf2" / "module"), "module/variables/variables.index",
           _run_saved_model),
]}


# --- one example ---------------------------------------------------------------------------------

@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raises ``Hang`` in the main thread when the block runs longer than ``seconds`` (POSIX only)."""
    if not hasattr(signal, "setitimer"):
        yield
        return

    def alarm(signum: int, frame: object) -> None:
        raise Hang(f"one example ran longer than {seconds} s")
    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _hashes(work: pathlib.Path) -> dict[str, str]:
    return {str(p.relative_to(work)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(work.rglob("*")) if p.is_file()}


def run_example(target: Target, work: pathlib.Path, data: bytes, *, limit: float = TIME_LIMIT,
                memory: bool = False) -> str | None:
    """Writes ``data`` as the target's mutated file in ``work`` (a fresh copy) and runs the target.

    Returns ``None`` on success or the ``GraphSurgeonError`` message; raises anything else (the
    finding). Also raises ``Finding`` when an input file changed or a file appeared in ``work``, or
    (``memory``) when the tracemalloc peak passes max(64 MiB, 4 x the inputs' size).
    """
    target.write(work, data)
    before = _hashes(work)
    bound = max(MEMORY_FLOOR, 4 * sum(p.stat().st_size for p in work.rglob("*") if p.is_file()))
    if memory:
        tracemalloc.start()
    try:
        with time_limit(limit):
            target.run(work)
        outcome = None
    except GraphSurgeonError as err:
        outcome = str(err)
        if not outcome.strip():
            raise Finding(f"{type(err).__name__} with an empty message") from err
    finally:
        if memory:
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
    if memory and peak > bound:
        raise Finding(f"tracemalloc peak {peak} bytes > bound {bound}")
    after = _hashes(work)
    if after != before:
        changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
        raise Finding(f"files changed or appeared in the work directory: {changed}")
    return outcome


class Workdir:
    """A work directory holding a fresh copy of a target's fixture, restored before every example."""

    def __init__(self, target: Target, root: pathlib.Path) -> None:
        self.target = target
        self.path = root / target.name.replace("/", "_")
        if self.path.exists():
            shutil.rmtree(self.path)
        self.path.mkdir(parents=True)
        target.copy(self.path)
        self.pristine = {p: p.read_bytes() for p in self.path.rglob("*") if p.is_file()}

    def reset(self) -> pathlib.Path:
        for path in list(self.path.rglob("*")):
            if path.is_file() and path not in self.pristine:
                path.unlink()
        for path, data in self.pristine.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists() or path.read_bytes() != data:
                path.write_bytes(data)
        return self.path


# --- campaign ------------------------------------------------------------------------------------

def _random_mutations(rng: random.Random, data: bytes, text: bool) -> bytes:
    apply = mutate_text if text else mutate
    for _ in range(rng.choice((1, 1, 1, 2, 3, 5))):
        kind = rng.choice(KINDS)
        payload = rng.randbytes(rng.choice((1, 4, 8, 16)))
        data = apply(data, kind, rng.randrange(1 << 32), payload)
    return data


def campaign(targets: Sequence[Target], examples: int, seconds: float | None, seed: int, crashes: pathlib.Path,
             memory: bool, limit: float) -> int:
    rng = random.Random(seed)
    root = pathlib.Path(tempfile.mkdtemp(prefix="gs-fuzz-"))
    works = {t.name: Workdir(t, root) for t in targets}
    originals = {t.name: t.original(works[t.name].path) for t in targets}
    stats = {t.name: {"ok": 0, "error": 0, "finding": 0, "seconds": 0.0} for t in targets}
    findings: dict[str, int] = {}
    start = time.monotonic()
    done = 0
    try:
        while (examples <= 0 or done < examples) and (seconds is None or time.monotonic() - start < seconds):
            target = targets[done % len(targets)]
            done += 1
            work = works[target.name].reset()
            data = _random_mutations(rng, originals[target.name], target.text)
            t0 = time.monotonic()
            try:
                outcome = run_example(target, work, data, limit=limit, memory=memory)
                stats[target.name]["ok" if outcome is None else "error"] += 1
            except (Exception, Hang) as err:  # noqa: BLE001 - every other exception is a finding
                stats[target.name]["finding"] += 1
                tb = traceback.format_exception(err)
                key = f"{target.name}: {type(err).__name__}: {tb[-2].strip().splitlines()[0] if len(tb) > 1 else ''}"
                findings[key] = findings.get(key, 0) + 1
                if findings[key] <= 3:
                    crashes.mkdir(parents=True, exist_ok=True)
                    stem = crashes / f"{target.name}-{hashlib.sha256(data).hexdigest()[:12]}"
                    stem.with_suffix(".bin").write_bytes(data)
                    stem.with_suffix(".txt").write_text("".join(tb))
                    print(f"finding in {target.name}: {type(err).__name__}: {str(err)[:200]} -> {stem}.txt",
                          flush=True)
            stats[target.name]["seconds"] += time.monotonic() - t0
            if done % 1000 == 0:
                print(f"{done} examples, {len(findings)} distinct findings, {time.monotonic() - start:.0f} s",
                      flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"\n{done} examples in {time.monotonic() - start:.0f} s (seed {seed})")
    for name, s in stats.items():
        print(f"  {name:22} ok {s['ok']:7}  GraphSurgeonError {s['error']:7}  findings {s['finding']:5}  "
              f"{s['seconds']:.0f} s")
    for key, count in sorted(findings.items(), key=lambda kv: -kv[1]):
        print(f"  FINDING x{count}: {key}")
    return 1 if findings else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=10000, help="examples in all (0: no limit)")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this long")
    parser.add_argument("--target", action="append", choices=sorted(TARGETS), help="only these targets")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: from the clock)")
    parser.add_argument("--crashes", type=pathlib.Path, default=pathlib.Path("fuzz-crashes"),
                        help="where findings are saved")
    parser.add_argument("--memory", action="store_true", help="bound each example's tracemalloc peak (slower)")
    parser.add_argument("--time-limit", type=float, default=TIME_LIMIT, help="seconds before an example is a hang")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else int(time.time())
    targets = [TARGETS[n] for n in (args.target or sorted(TARGETS))]
    import logging

    logging.disable(logging.CRITICAL)
    return campaign(targets, args.examples, args.seconds, seed, args.crashes, args.memory, args.time_limit)


if __name__ == "__main__":
    sys.exit(main())

"""Bad input never costs a user their data: one table of wrong, damaged and hostile inputs, run through ``gs``.

Every row builds its inputs by copying real fixtures into a temporary directory and damaging the
copy (tests/damage.py), then runs the CLI in-process. For every row the harness asserts:

* exit code 1 (130 for Ctrl-C), and exactly one line on stderr, ``gs: error: ...``, containing the
  row's fragments (which name the file, node or tensor), and no traceback;
* the error class raised inside the command is the row's class (from ``graphsurgeon.errors``);
* no output file and no stray temporary file is left: the output directory is as empty as before,
  and no new file appeared beside the inputs;
* every input file is unchanged (sha256 before and after);
* bounded memory: the tracemalloc peak stays below ``max(64 MiB, 4 x the inputs' size)``, although
  some rows declare tensors of a terabyte.

The "unwritable output" rows must fail even as root (CI runs as root, and root ignores permission
bits): the parent of the output is a regular file (ENOTDIR), a directory that does not exist, or
``/proc`` (the kernel refuses to create files there for every user). A full disk, a failing rename
and Ctrl-C are simulated by patching the file object the atomic writer writes through.
"""

from __future__ import annotations

import dataclasses
import errno
import importlib
import io
import json
import os
import pathlib
import sys
import tracemalloc
from collections.abc import Callable

import pytest

from graphsurgeon import errors
from graphsurgeon._proto import graph_pb2, saved_model_pb2
from graphsurgeon.cli import main
from graphsurgeon.formats import events, protofile
from graphsurgeon.formats.model import load_graph
from graphsurgeon.formats.sstable import read_table

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import damage  # noqa: E402

FIX = damage.FIXTURES
MLP = FIX / "freeze" / "mlp"
SHARDED = FIX / "freeze" / "sharded"
SM_V1 = FIX / "freeze" / "saved_model_v1" / "saved_model"
TF2 = FIX / "tf2" / "module"
DATA = ".data-00000-of-00001"
MEMORY_FLOOR = 64 << 20


class Workspace:
    """``root/in`` holds the (damaged) inputs, ``root/out`` is where outputs go."""

    def __init__(self, root: pathlib.Path) -> None:
        self.root = root
        self.inp = root / "in"
        self.out = root / "out"
        self.inp.mkdir()
        self.out.mkdir()
        self.output = self.out / "frozen.pb"

    def mlp(self) -> tuple[pathlib.Path, pathlib.Path]:
        """Copies the MLP fixture: (graph.pb, checkpoint prefix)."""
        graph = damage.copy_fixture(MLP / "graph.pb", self.inp)
        return graph, damage.copy_checkpoint(MLP / "model.ckpt", self.inp)

    def freeze(self, graph: pathlib.Path, prefix: pathlib.Path | str, *extra: object,
               outputs: str = "probs") -> list[object]:
        return ["freeze", "--input_graph", graph, "--input_checkpoint", prefix, "--output_node_names", outputs,
                "--output_graph", self.output, *extra]

    def mlp_freeze(self, *extra: object, outputs: str = "probs") -> list[object]:
        graph, prefix = self.mlp()
        return self.freeze(graph, prefix, *extra, outputs=outputs)

    def mlp_damaged(self, damage_fn: Callable[[pathlib.Path, pathlib.Path], None], *extra: object) -> list[object]:
        """The MLP freeze after ``damage_fn(graph, prefix)`` changed the copies."""
        graph, prefix = self.mlp()
        damage_fn(graph, prefix)
        return self.freeze(graph, prefix, *extra)

    def tf2(self, *extra: object) -> tuple[pathlib.Path, list[object]]:
        saved = damage.copy_fixture(TF2, self.inp)
        return saved, ["freeze", "--input_saved_model_dir", saved, "--output_graph", self.output, *extra]

    def tf2_and(self, change: Callable[[pathlib.Path], None]) -> list[object]:
        """The TF2 freeze after ``change(saved_model_dir)`` damaged the copy."""
        saved, argv = self.tf2()
        change(saved)
        return argv


@dataclasses.dataclass(frozen=True)
class Case:
    id: str
    argv: Callable[[Workspace], list[object]]
    error: type[BaseException]
    fragments: tuple[str, ...]  # formatted with inp=, out=, root= (the workspace's paths)
    patch: Callable[[pytest.MonkeyPatch, Workspace], None] | None = None
    exit_code: int = 1


# --- damage helpers ------------------------------------------------------------------------------

def _index(prefix: pathlib.Path) -> pathlib.Path:
    return pathlib.Path(f"{prefix}.index")


def _shard(prefix: pathlib.Path) -> pathlib.Path:
    return pathlib.Path(f"{prefix}{DATA}")


def _entry_offset(prefix: pathlib.Path, name: str) -> int:
    from graphsurgeon._proto import tensor_bundle_pb2

    for key, value in read_table(str(_index(prefix))):
        if key == name.encode():
            return tensor_bundle_pb2.BundleEntryProto.FromString(value).offset
    raise AssertionError(f"{name} not in {prefix}")


def _flip_tensor(name: str) -> Callable[[pathlib.Path, pathlib.Path], None]:
    def fn(graph: pathlib.Path, prefix: pathlib.Path) -> None:
        damage.flip_byte(_shard(prefix), _entry_offset(prefix, name) + 5)
    return fn


def _edit_entry(name: str, **fields: int) -> Callable[[pathlib.Path, pathlib.Path], None]:
    def fn(graph: pathlib.Path, prefix: pathlib.Path) -> None:
        def edit(key: str, entry) -> bool:  # noqa: ANN001
            if key != name:
                return False
            for field, value in fields.items():
                if field == "dim0":
                    entry.shape.dim[0].size = value
                else:
                    setattr(entry, field, value)
            return True
        assert damage.edit_index(_index(prefix), entry=edit) == [name]
    return fn


def _edit_header(**fields: int) -> Callable[[pathlib.Path, pathlib.Path], None]:
    def fn(graph: pathlib.Path, prefix: pathlib.Path) -> None:
        def edit(header) -> None:  # noqa: ANN001
            for field, value in fields.items():
                if field == "min_consumer":
                    header.version.min_consumer = value
                else:
                    setattr(header, field, value)
        damage.edit_index(_index(prefix), header=edit)
    return fn


def _rewrite_records(change: Callable[[list[tuple[bytes, bytes]]], list[tuple[bytes, bytes]]]):  # noqa: ANN202
    def fn(graph: pathlib.Path, prefix: pathlib.Path) -> None:
        records = read_table(str(_index(prefix)))
        _index(prefix).write_bytes(damage.encode_table(change(records)))
    return fn


def _edit_graph(change: Callable[[graph_pb2.GraphDef], None]) -> Callable[[pathlib.Path, pathlib.Path], None]:
    def fn(graph: pathlib.Path, prefix: pathlib.Path) -> None:
        graph_def = graph_pb2.GraphDef.FromString(graph.read_bytes())
        change(graph_def)
        graph.write_bytes(graph_def.SerializeToString())
    return fn


def _node(graph_def: graph_pb2.GraphDef, name: str):  # noqa: ANN202
    return next(n for n in graph_def.node if n.name == name)


def _duplicate(graph_def: graph_pb2.GraphDef) -> None:
    graph_def.node.add().CopyFrom(_node(graph_def, "hidden/weights"))


def _dangle(graph_def: graph_pb2.GraphDef) -> None:
    _node(graph_def, "probs").input[0] = "logitz"


def _truncate_graph(graph: pathlib.Path, prefix: pathlib.Path) -> None:
    data = graph.read_bytes()
    graph.write_bytes(data[: len(data) // 2])


def _typo_text(ws: Workspace) -> list[object]:
    _, prefix = ws.mlp()
    text = damage.copy_fixture(MLP / "graph.pbtxt", ws.inp)
    lines = text.read_text().splitlines(keepends=True)
    line = next(i for i, s in enumerate(lines) if s.startswith("  op: "))
    lines[line] = lines[line].replace("  op: ", "  opp: ")
    text.write_text("".join(lines))
    return ws.freeze(text, prefix)


def _sharded_without_last(ws: Workspace) -> list[object]:
    graph = damage.copy_fixture(SHARDED / "graph.pb", ws.inp)
    prefix = damage.copy_checkpoint(SHARDED / "model.ckpt", ws.inp)
    pathlib.Path(f"{prefix}.data-00001-of-00002").unlink()
    outputs = json.loads((SHARDED / "spec.json").read_text())["outputs"][0]
    return ws.freeze(graph, prefix, outputs=outputs)


def _drop_case_branches(saved: pathlib.Path) -> None:
    model = saved_model_pb2.SavedModel.FromString((saved / "saved_model.pb").read_bytes())
    cases = [n for f in model.meta_graphs[0].graph_def.library.function for n in f.node_def if n.op == "Case"]
    assert cases, "the TF2 module fixture has a tf.switch_case"
    del cases[0].attr["branches"].list.func[:]
    (saved / "saved_model.pb").write_bytes(model.SerializeToString())


def _damaged_v1(ws: Workspace) -> pathlib.Path:
    path = damage.copy_fixture(FIX / "checkpoints" / "v1" / "v1.ckpt", ws.inp)
    damage.flip_byte(path, 100)  # inside the data block: V1 has no per-tensor checksums, the block's catches it
    return path


def _state_file_to_nowhere(ws: Workspace, content: bytes = b'model_checkpoint_path: "model.ckpt-99"\n',
                           ) -> list[object]:
    graph, _ = ws.mlp()
    (ws.inp / "checkpoint").write_bytes(content)
    return ws.freeze(graph, ws.inp)


def _saved_model_v1(ws: Workspace) -> list[object]:
    saved = damage.copy_fixture(SM_V1, ws.inp)
    return ["freeze", "--input_saved_model_dir", saved, "--output_node_names", "y", "--output_graph", ws.output]


def _saved_model_v1_flipped(ws: Workspace) -> list[object]:
    argv = _saved_model_v1(ws)
    damage.flip_byte(ws.inp / "saved_model" / "variables" / f"variables{DATA}", 3)
    return argv


# --- simulated write failures --------------------------------------------------------------------

class _FailingFile:
    """Wraps the atomic writer's file: the write that would pass ``budget`` bytes writes part, then raises."""

    def __init__(self, handle: io.BufferedWriter, budget: int, exc: BaseException) -> None:
        self._handle, self._budget, self._exc, self._written = handle, budget, exc, 0

    def write(self, data: bytes) -> int:
        size = len(memoryview(data).cast("B"))
        if self._written + size > self._budget:
            keep = self._budget - self._written
            self._handle.write(memoryview(data).cast("B")[:keep])
            self._handle.flush()  # the partial bytes really reach the temporary file
            raise self._exc
        self._written += size
        return self._handle.write(data)

    def __getattr__(self, name: str):  # noqa: ANN204
        return getattr(self._handle, name)

    def __enter__(self) -> _FailingFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self._handle.close()


def _fail_writes_after(budget: int, exc: BaseException, nth_file: int = 0,
                       ) -> Callable[[pytest.MonkeyPatch, Workspace], None]:
    """Makes the ``nth_file`` file the atomic writer opens fail after ``budget`` bytes."""
    def patch(monkeypatch: pytest.MonkeyPatch, ws: Workspace) -> None:
        real = os.fdopen
        opened = []

        def fdopen(fd: int, *args: object, **kwargs: object) -> object:
            opened.append(fd)
            handle = real(fd, *args, **kwargs)
            return _FailingFile(handle, budget, exc) if len(opened) == nth_file + 1 else handle
        monkeypatch.setattr(os, "fdopen", fdopen)
    return patch


def _fail_rename(monkeypatch: pytest.MonkeyPatch, ws: Workspace, nth_call: int = 0) -> None:
    """Makes the ``nth_call`` rename of a finished temporary file into place fail (EXDEV)."""
    real = os.replace
    calls = []

    def replace(src: object, dst: object) -> None:
        calls.append(dst)
        if len(calls) == nth_call + 1:
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        real(src, dst)
    monkeypatch.setattr(os, "replace", replace)


def _to(argv: list[object], output: object) -> list[object]:
    """``argv`` with its ``--output_graph`` replaced by ``output``."""
    argv = list(argv)
    argv[argv.index("--output_graph") + 1] = output
    return argv


def _graph_and_checkpoint(freeze_argv: list[object]) -> list[object]:
    return [freeze_argv[freeze_argv.index("--input_graph") + 1], "--checkpoint",
            freeze_argv[freeze_argv.index("--input_checkpoint") + 1]]


def _small_limit(monkeypatch: pytest.MonkeyPatch, ws: Workspace) -> None:
    protofile.set_size_limit(1000)  # the harness restores the limit, whatever happens


ENOSPC = OSError(errno.ENOSPC, "No space left on device")

# --- the table -----------------------------------------------------------------------------------

CASES = [
    # files that are not what they should be
    Case("graph-nonexistent", lambda ws: ws.freeze(ws.inp / "nope.pb", ws.mlp()[1]),
         errors.FileFormatError, ("graph file '{inp}/nope.pb' does not exist",)),
    Case("graph-empty", lambda ws: ws.mlp_damaged(lambda g, p: g.write_bytes(b"")),
         errors.FileFormatError, ("graph file '{inp}/graph.pb' is empty",)),
    Case("graph-not-protobuf", lambda ws: ws.mlp_damaged(lambda g, p: g.write_bytes(bytes(range(255, -1, -1)) * 4)),
         errors.FileFormatError, ("'{inp}/graph.pb' is not a GraphDef, MetaGraphDef or SavedModel protobuf",)),
    Case("graph-truncated", lambda ws: ws.mlp_damaged(_truncate_graph),
         errors.FileFormatError, ("'{inp}/graph.pb' is not a GraphDef",)),
    Case("graph-text-not-a-graph",
         lambda ws: ws.mlp_damaged(lambda g, p: g.write_text("Notes on the model.\nOutputs are probs.\n")),
         errors.FileFormatError, ("'{inp}/graph.pb' is a text file, not a TensorFlow graph",)),
    Case("graph-text-other-message",
         lambda ws: ws.mlp_damaged(lambda g, p: g.write_text('model_checkpoint_path: "model.ckpt"\n')),
         errors.FileFormatError, ("'{inp}/graph.pb' is a protobuf text file but not a GraphDef",
                                  "model_checkpoint_path")),
    Case("graph-text-typo", _typo_text, errors.FileFormatError, ("'{inp}/graph.pbtxt'", "opp")),
    Case("checkpoint-index-as-graph", lambda ws: ws.freeze(_index(ws.mlp()[1]), ws.inp / "model.ckpt"),
         errors.FileFormatError, ("'{inp}/model.ckpt.index' is not a GraphDef",)),
    Case("checkpoint-prefix-as-graph", lambda ws: ws.freeze(ws.mlp()[1], ws.inp / "model.ckpt"),
         errors.FileFormatError, ("'{inp}/model.ckpt' is a checkpoint prefix, not a graph",)),
    Case("meta-as-checkpoint",
         lambda ws: ws.freeze(ws.mlp()[0], damage.copy_fixture(MLP / "model.ckpt.meta", ws.inp / "elsewhere")),
         errors.CheckpointError, ("no checkpoint at '{inp}/elsewhere/model.ckpt.meta'",)),
    Case("graph-as-checkpoint", lambda ws: ws.freeze(ws.mlp()[0], ws.inp / "graph.pb"),
         errors.CheckpointError, ("no checkpoint at '{inp}/graph.pb'",)),
    # damaged checkpoint index
    Case("index-missing", lambda ws: ws.mlp_damaged(lambda g, p: _index(p).unlink()),
         errors.CheckpointError, ("no checkpoint at '{inp}/model.ckpt'",)),
    Case("index-empty", lambda ws: ws.mlp_damaged(lambda g, p: _index(p).write_bytes(b"")),
         errors.CheckpointError, ("'{inp}/model.ckpt.index' is 0 bytes, shorter than an SSTable footer",)),
    Case("index-truncated", lambda ws: ws.mlp_damaged(lambda g, p: damage.truncate(_index(p), -20)),
         errors.CheckpointError, ("'{inp}/model.ckpt.index' does not end with the SSTable magic number",)),
    Case("index-wrong-magic", lambda ws: ws.mlp_damaged(lambda g, p: damage.flip_byte(_index(p), -3)),
         errors.CheckpointError, ("'{inp}/model.ckpt.index' does not end with the SSTable magic number",)),
    Case("index-corrupt-block", lambda ws: ws.mlp_damaged(lambda g, p: damage.flip_byte(_index(p), 40)),
         errors.ChecksumError, ("data block 0 of '{inp}/model.ckpt.index'", "fails its crc32c")),
    Case("index-garbage-entry", lambda ws: ws.mlp_damaged(_rewrite_records(
        lambda rs: [(k, b"\xff\xff\xff" if k == b"head/weights" else v) for k, v in rs])),
         errors.CheckpointError,
         ("tensor 'head/weights' in '{inp}/model.ckpt.index' is not a valid BundleEntryProto",)),
    Case("index-no-header", lambda ws: ws.mlp_damaged(_rewrite_records(lambda rs: rs[1:])),
         errors.CheckpointError, ("'{inp}/model.ckpt.index' has no bundle header entry",)),
    Case("header-endianness", lambda ws: ws.mlp_damaged(_edit_header(endianness=7)),
         errors.CheckpointError, ("'{inp}/model.ckpt.index' has unknown endianness 7",)),
    Case("header-version", lambda ws: ws.mlp_damaged(_edit_header(min_consumer=5)),
         errors.CheckpointError, ("'{inp}/model.ckpt.index' needs a newer checkpoint reader",)),
    Case("header-billion-shards", lambda ws: ws.mlp_damaged(_edit_header(num_shards=10**9)),
         errors.CheckpointError, ("data shard '{inp}/model.ckpt.data-999999999-of-1000000000'",
                                  "declares 1000000000 shards")),
    Case("entry-past-its-shard", lambda ws: ws.mlp_damaged(_edit_entry("head/weights", offset=10**6)),
         errors.CheckpointError, ("tensor 'head/weights'", "points at bytes [1000000,", "'{inp}/model.ckpt" + DATA)),
    Case("entry-size-1-tib", lambda ws: ws.mlp_damaged(_edit_entry("head/weights", size=1 << 40)),
         errors.CheckpointError, ("tensor 'head/weights'", "which holds only")),
    Case("entry-shape-1-tib", lambda ws: ws.mlp_damaged(_edit_entry("head/weights", dim0=1 << 40)),
         errors.CheckpointError, ("tensor 'head/weights' in '{inp}/model.ckpt.index' is float[1099511627776, 3]",)),
    Case("entry-shape-1-tib-size-1-tib",
         lambda ws: ws.mlp_damaged(_edit_entry("head/weights", dim0=1 << 38, size=12 << 38)),
         errors.CheckpointError, ("tensor 'head/weights'", "which holds only")),
    Case("v1-checkpoint-flipped-byte", lambda ws: ["inspect", _damaged_v1(ws)],
         errors.ChecksumError, ("of '{inp}/v1.ckpt'", "fails its crc32c")),
    Case("state-file-names-a-missing-checkpoint", _state_file_to_nowhere,
         errors.CheckpointError, ("checkpoint state file '{inp}/checkpoint' names 'model.ckpt-99'",)),
    Case("state-file-garbage", lambda ws: _state_file_to_nowhere(ws, b"\x00\xff garbage {{{"),
         errors.CheckpointError, ("checkpoint state file '{inp}/checkpoint' is not valid",)),
    # damaged data shards
    Case("shard-missing", lambda ws: ws.mlp_damaged(lambda g, p: _shard(p).unlink()),
         errors.CheckpointError, ("data shard '{inp}/model.ckpt" + DATA + "'", "is missing")),
    Case("shard-missing-second-of-two", _sharded_without_last,
         errors.CheckpointError, ("data shard '{inp}/model.ckpt.data-00001-of-00002'", "is missing")),
    Case("shard-truncated", lambda ws: ws.mlp_damaged(lambda g, p: damage.truncate(_shard(p), 100)),
         errors.CheckpointError, ("'{inp}/model.ckpt" + DATA + "', which holds only 100 bytes",)),
    Case("shard-empty", lambda ws: ws.mlp_damaged(lambda g, p: _shard(p).write_bytes(b"")),
         errors.CheckpointError, ("'{inp}/model.ckpt" + DATA + "', which holds only 0 bytes",)),
    Case("shard-flipped-byte", lambda ws: ws.mlp_damaged(_flip_tensor("head/weights")),
         errors.ChecksumError, ("tensor 'head/weights' in '{inp}/model.ckpt" + DATA + "'", "fails its checksum")),
    Case("shard-flipped-byte-text-output", lambda ws: ws.mlp_damaged(_flip_tensor("hidden/biases"), "--output-text"),
         errors.ChecksumError, ("tensor 'hidden/biases' in '{inp}/model.ckpt" + DATA + "'", "fails its checksum")),
    Case("shard-flipped-byte-optimize", lambda ws: ws.mlp_damaged(_flip_tensor("head/biases"), "--optimize"),
         errors.ChecksumError, ("tensor 'head/biases'", "fails its checksum")),
    Case("saved-model-v1-flipped-byte", _saved_model_v1_flipped,
         errors.ChecksumError, ("tensor 'v' in '{inp}/saved_model/variables/variables" + DATA + "'",)),
    # graph and checkpoint that do not match
    Case("mismatch-missing-variable",
         lambda ws: ws.freeze(ws.mlp()[0], damage.copy_checkpoint(FIX / "freeze/bad/missing/model.ckpt",
                                                                   ws.inp / "other")),
         errors.MismatchError, ("variable 'head/biases'", "is not in checkpoint '{inp}/other/model.ckpt'")),
    Case("mismatch-shape",
         lambda ws: ws.freeze(ws.mlp()[0], damage.copy_checkpoint(FIX / "freeze/bad/shape/model.ckpt",
                                                                   ws.inp / "other")),
         errors.MismatchError, ("variable 'head/biases'", "the graph says shape [3]", "has shape [5]")),
    Case("mismatch-dtype", lambda ws: ws.mlp_damaged(_edit_entry("head/biases", dtype=2, size=24)),
         errors.MismatchError, ("variable 'head/biases'", "has dtype float", "'{inp}/model.ckpt' is double")),
    # broken graphs and wrong names
    Case("unknown-output", lambda ws: ws.mlp_freeze(outputs="prob"),
         errors.NodeNotFoundError, ("output 'prob' not found in the graph; did you mean 'probs'?",)),
    # regression: names were printed raw (a terminal escape in a damaged file reached the terminal)
    Case("unknown-output-with-control-characters", lambda ws: ws.mlp_freeze(outputs="pro\x1b[2Jbs\rx"),
         errors.NodeNotFoundError, ("output 'pro\\x1b[2Jbs\\rx' not found",)),
    Case("unknown-output-index", lambda ws: ws.mlp_freeze(outputs="probs:7"),  # regression: was accepted
         errors.NodeNotFoundError, ("output 'probs:7' not found", "'probs' (Softmax) has 1 output(s)")),
    Case("duplicate-node-names", lambda ws: ws.mlp_damaged(_edit_graph(_duplicate)),
         errors.InvalidGraphError, ("duplicate node names: 'hidden/weights'",)),
    # regression: was "not a GraphDef ... (binary protobuf parsing failed; is it a checkpoint ...?)"
    Case("node-without-a-name", lambda ws: ws.mlp_damaged(_edit_graph(lambda g: setattr(g.node[5], "name", ""))),
         errors.InvalidGraphError, ("'{inp}/graph.pb' is a GraphDef with a broken node: node #5", "empty name")),
    Case("dangling-input", lambda ws: ws.mlp_damaged(_edit_graph(_dangle)),
         errors.InvalidGraphError, ("node 'probs' has input 'logitz'", "did you mean 'logits'")),
    # outputs that must not or cannot be written
    Case("output-is-the-graph", lambda ws: ws.mlp_freeze()[:-1] + [ws.inp / "graph.pb"],
         errors.OutputError, ("output '{inp}/graph.pb' is the same file as input",)),
    Case("output-is-the-index", lambda ws: ws.mlp_freeze()[:-1] + [ws.inp / "model.ckpt.index"],
         errors.OutputError, ("output '{inp}/model.ckpt.index' is the same file as input",)),
    Case("output-is-a-data-shard", lambda ws: ws.mlp_freeze()[:-1] + [ws.inp / ("model.ckpt" + DATA)],
         errors.OutputError, ("output '{inp}/model.ckpt" + DATA + "' is the same file as input",)),
    # regression: these paths were not protected (a checkpoint prefix input now protects its files,
    # a SavedModel directory input every file in it)
    Case("output-is-the-index-text", lambda ws: _to(ws.mlp_freeze("--output-text"), ws.inp / "model.ckpt.index"),
         errors.OutputError, ("output '{inp}/model.ckpt.index' is the same file as input '{inp}/model.ckpt.index'",)),
    Case("output-is-the-index-optimize",
         lambda ws: _to(ws.mlp_freeze("--optimize"), ws.inp / "model.ckpt.index"),
         errors.OutputError, ("output '{inp}/model.ckpt.index' is the same file as input",)),
    Case("constify-output-is-a-data-shard",
         lambda ws: ["constify", *_graph_and_checkpoint(ws.mlp_freeze()), "-o", ws.inp / ("model.ckpt" + DATA)],
         errors.OutputError, ("output '{inp}/model.ckpt" + DATA + "' is the same file as input",)),
    Case("tf2-output-is-the-variables-index",
         lambda ws: ws.tf2()[1][:-1] + [ws.inp / "module" / "variables" / "variables.index"],
         errors.OutputError, ("output '{inp}/module/variables/variables.index' would overwrite a file of input "
                              "'{inp}/module'",)),
    Case("tf1-saved-model-output-is-its-data-shard",
         lambda ws: _saved_model_v1(ws)[:-1] + [ws.inp / "saved_model" / "variables" / f"variables{DATA}"],
         errors.OutputError, ("output '{inp}/saved_model/variables/variables" + DATA + "'",)),
    Case("output-is-a-directory", lambda ws: ws.mlp_freeze()[:-1] + [ws.out],
         errors.OutputError, ("output '{out}' is a directory",)),
    Case("output-parent-is-a-file", lambda ws: ws.mlp_freeze()[:-1] + [ws.inp / "graph.pb" / "frozen.pb"],
         errors.OutputError, ("cannot write '{inp}/graph.pb/frozen.pb': '{inp}/graph.pb' is a file",)),
    Case("output-directory-missing", lambda ws: ws.mlp_freeze()[:-1] + [ws.root / "nowhere" / "frozen.pb"],
         errors.OutputError, ("directory '{root}/nowhere' does not exist",)),
    Case("output-in-proc", lambda ws: ws.mlp_freeze()[:-1] + ["/proc/gs-frozen.pb"],
         errors.OutputError, ("cannot write '/proc/gs-frozen.pb'",)),
    Case("output-over-size-limit", lambda ws: ws.mlp_freeze(), errors.OutputError,
         ("'{out}/frozen.pb' would be", "cannot exceed 1000 bytes", "largest nodes: 'hidden/weights'"),
         patch=_small_limit),
    Case("output-over-size-limit-text", lambda ws: ws.mlp_freeze("--output-text"), errors.OutputError,
         ("'{out}/frozen.pb' would be", "cannot exceed 1000 bytes"), patch=_small_limit),
    Case("disk-full-mid-write", lambda ws: ws.mlp_freeze(), errors.OutputError,
         ("cannot write '{out}/frozen.pb': No space left on device",), patch=_fail_writes_after(700, ENOSPC)),
    Case("disk-full-mid-write-text", lambda ws: ws.mlp_freeze("--output-text"), errors.OutputError,
         ("cannot write '{out}/frozen.pb': No space left on device",), patch=_fail_writes_after(700, ENOSPC)),
    Case("rename-fails", lambda ws: ws.mlp_freeze(), errors.OutputError,
         ("cannot write '{out}/frozen.pb': Invalid cross-device link",), patch=_fail_rename),
    Case("interrupted-mid-write", lambda ws: ws.mlp_freeze(), KeyboardInterrupt, (),
         patch=_fail_writes_after(700, KeyboardInterrupt()), exit_code=130),
    # TF2 SavedModels
    Case("tf2-flipped-variable",
         lambda ws: ws.tf2_and(lambda sm: damage.flip_byte(sm / "variables" / f"variables{DATA}", 20)),
         errors.ChecksumError, ("in '{inp}/module/variables/variables" + DATA + "'", "fails its checksum")),
    Case("tf2-unknown-signature", lambda ws: ws.tf2("--signature", "serve")[1],
         errors.NodeNotFoundError, ("signature 'serve' not found in SavedModel '{inp}/module'", "serving_default")),
    Case("tf2-unknown-output", lambda ws: ws.tf2("--output_node_names", "why")[1],
         errors.NodeNotFoundError, ("output 'why' not found in signature 'serving_default'",)),
    Case("tf2-variables-missing",
         lambda ws: ws.tf2_and(lambda sm: (sm / "variables" / "variables.index").unlink()),
         errors.CheckpointError, ("SavedModel '{inp}/module' has no variables/variables.index",)),
    Case("tf2-saved-model-truncated",
         lambda ws: ws.tf2_and(lambda sm: damage.truncate(sm / "saved_model.pb", 5000)),
         errors.FileFormatError, ("'{inp}/module/saved_model.pb' is not a GraphDef",)),
    # regression (found by tests/fuzz_campaign.py): IndexError in freeze_signature
    Case("tf2-case-without-branches", lambda ws: ws.tf2_and(_drop_case_branches),
         errors.InvalidGraphError, ("node 'switch_case/indexed_case' (Case)", "has no branches")),
    Case("tf2-signature-json-unwritable", lambda ws: ws.tf2("--signature-json", ws.root / "nowhere" / "s.json")[1],
         errors.OutputError, ("cannot write '{root}/nowhere/s.json'",)),
    Case("tf2-disk-full-writing-signature-json", lambda ws: ws.tf2()[1], errors.OutputError,
         ("cannot write '{out}/frozen.pb.signature.json': No space left on device",),
         patch=_fail_writes_after(10, ENOSPC, nth_file=0)),
    Case("tf2-disk-full-writing-graph", lambda ws: ws.tf2()[1], errors.OutputError,
         ("cannot write '{out}/frozen.pb': No space left on device",),
         patch=_fail_writes_after(1000, ENOSPC, nth_file=1)),
    # regression: the graph was left behind when its signature.json could not be written
    Case("tf2-signature-json-rename-fails", lambda ws: ws.tf2()[1], errors.OutputError,
         ("cannot write '{out}/frozen.pb.signature.json': Invalid cross-device link",),
         patch=lambda mp, ws: _fail_rename(mp, ws, nth_call=1)),
    # other commands
    Case("inspect-flipped-tensor",
         lambda ws: ["inspect", ws.mlp_damaged(_flip_tensor("head/weights"))[4], "--tensor", "head/weights"],
         errors.ChecksumError, ("tensor 'head/weights'", "fails its checksum")),
    Case("inspect-unknown-tensor", lambda ws: ["inspect", ws.mlp()[1], "--tensor", "head/weight"],
         errors.NodeNotFoundError, ("head/weight", "head/weights")),
    Case("constify-flipped-tensor",
         lambda ws: ["constify", *_graph_and_checkpoint(ws.mlp_damaged(_flip_tensor("head/weights"))), "-o",
                     ws.output],
         errors.ChecksumError, ("tensor 'head/weights'", "fails its checksum")),
    Case("prune-dangling-input",
         lambda ws: ["prune", ws.mlp_damaged(_edit_graph(_dangle))[2], "--outputs", "probs", "-o", ws.output],
         errors.InvalidGraphError, ("'probs'", "'logitz'")),
    Case("prune-output-is-input", lambda ws: ["prune", ws.mlp()[0], "--outputs", "probs", "-o", ws.inp / "graph.pb"],
         errors.OutputError, ("is the same file as input",)),
    # gs draw, gs diff, gs convert
    Case("draw-truncated-graph", lambda ws: ["draw", ws.mlp_damaged(_truncate_graph)[2], "-o", ws.out / "g.html"],
         errors.FileFormatError, ("'{inp}/graph.pb' is not a GraphDef",)),
    Case("draw-too-large", lambda ws: ["draw", _flat_graph(ws.inp / "flat.pb", 2000), "-o", ws.out / "g.html"],
         errors.UnsupportedError, ("too large to draw: 2000 nodes", "--around NODE")),
    Case("draw-unknown-node", lambda ws: ["draw", ws.mlp()[0], "--around", "prob", "-o", ws.out / "g.svg"],
         errors.NodeNotFoundError, ("'prob'", "probs")),
    Case("draw-disk-full", lambda ws: ["draw", ws.mlp()[0], "-o", ws.out / "g.html"], errors.OutputError,
         ("cannot write '{out}/g.html': No space left on device",), patch=_fail_writes_after(700, ENOSPC)),
    Case("diff-truncated-graph", lambda ws: ["diff", ws.mlp()[0], ws.mlp_damaged(_truncate_graph)[2]],
         errors.FileFormatError, ("'{inp}/graph.pb' is not a GraphDef",)),
    Case("diff-draw-over-input", lambda ws: ["diff", ws.mlp()[0], ws.mlp()[0], "--draw", ws.inp / "graph.pb",
                                             "--format", "dot"],
         errors.OutputError, ("is the same file as input",)),
    Case("convert-event-file-flipped", lambda ws: ["convert", _event_file(ws, flip=40), ws.out / "g.pb"],
         errors.ChecksumError, ("record 1 of '{inp}/events.out.tfevents.1.gs'", "fails its data checksum")),
    Case("convert-event-file-truncated", lambda ws: ["convert", _event_file(ws, cut=-10), ws.out / "g.pb"],
         errors.FileFormatError, ("record 1 of '{inp}/events.out.tfevents.1.gs' says",)),
    Case("convert-disk-full", lambda ws: ["convert", ws.mlp()[0], ws.out / "events.out.tfevents.1.x"],
         errors.OutputError, ("cannot write '{out}/events.out.tfevents.1.x': No space left on device",),
         patch=_fail_writes_after(700, ENOSPC)),
]


def _flat_graph(path: pathlib.Path, nodes: int) -> pathlib.Path:
    """A graph of ``nodes`` chained nodes in no namespace: too many boxes to draw."""
    graph = graph_pb2.GraphDef()
    for i in range(nodes):
        graph.node.add(name=f"n{i}", op="Relu", input=[f"n{i - 1}"] if i else [])
    path.write_bytes(graph.SerializeToString())
    return path


def _event_file(ws: Workspace, flip: int | None = None, cut: int | None = None) -> pathlib.Path:
    """The MLP graph as a TensorBoard event file, then damaged (the graph record starts near byte 60)."""
    path = ws.inp / "events.out.tfevents.1.gs"
    events.write_graph_events(load_graph(ws.mlp()[0]).graph_def, path, wall_time=1.0)
    if flip is not None:
        damage.flip_byte(path, 80 + flip)
    if cut is not None:
        damage.truncate(path, cut)
    return path


def _run_recording(monkeypatch: pytest.MonkeyPatch, command: str, argv: list[str]) -> tuple[int, list]:
    """Runs ``gs argv`` with the subcommand's ``run`` wrapped to record the exception it raised."""
    module = importlib.import_module(f"graphsurgeon.cli.{command}")
    raised: list[BaseException] = []
    real = module.run

    def recording(args):  # noqa: ANN001, ANN202
        try:
            return real(args)
        except BaseException as err:
            raised.append(err)
            raise
    monkeypatch.setattr(module, "run", recording)
    return main(argv), raised


def _input_bytes(root: pathlib.Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch,
                   capsys: pytest.CaptureFixture[str]) -> None:
    if case.id == "output-in-proc" and not os.path.isdir("/proc/self"):
        pytest.skip("needs Linux /proc")
    ws = Workspace(tmp_path)
    argv = [str(a) for a in case.argv(ws)]
    before = damage.tree_hashes(ws.inp)
    out_before = sorted(p.name for p in ws.out.iterdir())
    bound = max(MEMORY_FLOOR, 4 * _input_bytes(ws.inp))
    if case.patch:
        case.patch(monkeypatch, ws)
    capsys.readouterr()
    tracemalloc.start()
    try:
        code, raised = _run_recording(monkeypatch, argv[0], argv)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        monkeypatch.undo()
        protofile.set_size_limit(None)
    captured = capsys.readouterr()

    assert code == case.exit_code, f"exit {code}; stderr: {captured.err}"
    assert "Traceback" not in captured.err + captured.out
    lines = captured.err.strip().split("\n")
    prefix = "gs: interrupted" if case.exit_code == 130 else "gs: error: "
    assert len(lines) == 1 and lines[0].startswith(prefix) and lines[0].isprintable(), captured.err
    names = {"inp": ws.inp, "out": ws.out, "root": ws.root}
    for fragment in case.fragments:
        assert fragment.format(**names) in lines[0], lines[0]
    assert raised and type(raised[-1]) is case.error, f"raised {raised!r}, expected {case.error.__name__}"
    assert sorted(p.name for p in ws.out.iterdir()) == out_before, "output or temporary file left behind"
    assert damage.tree_hashes(ws.inp) == before, "an input file was changed, or a file appeared beside the inputs"
    assert not (ws.root / "nowhere").exists()
    assert peak < bound, f"tracemalloc peak {peak} bytes >= bound {bound}"


def test_every_error_class_is_exercised() -> None:
    """The table reaches every user-facing error a bad file or path can cause (not ValidationError /
    MissingDependencyError, which need TensorFlow; UnsupportedError has its own tests)."""
    covered = {c.error for c in CASES}
    for cls in (errors.FileFormatError, errors.CheckpointError, errors.ChecksumError, errors.NodeNotFoundError,
                errors.InvalidGraphError, errors.MismatchError, errors.OutputError):
        assert cls in covered, cls


def test_the_fixtures_themselves_freeze(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The undamaged copies succeed, so every failure above is caused by its damage."""
    ws = Workspace(tmp_path)
    assert main([str(a) for a in ws.mlp_freeze()]) == 0, capsys.readouterr().err
    assert ws.output.stat().st_size > 700  # the simulated write failures really cut the file
    ws.output.unlink()
    assert main([str(a) for a in ws.tf2()[1]]) == 0, capsys.readouterr().err
    sidecar = pathlib.Path(f"{ws.output}.signature.json")
    assert ws.output.exists() and sidecar.exists()
    assert ws.output.stat().st_size < 10**6  # so the signature-json row fails while writing the sidecar


@pytest.mark.parametrize("case_id", ["shard-flipped-byte", "shard-flipped-byte-text-output", "disk-full-mid-write",
                                     "rename-fails", "interrupted-mid-write", "tf2-signature-json-rename-fails"])
def test_a_failed_write_keeps_the_previous_output(case_id: str, tmp_path: pathlib.Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """Atomic output: when a run fails, a file already at the output path is left exactly as it was."""
    case = next(c for c in CASES if c.id == case_id)
    ws = Workspace(tmp_path)
    argv = [str(a) for a in case.argv(ws)]
    previous = b"the frozen graph from yesterday"
    ws.output.write_bytes(previous)
    sidecar = pathlib.Path(f"{ws.output}.signature.json")
    sidecar.write_bytes(b"{}")
    if case.patch:
        case.patch(monkeypatch, ws)
    assert main(argv) == case.exit_code
    monkeypatch.undo()
    capsys.readouterr()
    assert sidecar.read_bytes() == b"{}"
    if case_id == "tf2-signature-json-rename-fails":
        # The one window that is not atomic: the graph had been renamed into place when its sidecar's
        # rename failed, so the new graph is removed (no mismatched pair) and the old one is gone.
        assert sorted(p.name for p in ws.out.iterdir()) == [sidecar.name]
        return
    assert sorted(p.name for p in ws.out.iterdir()) == sorted([ws.output.name, sidecar.name])
    assert ws.output.read_bytes() == previous

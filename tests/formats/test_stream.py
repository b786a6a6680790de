"""Streaming GraphDef writer: byte-identical output, size guard, checksums, bounded memory."""

from __future__ import annotations

import io
import json
import os
import pathlib
import shutil
import tracemalloc

import numpy as np
import pytest

from graphsurgeon._proto import graph_pb2, node_def_pb2, types_pb2
from graphsurgeon.cli import main as gs_main
from graphsurgeon.errors import ChecksumError, OutputError
from graphsurgeon.formats import protofile, stream
from graphsurgeon.formats.checkpoint import load_checkpoint
from graphsurgeon.formats.tensors import array_to_tensor, shape_to_proto
from graphsurgeon.rewrite.freeze import freeze

FIXTURES = pathlib.Path(__file__).resolve().parent.parent / "fixtures"
FREEZE = FIXTURES / "freeze"
CHECKPOINTS = {
    "dtypes": FIXTURES / "checkpoints/dtypes/model.ckpt",
    "saver": FIXTURES / "checkpoints/saver/model.ckpt-7",  # partitioned, string, scalar
    "sharded": FIXTURES / "checkpoints/sharded/sharded.ckpt",  # two data shards
    "tf2": FIXTURES / "checkpoints/tf2/ckpt-2",
    "tf2_sliced": FIXTURES / "checkpoints/tf2_sliced/sliced",  # three shards, slices
}
DT = types_pb2.DataType


def freeze_specs() -> list[pathlib.Path]:
    return sorted(p.parent for p in FREEZE.glob("*/spec.json"))


def run_freeze(directory: pathlib.Path, defer: bool, checkpoint: object = None):
    spec = json.loads((directory / "spec.json").read_text())
    if checkpoint is None and spec["checkpoint"]:
        checkpoint = directory / spec["checkpoint"]
    return freeze(directory / spec["graph"], checkpoint, spec["outputs"],
                  initializer_nodes=spec.get("initializer_nodes", ()), defer_values=defer)


@pytest.mark.parametrize("directory", freeze_specs(), ids=lambda p: p.name)
def test_streamed_freeze_is_byte_identical(directory: pathlib.Path, tmp_path: pathlib.Path) -> None:
    whole = run_freeze(directory, defer=False)
    streamed = run_freeze(directory, defer=True)
    out = tmp_path / "frozen.pb"
    written = stream.save_frozen(streamed, out)
    want = whole.graph_def.SerializeToString(deterministic=True)
    assert out.read_bytes() == want
    assert written == len(want)
    assert set(streamed.deferred) <= set(streamed.converted)
    assert not whole.deferred
    # every deferred constant was left hollow in memory: the content only exists in the file
    hollow = {n.name: n for n in streamed.graph_def.node}
    for name in streamed.deferred:
        assert hollow[name].attr["value"].tensor.tensor_content == b""


def test_fixtures_exercise_both_paths() -> None:
    counts = {d.name: len(run_freeze(d, defer=True).deferred) for d in (FREEZE / "mlp", FREEZE / "partitioned")}
    assert counts["mlp"] == 4  # two weight matrices, two bias vectors
    assert counts["partitioned"] == 0  # partitions are read in memory


def _graph_for(ckpt, hollow: bool) -> tuple[graph_pb2.GraphDef, dict[str, str]]:
    """One Const per checkpoint tensor, with extra attrs sorting before and after 'value'."""
    graph = graph_pb2.GraphDef()
    graph.versions.producer = 1882
    graph.library.function.add().signature.name = "f"
    deferred = {}
    for i, info in enumerate(ckpt.infos()):
        if info.dtype == DT.DT_VARIANT:
            continue
        node = graph.node.add(name=f"c{i}/{info.name}", op="Const", device="/device:CPU:0")
        node.input.append("^c0" if i else "^none")
        node.attr["dtype"].type = info.dtype
        node.attr["_class"].list.s.append(b"loc:@x")
        node.attr["zz_after"].s = b"after"
        node.attr["_output_shapes"].list.shape.add().CopyFrom(shape_to_proto(info.shape))
        node.attr["value_"].i = 3  # sorts right after "value"
        node.experimental_debug_info.original_node_names.append("orig")
        if hollow and stream.streamable(ckpt, info.name, info.dtype):
            tensor = node.attr["value"].tensor
            tensor.dtype = info.dtype
            tensor.tensor_shape.CopyFrom(shape_to_proto(info.shape))
            deferred[node.name] = info.name
        else:
            node.attr["value"].tensor.CopyFrom(array_to_tensor(ckpt[info.name], info.dtype))
    return graph, deferred


def test_writeback_while_streaming_keeps_the_bytes(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With fsync, disk writes start while streaming (tiny chunks and lag: many calls); same bytes."""
    ckpt = load_checkpoint(CHECKPOINTS["dtypes"])
    whole, _ = _graph_for(ckpt, hollow=False)
    hollow, deferred = _graph_for(ckpt, hollow=True)
    calls: list[tuple[int, int, int]] = []
    real = stream._sync_file_range()

    def spy(fd: int, offset: int, nbytes: int, flags: int) -> int:
        calls.append((offset, nbytes, flags))
        return real(fd, offset, nbytes, flags) if real is not None else 0

    monkeypatch.setattr(stream, "_sync_file_range", lambda: spy)
    monkeypatch.setattr(stream, "WRITEBACK_LAG", 64)
    out = tmp_path / "g.pb"
    stream.write_graph(hollow, out, ckpt, deferred, chunk_size=16)
    assert out.read_bytes() == whole.SerializeToString(deterministic=True)
    started = [(o, n) for o, n, f in calls if f == 2]
    waited = [(o, n) for o, n, f in calls if f == 7]
    assert started and waited
    # started ranges are contiguous from 0 and stay within the file; waits trail them
    assert started[0][0] == 0 and all(a + n == b for (a, n), (b, _) in zip(started, started[1:]))
    assert started[-1][0] + started[-1][1] <= out.stat().st_size
    assert waited[0][0] == 0 and all(a + n == b for (a, n), (b, _) in zip(waited, waited[1:]))
    calls.clear()
    stream.write_graph(hollow, tmp_path / "h.pb", ckpt, deferred, chunk_size=16, fsync=False)
    assert not calls  # without fsync the page cache keeps the data, as TensorFlow leaves it


@pytest.mark.skipif(stream._sync_file_range() is None, reason="no sync_file_range on this platform")
def test_sync_file_range_is_accepted_here(tmp_path: pathlib.Path) -> None:
    with open(tmp_path / "f", "wb") as f:
        f.write(os.urandom(1 << 16))
        f.flush()
        writeback = stream._Writeback(f.fileno(), lag=4096)
        writeback.written(1 << 16)
        assert writeback._call is not None and writeback._started == 1 << 16 and writeback._waited == (1 << 16) - 4096


@pytest.mark.parametrize("name", sorted(CHECKPOINTS))
def test_every_checkpoint_tensor_round_trips(name: str, tmp_path: pathlib.Path) -> None:
    ckpt = load_checkpoint(CHECKPOINTS[name])
    whole, _ = _graph_for(ckpt, hollow=False)
    hollow, deferred = _graph_for(ckpt, hollow=True)
    out = tmp_path / "g.pb"
    stream.write_graph(hollow, out, ckpt, deferred, chunk_size=7)  # tiny chunks: many steps per tensor
    assert out.read_bytes() == whole.SerializeToString(deterministic=True)
    assert deferred or name == "tf2_sliced"
    plan = stream.plan_graph(hollow, ckpt, deferred)
    assert plan.size == whole.ByteSize()
    assert plan.streamed_bytes == sum(ckpt.info(k).nbytes for k in deferred.values())


def test_streamable_follows_array_to_tensor() -> None:
    ckpt = load_checkpoint(CHECKPOINTS["saver"])
    for info in ckpt.infos():
        content = array_to_tensor(ckpt[info.name], info.dtype).tensor_content
        assert stream.streamable(ckpt, info.name, info.dtype) == (bool(content) and not info.num_slices), info.name
    assert not stream.streamable(ckpt, "dense/kernel", DT.DT_DOUBLE)  # stored dtype differs
    assert not stream.streamable({"a": np.zeros(3)}, "a", DT.DT_DOUBLE)  # not a Checkpoint
    dtypes = load_checkpoint(CHECKPOINTS["dtypes"])
    kinds = {i.name: stream.streamable(dtypes, i.name, i.dtype) for i in dtypes.infos()}
    assert kinds["bool"] is False and kinds["complex64"] is False and kinds["a.b/c.d"] is False  # 1 element
    assert kinds["empty/float32_0"] is False and kinds["bfloat16"] is True and kinds["float16"] is True


@pytest.fixture
def small_limit():
    yield
    protofile.set_size_limit(None)


def test_size_guard_before_writing(tmp_path: pathlib.Path, small_limit: None) -> None:
    streamed = run_freeze(FREEZE / "mlp", defer=True)
    plan = stream.plan_graph(streamed.graph_def, streamed.checkpoint, streamed.deferred)
    protofile.set_size_limit(plan.size - 1)
    out = tmp_path / "frozen.pb"
    calls = []
    with pytest.raises(OutputError) as err:
        stream.save_frozen(streamed, out, progress=lambda done, total: calls.append(done))
    message = str(err.value)
    assert "configured limit" in message and "frozen.pb" in message
    biggest = max(streamed.deferred, key=lambda n: streamed.checkpoint.info(streamed.deferred[n]).nbytes)
    assert f"'{biggest}'" in message  # names the largest constants
    assert calls == [] and os.listdir(tmp_path) == []
    protofile.set_size_limit(plan.size)
    assert stream.save_frozen(streamed, out) == plan.size


def _corrupt_copy(tmp_path: pathlib.Path, key: str) -> pathlib.Path:
    directory = tmp_path / "mlp"
    shutil.copytree(FREEZE / "mlp", directory)
    ckpt = load_checkpoint(directory / "model.ckpt")
    entry = ckpt.entry(key)
    data = directory / "model.ckpt.data-00000-of-00001"
    raw = bytearray(data.read_bytes())
    raw[entry.offset + entry.size // 2] ^= 0x10
    data.write_bytes(bytes(raw))
    return directory


def test_checksum_mismatch_leaves_no_file(tmp_path: pathlib.Path) -> None:
    directory = _corrupt_copy(tmp_path, "hidden/weights")
    streamed = run_freeze(directory, defer=True)  # deferred values are not read yet
    assert "hidden/weights" in streamed.deferred.values()
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with pytest.raises(ChecksumError, match="hidden/weights"):
        stream.save_frozen(streamed, out_dir / "frozen.pb")
    assert os.listdir(out_dir) == []
    # an existing output is left as it was
    (out_dir / "frozen.pb").write_bytes(b"old")
    with pytest.raises(ChecksumError):
        stream.save_frozen(streamed, out_dir / "frozen.pb")
    assert os.listdir(out_dir) == ["frozen.pb"] and (out_dir / "frozen.pb").read_bytes() == b"old"


def test_unverified_checkpoint_streams_damaged_bytes(tmp_path: pathlib.Path) -> None:
    directory = _corrupt_copy(tmp_path, "hidden/weights")
    ckpt = load_checkpoint(directory / "model.ckpt", verify=False)
    streamed = run_freeze(directory, defer=True, checkpoint=ckpt)
    whole = run_freeze(directory, defer=False, checkpoint=ckpt)
    stream.save_frozen(streamed, tmp_path / "f.pb")
    assert (tmp_path / "f.pb").read_bytes() == whole.graph_def.SerializeToString(deterministic=True)


def test_refuses_to_overwrite_checkpoint_and_bad_hollow(tmp_path: pathlib.Path) -> None:
    streamed = run_freeze(FREEZE / "mlp", defer=True)
    with pytest.raises(OutputError, match="same file"):
        stream.save_frozen(streamed, streamed.checkpoint.data_paths[0])
    broken = graph_pb2.GraphDef()
    broken.CopyFrom(streamed.graph_def)
    name = next(iter(streamed.deferred))
    node = next(n for n in broken.node if n.name == name)
    node.attr["value"].tensor.tensor_content = b"\0" * 4
    with pytest.raises(OutputError, match="not made by freeze"):
        stream.write_graph(broken, tmp_path / "x.pb", streamed.checkpoint, streamed.deferred)
    node.attr["value"].tensor.tensor_content = b""
    node.attr["value"].tensor.tensor_shape.dim[0].size += 1
    with pytest.raises(OutputError, match="dtype and shape"):
        stream.write_graph(broken, tmp_path / "x.pb", streamed.checkpoint, streamed.deferred)
    with pytest.raises(OutputError, match="not in the graph"):
        stream.write_graph(streamed.graph_def, tmp_path / "x.pb", streamed.checkpoint, {"nope": "hidden/weights"})
    assert os.listdir(tmp_path) == []


def test_progress_reports_every_byte(tmp_path: pathlib.Path) -> None:
    streamed = run_freeze(FREEZE / "mlp", defer=True)
    seen: list[tuple[int, int]] = []
    written = stream.write_graph(streamed.graph_def, tmp_path / "f.pb", streamed.checkpoint, streamed.deferred,
                                 progress=lambda done, total: seen.append((done, total)), chunk_size=64)
    assert seen[-1] == (written, written)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    shown, hidden = Tty(), io.StringIO()
    stream.TerminalProgress(shown, min_total=0)(written, written)
    stream.TerminalProgress(hidden, min_total=0)(written, written)
    quiet_small = Tty()
    stream.TerminalProgress(quiet_small)(written, written)  # below 64 MiB: nothing
    assert "100%" in shown.getvalue() and "/s" in shown.getvalue()
    assert hidden.getvalue() == "" and quiet_small.getvalue() == ""


def test_cli_writes_streamed_bytes(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    directory = FREEZE / "mlp"
    spec = json.loads((directory / "spec.json").read_text())
    args = ["freeze", "--input_graph", str(directory / "graph.pb"), "--input_checkpoint",
            str(directory / "model.ckpt"), "--output_node_names", ",".join(spec["outputs"])]
    assert gs_main([*args, "-o", str(tmp_path / "a.pb")]) == 0
    assert gs_main([*args, "--no-fsync", "-o", str(tmp_path / "b.pb")]) == 0
    assert gs_main([*args, "--output-text", "-o", str(tmp_path / "c.pbtxt")]) == 0
    capsys.readouterr()
    want = run_freeze(directory, defer=False).graph_def
    assert (tmp_path / "a.pb").read_bytes() == want.SerializeToString(deterministic=True)
    assert (tmp_path / "b.pb").read_bytes() == want.SerializeToString(deterministic=True)
    text = protofile.parse_message((tmp_path / "c.pbtxt").read_bytes(), graph_pb2.GraphDef, text=True)
    assert text == want


@pytest.mark.tf
def test_memory_stays_bounded_for_a_large_tensor(tmp_path: pathlib.Path) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    size = 50 << 20
    graph = tf.Graph()
    with graph.as_default():
        big = tf.compat.v1.get_variable("big", shape=(size // 4 // 1024, 1024), use_resource=False,
                                        initializer=tf.compat.v1.random_uniform_initializer(seed=1))
        tf.identity(tf.reduce_sum(big), name="out")
        saver = tf.compat.v1.train.Saver()
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            saver.save(sess, str(tmp_path / "model.ckpt"), write_meta_graph=False)
    graph_def = graph_pb2.GraphDef.FromString(graph.as_graph_def().SerializeToString())
    del graph
    result = freeze(graph_def, tmp_path / "model.ckpt", "out", defer_values=True)
    assert list(result.deferred) == ["big"]
    chunk = 2 << 20
    tracemalloc.start()
    try:
        written = stream.write_graph(result.graph_def, tmp_path / "frozen.pb", result.checkpoint, result.deferred,
                                     chunk_size=chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert written > size
    # one chunk alive at a time (a writer thread overlapping the copy was measured slower on 2 busy cores)
    assert peak < 2 * chunk, f"peak {peak} bytes while streaming a {size}-byte tensor in {chunk}-byte chunks"
    frozen = graph_pb2.GraphDef.FromString((tmp_path / "frozen.pb").read_bytes())
    const = next(n for n in frozen.node if n.name == "big")
    ckpt = load_checkpoint(tmp_path / "model.ckpt")
    assert const.attr["value"].tensor.tensor_content == ckpt["big"].tobytes()
    assert isinstance(const, node_def_pb2.NodeDef)

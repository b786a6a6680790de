"""TensorBoard event files written without TensorFlow: TFRecord framing as TensorFlow's writer does
it, read back by TensorBoard's own reader (also in an interpreter that cannot import TensorFlow)."""

from __future__ import annotations

import importlib
import importlib.util
import pathlib
import subprocess
import sys
import textwrap

import pytest

from graphsurgeon._proto import event_pb2, graph_pb2
from graphsurgeon.errors import ChecksumError, FileFormatError, OutputError
from graphsurgeon.formats import events
from graphsurgeon.formats.events import encode_record, read_events, read_records, write_events, write_graph_event
from graphsurgeon.formats.model import load_graph

ROOT = pathlib.Path(__file__).resolve().parents[2]
GRAPH = ROOT / "tests" / "fixtures" / "nvidia" / "ssd_like.pb"


def _tensorboard_problem() -> str | None:
    """Why TensorBoard's reader cannot run here (not installed, or its protos need a newer protobuf)."""
    if importlib.util.find_spec("tensorboard") is None:
        return "tensorboard is not installed (it comes with the tf extra)"
    try:
        importlib.import_module("tensorboard.compat.proto.event_pb2")
    except Exception as err:  # noqa: BLE001 - e.g. protobuf's VersionError on the floors run
        return f"tensorboard cannot load its protos here: {err}"
    return None


needs_tensorboard = pytest.mark.skipif(_tensorboard_problem() is not None, reason=str(_tensorboard_problem()))


def test_graph_event_file(tmp_path):
    graph_def = load_graph(GRAPH).graph_def
    path = write_graph_event(graph_def, tmp_path / "logs")  # the directory is created
    again = write_graph_event(graph_def.SerializeToString(), tmp_path / "logs")
    assert path != again and path.name.startswith("events.out.tfevents.") and again.name.startswith(path.name)
    events = list(read_events(path))
    assert [e.WhichOneof("what") for e in events] == ["file_version", "graph_def"]
    assert events[0].file_version == "brain.Event:2" and events[1].step == 0 and events[1].wall_time > 0
    assert graph_pb2.GraphDef.FromString(events[1].graph_def) == graph_def
    assert not list((tmp_path / "logs").glob(".*.tmp"))  # written atomically: no temporary left


def test_write_events_adds_the_file_version(tmp_path):
    path = write_events([event_pb2.Event(step=3, wall_time=1.5)], tmp_path, file_name="events.out.tfevents.x")
    assert [(e.WhichOneof("what"), e.step) for e in read_events(path)] == [("file_version", 0), (None, 3)]


def test_damaged_records_are_reported(tmp_path):
    path = write_graph_event(load_graph(GRAPH).graph_def, tmp_path)
    data = bytearray(path.read_bytes())
    for offset, message in [(len(data) - 40, "fails its data checksum"),
                            (2, "fails its length checksum")]:
        damaged = bytearray(data)
        damaged[offset] ^= 0x40
        bad = tmp_path / f"bad{offset}"
        bad.write_bytes(bytes(damaged))
        with pytest.raises((FileFormatError, ChecksumError), match=message):
            list(read_records(bad))
    (tmp_path / "short").write_bytes(bytes(data[:-3]))
    with pytest.raises(FileFormatError, match="says .* bytes but the file ends first"):
        list(read_records(tmp_path / "short"))


def test_logdir_that_is_a_file(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="is a file, not a directory"):
        write_graph_event(b"", tmp_path / "file")


@pytest.mark.tf
def test_framing_is_tensorflows(tmp_path):
    import tensorflow as tf

    payloads = [b"", b"x", bytes(range(256)) * 40]
    with tf.io.TFRecordWriter(str(tmp_path / "tf.rec")) as writer:
        for payload in payloads:
            writer.write(payload)
    assert b"".join(encode_record(p) for p in payloads) == (tmp_path / "tf.rec").read_bytes()
    assert list(read_records(tmp_path / "tf.rec")) == payloads


@needs_tensorboard
def test_tensorboard_reads_it_without_tensorflow(tmp_path):
    path = write_graph_event(load_graph(GRAPH).graph_def, tmp_path)
    script = textwrap.dedent('''
        import importlib.abc, sys

        class NoTensorFlow(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name == "tensorflow" or name.startswith("tensorflow."):
                    raise ImportError(f"imported {name}")
                return None

        sys.meta_path.insert(0, NoTensorFlow())
        from tensorboard.backend.event_processing import event_accumulator, event_file_loader
        events = list(event_file_loader.LegacyEventFileLoader(sys.argv[1]).Load())
        print([e.WhichOneof("what") for e in events], events[0].file_version)
        acc = event_accumulator.EventAccumulator(sys.argv[2])
        acc.Reload()
        print(len(acc.Graph().node), acc.Graph().node[0].name)
    ''')
    result = subprocess.run([sys.executable, "-c", script, str(path), str(tmp_path)], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines() == ["['file_version', 'graph_def'] brain.Event:2", "154 image_tensor"]


# --- gs convert's entry points: a graph into an event file (or a log directory) and back


def test_graph_events_round_trip(tmp_path):
    graph = load_graph(ROOT / "tests" / "fixtures" / "graphs" / "cnn_bn.pb").graph_def
    written = events.write_graph_events(graph, tmp_path, wall_time=1234.5)
    (path,) = tmp_path.iterdir()
    assert path.name.startswith("events.out.tfevents.0000001234.") and events.is_event_file_name(path)
    assert path.stat().st_size == written and events.looks_like_records(path.read_bytes())
    read = list(read_events(path))
    assert [e.WhichOneof("what") for e in read] == ["file_version", "graph_def"]
    assert read[0].file_version == events.FILE_VERSION and read[0].wall_time == 1234.5
    assert events.read_graph_events(path) == graph
    assert not events.looks_like_records(b"node {\n name: 'x'\n}")


def test_graph_events_damage_and_no_graph(tmp_path):
    graph = load_graph(ROOT / "tests" / "fixtures" / "graphs" / "mlp.pb").graph_def
    good = tmp_path / "events.out.tfevents.1.good"
    events.write_graph_events(graph, good)
    data = good.read_bytes()
    path = tmp_path / "events.out.tfevents.1.x"
    version_only = event_pb2.Event(wall_time=1.0, file_version=events.FILE_VERSION)
    no_graph = encode_record(version_only.SerializeToString())
    for damaged, message in [(data[:-3], "says .* bytes but the file ends first"),
                             (data[:7], "ends inside the header of record 0"),
                             (data[:30] + bytes([data[30] ^ 1]) + data[31:], "fails its data checksum"),
                             (no_graph, "holds no graph")]:
        path.write_bytes(damaged)
        with pytest.raises((FileFormatError, ChecksumError), match=message):
            events.read_graph_events(path)
    with pytest.raises(FileFormatError, match="does not exist"):
        events.read_graph_events(tmp_path / "missing")

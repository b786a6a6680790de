"""TensorBoard event files: written without TensorFlow, read by TensorBoard's and TensorFlow's readers,
and TensorFlow's own event files read back."""

from __future__ import annotations

import pathlib

import pytest

from graphsurgeon.errors import ChecksumError, FileFormatError
from graphsurgeon.formats import events
from graphsurgeon.formats.model import load_graph

GRAPHS = pathlib.Path(__file__).resolve().parent.parent / "fixtures" / "graphs"


def test_tensorboard_reads_the_graph(tmp_path):
    loader = pytest.importorskip("tensorboard.backend.event_processing.event_file_loader")
    from tensorboard.compat.proto import graph_pb2 as tb_graph_pb2

    graph = load_graph(GRAPHS / "cnn_bn.pb").graph_def
    written = events.write_graph_events(graph, tmp_path, wall_time=1234.5)
    files = list(tmp_path.iterdir())
    assert len(files) == 1 and files[0].name.startswith("events.out.tfevents.1234.")
    assert files[0].stat().st_size == written
    read = list(loader.LegacyEventFileLoader(str(files[0])).Load())
    assert [e.WhichOneof("what") for e in read] == ["file_version", "graph_def"]
    assert read[0].file_version == "brain.Event:2" and read[0].wall_time == 1234.5
    assert read[0].source_metadata.writer == "graphsurgeon"
    tb_graph = tb_graph_pb2.GraphDef()
    tb_graph.ParseFromString(read[1].graph_def)
    assert tb_graph.SerializeToString(deterministic=True) == graph.SerializeToString(deterministic=True)
    assert events.read_graph_events(files[0]) == graph


@pytest.mark.tf
def test_tensorflow_writes_the_same_records(tmp_path):
    import tensorflow as tf

    graph = load_graph(GRAPHS / "mlp.pb").graph_def
    tf_graph = tf.compat.v1.GraphDef()
    tf_graph.ParseFromString(graph.SerializeToString())
    with tf.compat.v1.Graph().as_default():
        writer = tf.compat.v1.summary.FileWriter(str(tmp_path))
        writer.add_graph(None, graph_def=tf_graph)
        writer.close()
    (path,) = tmp_path.iterdir()
    records = list(events.iter_records(path.read_bytes(), str(path)))
    assert len(records) == 2
    # TensorFlow's records, re-encoded from their fields by our encoder, are the same bytes
    for record in records:
        fields = events.decode_event(record)
        assert events.encode_event(fields["wall_time"], fields.get("step", 0), fields.get("file_version"),
                                   fields.get("graph_def"), fields.get("writer")) == record
    assert events.decode_event(records[0])["file_version"] == events.FILE_VERSION
    assert events.read_graph_events(path) == graph
    # and TensorFlow's reader reads ours
    ours = tmp_path / "ours" / "events.out.tfevents.1.gs"
    ours.parent.mkdir()
    events.write_graph_events(graph, ours)
    read = list(tf.compat.v1.train.summary_iterator(str(ours)))
    assert read[0].file_version == events.FILE_VERSION
    assert tf.compat.v1.GraphDef.FromString(read[1].graph_def) == tf_graph


def test_damaged_and_empty_event_files(tmp_path):
    graph = load_graph(GRAPHS / "mlp.pb").graph_def
    good = events.graph_event_bytes(graph, wall_time=1.0)
    path = tmp_path / "events.out.tfevents.1.x"
    for data, error, message in [
        (good[:-3], FileFormatError, "says .* bytes but the file ends first"),
        (good[:7], FileFormatError, "ends inside the header of record 0"),
        (good[:30] + bytes([good[30] ^ 1]) + good[31:], ChecksumError, "fails its data checksum"),
        (bytes([good[0] ^ 1]) + good[1:], ChecksumError, "fails its length checksum"),
        (events.encode_record(events.encode_event(1.0, file_version=events.FILE_VERSION)), FileFormatError,
         "holds no graph"),
    ]:
        path.write_bytes(data)
        with pytest.raises(error, match=message):
            events.read_graph_events(path)
    with pytest.raises(FileFormatError, match="does not exist"):
        events.read_graph_events(tmp_path / "missing")


def test_records_round_trip_and_steps():
    payload = events.encode_event(2.5, step=-3, graph_def=b"\x00\x01")
    assert events.decode_event(payload) == {"wall_time": 2.5, "step": -3, "graph_def": b"\x00\x01"}
    data = events.encode_record(payload) + events.encode_record(b"")
    assert list(events.iter_records(data)) == [payload, b""]
    assert events.looks_like_records(data) and not events.looks_like_records(b"node {\n name: 'x'\n}")

"""gs convert: every committed graph fixture round-trips, byte for byte where the encoding allows."""

from __future__ import annotations

import pathlib

import pytest

from graphsurgeon._proto import graph_pb2, meta_graph_pb2
from graphsurgeon.cli import main
from graphsurgeon.formats import events
from graphsurgeon.formats.model import load_graph

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
GRAPHS = FIXTURES / "graphs"


_NOT_GRAPHS = ("saved_model.pb", "saved_model.pbtxt", "fingerprint.pb")


def graph_files() -> list[pathlib.Path]:
    """Every committed GraphDef or MetaGraphDef fixture (SavedModels are tested on their own)."""
    out = []
    for path in sorted(FIXTURES.rglob("*")):
        if path.suffix in (".pb", ".pbtxt", ".meta") and path.name not in _NOT_GRAPHS:
            out.append(path)
    return out


FILES = graph_files()


def run(capsys, *argv: str) -> int:
    code = main(["convert", *map(str, argv)])
    capsys.readouterr()
    return code


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(FIXTURES)) for p in FILES])
def test_every_fixture_round_trips(path, tmp_path, capsys):
    loaded = load_graph(path)
    meta = loaded.meta_graph_def is not None
    binary, text = ("meta", "metatxt") if meta else ("pb", "pbtxt")
    original = path.read_bytes()
    message = loaded.meta_graph_def if meta else loaded.graph_def
    if loaded.text:
        assert run(capsys, path, tmp_path / f"a.{binary}") == 0
        assert run(capsys, tmp_path / f"a.{binary}", tmp_path / f"b.{text}") == 0
        back = (tmp_path / f"b.{text}").read_bytes()
        assert back == original, "text -> binary -> text changed the text"
    else:
        assert run(capsys, path, tmp_path / f"a.{text}") == 0
        assert run(capsys, tmp_path / f"a.{text}", tmp_path / f"b.{binary}") == 0
        back = (tmp_path / f"b.{binary}").read_bytes()
        canonical = message.SerializeToString(deterministic=True)
        assert back == canonical
        # Byte for byte when the original is in protobuf's canonical encoding (map entries sorted by key,
        # as graphsurgeon writes). TensorFlow writes attr maps in hash order, which no writer reproduces;
        # those files come back with the same content, attrs sorted.
        assert (back == original) == (canonical == original)
    # events: the graph, unchanged
    assert run(capsys, path, tmp_path / "events.out.tfevents.1.test") == 0
    assert events.read_graph_events(tmp_path / "events.out.tfevents.1.test") == loaded.graph_def
    assert run(capsys, tmp_path / "events.out.tfevents.1.test", tmp_path / "from_events.pb") == 0
    assert load_graph(tmp_path / "from_events.pb").graph_def == loaded.graph_def


def test_most_fixtures_are_byte_identical():
    """The graphs/ fixtures are written canonically, so their round trip is exact (the test above)."""
    for name in ("mlp.pb", "cnn_bn.pb", "while_loop.pb", "mlp.meta", "cnn_bn.meta"):
        loaded = load_graph(GRAPHS / name)
        message = loaded.meta_graph_def if name.endswith(".meta") else loaded.graph_def
        assert message.SerializeToString(deterministic=True) == (GRAPHS / name).read_bytes()


def test_meta_graph_and_saved_model_to_graph_def(tmp_path, capsys):
    assert run(capsys, GRAPHS / "mlp.meta", tmp_path / "g.pbtxt") == 0
    assert load_graph(tmp_path / "g.pbtxt").kind == "GraphDef"
    assert load_graph(tmp_path / "g.pbtxt").graph_def == load_graph(GRAPHS / "mlp.meta").graph_def
    for saved_model in ("saved_model_tf1", "saved_model_tf1_text", "saved_model_keras"):
        out = tmp_path / f"{saved_model}.pb"
        assert run(capsys, GRAPHS / saved_model, out) == 0
        assert load_graph(out).graph_def == load_graph(GRAPHS / saved_model).graph_def
    # a SavedModel's whole MetaGraphDef, and a GraphDef wrapped in one
    assert run(capsys, GRAPHS / "saved_model_tf1", tmp_path / "sm.meta", "--tags", "serve") == 0
    meta = meta_graph_pb2.MetaGraphDef.FromString((tmp_path / "sm.meta").read_bytes())
    assert meta == load_graph(GRAPHS / "saved_model_tf1").meta_graph_def
    assert run(capsys, GRAPHS / "mlp.pb", tmp_path / "wrapped.meta") == 0
    assert load_graph(tmp_path / "wrapped.meta").graph_def == load_graph(GRAPHS / "mlp.pb").graph_def


def test_flags_and_tensorboard_directory(tmp_path, capsys):
    assert run(capsys, GRAPHS / "mlp.pb", tmp_path / "g.out", "--to", "pbtxt") == 0
    assert load_graph(tmp_path / "g.out").text
    assert run(capsys, GRAPHS / "mlp.pbtxt", tmp_path / "g.pbtxt", "--binary") == 0
    assert not load_graph(tmp_path / "g.pbtxt").text
    assert (tmp_path / "g.pbtxt").read_bytes() == (GRAPHS / "mlp.pb").read_bytes()
    logs = tmp_path / "logs"
    logs.mkdir()
    assert main(["convert", str(GRAPHS / "mlp.pb"), str(logs)]) == 0
    assert "events" in capsys.readouterr().out
    (event_file,) = logs.iterdir()
    assert event_file.name.startswith("events.out.tfevents.")
    # recognized by its framing too, whatever its name
    renamed = tmp_path / "graph.bin"
    renamed.write_bytes(event_file.read_bytes())
    assert run(capsys, renamed, tmp_path / "back.pb") == 0
    assert (tmp_path / "back.pb").read_bytes() == (GRAPHS / "mlp.pb").read_bytes()


def test_errors_write_nothing_and_keep_inputs(tmp_path, capsys):
    source = tmp_path / "g.pb"
    source.write_bytes((GRAPHS / "mlp.pb").read_bytes())
    existing = tmp_path / "existing.pbtxt"
    existing.write_text("keep me")
    for argv, message in [
        ([source, tmp_path / "g.png"], "cannot tell the output format"),
        ([source, source.with_suffix(".pb")], "is the same file as input"),
        ([tmp_path / "missing.pb", tmp_path / "x.pb"], "does not exist"),
        ([source, tmp_path / "events.out.tfevents.1.x", "--text"], "an event file has no text form"),
        ([source, tmp_path / "no_dir" / "x.pb"], "does not exist"),
    ]:
        assert main(["convert", *map(str, argv)]) == 1, argv
        err = capsys.readouterr().err
        assert err.startswith("gs: error: ") and message in err and err.count("\n") == 1
    assert main(["convert", str(source), str(tmp_path / "x.pb"), "--text", "--binary"]) == 2
    assert source.read_bytes() == (GRAPHS / "mlp.pb").read_bytes() and existing.read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existing.pbtxt", "g.pb"]
    graph_pb2.GraphDef.FromString(source.read_bytes())

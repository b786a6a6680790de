"""protofile: parse/serialize one message, text detection, atomic writes, the 2 GiB guard."""

from __future__ import annotations

import os
import pathlib

import pytest

from graphsurgeon._proto import checkpoint_state_pb2, graph_pb2
from graphsurgeon.errors import FileFormatError, OutputError
from graphsurgeon.formats import protofile


def _graph() -> graph_pb2.GraphDef:
    graph = graph_pb2.GraphDef()
    graph.node.add(name="a", op="Const")
    graph.node.add(name="b", op="Identity", input=["a"])
    return graph


@pytest.mark.parametrize("data, expected", [
    (b'node {\n  name: "a"\n}\n', True),
    (b"# comment\n\n  model_checkpoint_path: 'x'\n", True),
    (b"versions <\n  producer: 1\n>\n", True),
    (b"\n\x03abc", False),  # binary: field 1, length 3
    (b"\x0a\x05hello", False),
    (b"hello world", False),
    (b"", False),
    (b"\xff\xfe", False),
])
def test_looks_like_text(data: bytes, expected: bool) -> None:
    assert protofile.looks_like_text(data) is expected


def test_looks_like_text_forgives_a_character_cut_by_the_sample() -> None:
    head = b'node {\n  name: "'
    data = head + b"a" * (4095 - len(head)) + "\u00e9".encode() + b'"\n}\n'
    assert data[:4096].decode("utf-8", errors="replace").endswith("\ufffd")
    assert protofile.looks_like_text(data)


@pytest.mark.parametrize("text", [None, False, True])
def test_parse_message_both_encodings(text: bool | None) -> None:
    graph = _graph()
    binary = protofile.serialize_message(graph)
    as_text = protofile.serialize_message(graph, text=True)
    data = as_text if text else binary
    assert protofile.parse_message(data, graph_pb2.GraphDef, "g", text=text) == graph
    if text is None:
        assert protofile.parse_message(as_text, graph_pb2.GraphDef) == graph


def test_parse_message_unknown_text_field() -> None:
    data = b'model_checkpoint_path: "a"\nfuture_field: 3\n'
    lenient = protofile.parse_message(data, checkpoint_state_pb2.CheckpointState, "checkpoint")
    assert lenient.model_checkpoint_path == "a"
    with pytest.raises(FileFormatError, match=r"'checkpoint' is not a CheckpointState protobuf.*future_field"):
        protofile.parse_message(data, checkpoint_state_pb2.CheckpointState, "checkpoint", text=True, strict=True)


def test_parse_message_error_names_source_and_both_attempts() -> None:
    with pytest.raises(FileFormatError) as err:
        protofile.parse_message(b"\xff\xff\xff", graph_pb2.GraphDef, "weird.pb")
    message = str(err.value)
    assert "'weird.pb' is not a GraphDef protobuf" in message
    assert "as binary" in message and "as text" in message


def test_serialize_is_deterministic() -> None:
    from graphsurgeon._proto import attr_value_pb2, node_def_pb2

    a = node_def_pb2.NodeDef(name="n", op="X")
    b = node_def_pb2.NodeDef(name="n", op="X")
    for key in "zyxw":
        a.attr[key].CopyFrom(attr_value_pb2.AttrValue(i=1))
    for key in "wxyz":
        b.attr[key].CopyFrom(attr_value_pb2.AttrValue(i=1))
    assert protofile.serialize_message(a) == protofile.serialize_message(b)


def test_read_bytes_errors(tmp_path: pathlib.Path) -> None:
    with pytest.raises(FileFormatError, match=r"graph file '.*missing' does not exist"):
        protofile.read_bytes(tmp_path / "missing", "graph file")
    with pytest.raises(FileFormatError, match="is a directory, not a file"):
        protofile.read_bytes(tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads unreadable files")
def test_read_bytes_unreadable(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "secret.pb"
    path.write_bytes(b"x")
    path.chmod(0)
    with pytest.raises(FileFormatError, match="cannot read"):
        protofile.read_bytes(path)


def test_save_message_writes_atomically(tmp_path: pathlib.Path) -> None:
    out = tmp_path / "g.pb"
    out.write_bytes(b"old")
    n = protofile.save_message(_graph(), out)
    assert out.read_bytes() == _graph().SerializeToString(deterministic=True) and n == out.stat().st_size
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.pb"]


def test_atomic_writer_keeps_the_old_file_on_failure(tmp_path: pathlib.Path) -> None:
    out = tmp_path / "g.pb"
    out.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="boom"), protofile.atomic_writer(out) as handle:
        handle.write(b"partial")
        raise RuntimeError("boom")
    assert out.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.pb"], "temporary file left behind"


def test_written_file_has_ordinary_permissions(tmp_path: pathlib.Path) -> None:
    out = tmp_path / "g.pb"
    protofile.save_message(_graph(), out)
    mask = os.umask(0)
    os.umask(mask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~mask


def test_check_output_path(tmp_path: pathlib.Path) -> None:
    src = tmp_path / "in.pb"
    src.write_bytes(b"x")
    os.symlink(src, tmp_path / "link.pb")
    with pytest.raises(OutputError, match="same file as input"):
        protofile.check_output_path(tmp_path / "link.pb", inputs=[src])
    with pytest.raises(OutputError, match="is a directory"):
        protofile.check_output_path(tmp_path)
    with pytest.raises(OutputError, match="does not exist"):
        protofile.check_output_path(tmp_path / "no" / "such" / "dir.pb")
    assert protofile.check_output_path(tmp_path / "new.pb", inputs=[src, ""]) == tmp_path / "new.pb"


def test_size_guard_text_and_binary(tmp_path: pathlib.Path) -> None:
    graph = _graph()
    size = graph.ByteSize()
    protofile.set_size_limit(size - 1)
    try:
        with pytest.raises(OutputError, match=r"largest nodes: 'b'"):
            protofile.save_message(graph, tmp_path / "g.pb")
        with pytest.raises(OutputError, match="configured limit"):
            protofile.save_message(graph, tmp_path / "g.pbtxt", text=True)
        protofile.set_size_limit(size)
        protofile.save_message(graph, tmp_path / "g.pb")
    finally:
        protofile.set_size_limit(None)
    assert protofile.size_limit() == protofile.PROTOBUF_LIMIT == 2**31 - 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.pb"]


def test_check_size_message_for_the_real_limit() -> None:
    with pytest.raises(OutputError, match=r"'out.pb' would be 2.0 GiB; a protobuf message cannot exceed 2 GiB"):
        protofile.check_size(2**31, "out.pb", [("w", 2**31 - 10)])


@pytest.mark.parametrize("n, text", [(0, "0 B"), (1023, "1023 B"), (1536, "1.5 KiB"), (5 * 2**20, "5.0 MiB"),
                                     (3 * 2**30, "3.0 GiB"), (2**50, "1024.0 TiB")])
def test_format_bytes(n: int, text: str) -> None:
    assert protofile.format_bytes(n) == text

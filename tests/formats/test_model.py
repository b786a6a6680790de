"""load_graph / save_graph on TensorFlow-made fixtures: format detection, tag sets, identity with TF's parse."""

from __future__ import annotations

import json
import pathlib
import shutil

import pytest
from google.protobuf import text_format

from graphsurgeon._proto import graph_pb2, meta_graph_pb2, saved_model_pb2
from graphsurgeon.errors import FileFormatError, OutputError, UnsupportedError
from graphsurgeon.formats import protofile
from graphsurgeon.formats.model import load_graph, save_graph

GRAPHS = pathlib.Path(__file__).resolve().parent.parent / "fixtures" / "graphs"
EXPECTED = json.loads((GRAPHS / "expected.json").read_text())

# fixture path -> (kind, text)
FILES = {}
for _name in ("mlp", "cnn_bn", "while_loop"):
    FILES[f"{_name}.pb"] = ("GraphDef", False)
    FILES[f"{_name}.pbtxt"] = ("GraphDef", True)
    FILES[f"{_name}.meta"] = ("MetaGraphDef", False)
    FILES[f"{_name}_text.meta"] = ("MetaGraphDef", True)
FILES["saved_model_tf1"] = ("SavedModel", False)
FILES["saved_model_tf1_text"] = ("SavedModel", True)
FILES["saved_model_keras"] = ("SavedModel", False)


def test_fixtures_were_made_by_tensorflow_2_21() -> None:
    assert EXPECTED["tensorflow_version"].startswith("2.21"), EXPECTED["tensorflow_version"]
    total = sum(p.stat().st_size for p in GRAPHS.rglob("*") if p.is_file())
    assert total < 2 * 1024 * 1024, f"graph fixtures are {total} bytes; keep them under 2 MB"


@pytest.mark.parametrize("name", sorted(FILES))
def test_format_is_detected(name: str) -> None:
    kind, text = FILES[name]
    loaded = load_graph(GRAPHS / name)
    assert (loaded.kind, loaded.text) == (kind, text)
    assert len(loaded.graph_def.node) > 10
    assert (loaded.meta_graph_def is None) == (kind == "GraphDef")
    if kind == "SavedModel":
        assert loaded.saved_model_dir == GRAPHS / name
        assert loaded.tags == ("serve",)
        assert [list(t) for t in loaded.available_tags] == EXPECTED["fixtures"][name]["tag_sets"]


@pytest.mark.parametrize("name", ["mlp.pb", "mlp.pbtxt", "mlp.meta", "mlp_text.meta"])
@pytest.mark.parametrize("suffix", [".pb", ".pbtxt", ".meta", ".txt", ""])
def test_extension_does_not_matter(tmp_path: pathlib.Path, name: str, suffix: str) -> None:
    renamed = tmp_path / f"model{suffix}"
    shutil.copyfile(GRAPHS / name, renamed)
    loaded = load_graph(renamed)
    assert (loaded.kind, loaded.text) == FILES[name]


def test_graph_and_meta_graph_of_one_model_agree() -> None:
    graph = load_graph(GRAPHS / "cnn_bn.pb").graph_def
    meta = load_graph(GRAPHS / "cnn_bn.meta").graph_def
    assert [n.name for n in graph.node] == [n.name for n in meta.node]


def test_saved_model_file_given_directly() -> None:
    loaded = load_graph(GRAPHS / "saved_model_tf1" / "saved_model.pb")
    assert loaded.kind == "SavedModel" and loaded.saved_model_dir == GRAPHS / "saved_model_tf1"


@pytest.mark.parametrize("tags", ["train,gpu", "gpu,train", ["gpu", "train"], " train , gpu "])
def test_saved_model_tag_choice(tags: object) -> None:
    loaded = load_graph(GRAPHS / "saved_model_tf1", tags=tags)
    assert set(loaded.tags) == {"train", "gpu"}
    assert loaded.meta_graph_def is not None and not loaded.meta_graph_def.signature_def


def test_saved_model_unknown_tags_lists_the_available_ones() -> None:
    with pytest.raises(FileFormatError) as err:
        load_graph(GRAPHS / "saved_model_tf1", tags="tpu")
    message = str(err.value)
    assert "saved_model_tf1" in message and "'tpu'" in message
    assert "available tag sets: serve; train,gpu" in message, message


def test_saved_model_without_serve_and_several_tag_sets(tmp_path: pathlib.Path) -> None:
    saved = saved_model_pb2.SavedModel(saved_model_schema_version=1)
    for tags in (["train"], ["eval"]):
        meta = saved.meta_graphs.add()
        meta.meta_info_def.tags.extend(tags)
        meta.graph_def.node.add(name="x", op="Placeholder")
    (tmp_path / "saved_model.pb").write_bytes(saved.SerializeToString())
    with pytest.raises(FileFormatError, match=r"no meta graph with tags 'serve'.*available tag sets: train; eval"):
        load_graph(tmp_path)
    assert load_graph(tmp_path, tags="eval").tags == ("eval",)


def test_single_meta_graph_is_chosen_whatever_its_tags(tmp_path: pathlib.Path) -> None:
    saved = saved_model_pb2.SavedModel(saved_model_schema_version=1)
    meta = saved.meta_graphs.add()
    meta.meta_info_def.tags.append("train")
    meta.graph_def.node.add(name="x", op="Placeholder")
    (tmp_path / "saved_model.pb").write_bytes(saved.SerializeToString())
    assert load_graph(tmp_path).tags == ("train",)


def test_graph_def_with_debug_info_is_not_taken_for_a_meta_graph(tmp_path: pathlib.Path) -> None:
    # GraphDef field 5 (debug_info) has the number of MetaGraphDef.signature_def.
    graph = graph_pb2.GraphDef()
    graph.node.add(name="a", op="Const")
    graph.node.add(name="b", op="Identity", input=["a"])
    graph.versions.producer = 1
    graph.debug_info.files.append("model.py")
    path = tmp_path / "g.pb"
    path.write_bytes(graph.SerializeToString())
    loaded = load_graph(path)
    assert loaded.kind == "GraphDef" and loaded.graph_def == graph


def test_bare_meta_graph_without_saver_or_signatures(tmp_path: pathlib.Path) -> None:
    meta = meta_graph_pb2.MetaGraphDef()
    meta.meta_info_def.tags.append("x")
    meta.graph_def.node.add(name="a", op="Const")
    path = tmp_path / "m.meta"
    path.write_bytes(meta.SerializeToString())
    loaded = load_graph(path)
    assert loaded.kind == "MetaGraphDef" and loaded.meta_graph_def == meta


def test_text_graph_with_comments_and_unknown_field(tmp_path: pathlib.Path) -> None:
    good = tmp_path / "g.pbtxt"
    good.write_text('# exported by hand\n\nnode {\n  name: "a"\n  op: "Const"\n}\n')
    assert [n.name for n in load_graph(good).graph_def.node] == ["a"]
    bad = tmp_path / "bad.pbtxt"
    bad.write_text('node {\n  name: "a"\n  opp: "Const"\n}\n')
    with pytest.raises(FileFormatError, match=r"bad\.pbtxt.*opp"):
        load_graph(bad)


@pytest.mark.parametrize("content, pattern", [
    (b"", "is empty"),
    (b"  \n\n", "is empty"),
    (b"hello world\nthis is a readme\n", "is a text file, not a TensorFlow graph.*hello world"),
    (b'{"node": []}\n', "is a text file, not a TensorFlow graph"),
    (b"foo: 1\nbar { }\n", "protobuf text file but not a GraphDef.*'foo'"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10", "not a GraphDef, MetaGraphDef or SavedModel"),
    (bytes(range(256)) * 4, "not a GraphDef, MetaGraphDef or SavedModel"),
])
def test_bad_files(tmp_path: pathlib.Path, content: bytes, pattern: str) -> None:
    path = tmp_path / "model.pb"
    path.write_bytes(content)
    with pytest.raises(FileFormatError, match=pattern) as err:
        load_graph(path)
    assert str(path) in str(err.value)


def test_checkpoint_data_file_is_not_a_graph(tmp_path: pathlib.Path) -> None:
    data = (GRAPHS / "saved_model_tf1" / "variables" / "variables.data-00000-of-00001").read_bytes()
    path = tmp_path / "weights.pb"
    path.write_bytes(data)
    with pytest.raises(FileFormatError, match="weights.pb"):
        load_graph(path)


def test_missing_paths(tmp_path: pathlib.Path) -> None:
    with pytest.raises(FileFormatError, match=r"nope\.pb' does not exist"):
        load_graph(tmp_path / "nope.pb")
    with pytest.raises(FileFormatError, match=r"holds no saved_model.pb or saved_model.pbtxt \(it is empty\)"):
        load_graph(tmp_path)
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(FileFormatError, match=r"it contains: notes.txt"):
        load_graph(tmp_path)


def test_checkpoint_prefix_points_at_its_meta_graph(tmp_path: pathlib.Path) -> None:
    classifier = GRAPHS.parent.parent.parent / "examples" / "classifier"
    with pytest.raises(FileFormatError, match=r"model.ckpt-100' is a checkpoint prefix, not a graph; its graph is"):
        load_graph(classifier / "model.ckpt-100")
    (tmp_path / "w.index").write_bytes(b"")
    with pytest.raises(FileFormatError, match="give the graph"):
        load_graph(tmp_path / "w")


def test_chunked_saved_model_is_unsupported(tmp_path: pathlib.Path) -> None:
    (tmp_path / "saved_model.cpb").write_bytes(b"\x00")
    with pytest.raises(UnsupportedError, match="chunked SavedModel"):
        load_graph(tmp_path)


@pytest.mark.parametrize("text", [False, True])
def test_save_graph_round_trip(tmp_path: pathlib.Path, text: bool) -> None:
    graph = load_graph(GRAPHS / "cnn_bn.pb").graph_def
    out = tmp_path / "copy.pb"
    written = save_graph(graph, out, text=text)
    assert written == out.stat().st_size
    again = load_graph(out)
    assert again.text == text and again.graph_def == graph
    if not text:
        assert out.read_bytes() == (GRAPHS / "cnn_bn.pb").read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == ["copy.pb"], "a temporary file was left behind"


def test_save_graph_refuses_to_overwrite_an_input(tmp_path: pathlib.Path) -> None:
    src = tmp_path / "in.pb"
    shutil.copyfile(GRAPHS / "mlp.pb", src)
    before = src.read_bytes()
    graph = load_graph(src).graph_def
    with pytest.raises(OutputError, match="same file as input"):
        save_graph(graph, tmp_path / "." / "in.pb", inputs=[src])
    assert src.read_bytes() == before


def test_save_graph_reports_the_size_limit_before_writing(tmp_path: pathlib.Path) -> None:
    graph = load_graph(GRAPHS / "cnn_bn.pb").graph_def
    protofile.set_size_limit(10_000)
    try:
        with pytest.raises(OutputError, match=r"would be .*cannot exceed 10000 bytes.*largest nodes: '") as err:
            save_graph(graph, tmp_path / "big.pb")
    finally:
        protofile.set_size_limit(None)
    biggest = max(graph.node, key=lambda n: n.ByteSize()).name
    assert f"'{biggest}'" in str(err.value)
    assert not list(tmp_path.iterdir()), "nothing may be written when the graph is too large"


def test_load_graph_does_not_share_state_between_calls() -> None:
    a = load_graph(GRAPHS / "mlp.pb").graph_def
    a.node[0].name = "changed"
    assert load_graph(GRAPHS / "mlp.pb").graph_def.node[0].name != "changed"


def _tf_parse(path: pathlib.Path):  # noqa: ANN202
    """TensorFlow's own parse of a fixture, with TensorFlow's own message classes."""
    from tensorflow.core.framework import graph_pb2 as tf_graph_pb2
    from tensorflow.core.protobuf import meta_graph_pb2 as tf_meta_graph_pb2
    from tensorflow.core.protobuf import saved_model_pb2 as tf_saved_model_pb2

    kind, text = FILES[path.name]
    if kind == "SavedModel":
        path = path / ("saved_model.pbtxt" if text else "saved_model.pb")
    msg_type = {"GraphDef": tf_graph_pb2.GraphDef, "MetaGraphDef": tf_meta_graph_pb2.MetaGraphDef,
                "SavedModel": tf_saved_model_pb2.SavedModel}[kind]
    msg = msg_type()
    if text:
        text_format.Parse(path.read_text(), msg)
    else:
        msg.ParseFromString(path.read_bytes())
    return path, msg


@pytest.mark.tf
@pytest.mark.parametrize("name", sorted(FILES))
def test_same_message_as_tensorflows_parse(name: str) -> None:
    path, theirs = _tf_parse(GRAPHS / name)
    loaded = load_graph(GRAPHS / name)
    kind, text = FILES[name]
    if kind == "SavedModel":
        theirs_graph = next(m for m in theirs.meta_graphs if list(m.meta_info_def.tags) == ["serve"])
        ours_meta = loaded.meta_graph_def
        assert ours_meta is not None
        assert ours_meta.SerializeToString(deterministic=True) == theirs_graph.SerializeToString(deterministic=True)
        theirs_graph_def = theirs_graph.graph_def
    elif kind == "MetaGraphDef":
        assert loaded.meta_graph_def is not None
        assert loaded.meta_graph_def.SerializeToString(deterministic=True) == theirs.SerializeToString(
            deterministic=True)
        assert text_format.MessageToString(loaded.meta_graph_def) == text_format.MessageToString(theirs)
        theirs_graph_def = theirs.graph_def
    else:
        theirs_graph_def = theirs
    assert loaded.graph_def.SerializeToString(deterministic=True) == theirs_graph_def.SerializeToString(
        deterministic=True)
    assert text_format.MessageToString(loaded.graph_def) == text_format.MessageToString(theirs_graph_def)
    if not text and kind == "GraphDef":
        assert protofile.serialize_message(loaded.graph_def) == path.read_bytes(), "binary round trip changed bytes"
    if text and kind == "GraphDef":
        assert protofile.serialize_message(loaded.graph_def, text=True) == path.read_bytes()


@pytest.mark.tf
def test_tensorflow_reads_what_save_graph_writes(tmp_path: pathlib.Path) -> None:
    import tensorflow as tf

    graph = load_graph(GRAPHS / "while_loop.meta").graph_def
    save_graph(graph, tmp_path / "g.pb")
    save_graph(graph, tmp_path / "g.pbtxt", text=True)
    for name, binary in (("g.pb", True), ("g.pbtxt", False)):
        from tensorflow.python.framework import graph_io  # noqa: F401  (makes sure TF's protos are loaded)

        with tf.io.gfile.GFile(str(tmp_path / name), "rb") as handle:
            data = handle.read()
        tf_graph = tf.compat.v1.GraphDef()
        if binary:
            tf_graph.ParseFromString(data)
        else:
            text_format.Parse(data.decode(), tf_graph)
        with tf.Graph().as_default() as g:
            tf.compat.v1.import_graph_def(tf_graph, name="")
        assert {op.name for op in g.get_operations()} == {n.name for n in graph.node}

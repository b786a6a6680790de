"""gs inspect on TensorFlow-made graphs: inputs, outputs, variable totals and signatures, checked against TF.

Without TensorFlow the answers come from tests/fixtures/graphs/expected.json (recorded by TF when the
fixtures were made); with TensorFlow the tests ask TF directly about the committed files.
"""

from __future__ import annotations

import json
import pathlib
import re

import pytest

from graphsurgeon.cli import main
from graphsurgeon.formats.model import load_graph
from graphsurgeon.graph.names import node_name
from graphsurgeon.summary import summarize

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
GRAPHS = ROOT / "tests" / "fixtures" / "graphs"
EXPECTED = json.loads((GRAPHS / "expected.json").read_text())["fixtures"]
TF1_MODELS = ["mlp", "cnn_bn", "while_loop"]
# (fixture file, model name in expected.json)
FILES = [(f"{m}{suffix}", m) for m in TF1_MODELS for suffix in (".pb", ".pbtxt", ".meta", "_text.meta")]
SAVED_MODELS = ["saved_model_tf1", "saved_model_tf1_text", "saved_model_keras"]


def _inspect_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    assert main(["inspect", "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


def _losses(path: pathlib.Path) -> set[str]:
    """The nodes in a MetaGraph's ``losses`` collection: training machinery, not candidate outputs."""
    meta = load_graph(path).meta_graph_def
    if meta is None or "losses" not in meta.collection_def:
        return set()
    return {node_name(v) for v in meta.collection_def["losses"].node_list.value}


def _expected_outputs(model: str, name: str) -> set[str]:
    """The recorded outputs of a model; from a MetaGraph file, without its losses."""
    return set(EXPECTED[model]["outputs"]) - _losses(GRAPHS / name)


def _io(items: list[dict]) -> set[tuple]:
    return {(i["name"], i["dtype"], None if i["shape"] is None else tuple(i["shape"])) for i in items}


@pytest.mark.parametrize("name, model", FILES)
def test_tf1_graphs_match_recorded_answers(capsys: pytest.CaptureFixture[str], name: str, model: str) -> None:
    data = _inspect_json(capsys, str(GRAPHS / name))
    expected = EXPECTED[model]
    assert _io(data["inputs"]) == _io(expected["inputs"])
    assert {o["name"] for o in data["outputs"]} == _expected_outputs(model, name), data["ignored_sinks"]
    assert _losses(GRAPHS / name) <= set(data["ignored_sinks"].get("training", ()))
    assert [s["name"] for s in data["switches"]] == expected["switches"]
    totals = data["variable_totals"]
    want = expected["variables"]
    assert (totals["count"], totals["elements"], totals["bytes"]) == (want["count"], want["elements"], want["bytes"])
    got = {(v["name"], v["dtype"], tuple(v["shape"])) for v in data["variables"]}
    assert got == {(v["name"], v["dtype"], tuple(v["shape"])) for v in want["items"]}
    if name.endswith(".meta"):
        assert totals["trainable_count"] == want["trainable_count"]
        assert data["meta_graph"]["saver"]["version"] == "V2"
    else:
        assert totals["trainable_count"] is None, "a bare GraphDef does not say which variables are trainable"
        assert data["meta_graph"] is None


@pytest.mark.parametrize("name", SAVED_MODELS)
def test_saved_models_match_recorded_answers(capsys: pytest.CaptureFixture[str], name: str) -> None:
    data = _inspect_json(capsys, str(GRAPHS / name))
    expected = EXPECTED[name]
    assert data["saved_model"]["tag_sets"] == expected["tag_sets"]
    assert data["saved_model"]["tags"] == ["serve"]
    totals = data["variable_totals"]
    want = expected["variables"]
    assert (totals["count"], totals["elements"], totals["bytes"], totals["trainable_count"]) == (
        want["count"], want["elements"], want["bytes"], want["trainable_count"])
    signature = data["meta_graph"]["signatures"]["serving_default"]
    for direction in ("inputs", "outputs"):
        got = {k: (v["dtype"], v["shape"]) for k, v in signature[direction].items()}
        want_sig = expected["signatures"]["serving_default"][direction]
        assert got == {k: (v["dtype"], v["shape"]) for k, v in want_sig.items()}
    # The signature's tensors are the graph's inputs and candidate outputs.
    sig_inputs = {node_name(v["name"]) for v in signature["inputs"].values()}
    sig_outputs = {node_name(v["name"]) for v in signature["outputs"].values()}
    assert {i["name"] for i in data["inputs"]} == sig_inputs
    assert {o["name"] for o in data["outputs"]} == sig_outputs
    if "inputs" in expected:
        assert _io(data["inputs"]) == _io(expected["inputs"])
        assert [o["name"] for o in data["outputs"]] == expected["outputs"]


def test_saved_model_second_tag_set(capsys: pytest.CaptureFixture[str]) -> None:
    for flag in ("--tags", "--saved_model_tags", "--saved-model-tags"):
        data = _inspect_json(capsys, str(GRAPHS / "saved_model_tf1"), flag, "gpu,train")
        assert set(data["saved_model"]["tags"]) == {"train", "gpu"}
        assert data["meta_graph"]["signatures"] == {}


def test_switches_say_what_to_feed(capsys: pytest.CaptureFixture[str]) -> None:
    mlp = _inspect_json(capsys, str(GRAPHS / "mlp.meta"))["switches"]
    assert [(s["name"], s["has_default"], s["default"], s["feed"]) for s in mlp] == [("keep_prob", True, 1.0, 1.0)]
    cnn = _inspect_json(capsys, str(GRAPHS / "cnn_bn.pb"))["switches"]
    got = [(s["name"], s["dtype"], s["has_default"], s["feed"]) for s in cnn]
    assert got == [("is_training", "bool", False, False)]


def test_outputs_name_the_inputs_they_need(capsys: pytest.CaptureFixture[str]) -> None:
    outputs = {o["name"]: o for o in _inspect_json(capsys, str(GRAPHS / "cnn_bn.meta"))["outputs"]}
    assert outputs["probs"]["feeds"] == ["images", "is_training"]
    assert "sparse_softmax_cross_entropy_loss/value" not in outputs  # in the losses collection
    pb_outputs = {o["name"]: o for o in _inspect_json(capsys, str(GRAPHS / "cnn_bn.pb"))["outputs"]}
    assert pb_outputs["sparse_softmax_cross_entropy_loss/value"]["feeds"] == ["images", "is_training", "labels"]
    assert (outputs["probs"]["dtype"], outputs["probs"]["shape"]) == ("float32", [-1, 3])
    assert (outputs["classes"]["op"], outputs["classes"]["dtype"]) == ("ArgMax", "int64")


def test_machinery_is_set_aside_with_reasons(capsys: pytest.CaptureFixture[str]) -> None:
    ignored = _inspect_json(capsys, str(GRAPHS / "mlp.meta"))["ignored_sinks"]
    assert "init" in ignored["initializer"]
    assert "save/restore_all" in ignored["saver"]
    assert "Merge/MergeSummary" in ignored["summary"]
    assert "train_op" in ignored["training"]
    assert all(not n.startswith("gradients/") for reason, names in ignored.items() if reason != "training"
               for n in names)


def test_example_classifier(capsys: pytest.CaptureFixture[str]) -> None:
    data = _inspect_json(capsys, str(ROOT / "examples" / "classifier" / "model.ckpt-100.meta"))
    inputs = {i["name"]: i for i in data["inputs"]}
    assert (inputs["input"]["dtype"], inputs["input"]["shape"]) == ("float32", [-1, 28, 28, 1])
    assert {s["name"]: s["feed"] for s in data["switches"]} == {"keep_prob": 1.0, "is_training": False}
    assert [o["name"] for o in data["outputs"]] == ["probs"]
    assert "sparse_softmax_cross_entropy_loss/value" in data["ignored_sinks"]["training"]
    names = {v["name"] for v in data["variables"]}
    assert {"conv1/bn/moving_mean", "conv1/bn/moving_variance", "fc2/kernel", "global_step"} <= names


def test_human_output_is_aligned_and_greppable(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(GRAPHS / "cnn_bn.meta")]) == 0
    lines = capsys.readouterr().out.splitlines()
    by_kind: dict[str, list[str]] = {}
    for line in lines:
        by_kind.setdefault(line.split()[0], []).append(line)
    assert [line.split()[1] for line in by_kind["input"]] == ["images", "labels", "is_training"]
    assert {line.split()[1] for line in by_kind["output"]} == _expected_outputs("cnn_bn", "cnn_bn.meta")
    assert by_kind["switch"][0].split()[1:3] == ["is_training", "bool"]
    assert re.match(r"variables\s+7 variables, 823 elements, 3\.2 KiB, 5 trainable$", by_kind["variables"][0])
    for kind in ("input", "output", "variable", "op"):
        # Every column starts at the same offset on every line of a kind.
        starts = {tuple(m.start() for m in re.finditer(r"(?<=  )\S", line)) for line in by_kind[kind]}
        assert len(starts) == 1, f"{kind} lines are not aligned: {by_kind[kind]}"
    # The kind column has one width everywhere.
    assert len({len(line) - len(line[11:].lstrip()) for line in lines if len(line.split()[0]) < 11}) == 1


def test_all_lists_ignored_sinks(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", "--all", str(GRAPHS / "mlp.meta")]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^ignored\s+saver\s+save/restore_all$", out, re.MULTILINE)
    assert main(["inspect", str(GRAPHS / "mlp.meta")]) == 0
    assert re.search(r"^ignored\s+2 saver$", capsys.readouterr().out, re.MULTILINE)


def test_node_lookup(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(GRAPHS / "mlp.pb"), "--tensor", "probs:0"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^op\s+Softmax$", out, re.MULTILINE) and re.search(r"^consumer\s+topk$", out, re.MULTILINE)
    assert main(["inspect", str(GRAPHS / "mlp.pb"), "--tensor", "prob"]) == 1
    err = capsys.readouterr().err
    assert "node 'prob' not found" in err and "'probs'" in err and "mlp.pb" in err


def test_why(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(GRAPHS / "cnn_bn.meta"), "--outputs", "probs", "--why", "bn1/moving_mean"]) == 0
    steps = [line.split()[2] for line in capsys.readouterr().out.splitlines()]
    assert steps[0] == "bn1/moving_mean" and steps[-1] == "probs" and len(steps) > 2
    data = _inspect_json(capsys, str(GRAPHS / "cnn_bn.meta"), "--outputs", "probs", "--why", "bn1/moving_mean")
    assert data["path"] == steps
    assert main(["inspect", str(GRAPHS / "cnn_bn.meta"), "--why", "bn1/moving_mean"]) == 1
    assert "--outputs" in capsys.readouterr().err


def test_checkpoint_path_goes_to_the_checkpoint_view(capsys: pytest.CaptureFixture[str]) -> None:
    from graphsurgeon.formats import checkpoint

    prefix = ROOT / "examples" / "classifier" / "model.ckpt-100"
    if not hasattr(checkpoint, "is_checkpoint_path"):
        pytest.skip("the checkpoint reader has not landed")
    assert main(["inspect", "--json", str(prefix)]) == 0
    out = capsys.readouterr().out
    assert "conv1/kernel" in out and '"node_count"' not in out


def test_summarize_accepts_a_bare_graph_def() -> None:
    graph = load_graph(GRAPHS / "while_loop.pb").graph_def
    data = summarize(graph)
    assert data["kind"] == "GraphDef" and data["path"] is None
    assert [o["name"] for o in data["outputs"]] == ["result"]
    json.dumps(data)  # plain data only


# --- with TensorFlow: ask TF itself about the committed files ---------------------------------


def _tf_graph_answers(tf, graph) -> dict:  # noqa: ANN001
    """Placeholders (minus the saver's) and sink ops of a tf.Graph."""
    placeholders = set()
    sinks = set()
    for op in graph.get_operations():
        # TensorFlow's loader adds its own Saver (save_1/...) when it restores a SavedModel.
        if op.type in ("Placeholder", "PlaceholderWithDefault") and not re.match(r"save(_\d+)?/", op.name):
            t = op.outputs[0]
            shape = None if t.shape.rank is None else tuple(-1 if d is None else d for d in t.shape.as_list())
            placeholders.add((op.name, t.dtype.name, shape))
        if not op._control_outputs and all(not t.consumers() for t in op.outputs):
            sinks.add(op.name)
    return {"inputs": placeholders, "sinks": sinks}


def _tf_variable_totals(tf, variables) -> tuple[int, int, int]:  # noqa: ANN001
    elements = sum(v.shape.num_elements() for v in variables)
    nbytes = sum(v.shape.num_elements() * v.dtype.base_dtype.size for v in variables)
    return len(variables), elements, nbytes


@pytest.mark.tf
@pytest.mark.parametrize("model", TF1_MODELS)
def test_tf1_graphs_against_tensorflow(capsys: pytest.CaptureFixture[str], model: str) -> None:
    import tensorflow as tf

    v1 = tf.compat.v1
    with tf.Graph().as_default() as graph:
        v1.train.import_meta_graph(str(GRAPHS / f"{model}.meta"))
        tf_totals = _tf_variable_totals(tf, v1.global_variables())
        tf_trainable = len(v1.trainable_variables())
    answers = _tf_graph_answers(tf, graph)
    for suffix in (".pb", ".pbtxt", ".meta", "_text.meta"):
        data = _inspect_json(capsys, str(GRAPHS / f"{model}{suffix}"))
        totals = data["variable_totals"]
        assert (totals["count"], totals["elements"], totals["bytes"]) == tf_totals, suffix
        if suffix.endswith(".meta"):
            assert totals["trainable_count"] == tf_trainable
        assert _io(data["inputs"]) == answers["inputs"], suffix
        ours = {o["name"] for o in data["outputs"]}
        assert ours <= answers["sinks"], f"{suffix}: {ours - answers['sinks']} are consumed in TensorFlow's graph"
        assert ours == _expected_outputs(model, f"{model}{suffix}"), suffix
    with tf.Graph().as_default() as graph:
        graph_def = v1.GraphDef()
        graph_def.ParseFromString((GRAPHS / f"{model}.pb").read_bytes())
        v1.import_graph_def(graph_def, name="")
    assert _tf_graph_answers(tf, graph) == answers


@pytest.mark.tf
@pytest.mark.parametrize("name", ["saved_model_tf1", "saved_model_tf1_text"])
def test_tf1_saved_models_against_tensorflow(capsys: pytest.CaptureFixture[str], name: str) -> None:
    import tensorflow as tf

    v1 = tf.compat.v1
    for tags in (["serve"], ["train", "gpu"]) if name == "saved_model_tf1" else (["serve"],):
        with tf.Graph().as_default() as graph, v1.Session(graph=graph) as sess:
            meta = v1.saved_model.loader.load(sess, tags, str(GRAPHS / name))
            tf_totals = _tf_variable_totals(tf, v1.global_variables())
            answers = _tf_graph_answers(tf, graph)
        data = _inspect_json(capsys, str(GRAPHS / name), "--tags", ",".join(tags))
        totals = data["variable_totals"]
        assert (totals["count"], totals["elements"], totals["bytes"]) == tf_totals
        assert _io(data["inputs"]) == answers["inputs"]
        assert {o["name"] for o in data["outputs"]} <= answers["sinks"]
        signatures = data["meta_graph"]["signatures"]
        assert set(signatures) == set(meta.signature_def)
        for key, sig in meta.signature_def.items():
            for direction in ("inputs", "outputs"):
                theirs = {k: (v.name, tf.dtypes.as_dtype(v.dtype).name) for k, v in getattr(sig, direction).items()}
                ours = {k: (v["name"], v["dtype"]) for k, v in signatures[key][direction].items()}
                assert ours == theirs


@pytest.mark.tf
def test_keras_saved_model_against_tensorflow(capsys: pytest.CaptureFixture[str]) -> None:
    import tensorflow as tf

    directory = GRAPHS / "saved_model_keras"
    loaded = tf.saved_model.load(str(directory))
    fn = loaded.signatures["serving_default"]
    data = _inspect_json(capsys, str(directory))
    signature = data["meta_graph"]["signatures"]["serving_default"]
    theirs_in = {k: (v.dtype.name, [-1 if d is None else d for d in v.shape.as_list()])
                 for k, v in fn.structured_input_signature[1].items()}
    theirs_out = {k: (v.dtype.name, [-1 if d is None else d for d in v.shape.as_list()])
                  for k, v in fn.structured_outputs.items()}
    assert {k: (v["dtype"], v["shape"]) for k, v in signature["inputs"].items()} == theirs_in
    assert {k: (v["dtype"], v["shape"]) for k, v in signature["outputs"].items()} == theirs_out
    stored = [(name, shape) for name, shape in tf.train.list_variables(str(directory / "variables" / "variables"))
              if name.endswith("/.ATTRIBUTES/VARIABLE_VALUE") and "optimizer" not in name]
    elements = sum(int(tf.TensorShape(shape).num_elements()) for _, shape in stored)
    assert (data["variable_totals"]["count"], data["variable_totals"]["elements"]) == (len(stored), elements)


def test_tensor_prints_attr_values(capsys: pytest.CaptureFixture[str]) -> None:
    """``--tensor`` on a TF-made If node shows its branch function names, dtypes and shapes."""
    path = ROOT / "tests" / "fixtures" / "freeze" / "control_flow_v2" / "graph.pb"
    graph_def = load_graph(path).graph_def
    node = next(n for n in graph_def.node if n.op in ("If", "StatelessIf"))
    assert main(["inspect", str(path), "--tensor", node.name]) == 0
    out = capsys.readouterr().out
    assert re.search(rf"^attr\s+then_branch\s+{re.escape(node.attr['then_branch'].func.name)}$", out, re.MULTILINE)
    assert re.search(rf"^attr\s+else_branch\s+{re.escape(node.attr['else_branch'].func.name)}$", out, re.MULTILINE)
    assert re.search(r"^attr\s+Tcond\s+bool$", out, re.MULTILINE)
    assert re.search(r"^attr\s+output_shapes\s+\[\[\?,3\]\]$", out, re.MULTILINE)
    data = _inspect_json(capsys, str(path), "--tensor", node.name)
    assert data["attr_values"]["then_branch"] == node.attr["then_branch"].func.name
    assert data["attrs"] == sorted(node.attr)
    assert main(["inspect", str(GRAPHS / "mlp.pb"), "--tensor", "head/biases"]) == 0
    assert re.search(r"^attr\s+shape\s+\[3\]$", capsys.readouterr().out, re.MULTILINE)

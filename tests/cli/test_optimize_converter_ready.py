"""gs optimize --inline and --converter-ready on a TF2 SavedModel freeze (function calls), and the warning
when functional control flow is left; the values are checked in TensorFlow."""

from __future__ import annotations

import collections
import json
import pathlib

import numpy as np
import pytest

from graphsurgeon.cli import main
from graphsurgeon.formats.model import load_graph

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
KERAS_EXPORT = ROOT / "tests" / "fixtures" / "tf2" / "keras3_cnn"
CONTROL_FLOW_V2 = ROOT / "tests" / "fixtures" / "freeze" / "control_flow_v2"
CALLS = {"PartitionedCall", "StatefulPartitionedCall"}


@pytest.fixture(scope="module")
def frozen(tmp_path_factory) -> pathlib.Path:
    path = tmp_path_factory.mktemp("converter_ready") / "frozen.pb"
    assert main(["freeze", "--input_saved_model_dir", str(KERAS_EXPORT), "-o", str(path)]) == 0
    return path


def _ops(path: pathlib.Path) -> collections.Counter:
    return collections.Counter(n.op for n in load_graph(path).graph_def.node)


def test_inline_and_converter_ready(frozen, tmp_path, capsys):
    assert _ops(frozen)["StatefulPartitionedCall"] == 1
    inlined, ready = tmp_path / "inlined.pb", tmp_path / "ready.pb"
    capsys.readouterr()
    assert main(["optimize", str(frozen), "--outputs", "StatefulPartitionedCall:0", "--inline", "-o",
                 str(inlined)]) == 0
    assert "pass   inline_calls" in capsys.readouterr().out
    ops = _ops(inlined)
    assert not CALLS & set(ops), ops
    assert main(["optimize", str(frozen), "--outputs", "StatefulPartitionedCall:0", "--converter-ready", "-o",
                 str(ready)]) == 0
    captured = capsys.readouterr()
    assert "warning" not in captured.err, captured.err
    graph_def = load_graph(ready).graph_def
    by_name = {n.name: n for n in graph_def.node}
    assert by_name["StatefulPartitionedCall"].op == "Identity", "the requested output keeps its name"
    ops = collections.Counter(n.op for n in graph_def.node)
    assert not {"IdentityN", "NoOp", "FusedBatchNormV3"} & set(ops) and ops["Identity"] == 1, ops
    assert not graph_def.library.function
    assert not [x for n in graph_def.node for x in n.input if x.startswith("^")], "control edges left"


@pytest.mark.tf
def test_converter_ready_values(frozen, tmp_path):
    ready = tmp_path / "ready.pb"
    assert main(["optimize", str(frozen), "--outputs", "StatefulPartitionedCall:0", "--converter-ready", "-o",
                 str(ready)]) == 0
    import tensorflow as tf

    signature = json.loads(frozen.with_name("frozen.pb.signature.json").read_text())
    (input_,) = signature["inputs"].values()
    x = np.linspace(-1, 1, 2 * 8 * 8 * 3, dtype=np.float32).reshape(2, 8, 8, 3)
    got = []
    for path in (frozen, ready):
        with tf.Graph().as_default() as graph:
            tf.import_graph_def(tf.compat.v1.GraphDef.FromString(path.read_bytes()), name="")
        with tf.compat.v1.Session(graph=graph) as sess:
            got.append(sess.run("StatefulPartitionedCall:0", {input_: x}))
    np.testing.assert_allclose(got[1], got[0], rtol=1e-5, atol=1e-6)


def test_converter_ready_warns_of_what_is_left(tmp_path, capsys):
    """control_flow_v2: the If on a placeholder and a While stay; the warning names them."""
    frozen, ready = tmp_path / "frozen.pb", tmp_path / "ready.pb"
    assert main(["freeze", "--input_checkpoint", str(CONTROL_FLOW_V2 / "model.ckpt"), "--output_node_names", "out",
                 "-o", str(frozen)]) == 0
    capsys.readouterr()
    assert main(["optimize", str(frozen), "--outputs", "out", "--converter-ready", "-o", str(ready)]) == 0
    err = capsys.readouterr().err
    assert "gs: warning: 1 If, 1 While left (gs -v optimize ... says why)" in err, err
    assert main(["optimize", str(frozen), "--outputs", "out", "--converter-ready", "--bind", "flag=false",
                 "-o", str(ready)]) == 0
    err = capsys.readouterr().err
    assert "gs: warning: 1 While left" in err, err
    # Without --converter-ready: a note, since an If on a placeholder is what keeps batch norms unfolded.
    assert main(["optimize", str(frozen), "--outputs", "out", "-o", str(ready)]) == 0
    captured = capsys.readouterr()
    assert "note   1 If kept: the condition is not constant" in captured.out and not captured.err, captured

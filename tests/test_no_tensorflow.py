"""graphsurgeon's core never imports TensorFlow; our protos and TensorFlow's live side by side."""

from __future__ import annotations

import pathlib
import subprocess
import sys
import textwrap

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
GRAPHS = ROOT / "tests" / "fixtures" / "graphs"

# Runs in a fresh interpreter: an import hook makes any attempt to import tensorflow fail loudly,
# and at the end sys.modules must not hold it either.
SCRIPT = textwrap.dedent('''
    import importlib.abc, io, contextlib, sys

    class NoTensorFlow(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "tensorflow" or name.startswith("tensorflow."):
                raise ImportError(f"graphsurgeon imported {name}")
            return None

    sys.meta_path.insert(0, NoTensorFlow())
    import graphsurgeon as gs
    from graphsurgeon.cli import main

    graphs = sys.argv[1]
    for name in ("mlp.pb", "cnn_bn.pbtxt", "while_loop.meta", "mlp_text.meta", "saved_model_keras",
                 "saved_model_tf1"):
        loaded = gs.load_graph(f"{graphs}/{name}")
        gs.summarize(loaded)
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(["inspect", f"{graphs}/{name}"]) == 0
            assert main(["inspect", "--json", f"{graphs}/{name}"]) == 0

    # --- freeze: the freeze helper adds a gs.freeze / `gs freeze` call on the example here ---
    import os, tempfile
    frozen_dir = os.path.join(graphs, os.pardir, "freeze")
    result = gs.freeze(f"{frozen_dir}/batchnorm_resource/graph.pb", f"{frozen_dir}/batchnorm_resource/model.ckpt",
                       ["out"], bind={"is_training": False})
    assert result.converted and not {n.op for n in result.graph_def.node} & {"VarHandleOp", "ReadVariableOp"}
    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()):
        assert main(["freeze", "--input_checkpoint", f"{frozen_dir}/lstm_resource/model.ckpt",
                     "--output_node_names", "final_h", "--output_graph", f"{tmp}/f.pb"]) == 0
        assert main(["constify", f"{frozen_dir}/partitioned/graph.pb", "--checkpoint",
                     f"{frozen_dir}/partitioned/model.ckpt", "-o", f"{tmp}/c.pb"]) == 0

    leaked = sorted(m for m in sys.modules if m == "tensorflow" or m.startswith("tensorflow."))
    assert not leaked, leaked
    print("ok")
''')


def test_loading_and_inspecting_never_imports_tensorflow() -> None:
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(GRAPHS)], capture_output=True, text=True,
                            timeout=300, cwd=ROOT)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-3000:]


@pytest.mark.tf
def test_our_protos_and_tensorflows_in_one_process() -> None:
    """Both sets of generated classes coexist, and parse the same bytes to the same bytes."""
    from google.protobuf import text_format
    from tensorflow.core.framework import graph_pb2 as tf_graph_pb2
    from tensorflow.core.protobuf import meta_graph_pb2 as tf_meta_graph_pb2
    from tensorflow.core.protobuf import saved_model_pb2 as tf_saved_model_pb2

    from graphsurgeon._proto import graph_pb2, meta_graph_pb2, saved_model_pb2

    cases = [
        (GRAPHS / "cnn_bn.pb", graph_pb2.GraphDef, tf_graph_pb2.GraphDef),
        (GRAPHS / "mlp.meta", meta_graph_pb2.MetaGraphDef, tf_meta_graph_pb2.MetaGraphDef),
        (GRAPHS / "saved_model_keras" / "saved_model.pb", saved_model_pb2.SavedModel, tf_saved_model_pb2.SavedModel),
    ]
    for path, ours_type, theirs_type in cases:
        data = path.read_bytes()
        ours, theirs = ours_type.FromString(data), theirs_type.FromString(data)
        assert ours.SerializeToString() == theirs.SerializeToString(), path
        assert ours.SerializeToString(deterministic=True) == theirs.SerializeToString(deterministic=True), path
        assert text_format.MessageToString(ours) == text_format.MessageToString(theirs), path
        assert not isinstance(ours, theirs_type) and type(ours).DESCRIPTOR.full_name.startswith("graphsurgeon.tf.")
        # Text written by one parses in the other.
        back = ours_type()
        text_format.Parse(text_format.MessageToString(theirs), back)
        assert back == ours

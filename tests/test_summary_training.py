"""gs inspect's candidate outputs on TensorFlow-made training graphs (tf_keras and TF-Slim): the
model's real output comes first, not behind losses, regularizers, metrics and optimizer nodes."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import pytest

from graphsurgeon.formats.model import load_graph
from graphsurgeon.graph.names import node_name
from graphsurgeon.summary import summarize

FIXTURES = pathlib.Path(__file__).parent / "fixtures"
PARITY = FIXTURES / "parity"
TRAINING = ["keras_training", "keras_training_cf2", "slim_weight_decay", "slim_weight_decay_net"]


def _check(directory: pathlib.Path) -> dict:
    spec = json.loads((directory / "spec.json").read_text())
    data = summarize(load_graph(directory / spec["graph"]))
    names = [o["name"] for o in data["outputs"]]
    real = node_name(spec["outputs"][0])
    assert real in names[:3], f"{real} is not among the first 3 candidates: {names[:10]}"
    assert not [n for n in names if "Regularizer/" in n or n.startswith(("training/", "loss/", "metrics/"))], names
    return data


@pytest.mark.parametrize("name", TRAINING)
def test_real_output_first_on_training_graphs(name: str) -> None:
    data = _check(PARITY / name)
    assert len(data["outputs"]) <= 3
    if name == "slim_weight_decay_net":  # unconsumed regularizers (in the trained graph the loss reads them)
        assert any(n.endswith("Regularizer/l2_regularizer") for n in data["ignored_sinks"]["training"])


def test_cond_v2_gradient_intermediates_are_not_outputs() -> None:
    data = summarize(load_graph(PARITY / "keras_training_cf2" / "model.meta"))
    assert "If" in data["op_types"] or "StatelessIf" in data["op_types"]
    assert any("/cond/Identity_" in n for n in data["ignored_sinks"]["control flow"])
    assert all(o["dtype"] != "variant" for o in data["outputs"])


def test_regularizers_left_out_without_collections() -> None:
    """The same TF-Slim net as a bare GraphDef (no collections): the regularizers are still training."""
    loaded = load_graph(PARITY / "slim_weight_decay_net" / "model.meta")
    names = [o["name"] for o in summarize(loaded.graph_def)["outputs"]]
    assert names == ["small/logits/BiasAdd"]


@pytest.mark.tf
@pytest.mark.parametrize("name", ["keras_mobilenet_v2", "slim_vgg_16"])
def test_real_output_first_on_full_size_nets(tmp_path: pathlib.Path, name: str) -> None:
    """tf_keras MobileNetV2 (control flow v2) and TF-Slim VGG-16 with weight decay, made by TensorFlow in
    a subprocess (too big to commit)."""
    subprocess.run([sys.executable, str(FIXTURES / "make_parity_fixtures.py"), "--only", name,
                    "--out", str(tmp_path)], check=True, capture_output=True)
    _check(tmp_path / name)

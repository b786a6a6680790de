"""optimize() on every freeze fixture (batch norm under cond, resource variables, v1 while loops /
LSTMs, tables, every dtype ...): the result is still a sound frozen graph, the input is untouched,
and TensorFlow gives the recorded outputs of the original model on every recorded feed set."""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest

from graphsurgeon.graph.check import check_graph
from graphsurgeon.graph.names import parse_input
from graphsurgeon.rewrite.freeze import freeze
from graphsurgeon.rewrite.optimize import optimize_graph

FREEZE = pathlib.Path(__file__).parent.parent / "fixtures" / "freeze"
MODELS = sorted(p.parent.name for p in FREEZE.glob("*/spec.json"))


def _optimized(name: str):
    base = FREEZE / name
    spec = json.loads((base / "spec.json").read_text())
    checkpoint = base / spec["checkpoint"] if spec.get("checkpoint") else None
    inits = list(spec.get("initializer_nodes") or ())
    frozen = freeze(base / spec["graph"], checkpoint, spec["outputs"], clear_devices=True,
                    initializer_nodes=inits, bind=spec.get("bind")).graph_def
    before = frozen.SerializeToString()
    result = optimize_graph(frozen, list(spec["outputs"]) + inits)
    assert frozen.SerializeToString() == before, "optimize modified its input"
    return spec, inits, frozen, result.graph_def


@pytest.mark.parametrize("name", MODELS)
def test_optimized_freeze_fixtures_are_sound(name):
    spec, _, frozen, optimized = _optimized(name)
    check_graph(optimized, source=f"optimized {name}")
    names = {n.name for n in optimized.node}
    for output in spec["outputs"]:
        assert parse_input(output).node in names, f"output {output} lost"
    assert len(optimized.node) <= len(frozen.node)


@pytest.mark.tf
@pytest.mark.parametrize("name", MODELS)
def test_optimized_freeze_fixtures_match_tensorflow(name):
    import tensorflow as tf

    spec, inits, _, optimized = _optimized(name)
    present = {n.name for n in optimized.node}
    bound = set(spec.get("bind") or ())
    with tf.Graph().as_default() as graph:
        tf.import_graph_def(tf.compat.v1.GraphDef.FromString(optimized.SerializeToString()), name="")
    with tf.compat.v1.Session(graph=graph) as sess:
        for init in inits:
            sess.run(init)
        for file in spec["expected"]:
            expected = np.load(FREEZE / name / file, allow_pickle=True)
            feeds = {k[3:]: expected[k] for k in expected.files if k.startswith("in:")
                     and parse_input(k[3:]).node in present and parse_input(k[3:]).node not in bound}
            values = sess.run(list(spec["outputs"]), feeds)
            for output, value in zip(spec["outputs"], values):
                want = expected[f"out:{output}"]
                value = np.asarray(value)
                if want.dtype == object or want.dtype.kind in "biuSU" or spec["tolerance"] == 0:
                    np.testing.assert_array_equal(value.astype(want.dtype), want, err_msg=f"{name} {file} {output}")
                else:
                    np.testing.assert_allclose(value, want, rtol=spec["tolerance"], atol=spec["tolerance"],
                                               err_msg=f"{name} {file} {output}")

"""tf_keras ResNet50 (weights=None, 32x32) built in TF1 graph mode: after binding keras_learning_phase=false
(optimize's default), no If is left and every batch norm is folded; outputs equal TensorFlow's."""

from __future__ import annotations

import numpy as np
import pytest
from keras_graph_mode import assert_inference_graph, build, ops_of, run_frozen

from graphsurgeon.rewrite.optimize import optimize_graph


@pytest.mark.tf
@pytest.mark.slow
def test_tf_keras_resnet50(tmp_path):
    case = build(tmp_path, lambda keras: keras.applications.ResNet50(input_shape=(32, 32, 3), weights=None, classes=10))
    frozen = case.freeze().graph_def
    assert ops_of(frozen)["If"] + ops_of(frozen)["StatelessIf"] > 0
    result = optimize_graph(frozen, [case.output_node], bind={"keras_learning_phase": False})
    assert_inference_graph(result.graph_def, "ResNet50")
    got = run_frozen(result.graph_def, case.output, {case.input: case.x})
    np.testing.assert_allclose(got, case.expected, rtol=1e-4, atol=1e-6)

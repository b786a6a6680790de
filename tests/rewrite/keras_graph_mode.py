"""tf_keras models built in TF1 graph mode (a ``tf.Graph``, a Saver checkpoint), as TF 2.x builds them:
batch norm and dropout behind functional ``If`` nodes on ``keras_learning_phase``. Used by the
control-flow and converter tests; TensorFlow and tf_keras are imported when a model is built."""

from __future__ import annotations

import collections
import dataclasses
import os
import pathlib
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import graphsurgeon as gs

BATCH_NORM_OPS = {"FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3", "BatchNormWithGlobalNormalization"}


def ops_of(graph_def) -> collections.Counter:
    return collections.Counter(n.op for n in graph_def.node)


def assert_inference_graph(graph_def, what: str) -> None:
    ops = ops_of(graph_def)
    left = {op: ops[op] for op in ("If", "StatelessIf", "Case", "StatelessCase", "IdentityN") if ops[op]}
    assert not left, f"{what}: {left} left"
    bn = {op: ops[op] for op in BATCH_NORM_OPS if ops[op]}
    assert not bn, f"{what}: batch norms not folded: {bn}"
    functions = [f.signature.name for f in graph_def.library.function]
    assert not functions, f"{what}: functions left: {functions}"


@dataclasses.dataclass
class KerasCase:
    meta: pathlib.Path
    checkpoint: pathlib.Path
    input: str  # tensor name
    output: str  # tensor name
    x: np.ndarray
    expected: np.ndarray  # TF's output for x at inference (learning phase 0)

    @property
    def output_node(self) -> str:
        return self.output.split(":")[0]

    @property
    def input_node(self) -> str:
        return self.input.split(":")[0]

    def freeze(self, **kwargs: Any) -> gs.FreezeResult:
        return gs.freeze(self.meta, self.checkpoint, [self.output_node], **kwargs)


def small_cnn(keras: Any) -> Any:
    """Conv, batch norm, ReLU, dropout, pooling, dense: two If (batch norm, dropout) and a StatelessIf."""
    return keras.Sequential([
        keras.layers.Conv2D(6, 3, padding="same", input_shape=(8, 8, 3), name="conv"),
        keras.layers.BatchNormalization(name="bn"),
        keras.layers.ReLU(name="relu"),
        keras.layers.Dropout(0.3, name="drop"),
        keras.layers.GlobalAveragePooling2D(name="pool"),
        keras.layers.Dense(4, activation="softmax", name="probs"),
    ])


def build(tmp_path: pathlib.Path, make_model: Callable[[Any], Any], batch: int = 2, seed: int = 0) -> KerasCase:
    """Builds ``make_model(keras)`` in a fresh ``tf.Graph`` with random weights and batch-norm statistics (so
    that folding them is visible), runs it at inference, and saves a checkpoint with its .meta."""
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    import tensorflow as tf

    keras = pytest.importorskip("tf_keras", reason="tf_keras is not installed (TF1 graph-mode Keras models)")
    from tf_keras.src import backend as keras_backend  # get_session is not exported by tf_keras 2.x

    rng = np.random.default_rng(seed)
    keras.backend.clear_session()
    try:
        with tf.Graph().as_default() as graph:
            keras.utils.set_random_seed(seed)
            model = make_model(keras)
            sess = keras_backend.get_session()
            updates = []
            for layer in model.layers:
                if isinstance(layer, keras.layers.BatchNormalization):
                    for var, low, high in ((layer.moving_mean, -0.5, 0.5), (layer.moving_variance, 0.5, 1.5),
                                           (layer.gamma, 0.5, 1.5), (layer.beta, -0.5, 0.5)):
                        if var is not None:
                            updates.append(var.assign(rng.uniform(low, high, var.shape).astype(np.float32)))
            sess.run(updates)
            x = rng.uniform(0, 1, (batch, *model.input.shape[1:])).astype(np.float32)
            expected = sess.run(model.output, {model.input: x})
            saver = tf.compat.v1.train.Saver()
            prefix = saver.save(sess, str(tmp_path / "model.ckpt"))
            ops = collections.Counter(n.op for n in graph.as_graph_def().node)
            assert ops["If"] + ops["StatelessIf"] > 0, f"tf_keras built no functional If: {ops}"
            return KerasCase(pathlib.Path(prefix + ".meta"), pathlib.Path(prefix), model.input.name,
                             model.output.name, x, expected)
    finally:
        keras.backend.clear_session()


def run_frozen(graph_def: Any, fetch: str, feeds: dict[str, np.ndarray]) -> np.ndarray:
    """Runs a GraphDef in a TF session."""
    import tensorflow as tf

    with tf.Graph().as_default() as graph:
        tf.import_graph_def(tf.compat.v1.GraphDef.FromString(graph_def.SerializeToString()), name="")
    with tf.compat.v1.Session(graph=graph) as sess:
        return sess.run(fetch, feeds)

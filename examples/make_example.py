"""Makes examples/classifier/: a small TF1-style image classifier, trained 100 steps on random data.

    TF_USE_LEGACY_KERAS=1 python examples/make_example.py

The graph is built the way TF1 training scripts built them (ref variables, v1 control flow,
tf.compat.v1.layers, an Adam optimizer, a Saver), so it has everything that makes freezing hard:
batch norm with moving averages behind an ``is_training`` switch, dropout behind ``keep_prob``,
optimizer slots, saver and initializer machinery. Written files:

    classifier/model.ckpt-100.meta                  the MetaGraphDef (graph + SaverDef + collections)
    classifier/model.ckpt-100.index                 the checkpoint index (tensor bundle)
    classifier/model.ckpt-100.data-00000-of-00001   the variable values
    classifier/checkpoint                           CheckpointState naming model.ckpt-100

Inputs: ``input`` float32 [None, 28, 28, 1]; ``keep_prob`` float32 scalar (default 1.0);
``is_training`` bool scalar (default False). Outputs: ``logits`` [None, 10], ``probs`` (softmax).
"""

from __future__ import annotations

import importlib
import os
import pathlib
import shutil
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

OUT = pathlib.Path(__file__).resolve().parent / "classifier"
v1 = tf.compat.v1


def main() -> None:
    import tf_keras  # noqa: F401  (tf.compat.v1.layers lives in tf_keras since TF 2.16)

    sys.modules.setdefault("tf_keras.legacy_tf_layers", importlib.import_module("tf_keras.src.legacy_tf_layers"))
    v1.disable_v2_behavior()
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    graph = tf.Graph()
    with graph.as_default():
        v1.set_random_seed(0)
        images = v1.placeholder(tf.float32, [None, 28, 28, 1], name="input")
        labels = v1.placeholder(tf.int64, [None], name="labels")
        keep_prob = v1.placeholder_with_default(1.0, [], name="keep_prob")
        is_training = v1.placeholder_with_default(False, [], name="is_training")
        net = v1.layers.conv2d(images, 4, 5, strides=2, padding="same", use_bias=False, name="conv1")
        net = v1.layers.batch_normalization(net, training=is_training, name="conv1/bn")
        net = tf.nn.relu(net)
        net = v1.layers.max_pooling2d(net, 2, 2, name="pool1")
        net = v1.layers.flatten(net, name="flatten")
        net = v1.layers.dense(net, 32, activation=tf.nn.relu, name="fc1")
        net = tf.nn.dropout(net, rate=1.0 - keep_prob)
        logits = tf.identity(v1.layers.dense(net, 10, name="fc2"), name="logits")
        tf.nn.softmax(logits, name="probs")
        loss = v1.losses.sparse_softmax_cross_entropy(labels, logits)
        global_step = v1.train.get_or_create_global_step()
        with tf.control_dependencies(v1.get_collection(v1.GraphKeys.UPDATE_OPS)):
            train_op = v1.train.AdamOptimizer(1e-3).minimize(loss, global_step=global_step)
        init = v1.global_variables_initializer()
        saver = v1.train.Saver(save_relative_paths=True)

    rng = np.random.default_rng(0)
    with v1.Session(graph=graph) as sess:
        sess.run(init)
        for _ in range(100):
            x = rng.random((16, 28, 28, 1), dtype=np.float32)
            y = rng.integers(0, 10, 16)
            sess.run(train_op, {images: x, labels: y, keep_prob: 0.5, is_training: True})
        prefix = saver.save(sess, str(OUT / "model.ckpt"), global_step=global_step)
    total = sum(p.stat().st_size for p in OUT.iterdir())
    print(f"wrote {prefix} ({total / 1024:.0f} KiB) with TensorFlow {tf.__version__}")


if __name__ == "__main__":
    main()

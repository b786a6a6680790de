"""Makes the README's pictures: TF-Slim's Inception v3 drawn by `gs draw`, and a `gs diff` example.

    python docs/make_pictures.py          # needs TensorFlow, tf_slim and Graphviz's dot

1. Builds TF-Slim's InceptionV3 as TensorFlow does for inference (299x299 input, 1001 classes,
   is_training=False, variables and their initializers included: the graph people export before
   freezing), writes its GraphDef to a temporary file and draws it with
   ``gs draw GRAPH -o docs/inception_v3.svg`` (default ``--depth auto``).
2. Freezes and optimizes the shipped example (examples/classifier/) and prints
   ``gs diff frozen.pb optimized.pb``, the README's diff example.
"""

from __future__ import annotations

import os
import pathlib
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from graphsurgeon.cli import main  # noqa: E402


def inception_v3_graph(path: pathlib.Path) -> int:
    sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
    from make_surgery_fixtures import _slim, _tf  # TF1 mode and tf_slim 1.1.0's imports, as the fixtures

    tf = _tf()
    slim = _slim()
    from tf_slim.nets import inception_v3

    with tf.Graph().as_default() as g:
        images = tf.compat.v1.placeholder(tf.float32, [None, 299, 299, 3], name="input")
        with slim.arg_scope(inception_v3.inception_v3_arg_scope()):
            inception_v3.inception_v3(images, num_classes=1001, is_training=False)
    graph_def = g.as_graph_def()
    path.write_bytes(graph_def.SerializeToString(deterministic=True))
    return len(graph_def.node)


def main_() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        work = pathlib.Path(tmp)
        graph = work / "inception_v3.pb"
        nodes = inception_v3_graph(graph)
        print(f"Inception v3: {nodes} nodes")
        os.chdir(work)  # the picture's title is the graph's file name
        if main(["draw", graph.name, "-o", str(ROOT / "docs" / "inception_v3.svg")]) != 0:
            return 1
        example = ROOT / "examples" / "classifier"
        frozen, optimized = work / "frozen.pb", work / "optimized.pb"
        main(["freeze", "--input_meta_graph", str(example / "model.ckpt-100.meta"), "--input_checkpoint",
              str(example / "model.ckpt-100"), "--output_node_names", "probs", "--output_graph", str(frozen)])
        main(["optimize", str(frozen), "--outputs", "probs", "--bind", "is_training=false", "-o", str(optimized)])
        print("$ gs diff frozen.pb optimized.pb")
        main(["diff", "frozen.pb", "optimized.pb"])
    return 0


if __name__ == "__main__":
    sys.exit(main_())

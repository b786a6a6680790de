"""Benchmark: `gs optimize` vs TensorFlow's optimize_for_inference, whole processes, side by side.

TF-Slim VGG-16, Inception v3 and MobileNet v1 (inference graphs, ``is_training=False``, random
weights) are built with TensorFlow in ``benchmarks/work/`` and frozen with TensorFlow's own
``convert_variables_to_constants``; that ``frozen.pb`` is every contender's input. MobileNet v1 is
written here with TF-Slim layers (``tf_slim.nets`` in the pip package has no mobilenet_v1): the
standard 224x224, depth 1.0, 1001-class network. Then, in rotating order, each contender runs as
its own process:

- ``gs optimize frozen.pb --outputs OUT -o gs.pb`` (default passes; a file of 64 MiB or more is
  read lazily, see graphsurgeon/formats/lazy_graph.py),
- the same with the lazy reader switched off (``MIN_FILE_BYTES`` raised), i.e. the in-memory path,
- ``python -m tensorflow.python.tools.optimize_for_inference`` on the same file.

Wall time (perf_counter around the child) and peak RSS (``ru_maxrss`` of the child, through
``/usr/bin/time``) are recorded; tables show medians. Each output is then run in TensorFlow on the
same random image as the frozen graph, and the lazy and in-memory gs outputs are compared byte for
byte.

    python benchmarks/bench_optimize.py [--models vgg_16,inception_v3,mobilenet_v1] [--runs 3] [--write]

``--write`` replaces the "## Optimizing" section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import time

import results  # benchmarks/results.py, beside this script
from bench_freeze import child_env, machine, run_child

ROOT = pathlib.Path(__file__).resolve().parent
WORK = ROOT / "work"
HEADING = "## Optimizing"
MIB = 1 << 20

#: model -> (input size, output node, logits compared in TensorFlow: a softmax of random weights is nearly one-hot)
MODELS = {
    "vgg_16": (224, "vgg_16/fc8/squeezed", "vgg_16/fc8/squeezed"),
    "inception_v3": (299, "InceptionV3/Predictions/Reshape_1", "InceptionV3/Logits/SpatialSqueeze"),
    "mobilenet_v1": (224, "MobilenetV1/Predictions/Reshape_1", "MobilenetV1/Logits/SpatialSqueeze"),
}
LABELS = {"vgg_16": "TF-Slim vgg_16", "inception_v3": "TF-Slim inception_v3", "mobilenet_v1": "TF-Slim MobileNet v1"}

IN_MEMORY = ("import sys; import graphsurgeon.formats.lazy_graph as lazy; lazy.MIN_FILE_BYTES = 1 << 62; "
             "from graphsurgeon.cli import main; sys.exit(main(sys.argv[1:]))")


def _mobilenet_v1(tf, slim, images):
    """MobileNet v1 (Howard et al. 2017), 1.0 / 224, as research/slim/nets/mobilenet_v1.py lays it out."""
    blocks = [(1, 64), (2, 128), (1, 128), (2, 256), (1, 256), (2, 512)] + [(1, 512)] * 5 + [(2, 1024), (1, 1024)]
    layers = [slim.conv2d, slim.separable_conv2d]
    with slim.arg_scope(layers, normalizer_fn=slim.batch_norm, activation_fn=tf.nn.relu6), \
            slim.arg_scope([slim.batch_norm], is_training=False, scale=True):
        net = slim.conv2d(images, 32, 3, stride=2, scope="MobilenetV1/Conv2d_0")
        for i, (stride, depth) in enumerate(blocks, start=1):
            net = slim.separable_conv2d(net, None, 3, depth_multiplier=1, stride=stride,
                                        scope=f"MobilenetV1/Conv2d_{i}_depthwise")
            net = slim.conv2d(net, depth, 1, scope=f"MobilenetV1/Conv2d_{i}_pointwise")
        net = slim.avg_pool2d(net, 7, padding="VALID", scope="MobilenetV1/Logits/AvgPool_1a")
        logits = slim.conv2d(net, 1001, 1, activation_fn=None, normalizer_fn=None,
                             scope="MobilenetV1/Logits/Conv2d_1c_1x1")
        logits = tf.squeeze(logits, [1, 2], name="MobilenetV1/Logits/SpatialSqueeze")
    return slim.softmax(tf.reshape(logits, [-1, 1001]), scope="MobilenetV1/Predictions")


def make_model(directory: pathlib.Path, name: str) -> dict:
    """Builds and freezes one model with TensorFlow (child process: it imports TF)."""
    sys.path.insert(0, str(ROOT.parent / "tests" / "fixtures"))
    from make_freeze_fixtures import _slim, _tf  # TF1 graph mode, and tf_slim made to work with TF 2.21

    tf = _tf()
    slim = _slim()
    size, output, logits = MODELS[name]
    directory.mkdir(parents=True, exist_ok=True)
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.set_random_seed(0)
        images = tf.compat.v1.placeholder(tf.float32, [None, size, size, 3], name="input")
        if name == "vgg_16":
            from tf_slim.nets import vgg

            with slim.arg_scope(vgg.vgg_arg_scope()):
                vgg.vgg_16(images, num_classes=1000, is_training=False)
        elif name == "inception_v3":
            from tf_slim.nets import inception_v3

            with slim.arg_scope(inception_v3.inception_v3_arg_scope()):
                inception_v3.inception_v3(images, num_classes=1001, is_training=False)
        else:
            _mobilenet_v1(tf, slim, images)
        init = tf.compat.v1.global_variables_initializer()
        # batch-norm parameters other than the initial 0 / 1, so folding them changes the weights (and
        # small enough means that the activations do not die: the logits are compared below)
        ranges = {"moving_mean": (-0.1, 0.1), "moving_variance": (0.5, 1.5), "gamma": (0.5, 1.5), "beta": (0.0, 0.2)}
        randomize = [v.assign(tf.random.uniform(v.shape, *ranges[key], seed=i))
                     for i, v in enumerate(tf.compat.v1.global_variables())
                     for key in ranges if v.op.name.endswith("/" + key)]
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(init)
            sess.run(randomize)
            frozen = tf.compat.v1.graph_util.convert_variables_to_constants(sess, graph.as_graph_def(), [output])
    path = directory / "frozen.pb"
    path.write_bytes(frozen.SerializeToString())
    info = {"model": name, "frozen": str(path), "output": output, "logits": logits, "size": size,
            "bytes": path.stat().st_size,
            "nodes": len(frozen.node), "batch_norms": sum(n.op.startswith("FusedBatchNorm") for n in frozen.node)}
    (directory / "model.json").write_text(json.dumps(info))
    return info


def check_model(directory: pathlib.Path) -> dict:
    """Runs frozen, gs and TF outputs on one random image (child process: imports TF); compares the logits."""
    import numpy as np

    sys.path.insert(0, str(ROOT.parent / "tests" / "fixtures"))
    from make_freeze_fixtures import _tf

    tf = _tf()
    info = json.loads((directory / "model.json").read_text())
    image = np.random.default_rng(0).uniform(-1, 1, (1, info["size"], info["size"], 3)).astype(np.float32)
    got = {}
    for label in ("frozen", "gs", "tf"):
        graph_def = tf.compat.v1.GraphDef.FromString((directory / f"{label}.pb").read_bytes())
        with tf.Graph().as_default() as graph:
            tf.compat.v1.import_graph_def(graph_def, name="")
            with tf.compat.v1.Session(graph=graph) as sess:
                got[label] = sess.run(f"{info['logits']}:0", {"input:0": image})
        got[label + "_nodes"] = len(graph_def.node)
    scale = float(np.max(np.abs(got["frozen"])))
    if not scale:
        raise SystemExit(f"the logits of {info['model']} are all zero: the comparison would prove nothing")
    out = {f"{k}_err": float(np.max(np.abs(got[k] - got["frozen"]))) / scale for k in ("gs", "tf")}
    out.update({k: v for k, v in got.items() if k.endswith("_nodes")})
    return out


def contenders(info: dict, out_dir: pathlib.Path) -> dict[str, list[str]]:
    args = ["optimize", info["frozen"], "--outputs", info["output"]]
    return {
        "gs optimize": [sys.executable, "-m", "graphsurgeon", *args, "-o", str(out_dir / "gs.pb")],
        "gs optimize, in memory": [sys.executable, "-c", IN_MEMORY, *args, "-o", str(out_dir / "gs_memory.pb")],
        "TF optimize_for_inference": [sys.executable, "-m", "tensorflow.python.tools.optimize_for_inference",
                                      "--input", info["frozen"], "--output", str(out_dir / "tf.pb"),
                                      "--frozen_graph=True", "--input_names=input",
                                      f"--output_names={info['output']}"],
    }


def bench_model(name: str, runs: int) -> dict:
    directory = WORK / f"optimize_{name}"
    shutil.rmtree(directory, ignore_errors=True)
    started = time.perf_counter()
    subprocess.run([sys.executable, __file__, "--make", str(directory), "--model", name], check=True,
                   env=dict(child_env(), TF_USE_LEGACY_KERAS="1"), stdout=subprocess.DEVNULL)
    info = json.loads((directory / "model.json").read_text())
    info["build_s"] = time.perf_counter() - started
    argvs = contenders(info, directory)
    walls: dict[str, list[float]] = {k: [] for k in argvs}
    peaks: dict[str, list[float]] = {k: [] for k in argvs}
    names = list(argvs)
    for run in range(runs):
        for label in names[run % len(names):] + names[:run % len(names)]:
            wall, peak, code, tail = run_child(argvs[label])
            if code:
                raise SystemExit(f"{label} failed on {name} (exit {code}):\n{tail}")
            walls[label].append(wall)
            peaks[label].append(peak)
            print(f"  {name} {label}: {wall:.2f} s, {peak:.0f} MiB", flush=True)
    same = (directory / "gs.pb").read_bytes() == (directory / "gs_memory.pb").read_bytes()
    done = subprocess.run([sys.executable, __file__, "--check", str(directory)], check=True, capture_output=True,
                          text=True, env=dict(child_env(), TF_USE_LEGACY_KERAS="1"))
    check = json.loads(done.stdout.strip().splitlines()[-1])
    info.update(wall={k: statistics.median(v) for k, v in walls.items()},
                rss={k: statistics.median(v) for k, v in peaks.items()},
                rss_max={k: max(v) for k, v in peaks.items()}, same_bytes=same, check=check, runs=runs)
    shutil.rmtree(directory, ignore_errors=True)
    return info


def budget_mib(info: dict) -> float:
    return 1.5 * info["bytes"] / MIB + 100


def report(rows: list[dict]) -> str:
    lines = [
        "`gs optimize` vs TensorFlow's `optimize_for_inference` (tensorflow.python.tools.optimize_for_inference_lib) "
        "on the same frozen graphs, whole processes, medians of "
        f"{rows[0]['runs']} runs (rotating order). Models: TF-Slim inference graphs with random weights, frozen by "
        "TensorFlow's convert_variables_to_constants; MobileNet v1 written with TF-Slim layers in the benchmark "
        "(the tf_slim package has no nets.mobilenet_v1). Peak RSS is the child's ru_maxrss. 'in memory' is gs "
        "with the lazy reader switched off (graphs under 8 MiB take that path anyway).",
        "",
        f"Machine: {machine()}",
        "",
        "| model | frozen | nodes | contender | wall (s) | peak RSS (MiB) | nodes after | logits: max err / max abs |",
        "|---|---:|---:|---|---:|---:|---:|---:|",
    ]
    for info in rows:
        for label in info["wall"]:
            key = "tf" if label.startswith("TF") else "gs"
            lines.append(f"| {LABELS[info['model']]} | {info['bytes'] / MIB:.0f} MiB | {info['nodes']} | {label} | "
                         f"{info['wall'][label]:.2f} | {info['rss'][label]:.0f} | {info['check'][key + '_nodes']} | "
                         f"{info['check'][key + '_err']:.1e} |")
    lines += ["", "What gs's peak holds: the process itself (about 50 MiB: Python, protobuf, numpy, graphsurgeon), "
              "the light graph (big constants replaced by tokens naming their bytes in the file), and, once, the "
              "weights a pass changes: fold_batch_norm's folded weights, which are about all of Inception v3's and "
              "MobileNet v1's convolution weights (none on VGG-16, which has no batch norm). They go to a temporary "
              "file beside the output after the pass, so the passes after it copy a light graph; the output is "
              "written with every big constant copied from the input file or that temporary file in 8 MiB chunks.",
              "", "Goals (from issue 15):", ""] + [f"- {g}" for g in goals(rows)]
    return "\n".join(lines)


def goals(rows: list[dict]) -> list[str]:
    out = []
    for info in rows:
        peak = info["rss_max"]["gs optimize"]
        budget = budget_mib(info)
        verdict = "met" if peak <= budget else "MISSED"
        memory, tf = info["rss"]["gs optimize, in memory"], info["rss"]["TF optimize_for_inference"]
        out.append(f"peak RSS <= 1.5 x frozen + 100 MiB on {LABELS[info['model']]}: {verdict} "
                   f"(worst run {peak:.0f} MiB, bound {budget:.0f} MiB; in memory {memory:.0f} MiB, TF {tf:.0f} MiB)"
                   + bound_note(info))
    for info in rows:
        if info["model"] == "vgg_16":
            wall = info["wall"]["gs optimize"]
            out.append(f"VGG-16 in a few seconds (<= 5 s): {'met' if wall <= 5 else 'MISSED'} ({wall:.2f} s; in "
                       f"memory {info['wall']['gs optimize, in memory']:.2f} s, TF "
                       f"{info['wall']['TF optimize_for_inference']:.2f} s)")
    same = all(info["same_bytes"] for info in rows)
    out.append(f"lazy and in-memory gs outputs byte-identical: {'met' if same else 'MISSED'} on every model")
    worst = max(info["check"]["gs_err"] for info in rows)
    out.append(f"optimized graphs match the frozen graph in TensorFlow: worst max error / max |logit| {worst:.1e}")
    return out


def bound_note(info: dict) -> str:
    """What bounds the peak when the budget is missed (filled from the measurements below)."""
    if info["rss_max"]["gs optimize"] <= budget_mib(info):
        return ""
    return ("; what bounds it: fold_batch_norm writes a new copy of every folded weight, held until the output "
            "is written, on top of the process's baseline" if info["batch_norms"] else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--write", action="store_true", help=f"replace the '{HEADING}' section of RESULTS.md")
    parser.add_argument("--make", type=pathlib.Path, help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--check", type=pathlib.Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if args.make:
        make_model(args.make, args.model)
        return
    if args.check:
        print(json.dumps(check_model(args.check)))
        return
    WORK.mkdir(exist_ok=True)
    rows = [bench_model(name, args.runs) for name in args.models.split(",") if name]
    text = report(rows)
    print(text)
    if args.write:
        results.write_section(HEADING, text)


if __name__ == "__main__":
    main()

"""Benchmark: `gs freeze` vs TensorFlow's freeze_graph, whole processes, side by side.

For each size (variables of about 10 MiB, 100 MiB, 1 GiB, 1.8 GiB) a TF1-style model is built
with TensorFlow in ``benchmarks/work/`` (a few large matrices holding ~90% of the bytes plus 200
small tensors and an int64 step counter, ref variables, a Saver, ``graph.pb`` + checkpoint). Then,
alternating in rotating order, each contender runs as its own process:

- ``gs freeze`` (default: the file is fsync'ed before it is renamed into place),
- ``gs freeze --no-fsync`` (like freeze_graph, leaves the data in the page cache),
- ``python -m tensorflow.python.tools.freeze_graph`` with the same inputs,
- the floor: a plain copy of the checkpoint's data bytes to a new file (8 MiB reads and writes,
  no parsing, no checksum), without and with fsync.

Wall time (perf_counter around the child) and peak RSS (``ru_maxrss`` of that child from
``os.wait4``) are recorded; the table shows medians. Page cache is warm (every contender reads
the same checkpoint). Above 2 GiB, ``gs freeze`` must fail before writing a byte, fast, naming
the largest constants: measured on a 2.2 GiB model. Big files are deleted after each size.

    python benchmarks/bench_freeze.py [--sizes 10,100,1024,1843] [--runs 5,3,3,3] [--over-limit] [--write]

``--write`` replaces the "## Freezing" section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import results  # benchmarks/results.py, beside this script

ROOT = pathlib.Path(__file__).resolve().parent
WORK = ROOT / "work"
HEADING = "## Freezing"
MIB = 1 << 20

FLOOR_CODE = r"""
import os, sys
out, sync, srcs = sys.argv[1], sys.argv[2] == "1", sys.argv[3:]
with open(out, "wb", buffering=0) as dst:
    for src in srcs:
        with open(src, "rb", buffering=0) as f:
            while True:
                chunk = f.read(8 << 20)
                if not chunk:
                    break
                dst.write(chunk)
    if sync:
        os.fsync(dst.fileno())
"""


# ------------------------------------------------------------------------------------------ model building


def make_model(directory: pathlib.Path, mib: float, seed: int = 0) -> dict:
    """Builds the synthetic model with TensorFlow (run in a child process: it imports TF)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np
    import tensorflow as tf

    tf.compat.v1.disable_eager_execution()
    total = int(mib * MIB)
    small_sizes = [64, 256, 512, 1024, 2048]  # floats: biases, batch-norm parameters ...
    small = [small_sizes[i % len(small_sizes)] for i in range(200)]
    large_bytes = max(total - 4 * sum(small) - 8, 4 * 4 * 1024)
    n_large = 4
    rows = max(1, large_bytes // (n_large * 4 * 1024))
    directory.mkdir(parents=True, exist_ok=True)
    graph = tf.Graph()
    with graph.as_default():
        reads = []
        for i in range(n_large):
            v = tf.compat.v1.get_variable(f"block{i}/kernel", shape=(rows, 1024), dtype=tf.float32,
                                          initializer=tf.compat.v1.random_uniform_initializer(-1, 1, seed=seed + i),
                                          use_resource=False)
            reads.append(tf.reduce_sum(v))
        for i, n in enumerate(small):
            v = tf.compat.v1.get_variable(f"block{i % n_large}/layer{i}/bias", shape=(n,), dtype=tf.float32,
                                          initializer=tf.compat.v1.random_uniform_initializer(-1, 1, seed=seed + i + 9),
                                          use_resource=False)
            reads.append(tf.reduce_sum(v))
        step = tf.compat.v1.get_variable("global_step", shape=(), dtype=tf.int64, use_resource=False,
                                         initializer=tf.compat.v1.constant_initializer(1000), trainable=False)
        out = tf.identity(tf.add_n(reads) + tf.cast(step, tf.float32), name="out")
        saver = tf.compat.v1.train.Saver()
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            expected = float(sess.run(out))
            prefix = str(directory / "model.ckpt")
            saver.save(sess, prefix, write_meta_graph=False)
        tf.io.write_graph(graph.as_graph_def(), str(directory), "graph.pb", as_text=False)
    data = sum(os.path.getsize(p) for p in directory.glob("model.ckpt.data-*"))
    info = {"prefix": prefix, "graph": str(directory / "graph.pb"), "output": "out", "data_bytes": data,
            "variables": n_large + len(small) + 1, "large_shape": [int(rows), 1024], "expected": expected,
            "tf": tf.__version__, "np": np.__version__}
    (directory / "model.json").write_text(json.dumps(info))
    return info


#: Real networks built at benchmark time with random weights (inference graphs): name -> output node.
REAL_MODELS = {
    "TF-Slim inception_v3": "InceptionV3/Predictions/Reshape_1",
    "TF-Slim resnet_v1_50": "resnet_v1_50/predictions/Reshape_1",
    "tf_keras ResNet50 (TF1 graph mode)": "",  # the model's own output op
    # The training graph, frozen from its .meta with is_training and keep_prob bound (gs only binds;
    # TF's freeze_graph keeps the batch-norm switches): the case where an earlier gs peaked at 321 MiB.
    "TF-Slim inception_v3, training graph (.meta, --bind)": "InceptionV3/Logits/SpatialSqueeze",
}


def make_real(directory: pathlib.Path, name: str) -> dict:
    """Builds one of REAL_MODELS with TensorFlow: ``graph.pb`` + V2 checkpoint (child process: imports TF)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np

    sys.path.insert(0, str(ROOT.parent / "tests" / "fixtures"))
    from make_freeze_fixtures import _slim, _tf  # TF1 graph mode, and tf_slim made to work with TF 2.21

    tf = _tf()
    if "training graph" in name:
        from make_freeze_fixtures import build_inception_v3

        build_inception_v3(directory, size=299, depth_multiplier=1.0, num_classes=1001)
        prefix = str(directory / "model.ckpt-10000")
        keys = [k for k, _ in tf.train.list_variables(prefix) if k != "global_step"]
        info = {"prefix": prefix, "graph": prefix + ".meta", "output": REAL_MODELS[name], "variables": len(keys),
                "bind": ["is_training=false", "keep_prob=1.0"], "tf": tf.__version__, "np": np.__version__,
                "data_bytes": sum(os.path.getsize(p) for p in directory.glob("model.ckpt-10000.data-*"))}
        (directory / "model.json").write_text(json.dumps(info))
        return info
    directory.mkdir(parents=True, exist_ok=True)
    graph = tf.Graph()
    output = REAL_MODELS[name]
    with graph.as_default():
        tf.compat.v1.set_random_seed(0)
        if name.startswith("TF-Slim"):
            slim = _slim()
            from tf_slim.nets import inception_v3, resnet_v1

            if "inception" in name:
                images = tf.compat.v1.placeholder(tf.float32, [None, 299, 299, 3], name="input")
                with slim.arg_scope(inception_v3.inception_v3_arg_scope()):
                    inception_v3.inception_v3(images, num_classes=1001, is_training=False)
            else:
                images = tf.compat.v1.placeholder(tf.float32, [None, 224, 224, 3], name="input")
                with slim.arg_scope(resnet_v1.resnet_arg_scope()):
                    resnet_v1.resnet_v1_50(images, num_classes=1000, is_training=False)
        else:
            import tf_keras

            model = tf_keras.applications.ResNet50(weights=None)
            output = model.output.op.name
        saver = tf.compat.v1.train.Saver()
        keras = not name.startswith("TF-Slim")  # resource variables: freeze_graph needs the .meta's Saver
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            prefix = str(directory / "model.ckpt")
            saver.save(sess, prefix, write_meta_graph=keras)
        tf.io.write_graph(graph.as_graph_def(), str(directory), "graph.pb", as_text=False)
        variables = len(tf.compat.v1.global_variables())
    data = sum(os.path.getsize(p) for p in directory.glob("model.ckpt.data-*"))
    info = {"prefix": prefix, "graph": prefix + ".meta" if keras else str(directory / "graph.pb"), "output": output,
            "data_bytes": data, "variables": variables, "nodes": len(graph.as_graph_def().node), "tf": tf.__version__,
            "np": np.__version__}
    (directory / "model.json").write_text(json.dumps(info))
    return info


def build(directory: pathlib.Path, mib: float) -> dict:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    started = time.perf_counter()
    subprocess.run([sys.executable, __file__, "--make", str(directory), "--mib", str(mib)], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    info = json.loads((directory / "model.json").read_text())
    info["build_s"] = time.perf_counter() - started
    return info


# ------------------------------------------------------------------------------------------ measuring


def child_env() -> dict:
    """Children write and reuse bytecode caches (as installed packages have), kept under work/."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPYCACHEPREFIX=str(WORK / "pycache"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def run_child(argv: list[str], env: dict | None = None) -> tuple[float, float, int, str]:
    """(wall seconds, peak RSS MiB, exit code, stderr tail) of one child process.

    The child runs under /usr/bin/time, a tiny process: Linux carries the peak RSS over exec, so a
    child forked from this (larger) Python process would report at least this process's size.
    """
    with tempfile.TemporaryDirectory() as tmp:
        err_path, rss_path = os.path.join(tmp, "err"), os.path.join(tmp, "rss")
        with open(err_path, "wb") as err:
            started = time.perf_counter()
            code = subprocess.call(["/usr/bin/time", "-f", "%M", "-o", rss_path, *argv], stdout=subprocess.DEVNULL,
                                   stderr=err, env=env if env is not None else child_env())
            wall = time.perf_counter() - started
        tail = pathlib.Path(err_path).read_bytes().decode("utf-8", "replace")[-2000:]
        lines = pathlib.Path(rss_path).read_text().split()
        peak_kib = int(lines[-1]) if lines and lines[-1].isdigit() else 0
    return wall, peak_kib / 1024, code, tail


def contenders(info: dict, out_dir: pathlib.Path) -> dict[str, list[str]]:
    gs = [sys.executable, "-m", "graphsurgeon", "freeze", "--input_graph", info["graph"], "--input_checkpoint",
          info["prefix"], "--output_node_names", info["output"]]
    shards = sorted(str(p) for p in pathlib.Path(info["prefix"]).parent.glob("model.ckpt.data-*"))
    return {
        "gs freeze": gs + ["-o", str(out_dir / "gs.pb")],
        "gs freeze --no-fsync": gs + ["--no-fsync", "-o", str(out_dir / "gs_nosync.pb")],
        "TF freeze_graph": [sys.executable, "-m", "tensorflow.python.tools.freeze_graph", "--input_graph",
                            info["graph"], "--input_binary=true", "--input_checkpoint", info["prefix"],
                            "--output_node_names", info["output"], "--output_graph", str(out_dir / "tf.pb")],
        "floor: copy": [sys.executable, "-S", "-c", FLOOR_CODE, str(out_dir / "floor.bin"), "0", *shards],
        "floor: copy + fsync": [sys.executable, "-S", "-c", FLOOR_CODE, str(out_dir / "floor_sync.bin"), "1",
                                *shards],
    }


def check_outputs(out_dir: pathlib.Path, info: dict, full: bool) -> str:
    """gs's frozen graph is valid; at small sizes its constants equal TensorFlow's (bytes)."""
    gs_path, tf_path = out_dir / "gs.pb", out_dir / "tf.pb"
    if not full:
        return f"gs output {os.path.getsize(gs_path)} bytes, TF output {os.path.getsize(tf_path)} bytes"
    import numpy as np

    from graphsurgeon._proto import graph_pb2
    from graphsurgeon.formats.tensors import tensor_to_array

    ours, theirs = graph_pb2.GraphDef(), graph_pb2.GraphDef()
    ours.ParseFromString(gs_path.read_bytes())
    theirs.ParseFromString(tf_path.read_bytes())
    tf_consts = {n.name: n for n in theirs.node if n.op == "Const"}
    same = 0
    for node in ours.node:
        if node.op == "Const" and node.name in tf_consts:
            a = tensor_to_array(node.attr["value"].tensor)
            b = tensor_to_array(tf_consts[node.name].attr["value"].tensor)
            if a.dtype != b.dtype or a.shape != b.shape or not np.array_equal(a, b):
                raise SystemExit(f"constant {node.name} differs between gs and TensorFlow")
            same += 1
    if same < info["variables"]:
        raise SystemExit(f"only {same} of {info['variables']} constants found in both outputs")
    return f"all {same} constants present in both outputs are equal (the {info['variables']} variables included)"


def profile_gs(argv: list[str], out_dir: pathlib.Path, top: int = 10) -> str:
    """cProfile of one `gs freeze` process: the functions with the most time of their own."""
    import io
    import pstats

    for stale in out_dir.iterdir():
        stale.unlink()
    stats_path = WORK / "gs.prof"
    started = time.perf_counter()
    subprocess.run([argv[0], "-m", "cProfile", "-o", str(stats_path), *argv[1:]], check=True, env=child_env(),
                   stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    buf = io.StringIO()
    stats = pstats.Stats(str(stats_path), stream=buf)
    stats.sort_stats("tottime").print_stats(top)
    total = stats.total_tt
    stats_path.unlink()
    lines = [line for line in buf.getvalue().splitlines() if line.strip()]
    start = next(i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls"))
    body = [re.sub(r"/\S*/(site-packages|graphsurgeon)/", r"\1/", line) for line in lines[start:]]
    return f"whole process {wall:.2f} s under cProfile, {total:.2f} s profiled\n" + "\n".join(body)


def import_profile(args: list[str], top: int = 8) -> str:
    """`python -X importtime -m graphsurgeon ARGS`: the biggest imports at the top two levels."""
    argv = [str(ROOT.parent / a) if a == SMALL_GRAPH else a for a in args]
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "graphsurgeon", *argv], env=child_env(),
                          capture_output=True, text=True)
    rows = []
    for line in done.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if match and len(match.group(3)) <= 5:
            rows.append((int(match.group(2)), match.group(4)))
    rows.sort(reverse=True)
    return ", ".join(f"{name} {us / 1000:.0f} ms" for us, name in rows[:top])


def bench_size(mib: float, runs: int, warm_up: bool, want_profile: bool = False) -> dict:
    directory = WORK / f"model_{int(mib)}mib"
    shutil.rmtree(directory, ignore_errors=True)
    print(f"[freeze] building {mib:g} MiB model ...", file=sys.stderr, flush=True)
    info = build(directory, mib)
    out_dir = directory / "out"
    out_dir.mkdir()
    cmds = contenders(info, out_dir)
    env = child_env()
    if warm_up:  # bytecode caches and page cache, untimed
        for name in cmds:
            run_child(cmds[name], env)
    times: dict[str, list[float]] = {k: [] for k in cmds}
    rss: dict[str, list[float]] = {k: [] for k in cmds}
    names = list(cmds)
    for r in range(runs):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            for stale in out_dir.iterdir():
                stale.unlink()  # every contender writes a new file
            wall, peak, code, tail = run_child(cmds[name], env)
            if code != 0:
                raise SystemExit(f"{name} failed ({code}): {tail}")
            times[name].append(wall)
            rss[name].append(peak)
        print(f"[freeze] {mib:g} MiB run {r + 1}/{runs}: " + ", ".join(f"{k} {times[k][-1]:.2f}s" for k in names),
              file=sys.stderr, flush=True)
    # one more pair for the output check
    for name in ("gs freeze", "TF freeze_graph"):
        run_child(cmds[name], env)
    check = check_outputs(out_dir, info, full=info["data_bytes"] <= 256 * MIB)
    profile = profile_gs(cmds["gs freeze"], out_dir) if want_profile else None
    shutil.rmtree(directory, ignore_errors=True)
    return {"mib": mib, "runs": runs, "data_bytes": info["data_bytes"], "build_s": info["build_s"],
            "profile": profile,
            "variables": info["variables"], "large_shape": info["large_shape"], "check": check,
            "time": {k: statistics.median(v) for k, v in times.items()},
            "time_all": times, "rss": {k: max(v) for k, v in rss.items()}, "tf": info["tf"]}


def build_real(directory: pathlib.Path, name: str) -> dict:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    started = time.perf_counter()
    subprocess.run([sys.executable, __file__, "--make-real", str(directory), name], check=True, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    info = json.loads((directory / "model.json").read_text())
    info["build_s"] = time.perf_counter() - started
    return info


def bench_real(name: str, runs: int) -> dict:
    """gs freeze vs TF freeze_graph on one of REAL_MODELS: wall time and peak RSS, medians of ``runs``."""
    directory = WORK / ("real_" + re.sub(r"\W+", "_", name).strip("_"))
    shutil.rmtree(directory, ignore_errors=True)
    print(f"[freeze] building {name} ...", file=sys.stderr, flush=True)
    info = build_real(directory, name)
    out_dir = directory / "out"
    out_dir.mkdir()
    gs = [sys.executable, "-m", "graphsurgeon", "freeze", "--input_graph", info["graph"], "--input_checkpoint",
          info["prefix"], "--output_node_names", info["output"], "-o", str(out_dir / "gs.pb")]
    for bind in info.get("bind", ()):
        gs += ["--bind", bind]
    graph_flag = "--input_meta_graph" if info["graph"].endswith(".meta") else "--input_graph"
    cmds = {"gs freeze": gs,
            "TF freeze_graph": [sys.executable, "-m", "tensorflow.python.tools.freeze_graph", graph_flag,
                                info["graph"], "--input_binary=true", "--input_checkpoint", info["prefix"],
                                "--output_node_names", info["output"], "--output_graph", str(out_dir / "tf.pb")]}
    env = child_env()
    for argv in cmds.values():  # warm-up: page cache and bytecode
        run_child(argv, env)
    times: dict[str, list[float]] = {k: [] for k in cmds}
    rss: dict[str, list[float]] = {k: [] for k in cmds}
    for r in range(runs):
        for key in (list(cmds) if r % 2 == 0 else list(cmds)[::-1]):
            for stale in out_dir.iterdir():
                stale.unlink()
            wall, peak, code, tail = run_child(cmds[key], env)
            if code != 0:
                raise SystemExit(f"{key} failed on {name} ({code}): {tail}")
            times[key].append(wall)
            rss[key].append(peak)
        print(f"[freeze] {name} run {r + 1}/{runs}: " + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in times.items()),
              file=sys.stderr, flush=True)
    run_child(cmds["gs freeze"], env)
    run_child(cmds["TF freeze_graph"], env)
    frozen = os.path.getsize(out_dir / "gs.pb")
    try:
        check = check_outputs(out_dir, dict(info, variables=info.get("variables", 1)), full=True)
    except SystemExit as err:  # reported, not fatal: TF's graph may keep other constants
        check = f"not compared: {err}"
    shutil.rmtree(directory, ignore_errors=True)
    return {"name": name, "runs": runs, "data_bytes": info["data_bytes"], "frozen_bytes": frozen,
            "time": {k: statistics.median(v) for k, v in times.items()}, "time_all": times,
            "rss": {k: max(v) for k, v in rss.items()}, "check": check}


def bench_over_limit(mib: float) -> dict:
    directory = WORK / "model_over"
    shutil.rmtree(directory, ignore_errors=True)
    print(f"[freeze] building {mib:g} MiB model (over the 2 GiB limit) ...", file=sys.stderr, flush=True)
    info = build(directory, mib)
    out = directory / "gs.pb"
    cmd = contenders(info, directory)["gs freeze"][:-2] + ["-o", str(out)]
    run_child(cmd)  # page cache
    wall, peak, code, tail = run_child(cmd)
    leftovers = [p.name for p in directory.iterdir() if p.name.startswith((".gs.pb", "gs.pb"))]
    shutil.rmtree(directory, ignore_errors=True)
    return {"mib": mib, "data_bytes": info["data_bytes"], "wall": wall, "rss": peak, "code": code,
            "message": tail.strip(), "leftovers": leftovers}


# ------------------------------------------------------------------------------------------ report


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem = next(int(line.split()[1]) for line in pathlib.Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal")) / (1 << 20)
    except (OSError, StopIteration):
        mem = float("nan")
    return (f"{cpu}, {os.cpu_count()} cores (shared with other jobs), {mem:.1f} GiB RAM; Linux "
            f"{platform.release()}; Python {platform.python_version()}; " + package_versions())


#: The packages whose versions the results depend on (distribution names).
PACKAGES = ("numpy", "protobuf", "ml_dtypes", "networkx", "google-crc32c", "tensorflow", "tf_keras", "tf-slim")


def package_versions() -> str:
    from importlib import metadata

    out = []
    for name in PACKAGES:
        for dist in (name, name + "-cpu"):  # tensorflow may be installed as tensorflow-cpu
            try:
                out.append(f"{dist} {metadata.version(dist)}")
                break
            except metadata.PackageNotFoundError:
                continue
        else:
            out.append(f"{name} -")
    return ", ".join(out)


def fmt_s(value: float) -> str:
    return f"{value:.2f}"


def report(rows: list[dict], over: dict | None, startup: dict | None, real: list[dict] | None = None) -> str:
    lines = [f"Machine: {machine()}.",
             "Run: `python benchmarks/run.py` (this section: `python benchmarks/bench_freeze.py --write`).",
             "",
             "Whole processes, run alternately in rotating order, medians; peak RSS is the child's `ru_maxrss` "
             "(max over runs). Page cache warm. Each model: 4 float32 matrices (~90% of the bytes), 200 small "
             "float32 vectors, an int64 global step; ref variables, `graph.pb` + V2 checkpoint. `gs freeze` "
             "verifies every tensor's crc32c while copying. The floor copies the checkpoint's data bytes to a "
             "new file in 8 MiB reads/writes (no parsing, no checksum). gs default fsyncs before renaming; "
             "TensorFlow does not, so compare `--no-fsync` with TF and with the plain floor, and the default with "
             "the fsync floor.",
             "",
             "| variables | runs | contender | wall s | peak RSS MiB | vs TF | vs floor |",
             "|---|---:|---|---:|---:|---:|---:|"]
    for row in rows:
        t = row["time"]
        size = f"{row['data_bytes'] / MIB:,.0f} MiB"
        for name in t:
            floor = t["floor: copy + fsync"] if name in ("gs freeze", "floor: copy + fsync") else t["floor: copy"]
            vs_tf = "" if name == "TF freeze_graph" else f"{t[name] / t['TF freeze_graph']:.3f}x"
            vs_floor = f"{t[name] / floor:.2f}x"
            lines.append(f"| {size} | {row['runs']} | {name} | {fmt_s(t[name])} | {row['rss'][name]:.0f} | {vs_tf} "
                         f"| {vs_floor} |")
    if real:
        lines += ["", "Real networks, built with random weights at benchmark time (inference graphs; TF-Slim as "
                  "`graph.pb` + V2 checkpoint, tf_keras as `.meta` + checkpoint since TensorFlow's freeze_graph "
                  "needs the meta graph's Saver for resource variables), whole processes, alternating, medians:", "",
                  "| model | variables MiB | frozen MiB | runs | gs freeze s | TF freeze_graph s | vs TF "
                  "| gs peak RSS MiB | TF peak RSS MiB |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for m in real:
            t, r = m["time"], m["rss"]
            lines.append(f"| {m['name']} | {m['data_bytes'] / MIB:.1f} | {m['frozen_bytes'] / MIB:.1f} | {m['runs']} "
                         f"| {t['gs freeze']:.2f} | {t['TF freeze_graph']:.2f} "
                         f"| {t['gs freeze'] / t['TF freeze_graph']:.3f}x | {r['gs freeze']:.0f} "
                         f"| {r['TF freeze_graph']:.0f} |")
        lines += [""] + [f"- {m['name']}: output check: {m['check']}; all runs (s): "
                         + "; ".join(f"{k} " + ", ".join(f"{v:.2f}" for v in vs) for k, vs in m["time_all"].items())
                         for m in real]
    lines += ["", *goals(rows, over, real or [], startup), ""]
    for row in rows:
        lines.append(f"- {row['data_bytes'] / MIB:,.0f} MiB: {row['variables']} variables, large matrices "
                     f"{row['large_shape']}; output check: {row['check']}; all runs (s): "
                     + "; ".join(f"{k} " + ", ".join(f"{v:.2f}" for v in vs) for k, vs in row["time_all"].items()))
    if over is not None:
        lines += ["", f"Above the limit: a model with {over['data_bytes'] / MIB:,.0f} MiB of variables. "
                  f"`gs freeze` exited {over['code']} after {over['wall']:.2f} s (whole process, peak RSS "
                  f"{over['rss']:.0f} MiB), files left at the output: {over['leftovers'] or 'none'}. Message:", "",
                  "```", over["message"], "```"]
    if startup:
        lines += ["", *startup_text(startup)]
    for row in rows:
        if row.get("profile"):
            lines += ["", f"### Profile: `gs freeze`, {row['data_bytes'] / MIB:,.0f} MiB (default, fsync)", "",
                      "```", row["profile"], "```"]
    return results.relative_paths("\n".join(lines))


def goals(rows: list[dict], over: dict | None, real: list[dict], startup: dict | None) -> list[str]:
    """The issue's goals, each checked against this run's medians."""
    def mark(ok: bool) -> str:
        return "met" if ok else "MISSED"

    out = ["Goals (from the medians above):", ""]
    for name in ("gs freeze --no-fsync", "gs freeze"):
        ratios = [row["time"][name] / row["time"]["TF freeze_graph"] for row in rows]
        ratios += [m["time"]["gs freeze"] / m["time"]["TF freeze_graph"] for m in real if name == "gs freeze"]
        where = "every size" + (" and real network" if real and name == "gs freeze" else "")
        out.append(f"- `{name}` <= 0.1x TensorFlow's wall time at {where}: "
                   f"{mark(max(ratios) <= 0.1)} ({', '.join(f'{r:.3f}x' for r in ratios)})")
    big = [row for row in rows if row["data_bytes"] > 512 * MIB]
    if big:
        synced = [row["time"]["gs freeze"] / row["time"]["floor: copy + fsync"] for row in big]
        plain = [row["time"]["gs freeze --no-fsync"] / row["time"]["floor: copy"] for row in big]
        sizes = ", ".join(f"{row['data_bytes'] / MIB:,.0f} MiB" for row in big)
        out.append(f"- `gs freeze` (default, fsync) within 1.2x of copy + fsync at {sizes}, checksums verified: "
                   f"{mark(max(synced) <= 1.2)} ({', '.join(f'{r:.2f}x' for r in synced)}); "
                   f"`--no-fsync` vs plain copy: {', '.join(f'{r:.2f}x' for r in plain)}")
        small = min(rows, key=lambda row: row["data_bytes"])
        if small["data_bytes"] < 64 * MIB:
            fixed = small["time"]["gs freeze"]
            copy = [(row["time"]["gs freeze"] - fixed) / row["time"]["floor: copy + fsync"] for row in big]
            out.append(f"  - what bounds it: the floor is a bare `python -S` copy loop, while `gs freeze` first starts "
                       f"Python with numpy and protobuf and rewrites the graph, {fixed:.2f} s in all at "
                       f"{small['data_bytes'] / MIB:,.0f} MiB; without that fixed cost its copy (read, crc32c, write, "
                       f"fsync) takes {', '.join(f'{r:.2f}x' for r in copy)} of copy + fsync")
    peaks = [row["rss"][n] for row in rows for n in ("gs freeze", "gs freeze --no-fsync")]
    peaks += [m["rss"]["gs freeze"] for m in real]
    out.append(f"- peak RSS <= 150 MiB on every model{' (real networks included)' if real else ''}: "
               f"{mark(max(peaks, default=0) <= 150)} (at most {max(peaks, default=0):.0f} MiB; TensorFlow: "
               + ", ".join(f"{row['rss']['TF freeze_graph']:.0f}" for row in rows)
               + "".join(f", {m['rss']['TF freeze_graph']:.0f}" for m in real) + " MiB)")
    if startup:
        out += startup_goals(startup)
    if over is not None:
        ok = over["code"] != 0 and over["wall"] < 1 and not over["leftovers"] and "largest nodes" in over["message"]
        out.append(f"- above 2 GiB a clear error before any byte is written, in under a second, naming the "
                   f"largest constants: {mark(ok)} ({over['wall']:.2f} s, whole process)")
    out += ["", "What bounds `gs freeze` (profiles below): at 1 GiB and more, the disk: the copy goes through one "
            "reused buffer (read, crc32c, write) and, with fsync, each chunk's writeback is started at once "
            "(`sync_file_range`) while the writer waits for the chunk written 32 MiB earlier, so the final "
            "fsync has little left; at 10-100 MiB and on the real networks, start-up (numpy and protobuf imports) "
            "and the graph rewrite itself. Waits for the shared disk vary by 2-4x from run to run (see all "
            "runs), so the fsync rows are the noisiest."]
    return out


#: The small graph `gs inspect` is timed on (relative to the repository).
SMALL_GRAPH = "tests/fixtures/graphs/mlp.pb"


def startup_goals(startup: dict) -> list[str]:
    """The start-up goal lines: each `gs` command within numpy's import time + 0.1 s."""
    numpy_s = startup["`python -c 'import numpy'`"]
    return [f"- {key} within numpy's import time + 0.1 s ({numpy_s + 0.1:.3f} s): "
            f"{'met' if startup[key] <= numpy_s + 0.1 else 'MISSED'} ({startup[key]:.3f} s)"
            for key in startup if key.startswith("`gs ")]


def startup_text(startup: dict, note: str = "") -> list[str]:
    """The start-up paragraph (medians) and the largest imports of each `gs` command."""
    lines = ["Start-up, whole processes, alternating, median of 9: "
             + ", ".join(f"{k} {v:.3f} s" for k, v in startup.items()) + f".{note}"]
    for args in (["--version"], ["inspect", SMALL_GRAPH]):
        lines += ["", f"Largest imports of `gs {' '.join(args)}` (cumulative, `python -X importtime`): "
                  + import_profile(args) + "."]
    return lines


def write_startup(goal_lines: list[str], text_lines: list[str]) -> None:
    """Replaces only the start-up lines of the Freezing section of RESULTS.md (the goal lines with
    their sub-items, the start-up paragraph and the import profiles); the freeze rows stay."""
    old = results.RESULTS.read_text()
    start = old.index(f"{HEADING}\n")
    end = old.find("\n## ", start + 1)
    end = len(old) if end < 0 else end + 1
    lines = old[start:end].split("\n")
    out: list[str] = []
    skipping = False
    for line in lines:
        if re.match(r"- `gs (--version|inspect .*)` within numpy's import time", line):
            if not any(g in out for g in goal_lines):
                out += goal_lines
            skipping = True
            continue
        if skipping and line.startswith("  - "):
            continue
        skipping = False
        if line.startswith("Start-up, whole processes,"):
            out += text_lines[:1]
            continue
        if line.startswith("Largest imports of `gs "):
            label = line[:line.index("(")]
            out += [t for t in text_lines if t.startswith(label)]
            continue
        out.append(line)
    results.RESULTS.write_text(old[:start] + results.relative_paths("\n".join(out)) + old[end:])


def startup_times() -> dict:
    cmds = {"`python -c pass`": [sys.executable, "-c", "pass"],
            "`python -c 'import numpy'`": [sys.executable, "-c", "import numpy"],
            "`gs --version`": [sys.executable, "-m", "graphsurgeon", "--version"],
            f"`gs inspect {SMALL_GRAPH}`": [sys.executable, "-m", "graphsurgeon", "inspect",
                                           str(ROOT.parent / SMALL_GRAPH)]}
    times: dict[str, list[float]] = {k: [] for k in cmds}
    for argv in cmds.values():
        run_child(argv)
    for _ in range(9):
        for key, argv in cmds.items():
            times[key].append(run_child(argv)[0])
    return {k: statistics.median(v) for k, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--make", metavar="DIR", help=argparse.SUPPRESS)
    parser.add_argument("--mib", type=float, default=10, help=argparse.SUPPRESS)
    parser.add_argument("--make-real", nargs=2, metavar=("DIR", "NAME"), help=argparse.SUPPRESS)
    parser.add_argument("--sizes", default="10,100,1024,1843", help="variable sizes in MiB, comma-separated")
    parser.add_argument("--runs", default="5,3,3,3", help="runs per size (the last value repeats)")
    parser.add_argument("--over-limit", type=float, default=0, metavar="MIB",
                        help="also check the failure above 2 GiB on a model of this many MiB (e.g. 2250)")
    parser.add_argument("--profile", default="10,1024", metavar="MIB",
                        help="sizes at which one extra `gs freeze` runs under cProfile (comma-separated)")
    parser.add_argument("--real-runs", type=int, default=3, metavar="N",
                        help="runs on each real network (TF-Slim, tf_keras; 0: skip them)")
    parser.add_argument("--startup-only", action="store_true",
                        help="measure only start-up (gs --version, gs inspect, numpy); with --write, replace "
                        "only the start-up lines of RESULTS.md")
    parser.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    args = parser.parse_args()
    if args.startup_only:
        load = os.getloadavg()[0]
        startup = startup_times()
        goal_lines = startup_goals(startup)
        text_lines = startup_text(startup, f" Measured alone (`--startup-only`, load average {load:.1f} on 2 cores),"
                                  " after the freeze rows above.")
        print("\n".join(goal_lines + [""] + text_lines))
        if args.write:
            write_startup(goal_lines, text_lines)
        return
    if args.make:
        make_model(pathlib.Path(args.make), args.mib)
        return
    if args.make_real:
        make_real(pathlib.Path(args.make_real[0]), args.make_real[1])
        return
    WORK.mkdir(exist_ok=True)
    sizes = [float(s) for s in args.sizes.split(",") if s]
    runs = [int(r) for r in args.runs.split(",") if r]
    load_before = os.getloadavg()
    profiled = {float(s) for s in args.profile.split(",") if s}
    rows = [bench_size(size, runs[min(i, len(runs) - 1)], warm_up=i == 0, want_profile=size in profiled)
            for i, size in enumerate(sizes)]
    real = [bench_real(name, args.real_runs) for name in REAL_MODELS] if args.real_runs else []
    over = bench_over_limit(args.over_limit) if args.over_limit else None
    text = report(rows, over, startup_times(), real)
    text += (f"\n\nLoad average (1 min) {load_before[0]:.1f} before and {os.getloadavg()[0]:.1f} after the "
             "runs, on 2 cores: other jobs shared this machine, so absolute seconds are inflated for every "
             "contender alike; the ratios are the point.")
    print(text)
    (WORK / "freeze_results.json").write_text(json.dumps({"rows": rows, "real": real, "over": over}))
    if args.write:
        results.write_section(HEADING, text)


if __name__ == "__main__":
    main()

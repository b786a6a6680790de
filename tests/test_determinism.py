"""Freezing the same inputs gives byte-identical output: twice in one process, and in separate processes
with different ``PYTHONHASHSEED`` (so no set or dict order over strings leaks into the file).

Covers TF1 meta graph + checkpoint (binary streamed, text, --optimize), a sharded and a partitioned
checkpoint, a v1 while loop, a TF1 SavedModel, TF2 SavedModels (with their signature.json), and
``gs prune`` / ``gs constify``. The subprocesses only import graphsurgeon (no TensorFlow), one process
per hash seed running every job.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import subprocess
import sys

import pytest

from graphsurgeon.cli import main

FIX = pathlib.Path(__file__).resolve().parent / "fixtures"
FREEZE = FIX / "freeze"


def _outputs(name: str) -> str:
    return ",".join(json.loads((FREEZE / name / "spec.json").read_text())["outputs"])


def _prune_manifest() -> dict:
    return json.loads((FIX / "prune" / "manifest.json").read_text())["fixtures"]


def _jobs() -> dict[str, list[str]]:
    """name -> gs argv with ``{out}`` standing for the output file."""
    mlp = FREEZE / "mlp"
    jobs = {
        "tf1-meta-ckpt": ["freeze", "--input_checkpoint", f"{mlp}/model.ckpt", "--output_node_names", "probs,topk:1",
                          "-o", "{out}"],
        "tf1-graph-ckpt-text": ["freeze", "--input_graph", f"{mlp}/graph.pbtxt", "--input_checkpoint",
                                f"{mlp}/model.ckpt", "--output_node_names", "probs", "--output-text", "-o", "{out}"],
        "tf1-optimize": ["freeze", "--input_graph", f"{mlp}/graph.pb", "--input_checkpoint", f"{mlp}/model.ckpt",
                         "--output_node_names", "probs", "--optimize", "-o", "{out}"],
        "tf1-saved-model": ["freeze", "--input_saved_model_dir", f"{FREEZE}/saved_model_v1/saved_model",
                            "--output_node_names", "y", "-o", "{out}"],
        "tf2-module": ["freeze", "--input_saved_model_dir", f"{FIX}/tf2/module", "-o", "{out}"],
        "tf2-keras3-cnn": ["freeze", "--input_saved_model_dir", f"{FIX}/tf2/keras3_cnn", "-o", "{out}"],
        "tf2-lstm-inline": ["freeze", "--input_saved_model_dir", f"{FIX}/tf2/lstm", "--inline", "-o", "{out}"],
        "prune-mobilenet": ["prune", f"{FIX}/prune/mobilenet_v2.pb", "--outputs",
                            ",".join(_prune_manifest()["mobilenet_v2"]["outputs"]),
                            "--inputs", _prune_manifest()["mobilenet_v2"]["cuts"][0], "-o", "{out}"],
        "constify-resource": ["constify", f"{FREEZE}/resource/graph.pb", "--checkpoint",
                              f"{FREEZE}/resource/model.ckpt", "-o", "{out}"],
    }
    for name in ("sharded", "partitioned", "lstm_ref", "lstm_resource", "batchnorm_resource"):
        jobs[f"tf1-{name}"] = ["freeze", "--input_graph", f"{FREEZE}/{name}/graph.pb", "--input_checkpoint",
                               f"{FREEZE}/{name}/model.ckpt", "--output_node_names", _outputs(name), "-o", "{out}"]
    return jobs


def _digests(out_dir: pathlib.Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out_dir.iterdir())}


def run_jobs(out_dir: pathlib.Path) -> dict[str, str]:
    """Runs every job into ``out_dir`` (in this process); returns file name -> sha256."""
    import contextlib
    import io

    out_dir.mkdir(parents=True, exist_ok=True)
    for name, argv in _jobs().items():
        err = io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            code = main([a.replace("{out}", str(out_dir / f"{name}.pb")) for a in argv])
        if code != 0:
            raise AssertionError(f"{name}: exit {code}: {err.getvalue()}")
    return _digests(out_dir)


def test_twice_in_one_process(tmp_path: pathlib.Path) -> None:
    first = run_jobs(tmp_path / "a")
    second = run_jobs(tmp_path / "b")
    assert len(first) >= len(_jobs()) + 2  # every job, plus the TF2 signature.json files
    assert first == second


_CHILD = """
import json, pathlib, sys
sys.path.insert(0, {tests!r})
import test_determinism
print(json.dumps(test_determinism.run_jobs(pathlib.Path({out!r}))))
"""


def test_separate_processes_with_different_hash_seeds(tmp_path: pathlib.Path) -> None:
    reference = run_jobs(tmp_path / "here")
    for seed in ("1", "4242"):
        out = tmp_path / f"seed{seed}"
        env = dict(os.environ, PYTHONHASHSEED=seed)
        code = _CHILD.format(tests=str(pathlib.Path(__file__).resolve().parent), out=str(out))
        proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
        digests = json.loads(proc.stdout.strip().splitlines()[-1])
        different = sorted(k for k in reference if digests.get(k) != reference[k])
        assert not different, f"PYTHONHASHSEED={seed} changed: {different}"


@pytest.mark.parametrize("job", ["tf1-meta-ckpt", "tf2-module"])
def test_output_does_not_depend_on_the_output_path(tmp_path: pathlib.Path, job: str) -> None:
    """The same inputs written to two different names give the same bytes (nothing path-derived inside)."""
    argv = _jobs()[job]
    for name in ("one.pb", "two/other.pb"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        assert main([a.replace("{out}", str(tmp_path / name)) for a in argv]) == 0
    assert (tmp_path / "one.pb").read_bytes() == (tmp_path / "two" / "other.pb").read_bytes()

"""What `gs` does not import: start-up pays only for what the command at hand uses.

Each case runs in a fresh interpreter with an import hook that makes importing a forbidden module
fail loudly (with the traceback naming who asked for it); at the end, sys.modules must not hold it.
"""

from __future__ import annotations

import pathlib
import subprocess
import sys
import textwrap

ROOT = pathlib.Path(__file__).resolve().parent.parent
FREEZE = ROOT / "tests" / "fixtures" / "freeze"
GRAPHS = ROOT / "tests" / "fixtures" / "graphs"

PRELUDE = textwrap.dedent('''
    import contextlib, importlib.abc, io, sys, tempfile

    FORBIDDEN = set(sys.argv[1].split(","))

    def forbidden(name):
        return any(name == f or name.startswith(f + ".") for f in FORBIDDEN)

    class Forbid(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if forbidden(name):
                raise ImportError(f"imported {name}")
            return None

    sys.meta_path.insert(0, Forbid())

    def check():
        leaked = sorted(m for m in sys.modules if forbidden(m))
        assert not leaked, leaked
        print("ok")
''')


def _run(body: str, forbidden: list[str], *args: str) -> subprocess.CompletedProcess[str]:
    script = PRELUDE + textwrap.dedent(body)
    return subprocess.run([sys.executable, "-c", script, ",".join(forbidden), *args], capture_output=True,
                          text=True, timeout=300, cwd=ROOT)


def _assert_ok(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr[-3000:]


def test_version_imports_neither_numpy_nor_protobuf() -> None:
    result = _run('''
        from graphsurgeon.cli import main
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert main(["--version"]) == 0
        assert out.getvalue().startswith("gs "), out.getvalue()
        check()
    ''', ["numpy", "google.protobuf", "graphsurgeon._proto", "ml_dtypes", "networkx", "google_crc32c",
          "tensorflow"])
    _assert_ok(result)


def test_float32_freeze_imports_no_ml_dtypes_networkx_or_validate() -> None:
    result = _run('''
        from graphsurgeon.cli import main
        with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()):
            assert main(["freeze", "--input_checkpoint", sys.argv[2] + "/lstm_resource/model.ckpt",
                         "--output_node_names", "final_h", "--output_graph", tmp + "/f.pb"]) == 0
        # the checkpoint was read and verified, so its checksum module is in; float32 needs no ml_dtypes
        assert "google_crc32c" in sys.modules
        check()
    ''', ["ml_dtypes", "networkx", "graphsurgeon.validate", "tensorflow"], str(FREEZE))
    _assert_ok(result)


def test_inspect_of_a_graph_reads_no_checkpoint_modules() -> None:
    result = _run('''
        from graphsurgeon.cli import main
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(["inspect", sys.argv[2] + "/mlp.pb"]) == 0
        check()
    ''', ["ml_dtypes", "networkx", "google_crc32c", "graphsurgeon.rewrite.saved_model_v2",
          "graphsurgeon.validate", "tensorflow", "graphsurgeon.cli._inspect_checkpoint",
          "graphsurgeon.formats.checkpoint", "graphsurgeon.formats.bundle_entries",
          "graphsurgeon._proto.saved_tensor_slice_pb2", "graphsurgeon.graph.object_graph",
          "graphsurgeon.graph.view"], str(GRAPHS))
    _assert_ok(result)


def test_inspect_loads_checkpoint_and_view_code_when_asked() -> None:
    """What inspecting a graph leaves out is still loaded for the arguments that need it."""
    result = _run('''
        from graphsurgeon.cli import main
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(["inspect", sys.argv[2] + "/mlp.pb", "--outputs", "topk", "--why", "x"]) == 0
        assert "graphsurgeon.graph.view" in sys.modules and "graphsurgeon.formats.checkpoint" not in sys.modules
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(["inspect", sys.argv[3] + "/lstm_resource/model.ckpt"]) == 0
        assert "graphsurgeon.cli._inspect_checkpoint" in sys.modules
        check()
    ''', ["ml_dtypes", "networkx", "tensorflow"], str(GRAPHS), str(FREEZE))
    _assert_ok(result)


def test_ml_dtypes_is_loaded_when_a_tensor_needs_it() -> None:
    """bfloat16 both ways: a DataType looked up, and an array made by the caller with ml_dtypes."""
    result = _run('''
        import numpy as np
        from graphsurgeon.formats import tensors
        from graphsurgeon._proto import types_pb2
        DT = types_pb2.DataType
        assert "ml_dtypes" not in sys.modules
        assert DT.DT_BFLOAT16 in tensors.NUMPY_DTYPES and "ml_dtypes" not in sys.modules
        assert tensors.from_numpy_dtype(np.float32) == DT.DT_FLOAT and "ml_dtypes" not in sys.modules
        assert tensors.to_numpy_dtype(DT.DT_BFLOAT16).name == "bfloat16" and "ml_dtypes" in sys.modules
        check()
    ''', ["networkx", "tensorflow"])
    _assert_ok(result)
    result = _run('''
        import ml_dtypes, numpy as np
        from graphsurgeon.formats import tensors
        from graphsurgeon._proto import types_pb2
        arr = np.arange(6, dtype=np.float32).astype(ml_dtypes.int4).reshape(2, 3)
        proto = tensors.array_to_tensor(arr)
        assert proto.dtype == types_pb2.DataType.DT_INT4, proto.dtype
        assert (tensors.tensor_to_array(proto) == arr).all()
        check()
    ''', ["networkx", "tensorflow"])
    _assert_ok(result)


def test_package_attributes_load_on_first_use() -> None:
    result = _run('''
        import graphsurgeon as gs
        assert "numpy" not in sys.modules
        assert set(gs.__all__) <= set(dir(gs))
        from graphsurgeon import *  # noqa: F403
        assert callable(gs.freeze) and gs.GraphView.__module__ == "graphsurgeon.graph.view"
        assert issubclass(gs.errors.CheckpointError, gs.GraphSurgeonError)
        try:
            gs.no_such_name
        except AttributeError as err:
            assert "no_such_name" in str(err)
        else:
            raise AssertionError("gs.no_such_name did not raise")
        check()
    ''', ["tensorflow"])
    _assert_ok(result)

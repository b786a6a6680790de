"""The Python examples in the package docstring and the README run as written, on real fixtures.

Each example runs in a temporary directory that holds the files it names (copies of committed
fixtures made by TensorFlow); the README's "Graph surgery" example has its own, more detailed
test in test_readme_surgery.py.
"""

from __future__ import annotations

import contextlib
import io
import os
import pathlib
import re
import shutil

import pytest

import graphsurgeon as gs

ROOT = pathlib.Path(__file__).resolve().parent.parent
MLP = ROOT / "tests" / "fixtures" / "freeze" / "mlp"


def _run(code: str, where: pathlib.Path, name: str) -> str:
    printed = io.StringIO()
    cwd = os.getcwd()
    try:
        os.chdir(where)
        with contextlib.redirect_stdout(printed):
            exec(compile(code, name, "exec"), {"__name__": "example"})
    finally:
        os.chdir(cwd)
    return printed.getvalue()


def _readme_blocks() -> list[tuple[str, str]]:
    """(section title, code) of every ```python block in README.md."""
    readme = (ROOT / "README.md").read_text()
    out = []
    for section in re.split(r"\n(?=## )", readme):
        title = section.splitlines()[0]
        out.extend((title, code) for code in re.findall(r"```python\n(.*?)```", section, flags=re.S))
    return out


def test_package_docstring_example(tmp_path: pathlib.Path) -> None:
    code = "\n".join(line[4:] for line in gs.__doc__.split("\n\n", 1)[1].split("\n\n", 1)[0].splitlines())
    assert "gs.freeze(" in code, code
    for part in MLP.glob("model.ckpt.*"):  # the docstring names model.ckpt-10000
        shutil.copy(part, tmp_path / part.name.replace("model.ckpt", "model.ckpt-10000"))
    _run(code, tmp_path, "graphsurgeon/__init__.py")
    frozen = gs.load_graph(tmp_path / "frozen.pb").graph_def
    gs.check_graph(frozen)
    assert "logits" in {n.name for n in frozen.node}
    assert not any(n.op in ("VariableV2", "VarHandleOp") for n in frozen.node)


def test_readme_examples_are_all_tested() -> None:
    titles = [title for title, _ in _readme_blocks()]
    # "Coming from NVIDIA's graphsurgeon" is run by tests/nvidia/test_nvidia_ssd.py, "To ONNX, ..." by
    # tests/rewrite/test_converters.py.
    assert titles == ["## What is in the box", "## Graph surgery", "## To ONNX, OpenVINO, OpenCV and TFLite",
                      "## Coming from NVIDIA's graphsurgeon"], \
        f"a README example without a test: {titles}"


def test_readme_quick_start(tmp_path: pathlib.Path) -> None:
    (title, code), = [block for block in _readme_blocks() if block[0] == "## What is in the box"]
    shutil.copytree(ROOT / "examples" / "classifier", tmp_path / "examples" / "classifier")
    printed = _run(code, tmp_path, f"README.md ({title})")
    summary = gs.summarize(gs.load_graph(ROOT / "examples" / "classifier" / "model.ckpt-100.meta"))
    inputs, outputs = [i["name"] for i in summary["inputs"]], [o["name"] for o in summary["outputs"]]
    assert inputs and outputs and printed == f"{inputs} {outputs}\n"
    again = gs.load_graph(tmp_path / "graph.pbtxt")
    original = gs.load_graph(tmp_path / "examples" / "classifier" / "model.ckpt-100.meta")
    assert again.text and again.graph_def == original.graph_def


if __name__ == "__main__":
    pytest.main([__file__])

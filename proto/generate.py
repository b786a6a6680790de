"""Regenerate graphsurgeon/_proto/*_pb2.py (and .pyi) from proto/graphsurgeon/_proto/*.proto.

    python proto/generate.py            # rewrite the generated modules in place
    python proto/generate.py --check    # exit 1 if the committed modules are stale

Uses the protoc bundled with grpcio-tools 1.62.3 (protoc 25.1), so no system protoc is needed.
That protoc is chosen on purpose: its modules carry no runtime-version check and load on every
protobuf runtime from 4.21 to 7.x (measured: 3.20 imports them too, but its pure-Python
serializer orders map entries differently, so outputs would not be byte-identical), while a
newer protoc's modules refuse any runtime older than themselves. grpcio-tools 1.62.3 itself
needs protobuf < 5, which cannot live beside TensorFlow, so the script runs it from its own
virtualenv (``~/.cache/graphsurgeon/``, or ``$GS_PROTOC_VENV``), made on first use.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import venv

PROTO_ROOT = pathlib.Path(__file__).resolve().parent
REPO_ROOT = PROTO_ROOT.parent
PACKAGE_DIR = "graphsurgeon/_proto"
PROTOC_TOOLS = "grpcio-tools==1.62.3"


def tool_python() -> pathlib.Path:
    """The Python of a virtualenv that has PROTOC_TOOLS, made (once) if it is missing."""
    default = pathlib.Path.home() / ".cache" / "graphsurgeon" / PROTOC_TOOLS.replace("==", "-")
    env_dir = pathlib.Path(os.environ.get("GS_PROTOC_VENV", default))
    python = env_dir / "bin" / "python"
    check = [str(python), "-c", f"import importlib.metadata as m; assert m.version('grpcio-tools') == "
             f"{PROTOC_TOOLS.split('==')[1]!r}"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python
    venv.create(env_dir, with_pip=True, clear=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", PROTOC_TOOLS],
                   check=True)
    return python


def generate(out_root: pathlib.Path) -> list[pathlib.Path]:
    """Runs protoc on every schema; returns the generated files, relative to out_root."""
    python = str(tool_python())
    include = subprocess.run(
        [python, "-c", "import grpc_tools, pathlib; print(pathlib.Path(grpc_tools.__file__).parent / '_proto')"],
        check=True, capture_output=True, text=True).stdout.strip()
    sources = sorted(str(p.relative_to(PROTO_ROOT)) for p in (PROTO_ROOT / PACKAGE_DIR).glob("*.proto"))
    args = [python, "-m", "grpc_tools.protoc", f"-I{PROTO_ROOT}", f"-I{include}", f"--python_out={out_root}",
            f"--pyi_out={out_root}"]
    if subprocess.run(args + sources, cwd=PROTO_ROOT).returncode != 0:
        raise SystemExit("protoc failed")
    return sorted(p.relative_to(out_root) for p in (out_root / PACKAGE_DIR).glob("*_pb2.py*"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only compare with the committed modules")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_root = pathlib.Path(tmp)
        generated = generate(tmp_root)
        committed = sorted(p.relative_to(REPO_ROOT) for p in (REPO_ROOT / PACKAGE_DIR).glob("*_pb2.py*"))
        if args.check:
            stale = [str(p) for p in generated if not filecmp.cmp(tmp_root / p, REPO_ROOT / p, shallow=False)
                     ] if generated == committed else ["(file list differs)"]
            if stale:
                print("stale generated modules: " + ", ".join(stale) + "; run python proto/generate.py")
                return 1
            return 0
        for old in committed:
            (REPO_ROOT / old).unlink()
        for rel in generated:
            shutil.copyfile(tmp_root / rel, REPO_ROOT / rel)
        print(f"generated {len(generated)} files in {PACKAGE_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

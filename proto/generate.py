"""Regenerate graphsurgeon/_proto/*_pb2.py (and .pyi) from proto/graphsurgeon/_proto/*.proto.

    python proto/generate.py            # rewrite the generated modules in place
    python proto/generate.py --check    # exit 1 if the committed modules are stale

Uses the protoc bundled with grpcio-tools (a test dependency), so no system protoc is needed.
"""

from __future__ import annotations

import argparse
import filecmp
import pathlib
import shutil
import sys
import tempfile

PROTO_ROOT = pathlib.Path(__file__).resolve().parent
REPO_ROOT = PROTO_ROOT.parent
PACKAGE_DIR = "graphsurgeon/_proto"


def generate(out_root: pathlib.Path) -> list[pathlib.Path]:
    """Runs protoc on every schema; returns the generated files, relative to out_root."""
    import grpc_tools
    from grpc_tools import protoc

    include = pathlib.Path(grpc_tools.__file__).parent / "_proto"
    sources = sorted(str(p.relative_to(PROTO_ROOT)) for p in (PROTO_ROOT / PACKAGE_DIR).glob("*.proto"))
    args = ["protoc", f"-I{PROTO_ROOT}", f"-I{include}", f"--python_out={out_root}", f"--pyi_out={out_root}"]
    if protoc.main(args + sources) != 0:
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

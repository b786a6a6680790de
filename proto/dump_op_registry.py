"""Write graphsurgeon/data/tf_ops.pb.gz: every op TensorFlow registers, as one gzipped OpList.

Run by hand, with TensorFlow installed, when the bundled registry should follow a new TensorFlow:

    python proto/dump_op_registry.py

The OpDefs come from TensorFlow's C++ op registry (``TF_GetAllOpList``), so every op is there,
including the raw ops without a Python wrapper and internal ones such as ``_Arg``/``_Retval``.
Documentation strings are dropped (a third of the bytes, and nothing reads them); everything
else (args, attrs with their types, defaults, minimums and allowed values, flags, deprecation)
is kept as TensorFlow has it. The ops are sorted by name and the gzip header carries no time,
so the same TensorFlow gives the same bytes. ``tf_ops.json`` beside it records the TensorFlow
version, the op count and the SHA-256 of the uncompressed OpList.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import pathlib

DATA = pathlib.Path(__file__).resolve().parent.parent / "graphsurgeon" / "data"


def registered_op_list() -> bytes:
    """The installed TensorFlow's registered ops as a serialized OpList, without doc strings, sorted."""
    from tensorflow.core.framework import op_def_pb2
    from tensorflow.python.client import pywrap_tf_session as c_api

    buffer = c_api.TF_GetAllOpList()
    try:
        op_list = op_def_pb2.OpList.FromString(c_api.TF_GetBuffer(buffer))
    finally:
        c_api.TF_DeleteBuffer(buffer)
    return strip_docs(op_list).SerializeToString(deterministic=True)


def strip_docs(op_list):  # type: ignore[no-untyped-def]
    """A copy of ``op_list`` without summaries and descriptions, ops sorted by name."""
    out = type(op_list)()
    for op in sorted(op_list.op, key=lambda o: o.name):
        new = out.op.add()
        new.CopyFrom(op)
        new.ClearField("summary")
        new.ClearField("description")
        for arg in (*new.input_arg, *new.output_arg):
            arg.ClearField("description")
        for attr in new.attr:
            attr.ClearField("description")
    return out


def main() -> None:
    import tensorflow as tf

    data = registered_op_list()
    from tensorflow.core.framework import op_def_pb2

    count = len(op_def_pb2.OpList.FromString(data).op)
    DATA.mkdir(parents=True, exist_ok=True)
    (DATA / "tf_ops.pb.gz").write_bytes(gzip.compress(data, compresslevel=9, mtime=0))
    meta = {"tensorflow_version": tf.__version__, "tensorflow_git_version": tf.__git_version__,
            "op_count": count, "sha256": hashlib.sha256(data).hexdigest()}
    (DATA / "tf_ops.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(f"wrote {count} ops from TensorFlow {tf.__version__} to {DATA / 'tf_ops.pb.gz'}")


if __name__ == "__main__":
    main()

"""``gs inspect CKPT``: list a checkpoint's tensors, or print one tensor's values and statistics.

Called by ``graphsurgeon.cli.inspect`` when its path is a checkpoint. Uses the flags that module
defines: ``path``, ``--tensor NAME``, ``--all``, ``--json``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from typing import Any

import numpy as np

from graphsurgeon.formats.checkpoint import Checkpoint, load_checkpoint
from graphsurgeon.formats.protofile import format_bytes
from graphsurgeon.summary import summarize_checkpoint

#: Show a progress bar (on a terminal) when a tensor is at least this large.
PROGRESS_MIN_BYTES = 64 << 20
#: Without --all, JSON output carries values only for tensors with at most this many elements.
JSON_VALUES_LIMIT = 1000
_STATS_CHUNK = 1 << 22  # elements converted to float64 at a time


def run(args: argparse.Namespace) -> int:
    ckpt = load_checkpoint(args.path)
    if getattr(args, "tensor", None):
        return _show_tensor(ckpt, args.tensor, bool(getattr(args, "all", False)), bool(getattr(args, "json", False)))
    summary = summarize_checkpoint(ckpt)
    if getattr(args, "json", False):
        print(json.dumps(summary, indent=2))
    else:
        print(format_listing(summary))
    return 0


def _shape(shape: list[int]) -> str:
    return "[" + ",".join(str(d) for d in shape) + "]"


def format_listing(summary: dict[str, Any]) -> str:
    """The aligned table: one tensor a line (name, dtype, shape, elements, bytes), totals last."""
    rows = [("name", "dtype", "shape", "elements", "bytes", "")]
    for t in summary["tensors"]:
        note = f"{t['num_slices']} slices" if t["num_slices"] else ""
        rows.append((t["name"], t["dtype"], _shape(t["shape"]), str(t["num_elements"]), str(t["nbytes"]), note))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    if summary["format"] == "V1":
        where = "legacy V1 single file"
    else:
        where = f"{summary['num_shards']} data shard{'s' if summary['num_shards'] != 1 else ''}"
    lines = [f"checkpoint {summary['prefix']}  ({where}{', object-based' if summary['object_based'] else ''})"]
    for r in rows:
        line = (f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  "
                f"{r[3]:>{widths[3]}}  {r[4]:>{widths[4]}}  {r[5]}")
        lines.append(line.rstrip())
    total = summary["total"]
    lines.append(f"total: {total['tensors']} tensors, {total['elements']} elements, {total['bytes']} bytes "
                 f"({format_bytes(total['bytes'])})")
    return "\n".join(lines)


class _Progress:
    """A one-line progress bar on stderr (only used when stderr is a terminal)."""

    def __init__(self, label: str, total: int) -> None:
        self.label, self.total, self.done, self.last = label, total, 0, 0.0

    def __call__(self, nbytes: int) -> None:
        self.done += nbytes
        now = time.monotonic()
        if now - self.last >= 0.1 or self.done >= self.total:
            self.last = now
            frac = self.done / self.total if self.total else 1.0
            bar = "#" * int(frac * 30)
            sys.stderr.write(f"\rreading {self.label} [{bar:<30}] {frac:6.1%} of {format_bytes(self.total)}")
            sys.stderr.flush()

    def finish(self) -> None:
        sys.stderr.write("\n")
        sys.stderr.flush()


def tensor_stats(array: np.ndarray) -> dict[str, Any]:
    """min, max, mean, std (population), NaN and Inf counts; ``None`` where they do not apply.

    Works in chunks so a multi-GB tensor needs little extra memory. Strings get only counts.
    """
    count = int(array.size)
    stats: dict[str, Any] = {"count": count, "min": None, "max": None, "mean": None, "std": None,
                             "nan": 0, "inf": 0}
    if array.dtype == object:
        stats.update(nan=None, inf=None, total_string_bytes=int(sum(len(v) for v in array.reshape(-1))))
        return stats
    if count == 0:
        return stats
    flat = array.reshape(-1)
    is_complex = array.dtype.kind == "c"
    integer = _is_integer(array.dtype)
    lo, hi = math.inf, -math.inf
    total = 0j if is_complex else 0.0
    squares = 0.0
    finite = 0
    wide = np.complex128 if is_complex else np.float64
    for start in range(0, count, _STATS_CHUNK):
        native = flat[start:start + _STATS_CHUNK]
        if integer:  # exact min/max (float64 would round large int64/uint64)
            exact = native if native.dtype.kind in "iu" else native.astype(np.int64)
            lo, hi = min(lo, int(exact.min())), max(hi, int(exact.max()))
        with np.errstate(invalid="ignore"):  # signaling NaNs warn when widened
            chunk = native.astype(wide)
        nan = np.isnan(chunk)
        inf = np.isinf(chunk)
        stats["nan"] += int(nan.sum())
        stats["inf"] += int(inf.sum())
        good = chunk[~(nan | inf)]
        finite += good.size
        if good.size:
            if not is_complex and not integer:
                lo, hi = min(lo, float(good.min())), max(hi, float(good.max()))
            total += good.sum()
    if finite:
        mean = total / finite
        for start in range(0, count, _STATS_CHUNK):
            with np.errstate(invalid="ignore"):
                chunk = flat[start:start + _STATS_CHUNK].astype(wide)
            good = chunk[np.isfinite(chunk)]
            squares += float(np.sum(np.abs(good - mean) ** 2))
        stats["mean"] = [float(mean.real), float(mean.imag)] if is_complex else float(mean.real)
        stats["std"] = math.sqrt(squares / finite)
        if not is_complex:
            stats["min"], stats["max"] = _number(lo, array.dtype), _number(hi, array.dtype)
    return stats


def _is_integer(dtype: np.dtype) -> bool:
    return dtype.kind in "iub" or dtype.name in ("int4", "uint4", "int2", "uint2")


def _number(value: float, dtype: np.dtype) -> float | int:
    return int(value) if _is_integer(dtype) else value


def _json_values(array: np.ndarray) -> Any:
    if array.dtype == object:
        return np.vectorize(lambda b: b.decode("utf-8", "backslashreplace"), otypes=[object])(array).tolist() \
            if array.size else array.tolist()
    if array.dtype.kind == "c":
        return np.stack([array.real, array.imag], axis=-1).astype(np.float64).tolist()
    if _is_integer(array.dtype):
        return array.astype(np.int64).tolist() if array.dtype.kind == "V" else array.tolist()
    with np.errstate(invalid="ignore"):
        values = array.astype(np.float64)
    if np.isfinite(values).all():
        return values.tolist()
    return np.vectorize(lambda v: v if math.isfinite(v) else str(v), otypes=[object])(values).tolist()


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def _show_tensor(ckpt: Checkpoint, name: str, whole: bool, as_json: bool) -> int:
    info = ckpt.info(name)  # NodeNotFoundError with close matches
    progress = None
    if info.nbytes >= PROGRESS_MIN_BYTES and sys.stderr.isatty():
        progress = _Progress(name, info.nbytes)
    try:
        array = ckpt.read(name, progress=progress)
    finally:
        if progress is not None:
            progress.finish()
    stats = tensor_stats(array)
    if as_json:
        data: dict[str, Any] = {"name": name, "dtype": info.dtype_name, "dtype_enum": info.dtype,
                                "shape": list(info.shape), "num_elements": info.num_elements,
                                "nbytes": info.nbytes, "num_slices": info.num_slices,
                                "stats": {k: _json_safe(v) for k, v in stats.items()}}
        if whole or info.num_elements <= JSON_VALUES_LIMIT:
            data["values"] = _json_values(array)
        print(json.dumps(data, indent=2))
        return 0
    print(f"{name}  {info.dtype_name}  {_shape(list(info.shape))}  {info.num_elements} elements  {info.nbytes} bytes"
          + (f"  ({info.num_slices} slices)" if info.num_slices else ""))
    options: dict[str, Any] = {"threshold": sys.maxsize} if whole else {}
    with np.printoptions(**options):
        print(np.array2string(array, separator=", "))
    for key in ("count", "min", "max", "mean", "std", "nan", "inf", "total_string_bytes"):
        if key in stats and stats[key] is not None:
            print(f"{key + ':':<8} {stats[key]}")
    return 0

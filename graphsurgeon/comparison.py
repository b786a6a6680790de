"""Comparing a frozen graph's outputs with the original's, and the report of ``validate`` (no TensorFlow).

The default judgement is scale-aware: an output passes when every element satisfies
``|frozen - original| <= atol + rtol * scale``, where ``scale`` is the largest finite
``|original|`` of that output. A deep net whose logits reach 2e3 then tolerates the summation-order
noise of its large elements on its near-zero ones too, where numpy's element-wise ``allclose`` rule
(``elementwise=True``: ``|frozen - original| <= atol + rtol * |original|`` per element) fails them.
Each output reports its largest absolute error, that error relative to the scale, and the scale.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

#: Default tolerances: |frozen - original| <= atol + rtol * max|original| (or, element-wise,
#: atol + rtol * |original|, numpy.allclose).
DEFAULT_RTOL = 1e-4
DEFAULT_ATOL = 1e-5

_FLOAT_KINDS = "fc"


def _is_floating(dtype: np.dtype) -> bool:
    if dtype.kind in _FLOAT_KINDS:
        return True
    try:
        return np.issubdtype(dtype, np.floating) or "float" in dtype.name
    except TypeError:
        return False


@dataclasses.dataclass(frozen=True)
class Comparison:
    """One output compared: ``frozen`` against ``original``.

    Attributes:
        max_abs: the largest ``|frozen - original|`` (NaN when a NaN meets a number; for integers
            the largest difference; ``None`` for bools, strings, or a shape/dtype mismatch).
        max_rel: ``max_abs / scale`` (floats only, else ``None``); infinite when the scale is 0.
        scale: the largest finite ``|original|`` (floats only, else ``None``).
        ok: whether the output passes.
        note: ``"N of M differ"`` (the failing elements), or why the arrays cannot be compared.
        allowed: the largest difference allowed (``atol + rtol * scale``; ``None`` element-wise
            and for non-floats).
    """

    max_abs: float | None
    max_rel: float | None
    scale: float | None
    ok: bool
    note: str = ""
    allowed: float | None = None


def compare(original: np.ndarray, frozen: np.ndarray, rtol: float = DEFAULT_RTOL, atol: float = DEFAULT_ATOL,
            elementwise: bool = False) -> Comparison:
    """``frozen`` against ``original``: floats within tolerance, everything else exactly.

    Floats pass when ``|frozen - original| <= atol + rtol * scale`` everywhere, ``scale`` being
    the largest finite ``|original|``; with ``elementwise``, when ``|frozen - original| <= atol +
    rtol * |original|`` everywhere (numpy's ``allclose``). NaN matches NaN, an infinity only the
    same infinity. Integers, bools and strings must be equal.
    """
    a = np.asarray(original)
    b = np.asarray(frozen)
    if a.shape != b.shape:
        return Comparison(None, None, None, False, f"shape {list(b.shape)} != original {list(a.shape)}")
    if a.dtype != b.dtype:
        return Comparison(None, None, None, False, f"dtype {b.dtype} != original {a.dtype}")
    if not _is_floating(a.dtype):
        differ = int(np.sum(a != b)) if a.size else 0
        max_abs = None
        if a.dtype.kind in "iu":
            max_abs = float(np.max(np.abs(b.astype(np.float64) - a.astype(np.float64)))) if a.size else 0.0
        return Comparison(max_abs, None, None, differ == 0, f"{differ} of {a.size} differ" if differ else "")
    if a.size == 0:
        return Comparison(0.0, 0.0, 0.0, True, "", atol)
    wide = np.complex128 if a.dtype.kind == "c" else np.float64
    x, y = a.astype(wide), b.astype(wide)
    same = (x == y) | (np.isnan(x) & np.isnan(y))
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.where(same, 0.0, np.abs(y - x))
    magnitude = np.abs(x)
    finite = magnitude[np.isfinite(magnitude)]
    scale = float(np.max(finite)) if finite.size else 0.0
    max_abs = float(np.max(diff))  # NaN when a NaN meets a number
    if max_abs == 0:
        max_rel = 0.0
    elif math.isnan(max_abs):
        max_rel = math.nan
    else:
        max_rel = max_abs / scale if scale > 0 else math.inf
    if elementwise:
        close = np.isclose(y, x, rtol=rtol, atol=atol, equal_nan=True)
        allowed = None
    else:
        allowed = atol + rtol * scale
        close = same | (diff <= allowed)  # a NaN difference is never close
    bad = int(np.sum(~close))
    return Comparison(max_abs, max_rel, scale, bad == 0, f"{bad} of {a.size} differ" if bad else "", allowed)


def compare_arrays(original: np.ndarray, frozen: np.ndarray, rtol: float = DEFAULT_RTOL, atol: float = DEFAULT_ATOL,
                   elementwise: bool = False) -> tuple[float | None, float | None, bool, str]:
    """(max_abs, max_rel, ok, note) of ``compare``."""
    found = compare(original, frozen, rtol, atol, elementwise)
    return found.max_abs, found.max_rel, found.ok, found.note


@dataclasses.dataclass
class ValidationRow:
    """One output on one device: the frozen graph's answer against the original's.

    ``max_rel`` is ``max_abs`` relative to ``scale``, the largest finite ``|original|``
    (``None`` for non-floats).
    """

    output: str
    device: str
    shape: tuple[int, ...]
    dtype: str
    max_abs: float | None
    max_rel: float | None
    ok: bool
    note: str = ""
    scale: float | None = None

    def explain(self, rtol: float, atol: float, elementwise: bool) -> str:
        """Why this row failed, with the observed error, the scale and the flags that set the tolerance."""
        where = f"{self.output} on {self.device}"
        if self.scale is None:
            if "differ" not in self.note:  # shape or dtype
                return f"{where}: {self.note}"
            return f"{where}: {self.note} ({self.dtype} must match exactly; --rtol/--atol apply to floats only)"
        error = (f"max abs error {_fmt(self.max_abs)}, relative error {_fmt(self.max_rel)} against the output's "
                 f"scale {_fmt(self.scale)} (max |original|)")
        allowed = f"atol {atol:g} + rtol {rtol:g} * scale = {_fmt(atol + rtol * self.scale)}"
        if elementwise:
            return (f"{where}: {self.note} element-wise (--elementwise: |frozen - original| <= atol {atol:g} + rtol "
                    f"{rtol:g} * |original|); {error}; without --elementwise the allowed error is {allowed} "
                    "(tolerance flags: --rtol, --atol)")
        return f"{where}: {error}, over the allowed {allowed} (tolerance flags: --rtol, --atol)"


def _num(value: float | None) -> float | str | None:
    if value is None:
        return None
    if math.isnan(value) or math.isinf(value):
        return str(value)
    return value


def plain_value(array: np.ndarray) -> Any:
    """An array as plain JSON-ready data (nested lists of Python scalars; bytes as text)."""
    if array.dtype.kind in "OS":
        return np.vectorize(lambda v: v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v),
                            otypes=[object])(array).tolist() if array.size else array.tolist()
    value = array.tolist()
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return str(value)
    return value


def _value_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and math.isfinite(value) and float(np.float32(value)) == value:
        return str(np.float32(value))  # a float32's shortest text: 0.3, not 0.30000001192092896
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclasses.dataclass
class ValidationReport:
    """What ``validate`` found: one row per output and device.

    Attributes:
        original: the original model (path) and ``checkpoint`` its checkpoint prefix, if any.
        frozen: the frozen graph (path, or ``"the graph"``).
        rows: ``ValidationRow`` per output per device.
        inputs: tensor name -> (shape, dtype) of what was fed; ``random``: names given random values.
        devices: the devices run on (``CPU:0``, ``GPU:0``...).
        rtol, atol: the tolerances for floating-point outputs; ``elementwise``: judged per element
            (numpy's ``allclose``) rather than against each output's scale.
        fixed: tensor name -> (value, where it came from) for the placeholders of the original that
            the frozen graph no longer has (bound at freeze time, or folded away), fed to the
            original with their bound value (or, when the frozen graph keeps nothing of them, the
            switch's inference value that ``gs inspect`` gives).
        overridden: tensor name -> (given value, value bound in the frozen graph) for the placeholders
            given a value other than the one the frozen graph bound: the original ran with the given
            value, the frozen graph with its bound one (``warnings`` says so).
    """

    original: str
    frozen: str
    checkpoint: str | None
    rows: list[ValidationRow]
    inputs: dict[str, tuple[tuple[int, ...], str]]
    random: list[str]
    devices: list[str]
    rtol: float
    atol: float
    seed: int = 0
    signature: str | None = None
    elementwise: bool = False
    fixed: dict[str, tuple[Any, str]] = dataclasses.field(default_factory=dict)
    overridden: dict[str, tuple[Any, Any]] = dataclasses.field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Every output matched on every device (and there was at least one)."""
        return bool(self.rows) and all(row.ok for row in self.rows)

    @property
    def failures(self) -> list[ValidationRow]:
        return [row for row in self.rows if not row.ok]

    @property
    def warnings(self) -> list[str]:
        """One line per given input that the frozen graph bound to another value: why outputs may differ."""
        return [f"{name} is given as {_value_text(mine)} but the frozen graph bound it to {_value_text(theirs)}: the "
                f"original runs with {_value_text(mine)}, the frozen graph with {_value_text(theirs)}, so outputs may "
                "differ" for name, (mine, theirs) in self.overridden.items()]

    @property
    def rule(self) -> str:
        """The tolerance rule for floats, with its values."""
        if self.elementwise:
            return f"element-wise: |frozen - original| <= atol {self.atol:g} + rtol {self.rtol:g} * |original|"
        return f"|frozen - original| <= atol {self.atol:g} + rtol {self.rtol:g} * scale, scale = max |original|"

    def worst(self) -> ValidationRow | None:
        """The failing row to explain first: a float output with the largest relative error, else the first."""
        failures = self.failures
        floats = [r for r in failures if r.scale is not None]
        if not floats:
            return failures[0] if failures else None
        return max(floats, key=lambda r: math.inf if r.max_rel is None or math.isnan(r.max_rel) else r.max_rel)

    def mismatch_message(self) -> str:
        """One line: what differs, the worst error against its scale, and the flags that set the tolerance."""
        worst = self.worst()
        if worst is None:
            return ""
        why = worst.explain(self.rtol, self.atol, self.elementwise)
        if len(self.failures) == 1:
            return f"MISMATCH: {why}"
        bad = ", ".join(f"{r.output} on {r.device}" for r in self.failures)
        return f"MISMATCH: {bad}; worst: {why}"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (NaN and infinity as strings)."""
        inputs: dict[str, dict[str, Any]] = {}
        for name, (shape, dtype) in self.inputs.items():
            entry: dict[str, Any] = {"shape": list(shape), "dtype": dtype, "random": name in self.random}
            if name in self.fixed:
                entry["value"], entry["source"] = self.fixed[name]
            elif name in self.overridden:
                entry["value"], entry["bound_value"] = self.overridden[name]
                entry["source"] = "given"
            inputs[name] = entry
        return {
            "ok": self.ok,
            "original": self.original,
            "checkpoint": self.checkpoint,
            "frozen": self.frozen,
            "devices": list(self.devices),
            "rtol": self.rtol,
            "atol": self.atol,
            "elementwise": self.elementwise,
            "rule": self.rule,
            "seed": self.seed,
            "signature": self.signature,
            "inputs": inputs,
            "warnings": self.warnings,
            "rows": [{"output": r.output, "device": r.device, "shape": list(r.shape), "dtype": r.dtype,
                      "max_abs": _num(r.max_abs), "max_rel": _num(r.max_rel), "scale": _num(r.scale), "ok": r.ok,
                      "note": r.note} for r in self.rows],
            "message": self.mismatch_message() or None,
        }

    def format(self) -> str:
        """An aligned table for people, with a one-line verdict at the end."""
        lines = [f"original: {self.original}" + (f" (checkpoint {self.checkpoint})" if self.checkpoint else ""),
                 f"frozen:   {self.frozen}"]
        if self.signature:
            lines.append(f"signature: {self.signature} (TF2 SavedModel, run eagerly)")
        for name, (shape, dtype) in self.inputs.items():
            if name in self.fixed:
                value, source = self.fixed[name]
                how = f"= {_value_text(value)}, {source}"
            else:
                how = f"random, seed {self.seed}" if name in self.random else "given"
            lines.append(f"input:    {name} {dtype}[{','.join(map(str, shape))}] ({how})")
        lines.extend(f"warning:  {warning}" for warning in self.warnings)
        header = ("output", "device", "shape", "dtype", "max_abs", "max_rel", "scale", "ok")
        table = [header]
        for r in self.rows:
            table.append((r.output, r.device, "[" + ",".join(map(str, r.shape)) + "]", r.dtype,
                          _fmt(r.max_abs), _fmt(r.max_rel), _fmt(r.scale),
                          "ok" if r.ok else "MISMATCH" + (f" ({r.note})" if r.note else "")))
        widths = [max(len(row[i]) for row in table) for i in range(len(header) - 1)]
        lines.append("")
        for row in table:
            lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[-1])
        lines.append("")
        outputs = sorted({r.output for r in self.rows})
        if self.ok:
            lines.append(f"OK: {len(outputs)} output(s) match on {', '.join(self.devices)} ({self.rule})")
        else:
            lines.append(self.mismatch_message())
        return "\n".join(lines)


def dtype_label(array: np.ndarray) -> str:
    """numpy's dtype name, or ``string`` for TensorFlow strings (object/bytes arrays)."""
    return "string" if array.dtype.kind in "OSU" else str(array.dtype)


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if value == 0:
        return "0"
    return f"{value:.3g}"

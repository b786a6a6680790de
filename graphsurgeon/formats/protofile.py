"""Read and write one protobuf message, binary or text, with atomic writes and a 2 GiB guard."""

from __future__ import annotations

import contextlib
import glob
import os
import pathlib
import re
import tempfile
from collections.abc import Iterable, Iterator
from typing import IO, TypeVar

from google.protobuf import message as _message
from google.protobuf import text_format

from graphsurgeon.errors import FileFormatError, OutputError

M = TypeVar("M", bound=_message.Message)

#: A serialized protobuf message must stay below 2 GiB (protobuf's hard limit).
PROTOBUF_LIMIT = 2**31 - 1
# Tests shrink this to exercise the guard without writing gigabytes.
_size_limit = PROTOBUF_LIMIT

_TEXT_START = re.compile(rb"^[A-Za-z_][A-Za-z0-9_.\[\]/]*\s*[{:<]")


def size_limit() -> int:
    """The largest serialized message graphsurgeon will write, in bytes."""
    return _size_limit


def set_size_limit(limit: int | None) -> None:
    """Overrides the 2 GiB output limit (for tests); ``None`` restores protobuf's limit."""
    global _size_limit
    _size_limit = PROTOBUF_LIMIT if limit is None else int(limit)


def looks_like_text(data: bytes) -> bool:
    """True when ``data`` is UTF-8 whose first token starts a text-format field (docs/formats.md §7)."""
    chunk = data[:4096]
    try:
        text = chunk.decode("utf-8")
    except UnicodeDecodeError as err:
        # Only a multi-byte character cut at the end of the sampled prefix is forgiven.
        if len(data) <= len(chunk) or err.start < len(chunk) - 3:
            return False
        text = chunk[: err.start].decode("utf-8")
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        return bool(_TEXT_START.match(stripped.encode()))
    return False


def read_bytes(path: str | os.PathLike[str], what: str = "file") -> bytes:
    """Reads a whole file, turning OS errors into ``FileFormatError`` naming the path."""
    p = pathlib.Path(path)
    if not p.exists():
        raise FileFormatError(f"{what} '{p}' does not exist")
    if p.is_dir():
        raise FileFormatError(f"{what} '{p}' is a directory, not a file")
    try:
        return p.read_bytes()
    except OSError as err:
        raise FileFormatError(f"cannot read {what} '{p}': {err.strerror or err}") from err


def parse_message(data: bytes, message_type: type[M], source: str = "<bytes>", text: bool | None = None,
                  strict: bool = False) -> M:
    """Parses binary or text protobuf bytes into a new ``message_type``.

    With ``text=None`` the encoding is detected from the content; the other parser is tried
    when the first one fails. Raises ``FileFormatError`` naming ``source`` when neither works.
    Text parsing skips unknown fields unless ``strict`` is true (then, like TensorFlow's own
    parser, an unknown field is an error naming its line).
    """
    name = message_type.DESCRIPTOR.name
    order = [looks_like_text(data)] if text is None else [text]
    if text is None:
        order.append(not order[0])
    errors = []
    for as_text in order:
        msg = message_type()
        try:
            if as_text:
                text_format.Parse(data.decode("utf-8"), msg, allow_unknown_field=not strict,
                                  allow_unknown_extension=not strict)
            else:
                msg.ParseFromString(data)
            return msg
        except (text_format.ParseError, _message.DecodeError, UnicodeDecodeError, RuntimeError,
                ValueError) as err:
            errors.append(("text" if as_text else "binary", err))
    detail = "; ".join(f"as {kind}: {str(err).splitlines()[0][:200]}" for kind, err in errors)
    raise FileFormatError(f"'{source}' is not a {name} protobuf ({detail})")


def serialize_message(msg: _message.Message, text: bool = False) -> bytes:
    """Serializes ``msg`` (binary, or text format); deterministic map ordering."""
    if text:
        return text_format.MessageToString(msg).encode("utf-8")
    return msg.SerializeToString(deterministic=True)


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """True when ``a`` and ``b`` name the same existing file (or the same resolved path)."""
    pa, pb = pathlib.Path(a), pathlib.Path(b)
    try:
        if pa.exists() and pb.exists():
            return os.path.samefile(pa, pb)
    except OSError:
        pass
    return pa.resolve() == pb.resolve()


def _input_files(src: str | os.PathLike[str]) -> list[pathlib.Path]:
    """``src`` and, when it is a checkpoint prefix, its ``.index`` and ``.data-*`` files."""
    path = pathlib.Path(src)
    files = [path]
    index = pathlib.Path(f"{path}.index")
    if index.is_file():
        files.append(index)
        files.extend(sorted(path.parent.glob(glob.escape(path.name) + ".data-*")))
    return files


def check_output_path(path: str | os.PathLike[str], inputs: Iterable[str | os.PathLike[str]] = ()) -> pathlib.Path:
    """Refuses an output that is an input, a directory, or in a missing/unwritable directory.

    An input that is a checkpoint prefix protects its ``.index`` and ``.data-*`` files; an input
    that is a directory (a SavedModel) protects every file already in it.
    """
    out = pathlib.Path(path)
    for src in inputs:
        if not src:
            continue
        for file in _input_files(src):
            if same_file(out, file):
                raise OutputError(f"output '{out}' is the same file as input '{file}'; choose another output path")
        if os.path.isdir(src) and out.is_file() and out.resolve().is_relative_to(pathlib.Path(src).resolve()):
            raise OutputError(f"output '{out}' would overwrite a file of input '{src}'; choose another output path")
    if out.is_dir():
        raise OutputError(f"output '{out}' is a directory; give a file name")
    parent = out.parent if str(out.parent) else pathlib.Path(".")
    if not parent.is_dir():
        if parent.exists():
            raise OutputError(f"cannot write '{out}': '{parent}' is a file, not a directory")
        raise OutputError(f"cannot write '{out}': directory '{parent}' does not exist")
    if not os.access(parent, os.W_OK):
        raise OutputError(f"cannot write '{out}': directory '{parent}' is not writable")
    return out


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike[str], inputs: Iterable[str | os.PathLike[str]] = (),
                  fsync: bool = True) -> Iterator[IO[bytes]]:
    """Opens a temporary file beside ``path``; renames it into place only if the block succeeds.

    On any exception the temporary file is removed and ``path`` is left as it was. With ``fsync``
    the data reaches the disk before the rename (without, it may still sit in the page cache).
    """
    out = check_output_path(path, inputs)
    parent = out.parent if str(out.parent) else pathlib.Path(".")
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=parent)
    except OSError as err:
        raise OutputError(f"cannot write '{out}': {err.strerror or err}") from err
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            if fsync:
                os.fsync(handle.fileno())
        os.chmod(tmp_name, 0o666 & ~_umask())
        os.replace(tmp_name, out)
    except OSError as err:
        _remove_quietly(tmp_name)
        raise OutputError(f"cannot write '{out}': {err.strerror or err}") from err
    except BaseException:
        _remove_quietly(tmp_name)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _remove_quietly(name: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(name)


def check_size(size: int, path: str | os.PathLike[str], largest: Iterable[tuple[str, int]] = ()) -> None:
    """Raises ``OutputError`` when a ``size``-byte message cannot be written as one protobuf."""
    if size <= _size_limit:
        return
    top = ", ".join(f"'{name}' ({format_bytes(n)})" for name, n in list(largest)[:5])
    limit = "2 GiB" if _size_limit == PROTOBUF_LIMIT else f"{_size_limit} bytes (configured limit)"
    raise OutputError(
        f"'{path}' would be {format_bytes(size)}; a protobuf message cannot exceed {limit}"
        + (f"; largest nodes: {top}" if top else "")
    )


def save_message(msg: _message.Message, path: str | os.PathLike[str], text: bool = False,
                 inputs: Iterable[str | os.PathLike[str]] = ()) -> int:
    """Writes ``msg`` to ``path`` atomically; returns the number of bytes written.

    Refuses to overwrite any of ``inputs`` and checks the 2 GiB limit before writing anything.
    """
    check_output_path(path, inputs)
    size = msg.ByteSize()
    if not text:
        check_size(size, path, _largest_nodes(msg))
    data = serialize_message(msg, text=text)
    if text:
        check_size(len(data), path, _largest_nodes(msg))
    with atomic_writer(path, inputs) as handle:
        handle.write(data)
    return len(data)


def _largest_nodes(msg: _message.Message) -> list[tuple[str, int]]:
    nodes = getattr(msg, "node", None)
    if nodes is None:
        graph_def = getattr(msg, "graph_def", None)
        nodes = getattr(graph_def, "node", None)
    if nodes is None:
        return []
    sizes = sorted(((n.name, n.ByteSize()) for n in nodes), key=lambda item: -item[1])
    return sizes[:5]


def format_bytes(n: int) -> str:
    """``1536`` -> ``'1.5 KiB'``."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")

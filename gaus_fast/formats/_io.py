"""Shared plumbing for the format readers and writers: loading input, naming it in errors, writing output.

Every error a user can cause while reading is a `ProblemError` whose one-line message starts with the
input's name (the path as given, or ``<text>`` for inline text) and, where the line is known, ``:LINE``.
"""
from __future__ import annotations

import json
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Union

from ..problem import ProblemError

PathOrText = Union[str, os.PathLike, bytes]


@dataclass
class Source:
    """Where an input came from: ``label`` names it in messages, ``stem`` is the default problem name."""

    label: str
    stem: str
    path: Path | None = None


def one_line(msg: str) -> str:
    return " ".join(str(msg).split())


def error(src: Source | str, msg: str, line: int | None = None) -> ProblemError:
    label = src.label if isinstance(src, Source) else str(src)
    where = f"{label}:{line}" if line is not None else label
    return ProblemError(one_line(f"{where}: {msg}"))


def _looks_like_text(s: str, openers: tuple[str, ...]) -> bool:
    """A str is content (not a path) if it has a line break, or names no existing file and starts with one of
    the format's openers followed by a non-name character (``digraph {`` yes, ``graph_1.dot`` no)."""
    if "\n" in s or "\r" in s:
        return True
    if not s.strip():
        return False
    try:
        if os.path.exists(s):
            return False
    except (OSError, ValueError):
        pass
    head = s.lstrip()
    for o in openers:
        if head.startswith(o):
            rest = head[len(o):]
            if not o[-1].isalnum() or not rest or not (rest[0].isalnum() or rest[0] in "_.-/\\"):
                return True
    return False


def _open_path(path: Path, label: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise error(label, "no such file") from None
    except IsADirectoryError:
        raise error(label, "is a directory, not a file") from None
    except PermissionError:
        raise error(label, "permission denied") from None
    except OSError as err:
        raise error(label, f"cannot read file ({err.strerror or err})") from None


def load_bytes(path_or_data: PathOrText, openers: tuple[str, ...] = (), name: str | None = None) -> tuple[bytes, Source]:
    """Bytes from a path (str or PathLike) or from the data itself (bytes, or a str that looks like content)."""
    if isinstance(path_or_data, (bytes, bytearray, memoryview)):
        data = bytes(path_or_data)
        return data, Source("<data>", name or "problem")
    if isinstance(path_or_data, str) and _looks_like_text(path_or_data, openers):
        return path_or_data.encode("utf-8"), Source("<text>", name or "problem")
    if not isinstance(path_or_data, (str, os.PathLike)):
        raise ProblemError(f"expected a path, text or bytes, got {type(path_or_data).__name__}")
    path = Path(path_or_data)
    label = str(path_or_data)
    return _open_path(path, label), Source(label, name or _stem(path), path)


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".gz",):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return name.rsplit(".", 1)[0] if "." in name else name


def decode(data: bytes, src: Source) -> str:
    """UTF-8 text (a BOM is dropped); a decoding failure names the line."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise error(src, f"not UTF-8 text (bad byte 0x{data[err.start]:02x} at offset {err.start})", line) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    return text


def load_text(path_or_text: PathOrText, openers: tuple[str, ...] = (), name: str | None = None) -> tuple[str, Source]:
    data, src = load_bytes(path_or_text, openers, name)
    return decode(data, src), src


def load_json(text: str, src: Source):
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise error(src, f"invalid JSON: {err.msg} (column {err.colno})", err.lineno) from None
    except RecursionError:
        raise error(src, "invalid JSON: nested too deeply") from None


def json_line(text: str, value) -> int | None:
    """Best-effort line of the first occurrence of ``value`` written as a JSON string (for messages)."""
    needle = json.dumps(str(value))
    pos = text.find(needle)
    if pos < 0:
        return None
    return text.count("\n", 0, pos) + 1


@contextmanager
def in_source(src: Source, line: int | None = None) -> Iterator[None]:
    """Prefix a `ProblemError` raised inside (e.g. by `Problem` validation) with the input's name."""
    try:
        yield
    except ProblemError as err:
        msg = str(err)
        if msg.startswith(src.label + ":"):
            raise
        raise error(src, msg, line) from None


def write_output(path, text: str | bytes) -> None:
    """Write text or bytes; OS errors become `ProblemError` naming the file."""
    label = str(path)
    try:
        if isinstance(text, (bytes, bytearray)):
            Path(path).write_bytes(text)
        else:
            with open(path, "w", encoding="utf-8", newline="\n") as fh:
                fh.write(text)
    except OSError as err:
        raise error(label, f"cannot write file ({err.strerror or err})") from None


def as_int(value, src: Source, what: str, line: int | None = None, minimum: int | None = None) -> int:
    """An integer from JSON-ish input: ints, integral floats, and integer strings are accepted."""
    out: int
    if isinstance(value, bool):
        raise error(src, f"{what} must be an integer, got {value!r}", line)
    if isinstance(value, int):
        out = value
    elif isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")) or value != int(value):
            raise error(src, f"{what} must be an integer, got {value!r}", line)
        out = int(value)
    elif isinstance(value, str):
        try:
            out = int(value.strip())
        except ValueError:
            raise error(src, f"{what} must be an integer, got {value!r}", line) from None
    else:
        raise error(src, f"{what} must be an integer, got {value!r}", line)
    if minimum is not None and out < minimum:
        raise error(src, f"{what} must be >= {minimum}, got {out}", line)
    return out


def as_float(value, src: Source, what: str, line: int | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise error(src, f"{what} must be a number, got {value!r}", line)
    try:
        out = float(value)
    except ValueError:
        raise error(src, f"{what} must be a number, got {value!r}", line) from None
    if out != out or out in (float("inf"), float("-inf")):
        raise error(src, f"{what} must be finite, got {value!r}", line)
    return out

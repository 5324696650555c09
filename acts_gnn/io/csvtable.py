"""Strict reading of numeric CSV tables (plain or gzip) into numpy columns.

Layer: io (used by the ACTS and TrackML readers).

pyarrow does the parsing; this module turns every way a file can be wrong into one
:class:`~acts_gnn.errors.InputFormatError` that names the file, the line or column, and what was
expected, and checks values (no empty cells, finite coordinates).
"""

from __future__ import annotations

import codecs
import csv
import gzip
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from acts_gnn.errors import InputFormatError
from acts_gnn.event import MAX_POSITION_MM

__all__ = [
    "MAX_HEADER_BYTES",
    "check_header",
    "check_positions",
    "read_file_bytes",
    "read_header",
    "read_table",
]

#: numpy dtype → pyarrow type name used for conversion
_ARROW_TYPES = {
    np.dtype(np.float32): "float32",
    np.dtype(np.float64): "float64",
    np.dtype(np.uint64): "uint64",
    np.dtype(np.int64): "int64",
    np.dtype(np.int32): "int32",
}


#: the longest header line accepted (a real one is a few hundred bytes)
MAX_HEADER_BYTES = 1 << 16


def _is_gzip(path: Path) -> bool:
    return path.suffix == ".gz"


def read_file_bytes(path: Path, limit: int = -1) -> bytes:
    """The file's bytes (decompressed when named ``.gz``); at most ``limit`` bytes when >= 0.

    Every way the file can fail to be read becomes an :class:`InputFormatError`.
    """
    try:
        if _is_gzip(path):
            with gzip.open(path, "rb") as handle:
                return handle.read(limit)
        with open(path, "rb") as handle:
            return handle.read(limit)
    except FileNotFoundError as exc:
        raise InputFormatError(path, "", "no such file or directory") from exc
    except IsADirectoryError as exc:
        raise InputFormatError(path, "", "is a directory, expected a CSV file") from exc
    except (gzip.BadGzipFile, zlib.error) as exc:
        raise InputFormatError(path, "", f"not a valid gzip file ({exc})") from exc
    except EOFError as exc:
        raise InputFormatError(path, "", "gzip stream is truncated") from exc
    except OSError as exc:
        raise InputFormatError(path, "", f"cannot read file ({exc.strerror or exc})") from exc


def _line_of(data: bytes, offset: int) -> int:
    """1-based line number of byte ``offset`` (``\\n``, ``\\r\\n`` or a lone ``\\r`` end a line)."""
    head = data[:offset]
    return head.count(b"\n") + head.count(b"\r") - head.count(b"\r\n") + 1


def _check_text(path: Path, data: bytes) -> None:
    """Refuse bytes that are not UTF-8 text without NUL characters (binary files, UTF-16, …)."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise InputFormatError(
            path, "line 1", "UTF-16 text (byte-order mark), expected UTF-8: save it as UTF-8"
        )
    nul = data.find(b"\x00")
    if nul >= 0:
        raise InputFormatError(
            path, f"line {_line_of(data, nul)}", "binary data (a NUL byte), expected CSV text"
        )
    if data.isascii():
        return
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputFormatError(
            path,
            f"line {_line_of(data, exc.start)}",
            f"byte 0x{data[exc.start]:02x} is not UTF-8, expected CSV text",
        ) from exc


def _header_of(path: Path, data: bytes) -> list[str]:
    """Column names from the first line of ``data`` (any line ending; a UTF-8 BOM skipped)."""
    ends = [i for i in (data.find(b"\n"), data.find(b"\r")) if i >= 0]
    end = min(ends) if ends else len(data)
    if end > MAX_HEADER_BYTES:
        raise InputFormatError(
            path, "line 1", f"longer than {MAX_HEADER_BYTES} bytes, expected a CSV header line"
        )
    line = data[:end]
    _check_text(path, line)
    # as pyarrow reads it: a UTF-8 byte-order mark skipped, quotes removed, spaces kept
    text = line.decode("utf-8").removeprefix("\ufeff")
    if not text.strip():
        what = "empty line" if data else "empty file"
        raise InputFormatError(path, "line 1", f"{what}, expected a CSV header line")
    try:
        return next(csv.reader([text]))
    except csv.Error as exc:
        raise InputFormatError(path, "line 1", f"not a CSV header ({exc})") from exc


def _check_columns(path: Path, header: list[str], required: list[str]) -> None:
    missing = [name for name in required if name not in header]
    if missing:
        raise InputFormatError(
            path,
            f"column {missing[0]!r}",
            f"missing; expected columns {', '.join(required)} (found {', '.join(header)})",
        )


def check_header(path: Path, required: Iterable[str]) -> list[str]:
    """The header of the CSV file ``path`` (its first line alone is read), refused as
    :func:`read_table` refuses it when a ``required`` column is missing: a reader's check of its
    tables before any event is read.

    Raises:
        InputFormatError: the file is missing, unreadable, not CSV text, or lacks a column.
    """
    header = read_header(path)
    _check_columns(path, header, list(required))
    return header


def read_header(path: Path) -> list[str]:
    """Column names of a CSV file (first line), raising a clear error for empty or broken files."""
    return _header_of(path, read_file_bytes(path, MAX_HEADER_BYTES + 1))


def _first_bad_value(data: bytes, column: str, dtype: np.dtype) -> tuple[int, str]:
    """Line number (1-based, header = 1) and text of the first cell that does not parse."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    table = pcsv.read_csv(
        pa.BufferReader(data),
        convert_options=pcsv.ConvertOptions(
            include_columns=[column], column_types={column: pa.string()}
        ),
    )
    convert = float if dtype.kind == "f" else int
    for row, value in enumerate(table.column(column).to_pylist()):
        try:
            number = convert(value)
        except (TypeError, ValueError):
            return row + 2, str(value)
        if dtype.kind in "ui" and not np.iinfo(dtype).min <= number <= np.iinfo(dtype).max:
            return row + 2, str(value)
    return 0, ""


def read_table(
    path: Path,
    required: Mapping[str, np.dtype | type],
    optional: Mapping[str, np.dtype | type] | None = None,
    finite: Sequence[str] = (),
    unique: Sequence[str] = (),
    positions: Sequence[str] = (),
) -> dict[str, np.ndarray]:
    """Read the named numeric columns of a CSV file.

    Args:
        path: a ``.csv`` or ``.csv.gz`` file.
        required: column name → numpy dtype; a missing column is an error.
        optional: column name → numpy dtype, read when present.
        finite: columns whose values must all be finite (no NaN or inf).
        unique: columns whose values must all differ (identifiers).
        positions: columns of coordinates (mm): finite, and at most
            :data:`~acts_gnn.event.MAX_POSITION_MM` from 0.

    Returns:
        column name → 1-D numpy array, for the required columns and the optional ones present.

    Raises:
        InputFormatError: the file is missing, empty, truncated, not gzip although named so, has a
            row with the wrong number of fields, lacks a column, holds a value that is not a
            number of the expected type, repeats an identifier of a ``unique`` column, or holds
            a position beyond :data:`~acts_gnn.event.MAX_POSITION_MM`.
    """
    import pyarrow as pa
    import pyarrow.csv as pcsv

    data = read_file_bytes(path)
    _check_text(path, data)
    header = _header_of(path, data)
    _check_columns(path, header, list(required))
    wanted = {name: np.dtype(dtype) for name, dtype in required.items()}
    for name, dtype in (optional or {}).items():
        if name in header:
            wanted[name] = np.dtype(dtype)

    bad_rows: list[tuple[int | None, int, int, str]] = []

    def on_invalid_row(row: pcsv.InvalidRow) -> str:
        bad_rows.append((row.number, row.expected_columns, row.actual_columns, row.text))
        return "error"

    try:
        table = pcsv.read_csv(
            pa.BufferReader(data),
            read_options=pcsv.ReadOptions(use_threads=False),
            parse_options=pcsv.ParseOptions(invalid_row_handler=on_invalid_row),
            convert_options=pcsv.ConvertOptions(
                include_columns=list(wanted),
                column_types={name: getattr(pa, _ARROW_TYPES[d])() for name, d in wanted.items()},
                null_values=[""],
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowException as exc:
        message = str(exc)
        if bad_rows:
            number, expected, actual, _text = bad_rows[0]
            where = f"line {number}" if number is not None else "a row"
            raise InputFormatError(
                path,
                where,
                f"expected {expected} fields, found {actual} (truncated or wrong delimiter?)",
            ) from exc
        if "conversion error" in message and "column #" in message:
            index = int(message.split("column #", 1)[1].split(":", 1)[0])
            column = header[index] if index < len(header) else f"#{index}"
            dtype = wanted.get(column, np.dtype(np.float64))
            line, text = _first_bad_value(data, column, dtype)
            kind = (
                "an unsigned integer"
                if dtype.kind == "u"
                else ("an integer" if dtype.kind == "i" else "a number")
            )
            where = f"line {line}, column {column!r}" if line else f"column {column!r}"
            raise InputFormatError(path, where, f"expected {kind}, found {text!r}") from exc
        if "Empty CSV file" in message:
            raise InputFormatError(path, "line 1", "empty file, expected a CSV header") from exc
        raise InputFormatError(path, "", f"not a valid CSV file ({message})") from exc

    columns: dict[str, np.ndarray] = {}
    for name, dtype in wanted.items():
        column = table.column(name)
        if column.null_count:
            row = int(np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))[0])
            raise InputFormatError(
                path, f"line {row + 2}, column {name!r}", "empty value, expected a number"
            )
        values = column.to_numpy()
        if values.dtype != dtype:
            values = values.astype(dtype)
        if (name in finite or name in positions) and values.size:
            bad = ~np.isfinite(values)
            if bad.any():
                row = int(np.flatnonzero(bad)[0])
                raise InputFormatError(
                    path,
                    f"line {row + 2}, column {name!r}",
                    f"expected a finite number, found {values[row]}",
                )
        if name in positions and values.size:
            check_positions(path, values, lambda row, name=name: f"line {row + 2}, column {name!r}")
        if name in unique and values.size:
            _check_unique(path, name, values)
        columns[name] = values
    return columns


def check_positions(path: Path | str, values: np.ndarray, where: Callable[[int], str]) -> None:
    """Raise :class:`InputFormatError` at the first coordinate (mm) of ``values`` beyond
    :data:`~acts_gnn.event.MAX_POSITION_MM` from 0; ``where(row)`` says where it is."""
    far = np.abs(values) > MAX_POSITION_MM
    if far.any():
        row = int(np.flatnonzero(far)[0])
        raise InputFormatError(
            path,
            where(row),
            f"expected a position within {MAX_POSITION_MM:.0e} mm (a kilometre) of the origin, "
            f"found {values[row]:g}",
        )


def _check_unique(path: Path, name: str, values: np.ndarray) -> None:
    order = np.argsort(values, kind="stable")
    repeated = np.flatnonzero(values[order][1:] == values[order][:-1])
    if repeated.size:
        rows = np.sort(order[[repeated[0], repeated[0] + 1]])
        first, second = int(rows[0]), int(rows[1])
        raise InputFormatError(
            path,
            f"line {second + 2}, column {name!r}",
            f"duplicate value {values[second]} (first on line {first + 2})",
        )

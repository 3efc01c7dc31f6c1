"""Reading raw tables from paths, folders, zips and uploaded file objects.

CSV goes through pyarrow (multi-threaded, transcoding for latin-1/cp1252); the delimiter and
encoding are sniffed from the first bytes. XLSX goes through openpyxl, Parquet through pyarrow.
"""

from __future__ import annotations

import csv
import gzip
import io
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

SNIFF_BYTES = 256 * 1024
DELIMITERS = [",", ";", "\t", "|"]
TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".gz", ".xlsx", ".xlsm", ".parquet", ".pq", ".zip")


class ReadError(ValueError):
    """A file could not be read as a table."""


@dataclass
class RawSource:
    """One input file: either a path on disk or bytes already in memory (an upload)."""

    name: str
    path: Path | None = None
    data: bytes | None = None

    def head(self, n: int = SNIFF_BYTES) -> bytes:
        """The first n bytes, decompressed when the source is gzip."""
        if self.path is not None:
            with open(self.path, "rb") as fh:
                raw = fh.read(n)
            if raw[:2] == b"\x1f\x8b":
                with gzip.open(self.path, "rb") as gz:
                    return gz.read(n)
            return raw
        assert self.data is not None
        if self.data[:2] == b"\x1f\x8b":
            return gzip.GzipFile(fileobj=io.BytesIO(self.data)).read(n)
        return self.data[:n]

    def kind(self) -> str:
        """'csv', 'xlsx', 'parquet' or 'zip', from the magic bytes first and the name second."""
        magic = self.head(4)
        if self.path is not None:
            with open(self.path, "rb") as fh:
                raw_magic = fh.read(4)
        else:
            raw_magic = (self.data or b"")[:4]
        if raw_magic == b"PAR1":
            return "parquet"
        if raw_magic[:2] == b"PK":
            lower = self.name.lower()
            return "xlsx" if lower.endswith((".xlsx", ".xlsm")) or _is_xlsx_zip(self) else "zip"
        if magic == b"PAR1":
            return "parquet"
        return "csv"

    def stream(self) -> Any:
        """Something pyarrow/pandas can read from (a path or a buffer), decompressed."""
        if self.path is not None:
            with open(self.path, "rb") as fh:
                gz = fh.read(2) == b"\x1f\x8b"
            # By content, not by name: an upload kept on disk has no '.gz' in its name.
            return pa.input_stream(str(self.path), compression="gzip") if gz else str(self.path)
        assert self.data is not None
        if self.data[:2] == b"\x1f\x8b":
            return pa.BufferReader(gzip.decompress(self.data))
        return pa.BufferReader(self.data)

    def bytes_io(self) -> BinaryIO:
        if self.path is not None:
            return open(self.path, "rb")
        return io.BytesIO(self.data or b"")


def _is_xlsx_zip(src: RawSource) -> bool:
    try:
        with zipfile.ZipFile(src.bytes_io()) as zf:
            return any(n.startswith("xl/") for n in zf.namelist())
    except zipfile.BadZipFile:
        return False


def collect_sources(source: Any) -> list[RawSource]:
    """Turn a path, list of paths, folder, zip or file-like objects into a flat list of sources."""
    items: Iterable[Any] = source if isinstance(source, (list, tuple)) else [source]
    out: list[RawSource] = []
    for item in items:
        out.extend(_expand(item))
    if not out:
        raise ReadError("No input files were given (an empty folder, zip or list).")
    return out


def _expand(item: Any) -> list[RawSource]:
    if isinstance(item, RawSource):
        src = item
    elif isinstance(item, (str, Path)):
        path = Path(item)
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix.lower() in TABLE_SUFFIXES)
            return [s for p in files for s in _expand(p)]
        if not path.exists():
            raise ReadError(f"File not found: {path}")
        src = RawSource(name=path.name, path=path)
    elif hasattr(item, "read"):
        data = item.read()
        if isinstance(data, str):
            data = data.encode("utf-8")
        name = getattr(item, "name", None) or "upload"
        src = RawSource(name=Path(str(name)).name, data=data)
    elif isinstance(item, (bytes, bytearray)):
        src = RawSource(name="upload", data=bytes(item))
    else:
        raise ReadError(f"Cannot read input of type {type(item).__name__}.")
    if src.kind() == "zip":
        return _unzip(src)
    return [src]


def _unzip(src: RawSource) -> list[RawSource]:
    out = []
    with zipfile.ZipFile(src.bytes_io()) as zf:
        for info in zf.infolist():
            base = Path(info.filename).name
            if info.is_dir() or info.filename.startswith("__MACOSX") or base.startswith("."):
                continue
            if not base.lower().endswith(TABLE_SUFFIXES):
                continue
            out.append(RawSource(name=base, data=zf.read(info)))
    if not out:
        raise ReadError(f"The zip {src.name} holds no CSV, XLSX or Parquet file.")
    return out


# ---------------------------------------------------------------- CSV sniffing
@dataclass
class CsvDialect:
    """What sniffing found out about a CSV file."""

    encoding: str
    delimiter: str
    header: list[str] = field(default_factory=list)
    multiline: bool = False


def sniff_encoding(raw: bytes) -> str:
    if raw.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    for enc in ("utf-8", "cp1252"):
        try:
            # A multi-byte character may be cut at the end of the sample.
            raw[: max(len(raw) - 4, 0)].decode(enc)
            return enc
        except UnicodeDecodeError:
            continue
    return "latin-1"


def sniff_delimiter(text: str) -> str:
    """The candidate that splits the first lines into the same number (>1) of fields."""
    lines = [ln for ln in text.splitlines()[:50] if ln.strip()]
    if not lines:
        raise ReadError("The file is empty.")
    best, best_score = ",", (-1, -1)
    for delim in DELIMITERS:
        counts = [len(row) for row in csv.reader(lines[:30], delimiter=delim)]
        if not counts or counts[0] < 2:
            continue
        agree = sum(c == counts[0] for c in counts)
        score = (agree, counts[0])
        if score > best_score:
            best, best_score = delim, score
    return best


def sniff_csv(src: RawSource) -> CsvDialect:
    raw = src.head()
    if not raw.strip():
        raise ReadError(f"{src.name} is empty.")
    enc = sniff_encoding(raw)
    text = raw.decode(enc if enc != "utf-8-sig" else "utf-8-sig", errors="replace")
    delim = sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text), delimiter=delim)
    header = [h.strip() for h in next(reader)]
    # Quoted values spanning lines (Shopify notes) need pyarrow's slower newline-aware parser.
    multiline = any("\n" in cell or "\r" in cell for row in reader for cell in row)
    return CsvDialect(encoding=enc, delimiter=delim, header=header, multiline=multiline)


def read_csv(src: RawSource, dialect: CsvDialect, string_columns: Iterable[str]) -> pd.DataFrame:
    """Read a CSV with pyarrow; the named columns stay strings (IDs like 17850.0 or 00123)."""
    encoding = "utf8" if dialect.encoding in ("utf-8", "utf-8-sig") else dialect.encoding
    read_opts = pacsv.ReadOptions(encoding=encoding, block_size=1 << 24)
    parse_opts = pacsv.ParseOptions(
        delimiter=dialect.delimiter, newlines_in_values=dialect.multiline
    )
    wanted = set(string_columns)
    conv_opts = pacsv.ConvertOptions(
        column_types={c: pa.string() for c in dialect.header if c in wanted},
        strings_can_be_null=True,
        timestamp_parsers=[],
    )
    try:
        table = pacsv.read_csv(
            src.stream(), read_options=read_opts, parse_options=parse_opts,
            convert_options=conv_opts,
        )
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise ReadError(f"Could not parse {src.name} as CSV: {str(exc).splitlines()[0]}") from exc
    df = table.to_pandas()
    df.columns = [str(c).strip().lstrip("\ufeff") for c in df.columns]
    return df


def read_xlsx(src: RawSource, sheet: int | str | None = None) -> tuple[pd.DataFrame, list[str]]:
    """First sheet (or the named one); with sheet=None, later sheets with the same header too."""
    try:
        with pd.ExcelFile(src.bytes_io(), engine="openpyxl") as xl:
            names = [str(s) for s in xl.sheet_names]
            if sheet is not None and sheet != "all":
                chosen = names[sheet] if isinstance(sheet, int) else str(sheet)
                if chosen not in names:
                    raise ReadError(f"{src.name} has no sheet {sheet!r}; sheets: {names}")
                return xl.parse(chosen, dtype=object), [chosen]
            frames = [xl.parse(names[0], dtype=object)]
            used = [names[0]]
            for name in names[1:]:
                df = xl.parse(name, dtype=object)
                if sheet == "all" or list(df.columns) == list(frames[0].columns):
                    frames.append(df)
                    used.append(name)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        if isinstance(exc, ReadError):
            raise
        raise ReadError(f"Could not read {src.name} as an Excel workbook: {exc}") from exc
    df = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    df.columns = [str(c).strip() for c in df.columns]
    return df, used


def read_parquet(src: RawSource) -> pd.DataFrame:
    try:
        return pd.read_parquet(src.stream() if src.path else io.BytesIO(src.data or b""))
    except (pa.ArrowInvalid, OSError) as exc:
        raise ReadError(f"Could not read {src.name} as Parquet: {exc}") from exc


def read_any(
    src: RawSource, string_columns: Iterable[str] = (), sheet: int | str | None = None
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read one source into a DataFrame; also returns what was sniffed (for the import report)."""
    kind = src.kind()
    if kind == "csv":
        dialect = sniff_csv(src)
        df = read_csv(src, dialect, string_columns)
        return df, {"file": src.name, "kind": "csv", "encoding": dialect.encoding,
                    "delimiter": dialect.delimiter}
    if kind == "parquet":
        return read_parquet(src), {"file": src.name, "kind": "parquet"}
    df, sheets = read_xlsx(src, sheet)
    return df, {"file": src.name, "kind": "xlsx", "sheets": sheets}

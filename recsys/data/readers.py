"""Reading raw tables from paths, folders, zips and uploaded file objects, within limits.

CSV goes through pyarrow (multi-threaded, transcoding for latin-1/cp1252/UTF-16); the
delimiter and encoding are sniffed from the first bytes. XLSX goes through openpyxl in
read-only mode, Parquet through pyarrow. Compressed input (gzip, zip members) is
decompressed as a stream into a scratch file, never whole into memory, and every input is
held to ``Limits``: a small upload that expands to gigabytes stops with a message naming the
limit and how to raise it, before it can exhaust memory.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import re
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO
from xml.etree.ElementTree import ParseError

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from recsys.errors import safe_message
from recsys.settings import SETTINGS, env_int

SNIFF_BYTES = 256 * 1024
BLOCK_BYTES = 1 << 24  # pyarrow's CSV block: no single field may be longer
BINARY_SHARE = 0.02  # control characters (NUL included) above this share: not a text table
DELIMITERS = [",", ";", "\t", "|"]
TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".gz", ".xlsx", ".xlsm", ".parquet", ".pq", ".zip")
_MAGIC = {b"\x89PNG": "a PNG image", b"%PDF": "a PDF document", b"\xff\xd8\xff": "a JPEG image",
          b"GIF8": "a GIF image", b"\x7fELF": "a program", b"BZh": "a bzip2 archive",
          b"\xfd7zXZ": "an xz archive", b"7z\xbc\xaf": "a 7-zip archive",
          b"Rar!": "a RAR archive", b"\xd0\xcf\x11\xe0": "an old Excel (.xls) or Office file"}


class ReadError(ValueError):
    """A file could not be read as a table."""


class LimitError(ReadError):
    """An input is larger than a configured limit."""


@dataclass(frozen=True)
class Limits:
    """Caps on one import (environment variables raise them)."""

    input_mb: int = SETTINGS["RECSYS_MAX_INPUT_MB"].default  # a file once decompressed
    rows: int = SETTINGS["RECSYS_MAX_ROWS"].default
    columns: int = SETTINGS["RECSYS_MAX_COLUMNS"].default
    sheet_cells: int = SETTINGS["RECSYS_MAX_SHEET_CELLS"].default  # as an XLSX declares them
    files: int = SETTINGS["RECSYS_MAX_FILES"].default  # in one zip or folder

    @classmethod
    def from_env(cls) -> Limits:
        """The limits as set in the environment; a mistyped one is refused (SettingError)."""
        return cls(env_int("RECSYS_MAX_INPUT_MB"), env_int("RECSYS_MAX_ROWS"),
                   env_int("RECSYS_MAX_COLUMNS"), env_int("RECSYS_MAX_SHEET_CELLS"),
                   env_int("RECSYS_MAX_FILES"))

    @property
    def max_bytes(self) -> int:
        return self.input_mb * 1024 * 1024

    def too_big(self, name: str, what: str | None = None) -> LimitError:
        """``what``: how big it is; None when it is still growing past the limit."""
        size = f"{what}, more than" if what else "expands to more than"
        return LimitError(f"{name} {size} the limit of {self.input_mb:,} MB per file once "
                          "decompressed (set RECSYS_MAX_INPUT_MB to raise it if the export is "
                          "real).")


class Scratch:
    """A temporary folder for decompressed inputs, removed when the import ends (``under``:
    where to make it; the workspace gives a place its sweeps clean up if the import is
    killed, since a decompressed export holds every identity in it)."""

    def __init__(self, under: Path | None = None) -> None:
        self.under = under

    def __enter__(self) -> Scratch:
        self.dir = Path(tempfile.mkdtemp(prefix="recsys-import-", dir=self.under))
        return self

    def __exit__(self, *exc) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    def file(self, name: str) -> Path:
        # No suffix from the input's name: pyarrow would decompress a '.gz' name again.
        fd, path = tempfile.mkstemp(dir=self.dir, suffix=".data")
        os.close(fd)
        return Path(path)


@dataclass
class RawSource:
    """One input file: a path on disk, bytes in memory (an upload), or a member of a zip
    that is either of those."""

    name: str
    path: Path | None = None
    data: bytes | None = None
    member: str | None = None

    def _stored(self) -> BinaryIO:
        """The bytes as stored (compressed or not)."""
        if self.member is not None:
            outer = open(self.path, "rb") if self.path is not None else io.BytesIO(self.data)
            return zipfile.ZipFile(outer).open(self.member)
        if self.path is not None:
            return open(self.path, "rb")
        return io.BytesIO(self.data or b"")

    def stored_magic(self, n: int = 4) -> bytes:
        with self._stored() as fh:
            return fh.read(n)

    def is_gzip(self) -> bool:
        return self.stored_magic(2) == b"\x1f\x8b"

    def _decompressed(self) -> BinaryIO:
        raw = self._stored()
        return gzip.GzipFile(fileobj=raw) if self.is_gzip() else raw

    def head(self, n: int = SNIFF_BYTES) -> bytes:
        """The first n bytes, decompressed when the source is gzip."""
        try:
            with self._decompressed() as fh:
                return fh.read(n)
        except (OSError, EOFError, zlib.error) as exc:
            raise ReadError(f"{self.name} is a damaged or truncated compressed file "
                            f"({exc}).") from exc

    def kind(self) -> str:
        """'csv', 'xlsx', 'parquet' or 'zip', from the magic bytes first and the name second."""
        raw = self.stored_magic(4)
        if raw == b"PAR1":
            return "parquet"
        if raw[:2] == b"PK":
            lower = self.name.lower()
            return "xlsx" if lower.endswith((".xlsx", ".xlsm")) or _is_xlsx_zip(self) else "zip"
        if raw[:2] == b"\x1f\x8b" and self.head(4) == b"PAR1":
            return "parquet"
        return "csv"

    def seekable(self) -> BinaryIO:
        """A seekable handle on the stored bytes (XLSX and Parquet need one)."""
        if self.member is None and self.path is not None:
            return open(self.path, "rb")
        if self.member is None:
            return io.BytesIO(self.data or b"")
        with self._stored() as fh:
            return io.BytesIO(fh.read())  # a member's declared size was checked already

    def local(self, limits: Limits, scratch: Scratch, strip_nul: bool = False
              ) -> tuple[Any, int]:
        """Something pyarrow reads fast (a path or bytes), decompressed, within limits,
        and how many NUL bytes were taken out (``strip_nul``: a text export with a few
        stray NULs). Compressed input is streamed into a scratch file, cut off at the limit."""
        if self.member is None and not self.is_gzip() and not strip_nul:
            size = self.path.stat().st_size if self.path is not None else len(self.data or b"")
            if size > limits.max_bytes:
                raise limits.too_big(self.name, f"is {size / 2**20:,.0f} MB")
            return (str(self.path) if self.path is not None else (self.data or b"")), 0
        target = scratch.file(self.name)
        written = removed = 0
        try:
            with self._decompressed() as src, open(target, "wb") as out:
                while block := src.read(1 << 20):
                    written += len(block)
                    if written > limits.max_bytes:
                        raise limits.too_big(self.name)
                    if strip_nul:
                        kept = block.replace(b"\0", b"")
                        removed += len(block) - len(kept)
                        block = kept
                    out.write(block)
        except (OSError, EOFError, zlib.error, zipfile.BadZipFile) as exc:
            target.unlink(missing_ok=True)
            raise ReadError(f"{self.name} is a damaged or truncated compressed file "
                            f"({exc}).") from exc
        except LimitError:
            target.unlink(missing_ok=True)
            raise
        return str(target), removed


def _is_xlsx_zip(src: RawSource) -> bool:
    try:
        with src.seekable() as fh, zipfile.ZipFile(fh) as zf:
            return any(n.startswith("xl/") for n in zf.namelist()[:2000])
    except (zipfile.BadZipFile, OSError):
        return False


def collect_sources(source: Any, limits: Limits | None = None) -> list[RawSource]:
    """Turn a path, list of paths, folder, zip or file-like objects into a flat list of sources."""
    limits = limits or Limits.from_env()
    items: Iterable[Any] = source if isinstance(source, (list, tuple)) else [source]
    out: list[RawSource] = []
    for item in items:
        out.extend(_expand(item, limits))
    if not out:
        raise ReadError("No input files were given (an empty folder, zip or list).")
    if len(out) > limits.files:
        raise LimitError(f"{len(out):,} files were given, more than the limit of "
                         f"{limits.files:,} (set RECSYS_MAX_FILES to raise it).")
    return out


def _expand(item: Any, limits: Limits) -> list[RawSource]:
    if isinstance(item, RawSource):
        src = item
    elif isinstance(item, (str, Path)):
        path = Path(item)
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix.lower() in TABLE_SUFFIXES)
            return [s for p in files for s in _expand(p, limits)]
        if not path.is_file():
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
    if src.member is None and src.kind() == "zip":
        return _unzip(src, limits)
    return [src]


def _unzip(src: RawSource, limits: Limits) -> list[RawSource]:
    """The zip's tables as sources read straight from the archive (never all in memory)."""
    out = []
    try:
        with src.seekable() as fh, zipfile.ZipFile(fh) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise ReadError(f"{src.name} is not a readable zip file ({exc}).") from exc
    if len(infos) > limits.files * 4:
        raise LimitError(f"{src.name} holds {len(infos):,} entries, more than the limit of "
                         f"{limits.files:,} files (set RECSYS_MAX_FILES to raise it).")
    for info in infos:
        base = Path(info.filename).name
        if info.is_dir() or info.filename.startswith("__MACOSX") or base.startswith("."):
            continue
        if not base.lower().endswith(TABLE_SUFFIXES):
            continue
        if base.lower().endswith(".zip"):
            raise ReadError(f"{src.name} contains another zip ({base}): unpack it first.")
        if info.file_size > limits.max_bytes:
            raise limits.too_big(f"{src.name}/{base}", f"declares {info.file_size / 2**20:,.0f}"
                                 " MB")
        out.append(RawSource(name=base, path=src.path, data=src.data, member=info.filename))
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
    nul: bool = False  # stray NUL bytes in the text: removed before parsing


def sniff_encoding(raw: bytes) -> str:
    if raw.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    sample = raw[:4000]
    if len(sample) >= 8 and sample[1::2].count(0) > 0.4 * len(sample[1::2]):
        return "utf-16-le"  # no BOM: ASCII text with every other byte zero
    if len(sample) >= 8 and sample[0::2].count(0) > 0.4 * len(sample[0::2]):
        return "utf-16-be"
    for enc in ("utf-8", "cp1252"):
        try:
            # A multi-byte character may be cut at the end of the sample.
            raw[: max(len(raw) - 4, 0)].decode(enc)
            return enc
        except UnicodeDecodeError:
            continue
    return "latin-1"


def _looks_binary(name: str, raw: bytes, text: str) -> None:
    """Refuse files that are not text: known binary formats by their magic bytes, and
    anything whose sample is more than ``BINARY_SHARE`` control characters. A text export
    with a few stray NULs is not refused (they are removed before parsing)."""
    for magic, what in _MAGIC.items():
        if raw.startswith(magic):
            raise ReadError(f"{name} is {what}, not a table: export the orders as CSV or XLSX.")
    sample = text[:20000]
    controls = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\t\r\n")
    if controls > BINARY_SHARE * max(len(sample), 1):
        raise ReadError(f"{name} is not a text table (it holds binary data): export the orders "
                        "as CSV or XLSX.")


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
    text = raw.decode(enc, errors="replace")
    if len(raw) == SNIFF_BYTES and "\n" in text.rstrip("\n"):
        text = text[: text.rstrip("\n").rfind("\n") + 1]  # the sample's last line is cut
    _looks_binary(src.name, raw, text)
    nul = "\x00" in text
    text = text.replace("\x00", "")
    try:
        delim = sniff_delimiter(text)
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim)
        header = [h.strip() for h in next(reader)]
        # Quoted values spanning lines (Shopify notes) need pyarrow's newline-aware parser.
        multiline = any("\n" in cell or "\r" in cell for row in reader for cell in row)
    except csv.Error as exc:
        raise ReadError(f"{src.name} is not a readable CSV ({exc}); a field may be longer "
                        "than a sane table cell.") from exc
    except ReadError as exc:
        raise ReadError(f"{src.name}: {exc}") from exc
    return CsvDialect(encoding=enc, delimiter=delim, header=header, multiline=multiline,
                      nul=nul)


def dedupe_columns(names: list[str]) -> list[str]:
    """Column names made unique the way spreadsheets number copies: 'Email', 'Email.2'."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}.{seen[name]}")
    return out


def read_csv(src: RawSource, dialect: CsvDialect, string_columns: Iterable[str],
             limits: Limits, scratch: Scratch,
             columns: Iterable[str] | None = None) -> tuple[pd.DataFrame, int]:
    """Read a CSV with pyarrow; the named columns stay strings (IDs like 17850.0 or 00123).
    With ``columns`` only those are read (the rest, names and addresses, never are). Also
    returns how many stray NUL bytes were removed."""
    if len(dialect.header) > limits.columns:
        raise LimitError(f"{src.name} has {len(dialect.header):,} columns, more than the limit "
                         f"of {limits.columns:,} (set RECSYS_MAX_COLUMNS to raise it).")
    names = dedupe_columns(dialect.header)
    encoding = "utf8" if dialect.encoding in ("utf-8", "utf-8-sig") else dialect.encoding
    wanted = set(string_columns)
    keep = [c for c in names if columns is None or c in set(columns)]
    conv_opts = pacsv.ConvertOptions(column_types={c: pa.string() for c in keep if c in wanted},
                                     strings_can_be_null=True, timestamp_parsers=[],
                                     include_columns=keep)
    local, removed = src.local(limits, scratch, strip_nul=dialect.nul)

    def parse(threads: bool = True, on_bad_row=None) -> pa.Table:
        read_opts = pacsv.ReadOptions(encoding=encoding, block_size=BLOCK_BYTES,
                                      column_names=names, skip_rows=1, use_threads=threads)
        parse_opts = pacsv.ParseOptions(delimiter=dialect.delimiter,
                                        newlines_in_values=dialect.multiline,
                                        invalid_row_handler=on_bad_row)
        source = pa.BufferReader(local) if isinstance(local, bytes) else local
        return pacsv.read_csv(source, read_options=read_opts, parse_options=parse_opts,
                              convert_options=conv_opts)

    try:
        table = parse()
    except (pa.ArrowInvalid, UnicodeDecodeError, pa.ArrowNotImplementedError) as exc:
        raise csv_error(exc, src.name, names, lambda: _bad_row(parse)) from None
    if table.num_rows > limits.rows:
        raise LimitError(f"{src.name} has {table.num_rows:,} lines, more than the limit of "
                         f"{limits.rows:,} (set RECSYS_MAX_ROWS to raise it).")
    df = arrow_to_frame(table)
    df.columns = [str(c).strip().lstrip("\ufeff") for c in df.columns]
    return df, removed


_COUNTS = re.compile(r"Expected (\d+) columns, got (\d+)")
_CONVERSION = re.compile(r"In CSV column #(\d+): (?:Row #(\d+): )?CSV conversion error to "
                         r"([\w\[\], ]+?):")


def _bad_row(parse) -> int | None:
    """The number of the first row whose field count is wrong (the header is row 1), from
    a single-threaded parse (the threaded one does not number rows); its text is never
    kept."""
    found: list[int] = []

    def note(row) -> str:
        if row.number is not None:
            found.append(int(row.number))
        return "error"

    try:
        parse(threads=False, on_bad_row=note)
    except (pa.ArrowInvalid, UnicodeDecodeError, pa.ArrowNotImplementedError):
        pass
    return found[0] if found else None


def csv_error(exc: BaseException, name: str, columns: list[str], locate) -> ReadError:
    """pyarrow's parse error in words that name the row and the column, never a value
    (pyarrow quotes the offending row whole: an e-mail, a name, an address)."""
    text = str(exc)
    if "straddl" in text:
        return LimitError(f"Could not parse {name} as CSV: a field is larger than "
                          f"{BLOCK_BYTES // 2**20} MB (no order export has such a cell: a "
                          "quote left open, or not an order export?).")
    if (m := _COUNTS.search(text)):
        row = locate()
        where = f"row {row:,} (the header is row 1)" if row else "a row"
        return ReadError(f"Could not parse {name} as CSV: {where} has {m[2]} fields where the "
                         f"header has {m[1]} (a stray delimiter or quote in that row?).")
    if (m := _CONVERSION.search(text)):
        i = int(m[1])
        col = repr(columns[i]) if i < len(columns) else f"#{i + 1}"
        row = f" in row {int(m[2]):,}" if m[2] else ""
        return ReadError(f"Could not parse {name} as CSV: column {col} has a value that is "
                         f"not a {m[3]}{row}.")
    if isinstance(exc, UnicodeDecodeError):
        return ReadError(f"Could not parse {name} as CSV: it is not valid {exc.encoding} text "
                         f"(byte {exc.start:,} of a block); save it as UTF-8.")
    return ReadError(f"Could not parse {name} as CSV ({type(exc).__name__} in pyarrow).")


def _is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def arrow_to_frame(table: pa.Table) -> pd.DataFrame:
    """An Arrow table as pandas with every text column a Categorical: one Python string per
    distinct value instead of one per line (30 million lines of IDs would otherwise take
    gigabytes and minutes)."""
    import pyarrow.compute as pc

    cols = []
    for spec, col in zip(table.schema, table.columns, strict=True):
        if _is_text(spec.type):
            col = pc.dictionary_encode(col)
        cols.append(col)
    return pa.table(cols, names=table.column_names).to_pandas()


# ---------------------------------------------------------------- XLSX and Parquet
def read_xlsx(src: RawSource, sheet: int | str | None, limits: Limits
              ) -> tuple[pd.DataFrame, list[str]]:
    """First sheet (or the named one); with sheet=None, later sheets with the same header too.
    Read-only and row by row: a sheet's declared size is checked before any cell is read."""
    import openpyxl

    try:
        with src.seekable() as fh:
            wb = openpyxl.load_workbook(fh, read_only=True, data_only=True)
            try:
                names = [str(s) for s in wb.sheetnames]
                if sheet is not None and sheet != "all":
                    chosen = names[sheet] if isinstance(sheet, int) and sheet < len(names) \
                        else str(sheet)
                    if chosen not in names:
                        raise ReadError(f"{src.name} has no sheet {sheet!r}; sheets: {names}")
                    return _sheet_frame(wb[chosen], src.name, limits), [chosen]
                frames = [_sheet_frame(wb[names[0]], src.name, limits)]
                used = [names[0]]
                for name in names[1:]:
                    df = _sheet_frame(wb[name], src.name, limits)
                    if sheet == "all" or list(df.columns) == list(frames[0].columns):
                        frames.append(df)
                        used.append(name)
            finally:
                wb.close()
    except ReadError:
        raise
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, ParseError, TypeError,
            IndexError) as exc:
        raise ReadError(f"Could not read {src.name} as an Excel workbook "
                        f"({safe_message(exc)}).") from None
    df = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    if len(df) > limits.rows:
        raise LimitError(f"{src.name} has {len(df):,} rows, more than the limit of "
                         f"{limits.rows:,} (set RECSYS_MAX_ROWS to raise it).")
    return df, used


def _sheet_frame(ws, file_name: str, limits: Limits) -> pd.DataFrame:
    rows, cols = ws.max_row, ws.max_column  # as the sheet declares them
    if rows and cols and rows * cols > limits.sheet_cells:
        raise LimitError(f"{file_name}: sheet {ws.title!r} declares {rows:,} rows x {cols:,} "
                         f"columns ({rows * cols:,} cells), more than the limit of "
                         f"{limits.sheet_cells:,} (set RECSYS_MAX_SHEET_CELLS to raise it).")
    header: list[str] | None = None
    width, data = 0, []
    # One column past the limit is read, so that a wider sheet is refused, not cut.
    for row in ws.iter_rows(values_only=True, max_col=limits.columns + 1):
        if len(row) > limits.columns and _filled(row[limits.columns]):
            raise LimitError(f"{file_name}: sheet {ws.title!r} has more than {limits.columns:,} "
                             "columns, the limit (set RECSYS_MAX_COLUMNS to raise it).")
        if header is None:
            if not any(_filled(v) for v in row):
                continue
            width = max(i for i, v in enumerate(row) if _filled(v)) + 1
            header = [str(v).strip() if v is not None else f"Unnamed: {i}"
                      for i, v in enumerate(row[:width])]
            continue
        row = tuple(row[:width])
        if any(v is not None and v != "" for v in row):
            data.append(row + (None,) * (width - len(row)))
            if len(data) > limits.rows:
                raise LimitError(f"{file_name} has more than {limits.rows:,} rows (set "
                                 "RECSYS_MAX_ROWS to raise it).")
    if header is None:
        return pd.DataFrame()
    df = pd.DataFrame(data, columns=dedupe_columns(header), dtype=object)
    df.attrs["header"] = header  # as written, duplicates included
    return df


def _filled(value: Any) -> bool:
    return value is not None and bool(str(value).strip())


def read_parquet(src: RawSource, limits: Limits, columns: Iterable[str] | None = None
                 ) -> pd.DataFrame:
    import pyarrow.parquet as pq

    try:
        with src.seekable() as fh:
            first = pq.ParquetFile(fh)
            text = [f.name for f in first.schema_arrow if _is_text(f.type)]
            # Text read straight into dictionaries: no Python string per line.
            pf = pq.ParquetFile(fh, metadata=first.metadata, read_dictionary=text)
            meta = pf.metadata
            if meta.num_rows > limits.rows or meta.num_columns > limits.columns:
                raise LimitError(f"{src.name} has {meta.num_rows:,} rows and "
                                 f"{meta.num_columns:,} columns, more than the limits "
                                 f"({limits.rows:,} rows, {limits.columns:,} columns; "
                                 "RECSYS_MAX_ROWS / RECSYS_MAX_COLUMNS).")
            size = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
            if size > limits.max_bytes:
                raise limits.too_big(src.name, f"holds {size / 2**20:,.0f} MB of data")
            names = pf.schema_arrow.names
            keep = None if columns is None else [c for c in names if c in set(columns)]
            return arrow_to_frame(pf.read(columns=keep))
    except (pa.ArrowInvalid, OSError) as exc:
        raise ReadError(f"Could not read {src.name} as Parquet: the file is damaged or not "
                        f"Parquet ({type(exc).__name__}).") from None


def read_header(src: RawSource, sheet: int | str | None, limits: Limits
                ) -> tuple[list[str], pd.DataFrame | None, dict[str, Any]]:
    """The column names (copies of a name numbered: 'Email', 'Email.2'), and for XLSX the
    table itself (it is read once either way); what was sniffed holds the names as written
    (``written``), duplicates and all."""
    kind = src.kind()
    if kind == "csv":
        d = sniff_csv(src)
        return dedupe_columns(d.header), None, {"dialect": d, "written": d.header}
    if kind == "parquet":
        import pyarrow.parquet as pq

        try:
            with src.seekable() as fh:
                names = list(pq.ParquetFile(fh).schema_arrow.names)
        except (pa.ArrowInvalid, OSError) as exc:
            raise ReadError(f"Could not read {src.name} as Parquet: the file is damaged or "
                            f"not Parquet ({type(exc).__name__}).") from None
        return names, None, {"written": names}
    df, sheets = read_xlsx(src, sheet, limits)
    return list(df.columns), df, {"sheets": sheets,
                                  "written": df.attrs.get("header", list(df.columns))}


def read_any(src: RawSource, string_columns: Iterable[str] = (), *, limits: Limits,
             scratch: Scratch, columns: Iterable[str] | None = None,
             sniffed: dict[str, Any] | None = None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read one source into a DataFrame; also returns what was sniffed (for the import report)."""
    kind = src.kind()
    if kind == "csv":
        dialect = (sniffed or {}).get("dialect") or sniff_csv(src)
        df, removed = read_csv(src, dialect, string_columns, limits, scratch, columns)
        return df, {"file": src.name, "kind": "csv", "encoding": dialect.encoding,
                    "delimiter": dialect.delimiter, "nul_bytes_removed": removed}
    if kind == "parquet":
        return read_parquet(src, limits, columns), {"file": src.name, "kind": "parquet"}
    raise ReadError(f"{src.name}: XLSX is read with read_header.")

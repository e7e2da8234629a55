"""Reading a table from a file: CSV (delimiter sniffed, gzip, UTF-8 with/without BOM, latin-1 fallback), TSV or
Parquet; a file that cannot be a table is an ``InputError`` naming it."""
from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path

import pandas as pd

from ..exceptions import InputError

_SNIFF_BYTES = 64 * 1024


def load_table(path: str | Path, text_columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """Read CSV (delimiter sniffed, gzip, UTF-8 with/without BOM, latin-1 fallback), TSV or Parquet.

    ``text_columns`` of a CSV/TSV are kept as the text in the file (identifiers such as ``007`` stay as written)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"data file {str(path)!r} does not exist")
    if path.is_dir():
        raise InputError(f"data path {str(path)!r} is a directory, not a file")
    if path.stat().st_size == 0:
        raise InputError(f"data file {str(path)!r} is empty")
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in (".parquet", ".pq"):
        try:
            frame = pd.read_parquet(path, **_parquet_options())
        except Exception as exc:  # pyarrow raises many types for a damaged file
            raise InputError(f"cannot read Parquet file {str(path)!r}: {exc}") from None
        release_unused_memory()
    else:
        frame = _read_delimited(path, tab=".tsv" in suffixes, text_columns=text_columns)
    if frame.shape[1] == 0:
        raise InputError(f"data file {str(path)!r} has no columns")
    if len(frame) == 0:
        raise InputError(f"data file {str(path)!r} has a header but no rows")
    return frame


def _parquet_options() -> dict:
    """Arrow's conversion to pandas one column at a time, each Arrow column freed once converted (one block per
    column, the same values and dtypes): the table is not held twice, as Arrow's and as pandas', while it is read.
    Where pandas cannot pass these on (before 3.0), the default conversion."""
    import inspect
    if "to_pandas_kwargs" not in inspect.signature(pd.read_parquet).parameters:
        return {}
    return {"to_pandas_kwargs": {"split_blocks": True, "self_destruct": True}}


def release_unused_memory() -> None:
    """Hand the memory the allocators keep after large frees back to the system: Arrow's pool (after decoding a
    Parquet file: about 1.5 x the table's size; after a fit releases the raw table's text columns) and glibc's heap
    (freed arrays between live ones). Both otherwise stay resident in the process, for a fit's whole search."""
    try:
        import pyarrow as pa
        pa.default_memory_pool().release_unused()
    except Exception:  # an optimisation only (older pyarrow)
        pass
    try:
        import ctypes
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def _read_delimited(path: Path, tab: bool, text_columns: tuple[str, ...] = ()) -> pd.DataFrame:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise InputError(f"cannot decompress {str(path)!r}: {exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    if not text.strip():
        raise InputError(f"data file {str(path)!r} is empty")
    if "\x00" in text[:_SNIFF_BYTES]:
        raise InputError(f"data file {str(path)!r} looks binary, not a CSV/TSV or Parquet table")
    sep = "\t" if tab else _sniff_delimiter(text[:_SNIFF_BYTES])
    header = next(csv.reader(io.StringIO(text), delimiter=sep))
    names = [h.strip() for h in header]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InputError(f"duplicate column names in {path.name}: {', '.join(map(repr, dupes))}; rename them")
    as_text = {raw: str for raw, name in zip(header, names) if name in text_columns}
    try:
        frame = pd.read_csv(io.StringIO(text), sep=sep, low_memory=False, skipinitialspace=True, dtype=as_text or None)
    except pd.errors.ParserError as exc:
        raise InputError(f"cannot parse {path.name}: {str(exc).strip().splitlines()[-1]}") from None
    except pd.errors.EmptyDataError:
        raise InputError(f"data file {str(path)!r} is empty") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def _sniff_delimiter(sample: str) -> str:
    lines = [ln for ln in sample.splitlines() if ln.strip()][:50]
    if len(lines) > 1 and not sample.endswith("\n"):
        lines = lines[:-1]  # the last line of a cut sample may be partial
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=",;\t").delimiter
    except csv.Error:
        counts = {d: lines[0].count(d) for d in ",;\t"} if lines else {}
        best = max(counts, key=counts.get) if counts else ","
        return best if counts.get(best) else ","

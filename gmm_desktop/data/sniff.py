"""Detecting how a delimited text file is written (internal).

Looks at the first :data:`SAMPLE_BYTES` of the file and decides the text encoding, the
delimiter, the quote character, whether the first row is a header and which decimal
mark the numbers use.  The standard library's :class:`csv.Sniffer` proposes the quote
character; :mod:`csv` itself splits the sample so that quoted fields are honoured.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .errors import DataError, DataWarning, OptionHint, clip_text

SAMPLE_BYTES = 64 * 1024
SAMPLE_ROWS = 200
SNIFFER_CHARS = 4096
"""Characters of the sample shown to :class:`csv.Sniffer` (which is quadratic in them)."""
WHITESPACE = "whitespace"
"""The pseudo-delimiter for columns separated by runs of blanks."""

CANDIDATE_DELIMITERS = ("\t", ";", ",", "|")  # in order of preference on a tie

# Values that mean "missing" in a numeric column (compared case-insensitively after
# stripping blanks).  Anything else that is not a number is reported as an error.
MISSING_MARKERS = frozenset(
    {"", "na", "n/a", "n.a.", "nan", "-nan", "+nan", "null", "none", "nil", "-", "--", "?", "."}
)
_SPELLINGS = {
    "na": ("NA", "na", "Na"),
    "n/a": ("N/A", "n/a", "N/a"),
    "n.a.": ("N.A.", "n.a."),
    "nan": ("NaN", "nan", "NAN", "Nan"),
    "-nan": ("-NaN", "-nan"),
    "+nan": ("+NaN", "+nan"),
    "null": ("NULL", "null", "Null"),
    "none": ("None", "none", "NONE"),
    "nil": ("nil", "NIL", "Nil"),
}
NULL_SPELLINGS: tuple[str, ...] = tuple(
    sorted({s for m in MISSING_MARKERS for s in _SPELLINGS.get(m, (m,))})
)
"""Exact spellings handed to the CSV parsers as null values."""

_DOT_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_COMMA_NUMBER = re.compile(r"^[+-]?(\d+,?\d*|,\d+)([eE][+-]?\d+)?$")
_COMMA_DECIMAL = re.compile(r"^[+-]?\d*,\d+([eE][+-]?\d+)?$")
_DOT_DECIMAL = re.compile(r"^[+-]?\d*\.\d+([eE][+-]?\d+)?$")
_SPECIAL = frozenset({"inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"})

_MAGIC = (
    (b"PAR1", "a Parquet file", ".parquet"),
    (b"PK\x03\x04", "a ZIP archive (an Excel .xlsx workbook or a NumPy .npz archive)", ".xlsx"),
    (b"\x93NUMPY", "a NumPy array file", ".npy"),
    (b"\xd0\xcf\x11\xe0", "an old-style Office document (for example an Excel .xls file)", ".xls"),
    (b"\x1f\x8b", "a gzip-compressed file", ".gz"),
    (b"%PDF", "a PDF document", ".pdf"),
)


@dataclass
class Dialect:
    """How a delimited text file is written."""

    delimiter: str
    quotechar: str = '"'
    header: bool = True
    decimal: str = "."
    encoding: str = "utf-8"
    has_quotes: bool = False
    first_row: list[str] | None = None
    warnings: list[DataWarning] = field(default_factory=list)
    skip_rows: int = 0
    """Lines before the header (or the first data line), skipped as they are."""
    comment: str | None = None
    """The comment marker: the rest of a line from it on is ignored."""
    encoding_given: bool = False
    """The encoding was chosen by the user (no fall-back to Latin-1 then)."""
    detected: tuple[str, ...] = ()
    """The aspects that were detected rather than given (delimiter, decimal, header,
    encoding)."""

    @property
    def python_encoding(self) -> str:
        """The encoding to use with :func:`open` (drops a UTF-8 byte-order mark)."""
        return "utf-8-sig" if self.encoding == "utf-8" else self.encoding

    def describe(self) -> dict[str, object]:
        """What was used to read the file, JSON-ready (provenance, the import preview)."""
        return {
            "delimiter": self.delimiter,
            "decimal": self.decimal,
            "header": self.header,
            "skip_rows": self.skip_rows,
            "comment": self.comment,
            "encoding": self.encoding,
            "quotechar": self.quotechar,
            "detected": list(self.detected),
        }


def is_number(text: str, decimal: str = ".") -> bool:
    """Whether ``text`` (already stripped) is written as a number."""
    low = text.lower()
    if low in _SPECIAL:
        return True
    pattern = _COMMA_NUMBER if decimal == "," else _DOT_NUMBER
    return pattern.match(text) is not None


def describe_binary(head: bytes) -> tuple[str, str] | None:
    """Recognise well-known binary formats by their first bytes."""
    for magic, what, suffix in _MAGIC:
        if head.startswith(magic):
            return what, suffix
    return None


def _looks_binary(sample: bytes) -> bool:
    if b"\x00" in sample:
        return True
    if not sample:
        return False
    control = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13))
    return control / len(sample) > 0.01


def _utf16_without_bom(raw: bytes) -> str | None:
    """``"utf-16-le"``/``"utf-16-be"`` if ``raw`` looks like UTF-16 text without a
    byte-order mark (mostly ASCII: every other byte is zero), else None.

    Such files (written by some Windows tools) were taken for binary data before.
    """
    n = len(raw) // 2 * 2
    if n < 4 or b"\x00" not in raw[:n]:
        return None
    even, odd = raw[0:n:2], raw[1:n:2]
    half = n // 2
    zeros_even, zeros_odd = even.count(0), odd.count(0)
    if zeros_odd >= 0.7 * half and zeros_even <= 0.05 * half:
        encoding = "utf-16-le"
    elif zeros_even >= 0.7 * half and zeros_odd <= 0.05 * half:
        encoding = "utf-16-be"
    else:
        return None
    try:
        text = raw[:n].decode(encoding)
    except UnicodeDecodeError:
        return None
    if not text:
        return None
    control = sum(1 for c in text if ord(c) < 32 and c not in "\t\n\r\x0c")
    return encoding if control / len(text) <= 0.01 else None


def _decode_sample(path: Path, raw: bytes, truncated: bool) -> tuple[str, str, list[DataWarning]]:
    warnings: list[DataWarning] = []
    if raw.startswith(codecs.BOM_UTF8):
        return raw[len(codecs.BOM_UTF8) :].decode("utf-8", errors="replace"), "utf-8", warnings
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return raw.decode("utf-16", errors="strict"), "utf-16", warnings
        except UnicodeDecodeError:
            # The sample may end inside a character; retry without the last bytes.
            return raw[:-1].decode("utf-16", errors="replace"), "utf-16", warnings
    utf16 = _utf16_without_bom(raw)
    if utf16 is not None:
        text = raw[: len(raw) // 2 * 2].decode(utf16, errors="replace")
        warnings.append(
            DataWarning(
                "utf16-without-bom",
                f"{path.name} is UTF-16 text ({'little' if utf16.endswith('le') else 'big'}-"
                "endian) without a byte-order mark; it was read as such.",
                remedy="If the text looks wrong, save the file as UTF-8.",
            )
        )
        return text, utf16, warnings
    known = describe_binary(raw)
    # "PAR1" and "%PDF" are printable and could start a real header line; the other
    # signatures contain bytes that never occur in text.
    if known and raw.startswith((b"PAR1", b"%PDF")) and not _looks_binary(raw):
        known = None
    if known or _looks_binary(raw):
        if known:
            what, suffix = known
            raise DataError(
                f"this is not a text table: it looks like {what}.",
                path=path,
                remedy=f"If it is, give the file the right extension (such as '{suffix}') "
                "and open it again; otherwise export the data as CSV.",
            )
        raise DataError(
            "this is not a text table: the file contains binary data.",
            path=path,
            remedy="Choose a CSV/TSV text file, or a Parquet, Excel (.xlsx) or NumPy "
            "(.npy/.npz) file with the matching extension.",
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the sample is not an encoding error.
        if truncated and exc.start >= len(raw) - 3:
            return raw[: exc.start].decode("utf-8"), "utf-8", warnings
        warnings.append(
            DataWarning(
                "not-utf8",
                f"{path.name} is not UTF-8 text; it was read as Latin-1 (ISO-8859-1).",
                remedy="Check that accented letters in text columns look right; if not, "
                "save the file as UTF-8.",
            )
        )
        return raw.decode("latin-1"), "latin-1", warnings
    return text, "utf-8", warnings


def _rows(text: str, delimiter: str, quotechar: str) -> list[list[str]]:
    if delimiter == WHITESPACE:
        lines = [line.split() for line in text.splitlines()]
    else:
        # newline=None: lines may end in "\r" alone (old Mac files) as well as "\n".
        reader = csv.reader(
            io.StringIO(text, newline=None), delimiter=delimiter, quotechar=quotechar
        )
        try:
            lines = list(itertools.islice(reader, 4 * SAMPLE_ROWS))
        except csv.Error:
            return []
    return [row for row in lines if row and any(cell.strip() for cell in row)][:SAMPLE_ROWS]


def _consistency(rows: list[list[str]]) -> tuple[int, float]:
    if not rows:
        return 1, 0.0
    counts = Counter(len(r) for r in rows)
    mode, hits = counts.most_common(1)[0]
    return mode, hits / len(rows)


def _numeric_share(rows: list[list[str]], delimiter: str) -> float:
    cells = [c.strip() for r in rows[1:] for c in r]
    cells = [c for c in cells if c.lower() not in MISSING_MARKERS]
    if not cells:
        return 0.0
    decimals = (".",) if delimiter == "," else (".", ",")
    ok = sum(1 for c in cells if any(is_number(c, d) for d in decimals))
    return ok / len(cells)


def _choose_delimiter(text: str, quotechar: str, suffix: str) -> str:
    best: tuple | None = None
    choice = ","
    candidates = list(CANDIDATE_DELIMITERS)
    if suffix in {".tsv", ".tab"}:
        candidates.remove("\t")
        candidates.insert(0, "\t")
    for rank, delim in enumerate(candidates):
        rows = _rows(text, delim, quotechar)
        mode, share = _consistency(rows)
        if mode < 2:
            continue
        consistent = share >= 0.9
        key = (consistent, round(_numeric_share(rows, delim), 2), share, -rank)
        if best is None or key > best:
            best, choice = key, delim
    if best is None or not best[0]:
        rows = _rows(text, WHITESPACE, quotechar)
        mode, share = _consistency(rows)
        if mode >= 2 and share >= 0.9 and not any(quotechar in r for r in text.splitlines()[:5]):
            return WHITESPACE
    return choice


def _choose_decimal(rows: list[list[str]], delimiter: str) -> str:
    if delimiter == ",":
        return "."
    comma = dot = 0
    for row in rows[1:]:
        for cell in row:
            cell = cell.strip()
            if _COMMA_DECIMAL.match(cell):
                comma += 1
            elif _DOT_DECIMAL.match(cell):
                dot += 1
    return "," if comma > dot else "."


def _is_text(cell: str, decimal: str) -> bool:
    cell = cell.strip()
    return cell.lower() not in MISSING_MARKERS and not is_number(cell, decimal)


def looks_like_header(first: list[str], rest: list[list[str]], decimal: str) -> bool:
    """Decide whether ``first`` (a row of strings) names the columns of ``rest``."""
    texts = [_is_text(c, decimal) for c in first]
    if not any(texts):
        return False  # a row of numbers (and blanks) is data
    if all(texts) and len({c.strip() for c in first}) == len(first):
        return True  # the usual header: distinct non-numeric names
    for j, is_text in enumerate(texts):
        if not is_text:
            continue
        below = [r[j].strip() for r in rest if j < len(r)]
        below = [c for c in below if c.lower() not in MISSING_MARKERS]
        if below and sum(is_number(c, decimal) for c in below) >= 0.5 * len(below):
            return True  # a name above a column of numbers
    return all(texts)


_LINE_BREAK = re.compile(r"\r\n|\r|\n")
#: Most bytes read to find the end of the skipped lines (a preamble is a few lines).
_MAX_SKIP_BYTES = 64 << 20


def _read_sample(path: Path, skip_rows: int) -> tuple[bytes, bool]:
    """The first :data:`SAMPLE_BYTES` of the file, plus the ``skip_rows`` lines above them."""
    with open(path, "rb") as handle:
        raw = handle.read(SAMPLE_BYTES)
        while skip_rows and raw.count(b"\n") + raw.count(b"\r") <= skip_rows + 1 and len(
                raw) < _MAX_SKIP_BYTES:
            more = handle.read(SAMPLE_BYTES)
            if not more:
                break
            raw += more
        truncated = bool(handle.read(1))
    return raw, truncated


def _decode_given(path: Path, raw: bytes, encoding: str, truncated: bool) -> str:
    """The sample decoded with the encoding the user chose (an error names the option)."""
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        if truncated and exc.start >= len(raw) - 4:
            return raw[: exc.start].decode(encoding, errors="replace")
        other = "utf-8" if encoding != "utf-8" else "latin-1"
        raise DataError(
            f"the file is not {encoding} text (byte 0x{raw[exc.start]:02x} at offset "
            f"{exc.start} cannot be decoded).",
            path=path,
            remedy="Choose the encoding the file was saved with, or leave it to be detected.",
            hints=(OptionHint("encoding", other, "for example"),),
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    return text


def strip_comments(lines: list[str], comment: str, quotechar: str = '"') -> list[str]:
    """``lines`` with everything from the comment marker on removed (a marker inside a
    quoted value is kept); lines that held only a comment are dropped."""
    out: list[str] = []
    quoted = False
    for line in lines:
        if comment in line:
            kept: list[str] = []
            for ch in line:
                if ch == quotechar:
                    quoted = not quoted
                elif ch == comment and not quoted:
                    break
                kept.append(ch)
            cut = "".join(kept)
            if cut.strip() or not line.lstrip().startswith(comment):
                out.append(cut)
            continue
        quoted ^= line.count(quotechar) % 2 == 1
        out.append(line)
    return out


def sniff(
    path: Path,
    *,
    delimiter: str | None = None,
    decimal: str | None = None,
    header: bool | None = None,
    skip_rows: int = 0,
    comment: str | None = None,
    encoding: str | None = None,
) -> Dialect:
    """Detect the dialect of the delimited text file ``path``.

    ``delimiter``, ``decimal``, ``header`` and ``encoding`` override the detection of that
    aspect; ``skip_rows`` lines are skipped before anything is detected, and text from the
    ``comment`` marker on is ignored. Raises :class:`DataError` for an empty or binary
    file, and for options that do not fit it.
    """
    delimiter_given, decimal_given = delimiter is not None, decimal is not None
    header_given, encoding_given = header is not None, encoding is not None
    raw, truncated = _read_sample(path, skip_rows)
    if not raw.strip(b" \t\r\n\x0c" + codecs.BOM_UTF8):
        raise DataError(
            "the file is empty.",
            path=path,
            remedy="Choose a file that contains a table (a header line and data rows).",
        )
    if encoding is not None:
        text = _decode_given(path, raw, encoding, truncated)
        warnings: list[DataWarning] = []
    else:
        text, encoding, warnings = _decode_sample(path, raw, truncated)
    if truncated:
        cut = max(text.rfind("\n"), text.rfind("\r"))
        if cut > 0:
            text = text[:cut]
    if skip_rows or comment is not None:
        lines = _LINE_BREAK.split(text)
        if skip_rows:
            if len(lines) <= skip_rows or not "".join(lines[skip_rows:]).strip():
                raise DataError(
                    f"skipping {skip_rows} line(s) leaves nothing to read (the file has "
                    f"{len(lines) - (1 if not lines[-1] else 0)} line(s)"
                    f"{' in its first part' if truncated else ''}).",
                    path=path,
                    remedy="Skip fewer lines: only those above the header line.",
                    hints=(OptionHint("skip_rows", 0, "to start at the first line"),),
                )
            lines = lines[skip_rows:]
        if comment is not None:
            lines = strip_comments(lines, comment)
        text = "\n".join(lines)

    quotechar = '"'
    try:
        # Only the quote character is taken from the Sniffer, and its regular expressions
        # are quadratic (64 KB of ',"a' took 20 s): the first few KB are enough.
        sniffed = csv.Sniffer().sniff(
            text[:SNIFFER_CHARS], delimiters="".join(CANDIDATE_DELIMITERS)
        )
        if sniffed.quotechar == "'" and '"' not in text:
            quotechar = "'"
    except csv.Error:
        pass

    if delimiter is None:
        delimiter = _choose_delimiter(text, quotechar, path.suffix.lower())
    elif delimiter in {r"\s+", " ", WHITESPACE}:
        delimiter = WHITESPACE
    elif len(delimiter) != 1 or delimiter in {"\n", "\r", quotechar}:
        raise DataError(
            f"the delimiter '{clip_text(delimiter)}' cannot be used.",
            path=path,
            remedy="Give a single character such as ',', ';', a tab or '|', or 'whitespace'.",
            hints=(OptionHint("delimiter", ",", "for example"),),
        )
    rows = _rows(text, delimiter, quotechar)
    if decimal is None:
        decimal = _choose_decimal(rows, delimiter)
    elif decimal not in {".", ","}:
        raise DataError(
            f"the decimal mark '{clip_text(decimal)}' is not supported; it is '.' or ','.",
            path=path,
            hints=(OptionHint("decimal", ".", "for a decimal point"),
                   OptionHint("decimal", ",", "for a decimal comma")),
        )
    if decimal == delimiter:
        raise DataError(
            f"the decimal mark and the delimiter are both '{clip_text(decimal)}'.",
            path=path,
            remedy="Give a different delimiter.",
            hints=(OptionHint("delimiter", ";", "European CSV files usually use ;"),),
        )
    detected = tuple(name for name, given in (
        ("delimiter", delimiter_given), ("decimal", decimal_given), ("header", header_given),
        ("encoding", encoding_given)) if not given)
    if header is None:
        header = bool(rows) and looks_like_header(rows[0], rows[1:], decimal)
    return Dialect(
        delimiter=delimiter,
        quotechar=quotechar,
        header=header,
        decimal=decimal,
        encoding=encoding,
        has_quotes=quotechar in text,
        first_row=rows[0] if rows else None,
        warnings=warnings,
        skip_rows=skip_rows,
        comment=comment,
        encoding_given=encoding_given,
        detected=detected,
    )

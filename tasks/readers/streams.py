"""Decompressing byte streams, byte-order marks and size-capped line iteration.

Compression is detected from the first bytes (gzip ``1f 8b``, zstd ``28 b5 2f fd``), not from the
file name, so a mislabelled file is still read. Truncation is an error in both codecs: gzip
raises ``EOFError`` itself; for zstd (whose stream reader silently stops at a cut frame) the
:class:`ZstdReader` checks that the last frame ended and raises ``EOFError`` otherwise.

Text streams (:func:`open_text_stream`) skip a UTF-8 byte-order mark and transcode UTF-16
(detected by its BOM, ``FF FE`` or ``FE FF``) to UTF-8 on the fly, so readers always see UTF-8
bytes. Lines (:func:`iter_lines`) end at ``\n``, ``\r\n`` or a lone ``\r`` (classic Mac files):
JSON never holds a raw CR inside a value, so splitting there cannot cut a record.
"""

from __future__ import annotations

import codecs
import gzip
import io
from collections.abc import Iterator
from typing import BinaryIO

import zstandard

UTF8_BOM = codecs.BOM_UTF8
UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_CHUNK = 1 << 20


class ZstdReader(io.RawIOBase):
    """Raw stream over (possibly multi-frame) zstd data that raises ``EOFError`` on truncation."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self._dctx = zstandard.ZstdDecompressor()
        self._dobj = self._dctx.decompressobj()
        self._pending = b""
        self._frame_open = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        while not self._pending:
            chunk = self._raw.read(_CHUNK)
            if not chunk:
                if self._frame_open:
                    raise EOFError("zstd stream ended in the middle of a frame (file truncated)")
                return 0
            while chunk:
                self._frame_open = True
                out = self._dobj.decompress(chunk)
                self._pending += out
                if self._dobj.eof:
                    self._frame_open = False
                    chunk = self._dobj.unused_data
                    self._dobj = self._dctx.decompressobj()
                else:
                    chunk = b""
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()


def open_decompressed(path: str) -> BinaryIO:
    """Open ``path`` for reading bytes, transparently decompressing gzip or zstd."""
    raw = open(path, "rb")
    head = raw.peek(4)[:4]
    if head.startswith(GZIP_MAGIC):
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    if head.startswith(ZSTD_MAGIC):
        return io.BufferedReader(ZstdReader(raw), buffer_size=_CHUNK)  # type: ignore[return-value]
    return raw


class Utf16ToUtf8Reader(io.RawIOBase):
    """Raw stream of UTF-8 bytes transcoded from a UTF-16 stream (BOM included, so either byte order).

    Undecodable code units (a lone surrogate, an odd trailing byte) become U+FFFD."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self._decoder = codecs.getincrementaldecoder("utf-16")("replace")
        self._pending = b""
        self._eof = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        while not self._pending and not self._eof:
            chunk = self._raw.read(_CHUNK)
            self._eof = not chunk
            self._pending = self._decoder.decode(chunk, final=self._eof).encode("utf-8", "surrogatepass")
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()


def open_text_stream(path: str) -> tuple[BinaryIO, str | None]:
    """Open ``path`` decompressed, positioned after a UTF-8 BOM, with UTF-16 transcoded to UTF-8;
    return ``(stream of UTF-8 bytes, "utf-16" when it was transcoded else None)``."""
    stream = open_decompressed(path)
    head = stream.peek(4)[:4] if hasattr(stream, "peek") else b""
    if head.startswith(UTF8_BOM):
        stream.read(len(UTF8_BOM))
    elif head.startswith(UTF16_BOMS):
        return io.BufferedReader(Utf16ToUtf8Reader(stream), buffer_size=_CHUNK), "utf-16"  # type: ignore[return-value]
    return stream, None


class Line:
    """One line of a stream: 1-based number, decompressed byte offset, size, and its bytes; an
    oversize line has ``data=None`` and only its first bytes in ``head`` (for the preview)."""

    __slots__ = ("number", "offset", "size", "data", "head")

    def __init__(self, number: int, offset: int, size: int, data: bytes | None, head: bytes = b"") -> None:
        self.number, self.offset, self.size, self.data, self.head = number, offset, size, data, head


def iter_lines(stream: BinaryIO, max_bytes: int, keep_head: int = 4096) -> Iterator[Line]:
    """Yield the lines of ``stream`` (ending at ``\n``, ``\r\n`` or a lone ``\r``); a line longer
    than ``max_bytes`` is skipped in chunks (never held in memory whole) and yielded with ``data=None``."""
    offset = 0
    number = 0
    while True:
        data = stream.readline(max_bytes + 1)
        if not data:
            return
        if len(data) > max_bytes and not data.endswith(b"\n"):
            number += 1
            size = len(data)
            while True:
                rest = stream.readline(_CHUNK)
                size += len(rest)
                if not rest or rest.endswith(b"\n"):
                    break
            yield Line(number, offset, size, None, data[:keep_head])
            offset += size
            continue
        body = data[:-1] if data.endswith(b"\n") else data
        if b"\r" not in body or body.find(b"\r") == len(body) - 1:  # no CR, or only the CR of a CRLF
            number += 1
            yield Line(number, offset, len(data), data)
            offset += len(data)
            continue
        parts = (body[:-1] if body.endswith(b"\r") else body).split(b"\r")
        consumed = 0
        for k, part in enumerate(parts):  # lone CRs are line breaks too
            number += 1
            size = len(part) + 1 if k < len(parts) - 1 else len(data) - consumed
            yield Line(number, offset, size, part)
            offset += size
            consumed += size

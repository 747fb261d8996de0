"""Decompressing byte streams and size-capped line iteration.

Compression is detected from the first bytes (gzip ``1f 8b``, zstd ``28 b5 2f fd``), not from the
file name, so a mislabelled file is still read. Truncation is an error in both codecs: gzip
raises ``EOFError`` itself; for zstd (whose stream reader silently stops at a cut frame) the
:class:`ZstdReader` checks that the last frame ended and raises ``EOFError`` otherwise.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterator
from typing import BinaryIO

import zstandard

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


class Line:
    """One line of a stream: 1-based number, decompressed byte offset, size, and its bytes; an
    oversize line has ``data=None`` and only its first bytes in ``head`` (for the preview)."""

    __slots__ = ("number", "offset", "size", "data", "head")

    def __init__(self, number: int, offset: int, size: int, data: bytes | None, head: bytes = b"") -> None:
        self.number, self.offset, self.size, self.data, self.head = number, offset, size, data, head


def iter_lines(stream: BinaryIO, max_bytes: int, keep_head: int = 4096) -> Iterator[Line]:
    """Yield the lines of ``stream``; a line longer than ``max_bytes`` is skipped in chunks (never
    held in memory whole) and yielded with ``data=None``."""
    offset = 0
    number = 0
    while True:
        data = stream.readline(max_bytes + 1)
        if not data:
            return
        number += 1
        if len(data) > max_bytes and not data.endswith(b"\n"):
            size = len(data)
            while True:
                rest = stream.readline(_CHUNK)
                size += len(rest)
                if not rest or rest.endswith(b"\n"):
                    break
            yield Line(number, offset, size, None, data[:keep_head])
        else:
            size = len(data)
            yield Line(number, offset, size, data)
        offset += size

"""Streaming readers for ingest: JSONL, Parquet, WARC/ARC/WET and plain HTML files.

Every reader is a generator over one input file that yields, record by record:

- :class:`RawDocument` - a record with text (not yet normalised), id, url, source, metadata;
- :class:`DroppedRecord` - a record that was read fine but is not a document (a non-HTML
  WARC response, an HTML page with no main text, an HTTP error page), with a snake_case reason;
- :class:`QuarantinedRecord` - something that could not be parsed (broken JSON line, wrong
  type, truncated compressed stream, binary junk, an oversize record), with file, offset/line,
  error message and a raw preview.

Readers never raise for bad *content*: every failure becomes a quarantine entry and reading goes
on where it can (a truncated gzip keeps the records before the truncation). Memory is bounded:
lines are read with a size cap, Parquet by batches, WARC payloads up to ``max_html_bytes``.

    from tasks.readers import ReaderOptions, list_input_files, read_input_file
    for f in list_input_files(["data/", "more/*.warc.gz"]):
        for item in read_input_file(f, ReaderOptions()):
            ...
"""

from tasks.readers.files import InputFile, detect_format, list_input_files
from tasks.readers.ids import derive_doc_id
from tasks.readers.records import DroppedRecord, QuarantinedRecord, RawDocument, ReaderOptions, ReaderStats, printable_path
from tasks.readers.dispatch import read_input_file

__all__ = [
    "DroppedRecord",
    "InputFile",
    "QuarantinedRecord",
    "RawDocument",
    "ReaderOptions",
    "ReaderStats",
    "derive_doc_id",
    "detect_format",
    "list_input_files",
    "printable_path",
    "read_input_file",
]

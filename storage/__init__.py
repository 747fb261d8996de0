"""Storage layer: datasets that can be trusted.

A dataset is a directory (local path, ``file://`` URI or object-store URI such as
``s3://bucket/prefix``) holding shards plus ``manifest.json``. The manifest is written
last, so a dataset without one is incomplete and refused; every shard carries its row
count, size and sha256, checked when read.

This package imports nothing from the rest of the repository (it is the leaf).

    from storage import DatasetWriter, open_dataset
"""

from storage.dataset import (
    Dataset,
    DatasetWriter,
    content_key,
    exchange_paths,
    exists,
    file_sha256,
    open_dataset,
    read_bytes,
    resolve_dataset_uri,
    write_bytes_atomic,
    write_shard,
)
from storage.errors import DatasetError
from storage.manifest import Counts, InputRef, Manifest, ShardInfo
from storage.schema import (
    DOCUMENT_SCHEMA,
    DROPPED_SCHEMA,
    QUARANTINE_SCHEMA,
    conform_documents,
)
from storage.version import code_version

__all__ = [
    "Counts",
    "DOCUMENT_SCHEMA",
    "DROPPED_SCHEMA",
    "Dataset",
    "DatasetError",
    "DatasetWriter",
    "InputRef",
    "Manifest",
    "QUARANTINE_SCHEMA",
    "ShardInfo",
    "code_version",
    "conform_documents",
    "content_key",
    "open_dataset",
    "resolve_dataset_uri",
    "exchange_paths",
    "exists",
    "file_sha256",
    "read_bytes",
    "write_bytes_atomic",
    "write_shard",
]

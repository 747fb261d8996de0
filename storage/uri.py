"""Resolve dataset URIs to a pyarrow filesystem and a path.

Supported: plain local paths, ``file://`` URIs, ``s3://`` (pyarrow's S3 filesystem; set
``AWS_ENDPOINT_URL`` for an S3-compatible server such as MinIO or moto), and any other
scheme fsspec knows (``gs://``, ``memory://``...) through pyarrow's fsspec handler.
"""

from __future__ import annotations

import os
from urllib.parse import urlparse

import pyarrow.fs as pafs


def is_remote(uri: str) -> bool:
    scheme = urlparse(uri).scheme
    return bool(scheme) and scheme != "file" and len(scheme) > 1  # len>1: Windows drive letters


def filesystem_for(uri: str) -> tuple[pafs.FileSystem, str]:
    """Return ``(filesystem, path)`` for a URI; local paths are made absolute."""
    parsed = urlparse(uri)
    scheme = parsed.scheme
    if not scheme or len(scheme) == 1:
        return pafs.LocalFileSystem(), os.path.abspath(uri)
    if scheme == "file":
        return pafs.LocalFileSystem(), os.path.abspath(parsed.path)
    if scheme == "s3":
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        kwargs: dict = {}
        if endpoint:
            ep = urlparse(endpoint)
            kwargs["endpoint_override"] = ep.netloc or ep.path
            kwargs["scheme"] = ep.scheme or "http"
        region = os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION")
        if region:
            kwargs["region"] = region
        fs = pafs.S3FileSystem(**kwargs)
        return fs, (parsed.netloc + parsed.path).rstrip("/")
    import fsspec  # other object stores through fsspec

    fs_spec, path = fsspec.core.url_to_fs(uri)
    return pafs.PyFileSystem(pafs.FSSpecHandler(fs_spec)), path


def join(uri: str, *parts: str) -> str:
    """Join path parts onto a URI without losing its scheme."""
    out = uri.rstrip("/")
    for part in parts:
        out = f"{out}/{part.strip('/')}"
    return out

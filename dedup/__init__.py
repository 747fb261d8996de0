"""Deduplication algorithms: exact text hashes, normalised URLs, MinHash LSH, connected components.

Pure Arrow/numpy. The only Ray-aware module is :mod:`dedup.ray_ops`; the phases in
:mod:`dedup.pipeline` take an ``executor`` ("ray" or "local") and run the same unit functions
either way. The stage driver is ``tasks/dedup.py`` (``run_dedup``); see docs/dedup.md.
"""

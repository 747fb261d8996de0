"""Deduplication algorithms: exact text hashes, normalised URLs, MinHash LSH, connected components.

Pure Arrow/numpy; nothing here imports Ray. The phases in :mod:`dedup.pipeline` take a
``map_units(fn, units)`` callable (the stage driver passes ``tasks.executor.map_units``; the
default runs the units in-process) and run the same unit functions either way. The stage driver is ``tasks/dedup.py`` (``run_dedup``); see docs/dedup.md.
"""

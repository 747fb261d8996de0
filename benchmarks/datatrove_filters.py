"""The datatrove side of benchmarks/filter_vs_datatrove.py: the FineWeb filter recipe, offline.

datatrove's LanguageFilter downloads lid.176.bin on first use; here its model is the
bundled lid.176.ftz (ENVIRONMENT.md trap 3). Lives in its own module so the
LocalPipelineExecutor's worker processes can unpickle the pipeline.
"""

from __future__ import annotations

from datatrove.pipeline.filters import (
    C4QualityFilter,
    FineWebQualityFilter,
    GopherQualityFilter,
    GopherRepetitionFilter,
    LanguageFilter,
)
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import JsonlWriter
from datatrove.utils.lid import FastTextLID

from tasks.ops.langid import lid176_path


class LocalFT176LID(FastTextLID):
    """datatrove's FT176LID reading the bundled .ftz instead of downloading the .bin."""

    def __init__(self, path: str, languages: list[str]) -> None:
        super().__init__(languages)
        self.path = path

    @property
    def model(self):
        if self._model is None:
            from fasttext.FastText import _FastText

            self._model = _FastText(self.path)
        return self._model


def language_filter(languages: list[str] = ["en", "zh"]) -> LanguageFilter:  # noqa: B006
    lf = LanguageFilter(languages=languages)
    lf.model = LocalFT176LID(lid176_path(), languages)
    return lf


def quality_filters() -> list:
    """FineWeb's order and settings (C4 without the terminal-punctuation line rule)."""
    return [
        GopherRepetitionFilter(),
        GopherQualityFilter(),
        C4QualityFilter(filter_no_terminal_punct=False),
        FineWebQualityFilter(),
    ]


def fineweb_pipeline(input_dir: str, output_dir: str) -> list:
    return [
        JsonlReader(input_dir, glob_pattern="*.jsonl.gz", default_metadata={}),
        language_filter(),
        *quality_filters(),
        JsonlWriter(output_dir, output_filename="${rank}.jsonl.gz"),
    ]

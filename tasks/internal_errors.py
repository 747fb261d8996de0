"""Internal errors: our code (a parser, a model, a bug) failed, as opposed to the data being bad.

Bad data is quarantined with its reason and never fails a stage. When our own code fails, the
stage fails with the first error and its traceback, except at the few places where one record can
make a third-party parser choke (trafilatura on one HTML page, warcio on one WARC record, the
filter's heuristics on one text): there the record is retried alone, quarantined with reason
``internal_error`` and counted, and the stage fails loudly once the count passes
``max_internal_error_rate`` (default 1%) of its records, naming the first error. So a systematic
failure (a broken model file, a bug hit by every record) is a failed stage, never a "successful"
one that quarantined everything.

    errors = InternalErrors()
    errors.add("file.warc.gz:17", "internal_error: ...", traceback_text)
    errors.check_unit("ingest", records_so_far, rate)     # early: a unit that is mostly failing
    total.check_total("ingest", total_records, rate)      # at the end, over the whole stage
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

UNIT_ABORT_MIN_ERRORS = 10  # a unit stops early after this many errors...
UNIT_ABORT_SHARE = 0.5  # ...when they are more than half of its records so far (mostly failing)


class InternalErrorRateExceeded(RuntimeError):
    """More internal errors than ``max_internal_error_rate`` allows: a bug or a broken model."""


@dataclass
class InternalErrors:
    count: int = 0
    first_where: str | None = None
    first_error: str | None = None
    first_trace: str | None = None

    def add(self, where: str, error: str, trace: str | None) -> None:
        self.count += 1
        if self.first_error is None:
            self.first_where, self.first_error, self.first_trace = where, error, trace

    def merge(self, other: "InternalErrors") -> "InternalErrors":
        out = InternalErrors(**asdict(self))
        out.count += other.count
        if out.first_error is None:
            out.first_where, out.first_error, out.first_trace = other.first_where, other.first_error, other.first_trace
        return out

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> "InternalErrors":
        return cls(**(d or {}))

    def _fail(self, stage: str, records: int, rate: float) -> None:
        share = self.count / max(records, 1)
        raise InternalErrorRateExceeded(
            f"{stage}: {self.count} internal errors in {records} records ({share:.2%}) exceed "
            f"max_internal_error_rate={rate:g}: this is a bug or a broken model, not bad data, so the stage "
            f"fails instead of quarantining. First error, at {self.first_where}: {self.first_error}\n{self.first_trace or ''}"
        )

    def check_unit(self, stage: str, records: int, rate: float) -> None:
        """Fail early when one unit is mostly failing (the stage-wide check decides the rest)."""
        if self.count >= UNIT_ABORT_MIN_ERRORS and self.count > max(rate, UNIT_ABORT_SHARE) * records:
            self._fail(stage, records, rate)

    def check_total(self, stage: str, records: int, rate: float) -> None:
        if self.count > rate * records:
            self._fail(stage, records, rate)

    def stats(self, rate: float) -> dict[str, Any]:
        """What the manifest records (the cap is not part of the content key: it never changes
        the output of a stage that succeeds, only whether it succeeds)."""
        return {"internal_errors": self.count, "first_internal_error": self.first_error, "max_internal_error_rate": rate}

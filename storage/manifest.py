"""``manifest.json``: what a dataset holds and how it was made.

A manifest records the schema version, the shards (path relative to the dataset root,
section, rows, bytes, sha256, plus free-form ``attrs`` such as split or language), the
conservation counts (input = kept + dropped by reason + quarantined), the producing stage
and its resolved config, the digests of its input manifests, the code version and the
``code_digest`` of the source that computed it, timestamps, a free-form ``stats`` dict for
stage-specific reports (part of the digest: it describes the content) and a ``run`` dict for
how this run went (units computed / skipped, CPU seconds: left out of the digest, so a resumed
run and a clean run publish the same digest).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

SCHEMA_VERSION = 1


@dataclass
class ShardInfo:
    path: str  # relative to the dataset root, e.g. "data/part-00000.parquet"
    section: str  # "data", "dropped", "quarantine", or a stage-specific section
    rows: int
    bytes: int
    sha256: str
    attrs: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ShardInfo":
        return cls(
            path=d["path"],
            section=d["section"],
            rows=int(d["rows"]),
            bytes=int(d["bytes"]),
            sha256=d["sha256"],
            attrs=dict(d.get("attrs", {})),
        )


@dataclass
class Counts:
    """Conservation counts of one stage: ``input == kept + sum(dropped) + quarantined``."""

    input: int = 0
    kept: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    quarantined: int = 0

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped.values())

    def is_conserved(self) -> bool:
        return self.input == self.kept + self.dropped_total + self.quarantined

    def check(self, what: str = "stage") -> None:
        if not self.is_conserved():
            raise AssertionError(
                f"{what}: conservation violated: input {self.input} != kept {self.kept} + "
                f"dropped {self.dropped_total} {self.dropped} + quarantined {self.quarantined}"
            )

    def add(self, other: "Counts") -> "Counts":
        dropped = dict(self.dropped)
        for reason, n in other.dropped.items():
            dropped[reason] = dropped.get(reason, 0) + n
        return Counts(
            input=self.input + other.input,
            kept=self.kept + other.kept,
            dropped=dropped,
            quarantined=self.quarantined + other.quarantined,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "input": self.input,
            "kept": self.kept,
            "dropped": dict(sorted(self.dropped.items())),
            "dropped_total": self.dropped_total,
            "quarantined": self.quarantined,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Counts":
        return cls(
            input=int(d.get("input", 0)),
            kept=int(d.get("kept", 0)),
            dropped={k: int(v) for k, v in d.get("dropped", {}).items()},
            quarantined=int(d.get("quarantined", 0)),
        )


@dataclass
class InputRef:
    """A dataset this one was made from: where it was and the digest of its manifest."""

    uri: str
    digest: str

    def to_dict(self) -> dict[str, str]:
        return {"uri": self.uri, "digest": self.digest}


@dataclass
class Manifest:
    kind: str  # "documents", "tokens", "dedup_index", "tokenizer", "checkpoint", ...
    stage: str
    config: dict[str, Any]
    inputs: list[InputRef]
    code_version: str
    shards: list[ShardInfo] = field(default_factory=list)
    counts: Counts = field(default_factory=Counts)
    stats: dict[str, Any] = field(default_factory=dict)
    code_digest: str = ""  # sha256 of the source of the modules that compute the stage (in the key)
    run: dict[str, Any] = field(default_factory=dict)  # how this run went; not part of the digest
    key: str = ""
    created_at: str = ""
    finished_at: str = ""
    schema_version: int = SCHEMA_VERSION

    def shards_in(self, section: str) -> list[ShardInfo]:
        return [s for s in self.shards if s.section == section]

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "kind": self.kind,
            "stage": self.stage,
            "key": self.key,
            "config": self.config,
            "inputs": [i.to_dict() for i in self.inputs],
            "code_version": self.code_version,
            "code_digest": self.code_digest,
            "created_at": self.created_at,
            "finished_at": self.finished_at,
            "counts": self.counts.to_dict(),
            "stats": self.stats,
            "run": self.run,
            "shards": [s.to_dict() for s in self.shards],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False, ensure_ascii=False, default=str)

    @property
    def digest(self) -> str:
        """sha256 of what the dataset *is* (content, config, inputs, code digest), not of when or how
        fast it was made (timestamps, ``run``), so a resumed run has the digest of a clean one."""
        d = self.to_dict()
        for volatile in ("created_at", "finished_at", "code_version", "run"):
            d.pop(volatile)
        if not d["code_digest"]:
            d.pop("code_digest")  # manifests written before code digests keep their digest
        return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Manifest":
        if int(d.get("schema_version", 0)) > SCHEMA_VERSION:
            raise ValueError(
                f"manifest schema_version {d.get('schema_version')} is newer than this code understands "
                f"({SCHEMA_VERSION}); upgrade longterm"
            )
        return cls(
            kind=d["kind"],
            stage=d["stage"],
            key=d.get("key", ""),
            config=d.get("config", {}),
            inputs=[InputRef(**i) for i in d.get("inputs", [])],
            code_version=d.get("code_version", ""),
            code_digest=d.get("code_digest", ""),
            run=d.get("run", {}),
            shards=[ShardInfo.from_dict(s) for s in d.get("shards", [])],
            counts=Counts.from_dict(d.get("counts", {})),
            stats=d.get("stats", {}),
            created_at=d.get("created_at", ""),
            finished_at=d.get("finished_at", ""),
            schema_version=int(d.get("schema_version", SCHEMA_VERSION)),
        )

    @classmethod
    def from_json(cls, text: str) -> "Manifest":
        return cls.from_dict(json.loads(text))

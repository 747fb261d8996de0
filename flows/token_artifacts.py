"""Prefect artifacts of the token stages: tokenizer card, token counts per split/language/group, remix mixture."""

from __future__ import annotations

from typing import Any

from prefect.artifacts import create_markdown_artifact, create_table_artifact

from flows.artifacts import artifact_key
from storage import open_dataset


def token_count_rows(stats: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per (breakdown, name): tokens and documents in train and val."""
    rows = []
    for breakdown in ("by_lang", "by_group"):
        tokens = stats.get("tokens", {}).get(breakdown, {})
        docs = stats.get("docs", {}).get(breakdown, {})
        for name, t in sorted(tokens.items()):
            d = docs.get(name, {})
            rows.append({
                "breakdown": breakdown.removeprefix("by_"), "name": name,
                "train_tokens": t.get("train", 0), "val_tokens": t.get("val", 0),
                "train_docs": d.get("train", 0), "val_docs": d.get("val", 0),
                "bytes_per_token": stats.get("bytes_per_token", {}).get(name, "") if breakdown == "by_lang" else "",
            })
    return rows


def publish_token_artifacts(uri: str) -> str:
    stats = open_dataset(uri, kind="tokens").manifest.stats
    key = artifact_key("tokenize", "tokens")
    create_table_artifact(key=key, table=token_count_rows(stats),
                          description=f"tokens per split, language and remix group ({stats.get('dtype')}, "
                                      f"vocab {stats.get('vocab_size')} padded {stats.get('padded_vocab_size')})")
    return key


def tokenizer_markdown(uri: str, stats: dict[str, Any]) -> str:
    sample = stats.get("sample", {})
    lines = [
        f"## tokenizer: vocab {stats['vocab_size']:,} (padded {stats['padded_vocab_size']:,})",
        "",
        f"- directory: `{uri}`, model sha256 `{stats['tokenizer_digest'][:16]}`",
        f"- ids: bos {stats['bos_id']}, eos {stats['eos_id']}, pad {stats['pad_id']}, "
        + ", ".join(f"`{k}` {v}" for k, v in stats.get("special_ids", {}).items()),
        f"- trained on {sample.get('trained_on', 0):,} documents ({sample.get('trained_bytes', 0) / 1e6:.1f} MB), "
        f"{sample.get('heldout', 0):,} held out",
    ]
    for lang, v in sorted(sample.get("by_lang", {}).items()):
        lines.append(f"  - {lang}: {v['docs']:,} documents, {v['bytes'] / 1e6:.2f} MB")
    return "\n".join(lines)


def publish_tokenizer_artifacts(uri: str) -> str:
    ds = open_dataset(uri, kind="tokenizer")
    key = artifact_key("train-tokenizer", "card")
    create_markdown_artifact(key=key, markdown=tokenizer_markdown(ds.uri, ds.manifest.stats), description="tokenizer card")
    return key


def publish_mixture_artifacts(uri: str) -> str:
    stats = open_dataset(uri, kind="documents").manifest.stats
    key = artifact_key("remix", "mixture")
    create_table_artifact(key=key, table=stats.get("mixture", {}).get("rows", []),
                          description="remix: target share, documents and bytes per group and language, before and after")
    return key

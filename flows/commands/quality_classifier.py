"""``longterm train-quality-classifier --positive P --negative N --out MODEL``.

P and N are text files (one document per line), JSONL files (a ``text`` field per line,
``.gz`` allowed) or documents datasets. The model is a small fastText classifier
(tasks/ops/quality_classifier.py); use it with the filter config key
``classifier: {model_path: MODEL, threshold: 0.5}``.
"""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command("train-quality-classifier")
    def train_quality_classifier_command(
        positive: str = typer.Option(..., "--positive", help="reference-quality texts (txt/jsonl[.gz]/dataset)"),
        negative: str = typer.Option(..., "--negative", help="random crawl texts (txt/jsonl[.gz]/dataset)"),
        out: str = typer.Option(..., "--out", help="model file to write (e.g. runs/quality.bin)"),
        quantize: bool = typer.Option(False, "--quantize", help="quantize the model (smaller, slightly worse)"),
    ) -> None:
        """Train a DCLM-style fastText quality classifier (positives vs crawl)."""
        from tasks.filter import QualityClassifierConfig, train_quality_classifier
        from tasks.ops.quality_classifier import read_texts

        try:
            pos, neg = read_texts(positive), read_texts(negative)
            path = train_quality_classifier(pos, neg, out, QualityClassifierConfig(quantize=quantize))
        except (ValueError, FileNotFoundError) as e:
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(2) from e
        typer.echo(f"{path}: trained on {len(pos)} positive and {len(neg)} negative texts")

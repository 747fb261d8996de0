"""``longterm train-tokenizer IN --out DIR [--vocab-size N]``: train the SentencePiece BPE tokenizer.

    longterm train-tokenizer runs/remix --out runs/tokenizer --vocab-size 4000 --character-coverage 0.995
    longterm train-tokenizer runs/remix --out runs/tokenizer            # 100,000 pieces (real runs)
"""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command("train-tokenizer")
    def train_tokenizer(
        input_uri: str = typer.Argument(..., help="documents dataset (a stage --out or one version in it)"),
        out: str = typer.Option(..., "--out", help="output root; the version goes to OUT/train_tokenizer-<key>/"),
        vocab_size: int = typer.Option(100_000, "--vocab-size", help="SentencePiece pieces (padded to a multiple of 128 for the model)"),
        character_coverage: float = typer.Option(0.9995, "--character-coverage", help="share of characters with their own piece; the rest encode as bytes"),
        sample_bytes: int = typer.Option(1_000_000_000, "--sample-bytes", help="at most this much text is trained on"),
        seed: int = typer.Option(0, "--seed", help="sampling seed"),
        no_prefect: bool = typer.Option(False, "--no-prefect", help="run directly, without a Prefect flow run"),
        force: bool = typer.Option(False, "--force", help="recompute even when a version with the same inputs, config and code exists"),
    ) -> None:
        """Train a SentencePiece BPE tokenizer (byte fallback, split digits, chat markers) on a document dataset."""
        from flows.commands._stage_command import run_and_report
        from tasks.ops.tokenizer_training import TokenizerTrainConfig
        from tasks.train_tokenizer import run_train_tokenizer

        cfg = TokenizerTrainConfig(vocab_size=vocab_size, character_coverage=character_coverage,
                                   sample_bytes=sample_bytes, seed=seed)

        def flow_call():
            from flows.tokenizer import train_tokenizer_flow

            return train_tokenizer_flow(input_uri, out, cfg, force=force, return_state=True)

        uri = run_and_report(lambda: run_train_tokenizer(input_uri, out, cfg, force=force), flow_call, no_prefect)
        from model.tokenizer import Tokenizer

        typer.echo(repr(Tokenizer.load(uri)))

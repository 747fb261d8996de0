"""``longterm demo-data OUT``: write the built-in bilingual demo crawl (no Prefect needed).

    longterm demo-data runs/demo-crawl
    longterm demo-data runs/demo-100k --docs 100000 --dumps 3 --seed 0
"""

from __future__ import annotations

import json
import time

import typer


def register(app: typer.Typer) -> None:
    @app.command("demo-data")
    def demo_data(
        out: str = typer.Argument(..., help="output directory (created; a previous demo crawl there is replaced)"),
        docs: int = typer.Option(2000, "--docs", help="number of page records over all dumps (corrupt lines come on top)"),
        dumps: int = typer.Option(3, "--dumps", help="number of crawl dumps (dump-00, dump-01, ...)"),
        seed: int = typer.Option(0, "--seed", help="random seed; the same arguments give byte-identical output"),
        as_json: bool = typer.Option(False, "--json", help="print the full summary as JSON"),
    ) -> None:
        """Generate a deterministic bilingual web crawl (JSONL.gz + WARC) with planted duplicates,
        junk, other languages and corrupt records, plus ground_truth.jsonl for scoring and demo
        alignment data (alignment/sft.jsonl, dpo.jsonl, eval_mc.jsonl) from the same corpus."""
        from tasks.demo_crawl import generate_demo_crawl

        started = time.perf_counter()
        try:
            summary = generate_demo_crawl(out, num_docs=docs, num_dumps=dumps, seed=seed)
        except ValueError as e:
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(2) from e
        if as_json:
            typer.echo(json.dumps(summary, indent=2))
            return
        typer.echo(f"demo crawl written to {summary['out']} in {time.perf_counter() - started:.1f} s")
        typer.echo(f"  records {summary['num_records']} ({summary['num_pages']} pages) in {len(summary['files'])} files"
                   f" ({len(summary['warc_files'])} WARC)")
        typer.echo(f"  by kind {json.dumps(summary['by_kind'])}")
        typer.echo(f"  by lang {json.dumps(summary['by_lang'])}")
        typer.echo(f"  duplicates: {summary['duplicates_cross_dump']} cross-dump, {summary['duplicates_within_dump']} within a dump")
        typer.echo(f"  ground truth {summary['ground_truth']}; see {summary['readme']}")
        al = summary["alignment"]
        typer.echo(f"  alignment data in {summary['out']}/alignment: sft {al['sft']['records']}, dpo {al['dpo']['records']},"
                   f" eval_mc {al['eval_mc']['records']} records (en + zh)")

"""``longterm dedup-index show INDEX`` and ``longterm dedup-index compact INDEX``: the append-only dedup index."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="The append-only dedup index (segments + manifest) that nightly dedup runs append to.")
    app.add_typer(group, name="dedup-index")

    @group.command("show")
    def show(index: str = typer.Argument(..., help="dedup index root (the --index of dedup runs)")) -> None:
        """Print the index manifest: segments, documents and bytes."""
        from dedup.index import read_manifest

        m = read_manifest(index)
        if m is None:
            typer.echo(f"error: {index}: no dedup index here (MANIFEST.json missing)", err=True)
            raise typer.Exit(2)
        typer.echo(f"{index}\n  version {m['version']}, {len(m['segments'])} segment(s), next doc index {m['next_doc_index']:,}")
        for e in m["segments"]:
            typer.echo(f"  {e['name']}: {e['rows']:,} docs, {e['bytes']:,} bytes, runs {len(e['runs'])}")

    @group.command("compact")
    def compact(
        index: str = typer.Argument(..., help="dedup index root (the --index of dedup runs)"),
        wait: float = typer.Option(600.0, "--wait", help="seconds to wait for a run holding the index lock"),
    ) -> None:
        """Merge every segment into one (under the index lock; the old manifest stays valid until the new one is in place)."""
        from dedup.index import compact as compact_index
        from storage import DatasetError

        try:
            m = compact_index(index, wait_s=wait)
        except DatasetError as e:
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(2) from e
        e = m["segments"][0] if m["segments"] else {"rows": 0, "bytes": 0}
        typer.echo(f"{index}: {len(m['segments'])} segment(s), {e['rows']:,} docs, {e['bytes']:,} bytes (version {m['version']})")

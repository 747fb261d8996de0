"""The CLI and flow parameter surface is frozen in tests/surface/surface.json.

A failure here means a ``longterm`` command's options or a Prefect flow's parameters changed (see
tests/surface/surface.py for what counts). If the change is deliberate, regenerate the file and
commit it with the change:

    python -m tests.surface.surface --write
"""

from __future__ import annotations

from tests.surface import surface


def test_surface_is_frozen() -> None:
    expected = surface.SURFACE_JSON.read_text(encoding="utf-8")
    actual = surface.dumps(surface.compute())
    if actual != expected:
        raise AssertionError(
            "the CLI / flow parameter surface changed; if that is deliberate, run "
            "`python -m tests.surface.surface --write` and commit tests/surface/surface.json.\n"
            + surface.diff(expected, actual))


def test_surface_sees_every_command_and_flow() -> None:
    s = surface.compute()
    assert {"filter", "dedup", "pretrain", "sft", "dpo", "eval", "demo"} <= set(s["commands"])
    assert {"filter", "dedup", "data-to-model", "pretrain", "sft", "dpo", "eval", "export-hf"} <= set(s["flows"])
    out = next(p for p in s["commands"]["filter"]["params"] if p["name"] == "out")
    assert out["opts"] == ["--out"] and out["required"] is True
    assert s["flows"]["filter"]["parameters"]["required"] == ["input_uri", "out"]


def test_a_changed_option_shows_as_a_diff() -> None:
    s = surface.compute()
    before = surface.dumps(s)
    params = s["commands"]["filter"]["params"]
    force = next(p for p in params if p["name"] == "force")
    force["opts"] = ["--recompute"]
    d = surface.diff(before, surface.dumps(s))
    changed = [line.replace(" ", "") for line in d.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    assert changed == ['-"--force"', '+"--recompute"'], d

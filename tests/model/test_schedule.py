"""Multi-step and cosine schedules, and their state."""

from __future__ import annotations

import pytest
import torch

from model.schedule import LRSchedule, ScheduleConfig, lr_at


def test_multistep_matches_the_paper() -> None:
    cfg = ScheduleConfig(peak_lr=4.2e-4, total_steps=200_000)
    assert cfg.effective_warmup == 2000
    assert lr_at(cfg, 0) == pytest.approx(4.2e-4 / 2000)
    assert lr_at(cfg, 999) == pytest.approx(4.2e-4 / 2)
    assert lr_at(cfg, 1999) == pytest.approx(4.2e-4)
    assert lr_at(cfg, 159_999) == pytest.approx(4.2e-4)
    assert lr_at(cfg, 160_000) == pytest.approx(4.2e-4 * 0.316)
    assert lr_at(cfg, 179_999) == pytest.approx(4.2e-4 * 0.316)
    assert lr_at(cfg, 180_000) == pytest.approx(4.2e-5)
    assert lr_at(cfg, 199_999) == pytest.approx(4.2e-5)
    assert cfg.first_decay_step == 160_000


def test_short_runs_warm_up_proportionally() -> None:
    cfg = ScheduleConfig(peak_lr=1e-2, total_steps=100)
    assert cfg.effective_warmup == 5
    assert [round(lr_at(cfg, s) / 1e-2, 3) for s in range(6)] == [0.2, 0.4, 0.6, 0.8, 1.0, 1.0]


def test_cosine_ends_at_the_floor_and_is_monotone_after_warmup() -> None:
    cfg = ScheduleConfig(peak_lr=1.0, total_steps=1000, kind="cosine", warmup_steps=10)
    lrs = [lr_at(cfg, s) for s in range(1000)]
    assert lrs[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(lrs[9:], lrs[10:]))
    assert lrs[-1] == pytest.approx(0.1, abs=1e-3)


def test_state_round_trip_and_bad_config() -> None:
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.0)
    a = LRSchedule(ScheduleConfig(peak_lr=1.0, total_steps=50))
    for _ in range(7):
        a.step(opt)
    b = LRSchedule(ScheduleConfig(peak_lr=9.0, total_steps=1))
    b.load_state_dict(a.state_dict())
    assert b.cfg == a.cfg and b.step(opt) == a.step(opt) == opt.param_groups[0]["lr"]
    with pytest.raises(ValueError, match="unknown schedule"):
        ScheduleConfig(peak_lr=1.0, total_steps=5, kind="linear")

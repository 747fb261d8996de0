"""The pretraining stage driver: in-process run, metrics table (the torchrun flags: tests/tasks/test_launch.py)."""

from __future__ import annotations

from model.pretrain import TrainConfig
from tasks.pretrain import metrics_table, run_pretrain
from tests.model.token_fixtures import write_token_dataset


def test_run_pretrain_in_process_returns_the_final_checkpoint(tmp_path) -> None:
    data = write_token_dataset(tmp_path / "tok", n_train_docs=40, n_val_docs=10)
    cfg = TrainConfig(data=data, out=str(tmp_path / "run"), seq_len=32, batch_size=2, steps=4, eval_every=2, eval_batches=1,
                      log_every=2, progress=False, tensorboard=True)
    ckpt = run_pretrain(cfg)
    assert ckpt.endswith("step-00000004")
    rows = metrics_table(cfg.out, max_rows=10)
    assert [r["step"] for r in rows] == [1, 2, 3, 4]
    assert rows[0]["val_loss"] is None and rows[-1]["val_loss"] is not None and rows[-1]["mfu"] == "n/a"
    assert any((tmp_path / "run" / "tb").iterdir())  # TensorBoard event file
    assert run_pretrain(cfg) == ckpt  # a finished run: nothing more to do

"""fit's on_epoch callback, and train and compare printing each epoch's line as it ends."""
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import minispectral
from minispectral.cli import main
from minispectral.train import fit

ROOT = Path(__file__).resolve().parents[1]


def test_on_epoch_is_called_as_each_epoch_ends_with_its_record():
    rng = np.random.default_rng(0)
    x, y = rng.random((60, 5)).astype(np.float32), rng.integers(0, 3, 60)
    net = minispectral.mlp((5, 4, 3), "spectral")
    seen = []

    def on_epoch(e):
        seen.append(e)
        if e["epoch"] == 2:
            raise KeyboardInterrupt  # as Ctrl-C during epoch 3 would: the first two are already out

    with pytest.raises(KeyboardInterrupt):
        fit(net, x, y, epochs=5, batch_size=20, x_val=x[:20], y_val=y[:20], on_epoch=on_epoch)
    assert [e["epoch"] for e in seen] == [1, 2]
    assert {"loss", "train_accuracy", "val_loss", "val_accuracy", "seconds"} <= seen[0].keys()
    history = fit(minispectral.mlp((5, 4, 3), "spectral"), x, y, epochs=3, batch_size=20, on_epoch=seen.append)
    assert seen[2:] == history.epochs  # the same records, in order


class _Recorder:
    """A stdout that logs writes and flushes, to see whether a line was pushed out before the next."""

    def __init__(self):
        self.events = []

    def write(self, text):
        self.events.append(("write", text))
        return len(text)

    def flush(self):
        self.events.append(("flush", None))


@pytest.mark.parametrize("command", [["train", "--model", "nc"], ["compare", "--models", "dense,nc"]])
def test_each_epoch_line_is_flushed_before_the_next_epoch_runs(monkeypatch, tmp_path, command):
    out = _Recorder()
    monkeypatch.setattr(sys, "stdout", out)
    args = command + ["--hidden", "8", "--epochs", "2", "--seed", "1"]
    if command[0] == "compare":
        args += ["--figure", str(tmp_path / "f.png")]
    assert main(args) == 0
    events = out.events
    epoch_writes = [i for i, (kind, text) in enumerate(events) if kind == "write" and "epoch " in text]
    assert len(epoch_writes) == 2 * (1 if command[0] == "train" else 2)
    for i in epoch_writes:  # a flush follows each epoch line before anything else is written
        following = [kind for kind, text in events[i + 1:] if kind == "flush" or text.strip()]
        assert following and following[0] == "flush", events[i:i + 3]


def test_a_piped_train_shows_its_first_epoch_while_it_runs_and_keeps_it_after_ctrl_c():
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "minispectral", "train", "--hidden", "8", "--epochs", "100000"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    lines = []

    def read():
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("epoch"):
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout=120)  # an epoch of digits takes well under a second; a buffered line never comes
    try:
        assert any(line.startswith("epoch   1") for line in lines), lines
        assert proc.poll() is None  # seen while the run goes on
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 130 and "interrupted" in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()

"""A study's runs on a Dask cluster (``--scheduler``), and the workers of ``--jobs`` after a SIGKILL.

The cluster is a ``LocalCluster`` of two worker processes on this machine: the same scheduler
protocol as a real cluster, nothing beyond 127.0.0.1.
"""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from minispectral.cli import main
from minispectral.experiment import RunFailed, WorkerLost
from minispectral.reproduce import load_records, run_study
from minispectral.reproduce.common import Study

distributed = pytest.importorskip("distributed", reason="the 'cluster' extra (dask[distributed]) is not installed")


class Probe(Study):
    """Tiny runs that say where they ran; one of them can kill its worker (``kill`` names a marker file)."""

    name = "probe"
    RECORD_KEYS = ("pid",)

    def runs(self):
        return [{"run_id": f"probe/{i}", "seed": i} for i in range(self.settings["seeds"])]

    def train(self, spec):
        marker = self.settings.get("kill")
        if marker and spec["seed"] == 2 and os.path.exists(marker):
            os.remove(marker)  # the next try of this run, on a fresh worker, succeeds
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(0.05)
        return {"study": self.name, "run_id": spec["run_id"], "seed": spec["seed"], "model": "probe",
                "dataset": "none", "hidden": [], "trainable_parameters": 1, "test_accuracy": spec["seed"] / 10,
                "epoch_seconds": [0.0], "history": [{}], "pid": os.getpid()}

    def cost(self, spec, step_seconds):
        return 0.0, 0.0

    def report(self, records, out_dir, missing):
        return []


def probe(seeds=4, **extra):
    return Probe({"seeds": seeds, "quick": True, "data_dir": None, **extra})


@pytest.fixture(scope="module")
def cluster():
    """Two single-threaded worker processes; a task may meet no worker death (allowed-failures 0)."""
    import dask

    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                      protocol="tcp", host="127.0.0.1") as local:
            yield local


def test_the_runs_train_on_the_workers_and_the_records_come_back_here(cluster, tmp_path):
    assert run_study(probe(), tmp_path, scheduler=cluster.scheduler_address, echo=lambda _: None) == 4
    records = load_records(tmp_path / "runs.jsonl")
    assert sorted(r["run_id"] for r in records) == [f"probe/{i}" for i in range(4)]
    assert os.getpid() not in {r["pid"] for r in records}  # trained elsewhere, recorded here
    invocation = json.loads((tmp_path / "run.json").read_text())["invocations"][0]
    assert invocation["scheduler"] == cluster.scheduler_address
    assert invocation["command"].endswith(f"--scheduler {cluster.scheduler_address}")
    assert "on the Dask cluster at" in (tmp_path / "RUN.md").read_text()
    assert run_study(probe(), tmp_path, scheduler=cluster.scheduler_address, echo=lambda _: None) == 0


def test_a_killed_worker_leaves_no_partial_record_and_a_rerun_resumes(cluster, tmp_path):
    marker = tmp_path / "kill-once"
    marker.write_text("")
    out = tmp_path / "out"
    # probe/2 kills its worker; a run queued on the same worker may be the one named (it died there too)
    with pytest.raises(RunFailed, match=r"run probe/\d failed: WorkerLost") as failure:
        run_study(probe(seeds=6, kill=str(marker)), out, scheduler=cluster.scheduler_address, echo=lambda _: None)
    assert isinstance(failure.value.error, WorkerLost)
    lines = (out / "runs.jsonl").read_text().splitlines() if (out / "runs.jsonl").exists() else []
    kept = [json.loads(line) for line in lines]  # every line a whole record
    assert "probe/2" not in {r["run_id"] for r in kept}
    assert json.loads((out / "run.json").read_text())["invocations"][0]["finished"] is False
    trained = run_study(probe(seeds=6, kill=str(marker)), out, scheduler=cluster.scheduler_address,
                        echo=lambda _: None)
    assert trained == 6 - len(kept)  # only the missing runs, probe/2 among them
    assert sorted(r["run_id"] for r in load_records(out / "runs.jsonl")) == [f"probe/{i}" for i in range(6)]


def test_the_command_line_takes_a_scheduler_and_refuses_it_with_jobs(cluster, tmp_path, capsys):
    out = tmp_path / "params"
    argv = ["reproduce", "params", "--quick", "--datasets", "digits", "--widths", "8", "--models", "nc",
            "--seeds", "2", "--out", str(out)]
    assert main([*argv, "--scheduler", cluster.scheduler_address]) == 0
    assert len(load_records(out / "runs.jsonl")) == 2 and (out / "table.md").is_file()
    assert main([*argv, "--scheduler", cluster.scheduler_address, "--jobs", "2"]) == 1
    assert "give --jobs (2) or --scheduler, not both" in capsys.readouterr().err


def test_an_unreachable_scheduler_is_one_clear_error():
    from minispectral.reproduce.cluster import connect

    start = time.perf_counter()
    with pytest.raises(ValueError, match="cannot reach the Dask scheduler at 'tcp://127.0.0.1:9'"):
        connect("tcp://127.0.0.1:9", timeout=1)
    assert time.perf_counter() - start < 30


# ------------------------------------------------------------------ --jobs workers after a SIGKILL

SLOW_STUDY = textwrap.dedent('''
    import os, sys, time
    from minispectral.reproduce.common import Study, run_study

    class Slow(Study):
        name = "slow"

        def runs(self):
            return [{"run_id": f"slow/{i}", "seed": i} for i in range(2)]

        def train(self, spec):
            with open(os.path.join(sys.argv[1], f"worker-{os.getpid()}"), "w"):
                pass
            time.sleep(120)  # far longer than the test waits

        def cost(self, spec, step_seconds):
            return 0.0, 0.0

        def report(self, records, out_dir, missing):
            return []

    if __name__ == "__main__":
        run_study(Slow({"seeds": 2, "quick": True, "data_dir": None}), sys.argv[2], jobs=2, echo=lambda _: None)
''')


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (dead, not yet reaped) counts as gone
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc to see a process die")
def test_jobs_workers_end_when_the_study_is_killed(tmp_path):
    script = tmp_path / "slow_study.py"
    script.write_text(SLOW_STUDY)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1]),
                                                        os.environ.get("PYTHONPATH", "")])}
    parent = subprocess.Popen([sys.executable, str(script), str(tmp_path), str(tmp_path / "out")], env=env)
    try:
        deadline = time.time() + 60
        while len(list(tmp_path.glob("worker-*"))) < 2 and time.time() < deadline:
            time.sleep(0.1)
        workers = [int(p.name.split("-")[1]) for p in tmp_path.glob("worker-*")]
        assert len(workers) == 2, "the two workers did not start their runs"
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.time() + 10
        while any(_alive(pid) for pid in workers) and time.time() < deadline:
            time.sleep(0.1)
        assert not any(_alive(pid) for pid in workers), "workers still training after their study was killed"
    finally:
        parent.kill()
        for p in tmp_path.glob("worker-*"):
            try:
                os.kill(int(p.name.split("-")[1]), signal.SIGKILL)
            except ProcessLookupError:
                pass

"""keep_freed_memory: freed arrays stay in the process (glibc), and the tools that train call it."""
import importlib.util
import json
import platform
import subprocess
import sys
from pathlib import Path

import pytest

import minispectral.cli
from minispectral.allocator import MAX_MMAP_THRESHOLD, keep_freed_memory

GLIBC = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"

# A fresh process frees a touched 8 MB array and reports how much its resident set shrank.
PROBE = """
import sys
import numpy as np
from minispectral.allocator import keep_freed_memory
def rss():
    return int(open("/proc/self/statm").read().split()[1]) * 4096
took = keep_freed_memory() if sys.argv[1] == "keep" else None
a = np.ones(2_000_000, dtype=np.float32)
before = rss()
del a
print(took, before - rss())
"""


def _probe(mode: str) -> tuple[str, int]:
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True).stdout
    took, shrank = out.split()
    return took, int(shrank)


@pytest.mark.skipif(not GLIBC, reason="the setting exists only in glibc's malloc (Linux)")
def test_freed_arrays_stay_in_the_process_for_the_next_step():
    took, shrank = _probe("default")
    assert took == "None" and shrank >= 7_000_000  # by default glibc gives the 8 MB back at once
    took, shrank = _probe("keep")
    assert took == "True" and shrank < 1_000_000  # kept for reuse: the next step touches no fresh page


def test_elsewhere_it_changes_nothing_and_says_so(monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    assert keep_freed_memory() is False


@pytest.mark.parametrize("bad", [0, -1, MAX_MMAP_THRESHOLD + 1, 1.5, "32M"])
def test_a_bad_threshold_is_refused(bad):
    with pytest.raises(ValueError, match="mmap_threshold must be an int"):
        keep_freed_memory(bad)


def test_the_command_line_tool_keeps_freed_memory(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(minispectral.cli, "keep_freed_memory", lambda: calls.append(True) or True)
    assert minispectral.cli.main(["train", "--model", "nc", "--hidden", "8", "--epochs", "1",
                                  "--json", str(tmp_path / "run.json")]) == 0
    assert calls == [True]


def test_the_allocator_benchmark_compares_fresh_processes(tmp_path):
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_allocator.py"
    spec = importlib.util.spec_from_file_location("bench_allocator", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    with pytest.raises(SystemExit):
        bench.main(["--repeats", "0"])
    out = tmp_path / "alloc.json"
    result = bench.main(["--repeats", "1", "--out", str(out)])
    assert json.loads(out.read_text()) == result
    assert [r["keep_freed_memory"] for r in result["runs"]["default"]] == [False]
    assert [r["keep_freed_memory"] for r in result["runs"]["keep"]] == [GLIBC]
    for r in result["runs"]["default"] + result["runs"]["keep"]:
        assert r["dy_at_W_us"] > 0 and r["dense_epoch_s"] > 0

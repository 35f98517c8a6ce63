"""The command line: train, compare, and the exit codes users script against."""
import json
import os
import socket
import subprocess
import sys

import pytest

from minispectral.cli import main

REQUIRED_KEYS = {"model", "dataset", "hidden", "trainable_parameters", "test_accuracy", "epoch_seconds", "history"}


def test_train_writes_json_record_and_model(tmp_path, capsys):
    out, model_path = tmp_path / "run.json", tmp_path / "model.npz"
    code = main(["train", "--model", "spectral", "--hidden", "32", "--epochs", "3", "--seed", "1",
                 "--json", str(out), "--save", str(model_path)])
    assert code == 0
    record = json.loads(out.read_text())
    assert REQUIRED_KEYS <= record.keys()
    assert record["model"] == "spectral" and record["dataset"] == "digits" and record["hidden"] == [32]
    assert record["trainable_parameters"] == (64 + 32) + (32 + 10) + (32 + 10)  # two eigenvalue sets + biases
    assert len(record["epoch_seconds"]) == len(record["history"]) == 3
    assert 0.0 <= record["test_accuracy"] <= 1.0
    assert "test accuracy" in capsys.readouterr().out

    from minispectral.datasets import load_digits
    from minispectral.io import load
    from minispectral.train import evaluate

    data = load_digits()
    assert evaluate(load(model_path), data.x_test, data.y_test)[1] == pytest.approx(record["test_accuracy"])


def test_train_two_hidden_layers_and_early_stopping(tmp_path, capsys):
    out = tmp_path / "run.json"
    assert main(["train", "--model", "dense", "--hidden", "16,8", "--activation", "tanh", "--epochs", "40",
                 "--val-split", "0.2", "--early-stopping", "2", "--json", str(out)]) == 0
    record = json.loads(out.read_text())
    first = record["history"][0]
    assert f"val loss {first['val_loss']:.4f}  val acc {first['val_accuracy']:.4f}" in capsys.readouterr().out
    assert record["hidden"] == [16, 8]
    assert all(e["val_accuracy"] is not None for e in record["history"])
    assert record["stopped_early"] is True and record["epochs_run"] < 40  # it fires on this seed
    val = [e["val_accuracy"] for e in record["history"]]
    assert max(val[-2:]) <= max(val[:-2])  # the last two epochs (the patience) gained nothing


def test_same_seed_same_numbers(tmp_path):
    runs = []
    for name in ("a", "b"):
        out = tmp_path / f"{name}.json"
        assert main(["train", "--model", "qr", "--hidden", "16", "--epochs", "2", "--seed", "7",
                     "--json", str(out)]) == 0
        runs.append(json.loads(out.read_text()))
    strip = lambda r: [(e["loss"], e["train_accuracy"]) for e in r["history"]]  # noqa: E731
    assert strip(runs[0]) == strip(runs[1])
    assert runs[0]["test_accuracy"] == runs[1]["test_accuracy"]


def test_compare_prints_table_writes_figure_and_json(tmp_path, capsys):
    figure, out = tmp_path / "cmp.png", tmp_path / "cmp.json"
    assert main(["compare", "--models", "dense,nc,spectral", "--hidden", "16", "--epochs", "2",
                 "--figure", str(figure), "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "ratio to dense" in text and "s/epoch" in text
    records = json.loads(out.read_text())
    assert [r["model"] for r in records] == ["dense", "nc", "spectral"]
    assert all(REQUIRED_KEYS <= r.keys() for r in records)
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    dense = records[0]["trainable_parameters"]
    assert f"{records[1]['trainable_parameters'] / dense:.4f}" in text


def test_compare_figure_names_every_model_in_a_legend(tmp_path, monkeypatch):
    # labels printed beside the points overlapped (dense and full sit at nearly the same place)
    import minispectral.cli as cli

    figures = []
    monkeypatch.setattr(cli, "save_figure", lambda fig, path: figures.append(fig) or path)
    records = [{"model": m, "trainable_parameters": n, "test_accuracy": a}
               for m, n, a in [("dense", 7510, 0.98), ("full", 7784, 0.97), ("nc", 220, 0.71)]]
    cli.plot_compare(records, tmp_path / "c.png", "title")
    import matplotlib.pyplot as plt

    plt.close(figures[0])  # save_figure, replaced here, would have closed it
    (ax,) = figures[0].axes
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["dense", "full", "nc"]
    assert not ax.texts  # no labels beside the points
    low, high = ax.get_xlim()
    ticks = [t.get_text() for t in ax.get_xticklabels() if low <= t.get_position()[0] <= high]
    assert len(ticks) >= 3 and "1k" in ticks  # more than one labelled tick on a short log axis
    wide = [{**r, "trainable_parameters": n} for r, n in zip(records, (79_510, 80_504, 220))]
    figures.clear()
    cli.plot_compare(wide, tmp_path / "c.png", "title")  # MNIST's counts: 50,000 and 100,000 used to touch
    plt.close(figures[0])
    (ax,) = figures[0].axes
    low, high = ax.get_xlim()
    assert {"50k", "100k"} <= {t.get_text() for t in ax.get_xticklabels() if low <= t.get_position()[0] <= high}


@pytest.mark.parametrize("argv", [
    ["train", "--model", "transformer"],
    ["train", "--hidden", "ten"],
    ["train", "--hidden", "0"],
    ["train", "--epochs", "-3"],
    ["train", "--lr", "nan"],
    ["train", "--val-split", "1.5"],
    ["train", "--early-stopping", "3"],          # needs --val-split
    ["train", "--backend", "tpu"],
    ["train", "--seed", "-1"],
    ["compare", "--figure", "plot.xyz"],         # refused before any training
    ["compare", "--models", "dense,bogus"],
    ["frobnicate"],
])
def test_bad_arguments_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert "error" in capsys.readouterr().err


def test_bad_seed_and_figure_are_usage_errors_naming_the_option(capsys):
    for argv, named in ((["train", "--seed", "-1"], "--seed: expected a non-negative integer, got '-1'"),
                        (["compare", "--figure", "plot.xyz"], "--figure: expected a figure file ending in one of")):
        with pytest.raises(SystemExit):
            main(argv)
        assert named in capsys.readouterr().err


def test_compare_writes_the_json_even_when_the_figure_fails(tmp_path, monkeypatch):
    import minispectral.cli as cli

    def broken_plot(*args, **kwargs):
        raise OSError("no space left for the figure")

    monkeypatch.setattr(cli, "plot_compare", broken_plot)
    out = tmp_path / "cmp.json"
    assert main(["compare", "--models", "dense", "--hidden", "8", "--epochs", "1", "--json", str(out)]) == 1
    assert [r["model"] for r in json.loads(out.read_text())] == ["dense"]


def test_a_failed_figure_write_leaves_no_partial_file(tmp_path):
    from minispectral.experiment import save_figure

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = tmp_path / "f.png"
    path.write_bytes(b"old figure")
    fig = plt.figure()
    fig.add_subplot().plot([0, 1])
    with pytest.raises(ValueError):
        save_figure(fig, tmp_path / "f.nonsense")  # matplotlib refuses the format mid-write
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.png"]
    save_figure(plt.figure(), path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not plt.get_fignums()  # both figures were closed


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_missing_dataset_is_an_error_without_traceback_exit_1(tmp_path, monkeypatch):
    """No files and an unreachable mirror (loopback, closed port): exit 1, no traceback, and the
    message's own lines kept (squeezed onto one, its instructions ran to ~700 characters)."""
    env = {"MINISPECTRAL_MIRROR": f"http://127.0.0.1:{_closed_port()}/", "MINISPECTRAL_DATA": str(tmp_path),
           "XDG_CACHE_HOME": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin",
           "OPENBLAS_NUM_THREADS": "1"}  # no note about a busy machine before the error
    (tmp_path / "empty").mkdir()
    proc = subprocess.run([sys.executable, "-m", "minispectral", "train", "--dataset", "mnist",
                           "--data-dir", str(tmp_path / "empty")], capture_output=True, text=True, env=env,
                          timeout=120)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("minispectral: error: could not download mnist/")
    lines = proc.stderr.splitlines()
    assert any(line.startswith("To install it by hand") for line in lines) and "SHA-256" in proc.stderr
    assert "4 of them are not on this machine" in proc.stderr  # all of them, not the first alone


def test_cupy_backend_unavailable_exit_1(capsys, no_cupy):
    assert main(["train", "--backend", "cupy", "--epochs", "1"]) == 1
    err = capsys.readouterr().err
    assert "cupy" in err.lower() and err.count("\n") == 1


def test_the_environment_chooses_the_backend_of_train_and_the_studies(tmp_path, monkeypatch, capsys):
    import minispectral.backend as backend_module

    monkeypatch.setenv("MINISPECTRAL_BACKEND", "strict")
    monkeypatch.setattr(backend_module, "_base", None)  # the current backend is read from the environment again
    out = tmp_path / "r.json"
    assert main(["train", "--hidden", "8", "--epochs", "1", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["backend"] == "strict"
    assert main(["train", "--hidden", "8", "--epochs", "1", "--backend", "numpy", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["backend"] == "numpy"  # the option wins over the environment
    # the studies' time estimate builds its network on the same backend as the runs (it used to crash)
    assert main(["reproduce", "params", "--quick", "--datasets", "digits", "--plan", "--out", str(tmp_path / "p")]) == 0
    assert "24 to train" in capsys.readouterr().out


def test_output_paths_are_checked_before_training(tmp_path, capsys, monkeypatch):
    import minispectral.cli as cli

    monkeypatch.setattr(cli, "run", lambda *a, **k: pytest.fail("trained before checking the output paths"))
    (tmp_path / "a_file").write_text("")
    cases = [(["train", "--save", str(tmp_path)], "--save: expected a file, got the folder"),
             (["train", "--json", ""], "--json: expected a file path, got ''"),
             (["train", "--json", str(tmp_path / "a_file" / "out.json")], "is not a folder"),
             (["compare", "--figure", str(tmp_path / "f.png"), "--json", str(tmp_path / "f.png")],
              "--json and --figure name the same file"),
             (["train", "--save", str(tmp_path / "m.out"), "--json", str(tmp_path / "." / "m.out")],
              "--save and --json name the same file"),
             (["reproduce", "params", "--out", str(tmp_path / "a_file"), "--plan"], "--out: expected a folder, got the file")]
    for argv, message in cases:
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2 and message in capsys.readouterr().err, argv


def test_train_prints_its_results_before_a_failing_save(tmp_path, capsys, monkeypatch):
    import minispectral.io

    def full_disk(*args, **kwargs):
        raise OSError("no space left on device")

    monkeypatch.setattr(minispectral.io, "save", full_disk)
    out = tmp_path / "run.json"
    assert main(["train", "--hidden", "8", "--epochs", "1", "--json", str(out), "--save", str(tmp_path / "m.npz")]) == 1
    assert "test accuracy" in capsys.readouterr().out and json.loads(out.read_text())["model"] == "spectral"


def test_model_lists_and_late_usage_errors_name_the_subcommand(capsys):
    for argv, message in ((["compare", "--models", "dense,dense"], "dense named twice"),
                          (["compare", "--models", ""], "got ''"),
                          (["train", "--early-stopping", "3"], "--early-stopping needs a validation set")):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        err = capsys.readouterr().err
        assert exc.value.code == 2 and message in err and f"usage: minispectral {argv[0]}" in err, err


def test_a_diverging_run_is_one_error_line_without_numpy_warnings():
    # in a subprocess: pytest would capture the warnings that a user sees on stderr
    done = subprocess.run([sys.executable, "-m", "minispectral", "train", "--hidden", "8", "--epochs", "2",
                           "--lr", "1e30"], capture_output=True, text=True,
                          env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})  # no note about a busy machine
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "loss is" in done.stderr and "Warning" not in done.stderr, done.stderr


# ---------------------------------------------------------------- rough edges a new user meets

def test_compare_checks_its_default_figure_path_before_training(monkeypatch, capsys):
    """compare.png in a folder that takes no files: refused at once, not after every model trained."""
    import minispectral.cli as cli

    monkeypatch.setattr(cli, "run", lambda *a, **k: pytest.fail("trained before checking compare.png"))
    monkeypatch.chdir("/proc")  # refuses new files, even to root
    with pytest.raises(SystemExit) as exc:
        main(["compare", "--models", "dense", "--epochs", "1"])
    assert exc.value.code == 2 and "--figure: cannot write 'compare.png'" in capsys.readouterr().err


@pytest.mark.parametrize("flag", ["--json", "--save"])
def test_an_output_folder_that_refuses_files_is_refused_before_training_even_to_root(flag, monkeypatch, capsys):
    """os.access says yes to root everywhere; a real file in the folder says what will happen."""
    import minispectral.cli as cli

    monkeypatch.setattr(cli, "run", lambda *a, **k: pytest.fail("trained before checking the output path"))
    with pytest.raises(SystemExit) as exc:
        main(["train", flag, "/proc/out.file"])
    assert exc.value.code == 2 and "/proc does not accept new files" in capsys.readouterr().err


def test_version(capsys):
    import minispectral

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0 and capsys.readouterr().out.strip() == f"minispectral {minispectral.__version__}"


@pytest.mark.parametrize("command", ["train", "compare"])
def test_help_shows_the_defaults_and_says_what_each_model_is(command, capsys):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for default in ("default: relu", "default: adamax", "(default: 0)", "(default: 0, none)"):
        assert default in text, default
    if command == "train":
        assert "default: spectral" in text
    for model, meaning in (("nc", "one eigenvalue set"), ("spectral", "two eigenvalue sets"), ("full", "phi trained"),
                           ("ssvd", "phi = U diag(s) V"), ("qr", "phi = R Q")):
        assert f"{model} {meaning}" in text, model


@pytest.mark.parametrize("command", [["train", "--dataset", "mnist"], ["evaluate", "m.npz"],
                                     ["reproduce", "params", "--plan"]])
def test_data_dir_errors_name_the_option(command, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MINISPECTRAL_DATA", str(tmp_path))  # where the files could be found instead
    for value, message in (("", "--data-dir: expected a folder holding mnist/ or fashion-mnist/, got ''"),
                           (str(tmp_path / "typo"), "--data-dir: expected an existing folder")):
        with pytest.raises(SystemExit) as exc:
            main([*command, "--data-dir", value])
        err = capsys.readouterr().err
        assert exc.value.code == 2 and message in err and "data_dir must" not in err


def test_a_write_error_names_the_path_once(tmp_path, monkeypatch, capsys):
    import errno
    import tempfile

    def refused(**kw):
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path / ".r.json.x.tmp"))

    monkeypatch.setattr(tempfile, "mkstemp", refused)  # after the early check, which makes its own file
    out = tmp_path / "r.json"
    assert main(["train", "--hidden", "4", "--epochs", "1", "--json", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.strip() == f"minispectral: error: cannot write {out}: Permission denied"


def test_train_full_r(tmp_path, capsys):
    records = {}
    for name, extra in (("triangular", []), ("full", ["--full-r"])):
        out = tmp_path / f"{name}.json"
        assert main(["train", "--model", "qr", "--hidden", "8", "--epochs", "1", "--json", str(out), *extra]) == 0
        records[name] = json.loads(out.read_text())
    assert records["full"]["layer_kw"] == {"triangular": False} and records["triangular"]["layer_kw"] == {}
    # R of the 64 -> 8 layer is 8 x 8: 36 entries lower-triangular, 64 in full; the 8 -> 10 layer's 8 x 8 likewise
    assert records["full"]["trainable_parameters"] - records["triangular"]["trainable_parameters"] == 2 * (64 - 36)
    with pytest.raises(SystemExit) as exc:
        main(["train", "--model", "spectral", "--full-r"])
    assert exc.value.code == 2 and "--full-r" in capsys.readouterr().err


def test_evaluate_a_saved_model(tmp_path, capsys):
    model, record = tmp_path / "m.npz", tmp_path / "r.json"
    assert main(["train", "--hidden", "16", "--epochs", "2", "--save", str(model), "--json", str(record)]) == 0
    capsys.readouterr()
    out = tmp_path / "eval.json"
    assert main(["evaluate", str(model), "--json", str(out)]) == 0  # the dataset comes from the file
    result = json.loads(out.read_text())
    assert result["dataset"] == "digits"
    assert result["test_accuracy"] == pytest.approx(json.loads(record.read_text())["test_accuracy"])
    assert f"accuracy {result['test_accuracy']:.4f}" in capsys.readouterr().out
    assert main(["evaluate", str(model), "--dataset", "mnist"]) == 1  # 64 inputs against 784 features
    assert "pass the --dataset it was trained on" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path / "none.npz")]) == 1


def test_a_busy_machine_gets_the_blas_threads_advice(monkeypatch, capsys):
    import minispectral.cli as cli
    from conftest import BLAS_THREAD_ADVICE

    monkeypatch.setattr(cli, "blas_thread_advice", BLAS_THREAD_ADVICE)
    for name in cli.BLAS_THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(cli.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(cli.os, "getloadavg", lambda: (1.9, 1.5, 1.0))
    assert main(["train", "--hidden", "4", "--epochs", "1"]) == 0
    assert "note: other processes keep this machine busy (load 1.9 on 2 cores); set OPENBLAS_NUM_THREADS=1" in \
        capsys.readouterr().err
    monkeypatch.setattr(cli.os, "getloadavg", lambda: (0.2, 0.2, 0.2))  # idle: nothing to say
    assert main(["train", "--hidden", "4", "--epochs", "1"]) == 0
    assert "OPENBLAS" not in capsys.readouterr().err
    monkeypatch.setattr(cli.os, "getloadavg", lambda: (1.9, 1.5, 1.0))
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")  # already set: nothing to say
    assert main(["train", "--hidden", "4", "--epochs", "1"]) == 0
    assert "OPENBLAS" not in capsys.readouterr().err

"""python -m minispectral.gpucheck, run on the CuPy stand-in at toy sizes (its GPU figures mean nothing there)."""
import json

import pytest

from minispectral import gpucheck

pytestmark = pytest.mark.gpu


def test_gpucheck_writes_one_report_with_the_probe_and_the_fit_timings(standin, tmp_path):
    code = gpucheck.main(["--standin", "--parts", "fit,torch,selection", "--out", str(tmp_path)])
    assert code == 0
    report = json.loads((tmp_path / "gpu-report-standin.json").read_text())
    assert report["parts"]["probe"] == {"available": True, "reason": ""}
    assert report["parts"]["versions"]["cupy"] == standin.__version__
    fits = report["parts"]["fit"]
    assert "error" not in fits, fits
    assert set(fits["cupy"]) == set(fits["numpy"]) == {"dense", "spectral", "nc", "qr"}
    assert all(row["ms_per_step"] > 0 for row in fits["cupy"].values())
    assert report["parts"]["torch"] == {"skipped": "the stand-in has no PyTorch counterpart", "seconds": 0.0}
    selection = report["parts"]["selection"]
    assert "error" not in selection and len(selection["rows"]) == 4
    assert "gpu_tests" not in report["parts"] and report["total_seconds"] < 60
    text = (tmp_path / "gpu-report-standin.md").read_text()
    assert "| dense |" in text and "--parts fit,torch,selection" in text


def test_gpucheck_without_a_gpu_reports_the_reason_and_fails(no_cupy, tmp_path):
    code = gpucheck.main(["--out", str(tmp_path)])
    report = json.loads((tmp_path / "gpu-report.json").read_text())
    assert code == 1 and report["parts"]["probe"]["available"] is False
    assert "not installed" in report["parts"]["probe"]["reason"] and set(report["parts"]) == {"versions", "probe"}


def test_gpucheck_refuses_an_unknown_part(capsys):
    with pytest.raises(SystemExit):
        gpucheck.main(["--parts", "fit,bogus"])
    assert "unknown bogus" in capsys.readouterr().err

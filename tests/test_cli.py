"""The `adskit` command: experiments over seeds through the sweep path, the report command, errors."""

import json
import os
import subprocess
import sys

import pytest

from adskit.cli import EXPERIMENTS, build_parser, config_from_args, main, seeds_from_args

TINY_VERIFY = ["--n-updates", "30", "--no-progress", "--device", "cpu", "--workers", "0"]
CELL_KEYS = {"experiment", "machine", "model", "cost", "condition", "metric", "mean", "ci_low", "ci_high", "n_seeds"}
COMP_KEYS = {"experiment", "machine", "model", "condition", "metric", "a", "b", "mean_diff", "ci_low", "ci_high"}


def test_verify_over_seeds_writes_summary_of_the_documented_shape(tmp_path, capsys):
    rc = main(["verify", "--out", str(tmp_path), "--seeds", "0", "1", "2", *TINY_VERIFY])
    assert rc == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["seeds"] == [0, 1, 2] and summary["runs"] == 9
    for c in summary["cells"]:
        assert CELL_KEYS <= set(c) and c["n_seeds"] == 3 and c["ci_low"] <= c["mean"] <= c["ci_high"]
    assert {(c["a"], c["b"], c["metric"]) for c in summary["comparisons"]} == {
        ("BU", "SNP", "kl_uniform"),
        ("SNP", "RE", "kl_uniform"),
        ("SNP", "RE", "kl_p"),
        ("BU", "RE", "kl_uniform"),
        ("SNP", "BU", "kl_p"),
    }
    for c in summary["comparisons"]:
        assert COMP_KEYS | {"n_seeds", "verdict"} <= set(c) and c["n_seeds"] == 3
        assert c["verdict"] in ("reproduced", "reversed", "no difference detected")
    out = capsys.readouterr().out
    assert "over 3 seeds" in out and "widest 95 % interval" in out
    for f in ("summary.md", "verify_cells.png", "verify_comparisons.png", "verify_fig2_q.png"):
        assert (tmp_path / f).stat().st_size > 500


def test_report_command_aggregates_folders_and_sweep_resumes(tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    assert main(["verify", "--out", str(a), "--seeds", "0", "--costs", "RE", "BU", *TINY_VERIFY]) == 0
    assert main(["sweep", "verify", "--out", str(b), "--seeds", "1", "--costs", "RE", "BU", *TINY_VERIFY]) == 0
    capsys.readouterr()
    # the same sweep again: every run is complete, nothing is executed
    assert main(["sweep", "verify", "--out", str(b), "--seeds", "1", "--costs", "RE", "BU", *TINY_VERIFY]) == 0
    assert "0 executed, 2 already complete" in capsys.readouterr().err  # what the command does: stderr
    assert main(["report", str(a), str(b), "--out", str(tmp_path / "both")]) == 0
    summary = json.loads((tmp_path / "both" / "summary.json").read_text())
    assert summary["seeds"] == [0, 1] and all(c["n_seeds"] == 2 for c in summary["cells"])


def test_seeds_and_modes():
    p = build_parser()
    assert seeds_from_args(p.parse_args(["sound", "--out", "x"])) == [0, 1, 2]
    assert seeds_from_args(p.parse_args(["sound", "--out", "x", "--full"])) == [0, 1, 2, 3, 4]
    assert seeds_from_args(p.parse_args(["np", "--out", "x", "--seeds", "4", "4", "7"])) == [4, 7]
    assert seeds_from_args(p.parse_args(["verify", "--out", "x", "--seed", "3"])) == [3]
    cfg = config_from_args("sound", p.parse_args(["sound", "--out", "x", "--n-updates", "7", "--anr", "-5"]))
    assert cfg.n_updates == 7 and cfg.anr_db == (-5.0,) and cfg.models == ("fcn40-small", "fcn64-small")
    full = config_from_args("sound", p.parse_args(["sweep", "sound", "--out", "x", "--full"]))
    assert full.n_updates is None and len(full.models) == 4


def test_bad_argument_is_a_clear_error(tmp_path, capsys):
    rc = main(["verify", "--out", str(tmp_path), "--h", "-1", "--n-updates", "5", "--workers", "0"])
    assert rc == 2 and "h:" in capsys.readouterr().err
    assert main(["reproduce", "--out", str(tmp_path), "--only", "nonexistent"]) == 2
    assert "unknown step" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["report", str(tmp_path / "empty")]) == 2
    assert "no complete run" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "nosuch"), "--out", str(tmp_path / "r")]) == 2
    assert "no such folder" in capsys.readouterr().err and not (tmp_path / "r").exists()
    with pytest.raises(SystemExit):
        main(["nope"])
    with pytest.raises(SystemExit):  # refused by the parser, before any run or cluster starts
        main(["verify", "--out", str(tmp_path / "v"), "--device", "gpu", "--workers", "0"])
    assert "device: expected" in capsys.readouterr().err and not (tmp_path / "v").exists()


def test_console_script_entry_point():
    r = subprocess.run([sys.executable, "-m", "adskit", "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("adskit ")


def test_every_command_prints_its_help(capsys):
    """Help texts go through %-formatting: a bare percent sign in one breaks `--help` of that command."""
    for argv in (
        ["--help"],
        *[[name, "--help"] for name in EXPERIMENTS],
        ["reproduce", "--help"],
        ["report", "--help"],
    ):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 0, argv
    assert "rarities 0.5, 2, 10 %" in (capsys.readouterr().out)


def test_commands_draw_with_agg_whatever_backend_the_session_selects(tmp_path):
    """A desktop MPLBACKEND (TkAgg, QtAgg...) on a machine without a display must not lose a finished run at the
    figure step: the commands only write files, so they select Agg themselves (case nb05, as a kind)."""
    code = (
        "import matplotlib, sys; from adskit.cli import main; "
        f"rc = main(['report', {str(tmp_path / 'none')!r}]); print(rc, matplotlib.get_backend())"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    for backend in ("TkAgg", "QtAgg"):
        r = subprocess.run(
            [sys.executable, "-c", code], env={**env, "MPLBACKEND": backend}, capture_output=True, text=True
        )
        assert r.stdout.lower().split() == ["2", "agg"], (backend, r.stdout, r.stderr[-500:])


def test_a_failing_figure_never_loses_the_numbers(tmp_path, capsys, monkeypatch):
    """The figures come after the numbers and each is guarded: summary.json, the command's own JSON and Markdown
    are written although every cell figure fails (issue 12, results before figures)."""
    from adskit.experiments import report

    def broken(*args, **kwargs):
        raise ValueError("'yerr' must not contain negative values")

    monkeypatch.setattr(report, "plot_cells", broken)
    assert main(["verify", "--out", str(tmp_path), "--seeds", "0", "--costs", "RE", "BU", *TINY_VERIFY]) == 0
    assert "figures for verify failed: ValueError: 'yerr'" in capsys.readouterr().err
    for name in ("summary.json", "summary.md", "verify.json", "verify.md"):
        assert (tmp_path / name).stat().st_size > 100, name
    assert not (tmp_path / "verify_cells.png").exists()


def test_a_warning_is_one_line_on_stderr_and_the_display_is_restored(tmp_path, capsys, monkeypatch):
    """A library warning raised during a command reads `warning: Category: message`, without a source line."""
    import warnings

    import adskit.cli as cli
    from adskit.kde import BandwidthWarning

    def warn_then_fail(*args, **kwargs):
        warnings.warn("the BU weights are nearly uniform", BandwidthWarning, stacklevel=2)
        raise ValueError("stop here")

    monkeypatch.setattr(cli, "evaluate_model", warn_then_fail)
    before = warnings.showwarning
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        assert main(["evaluate", str(tmp_path), str(tmp_path), "--out", str(tmp_path / "e")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert "warning: BandwidthWarning: the BU weights are nearly uniform" in err
    assert not any(".py:" in line for line in err)  # no file:line of the library
    assert warnings.showwarning is before

"""The files at the top of a result folder: ``<experiment>.json``/``.md`` and ``models/`` (issue 11, faults 1-2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adskit.experiments.outputs import publish_models, write_command_files
from adskit.experiments.report import summary_markdown


def _run(root: Path, key: str, payload: bytes, seed: int = 0, experiment: str = "sound") -> dict:
    folder = root / "runs" / experiment / key
    (folder / "models").mkdir(parents=True)
    (folder / "models" / "m.pt").write_bytes(payload)
    return {"key": key, "_folder": str(folder), "experiment": experiment, "labels": {"seed": seed}}


def test_models_folder_holds_exactly_the_reported_runs(tmp_path):
    a = _run(tmp_path, "user-ae-RE-seed0-aaaa", b"A")
    b = _run(tmp_path, "user-ae-RE-seed0-bbbb", b"B")
    assert publish_models([a], tmp_path) == {a["key"]: [tmp_path / "models" / f"{a['key']}.pt"]}
    publish_models([b], tmp_path)  # b supersedes a: the folder is replaced, a's file stays in its run folder
    assert sorted(p.name for p in (tmp_path / "models").glob("*.pt")) == [f"{b['key']}.pt"]
    assert (tmp_path / "models" / f"{b['key']}.pt").read_bytes() == b"B"
    assert (Path(a["_folder"]) / "models" / "m.pt").read_bytes() == b"A"
    assert not list(tmp_path.glob(".models*"))  # no temporary folder left behind
    publish_models([{"key": "x", "_folder": str(tmp_path / "nothing"), "experiment": "np"}], tmp_path)
    assert not (tmp_path / "models").exists()  # no checkpoint in the report: the kit's folder goes


def test_a_models_folder_the_kit_did_not_make_is_left_alone(tmp_path):
    mine = tmp_path / "models"
    mine.mkdir()
    (mine / "precious.pt").write_bytes(b"user's")
    a = _run(tmp_path, "user-ae-RE-seed0-aaaa", b"A")
    with pytest.warns(UserWarning, match="a folder the kit did not make, left as it is"):
        assert publish_models([a], tmp_path) == {}
    assert [p.name for p in mine.iterdir()] == ["precious.pt"] and (mine / "precious.pt").read_bytes() == b"user's"


def test_command_file_per_experiment(tmp_path):
    results = [
        {**_run(tmp_path, f"user-ae-RE-seed{s}-k{s}", b"x", seed=s), "data": {"user": {"n_train": 6 + s}}}
        for s in (1, 0)
    ]
    results[0]["bad_files"] = [{"path": "/d/a.wav", "role": "test", "reason": "silent"}]
    results[0]["warnings"] = ["PROP's training collapsed"]
    results.append({"key": "np-1", "experiment": "np", "labels": {"seed": 0}, "data": {"n_train_clips": 3}})
    cells = [
        {"experiment": e, "machine": "user", "model": "ae", "cost": "RE", "condition": "test"} for e in ("sound", "np")
    ]
    cells = [
        {**c, "metric": "auc", "mean": 0.9, "ci_low": 0.8, "ci_high": 1.0, "n_seeds": 2, "values": [0.85, 0.95]}
        for c in cells
    ]
    summary = {"cells": cells, "comparisons": [], "seeds": [0, 1], "runs": 3, "interval": "t"}
    failed = [{"run": "sound/user-ae-SNP-seed0-z", "error": "ValueError: x"}]
    files = write_command_files(summary, results, failed, tmp_path, markdown=summary_markdown, skip=("rare",))
    assert set(files) == {"sound_json", "sound_md", "np_json", "np_md"}
    sound = json.loads((tmp_path / "sound.json").read_text())
    assert sound["data"] == {"user": {"n_train": 6}}  # the lowest seed's description
    assert sound["seeds"] == [0, 1] and sound["runs"] == 2 and sound["failed"] == failed
    assert sound["bad_files"] == results[0]["bad_files"] and [c["experiment"] for c in sound["cells"]] == ["sound"]
    assert sound["warnings"] == [{"run": results[0]["key"], "warning": "PROP's training collapsed"}]
    np_ = json.loads((tmp_path / "np.json").read_text())
    assert np_["data"] == {"n_train_clips": 3} and np_["bad_files"] == [] and np_["failed"] == []
    assert "/d/a.wav" in (tmp_path / "sound.md").read_text() and "/d/a.wav" not in (tmp_path / "np.md").read_text()

import json
import os

import numpy as np
import pytest

from avalley import atomic, errors, runtime, verdicts
from avalley.book import record as results


def make_run(profile="smoke"):
    rt = runtime.setup(device="cpu", seed=0, threads=1, quiet=True)
    return results.ChapterRun(chapter="unit", parameters={"profile": profile, "seed": 0},
                              runtime=rt)


def test_results_schema_and_arrays(runs_dir):
    run = make_run()
    run.check("a", "one is less than two", holds=1 < 2, value=1.0, threshold=2.0)
    run.finding("b", "the paper's claim", verdicts.decide(np.array([0.3, 0.2, 0.4]), "below",
                                                          "x minus y"), paper="below 0")
    run.metric("m", np.float32(1.5))
    run.array("curve", np.arange(5))
    run.finish()
    out = runs_dir / "unit" / "smoke"
    data = json.loads((out / "results.json").read_text())
    assert set(data) >= {"chapter", "profile", "parameters", "environment", "claims", "metrics"}
    assert data["chapter"] == "unit" and data["profile"] == "smoke"
    for key in ("python", "torch", "device_name", "git_commit", "start_time", "wall_seconds"):
        assert key in data["environment"]
    assert [c["id"] for c in data["claims"]] == ["a", "b"]
    assert set(data["claims"][0]) == {"id", "kind", "statement", "holds", "value", "threshold",
                                      "section"}
    b = data["claims"][1]
    assert b["holds"] is False and b["verdict"] == "fails" and b["n_units"] == 3
    assert b["rule"] == verdicts.RULE and b["paper"] == "below 0" and len(b["ci"]) == 2
    assert b["ci"][0] > 0 and b["sign_count"] == 0 and data["metrics"]["m"] == 1.5
    assert np.array_equal(np.load(out / "arrays.npz")["curve"], np.arange(5))


def test_failing_check_raises_after_saving(runs_dir):
    run = make_run()
    run.check("bad", "must fail", holds=False, value=0.0, threshold=1.0)
    with pytest.raises(errors.CheckFailed, match="bad"):
        run.finish()
    assert (runs_dir / "unit" / "smoke" / "results.json").exists()   # the numbers are kept


def test_failing_finding_does_not_raise(runs_dir):
    run = make_run()
    run.finding("f", "paper says so", verdicts.decide([0.1, 0.2], "below", "x"))
    run.finding("g", "not measured", verdicts.unmeasurable("y", "networks", "no valley"))
    run.finish()


def test_claim_kind_and_duplicates_are_checked():
    run = make_run()
    with pytest.raises(TypeError, match="Verdict"):
        run.finding("x", "a finding needs a verdict", True)
    run.check("x", "ok", holds=True)
    with pytest.raises(ValueError):
        run.check("x", "again", holds=True)


def test_atomic_write_leaves_old_file_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "results.json"
    atomic.write_json(path, {"v": 1})

    def boom(*a, **k):
        raise OSError("disk full")
    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        atomic.write_json(path, {"v": 2})
    assert json.loads(path.read_text()) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]   # no temp file left


def test_step_resumes_an_interrupted_run_and_finish_clears_it(runs_dir):
    calls = []

    def compute(v):
        calls.append(v)
        return {"scan": np.arange(3) * v}

    run = make_run()
    assert run.step("a", lambda: compute(2))["scan"].tolist() == [0, 2, 4]
    # the run is interrupted here; a rerun with the same parameters skips the finished step
    again = make_run()
    assert again.step("a", lambda: compute(99))["scan"].tolist() == [0, 2, 4]
    assert again.step("b", lambda: compute(3))["scan"].tolist() == [0, 3, 6]
    assert calls == [2, 3]
    other = results.ChapterRun(chapter="unit", parameters={"profile": "smoke", "seed": 1},
                               runtime=again.runtime)
    other.step("a", lambda: compute(5))       # other parameters: computed afresh
    assert calls == [2, 3, 5]
    again.finish()
    assert not (runs_dir / "unit" / "smoke" / "partial").exists()
    make_run().step("a", lambda: compute(7))  # a complete run leaves nothing to resume
    assert calls == [2, 3, 5, 7]


def test_the_claims_table_is_a_formatted_table(runs_dir):
    from avalley.tables import Table
    run = make_run()
    run.check("positive", "the value is positive", holds=True, value=0.5)
    table = run.claims_table()
    assert isinstance(table, Table)
    assert list(table.frame.columns) == ["claim", "kind", "statement", "verdict", "measured"]
    assert table.frame.iloc[0].tolist()[:4] == ["positive", "check", "the value is positive",
                                              "holds"]
    assert isinstance(make_run().claims_table(), Table)     # no claims: an empty table

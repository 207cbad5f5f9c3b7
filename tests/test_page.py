"""What every page shows around its content: banner, rerun box, scoreboard, published files."""
from avalley import verdicts
from avalley.book import page

ENV = {"device_name": "CPU (test)", "git_commit": "abc1234"}


def _results(chapter, claims, profile="quick", env=ENV):
    return {"chapter": chapter, "profile": profile, "environment": env, "claims": claims}


def _finding(id, verdict, section="sec"):
    return {"id": id, "kind": "finding", "statement": f"claim {id} | with a bar",
            "verdict": verdict.verdict, "summary": verdict.describe(), "paper": "higher",
            "section": section}


def test_scoreboard_groups_by_chapter_and_links_sections():
    holds = verdicts.decide([1.0, 1.1, 0.9], "above", "x")
    unclear = verdicts.decide([1.0, -1.0, 0.2], "above", "x")
    board = page.scoreboard({
        "swa": _results("swa", [_finding("a", holds, "swa-table"),
                                {"id": "c", "kind": "check", "statement": "engine = loop",
                                 "holds": True, "value": 1e-7, "threshold": 1e-4}]),
        "bias": _results("bias", [_finding("b", unclear)])})
    assert board["counts"] == {"holds": 1, "fails": 0, "inconclusive": 1}
    assert "profile **quick**" in board["header"] and "`abc1234`" in board["header"]
    f = board["findings"]
    assert f.index("**swa**") < f.index("**bias**") and "{ref}`section <swa-table>`" in f
    assert "claim a \\| with a bar" in f and "**inconclusive**" in f     # pipes escaped
    assert "engine = loop | yes | 1e-07 | 0.0001 |" in board["checks"]
    assert "engine = loop" not in f                                       # checks apart


def test_scoreboard_says_when_runs_differ():
    other = {"device_name": "NVIDIA H200", "git_commit": "def5678"}
    board = page.scoreboard({"a": _results("a", []), "b": _results("b", [], "paper", other)})
    assert "different runs" in board["header"] and "NVIDIA H200" in board["header"]


def test_banner_and_rerun_box():
    p = {"profile": "quick", "seed": 0, "scale": 1.0}
    assert "**quick** profile" in page.banner("swa", p, ENV) and "abc1234" in page.banner(
        "swa", p, ENV)
    assert "scale = 0.01" in page.banner("swa", {**p, "scale": 0.01}, ENV)
    box = page.rerun_box("swa", p, 90.0, "CPU (test)", ["../_static/runs/swa/results.json"],
                         "about 40 GPU-hours")
    assert "-p seed 1" in box and "-p profile paper -p device cuda" in box
    assert "about 40 GPU-hours" in box and 'href="../_static/runs/swa/results.json"' in box
    assert "1.5 minutes" in box


def test_publish_copies_only_inside_a_book_build(tmp_path, monkeypatch):
    f = tmp_path / "results.json"
    f.write_text("{}")
    monkeypatch.delenv(page.SITE_STATIC, raising=False)
    assert page.publish("swa", "quick", [f]) == []
    monkeypatch.setenv(page.SITE_STATIC, str(tmp_path / "_static"))
    assert page.publish("swa", "quick", [f, tmp_path / "absent.npz"]) == [
        "../_static/runs/swa/results.json"]
    assert (tmp_path / "_static" / "runs" / "swa" / "results.json").exists()
    assert page.publish("swa", "smoke", [f]) == []          # the site shows the quick profile

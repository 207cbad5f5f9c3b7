"""Bad input is refused before any compute, with a message naming the valid choices."""
import json

import pytest
import torch

from avalley import cli, params
from avalley.errors import ParameterError


def refused(capsys, *argv):
    assert cli.main(list(argv)) == 2
    return capsys.readouterr().err


def test_list_shows_every_chapter_and_parameters(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    for chapter in params.chapter_ids():
        assert out.count(f"{chapter}  (chapters/") == 1
    assert "profile = 'quick'" in out and "n_shifts = 200000" in out


def test_unknown_chapter(capsys):
    err = refused(capsys, "run", "nosuch")
    assert "Unknown chapter 'nosuch'" in err and "intro" in err


def test_unknown_parameter(capsys):
    err = refused(capsys, "run", "intro", "-p", "learning_rate", "0.1")
    assert "Unknown parameter 'learning_rate'" in err and "n_shifts" in err


def test_wrong_type(capsys):
    err = refused(capsys, "run", "intro", "-p", "n_shifts", "many")
    assert "expects a int" in err and "'many'" in err


def test_unknown_profile(capsys):
    err = refused(capsys, "run", "intro", "-p", "profile", "huge")
    assert "Unknown profile 'huge'" in err and "smoke, quick, paper" in err


def test_unknown_device(capsys):
    err = refused(capsys, "run", "intro", "-p", "device", "tpu")
    assert "Unknown device value 'tpu'" in err and "auto, cpu, cuda, mps" in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_on_a_machine_without_cuda(capsys):
    err = refused(capsys, "run", "intro", "-p", "device", "cuda")
    assert "no usable CUDA" in err


def test_refusal_happens_before_any_compute(runs_dir, capsys):
    refused(capsys, "run", "intro", "-p", "profile", "huge")
    assert not runs_dir.exists()                 # nothing was executed or written


def test_in_notebook_validation_refuses_too():
    with pytest.raises(ParameterError, match="Unknown profile"):
        params.validate("intro", {"profile": "bogus"})
    with pytest.raises(ParameterError, match="expects a float"):
        params.validate("intro", {"c": "four"})


def test_every_profile_of_every_chapter_validates():
    for chapter in params.chapter_ids():
        for profile in params.PROFILES:
            params.for_profile(chapter, profile)


def test_intro_smoke_run_through_the_runner(tmp_path, avalley_cli):
    proc = avalley_cli("run", "intro", "-p", "profile", "smoke", "-p", "c", "3.0", "--quiet",
                   env_runs=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = tmp_path / "intro" / "smoke"
    nb = json.loads((out / "intro.ipynb").read_text())
    injected = [c for c in nb["cells"] if "injected-parameters" in c["metadata"].get("tags", [])]
    assert injected and "c = 3.0" in "".join(injected[0]["source"])
    res = json.loads((out / "results.json").read_text())
    assert res["parameters"]["c"] == 3.0 and res["parameters"]["n_sgd_steps"] == 200
    assert res["claims"][0]["holds"] is True


def test_two_cpu_runs_give_identical_claims(tmp_path, avalley_cli):
    outs = []
    for i in range(2):
        proc = avalley_cli("run", "intro", "-p", "profile", "smoke", "--quiet",
                       env_runs=tmp_path / str(i))
        assert proc.returncode == 0, proc.stderr[-3000:]
        res = json.loads((tmp_path / str(i) / "intro" / "smoke" / "results.json").read_text())
        outs.append((res["claims"], res["metrics"]))
    assert outs[0] == outs[1]


def test_parameter_comments_have_no_equals_sign():
    """papermill parses the parameters cell itself; a `=` in a comment makes it misread the
    line and warn that the parameter is unknown."""
    for chapter in params.chapter_ids():
        text = params.chapter_path(chapter).read_text()
        cell = params._CELL.search(text).group(1)
        for line in cell.splitlines():
            if "#" in line and "=" in line:
                comment = line.split("#", 1)[1]
                assert "=" not in comment, f"{chapter}: {line}"


def test_missing_dataset_is_refused_before_the_chapter_starts(monkeypatch, tmp_path, capsys,
                                                             runs_dir):
    from avalley import data
    real = data.ensure
    empty = tmp_path / "datasets"
    monkeypatch.setattr(data, "ensure", lambda name: real(name, root=empty, download=False))
    assert cli.main(["run", "directions", "-p", "profile", "paper", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "cifar10 not found" in err and "cifar-10-batches-py" in err and "Traceback" not in err
    assert not (runs_dir / "directions").exists()          # no notebook was started


def test_a_chapter_that_raises_gives_one_line_and_the_notebook(monkeypatch, capsys, runs_dir):
    import papermill as pm

    def fails(*args, **kwargs):
        raise pm.PapermillExecutionError(cell_index=3, exec_count=4, source="x",
                                         ename="ValueError", evalue="bad thing", traceback=[])

    monkeypatch.setattr(pm, "execute_notebook", fails)
    assert cli.main(["run", "intro", "-p", "profile", "smoke", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "raised ValueError: bad thing" in err and "In[4]" in err and "intro.ipynb" in err


def test_datasets_needed_follow_the_recipes_of_the_profile():
    from avalley import choices
    assert choices.datasets_needed(params.for_profile("directions", "quick")) == {
        "fashion-mnist", "mnist1d"}
    assert choices.datasets_needed(params.for_profile("directions", "paper")) == {
        "cifar10", "cifar100"}
    assert choices.datasets_needed(params.for_profile("intro", "quick")) == set()

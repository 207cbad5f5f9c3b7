"""Bad input is refused before any compute: exit code 2, one paragraph naming the parameter,
the value, the domain and the default, no traceback; and the runner's other paths."""
import json
import time

import pytest
import torch

from avalley.book import chapters, cli
from avalley.errors import ParameterError


def refused(capsys, *argv):
    assert cli.main(list(argv)) == 2
    return capsys.readouterr().err.replace("\n", " ")


def test_list_shows_every_chapter_parameters_and_domains(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    for chapter in chapters.chapter_ids():
        assert out.count(f"{chapter}  (chapters/") == 1
    assert "profile = 'quick'" in out and "n_shifts = 200000" in out
    assert "must be an integer at least 2" in out          # n_shifts' domain


def test_every_profile_of_every_chapter_validates():
    for chapter in chapters.chapter_ids():
        for profile in chapters.PROFILES:
            assert chapters.for_profile(chapter, profile)["profile"] == profile


def test_every_declaration_matches_its_parameters_cell():
    for chapter in chapters.chapter_ids():
        d = chapters.declaration(chapter)
        assert list(d.domains) != [] and set(d.domains) == set(d.defaults)
        assert set(d.helps) == set(d.defaults), f"{chapter}: a parameter without a comment"
        for profile, values in d.profiles.items():
            assert profile in chapters.PROFILES and set(values) <= set(d.defaults)


def test_parameter_comments_have_no_equals_sign():
    """papermill parses the parameters cell itself; a `=` in a comment makes it misread the
    line and warn that the parameter is unknown."""
    for chapter in chapters.chapter_ids():
        cell = chapters.parameters_cell(chapters.chapter_path(chapter))
        for line in cell.splitlines():
            if "#" in line and "=" in line:
                assert "=" not in line.split("#", 1)[1], f"{chapter}: {line}"


# --- each refusal category, through `python -m avalley run` (in process) -------------------

@pytest.mark.parametrize("chapter,name,value,domain", [
    ("swa", "seeds", "[]", "a non-empty list"),                         # empty list
    ("swa", "after_epochs", "0", "an integer at least 1"),              # zero count
    ("directions", "n_eval", "-5", "an integer at least 1"),            # negative size
    ("intro", "shift_spread", "nan", "a finite number above 0"),        # NaN
    ("intro", "c", "inf", "a finite number at least 1"),                # infinite
    ("bias", "n_points", "10", "an odd integer at least 3"),            # even grid size
    ("definition", "r_inner", "-1.0", "a finite number at least 0"),   # negative radius r̄
    ("directions", "bn_modes", "eval,frozen", "one of the BN modes"),   # unknown name in a list
    ("training", "recipe_names", '["resnet-9000"]', "one of the recipes"),
    ("swa", "seeds", "0,0,1", "without repeats"),
    ("intro", "n_shifts", "many", "an integer"),                        # wrong type
    ("intro", "profile", "huge", "one of the profiles"),
    ("intro", "device", "tpu", "one of the devices"),
])
def test_refusals_name_parameter_value_domain_and_default(capsys, runs_dir, chapter, name,
                                                          value, domain):
    t0 = time.time()
    err = refused(capsys, "run", chapter, "-p", name, value)
    assert time.time() - t0 < 10
    default = chapters.declaration(chapter).defaults[name]
    assert f"Parameter '{name}' of chapter '{chapter}' must be" in err, err
    assert domain in err and f"Its default is {default!r}" in err, err
    assert "Traceback" not in err and err.startswith("error: ")
    assert not runs_dir.exists()                 # nothing was executed or written


def test_unknown_chapter_and_parameter(capsys):
    err = refused(capsys, "run", "nosuch")
    assert "Unknown chapter 'nosuch'" in err and "intro" in err
    err = refused(capsys, "run", "intro", "-p", "learning_rate", "0.1")
    assert "Unknown parameter 'learning_rate'" in err and "n_shifts" in err


def test_rules_between_parameters_are_refused_before_compute(capsys, runs_dir):
    err = refused(capsys, "run", "definition", "-p", "r_inner", "8.0")
    assert "contradict each other" in err and "r_inner < r_outer" in err
    assert not runs_dir.exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_on_a_machine_without_cuda(capsys):
    err = refused(capsys, "run", "intro", "-p", "device", "cuda")
    assert "no usable CUDA" in err


def test_refusals_through_a_real_process(tmp_path, avalley_cli):
    """The same, as a user runs it: a separate process, exit code 2, within seconds."""
    t0 = time.time()
    proc = avalley_cli("run", "swa", "-p", "seeds", "[]", env_runs=tmp_path)
    assert time.time() - t0 < 10
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "Parameter 'seeds' of chapter 'swa' must be a non-empty list" in proc.stderr
    assert not (tmp_path / "swa").exists()


def test_in_notebook_validation_refuses_too():
    with pytest.raises(ParameterError, match="one of the profiles"):
        chapters.validate("intro", {"profile": "bogus"})
    with pytest.raises(ParameterError, match="a finite number"):
        chapters.validate("intro", {"c": "four"})


def test_valid_values_are_normalized():
    p = chapters.for_profile("intro", "quick", {"c": 3})
    assert p["c"] == 3.0 and isinstance(p["c"], float)
    assert chapters.parse("swa", "seeds", "0,1,2") == [0, 1, 2]
    assert chapters.parse("swa", "seeds", "[0, 1]") == [0, 1]


# --- runs ----------------------------------------------------------------------------------

@pytest.mark.slow
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


@pytest.mark.slow
def test_two_cpu_runs_give_identical_claims(tmp_path, avalley_cli):
    outs = []
    for i in range(2):
        proc = avalley_cli("run", "intro", "-p", "profile", "smoke", "--quiet",
                           env_runs=tmp_path / str(i))
        assert proc.returncode == 0, proc.stderr[-3000:]
        res = json.loads((tmp_path / str(i) / "intro" / "smoke" / "results.json").read_text())
        outs.append((res["claims"], res["metrics"]))
    assert outs[0] == outs[1]


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
    need = chapters.datasets_needed
    assert need("directions", chapters.for_profile("directions", "quick")) == {
        "fashion-mnist", "mnist1d"}
    assert need("directions", chapters.for_profile("directions", "paper")) == {
        "cifar10", "cifar100"}
    assert need("intro", chapters.for_profile("intro", "quick")) == set()

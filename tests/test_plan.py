"""The paper-scale plan: derived from the chapters' declarations, every network a chapter asks
for listed once, estimates from the networks themselves, the `paper` command's refusals,
and the bundles that bring paper-scale results into the book (no compute here)."""
import json
import os
import re
import subprocess
import sys

import pytest

from avalley import CHAPTERS_DIR, recipes, training
from avalley.book import bundle, chapters, cli, estimate, plan
from avalley.book.domains import Budget, Cases, Seeds
from avalley.book.needs import AfterSWA, Network
from avalley.errors import NotInCache

TINY = 0.002


@pytest.fixture(scope="module")
def paper():
    return plan.make("paper")


def _declared(profile="paper", scale=1.0):
    """Every (recipe, seed, swa) the chapters' declarations name, resolved to recipes."""
    nets, afters = {}, set()
    for chapter in chapters.chapter_ids():
        values = chapters.for_profile(chapter, profile, {"scale": scale} if scale < 1 else {})
        for n in chapters.needs(chapter, values):
            if isinstance(n, Network):
                r = recipes.get(n.recipe, n.seed, swa=n.swa, scale=values["scale"])
                nets.setdefault(json.dumps(r.to_dict(), sort_keys=True), set()).add(chapter)
            elif isinstance(n, AfterSWA):
                afters.add((n.recipe, n.seed, n.lr, n.max_epochs))
    return nets, afters


def test_plan_lists_every_network_the_chapters_need_once(paper):
    nets, afters = _declared()
    jobs = [j for j in paper.jobs if j.kind == "train"]
    listed = {json.dumps(j.recipe.to_dict(), sort_keys=True): set(j.used_by) for j in jobs}
    assert len(listed) == len(jobs)                                  # no job twice
    assert listed == nets                                            # nothing more, nothing less
    assert {(j.name, j.recipe.seed, j.lr, j.max_epochs) for j in paper.jobs
            if j.kind == "after_swa"} == afters


def test_paper_plan_is_the_papers_experiments(paper):
    """The networks of PAPER.md: PreResNet-164 on CIFAR-10 for SWA (3 seeds, with and without
    SWA, 225 epochs, SWA from 126), DenseNet-BC-100 and PreResNet-164 on CIFAR-100 for the
    directions, WRN-28-10 with and without BN, VGG-16; the bias chapter's SGD networks are
    the swa chapter's baselines (one job each, used by both)."""
    train = [j for j in paper.jobs if j.kind == "train"]
    models = {(j.recipe.model, j.recipe.dataset) for j in train}
    assert models >= {("preresnet164", "cifar10"), ("preresnet164", "cifar100"),
                      ("densenet-bc-100", "cifar10"), ("wrn-28-10-bn", "cifar10"),
                      ("wrn-28-10", "cifar10"), ("vgg16", "cifar10")}
    pre = [j for j in train if j.name == "preresnet164-cifar10"]
    assert {(j.recipe.seed, j.recipe.swa) for j in pre} == {(s, w) for s in (0, 1, 2)
                                                             for w in (True, False)}
    swa0 = next(j for j in pre if j.recipe.seed == 0 and j.recipe.swa)
    assert (swa0.recipe.epochs, swa0.recipe.swa_start, swa0.recipe.n_train) == (225, 126, None)
    sgd1 = next(j for j in pre if j.recipe.seed == 1 and not j.recipe.swa)
    assert {"bias", "swa"} <= set(sgd1.used_by)
    assert len([j for j in paper.jobs if j.kind == "after_swa"]) == 3


def test_jobs_come_in_dependency_order_and_claims_last(paper):
    seen = set()
    for job in paper.jobs:
        assert set(job.deps) <= seen, job.describe()
        seen.add(job.key)
    last = paper.jobs[-1]
    assert last.kind == "chapter" and last.chapter == "claims"
    assert set(last.deps) == {j.key for j in paper.jobs if j.kind == "chapter"} - {last.key}
    swa = next(j for j in paper.jobs if j.kind == "chapter" and j.chapter == "swa")
    assert len(swa.deps) == 9                     # 3 seeds x (SWA, SGD, SGD after SWA)
    assert [s for s, _ in paper.stages()] == list(plan.STAGES)


def test_estimates_come_from_the_networks(paper):
    """Every training job has a positive estimate; WRN-28-10 (36M parameters, 5 GMACs per
    image) costs more per epoch than PreResNet-164, a scan costs in proportion to its
    points, and the total is the sum of the jobs."""
    by = {(j.recipe.model, j.recipe.swa, j.recipe.seed): j for j in paper.jobs
          if j.kind == "train"}
    wrn, pre = by["wrn-28-10-bn", False, 0], by["preresnet164", False, 0]
    assert wrn.estimate / wrn.recipe.epochs > pre.estimate / pre.recipe.epochs > 0
    assert paper.total() == pytest.approx(sum(j.estimate for j in paper.jobs))
    assert 5 * 3600 < paper.total() < 500 * 3600
    r = recipes.get("preresnet164-cifar10")
    g = estimate.GPUS["a100"]
    assert estimate.eval_seconds(r, 20000, g) == pytest.approx(
        2 * estimate.eval_seconds(r, 10000, g), rel=1e-6)


def test_flop_count_of_a_small_net_by_hand():
    """The estimate's count of a convnet (8 and 16 channels on 28x28 images, max-pooling,
    global pooling, a linear layer) against the multiply-adds counted by hand; activations
    grow with the batch, weights do not."""
    cost = estimate.forward_pass("convnet-bn", 10, (1, 28, 28), (("widths", (8, 16)),))
    by_hand = 2 * (28 * 28 * 8 * 9 * 1 + 14 * 14 * 16 * 9 * 8 + 16 * 10)
    assert cost.flops == by_hand
    one, two = cost.at(1), cost.at(2)
    assert sum(f for f, _ in two) == 2 * by_hand
    weights = 4 * (8 * 9 + 16 * 8 * 9 + 16 * 10 + 10 + 4 * (8 + 16))   # + BN's 4 per channel
    assert sum(b for _, b in two) - 2 * sum(b for _, b in one) == -weights


def test_tiny_scale_shrinks_budgets_and_nothing_else():
    """At scale 0.002 the plan trains the same models on the same datasets, on the first two
    of each list of seeds, for one epoch on two batches; the chapters' Budget parameters
    shrink, every other parameter is the paper profile's."""
    tiny = plan.make("paper", TINY)
    full = plan.make("paper")
    t_train = [j for j in tiny.jobs if j.kind == "train"]
    f_train = [j for j in full.jobs if j.kind == "train"]

    def what(jobs, seeds=range(99)):
        return {(j.name, j.recipe.seed, j.recipe.swa, j.recipe.model, j.recipe.dataset)
                for j in jobs if j.recipe.seed in seeds}
    assert what(t_train) == what(f_train, seeds=(0, 1)) and len(t_train) < len(f_train)
    for j in t_train:
        assert j.recipe.epochs == 1 and (j.recipe.n_train, j.recipe.n_test) == (256, 128)
        assert j.recipe.batch_size == 128 and j.recipe.lr == recipes.get(j.name).lr
    for chapter in chapters.chapter_ids():
        d = chapters.declaration(chapter)
        small, big = tiny.parameters[chapter], full.parameters[chapter]
        for name, domain in d.domains.items():
            if name == "scale":
                assert small[name] == TINY
            elif isinstance(domain, Budget):
                assert small[name] <= big[name], (chapter, name)
            elif isinstance(domain, Seeds):            # the first seeds, at least two
                assert small[name] == big[name][:2], (chapter, name)
            elif isinstance(domain, Cases):            # some of the cases, from one end
                assert small[name] == (big[name][-domain.keep:] if domain.last
                                       else big[name][:domain.keep]), (chapter, name)
            else:
                assert small[name] == big[name], (chapter, name)


def test_every_chapter_passes_scale_to_every_recipe():
    """Each `recipes.get(...)` in a chapter passes the chapter's scale, so that a shrunk run
    asks for the networks the plan trained."""
    for path in sorted(CHAPTERS_DIR.glob("*.md")):
        text = path.read_text()
        for m in re.finditer(r"recipes\.get\(", text):
            depth, i = 1, m.end()
            while depth:
                depth += {"(": 1, ")": -1}.get(text[i], 0)
                i += 1
            assert "scale=scale" in text[m.end():i], f"{path.name}: {text[m.start():i]}"


def test_every_chapter_with_networks_declares_them_and_its_budgets():
    for chapter in chapters.chapter_ids():
        d = chapters.declaration(chapter)
        names = {n for n, dom in d.domains.items() if "Recipe" in type(dom).__name__
                 or "Recipe" in type(getattr(dom, "item", None)).__name__}
        if names:
            assert d.needs is not None, f"{chapter} names recipes but declares no `needs`"
            p = chapters.for_profile(chapter, "paper")
            assert any(isinstance(n, Network) for n in chapters.needs(chapter, p))


def test_plan_command_prints_jobs_and_total(capsys):
    assert cli.main(["paper", "--plan"]) == 0
    out = capsys.readouterr().out
    assert "preresnet164 on cifar10 (50000/10000 images), seed 2, 225 epochs" in out
    assert "wrn-28-10 on cifar10" in out and "Total:" in out and "A100" in out
    assert "roofline" in out and "chapter claims at profile paper" in out
    assert cli.main(["paper", "--plan", "--json", "--chapters", "swa", "--gpu", "h100"]) == 0
    p = json.loads(capsys.readouterr().out)
    assert {j["kind"] for j in p["jobs"]} == {"train", "after_swa", "chapter"}
    assert "H100" in p["gpu"] and p["total_seconds"] > 0
    assert all(j["used_by"] == ["swa"] for j in p["jobs"])


@pytest.mark.parametrize("argv,message", [
    (["paper", "--plan", "--chapters", "nosuch"], "Unknown chapter(s) 'nosuch'"),
    (["paper", "--plan", "--executor", "dask"], "Unknown executor 'dask'"),
    (["paper", "--plan", "--scale", "2"], "--scale must be in (0, 1]"),
    (["paper", "--plan", "--device", "tpu"], "Unknown device 'tpu'"),
])
def test_paper_command_refusals(capsys, argv, message):
    assert cli.main(argv) == 2
    assert message in capsys.readouterr().err.replace("\n", " ")


def test_plan_marks_cached_networks_done(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("AVALLEY_CACHE_DIR", str(tmp_path))
    p = plan.make("paper", TINY, only=["training"])
    job = next(j for j in p.jobs if j.kind == "train")
    (job.folder("cpu")).mkdir(parents=True)
    (job.folder("cpu") / "result.pt").write_bytes(b"")
    assert job.done("cpu") and not job.done("cuda")
    assert cli.main(["paper", "--plan", "--chapters", "training", "--scale", str(TINY),
                     "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "5 jobs, 4 to do" in out and out.count("  done ") == 1


def test_a_finished_chapter_job_runs_again_only_when_redone(tmp_path, monkeypatch):
    """`paper --redo-chapters` reaches the job itself, which otherwise reports a chapter
    whose results are there as cached without executing it."""
    from avalley.book import execute
    from avalley.book.jobs import ChapterJob
    monkeypatch.setenv("AVALLEY_RUNS_DIR", str(tmp_path))
    executed = []
    monkeypatch.setattr(execute, "execute_chapter",
                        lambda chapter, values, quiet: executed.append(chapter) or 0)
    job = next(j for j in plan.make("paper", TINY, only=["intro"]).jobs)
    job.results_path().parent.mkdir(parents=True)
    job.results_path().write_text(json.dumps({"parameters": job.parameters}))
    assert isinstance(job, ChapterJob) and job.done("cpu")
    assert job.run(None)[0] == "cached" and executed == []
    job.redo = True
    assert job.run(None)[0] == "ran" and executed == ["intro"]


def test_cached_only_refuses_a_network_the_plan_did_not_list(tmp_path, monkeypatch):
    from avalley.runtime import setup
    monkeypatch.setenv("AVALLEY_CACHED_ONLY", "1")
    with pytest.raises(NotInCache, match="does not list it"):
        training.train(recipes.get("convnet-bn-digits"), setup("cpu", quiet=True),
                       root=tmp_path)
    assert not any(tmp_path.iterdir())            # nothing was trained or written


def test_compile_flag_reaches_the_recipes(monkeypatch):
    monkeypatch.setenv("AVALLEY_COMPILE", "1")
    assert recipes.get("preresnet164-cifar10").compile
    assert not recipes.get("preresnet164-cifar10", compile=False).compile
    monkeypatch.delenv("AVALLEY_COMPILE")
    assert not recipes.get("preresnet164-cifar10").compile


# --- bundles: paper-scale results in the book ------------------------------------------

def _results(scale=1.0, profile="paper", chapter="swa"):
    return {"chapter": chapter, "profile": profile,
            "parameters": {"profile": profile, "scale": scale, "seed": 0},
            "environment": {"device_name": "NVIDIA H100", "git_commit": "abc1234",
                            "start_time": "2027-01-01T00:00:00", "wall_seconds": 7200.0},
            "claims": [{"id": "f", "kind": "finding", "statement": "SWA is lower",
                        "verdict": "holds", "summary": "mean 0.1 [0.05, 0.15]",
                        "paper": "lower"},
                       {"id": "c", "kind": "check", "statement": "x", "holds": True}],
            "metrics": {"runs": [{"recipe": "preresnet164-cifar10", "seed": s,
                                  "solution": "swa", "test_acc": a}
                                 for s, a in ((0, 0.958), (1, 0.957))]}}


def test_a_tiny_scale_bundle_is_never_written_into_data_paper(tmp_path):
    with pytest.raises(bundle.BundleRefused, match="test artefact"):
        bundle.write(_results(scale=TINY), {}, bundle.PAPER_DIR)
    with pytest.raises(bundle.BundleRefused, match="test artefact"):
        bundle.write(_results(scale=TINY), {}, bundle.PAPER_DIR / "sub")
    assert not (bundle.PAPER_DIR / "swa" / "results.json").exists() or \
        json.loads((bundle.PAPER_DIR / "swa" / "results.json").read_text())[
            "parameters"]["scale"] == 1
    with pytest.raises(bundle.BundleRefused, match="paper profile"):
        bundle.write(_results(profile="quick"), {}, tmp_path)
    out = bundle.write(_results(scale=TINY), {"line": [1.0, 2.0]}, tmp_path)
    assert out == tmp_path / "swa" and (out / "arrays.npz").exists()
    assert bundle.arrays("swa", tmp_path)["line"].tolist() == [1.0, 2.0]


def test_an_oversized_bundle_is_refused(tmp_path, monkeypatch):
    import numpy as np
    monkeypatch.setattr(bundle, "MAX_BYTES", 10_000)
    noise = np.random.default_rng(0).random(100_000)
    with pytest.raises(bundle.BundleRefused, match="over the"):
        bundle.write(_results(), {"noise": noise}, tmp_path)


def test_page_part_with_and_without_a_bundle(tmp_path):
    from avalley.book import published
    quick = [{"id": "f", "kind": "finding", "verdict": "inconclusive"}]
    absent = bundle.section("swa", quick, "quick", published.PUBLISHED["swa"], tmp_path)
    assert "shows the **quick** profile only" in absent
    assert "python -m avalley paper --chapters swa" in absent
    bundle.write(_results(), {}, tmp_path)
    shown = bundle.section("swa", quick, "quick", published.PUBLISHED["swa"], tmp_path)
    assert "NVIDIA H100" in shown and "`abc1234`" in shown and "2.0 h of wall time" in shown
    assert "| SWA is lower | **holds** | mean 0.1 [0.05, 0.15] | inconclusive | lower |" \
        in shown
    assert "95.83 ± 0.03" in shown and "95.75 ± 0.07 (2 seeds)" in shown
    assert "1 of 1 hold" in shown
    board = bundle.claims_section(["swa", "bias"], tmp_path)
    assert "**swa**" in board and "No paper-scale results yet for: bias" in board
    assert "No chapter has paper-scale" in bundle.claims_section(["bias"], tmp_path)


def test_every_chapter_shows_its_paper_scale_part():
    """The one line near the end of each chapter and the glue that shows it (the chapters
    being rewritten on other branches get theirs when they land)."""
    awaiting_rewrite = {"directions"}
    for chapter, path in chapters.chapter_files().items():
        text = path.read_text()
        if chapters.declaration(chapter).collects:
            assert "bundle.claims_section(" in text
        elif chapter not in awaiting_rewrite:
            assert "run.paper_scale()" in text and f"{{glue:md}} {chapter}_paper_scale" in text


def test_rerun_box_estimates_come_from_the_planner():
    swa = plan.chapter_estimate("swa")
    assert "GPU time on one NVIDIA A100" in swa and "9 training jobs" in swa
    assert "--chapters swa" in swa
    assert "no GPU work" in plan.chapter_estimate("intro")
    assert chapters.declaration("swa").paper_time is None     # no hand-written estimate left


def test_the_cold_budget_benchmark_counts_the_plans_work():
    """benchmarks/cold_budget.py at the smoke profile: the swa chapter's row counts its two
    seeds' SWA and SGD networks and two searches (at their most epochs, none is cached
    here), the book's row every network of the plan, and both report seconds."""
    root = CHAPTERS_DIR.parent
    proc = subprocess.run([sys.executable, "benchmarks/cold_budget.py", "--profile", "smoke",
                           "--no-record"], cwd=root, capture_output=True, text=True,
                          env={**os.environ, "AVALLEY_THREADS": "1"}, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = {line.split("|")[1].split()[0]: [c.strip() for c in line.split("|")[2:-1]]
            for line in proc.stdout.splitlines() if line.startswith(("| swa", "| book"))}
    smoke = plan.make("smoke")
    trained = [j for j in smoke.jobs if j.kind == "train"]
    swa_cfg = chapters.for_profile("swa", "smoke")
    seeds, epochs = len(swa_cfg["seeds"]), recipes.get(swa_cfg["recipe_names"][0]).epochs
    assert rows["swa"][:3] == [str(2 * seeds), str(seeds),
                               str(2 * seeds * epochs + seeds * swa_cfg["after_epochs"])]
    assert rows["book"][0] == str(len(trained))
    measured, searching, floor = (float(c) for c in rows["book"][3:6])
    assert 0 < floor < measured and 0 < searching < measured

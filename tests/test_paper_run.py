"""The paper profile, proven end to end on the CPU: `python -m avalley paper` at a tiny scale
(TINY) trains every network of the paper's experiments (PreResNet-164, DenseNet-BC-100, WRN-28-10
with and without BN, VGG-16, on CIFAR-10 and CIFAR-100 folders written here in
torchvision's format) as jobs, executes every chapter at the paper profile from the cache
(a chapter that asked for a network the plan did not list would fail), and writes each
chapter's bundle into a temporary folder. Then: a rerun does nothing; a page shows the
bundle; the Ray and submitit executors give the same networks and numbers as the local
one; a killed job resumes; torch.compile'd training runs.

Cost on a 2-core CPU: see README.md ("What the tiny-scale test proves")."""
import json
import os
import signal
import subprocess
import sys

import pytest
import torch
from conftest import ROOT, fake_cifar

from avalley import recipes, training
from avalley.book import chapters

pytestmark = pytest.mark.slow
# 0.0002: every budget at or near its minimum (one epoch on two batches, scans on ten images,
# one extra scan round); 0.002 gives the same networks but scans 100 images per point, which
# costs WRN-28-10 about 10 s a point on this CPU and the test an hour more.
TINY = "0.0002"
def _env(root, **extra):
    env = {**os.environ, "AVALLEY_DATASETS_DIR": str(root.parent / "datasets"),
           "AVALLEY_CACHE_DIR": str(root / "cache"), "AVALLEY_RUNS_DIR": str(root / "runs"),
           "AVALLEY_PAPER_DIR": str(root / "bundles")}
    env.pop("AVALLEY_CACHED_ONLY", None)
    return {**env, **{k: str(v) for k, v in extra.items()}}


def paper(root, *args, scale=TINY, timeout=3600, **env):
    """`python -m avalley paper --scale SCALE --device cpu ARGS` with its own cache, runs and
    bundles under `root`; returns (process, outcomes)."""
    out = root / "outcomes.json"
    out.unlink(missing_ok=True)
    proc = subprocess.run(
        [sys.executable, "-m", "avalley", "paper", "--scale", scale, "--device", "cpu",
         "--bundle-dir", str(root / "bundles"), "--outcomes", str(out),
         "--logs", str(root / "logs"), *args],
        cwd=ROOT, env=_env(root, **env), capture_output=True, text=True, timeout=timeout)
    outcomes = json.loads(out.read_text()) if out.exists() else []
    return proc, outcomes


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    base = tmp_path_factory.mktemp("paper")
    fake_cifar(base / "datasets", "cifar10")
    fake_cifar(base / "datasets", "cifar100")
    return base


@pytest.fixture(scope="module")
def tiny(base):
    """The whole paper plan at scale TINY with the local executor (all CPU threads)."""
    root = base / "local"
    committed = sorted((ROOT / "data" / "paper").rglob("*")) \
        if (ROOT / "data" / "paper").exists() else []
    proc, outcomes = paper(root)
    assert proc.returncode == 0, proc.stderr[-6000:]
    return {"root": root, "outcomes": outcomes, "stderr": proc.stderr, "committed": committed}


def test_every_job_of_the_plan_ran(tiny):
    kinds = {}
    for o in tiny["outcomes"]:
        assert o["status"] == "ran", o
        kinds[o["kind"]] = kinds.get(o["kind"], 0) + 1
    from avalley.book import plan
    planned = {}
    for j in plan.make("paper", float(TINY)).jobs:
        planned[j.kind] = planned.get(j.kind, 0) + 1
    assert kinds == planned and planned["train"] >= 12 \
        and planned["after_swa"] == 2   # one per SWA seed; a shrunk plan keeps two
    trained = {o["job"].split(" (")[0] for o in tiny["outcomes"] if o["kind"] == "train"}
    assert trained == {"preresnet164 on cifar10", "preresnet164 on cifar100",
                       "densenet-bc-100 on cifar10", "wrn-28-10-bn on cifar10",
                       "wrn-28-10 on cifar10", "vgg16 on cifar10"}


def test_every_chapter_wrote_its_results_at_the_paper_profile(tiny):
    """Each chapter ran at the paper profile from the cache (the plan listed every network it
    asked for: with AVALLEY_CACHED_ONLY an unlisted one fails the chapter), and wrote its
    results and its bundle (into the test's folder, never into data/paper/)."""
    root = tiny["root"]
    for chapter in chapters.chapter_ids():
        res = json.loads((root / "runs" / chapter / "paper" / "results.json").read_text())
        assert res["parameters"]["profile"] == "paper"
        assert res["parameters"]["scale"] == float(TINY)
        assert (root / "runs" / chapter / "paper" / f"{chapter}.ipynb").exists()
        b = json.loads((root / "bundles" / chapter / "results.json").read_text())
        assert b["parameters"] == res["parameters"] and b["environment"]["device_name"]
        assert (root / "bundles" / chapter / "arrays.npz").exists()
    now = sorted((ROOT / "data" / "paper").rglob("*")) \
        if (ROOT / "data" / "paper").exists() else []
    assert now == tiny["committed"]


def test_a_rerun_does_only_what_is_missing(tiny):
    proc, outcomes = paper(tiny["root"], timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert {o["status"] for o in outcomes} == {"done"}
    proc, outcomes = paper(tiny["root"], "--chapters", "intro", "--redo-chapters")
    assert proc.returncode == 0 and [o["status"] for o in outcomes] == ["ran"]


def _glued(notebook, key):
    nb = json.loads(notebook.read_text())
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            if out.get("metadata", {}).get("scrapbook", {}).get("name") == key:
                data = out["data"]
                return "".join(next(v for k, v in data.items() if "markdown" in k))
    raise KeyError(key)


def test_a_page_shows_the_paper_scale_part_when_a_bundle_is_present(tiny, tmp_path):
    from conftest import run_cli
    for bundles, expect in ((tiny["root"] / "bundles", "The paper-scale run of this chapter"),
                            (tmp_path / "none", "shows the **smoke** profile only")):
        env_runs = tmp_path / bundles.name
        old = os.environ.get("AVALLEY_PAPER_DIR")
        os.environ["AVALLEY_PAPER_DIR"] = str(bundles)
        try:
            proc = run_cli("run", "intro", "-p", "profile", "smoke", "--quiet",
                           env_runs=env_runs)
        finally:
            os.environ.pop("AVALLEY_PAPER_DIR") if old is None else \
                os.environ.__setitem__("AVALLEY_PAPER_DIR", old)
        assert proc.returncode == 0, proc.stderr[-3000:]
        text = _glued(env_runs / "intro" / "smoke" / "intro.ipynb", "intro_paper_scale")
        assert expect in text, text
    assert f"at scale {float(TINY):g}: a test of the code path" in _glued(
        tmp_path / "bundles" / "intro" / "smoke" / "intro.ipynb", "intro_paper_scale")


def _networks(cache):
    """{recipe key: result.pt} of a training cache."""
    return {p.parent.name: torch.load(p, map_location="cpu", weights_only=False)
            for p in (cache / "train").glob("*/result.pt")}


def _chapter_metrics(runs, chapter):
    res = json.loads((runs / chapter / "paper" / "results.json").read_text())

    def clean(x):
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items()
                    if k not in ("training seconds", "from cache", "seconds")}
        if isinstance(x, list):
            return [clean(v) for v in x]
        return x
    return clean(res["metrics"]), [(c["id"], c.get("verdict"), c.get("holds"))
                                   for c in res["claims"]]


@pytest.fixture(scope="module")
def one_thread(base):
    """The training chapter's plan with the local executor on one thread, as each Ray or
    submitit worker computes (CPU results are bit-exact for one thread count, not across
    thread counts)."""
    root = base / "local-1"
    proc, outcomes = paper(root, "--chapters", "training", "--threads", "1")
    assert proc.returncode == 0, proc.stderr[-6000:]
    proc, outcomes = paper(root, *CHAIN, "--threads", "1", scale="1")
    assert proc.returncode == 0, proc.stderr[-6000:]
    return root


# train -> SGD after SWA, the longest chain of dependencies, on the smoke profile's networks
CHAIN = ["--profile", "smoke", "--chapters", "swa", "--no-chapters"]


@pytest.mark.parametrize("executor,args", [
    ("ray", ["--executor", "ray", "--ray-cpus", "2"]),
    ("slurm", ["--executor", "slurm", "--slurm-cluster", "local", "--slurm-time", "30"]),
], ids=["ray", "submitit-local"])
def test_executors_give_the_local_executors_results(one_thread, base, executor, args):
    """The plan of the training chapter (PreResNet-164 and VGG-16 on CIFAR-10, with and
    without SWA, then the chapter) through Ray (a local instance with two CPU workers, one
    job each) or submitit's local executor, into a cache of its own: every network has the
    same weights, bit for bit, and the same metrics as the local executor's (training on
    the CPU is deterministic), and the chapter the same numbers and verdicts."""
    root = base / executor
    proc, outcomes = paper(root, "--chapters", "training", *args)
    assert proc.returncode == 0, proc.stderr[-6000:]
    assert [o["status"] for o in outcomes] == ["ran"] * 5, outcomes
    mine, local = _networks(root / "cache"), _networks(one_thread / "cache")
    assert len(mine) == 4 and set(mine) <= set(local)
    for key, res in mine.items():
        ref = local[key]
        assert res["recipe"] == ref["recipe"] and res["metrics"] == ref["metrics"]
        for part in ("model", "swa_model"):
            if ref[part] is None:
                assert res[part] is None
                continue
            for name, t in ref[part].items():
                assert torch.equal(res[part][name], t), (key, part, name)
    assert _chapter_metrics(root / "runs", "training") == \
        _chapter_metrics(one_thread / "runs", "training")
    # SGD after SWA waits for its SWA network, and gives the same search
    proc, outcomes = paper(root, *CHAIN, *args, scale="1")
    assert proc.returncode == 0, proc.stderr[-6000:]
    assert sorted(o["kind"] for o in outcomes) == ["after_swa"] * 2 + ["train"] * 4
    for a in (root / "cache" / "train").glob("*/after_swa-*/result.pt"):
        ref = one_thread / "cache" / "train" / a.parent.parent.name / a.parent.name / a.name
        got, want = (torch.load(f, weights_only=False) for f in (a, ref))
        assert got["history"] == want["history"] and got["found"] == want["found"]
        assert all(torch.equal(got["model"][k], v) for k, v in want["model"].items())


def test_a_killed_job_resumes_from_its_last_epoch(tmp_path):
    """A training job killed (SIGKILL) right after its second epoch's checkpoint: the same
    command again resumes it from that checkpoint, through the job layer, and ends with the
    weights of an uninterrupted run."""
    recipe = recipes.get("convnet-bn-digits", 0, swa=True)      # 4 epochs, SWA from 2
    args = ["--profile", "smoke", "--chapters", "training", "--no-chapters", "--threads", "1"]
    proc, _ = paper(tmp_path, *args, scale="1", AVALLEY_KILL_AFTER_EPOCH=2)
    assert proc.returncode == -signal.SIGKILL
    folder = tmp_path / "cache" / "train" / training.recipe_key(recipe, "cpu")
    ck = torch.load(folder / "checkpoint.pt", weights_only=False)
    assert ck["epoch"] == 2 and not (folder / "result.pt").exists()
    proc, outcomes = paper(tmp_path, *args, scale="1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "resuming after epoch 2 of 4" in proc.stderr
    assert {o["status"] for o in outcomes} == {"ran"}
    saved = torch.load(folder / "result.pt", weights_only=False)
    from avalley.runtime import setup
    os.environ["AVALLEY_THREADS"] = "1"
    try:
        whole = training.train(recipe, setup("cpu", quiet=True, threads=1), cache=False,
                               progress=False)
    finally:
        os.environ.pop("AVALLEY_THREADS")
    assert saved["metrics"] == whole.metrics
    for name, t in whole.swa_model.state_dict().items():
        assert torch.equal(saved["swa_model"][name], t)


def test_compiled_training_runs_on_the_cpu():
    """Recipe.compile: the training steps through torch.compile (inductor on the CPU here,
    what a GPU run uses with --compile) train the same network to nearly the same losses."""
    from avalley.runtime import setup
    rt = setup("cpu", quiet=True)
    r = recipes.get("mlp-mnist1d-tiny", 0, swa=True)
    plain = training.train(r, rt, cache=False, progress=False)
    compiled = training.train(recipes.get("mlp-mnist1d-tiny", 0, swa=True, compile=True), rt,
                              cache=False, progress=False)
    for key in ("train_loss", "test_loss"):
        assert compiled.metrics["swa"][key] == pytest.approx(plain.metrics["swa"][key],
                                                             rel=1e-3)


def test_line_scan_benchmark_of_the_papers_case_runs_on_the_cpu():
    """benchmarks/line_scan.py --paper (PreResNet-164, recompute, the engine against the
    paper-style DataLoader loop), at a tiny size: the GPU measurement is ready to run."""
    proc = subprocess.run(
        [sys.executable, "benchmarks/line_scan.py", "--paper", "--device", "cpu", "--n", "16",
         "--points", "3", "--repeats", "1", "--no-record"], cwd=ROOT,
        env={**os.environ, "AVALLEY_THREADS": "1"}, capture_output=True, text=True,
        timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "preresnet164 recompute" in proc.stdout and "DataLoader loop" in proc.stdout
    diff = float(proc.stdout.rsplit("max|diff|", 1)[1].split()[0])
    assert diff < 1e-3

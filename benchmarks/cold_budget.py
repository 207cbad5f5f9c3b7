"""What a cold build must train before any chapter can show a verdict, against the cold time
targets: the `swa` chapter in 8 minutes and the whole book in 15, on this machine.

The plan of a profile (`avalley.book.plan`, the same one `python -m avalley paper --plan`
prints) lists every network the chapters declare and every SGD-after-SWA search. For each
kind of network (model, data, batch) this script times, in the same run, one SGD epoch
(median of 3 after a warm-up) and one solution's BN re-estimation and train/test evaluation
(median of 3), then adds up what the plan needs:

- a network: its epochs of SGD, then one evaluation per solution (two with SWA);
- a search: the epochs it ran (read from the training cache when it is there, else its
  most epochs, an upper bound), each an SGD epoch and an evaluation.

Beside it, the *FLOP floor*: the same work's FLOPs (`avalley.book.estimate`: a training step
is three forward passes, an evaluation one) at the sgemm peak measured in the same run, the
least any exact fp32 implementation could spend on this CPU. Neither counts the chapters'
own scans and simulations (their cached times are in the closing notes), so both are lower
bounds of a cold build.

    .venv/bin/python benchmarks/cold_budget.py [--profile quick] [--no-record]
"""
import argparse
import copy
import datetime
import statistics
import time

import torch
from line_scan import _write_section, sgemm_gflops

from avalley import data, runtime, training
from avalley.book import estimate, plan
from avalley.book.jobs import AfterSWAJob, TrainJob

TARGETS = {"swa": 8 * 60, "book": 15 * 60}     # seconds, cold, on this 2-core machine


def seconds(x: float) -> str:
    return f"{x:.1f}" if x >= 1 else f"{x:.2g}"


def kind(recipe) -> tuple:
    """What a network's cost depends on (its seed, SWA and BN initialization do not)."""
    shape = {k: v for k, v in recipe.model_kwargs.items() if k != "bn_weight_init"}
    return (recipe.model, recipe.dataset, recipe.n_train, recipe.n_test, recipe.batch_size,
            recipe.augment, tuple(sorted((k, str(v)) for k, v in shape.items())))


def measure(recipe, rt, repeats=3) -> dict:
    """Seconds of one SGD epoch and of one solution's BN re-estimation and evaluation."""
    ds = data.load(recipe.dataset, recipe.n_train, recipe.n_test, seed=recipe.data_seed)
    torch.manual_seed(0)
    model = training._build(recipe, ds.num_classes, ds.input_shape, rt)
    opt = torch.optim.SGD(model.parameters(), lr=recipe.lr, momentum=recipe.momentum,
                          weight_decay=recipe.weight_decay)
    gen = torch.Generator().manual_seed(0)
    images = training.bn_images(ds, recipe)
    epochs, evals = [], []
    for i in range(repeats + 1):
        t = time.perf_counter()
        training.sgd_epoch(model, opt, ds, recipe, gen, rt)
        epochs.append(time.perf_counter() - t)
        t = time.perf_counter()
        solution = training.recompute_bn(copy.deepcopy(model), images, recipe.batch_size)
        training.train_test_metrics(solution, ds, rt)
        evals.append(time.perf_counter() - t)
    return {"epoch": statistics.median(epochs[1:]), "eval": statistics.median(evals[1:])}


def search_epochs(job: AfterSWAJob) -> tuple[int, bool]:
    """Epochs the search ran, from the cache (True), else its most epochs (False)."""
    path = (training.cache_dir() / training.recipe_key(job.recipe, "cpu")
            / training.after_swa_folder(job.lr, job.max_epochs) / "result.pt")
    if path.exists():
        return len(torch.load(path, map_location="cpu", weights_only=False)["history"]), True
    return job.max_epochs, False


def budget(jobs, costs, cpu) -> dict:
    """Measured seconds and FLOP floor of `jobs`, with counts."""
    out = {"networks": 0, "searches": 0, "epochs": 0, "measured": 0.0, "floor": 0.0,
           "searching": 0.0, "cached_epochs": True}
    for job in jobs:
        if not isinstance(job, (TrainJob, AfterSWAJob)):
            continue                                   # chapters: scans, not counted
        r, c = job.recipe, costs[kind(job.recipe)]
        if isinstance(job, TrainJob):
            out["networks"] += 1
            out["epochs"] += r.epochs
            out["measured"] += r.epochs * c["epoch"] + (1 + r.swa) * c["eval"]
            out["floor"] += estimate.train_seconds(r, cpu)
        elif isinstance(job, AfterSWAJob):
            n, known = search_epochs(job)
            out["searches"] += 1
            out["epochs"] += n
            out["cached_epochs"] &= known
            spent = n * (c["epoch"] + c["eval"])
            out["searching"] += spent
            out["measured"] += spent
            out["floor"] += estimate.after_swa_seconds(r, n, cpu)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="quick")
    ap.add_argument("--no-record", action="store_true", help="do not write RESULTS.md")
    args = ap.parse_args()
    rt = runtime.setup("cpu", seed=0)
    peak = sgemm_gflops(rt.device)
    cpu = estimate.GPU(f"this CPU at its sgemm peak ({peak:.0f} GFLOP/s)", peak * 1e9,
                       peak * 1e9, float("inf"), 0.0)
    groups = {"swa": plan.make(args.profile, only=["swa"], device="cpu").jobs,
              "book": plan.make(args.profile, device="cpu").jobs}
    costs = {}
    for job in groups["book"]:
        if isinstance(job, (TrainJob, AfterSWAJob)) and kind(job.recipe) not in costs:
            costs[kind(job.recipe)] = measure(job.recipe, rt)
            print(f"{job.recipe.model} on {job.recipe.dataset}: "
                  f"{costs[kind(job.recipe)]['epoch']:.2f} s an epoch, "
                  f"{costs[kind(job.recipe)]['eval']:.2f} s an evaluation", flush=True)
    rows = {name: budget(jobs, costs, cpu) for name, jobs in groups.items()}
    lines = [
        "\n## cold_budget\n",
        f"{datetime.date.today()}, {rt.device_name()}, torch {torch.__version__}, "
        f"{rt.threads} threads, commit {runtime.git_commit()}, profile {args.profile}; sgemm "
        f"peak {peak:.0f} GFLOP/s. What a cold build must train before a chapter shows a "
        "verdict (`benchmarks/cold_budget.py`): *measured*: the plan's SGD epochs and "
        "evaluations at the seconds measured in this run (medians of 3): "
        + "; ".join(f"{k[0]} on {k[1]} {c['epoch']:.2f} s an epoch, {c['eval']:.2f} s an "
                    "evaluation" for k, c in costs.items())
        + "; *FLOP floor*: the same work at the sgemm peak. The chapters' scans and "
        "simulations are not counted: both columns are lower bounds of a cold build.\n",
        "| build | networks | searches | epochs | measured (s) | of which searches (s) | "
        "FLOP floor (s) | target (s) | measured / target | floor / target |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *[f"| {name}{'' if r['cached_epochs'] else ' (searches at their most epochs)'} | "
          f"{r['networks']} | {r['searches']} | {r['epochs']} | {seconds(r['measured'])} | "
          f"{seconds(r['searching'])} | "
          f"{seconds(r['floor'])} | {TARGETS[name]} | {r['measured'] / TARGETS[name]:.2f} | "
          f"{r['floor'] / TARGETS[name]:.2f} |" for name, r in rows.items()], ""]
    print("\n".join(lines))
    if not args.no_record:
        _write_section("cold_budget", lines)


if __name__ == "__main__":
    main()

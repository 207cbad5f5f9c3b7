"""51-point train+test line scan: the landscape engine against the paper's per-point loop
(set weights, update_bn, evaluate train and test), same model, data and BN mode, timed in
the same run, interleaved, medians of several repeats. Appends a "line_scan" section to
benchmarks/RESULTS.md.

Two versions of the per-point loop: batches sliced from tensors already on the device
(`landscape.reference_line`, the loop alone), and batches from a `torch.utils.data.DataLoader`
over the same tensors, as the paper's code feeds its data. Both run the model in PyTorch's
default layout, as the paper's code does.

The run also measures the CPU's matrix-multiply peak (GFLOP/s of a 2048² sgemm) and counts
the FLOPs of a line: no exact fp32 evaluator can beat `FLOPs / peak`, so
`reference time / (FLOPs / peak)` bounds the speed-up any engine can reach on this device.

    .venv/bin/python benchmarks/line_scan.py [--repeats 3] [--n 1000] [--modes recompute eval]

`--paper` measures the paper's case instead: PreResNet-164 (CIFAR-10 shapes, random
images and labels) in `recompute` mode, the engine against the paper-style loop (per point:
load the weights, `update_bn` over a DataLoader, evaluate train and test through
DataLoaders), made for a GPU; `--n` and `--points` size it, `--no-record` leaves RESULTS.md
alone. On the CPU it runs at a tiny size (proves the code path, not the speed):

    .venv/bin/python benchmarks/line_scan.py --paper --n 64 --points 3 --repeats 1 --no-record
    .venv/bin/python benchmarks/line_scan.py --paper --device cuda --n 10000 --points 51
"""
import argparse
import datetime
import statistics
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
from torch.utils.flop_counter import FlopCounterMode

from avalley import landscape as L
from avalley import models, recipes, runtime
from avalley.atomic import write_bytes as atomic_write_bytes
from avalley.directions import random_direction
from avalley.runtime import setup

POINTS = 51


def mlp_bn(d_in=40, width=256, classes=10):
    return nn.Sequential(nn.Linear(d_in, width), nn.BatchNorm1d(width), nn.ReLU(),
                         nn.Linear(width, classes))


def sgemm_gflops(device, repeats=5) -> float:
    a, b = torch.randn(2048, 2048, device=device), torch.randn(2048, 2048, device=device)
    times = []
    for _ in range(repeats + 1):
        t = time.perf_counter()
        (a @ b).sum().item()
        times.append(time.perf_counter() - t)
    return 2 * 2048 ** 3 / statistics.median(times[1:]) / 1e9


def line_flops(model, shape, n_train, n_test, mode, points=POINTS) -> float:
    """FLOPs of the forward passes a line needs: per point, the training set once more in
    recompute mode (the statistics pass), then the training and test sets."""
    with FlopCounterMode(display=False) as fc, torch.no_grad():
        model.eval()(torch.zeros(1, *shape))
    passes = n_train * (2 if mode == "recompute" and L.has_bn(model) else 1) + n_test
    return points * passes * fc.get_total_flops()


def bench(name, model, shape, n, modes, repeats, device, peak, points=POINTS):
    g = torch.Generator().manual_seed(0)
    train, test = [(torch.randn(n, *shape, generator=g).to(device),
                    torch.randint(0, 10, (n,), generator=g).to(device)) for _ in range(2)]
    with torch.no_grad():                 # non-trivial running statistics at the centre
        model.to(device).train()(train[0][:512])
    model.eval()
    u = random_direction(model, "gaussian", seed=0)
    ls = np.linspace(-1, 1, points)
    rows = []
    for mode in modes:
        times = {"engine": [], "loop": [], "dataloader": []}
        for _ in range(repeats):          # interleaved, so load changes hit all alike
            for kind in times:
                t = time.perf_counter()
                scan = (L.line(model, u, ls, train, test, bn_mode=mode) if kind == "engine"
                        else L.reference_line(model, u, ls, train, test, bn_mode=mode,
                                              dataloader=kind == "dataloader"))
                times[kind].append(time.perf_counter() - t)
                if kind == "engine":
                    got = scan
                elif kind == "loop":
                    ref = scan
        err = max(np.abs(getattr(got, k) - getattr(ref, k)).max()
                  for k in ("train_loss", "train_acc", "test_loss", "test_acc"))
        e, r, d = (statistics.median(times[k]) for k in ("engine", "loop", "dataloader"))
        floor = line_flops(model, shape, n, n, mode, points) / (peak * 1e9)
        row = dict(model=name, mode=mode, engine=e, loop=r, dataloader=d, err=err,
                   floor=floor)
        rows.append(row)
        print(f"{name:10s} {mode:9s} engine {e:6.2f}s | loop {r:6.2f}s ({r / e:4.1f}x) | "
              f"DataLoader loop {d:6.2f}s ({d / e:4.1f}x) | FLOP floor {floor:5.2f}s: no "
              f"engine beats {r / floor:4.1f}x over the loop | max|diff| {err:.1e}",
              flush=True)
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--n", type=int, default=1000, help="train and test images each")
    ap.add_argument("--modes", nargs="+", default=["recompute", "eval"])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--paper", action="store_true",
                    help="PreResNet-164 on CIFAR-shaped tensors, recompute mode (for a GPU)")
    ap.add_argument("--points", type=int, default=POINTS, help="points of the line")
    ap.add_argument("--no-record", action="store_true", help="do not write RESULTS.md")
    args = ap.parse_args()
    rt = setup(args.device, seed=0)
    torch.manual_seed(0)
    peak = sgemm_gflops(rt.device)
    print(f"sgemm peak {peak:.0f} GFLOP/s", flush=True)
    if args.paper:
        rows = bench("preresnet164", models.build("preresnet164", 10, (3, 32, 32)),
                     (3, 32, 32), args.n, ["recompute"], args.repeats, rt.device, peak,
                     args.points)
        if not args.no_record:
            record_paper(rows, args, rt, peak)
        return
    quick = recipes.get("convnet-bn-fmnist")
    cases = [("convnet-bn", models.build("convnet-bn", 10, (1, 28, 28), **quick.model_kwargs),
              (1, 28, 28)), ("mlp-bn", mlp_bn(), (40,))]
    rows = []
    for name, model, shape in cases:
        rows += bench(name, model, shape, args.n, args.modes, args.repeats, rt.device, peak,
                      args.points)
    if args.no_record:
        return
    lines = [
        "\n## line_scan\n",
        f"{datetime.date.today()}, {rt.device_name()}, torch {torch.__version__}, "
        f"{rt.threads} threads, commit {runtime.git_commit()}. {args.points}-point line, train "
        f"and test sets of {args.n} random images each, bn_batch 128; medians of "
        f"{args.repeats} interleaved repeats. *loop*: per point `vector_to_parameters`, "
        "`update_bn` (recompute), evaluation in batches of 128 under no_grad, batches "
        "sliced from tensors (`landscape.reference_line`); *DataLoader loop*: the same with "
        "batches from a `DataLoader`, as the paper's code feeds them. *FLOP floor*: the "
        f"line's forward FLOPs at the sgemm peak measured in the same run ({peak:.0f} "
        "GFLOP/s); *bound*: loop time / floor, the most any exact fp32 engine can gain over "
        "the loop on this device. convnet-bn = the quick model, "
        f"`models.build('convnet-bn', 10, (1, 28, 28), widths={quick.model_kwargs['widths']})`;"
        " mlp-bn = 40-256-10 with BatchNorm1d.\n",
        "| model | bn_mode | engine (s) | loop (s) | speed-up | DataLoader loop (s) | "
        "speed-up | FLOP floor (s) | bound | max abs diff |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *[f"| {r['model']} | {r['mode']} | {r['engine']:.2f} | {r['loop']:.2f} | "
          f"{r['loop'] / r['engine']:.1f}x | {r['dataloader']:.2f} | "
          f"{r['dataloader'] / r['engine']:.1f}x | {r['floor']:.2f} | "
          f"{r['loop'] / r['floor']:.1f}x | {r['err']:.1e} |" for r in rows], ""]
    _write_section("line_scan", lines)


def _write_section(name, lines):
    """Replace the section `## name` of benchmarks/RESULTS.md (or append it)."""
    path = Path(__file__).with_name("RESULTS.md")
    old = path.read_text() if path.exists() else "# Benchmark results\n"
    head, _, rest = old.partition(f"\n## {name}\n")   # replace only our own section
    tail = rest[rest.find("\n## "):] if "\n## " in rest else ""
    atomic_write_bytes(path, (head.rstrip("\n") + "\n" + "\n".join(lines) + tail).encode())


def record_paper(rows, args, rt, peak):
    """The `--paper` rows, in their own section of RESULTS.md (one per device class)."""
    lines = [
        "\n## line_scan_paper\n",
        f"{datetime.date.today()}, {rt.device_name()}, torch {torch.__version__}, commit "
        f"{runtime.git_commit()}. PreResNet-164 (CIFAR-10 shapes, random images), "
        f"{args.points}-point line in recompute mode, train and test sets of {args.n} images "
        f"each; medians of {args.repeats} repeats; sgemm peak {peak:.0f} GFLOP/s. Columns as "
        "in line_scan; the *DataLoader loop* is the paper's protocol.\n",
        "| engine (s) | loop (s) | speed-up | DataLoader loop (s) | speed-up | max abs diff |",
        "|---|---|---|---|---|---|",
        *[f"| {r['engine']:.2f} | {r['loop']:.2f} | {r['loop'] / r['engine']:.1f}x | "
          f"{r['dataloader']:.2f} | {r['dataloader'] / r['engine']:.1f}x | {r['err']:.1e} |"
          for r in rows], ""]
    _write_section("line_scan_paper", lines)


if __name__ == "__main__":
    main()

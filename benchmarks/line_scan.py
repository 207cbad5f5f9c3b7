"""51-point train+test line scan: the landscape engine against the paper's per-point loop
(set weights, update_bn, evaluate train and test), same model, data and BN mode, timed in
the same run, interleaved, medians of several repeats. Appends a "line_scan" section to
benchmarks/RESULTS.md.

    .venv/bin/python benchmarks/line_scan.py [--repeats 3] [--n 2000] [--modes recompute eval]
"""
import argparse
import datetime
import statistics
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from avalley import landscape as L
from avalley import models
from avalley.directions import random_direction
from avalley.runtime import setup


def mlp_bn(d_in=40, width=256, classes=10):
    return nn.Sequential(nn.Linear(d_in, width), nn.BatchNorm1d(width), nn.ReLU(),
                         nn.Linear(width, classes))


def bench(name, model, shape, n, modes, repeats, device):
    g = torch.Generator().manual_seed(0)
    train, test = [(torch.randn(n, *shape, generator=g).to(device),
                    torch.randint(0, 10, (n,), generator=g).to(device)) for _ in range(2)]
    with torch.no_grad():                 # non-trivial running statistics at the centre
        model.to(device).train()(train[0][:512])
    model.eval()
    u = random_direction(model, "gaussian", seed=0)
    ls = np.linspace(-1, 1, 51)
    rows = []
    for mode in modes:
        t_eng, t_ref = [], []
        for _ in range(repeats):          # interleaved, so load changes hit both alike
            a = time.perf_counter()
            got = L.line(model, u, ls, train, test, bn_mode=mode)
            t_eng.append(time.perf_counter() - a)
            a = time.perf_counter()
            ref = L.reference_line(model, u, ls, train, test, bn_mode=mode)
            t_ref.append(time.perf_counter() - a)
        err = max(np.abs(getattr(got, k) - getattr(ref, k)).max()
                  for k in ("train_loss", "train_acc", "test_loss", "test_acc"))
        e, r = statistics.median(t_eng), statistics.median(t_ref)
        rows.append((name, mode, e, r, r / e, err))
        print(f"{name:10s} {mode:9s} engine {e:7.2f}s  reference {r:7.2f}s  "
              f"ratio {r / e:5.1f}x  max|diff| {err:.1e}", flush=True)
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--n", type=int, default=2000, help="train and test images each")
    ap.add_argument("--modes", nargs="+", default=["recompute", "eval", "batch"])
    ap.add_argument("--device", default="auto")
    args = ap.parse_args()
    rt = setup(args.device, seed=0)
    torch.manual_seed(0)
    cases = [("convnet-bn", models.build("convnet-bn", 10, (1, 28, 28)), (1, 28, 28)),
             ("mlp-bn", mlp_bn(), (40,))]
    rows = []
    for name, model, shape in cases:
        rows += bench(name, model, shape, args.n, args.modes, args.repeats, rt.device)
    lines = [
        "\n## line_scan\n",
        f"{datetime.date.today()}, {rt.device_name()}, torch {torch.__version__}, "
        f"{rt.threads} threads. 51-point line, train and test sets of {args.n} each, "
        f"bn_batch 128; reference = per point `vector_to_parameters`, `update_bn` "
        f"(recompute), eval batches of 128 under no_grad; medians of {args.repeats} "
        "interleaved repeats. convnet-bn = `models.build('convnet-bn', 10, (1, 28, 28))` "
        "(widths 32-64-128); mlp-bn = 40-256-10 with BatchNorm1d.\n",
        "| model | bn_mode | engine (s) | reference (s) | speed-up | max abs diff |",
        "|---|---|---|---|---|---|",
        *[f"| {n} | {m} | {e:.2f} | {r:.2f} | {x:.1f}x | {d:.1e} |"
          for n, m, e, r, x, d in rows], ""]
    path = Path(__file__).with_name("RESULTS.md")
    old = path.read_text() if path.exists() else "# Benchmarks\n"
    head, _, rest = old.partition("\n## line_scan\n")   # replace only our own section
    tail = rest[rest.find("\n## "):] if "\n## " in rest else ""
    path.write_text(head.rstrip("\n") + "\n" + "\n".join(lines) + tail)


if __name__ == "__main__":
    main()

"""How the quick profile's BN convnet recipe was chosen: by the paper's regime, measured,
never by whether a claim of the paper comes out.

The paper's regime (PreResNet-164 on CIFAR-10, 225 epochs, SWA from epoch 126): the SWA
phase averages many epochs of snapshots (100, 44% of the run) at a high constant learning
rate (half the initial one), where SGD is still noisy, on a network that fits its training
data far better than its test data. Stated as criteria before any candidate was trained:

1. fit: the SGD baseline's test loss is at least 3 times its training loss;
2. averaging: the SWA phase takes at least 20 snapshots, one per epoch, at least 40% of the run;
3. noise: at the SWA learning rate the last SGD iterate's training loss is at least twice
   the SGD baseline's (the iterate keeps bouncing instead of settling).

Each candidate is trained for a few seeds (SWA run and SGD baseline); the script prints, per
candidate, the seconds per epoch and the three criteria. The book uses the cheapest candidate
that meets all three. SWA-versus-SGD differences are printed too, for the record, after the
choice is fixed by the criteria above (`--show-outcome`).

    .venv/bin/python scripts/quick_recipe_regime.py --seeds 0 1 [--write data/regime.md]
"""
from __future__ import annotations

import argparse
import statistics
import time

from avalley import recipes, runtime, training

BASE = recipes._RECIPES["convnet-bn-fmnist"]
# A is the recipe before this choice (11 snapshots: it fails criterion 2 by construction).
# Cost per seed is epochs x images; the book's budget (the whole book cold in under 15
# minutes on 2 CPU cores, with at least 5 seeds) rules out more than about 80k image-epochs.
CANDIDATES = {
    "A: 4k images, 20 epochs, SWA from 10": dict(epochs=20, swa_start=10),
    "B: 4k images, 40 epochs, SWA from 21": dict(epochs=40, swa_start=21),
    "C: 4k images, 40 epochs, SWA from 21, crop+flip": dict(epochs=40, swa_start=21,
                                                            augment=True),
    "D: 2k images, 40 epochs, SWA from 21": dict(epochs=40, swa_start=21, n_train=2000),
    "E: 2k images, 30 epochs, SWA from 11": dict(epochs=30, swa_start=11, n_train=2000),
    "F: 2k images, 30 epochs, SWA from 11, crop+flip": dict(epochs=30, swa_start=11,
                                                            n_train=2000, augment=True),
}


def measure(name, fields, seeds, rt):
    rows = []
    for s in seeds:
        rec = recipes.Recipe(**{**BASE, **fields, "seed": s})
        t0 = time.time()
        swa = training.train(rec, rt, progress=False)
        sgd = training.train(recipes.Recipe(**{**rec.to_dict(), "swa_start": None}), rt,
                             progress=False)
        secs = (swa.seconds + sgd.seconds) / (2 * rec.epochs)
        base, last, avg = sgd.metrics["sgd"], swa.metrics["sgd"], swa.metrics["swa"]
        rows.append({"seed": s, "epoch_s": secs, "fit": base["test_loss"] / base["train_loss"],
                     "snapshots": rec.epochs - rec.swa_start + 1,
                     "share": (rec.epochs - rec.swa_start + 1) / rec.epochs,
                     "noise": last["train_loss"] / base["train_loss"],
                     "d_test_loss": avg["test_loss"] - base["test_loss"],
                     "d_train_loss": avg["train_loss"] - base["train_loss"],
                     "d_test_acc": avg["test_acc"] - base["test_acc"],
                     "wall": time.time() - t0})
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--only", nargs="*", help="candidate letters, e.g. B C")
    ap.add_argument("--show-outcome", action="store_true")
    args = ap.parse_args()
    rt = runtime.setup("cpu", quiet=True)
    print(rt.banner())
    letters = args.only or [name[0] for name in CANDIDATES]
    for name, fields in ((n, f) for letter in letters for n, f in CANDIDATES.items()
                         if n[0] == letter):
        rows = measure(name, fields, args.seeds, rt)
        med = {k: statistics.median(r[k] for r in rows) for k in rows[0] if k != "seed"}
        ok = [med["fit"] >= 3, med["snapshots"] >= 20 and med["share"] >= 0.4,
              med["noise"] >= 2]
        print(f"{name}: {med['epoch_s']:.2f} s/epoch (median of {len(rows)} seeds); "
              f"fit {med['fit']:.2f} {'ok' if ok[0] else 'NO'}; snapshots "
              f"{med['snapshots']:.0f} ({100 * med['share']:.0f}%) {'ok' if ok[1] else 'NO'}; "
              f"noise {med['noise']:.2f} {'ok' if ok[2] else 'NO'}"
              + ("  -> meets all three" if all(ok) else ""), flush=True)
        if args.show_outcome:
            for r in rows:
                print(f"    seed {r['seed']}: SWA-SGD test loss {r['d_test_loss']:+.4f}, train "
                      f"loss {r['d_train_loss']:+.4f}, test acc {100 * r['d_test_acc']:+.2f}%")


if __name__ == "__main__":
    main()

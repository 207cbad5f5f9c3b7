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

    .venv/bin/python scripts/quick_recipe_regime.py --seeds 0 1 --write data/regime/quick_recipe.md

The book's recipe `convnet-bn-fmnist` is candidate I, the only one that met all three (C and
D were not trained: C adds augmentation, like F, G, H and J, which did not fit; D drops it at
batch 128, like B and E, whose SGD stopped bouncing).
"""
from __future__ import annotations

import argparse
import statistics
import time

from avalley import recipes, runtime, training

# the recipe before this choice; each candidate changes only the fields it names
BASE = dict(dataset="fashion-mnist", model="convnet-bn", n_train=4000, n_test=10000,
            model_kwargs={"widths": (16, 64, 128)}, epochs=20, batch_size=128, lr=0.1,
            momentum=0.9, weight_decay=5e-4, swa_start=10, swa_lr=0.05)
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
    # after B (no augmentation: the net memorizes, SGD stops bouncing, noise 1.08) and F
    # (augmentation: it no longer fits, fit 1.44): augmentation on fewer images, more epochs
    "G: 1k images, 60 epochs, SWA from 21, crop+flip": dict(epochs=60, swa_start=21,
                                                            n_train=1000, augment=True),
    "H: 1k images, 40 epochs, SWA from 11, crop+flip": dict(epochs=40, swa_start=11,
                                                            n_train=1000, augment=True),
    # after G and H (with augmentation the small net still does not fit in this budget, fit
    # 2.3 and 1.7): the runs above take only 7-31 SGD steps an epoch (a few hundred in all,
    # the paper ~88,000), so SGD settles; batches of 32 give 4x the steps for the same images
    "I: 2k images, 30 epochs, SWA from 11, batch 32": dict(epochs=30, swa_start=11,
                                                           n_train=2000, batch_size=32),
    "J: 2k images, 30 epochs, SWA from 11, batch 32, crop+flip": dict(
        epochs=30, swa_start=11, n_train=2000, batch_size=32, augment=True),
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
    ap.add_argument("--write", help="also write the lines printed to this Markdown file")
    ap.add_argument("--show-outcome", action="store_true",
                    help="also print the SWA-versus-SGD differences (after the choice)")
    args = ap.parse_args()
    rt = runtime.setup("cpu", quiet=True)
    out = [rt.banner()]
    print(out[0])
    letters = args.only or [name[0] for name in CANDIDATES]
    for name, fields in ((n, f) for letter in letters for n, f in CANDIDATES.items()
                         if n[0] == letter):
        rows = measure(name, fields, args.seeds, rt)
        med = {k: statistics.median(r[k] for r in rows) for k in rows[0] if k != "seed"}
        ok = [med["fit"] >= 3, med["snapshots"] >= 20 and med["share"] >= 0.4,
              med["noise"] >= 2]
        out.append(f"{name}: {med['epoch_s']:.2f} s/epoch (median of {len(rows)} seeds); "
                   f"fit {med['fit']:.2f} {'ok' if ok[0] else 'NO'}; snapshots "
                   f"{med['snapshots']:.0f} ({100 * med['share']:.0f}%) "
                   f"{'ok' if ok[1] else 'NO'}; noise {med['noise']:.2f} "
                   f"{'ok' if ok[2] else 'NO'}" + ("  -> meets all three" if all(ok) else ""))
        print(out[-1], flush=True)
        if args.show_outcome:
            for r in rows:
                print(f"    seed {r['seed']}: SWA-SGD test loss {r['d_test_loss']:+.4f}, train "
                      f"loss {r['d_train_loss']:+.4f}, test acc {100 * r['d_test_acc']:+.2f}%")


    if args.write:
        from pathlib import Path
        text = ("# How the quick BN convnet's recipe was chosen\n\nOutput of "
                "`scripts/quick_recipe_regime.py` (its docstring states the criteria; seconds "
                "per epoch on a shared, loaded 2-core CPU with 1 thread):\n\n"
                + "\n".join(f"- {line}" for line in out) + "\n")
        Path(args.write).parent.mkdir(parents=True, exist_ok=True)
        Path(args.write).write_text(text)


if __name__ == "__main__":
    main()

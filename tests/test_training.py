import threading

import pytest
import torch

from avalley import data, errors, recipes, runtime, training
from avalley.errors import ParameterError
from avalley.recipes import Recipe
from avalley.training import learning_rate

# tiny runs: a BN convnet and an MLP on digits (about a second each)
CONV = Recipe(dataset="digits", model="convnet-bn", n_train=256, n_test=128,
              model_kwargs={"widths": (4, 8)}, epochs=4, batch_size=64, lr=0.05,
              swa_start=2, swa_lr=0.02)
MLP = Recipe(dataset="digits", model="mlp", n_train=256, n_test=128,
             model_kwargs={"width": 16}, epochs=4, batch_size=64, lr=0.05,
             swa_start=2, swa_lr=0.02)


@pytest.fixture(scope="module")
def rt():
    return runtime.setup("cpu", quiet=True)


def _state_equal(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_paper_schedule_values():
    swa = Recipe(dataset="digits", model="mlp", epochs=225, lr=0.1, swa_start=126,
                 swa_lr=0.05)
    # t = epoch / 126: constant to t = 0.5, linear to swa_lr at t = 0.9, then constant
    for epoch, t in [(0, 0), (63, 0.5), (80, 80 / 126), (100, 100 / 126), (113, 113 / 126),
                     (114, 114 / 126), (200, 200 / 126)]:
        factor = 1 if t <= 0.5 else 0.5 if t > 0.9 else 1 - 0.5 * (t - 0.5) / 0.4
        assert learning_rate(swa, epoch) == pytest.approx(0.1 * factor)
    # without SWA: t = epoch / epochs and the end value is 1% of lr
    sgd = Recipe(dataset="digits", model="mlp", epochs=200, lr=0.1)
    assert learning_rate(sgd, 100) == pytest.approx(0.1)
    assert learning_rate(sgd, 140) == pytest.approx(0.1 * (1 - 0.99 * 0.5))
    assert learning_rate(sgd, 180) == pytest.approx(0.001)
    assert learning_rate(sgd, 199) == pytest.approx(0.001)


@pytest.mark.slow
def test_swa_weights_are_the_mean_of_the_epoch_snapshots(rt):
    res = training.train(MLP, rt, cache=False, progress=False)
    # the SGD iterate after epoch k of this run is the final iterate of a k-epoch run: the
    # schedule depends on swa_start only and the data order on the seed
    snaps = [training.train(Recipe(**{**MLP.to_dict(), "epochs": k}), rt, cache=False,
                            progress=False).model for k in (2, 3)] + [res.model]
    for name, p in res.swa_model.named_parameters():
        mean = torch.stack([dict(s.named_parameters())[name] for s in snaps]).mean(0)
        torch.testing.assert_close(p, mean, rtol=1e-6, atol=1e-7)
    assert [h["swa_snapshots"] for h in res.history] == [0, 1, 2, 3]


@pytest.mark.slow
def test_update_bn_statistics_equal_a_direct_computation(rt):
    res = training.train(CONV, rt, cache=False, progress=False)
    ds = data.load("digits", CONV.n_train, CONV.n_test)
    bn = res.swa_model[1]
    with torch.no_grad():
        feats = [res.swa_model[0](xb) for xb, _ in data.batches(ds.x_train, ds.y_train, 64)]
    # update_bn's momentum=None running average: the mean over batches of batch statistics
    mean = torch.stack([f.mean((0, 2, 3)) for f in feats]).mean(0)
    var = torch.stack([f.var((0, 2, 3)) for f in feats]).mean(0)    # unbiased per batch
    torch.testing.assert_close(bn.running_mean, mean, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(bn.running_var, var, rtol=1e-5, atol=1e-6)
    assert set(res.metrics) == {"sgd", "swa"}
    assert all(0 <= m["test_acc"] <= 1 and m["train_loss"] > 0 for m in res.metrics.values())


class Killed(Exception):
    pass


def _kill_after(monkeypatch, n_batches):
    """Make the training loop raise after `n_batches` training batches, as a kill would."""
    real, seen = data.batches, [0]

    def batches(*args, **kwargs):
        for b in real(*args, **kwargs):
            if kwargs.get("shuffle"):
                seen[0] += 1
                if seen[0] > n_batches:
                    raise Killed
            yield b
    monkeypatch.setattr(data, "batches", batches)


@pytest.mark.slow
def test_resume_after_a_kill_equals_an_uninterrupted_run(rt, tmp_path, monkeypatch):
    full = training.train(CONV, rt, root=tmp_path / "a", progress=False)
    _kill_after(monkeypatch, 10)                  # 4 batches per epoch: dies in epoch 3
    with pytest.raises(Killed):
        training.train(CONV, rt, root=tmp_path / "b", progress=False)
    ck = torch.load(tmp_path / "b" / full.key / "checkpoint.pt", weights_only=False)
    assert ck["epoch"] == 2
    monkeypatch.undo()
    resumed = training.train(CONV, rt, root=tmp_path / "b", progress=False)
    assert not resumed.from_cache
    assert _state_equal(full.model, resumed.model)
    assert _state_equal(full.swa_model, resumed.swa_model)
    assert full.metrics == resumed.metrics
    assert not (tmp_path / "b" / full.key / "checkpoint.pt").exists()


@pytest.mark.slow
def test_nan_loss_names_the_epoch_and_keeps_the_last_checkpoint(rt, tmp_path, monkeypatch):
    real, calls = data.batches, [0]

    def poisoned(x, y, *args, **kwargs):
        if kwargs.get("shuffle"):
            calls[0] += 1
            if calls[0] == 3:                     # the third epoch sees a NaN input
                x = x.clone()
                x[0] = float("nan")
        return real(x, y, *args, **kwargs)
    monkeypatch.setattr(data, "batches", poisoned)
    with pytest.raises(errors.TrainingDiverged, match="epoch 3 of 4") as e:
        training.train(MLP, rt, root=tmp_path, progress=False)
    assert "epoch 2" in str(e.value)                # the kept checkpoint is named
    folder = tmp_path / training.recipe_key(MLP, "cpu")
    assert torch.load(folder / "checkpoint.pt", weights_only=False)["epoch"] == 2
    assert not (folder / "result.pt").exists()


@pytest.mark.slow
def test_cache_hit_and_two_concurrent_requests(rt, tmp_path):
    results = []
    threads = [threading.Thread(target=lambda: results.append(
        training.train(MLP, rt, root=tmp_path, progress=False))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.from_cache for r in results) == [False, True]   # trained once
    again = training.train(MLP, rt, root=tmp_path, progress=False)
    assert again.from_cache and again.metrics == results[0].metrics
    assert _state_equal(again.model, results[0].model)
    assert _state_equal(again.swa_model, results[0].swa_model)
    other = Recipe(**{**MLP.to_dict(), "seed": 1})
    assert training.recipe_key(other, "cpu") != again.key


@pytest.mark.parametrize("name", recipes.RECIPES)
def test_recipes_resolve(name):
    swa, sgd = (recipes.get(name, seed=3, swa=s) for s in (True, False))
    assert swa.swa and not sgd.swa and sgd.seed == 3
    assert {**swa.to_dict(), "swa_start": None} == sgd.to_dict()   # the same budget


def test_scale_shrinks_the_budget_and_nothing_else():
    full = recipes.get("preresnet164-cifar100", seed=2)
    tiny = recipes.get("preresnet164-cifar100", seed=2, scale=0.002)
    assert tiny.epochs == 1 and tiny.swa_start == 1
    assert tiny.n_train == 256 and tiny.n_test == 128          # two batches, one batch
    same = {k: v for k, v in full.to_dict().items()
            if k not in ("epochs", "swa_start", "n_train", "n_test")}
    assert same == {k: v for k, v in tiny.to_dict().items() if k in same}
    half = recipes.get("convnet-bn-fmnist", scale=0.5)
    assert half.epochs * 2 in (recipes.get("convnet-bn-fmnist").epochs,
                               recipes.get("convnet-bn-fmnist").epochs + 1)
    assert recipes.get("mlp-mnist1d", scale=1.0) == recipes.get("mlp-mnist1d")


def test_shared_recipe_errors():
    with pytest.raises(ParameterError, match="convnet-bn-fmnist"):
        recipes.get("resnet")
    with pytest.raises(ParameterError, match="Unknown recipe field"):
        recipes.get("convnet-bn-fmnist", widths=3)


@pytest.mark.slow
def test_smoke_recipes_train(rt):
    for name in ("convnet-bn-digits", "convnet-digits", "mlp-mnist1d-tiny"):
        res = training.train(recipes.get(name), rt, cache=False, progress=False)
        assert res.metrics["swa"]["train_loss"] < 2.3


def _plain_after_swa(res, ds, rt, lr, epochs):
    """SGD after SWA written out plainly: the reference for `training.after_swa`."""
    import copy

    import torch.nn.functional as F
    from torch.optim.swa_utils import update_bn
    r = res.recipe
    model = copy.deepcopy(res.swa_model)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=r.momentum,
                          weight_decay=r.weight_decay)
    opt.load_state_dict(res.optimizer_state)
    for g in opt.param_groups:
        g["lr"] = lr
    gen = torch.Generator().manual_seed(r.seed + 2)
    images = training.bn_images(ds, r)
    rows = []
    for epoch in range(1, epochs + 1):
        model.train()
        for xb, yb in data.batches(ds.x_train, ds.y_train, r.batch_size, shuffle=True,
                                   generator=gen, augment=r.augment, drop_last=True):
            loss = F.cross_entropy(model(xb.contiguous(memory_format=torch.channels_last)), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
        probe = copy.deepcopy(model)
        update_bn([x.contiguous(memory_format=torch.channels_last)
                   for x in images.split(r.batch_size)], probe)
        probe.eval()
        row = {"epoch": epoch}
        with torch.no_grad():
            for split, x, y in (("train", ds.x_train, ds.y_train), ("test", ds.x_test, ds.y_test)):
                out = probe(x.contiguous(memory_format=torch.channels_last))
                row[f"{split}_loss"] = F.cross_entropy(out, y).item()
        rows.append(row)
        if row["train_loss"] < res.metrics["swa"]["train_loss"] and \
                row["test_loss"] > res.metrics["swa"]["test_loss"]:
            return rows, epoch
    return rows, None


AUG = Recipe(**{**CONV.to_dict(), "augment": True, "epochs": 5, "swa_start": 3})


@pytest.mark.slow
@pytest.mark.parametrize("recipe", [CONV, AUG], ids=["plain", "augmented"])
def test_after_swa_search_equals_a_plain_loop(rt, recipe):
    res = training.train(recipe, rt, cache=False, progress=False)
    ds = data.load(recipe.dataset, recipe.n_train, recipe.n_test)
    got = training.after_swa(res, rt, lr=0.02, max_epochs=6, cache=False, progress=False)
    rows, found = _plain_after_swa(res, ds, rt, 0.02, 6)
    assert got.found_epoch == found and len(got.history) == len(rows)
    for a, b in zip(got.history, rows):
        assert a["train_loss"] == pytest.approx(b["train_loss"], abs=1e-5)
        assert a["test_loss"] == pytest.approx(b["test_loss"], abs=1e-5)
    assert got.chosen_epoch == (found or 6) and got.metrics == got.history[got.chosen_epoch - 1]


@pytest.mark.slow
def test_after_swa_resumes_after_a_kill(rt, tmp_path, monkeypatch):
    res = training.train(CONV, rt, root=tmp_path, progress=False)
    whole = training.after_swa(res, rt, lr=0.02, max_epochs=4, cache=False, progress=False)
    real, calls = training.sgd_epoch, []

    def dies_in_epoch_3(*a, **k):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*a, **k)
    monkeypatch.setattr(training, "sgd_epoch", dies_in_epoch_3)
    with pytest.raises(KeyboardInterrupt):
        training.after_swa(res, rt, lr=0.02, max_epochs=4, root=tmp_path, progress=False)
    monkeypatch.setattr(training, "sgd_epoch", real)
    resumed = training.after_swa(res, rt, lr=0.02, max_epochs=4, root=tmp_path, progress=False)
    assert resumed.history == whole.history and resumed.found_epoch == whole.found_epoch
    assert _state_equal(resumed.model, whole.model)
    again = training.after_swa(res, rt, lr=0.02, max_epochs=4, root=tmp_path, progress=False)
    assert again.history == whole.history                  # from the cache


@pytest.mark.slow
@pytest.mark.parametrize("recipe", [CONV, AUG], ids=["plain", "augmented"])
def test_line_ends_reproduce_the_solutions_rows(rt, recipe):
    """t = 0 is SWA and t = 1 the SGD-after-SWA iterate, as the table measures them: one BN
    rule (training.bn_images) and one precision for both (issue: consistency at every
    profile)."""
    from avalley import landscape
    from avalley.directions import between
    res = training.train(recipe, rt, cache=False, progress=False)
    after = training.after_swa(res, rt, lr=0.02, max_epochs=2, cache=False, progress=False)
    ds = data.load(recipe.dataset, recipe.n_train, recipe.n_test)
    sc = landscape.line(res.swa_model, between(res.swa_model, after.model), [-1.0, 0.0, 1.0],
                        (ds.x_train, ds.y_train), (ds.x_test, ds.y_test), bn_mode="recompute",
                        bn_batch=recipe.batch_size, bn_data=training.bn_images(ds, recipe))
    for i, m in ((1, res.metrics["swa"]), (2, after.metrics)):
        assert abs(sc.train_loss[i] - m["train_loss"]) < 1e-4
        assert abs(sc.test_loss[i] - m["test_loss"]) < 1e-4
        assert abs(sc.test_acc[i] - m["test_acc"]) < 1e-9

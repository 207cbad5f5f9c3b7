"""avalley.survey: the grid, scan batching against single-direction line scans, direction
statistics, the window rule (one value per network) and Definition 1 on windows set by the
loss."""
import math

import numpy as np
import pytest
import torch
import torch.nn as nn

from avalley import asymmetry, landscape, survey
from avalley.directions import random_direction

CHANCE = math.log(10)


def convnet():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                        nn.MaxPool2d(2), nn.Conv2d(4, 8, 3, padding=1), nn.BatchNorm2d(8),
                        nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 3))
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(40, 1, 8, 8, generator=g), torch.randint(0, 3, (40,), generator=g)
    net.train()
    with torch.no_grad():
        net(x)
    return net.eval(), (x, y)


# ---- the grid -------------------------------------------------------------------------------

def test_geometric_steps():
    s = survey.geometric_steps(2.0, 5, 16)
    np.testing.assert_allclose(s, [-2, -1, -0.5, -0.25, -0.125, 0, 0.125, 0.25, 0.5, 1, 2])
    assert survey.grid_ratio(s) == pytest.approx(2.0)
    np.testing.assert_array_equal(survey.geometric_steps(3.0, 1, 1), [-3, 0, 3])
    for bad in ((0, 5, 16), (1, 0, 16), (1, 5, 1), (1, 5, 0.5)):
        with pytest.raises(ValueError):
            survey.geometric_steps(*bad)


# ---- scan batching ------------------------------------------------------------------------

@pytest.mark.parametrize("bn_mode", ["eval", "recompute"])
@pytest.mark.parametrize("max_floats", [1e9, 1])     # all directions in one call, or one each
def test_scan_directions_equals_line_scans(bn_mode, max_floats):
    net, train = convnet()
    dirs = [random_direction(net, k, seed=j) for j, k in enumerate(("uniform", "gaussian",
                                                                    "filter"))]
    steps = survey.geometric_steps(1.0, 3, 4)
    units = np.array([0.5, 1.0, 2.0])
    bn_x = train[0][:24]
    sc = survey.scan_directions(net, dirs, steps, train, units=units, bn_mode=bn_mode,
                                bn_batch=8, bn_data=bn_x, max_floats=max_floats)
    grid, losses = sc.on_grid()
    assert losses.shape == (3, len(steps)) and np.all(grid == steps)
    assert sc.calls == (1 if max_floats > 1 else 3) and sc.points == 1 + 3 * (len(steps) - 1)
    assert sc.meta["n_bn"] == (24 if bn_mode == "recompute" else 0)
    for i, d in enumerate(dirs):
        ref = landscape.reference_line(net, d, steps * units[i], train, train, bn_mode=bn_mode,
                                       bn_batch=8, bn_data=bn_x)
        np.testing.assert_allclose(losses[i], ref.train_loss, atol=1e-5, rtol=0)
    # the centre is one evaluation, shared by every direction
    assert np.all(losses[:, len(steps) // 2] == sc.centre)


def test_scan_directions_refuses():
    net, train = convnet()
    d = [random_direction(net, "gaussian")]
    with pytest.raises(ValueError, match="contain the centre"):
        survey.scan_directions(net, d, [-1.0, 1.0], train)
    with pytest.raises(ValueError, match="positive"):
        survey.scan_directions(net, d, [-1.0, 0.0, 1.0], train, units=[0.0])
    with pytest.raises(ValueError, match="at least one"):
        survey.scan_directions(net, [], [-1.0, 0.0, 1.0], train)


def fake_engine(monkeypatch, slopes, centre=0.1, ceiling=None):
    """Replace the engine by V-shaped curves: direction i rises with slope slopes[i][0]
    towards -u and slopes[i][1] towards +u (optionally capped); counts the points asked."""
    asked = []

    def evaluate_along(model, dirs, offsets, train, centre=True, **kw):
        out = []
        for i, o in enumerate(offsets):
            o = np.asarray(o, float)
            y = centre_loss + np.where(o < 0, -slopes[i][0] * o, slopes[i][1] * o)
            out.append(np.minimum(y, ceiling) if ceiling else y)
            asked.append(o.size)
        return (centre_loss if centre else None), out, 1
    centre_loss = centre
    monkeypatch.setattr(survey, "evaluate_along", evaluate_along)
    return asked


class Dummy:
    def __init__(self, n=1):
        self.vec = torch.zeros(n)
        self.meta = {}


def test_scan_levels_brackets_every_crossing(monkeypatch):
    slopes = [(1.0, 1.0), (8.0, 1.0), (1.0, 30.0), (0.001, 0.002)]
    fake_engine(monkeypatch, slopes)
    monkeypatch.setattr(landscape, "has_bn", lambda m: False)
    dirs = [Dummy() for _ in slopes]
    sc = survey.scan_levels(None, dirs, (torch.zeros(1), torch.zeros(1)), CHANCE, reach=1.0,
                            start=(-2, 0), max_rounds=10)
    r = survey.level_ratios(sc, CHANCE)
    np.testing.assert_allclose(np.exp(r["log_ratio"][:3]),
                               [[1] * 3, [8] * 3, [30] * 3], rtol=1e-9)   # linear: exact
    for (steps, y), (sm, sp) in zip(sc.curves[:3], slopes):
        h = CHANCE - 0.1
        for f in asymmetry.LEVEL_FRACTIONS:        # each crossing between two lattice points
            for side, slope in ((steps[steps > 0], sp), (-steps[steps < 0], sm)):
                d = f * h / slope
                assert np.any(side <= d) and np.any(side >= d)
                lo, hi = side[side <= d].max(), side[side >= d].min()
                assert hi / lo <= 2 ** 0.5 + 1e-9
    # the almost flat direction never reaches the levels: censored, within max_rounds
    assert list(r["status"][3]) == ["level not reached"] * 3
    assert sc.meta["rounds"] <= 11


def test_scan_levels_extra_points_and_a_real_model():
    net, train = convnet()
    dirs = [random_direction(net, "gaussian", seed=j) for j in range(2)]
    sc = survey.scan_levels(net, dirs, train, math.log(3), reach=1.0, start=(-1, 0),
                            extra=(-3,), max_rounds=2, bn_mode="eval", bn_batch=8)
    for d, (steps, y) in zip(dirs, sc.curves):
        assert np.any(np.isclose(steps, 2 ** -1.5)) and np.any(np.isclose(steps, -2 ** -1.5))
        ref = landscape.reference_line(net, d, steps, train, train, bn_mode="eval")
        np.testing.assert_allclose(y, ref.train_loss, atol=1e-5, rtol=0)
    assert sc.meta["rounds"] >= 1 and sc.points == 1 + sum(len(s) - 1 for s, _ in sc.curves)


# ---- direction statistics -----------------------------------------------------------------

def test_geometry_uniform_directions_are_one_direction():
    net, _ = convnet()
    u = [random_direction(net, "uniform", seed=j) for j in range(4)]
    g = [random_direction(net, "gaussian", seed=j) for j in range(4)]
    gu, gg = survey.geometry(u, net), survey.geometry(g, net)
    # U(0,1) entries: cos with the ones vector -> E[x]/sqrt(E[x^2]) = (1/2)/sqrt(1/3)
    np.testing.assert_allclose(gu["cos_ones"], math.sqrt(3) / 2, atol=0.05)
    assert gu["pairs"]["mean"] > 0.65 and gu["pairs"]["participation_ratio"] < 2
    assert abs(gg["pairs"]["mean"]) < 0.2 and gg["pairs"]["participation_ratio"] > 3
    # an all-positive direction agrees with exactly the positive weights
    np.testing.assert_allclose(gu["sign_agreement"], survey.positive_share(net), atol=1e-12)
    assert survey.geometry(u[:1], net)["pairs"] is None


def test_weights_norm_subsets():
    net, _ = convnet()
    w = torch.cat([p.detach().reshape(-1) for p in net.parameters()])
    assert survey.weights_norm(net) == pytest.approx(float(w.norm()), rel=1e-6)
    bn = torch.cat([p.detach().reshape(-1) for m in net.modules()
                    if isinstance(m, nn.BatchNorm2d) for p in m.parameters()])
    assert survey.weights_norm(net, "bn") == pytest.approx(float(bn.norm()), rel=1e-6)


# ---- the window rule ----------------------------------------------------------------------

def vee(steps, flat, sharp, centre=0.1, ceiling=None):
    """A V-shaped valley: slope `flat` for l > 0 and `sharp` for l < 0, optionally capped."""
    y = centre + np.where(steps > 0, flat * steps, -sharp * steps)
    return np.minimum(y, ceiling) if ceiling is not None else y


def test_level_ratios_recover_the_slope_ratio_at_every_level():
    steps = survey.geometric_steps(4.0, 25, 256)
    curves = np.stack([vee(steps, 1.0, c) for c in (1.0, 3.0, 8.0)])
    r = survey.level_ratios((steps, curves), CHANCE)
    assert r["log_ratio"].shape == (3, 3)
    np.testing.assert_allclose(np.exp(r["log_ratio"]), [[1] * 3, [3] * 3, [8] * 3], rtol=1e-9)
    assert np.all(r["flat_side"][1:] == 1) and not r["bound"].any()


def test_level_ratio_ignores_a_ceiling_that_a_fixed_window_measures():
    # the steep side (l < 0, slope 4) collapses to chance and stays there, the shallow side
    # (slope 1) grows past chance: at the fixed reach 4 the shallow side has risen more, so
    # the rise ratio calls the wrong side flat; the window set by the loss sees the slopes
    steps = survey.geometric_steps(4.0, 25, 256)
    y = vee(steps, 1.0, 4.0, ceiling=None)
    y[steps < 0] = np.minimum(y[steps < 0], CHANCE)
    r = survey.level_ratios((steps, y[None]), CHANCE, [0.5])
    assert math.exp(r["log_ratio"][0, 0]) == pytest.approx(4.0, rel=1e-9)
    assert r["flat_side"][0, 0] == 1
    assert asymmetry.flat_side(steps, y, 4.0) == -1        # the fixed window: wrong side
    assert asymmetry.rise_ratio(steps, y, 4.0) < 2


def test_network_value_median_bounds_and_refusal():
    lr = np.log([1.5, 3.0, 4.0, np.nan])
    st = np.array(["measured", "measured", "lower bound", "level not reached"], dtype=object)
    v = survey.network_value(lr, st == "lower bound", st)
    assert v["value"] == pytest.approx(math.log(3.0))
    assert v["is_bound"] and v["n"] == 4 and v["n_level_not_reached"] == 1
    assert v["share_asymmetric"] == pytest.approx(0.5)
    st2 = np.array(["measured", "not a valley", "level not reached", "undetermined"],
                   dtype=object)
    v2 = survey.network_value(np.log([2.0, np.nan, np.nan, np.nan]), np.zeros(4, bool), st2)
    assert math.isnan(v2["value"]) and "only 1 of 4" in v2["reason"]
    assert "1 not a valley" in v2["reason"]


# ---- Definition 1 on windows set by the loss ----------------------------------------------

def test_definition1_windows():
    steps = survey.geometric_steps(4.0, 25, 256)
    curves = np.stack([vee(steps, 1.0, 4.0),                     # asymmetric, c* = 4
                       vee(steps, 1.0, 1.2),                     # not asymmetric
                       vee(steps, 0.01, 0.02),                    # never reaches the level
                       vee(steps, 0.0, 4.0)])                    # flat side does not rise
    d = survey.definition1_windows((steps, curves), CHANCE)
    assert list(d["status"]) == ["asymmetric", "not asymmetric", "no window",
                                 "flat side descends"]
    assert d["largest_c"][0] == pytest.approx(4.0)
    # the window is where the sharp side reaches a quarter and half of the way to chance
    h = CHANCE - 0.1
    assert d["r_inner"][0] == pytest.approx(0.25 * h / 4) and \
        d["r_outer"][0] == pytest.approx(0.5 * h / 4)
    counts = survey.status_table(d["status"])
    assert counts["n_no_window"] == 1 and sum(counts.values()) == 4


def test_definition1_fixed_catches_a_side_at_chance():
    steps = survey.geometric_steps(4.0, 25, 256)
    y = vee(steps, 20.0, 0.3)
    y[steps > 0] = np.minimum(y[steps > 0], CHANCE * 0.99)       # a side sitting at chance
    d = survey.definition1_fixed((steps, y[None]), CHANCE, 2.0, 4.0)
    assert list(d["status"]) == ["saturated"]


def test_crossing_span():
    r = 2 ** 0.5
    assert survey.crossing_span([0.5, 0.3], [1.0, np.inf], 1.0, r) == (-4, 0)
    assert survey.crossing_span([3.0], [1.5], 1.0, r) == (1, 4)
    assert survey.crossing_span([np.nan], [0.0], 1.0, r, default=(-4, 0)) == (-4, 0)


# ---- tables and figures for a chapter -----------------------------------------------------

def synthetic_scan(slopes, reach=4.0):
    """A DirectionScan of V-shaped curves (slope towards -u, slope towards +u)."""
    steps = survey.geometric_steps(reach, 25, 256)
    curves = [(steps, vee(steps, sp, sm)) for sm, sp in slopes]
    return survey.DirectionScan(curves, np.ones(len(slopes)), 0.1, 1, 1 + 50 * len(slopes))


def table_rows():
    rows = []
    for s, slopes in ((0, [(3.0, 1.0), (4.0, 1.0), (1.0, 1.0)]),
                      (1, [(2.5, 1.0), (1.0, 6.0), (1.1, 1.0)]),
                      (2, [(0.001, 0.001), (0.001, 0.002), (2.0, 1.0)])):
        labels = [{"recipe": "net", "seed": s, "bn_mode": "eval", "kind": "gaussian",
                   "subset": "all", "direction": j} for j in range(3)]
        rows += survey.direction_rows(synthetic_scan(slopes), labels, CHANCE,
                                      fixed_reach=4.0 if s == 0 else None)
    return rows


def test_direction_rows_and_network_table():
    import pandas as pd
    rows = table_rows()
    assert len(rows) == 9 and rows[0]["fixed_def1"] in survey.DEF1_STATUSES
    assert "fixed_def1" not in rows[3]
    assert rows[0]["lr_0.5"] == pytest.approx(math.log(3.0))
    assert rows[4]["flat_0.5"] == -1                    # steeper towards +u: the flat side is -u
    df = pd.DataFrame(rows)
    t = survey.network_table(df, ["recipe", "bn_mode", "kind", "subset"])
    assert len(t) == 3 * 3                                # 3 networks x 3 levels
    v = survey.seed_values(t, recipe="net", kind="gaussian")
    assert v[0] == pytest.approx(math.log(3.0)) and v[1] == pytest.approx(math.log(2.5))
    assert math.isnan(v[2])                               # 2 of 3 directions never reach a level
    net2 = t[(t["seed"] == 2) & np.isclose(t["fraction"], 0.5)]
    assert survey.left_out(net2, "net") == [f"net, seed 2: {net2['reason'].iloc[0]}"]
    verdict = survey.decide_values(v, "median log ratio", null=math.log(2))
    assert verdict.n_units == 2 and verdict.sign_count == 2
    row = survey.verdict_row(verdict, t[np.isclose(t["fraction"], 0.5)])
    assert row["seeds ≥ threshold"] == "2 of 2" and row["verdict"] == verdict.verdict
    assert row["directions ≥ threshold"] == "5 of 9"
    counts = survey.definition1_counts(df, ["recipe", "bn_mode", "kind"], 0)
    assert list(counts["window"]) == ["fixed (first seed)", "set by the loss"]
    assert counts[list(survey.DEF1_STATUSES)].sum(axis=1).tolist() == [3, 9]
    text = survey.definition1_sentence(counts.iloc[1:])
    assert "of 9 curves are excluded (" in text and "count as asymmetric" in text


def test_paired_and_unmeasurable_values():
    a, b = {0: 1.0, 1: 1.2, 2: np.nan}, {0: 0.5, 1: 0.4, 2: 0.1}
    v = survey.paired_values(a, b, "difference")
    assert v.n_units == 2 and v.estimate == pytest.approx(0.65)
    none = survey.paired_values({0: np.nan}, {0: 1.0}, "difference")
    assert none.verdict == "inconclusive" and none.n_units == 0
    assert survey.decide_values({0: np.nan}, "x").reason == "no network has a value"


def test_next_starts():
    rows = table_rows()[:3]
    st = survey.next_starts(rows, reach=4.0, ratio=2 ** 0.5, default=(-4, 0))
    k_lo, k_hi = st["gaussian", "all"]
    d = [r[f"d_{s}_{f:g}"] for r in rows for s in ("minus", "plus") for f in (0.25, 0.5, 0.75)]
    assert 4.0 * 2 ** (k_lo / 2) <= min(d) and 4.0 * 2 ** (k_hi / 2) >= max(d)


def test_figures_draw(tmp_path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd
    df = pd.DataFrame(table_rows())
    t = survey.network_table(df, ["recipe", "bn_mode", "kind", "subset"])
    for fig in (survey.figure_curves(df, [("net", "eval", "eval")], ["gaussian"], 0,
                                     xlabel="l"),
                survey.figure_levels(t, [("net", "eval")], ["gaussian"], [0, 1, 2]),
                survey.figure_paired(t, [("net", "eval", "a")], ["gaussian"], [0, 1, 2],
                                     ylabel="ratio")):
        fig.savefig(tmp_path / "f.png")
        plt.close(fig)
    assert survey.ratio_text(math.log(2.5), True) == "≥ 2.5"
    assert survey.ratio_text(float("nan"), False) == "—"


def test_overflowed_losses_are_above_every_level():
    """Far along a U(0,1) direction a deep net without BN overflows fp32 (inf, or NaN from
    inf - inf): such a point counts as above every level instead of stopping the chapter."""
    steps = np.array([-4.0, -2.0, -1.0, 0.0, 1.0, 2.0, 4.0])
    finite = np.array([3.0, 2.0, 1.0, 0.1, 0.5, 1.2, 3.0])
    for bad in (np.inf, np.nan):
        y = finite.copy()
        y[0] = y[-1] = bad
        got = survey.level_ratios([(steps, y)], chance=2.3, fractions=[0.5])
        ref = survey.level_ratios([(steps, finite)], chance=2.3, fractions=[0.5])
        assert np.allclose(got["log_ratio"], ref["log_ratio"])
        assert got["status"][0, 0] == ref["status"][0, 0]

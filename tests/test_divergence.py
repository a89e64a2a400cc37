"""Divergence is an outcome per member: never plotted as data, never a passing claim.

Fast tests run the studies' helpers on small synthetic results with a diverged member; the slow ones
run a study end to end (snakemake, in a copy of the project under a temporary folder) at a tiny config
with a learning rate too large for some members, then check the results files, the figure data and the
claims (and the scorecard built from them).
"""
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import copy_project

import torch

from spdl.claims import load_claims, write_scorecard
from spdl.models import MLP, init_params
from spdl.studies import activity_weight_duality as awd
from spdl.studies import deep_linear as dl



def run_study(work, study, config: dict):
    (work / "tiny.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    run = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2", "--configfile=tiny.yaml", study],
                         cwd=work, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-6000:]
    return {c["id"]: c for c in json.loads((work / f"results/claims/{study}.json").read_text())["claims"]}


def assert_scorecard_says_diverged(work, study, ids):
    claims = load_claims([work / f"results/claims/{study}.json"])
    write_scorecard(claims, work / "card.md", work / "card.json")
    card = json.loads((work / "card.json").read_text())
    assert card["studies"][study]["diverged"] == len(ids)
    md = (work / "card.md").read_text()
    for i in ids:
        line = next(x for x in md.splitlines() if f"`{i}`" in x)
        assert "**DIVERGED**" in line and "a run it depends on diverged" in line, line


# ----------------------------------------------------------------------------------------------- deep_linear
def test_member_minima_ignore_what_came_before_a_blow_up():
    t = np.arange(5.0)
    curves = np.array([[1.0, 1.0], [0.5, 0.2], [0.4, np.nan], [0.6, np.nan], [0.7, np.nan]])  # member 1 blew up
    mins, t_opt = dl.member_minima(t, curves, [False, True])
    assert mins[0] == 0.4 and t_opt[0] == 2.0
    assert np.isnan(mins[1]) and np.isnan(t_opt[1])  # not the 0.2 reached before the blow-up
    assert np.array_equal(dl.mean_curve(curves, [False, True]), curves[:, 0])
    assert np.isnan(dl.mean_curve(curves, [True, True])).all()


def test_transfer_table_counts_diverged_runs_and_keeps_them_out_of_the_mean():
    runs = pd.DataFrame(dict(sbar_a=[1.0] * 4 + [100.0] * 2, sbar_b=[3.0] * 6, q=[0.0, 0.0, 1.0, 1.0, 0.0, 0.0],
                             transfer=[0.1, 0.3, 0.5, np.nan, np.nan, np.nan],
                             diverged=[False, False, False, True, True, True]))
    agg = dl.transfer_table(runs).set_index(["sbar_a", "q"])
    assert agg.loc[(1.0, 0.0), "mean"] == pytest.approx(0.2) and agg.loc[(1.0, 0.0), "n_diverged"] == 0
    assert agg.loc[(1.0, 1.0), "mean"] == 0.5 and agg.loc[(1.0, 1.0), "n_diverged"] == 1
    assert np.isnan(agg.loc[(100.0, 0.0), "mean"]) and agg.loc[(100.0, 0.0), "n"] == 2  # all diverged: no number


DEEP_LINEAR_TINY = {
    "scale": "quick",
    "deep_linear": {
        "modes": {"shat": [1, 30], "wave_shat": {"min": 0.5, "max": 4.0, "n": 4}, "wave_times": [0.5, 1],
                  "eps": 1.0e-3, "lr": 0.1, "t_max": 2.0},  # lr 0.1 is unstable for shat = 30
        "spectrum": {"example": {"n1": 20, "aspect": 0.5, "sbar": [3, 2], "seed": 0}, "n1": 20, "aspects": [0.5],
                     "sbar": {"min": 0.5, "max": 3.0, "n": 3}, "seeds": 2},
        "dynamics": {"n1": 12, "n2": 6, "n3": 6, "snr": [2, 8], "seeds": 2, "n_records": 20,
                     "depths": [{"hidden_layers": 1, "eps": 1.0e-3, "lr": 0.06, "t_max": 4.0},
                                {"hidden_layers": 3, "eps": 1.0e-3, "lr": 1.0e-2, "t_max": 4.0}]},
        "transfer": {"n1": 12, "n3_per_task": 6, "n2": 6, "eps": 1.0e-3, "lr": 0.05, "t_max": 2.0, "seeds": 2,
                     "q": [0.0, 1.0], "sbar_a": [0.84, 3.0, 100.0], "sbar_b": [3.0, 10.0]},
        "varying_p": {"n1": 10, "n2": 5, "n3": 5, "p_ratio": [1, 2], "effective_snr": [1.0, 20.0], "lr": 0.1,
                      "t_max": 8.0, "seeds": 2},
        "optimum": {"snr": {"min": 0.5, "max": 8.0, "n": 5}},
    },
}


@pytest.mark.slow  # reason: a snakemake run of the whole study (about a minute on 2 cores)
def test_deep_linear_diverged_members_are_outcomes(root, tmp_path):
    work = copy_project(tmp_path)
    claims = run_study(work, "deep_linear", DEEP_LINEAR_TINY)
    res = {n: np.load(work / f"results/deep_linear/{n}.npz")
           for n in ("modes", "dynamics_h1", "dynamics_h3", "transfer", "varying_p")}
    figs = work / "results/figures/deep_linear"

    # which claims each diverged member makes fail; derived from the recorded flags, per member
    expect = set()
    if res["modes"]["diverged"].any():
        expect.add("mode_dynamics_match_ode")
        assert pd.read_csv(figs / "fig1_mode_dynamics.csv").diverged.any()
    for h in (1, 3):
        d = res[f"dynamics_h{h}"]
        div, ta = d["diverged"].astype(bool), d["init"] == "aligned"
        assert (d["diverged_step"] >= 0).sum() == div.sum()
        if div[ta].any():
            expect |= {f"h{h}_{c}" for c in ("test_follows_theory", "train_follows_theory", "test_rises_after_minimum",
                                            "train_monotone", "t_opt_matches_theory")}
            if h == 1:
                expect |= {"nongradient_beats_gd", "nongradient_margin_only_several_modes",
                           "nongradient_gap_matches_theory"}
        if div.any():
            expect |= {f"h{h}_random_same_min_test", f"h{h}_random_learns_later"}
            csv = pd.read_csv(figs / f"fig{3 if h == 1 else 4}_dynamics_{h}hidden.csv")
            assert csv.n_diverged.max() > 0
    tr = res["transfer"]
    assert tr["diverged"].shape == tr["transfer"].shape  # one flag per run, not one for the sweep
    assert np.isnan(tr["transfer"][tr["diverged"]]).all() and np.isfinite(tr["transfer"][~tr["diverged"]]).all()
    assert tr["diverged"].any() and not tr["diverged"].all()
    if tr["diverged"][tr["sbar_a"] == tr["sbar_a"].max()].any():
        expect.add("transfer_strong_negligible")
    fig5 = pd.read_csv(figs / "fig5_transfer.csv")
    assert fig5.n_diverged.sum() == tr["diverged"].sum()
    assert fig5[fig5.n_diverged == fig5.n]["mean"].isna().all()  # a condition whose runs all diverged: no point
    vp = res["varying_p"]
    if vp["diverged"].any():
        expect |= {"varying_p_collapse", "varying_p_on_theory"}
        assert np.isnan(vp["min_test"][vp["diverged"].astype(bool)]).all()
        assert pd.read_csv(figs / "fig6_varying_p.csv").n_diverged.sum() == vp["diverged"].sum()

    # the tiny config diverges in every kind of run; each of those claims fails as diverged, none passes
    assert {"mode_dynamics_match_ode", "transfer_strong_negligible", "varying_p_collapse",
            "h1_random_same_min_test"} <= expect
    got = {i for i, c in claims.items() if c["status"] == "diverged"}
    assert got == expect, (sorted(got - expect), sorted(expect - got))
    assert not any(claims[i]["passed"] for i in expect)
    assert_scorecard_says_diverged(work, "deep_linear", sorted(expect))


# ----------------------------------------------------------------------------------------- mislabeled_phases
MISLABELED_TINY = {
    "scale": "quick",
    "mislabeled_phases": {
        "n_correct": 200, "hidden": [100, 100], "batch_size": 20, "epochs": 30, "rho": [0.0, 0.2, 0.5], "seeds": 3,
        "lr": 2.0,  # too large: some members blow up within a few steps, the others never leave phase II
        "n_records": 16, "n_minibatches": 3, "control": {"weight_decay": [0.02], "seeds": 1},
        "cleaning": {"n_records": 6}, "curves_rho": [0.0, 0.5], "speedup_steps": 10,
    },
}


@pytest.mark.slow  # reason: a snakemake run of the whole study, data preparation included (about a minute)
def test_mislabeled_phases_diverged_runs_and_missing_phases_are_outcomes(root, tmp_path):
    work = copy_project(tmp_path)
    claims = run_study(work, "mislabeled_phases", MISLABELED_TINY)
    out = work / "results/mislabeled_phases"
    S = MISLABELED_TINY["mislabeled_phases"]["seeds"]
    sweeps = {r: np.load(out / f"sweep_rho{r:g}.npz") for r in MISLABELED_TINY["mislabeled_phases"]["rho"]}
    for d in sweeps.values():
        assert d["diverged"].shape == d["seed"].shape and ((d["diverged_step"] >= 0) == d["diverged"]).all()
    div0 = sweeps[0.0]["diverged"][:S].any()
    div_pos = any(sweeps[r]["diverged"][:S].any() for r in sweeps if r > 0)
    div_control = any(sweeps[r]["diverged"].any() for r in sweeps if r > 0)
    assert div0 and div_pos, "the tiny config is meant to diverge at every rho"

    # the cleaning rule records what it could not do instead of crashing
    cl = np.load(out / "cleaning.npz")
    assert cl["found"].dtype == bool and cl["diverged"].dtype == bool
    assert np.isnan(cl["precision"][~cl["found"]]).all() and np.isnan(cl["cleaned_test"][~cl["found"]]).all()
    noisy_div = np.concatenate([sweeps[r]["diverged"][:S] for r in sweeps if r > 0])
    assert (cl["diverged"] >= noisy_div).all()  # a row whose noisy run diverged is flagged

    expect = set()
    if div0:
        expect |= {"rho0_alignment_drops_per_seed", "rho0_amplitude_drops_per_seed"}
    if div_pos:
        expect |= {"test_peak_II_above_plateau_IV", "four_phases_at_rho_positive", "t_IV_epochs_increases_with_rho",
                   "phase_II_narrows_with_rho", "loss_separation_max_in_phase_II", "mechanism_gradients_opposed_I_II",
                   "mechanism_strength_crosses_one_at_t_III"}
    if div_control:
        expect |= {"weight_decay_delays_phases", "weight_decay_keeps_test_accuracy"}
    if cl["diverged"].any():
        expect |= {"cleaning_raises_test_accuracy", "cleaning_precision", "cleaning_vs_early_stopping"}
    got = {i for i, c in claims.items() if c["status"] == "diverged"}
    assert got == expect, (sorted(got - expect), sorted(expect - got))
    assert not any(c["passed"] for c in claims.values() if c["id"] in expect)
    # no claim passes on a missing transition either: where no phase II was found, the cleaning claims name it
    if not cl["found"].all():
        assert "phase II not found" in claims["cleaning_precision"]["note"]
    figs = work / "results/figures/mislabeled_phases"
    for name in ("fig1_learning_curves", "fig2_order_parameters", "fig4_control_diagram", "fig5_loss_separation",
                 "fig6_cleaning"):
        assert pd.read_csv(figs / f"{name}.csv").diverged.any(), name
    write_scorecard(load_claims([work / "results/claims/mislabeled_phases.json"]), work / "card.md", work / "card.json")
    assert json.loads((work / "card.json").read_text())["studies"]["mislabeled_phases"]["pass"] == 0
    assert (work / "card.md").read_text().count("**DIVERGED**") == len(expect)


# ----------------------------------------------------------------------------------- activity_weight_duality
def _toy_fit_task():
    g = torch.Generator().manual_seed(4)
    x = torch.rand(120, 10, generator=g)
    y = (x @ torch.randn(10, 3, generator=torch.Generator().manual_seed(9))).argmax(1)
    return MLP((10, 8, 8, 3), "relu"), x, y


def test_train_to_fit_records_which_member_diverged_and_when():
    arch, X, Y = _toy_fit_task()
    stop = dict(loss=0.1, accuracy=0.97, window=2, max_epochs=20)
    params = init_params(arch, [0, 1], scheme="torch_default", init_scale=[2.0, 30.0])
    fit = awd.train_to_fit(arch, params, X, Y, np.ones(len(Y), bool), lr=[0.5, 50.0], seeds=[0, 1], batch_size=20,
                           stop=stop)
    assert fit["diverged"].tolist() == [False, True]
    assert fit["diverged_epoch"].tolist() == [-1, 0]  # blew up during the first epoch
    solo = awd.train_to_fit(arch, [p[:1] for p in params], X, Y, np.ones(len(Y), bool), lr=0.5, seeds=[0],
                            batch_size=20, stop=stop)
    assert solo["stopped"][0] == fit["stopped"][0]  # the diverged member changed nothing for the other
    np.testing.assert_allclose(fit["loss"][:solo["stopped"][0] + 1, 0], solo["loss"][:, 0], rtol=1e-5)


@pytest.mark.parametrize("exact_max", [4096, 10])  # the exact Hessian and the Lanczos regime
def test_a_diverged_network_is_recorded_with_the_shapes_of_an_analysis(exact_max):
    g = torch.Generator().manual_seed(0)
    params = [torch.randn(3, 6, 12, generator=g), torch.randn(3, 6, 6, generator=g), torch.randn(3, 10, 6, generator=g)]
    x_tr, y_tr = torch.rand(40, 12, generator=g).numpy(), np.arange(40) % 10
    x_te, y_te = x_tr[:15] + 0.01, y_tr[:15]
    pair = awd.nearest_same_label(x_te, y_te, x_tr, y_tr)
    kw = dict(sharp=3, exact_max=exact_max, lanczos_k=5)
    one = awd.analyse([p[0] for p in params], x_tr, y_tr, x_te, y_te, pair, **kw)
    blank = awd.nan_analysis(36, len(pair), **kw)
    assert set(blank) == set(one) and all(np.shape(blank[k]) == np.shape(one[k]) for k in one)
    for p in params:
        p[1] = float("nan")  # member 1 diverged
    out = awd.analyse_networks(params, x_tr, y_tr, x_te, y_te, pair, **kw)
    assert out["diverged"].tolist() == [False, True, False]
    assert np.isnan(out["gap"][1]) and np.isfinite(out["gap"][[0, 2]]).all()
    for p in params:
        p[:] = float("nan")  # every member diverged: recorded, not an error
    out = awd.analyse_networks(params, x_tr, y_tr, x_te, y_te, pair, **kw)
    assert out["diverged"].all() and np.isnan(out["eig"]).all() and out["eig"].shape == (3, one["eig"].shape[0])


AWD_TINY = {
    "scale": "quick",
    "activity_weight_duality": {
        "hidden": 30, "n_test": 100, "seeds": 2, "members_per_job": 40,
        "base": {"batch_size": 10, "lr": 0.1, "init_scale": 10.0, "dropout": 0.0, "norm_penalty": 0.0, "rho": 0.0,
                 "n_per_class": 10},
        "sweep_base": {"batch_size": {"n_per_class": 10}},  # the batch sweep around the base itself
        "sweeps": {"batch_size": [10, 50], "lr": [0.1, 2.0],  # lr 2 at init scale 10: a member blows up
                   "init_scale": [1.0, 10.0], "dropout": [0.0, 0.2], "norm_penalty": [0.0, 0.01], "rho": [0.0, 0.2],
                   "n_per_class": [10, 20]},
        "penalty_epochs": 5, "stop": {"loss": 0.01, "accuracy": 0.99, "window": 3, "max_epochs": 30},
        "sharp_directions": 5, "hessian": {"exact_max_weights": 4096, "lanczos_k": 20},
        # lr 2 at init scale 10: runs blow up (not all: the groups of learners mix apart, so a diverged learner
        # poisons only its own run)
        "multilearner": {"learners": 4, "batch_size": 4, "lr": 2.0, "seeds": 2},
    },
}


@pytest.mark.slow  # reason: a snakemake run of the whole study, data preparation included (under a minute)
def test_activity_weight_duality_diverged_networks_are_outcomes(root, tmp_path):
    work = copy_project(tmp_path)
    claims = run_study(work, "activity_weight_duality", AWD_TINY)
    out = work / "results/activity_weight_duality"
    jobs = [np.load(f) for f in sorted(out.glob("job_*.npz"))]
    runs = pd.DataFrame({k: np.concatenate([d[k] for d in jobs]) for k in ("setting", "diverged", "diverged_epoch")})
    multi = np.load(out / "multilearner.npz")
    assert ((runs.diverged_epoch >= 0) == runs.diverged).all()
    assert runs.diverged.any() and not runs.diverged.all(), "the tiny config is meant to diverge in part"
    assert multi["diverged"].any() and np.isnan(multi["gap"][multi["diverged"]]).all()  # recorded, not a crash
    assert np.isfinite(multi["gap"][~multi["diverged"]]).all()  # the other runs are analysed

    def sweep_ends(hp):
        names = awd.sweep_members(AWD_TINY["activity_weight_duality"], hp)
        return {names[0], names[-1]}

    # claims over all networks and the multi-learner claims; the tests of the decomposition use only the
    # networks that fitted and did not diverge, so a diverged network does not fail them
    expect = {"duality_exact", "sigma_g_tracks_sharpness", "c_n_roughly_flat", "means_negligible",
              "estimate_tracks_gap_correlation", "estimate_tracks_gap_ratio", "sharp_directions_dominate",
              "dpsgd_flatter", "dpsgd_similar_size", "dpsgd_smaller_gap"}
    for hp, ids in (("batch_size", ["larger_batch_larger_gap", "batch_size_acts_through_sharpness",
                                    "larger_batch_sharper", "gap_vs_batch_matches_demo"]),
                    ("lr", ["lr_acts_through_sharpness", "lr_flatter", "lr_smaller_gap"]),
                    ("norm_penalty", ["norm_penalty_acts_through_size", "norm_penalty_smaller_size",
                                      "norm_penalty_smaller_gap"]),
                    ("init_scale", ["init_scale_acts_through_size", "init_scale_larger_size", "init_scale_larger_gap"]),
                    ("dropout", ["dropout_smaller_gap"]), ("rho", ["label_noise_larger_gap"]),
                    ("n_per_class", ["training_size_smaller_gap"])):
        if runs[runs.setting.isin(sweep_ends(hp))].diverged.any():  # the batch sweep has only its two ends here
            expect |= set(ids)
    got = {i for i, c in claims.items() if c["status"] == "diverged"}
    assert got == expect, (sorted(got - expect), sorted(expect - got))
    assert not any(claims[i]["passed"] for i in expect)
    assert "lr_acts_through_sharpness" in expect and "init_scale_acts_through_size" not in expect
    figs = work / "results/figures/activity_weight_duality"
    assert pd.read_csv(figs / "fig5_gap_estimate.csv").diverged.sum() == runs.diverged.sum()
    assert pd.read_csv(figs / "fig8_multilearner.csv").diverged.tolist() == multi["diverged"].tolist()
    assert pd.read_csv(figs / "fig6_hyperparameters.csv").n_diverged.max() > 0
    assert_scorecard_says_diverged(work, "activity_weight_duality", sorted(expect))


# ---------------------------------------------------------------------------------------- sgd_noise_flatness
def test_window_analysis_records_diverged_members_with_the_shapes_of_an_analysis():
    from spdl.engine import train
    from spdl.studies import sgd_noise_flatness as snf

    g = torch.Generator().manual_seed(0)
    X, Y = torch.rand(60, 10, generator=g), torch.randint(0, 3, (60,), generator=g)
    arch = MLP((10, 6, 6, 3), "relu", bias=False)
    params = init_params(arch, [0, 1])
    cfg = dict(layer=1, n_pcs=5, profile_pcs=[1, 2], profile_halfwidth=1.0, profile_points=5)
    rec = snf.WindowRecorder(params, 1, 30)
    train(arch, params, X, Y, steps=30, lr=[0.1, 0.1], batch_size=20, loss="cross_entropy", seeds=[0, 1], observe=rec)
    rec.traj[1, 10:] = float("nan")  # member 1 diverged inside the window
    out = snf.analyse_ensemble(arch, rec, [0.1, 0.1], X, Y, cfg)
    blank = snf.nan_window(cfg, 30, 36)
    assert set(out) == set(blank) and all(out[k].shape[1:] == np.shape(blank[k]) for k in blank)
    assert np.isfinite(out["var"][0]).all() and np.isnan(out["var"][1]).all()
    rec.traj[0] = float("nan")  # every member diverged: recorded, not an error
    out = snf.analyse_ensemble(arch, rec, [0.1, 0.1], X, Y, cfg)
    assert np.isnan(out["flatness"]).all() and out["theta12"].shape == (2, 30, 2)
    assert np.isnan(snf.fit_exponent(out["flatness"][0], out["var"][0])).all()  # no fit through nothing
    assert np.isnan(snf.log_slope(out["flatness"][0], out["temperature"][0]))


SNF_TINY = {
    "scale": "quick",
    "sgd_noise_flatness": {
        "n_train": 200, "hidden": [100, 100], "seeds": 3,
        "lr": [0.1, 2.0],  # lr 2: some members blow up in the first steps; the main setting (lr 0.1) does not
        "batch_size": [20, 50], "pretrain_steps": 200, "window_steps": 100, "n_records": 10, "n_pcs": 10,
        "fit_pcs": [2, 10], "profile_pcs": [1, 2, 5], "profile_halfwidth": 3.0, "profile_points": 7,
        "langevin": {"seeds": 2, "lr_fraction": 0.25, "burnin_steps": 20, "window_steps": 60, "record_every": 2},
        "valley": {"c": 1.0, "sigma": 1.0, "replicas": 50, "delta0": 3.75,
                   "drift": {"lr": 0.6, "batch": 1, "steps": 400, "record_every": 10},  # too large: replicas blow up
                   "stationary": {"lr": 0.1, "temp": 1.0e-3, "batch": [5, 20], "steps": 1000, "burnin": 500,
                                  "sample_every": 100},
                   "flat_time": {"lr": [0.1, 0.3], "batch": [2, 10], "steps": 1000, "lambda_tol": 0.05},
                   "critical": {"lr": {"min": 0.2, "max": 1.4, "n": 5}, "batch": [1, 20], "steps": 300,
                                "replicas": 50}},
    },
}


@pytest.mark.slow  # reason: a snakemake run of the whole study, data preparation included (about a minute)
def test_sgd_noise_flatness_diverged_members_and_replicas_are_outcomes(root, tmp_path):
    work = copy_project(tmp_path)
    claims = run_study(work, "sgd_noise_flatness", SNF_TINY)
    out = work / "results/sgd_noise_flatness"
    windows = [np.load(f) for f in sorted(out.glob("sgd_b*.npz"))]
    pre = np.load(out / "pretrain_b20.npz")
    lang, valley = np.load(out / "langevin.npz"), np.load(out / "valley.npz")
    for d in windows + [pre]:
        assert ((d["diverged_step"] >= 0) == d["diverged"]).all()
    for d in windows:
        assert np.isnan(d["var"][d["diverged"]]).all() and np.isfinite(d["var"][~d["diverged"]]).all()
    div = np.concatenate([d["diverged"] for d in windows])
    w20 = np.load(out / "sgd_b20.npz")  # the main setting: first batch size, first lr
    main = w20["diverged"][np.isclose(w20["lr"], 0.1)]
    assert div.any() and not div.all(), "the tiny config is meant to diverge in part"

    expect = set()
    if pre["diverged"].any():
        expect.add("exploration_phase")
    if div.any():
        expect.add("psi_positive_all")
    if main.any():
        expect |= {"sigma1_much_larger", "pc1_along_mean", "psi_value", "temperature_decreases"}
    if lang["diverged"].any():
        expect |= {"control_equilibrated_per_seed", "control_psi_negative_per_seed", "control_equipartition_per_seed"}
    if valley["drift_sgd_diverged"].any():
        expect.add("valley_sgd_reaches_flat")
    if valley["drift_iso_diverged"].any():
        expect.add("valley_iso_no_preference")
    if (valley["stat_diverged"] > 0).any():
        expect.add("valley_stationary_fp")
    assert {"psi_positive_all", "valley_sgd_reaches_flat"} <= expect
    got = {i for i, c in claims.items() if c["status"] == "diverged"}
    assert got == expect, (sorted(got - expect), sorted(expect - got))
    assert not any(claims[i]["passed"] for i in expect)
    figs = work / "results/figures/sgd_noise_flatness"
    assert pd.read_csv(figs / "fig4_variance_flatness.csv").diverged.sum() > 0
    assert pd.read_csv(figs / "fig7_valley_drift.csv").n_diverged.max() > 0
    assert_scorecard_says_diverged(work, "sgd_noise_flatness", sorted(expect))

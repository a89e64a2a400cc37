"""Config validation: every shipped scale is valid; bad configs stop with the key named."""
import copy
import subprocess
import sys

import pytest
import yaml

from spdl.config import ConfigError, load_config, validate_config

SCALES = {"default": ["config/config.yaml"], "quick": ["config/config.yaml", "config/quick.yaml"],
          "paper": ["config/config.yaml", "config/paper.yaml"]}


@pytest.fixture
def default(root):
    return load_config([root / "config/config.yaml"], root / "workflow/schemas")


@pytest.mark.parametrize("scale", SCALES)
def test_shipped_scales_are_valid(root, scale):
    cfg = load_config([root / f for f in SCALES[scale]], root / "workflow/schemas")
    assert cfg["scale"] == scale


@pytest.mark.parametrize("mutate, key", [
    (lambda c: c.update(bogus=1), "unknown key bogus"),
    (lambda c: c["deep_linear"].update(typo_key=3), "unknown key deep_linear.typo_key"),
    (lambda c: c["deep_linear"]["dynamics"].update(n1="many"), "key deep_linear.dynamics.n1"),
    (lambda c: c["deep_linear"]["dynamics"].update(seeds=0), "key deep_linear.dynamics.seeds"),
    (lambda c: c["deep_linear"]["transfer"].update(noise_convention="other"),
     "key deep_linear.transfer.noise_convention"),
    (lambda c: c["deep_linear"]["spectrum"]["example"].update(aspect=2.0), "key deep_linear.spectrum.example.aspect"),
    (lambda c: c["deep_linear"]["dynamics"]["depths"][0].update(lr=-1), "key deep_linear.dynamics.depths.0.lr"),
    (lambda c: c["deep_linear"].pop("transfer"), "missing key deep_linear.transfer"),
    (lambda c: c["activity_weight_duality"]["multilearner"].update(learners=3),
     "key activity_weight_duality.multilearner.learners"),
    (lambda c: c["activity_weight_duality"]["sweeps"].update(dropout=[0.0, 1.0]),
     "key activity_weight_duality.sweeps.dropout"),
    (lambda c: c.update(max_threads=0), "key max_threads"),
    (lambda c: c.update(scale="huge"), "key scale"),
    (lambda c: c.update(device="tpu"), "key device"),
    (lambda c: c["deep_linear"].update(noise_std=float("nan")), "key deep_linear.noise_std: nan is not a finite"),
    (lambda c: c["deep_linear"]["dynamics"]["depths"][0].update(lr=float("nan")),
     "key deep_linear.dynamics.depths.0.lr"),
    (lambda c: c["deep_linear"]["modes"].update(t_max=float("inf")), "key deep_linear.modes.t_max: inf"),
])
def test_bad_config_names_the_key(root, default, mutate, key):
    bad = copy.deepcopy(default)
    mutate(bad)
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        validate_config(bad, root / "workflow/schemas")


def test_snakemake_refuses_bad_config(root, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"deep_linear": {"modes": {"lr": "fast"}}}))
    run = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--cores", "1", "--configfile", str(bad)],
                         cwd=root, capture_output=True, text=True)
    assert run.returncode != 0
    assert "deep_linear.modes.lr" in run.stdout + run.stderr


# ---------------------------------------------------------------------------------------------------------------
# Cross-field and data-size limits of the studies deep_linear, mislabeled_phases, activity_weight_duality and
# sgd_noise_flatness: the schema first, then each study's check_config (as register_study runs them at parse time,
# with the data sizes from config["data"]), so every case below stops before any job with the key named.

def validate_with_study_checks(cfg, schemas):
    from spdl.studies import (activity_weight_duality_checks, deep_linear_checks, mislabeled_phases_checks,
                              sgd_noise_flatness_checks)

    validate_config(cfg, schemas)
    msgs = (deep_linear_checks.check_config(cfg["deep_linear"])
            + mislabeled_phases_checks.check_config(cfg["mislabeled_phases"], cfg["data"])
            + activity_weight_duality_checks.check_config(cfg["activity_weight_duality"], cfg["data"])
            + sgd_noise_flatness_checks.check_config(cfg["sgd_noise_flatness"], cfg["data"]))
    if msgs:
        raise ConfigError("invalid configuration:\n" + "\n".join(f"  - {m}" for m in msgs))


def _set(path, value):
    """mutate: config[path...] = value (path dotted, integers index lists)."""
    def mutate(c):
        *head, last = path.split(".")
        for k in head:
            c = c[int(k)] if isinstance(c, list) else c[k]
        c[int(last) if isinstance(c, list) else last] = value
    return mutate


def _all(*mutations):
    def mutate(c):
        for m in mutations:
            m(c)
    return mutate


DL, MP, AWD, SNF = "deep_linear", "mislabeled_phases", "activity_weight_duality", "sgd_noise_flatness"
STUDY_CASES = [
    # deep_linear
    ("dl_duplicate_depth", _set(f"{DL}.dynamics.depths.1.hidden_layers", 1), f"{DL}.dynamics.depths: hidden_layers 1"),
    ("dl_no_depth_1", _set(f"{DL}.dynamics.depths.0.hidden_layers", 2), f"{DL}.dynamics.depths: needs"),
    ("dl_only_one_depth", lambda c: c[DL]["dynamics"]["depths"].pop(), f"{DL}.dynamics.depths: needs"),
    ("dl_wave_grid_min_above_max", _set(f"{DL}.modes.wave_shat", {"min": 5.0, "max": 1.0, "n": 10}),
     f"{DL}.modes.wave_shat.max"),
    ("dl_sbar_grid_min_above_max", _set(f"{DL}.spectrum.sbar", {"min": 4.0, "max": 0.1, "n": 10}),
     f"{DL}.spectrum.sbar.max"),
    ("dl_optimum_grid_min_equals_max", _set(f"{DL}.optimum.snr", {"min": 2.0, "max": 2.0, "n": 10}),
     f"{DL}.optimum.snr.max"),
    ("dl_duplicate_snr", _set(f"{DL}.dynamics.snr", [2, 4, 4]), f"key {DL}.dynamics.snr: [2, 4, 4] has non-unique"),
    ("dl_duplicate_q", _set(f"{DL}.transfer.q", [0.0, 0.5, 0.5, 1.0]), f"key {DL}.transfer.q"),
    ("dl_q_without_1", _set(f"{DL}.transfer.q", [0.0, 0.5]), f"{DL}.transfer.q: must contain 1"),
    ("dl_two_sbar_a", _set(f"{DL}.transfer.sbar_a", [0.84, 3.0]), f"{DL}.transfer.sbar_a"),
    ("dl_duplicate_p_ratio", _set(f"{DL}.varying_p.p_ratio", [1, 2, 2]), f"key {DL}.varying_p.p_ratio"),
    ("dl_wave_time_after_t_max", _set(f"{DL}.modes.wave_times", [0.5, 9.0]), f"{DL}.modes.wave_times"),
    ("dl_n3_below_rank", _set(f"{DL}.dynamics.n3", 2), f"{DL}.dynamics.n3"),
    ("dl_too_few_steps", _set(f"{DL}.dynamics.depths.0.t_max", 1.0e-3), f"{DL}.dynamics.depths.0.t_max"),
    ("dl_example_rank_above_n3", _set(f"{DL}.spectrum.example", {"n1": 10, "aspect": 0.1, "sbar": [9, 6], "seed": 0}),
     f"{DL}.spectrum.example.sbar"),
    ("dl_one_seed", _set(f"{DL}.dynamics.seeds", 1), f"{DL}.dynamics.seeds"),
    # mislabeled_phases (mnist5k: 4,000 training images)
    ("mp_batch_above_training_set", _set(f"{MP}.batch_size", 2500), f"{MP}.batch_size: 2500 exceeds n_correct"),
    ("mp_n_correct_beyond_dataset", _set(f"{MP}.n_correct", 3000), f"{MP}.n_correct: 3000 correct"),
    ("mp_smaller_split_leaves_too_few", _set("data.mnist5k.test_fraction", 0.5), f"{MP}.n_correct"),
    ("mp_rho_without_0", _set(f"{MP}.rho", [0.1, 0.2, 0.5]), f"{MP}.rho: must contain 0"),
    ("mp_duplicate_rho", _set(f"{MP}.rho", [0.0, 0.25, 0.25, 0.5]), f"key {MP}.rho"),
    ("mp_rho_unsorted", _set(f"{MP}.rho", [0.0, 0.5, 0.25]), f"{MP}.rho: must be sorted"),
    ("mp_rho_formats_alike", _set(f"{MP}.rho", [0.0, 0.25, 0.2500001]), f"{MP}.rho: 0.25 appears 2 times"),
    ("mp_rho_without_mislabeled", _all(_set(f"{MP}.n_correct", 50), _set(f"{MP}.rho", [0.0, 0.005, 0.5]),
                                       _set(f"{MP}.curves_rho", [0.0])), f"{MP}.rho: rho=0.005"),
    ("mp_curves_rho_not_swept", _set(f"{MP}.curves_rho", [0.0, 0.3]), f"{MP}.curves_rho: [0.3]"),
    ("mp_too_few_steps", _set(f"{MP}.epochs", 0.01), f"{MP}.epochs"),
    ("mp_duplicate_weight_decay", _set(f"{MP}.control.weight_decay", [0.01, 0.01]), f"key {MP}.control.weight_decay"),
    # activity_weight_duality (mnist5k: 400 training images per class, 1,000 test images)
    ("awd_base_n_per_class_beyond_class", _set(f"{AWD}.base.n_per_class", 450), f"{AWD}.base.n_per_class: 450"),
    ("awd_swept_n_per_class_beyond_class", _set(f"{AWD}.sweeps.n_per_class", [50, 500]),
     f"{AWD}.sweeps.n_per_class: 500"),
    ("awd_swept_batch_above_training_set", _set(f"{AWD}.sweeps.batch_size", [25, 5000]),
     f"{AWD}.sweeps.batch_size: batch size 5000"),
    ("awd_base_batch_above_small_set", _set(f"{AWD}.sweeps.n_per_class", [1, 200]), f"{AWD}.sweeps.n_per_class"),
    ("awd_duplicate_sweep_value", _set(f"{AWD}.sweeps.lr", [0.05, 0.1, 0.1]), f"key {AWD}.sweeps.lr"),
    ("awd_sweep_values_same_setting", _set(f"{AWD}.sweeps.init_scale", [4, 4.0000001]),
     f"{AWD}.sweeps.init_scale: values"),
    ("awd_n_test_beyond_test_set", _set(f"{AWD}.n_test", 2000), f"{AWD}.n_test: 2000"),
    ("awd_rho_beyond_pool", _set(f"{AWD}.sweeps.rho", [0.0, 0.6]), f"{AWD}.sweeps.rho: rho=0.6"),
    ("awd_multilearner_batch_above_base_set", _set(f"{AWD}.multilearner.batch_size", 4000),
     f"{AWD}.multilearner.batch_size: 4000 exceeds"),
    ("awd_multilearner_batch_not_multiple", _set(f"{AWD}.multilearner.batch_size", 201),
     f"{AWD}.multilearner.batch_size: 201 must be a multiple"),
    ("awd_sharp_directions_all", _set(f"{AWD}.sharp_directions", 900), f"{AWD}.sharp_directions: 900"),
    ("awd_lanczos_k_beyond_layer", _all(_set(f"{AWD}.hidden", 70), _set(f"{AWD}.hessian.lanczos_k", 5000)),
     f"{AWD}.hessian.lanczos_k: 5000"),
    ("awd_too_few_directions", _set(f"{AWD}.hidden", 3), f"{AWD}.hidden: 3 gives 9"),
    ("awd_window_beyond_max_epochs", _set(f"{AWD}.stop.window", 2000), f"{AWD}.stop.window: 2000"),
    # sgd_noise_flatness (mnist5k: 4,000 training images; hidden [50, 50]: layers 0..2, 2,500 weights in layer 1)
    ("snf_layer_out_of_range", _set(f"{SNF}.layer", 3), f"{SNF}.layer: 3 is out of range"),
    ("snf_fit_pcs_beyond_n_pcs", _set(f"{SNF}.fit_pcs", [2, 300]), f"{SNF}.fit_pcs: last PC 300 exceeds n_pcs"),
    ("snf_fit_pcs_empty_range", _set(f"{SNF}.fit_pcs", [5, 5]), f"{SNF}.fit_pcs: first PC 5"),
    ("snf_n_pcs_beyond_layer", _all(_set(f"{SNF}.n_pcs", 2600), _set(f"{SNF}.window_steps", 5000)),
     f"{SNF}.n_pcs: 2600"),
    ("snf_window_shorter_than_pcs", _set(f"{SNF}.window_steps", 150), f"{SNF}.window_steps: 150"),
    ("snf_too_few_control_records", _set(f"{SNF}.langevin.record_every", 500), f"{SNF}.langevin.record_every: 500"),
    ("snf_profile_pc_beyond_n_pcs", _set(f"{SNF}.profile_pcs", [1, 300]), f"{SNF}.profile_pcs: [300]"),
    ("snf_duplicate_profile_pcs", _set(f"{SNF}.profile_pcs", [1, 2, 2]), f"key {SNF}.profile_pcs"),
    ("snf_duplicate_lr", _set(f"{SNF}.lr", [0.1, 0.1]), f"key {SNF}.lr"),
    ("snf_n_train_beyond_dataset", _set(f"{SNF}.n_train", 5000), f"{SNF}.n_train: 5000"),
    ("snf_batch_above_training_set", _all(_set(f"{SNF}.n_train", 1000), _set(f"{SNF}.batch_size", [50, 2000])),
     f"{SNF}.batch_size: [2000]"),
    ("snf_langevin_seeds_beyond_seeds", _set(f"{SNF}.langevin.seeds", 5), f"{SNF}.langevin.seeds: 5"),
    ("snf_critical_grid_min_above_max", _set(f"{SNF}.valley.critical.lr", {"min": 1.4, "max": 0.2, "n": 25}),
     f"{SNF}.valley.critical.lr.max"),
    ("snf_burnin_beyond_steps", _set(f"{SNF}.valley.stationary.burnin", 9000), f"{SNF}.valley.stationary.burnin"),
    ("snf_delta0_already_flat", _set(f"{SNF}.valley.delta0", 0.5), f"{SNF}.valley.delta0: 0.5"),
    ("snf_duplicate_valley_batch", _set(f"{SNF}.valley.stationary.batch", [5, 5]),
     f"key {SNF}.valley.stationary.batch"),
]


@pytest.fixture(scope="module")
def default_once(root):
    return load_config([root / "config/config.yaml"], root / "workflow/schemas")


@pytest.mark.parametrize("mutate, key", [c[1:] for c in STUDY_CASES], ids=[c[0] for c in STUDY_CASES])
def test_study_limits_name_the_key(root, default_once, mutate, key):
    bad = copy.deepcopy(default_once)
    mutate(bad)
    with pytest.raises(ConfigError) as err:
        validate_with_study_checks(bad, root / "workflow/schemas")
    assert key in str(err.value), str(err.value)


def test_shipped_scales_pass_the_study_checks(root):
    for files in SCALES.values():
        validate_with_study_checks(load_config([root / f for f in files], root / "workflow/schemas"),
                                   root / "workflow/schemas")


@pytest.mark.parametrize("override, key", [
    ({"deep_linear": {"dynamics": {"depths": [{"hidden_layers": 1, "eps": 1.0e-5, "lr": 1.0e-3, "t_max": 10.0},
                                              {"hidden_layers": 1, "eps": 1.0e-5, "lr": 2.0e-3, "t_max": 10.0}]}}},
     "deep_linear.dynamics.depths: hidden_layers 1 appears 2 times"),
    ({"sgd_noise_flatness": {"batch_size": [50, 5000]}}, "sgd_noise_flatness.batch_size: [5000] exceed"),
])
def test_snakemake_stops_at_a_study_limit_before_any_job(root, tmp_path, override, key):
    """The study checks run while the Snakefile is parsed: a dry run fails naming the key, nothing is scheduled."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(override))
    run = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--cores", "1", "--configfile", str(bad),
                          "--directory", str(tmp_path)], cwd=root, capture_output=True, text=True)
    assert run.returncode != 0
    assert key in run.stdout + run.stderr
    assert "Job stats" not in run.stdout + run.stderr


@pytest.mark.parametrize("content, words", [(bytes(range(128, 256)), "UnicodeDecodeError"),
                                             (b"deep_linear: [1, 2", "line 1"),
                                             (b"- a list\n- of things\n", "expected a mapping")])
def test_an_unreadable_config_file_is_named_before_snakemake_reads_it(tmp_path, content, words):
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(content)
    cli = [sys.executable, "-m", "spdl.config", "--configfile", str(bad)]
    run = subprocess.run(cli, capture_output=True, text=True)
    assert run.returncode != 0 and f"config file {bad}" in run.stderr
    assert words in run.stderr, run.stderr

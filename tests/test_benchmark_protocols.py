"""benchmark_protocols at a tiny size: both protocols run on the engine and every part is timed."""
import importlib.util

import numpy as np
import pytest
import yaml

from spdl.io import read_json, save_npz


@pytest.fixture(scope="module")
def script(root):
    path = root / "workflow/scripts/benchmark_protocols.py"
    spec = importlib.util.spec_from_file_location("benchmark_protocols", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # neither snakemake nor __main__: only defines the functions
    return module


def tiny_config(root):
    cfg = yaml.safe_load((root / "config/config.yaml").read_text())["benchmarks"]
    cfg["activity_weight"].update(batch_sizes=[10, 20], networks=2, n_per_class=4, hidden=6, n_test=20,
                                  stop=dict(cfg["activity_weight"]["stop"], max_epochs=3))
    cfg["deep_linear"].update(n1=8, n2=4, n3=4, snr=[2.0], seeds=2, epochs=20, record_every=5)
    return cfg


def test_tiny_run_times_every_part(script, root, tmp_path, monkeypatch):
    monkeypatch.setattr(script, "matmul_peak", lambda device=None: 10.0)  # the peaks are not what is tested
    monkeypatch.setattr(script, "matmul_peak_cpu", lambda: 5.0)
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(10), 8)
    save_npz(tmp_path / "data.npz", x_train=rng.random((80, 784), dtype=np.float32), y_train=y,
             x_test=rng.random((40, 784), dtype=np.float32), y_test=np.repeat(np.arange(10), 4))
    script.main(tiny_config(root), tmp_path / "data.npz", tmp_path / "p.json", tmp_path / "p.tsv", threads=1)
    run = read_json(tmp_path / "p.json")
    assert run["protocols"]["activity_weight"]["networks"] == 4 and run["protocols"]["deep_linear"]["networks"] == 2
    rows = {(r["protocol"], r["setting"], r["part"]): r for r in run["rows"]}
    for B in (10, 20):
        parts = {part: rows[("activity_weight", f"B={B}", part)] for part in ("setup", "training", "analysis", "total")}
        assert parts["total"]["wall_s"] == pytest.approx(sum(parts[p]["wall_s"] for p in ("setup", "training",
                                                                                         "analysis")))
        train = parts["training"]
        assert train["updates"] == 2 * 3 * (40 // B)  # 2 networks x 3 epochs (max_epochs) x N // B steps
        assert train["fraction_of_peak"] == pytest.approx(train["gflop"] / train["wall_s"] / 10.0)
        assert train["fraction_of_peak_cpu"] == pytest.approx(train["gflop"] / train["cpu_s"] / 5.0)
    dl = rows[("deep_linear", "20 epochs, record every 5", "training")]
    assert dl["updates"] == 40 and np.isfinite(dl["min_test_mean"]) and dl["diverged"] == 0
    assert (tmp_path / "p.tsv").read_text().startswith("protocol\tsetting\tpart")


def test_config_section_is_validated(root):
    from spdl.config import ConfigError, validate_config

    cfg = yaml.safe_load((root / "config/config.yaml").read_text())
    validate_config(cfg, root / "workflow/schemas")
    cfg["benchmarks"]["deep_linear"]["epochs"] = 0
    with pytest.raises(ConfigError, match="benchmarks.deep_linear.epochs"):
        validate_config(cfg, root / "workflow/schemas")


def test_authors_comparison_only_on_their_protocol(script, root):
    cfg = yaml.safe_load((root / "config/config.yaml").read_text())["benchmarks"]
    totals = {"activity_weight": {"wall_s": 238.8, "networks": 40}, "deep_linear": {"wall_s": 9.0, "networks": 30}}
    versus = script.authors_comparison(cfg, totals)
    assert versus["activity_weight"]["speedup"] == pytest.approx(2388 / 238.8)
    assert versus["deep_linear"]["authors_wall_s"] == pytest.approx(90.0)  # 3.0 s per run x 30 runs
    cfg["activity_weight"]["networks"] = 2  # another protocol: no comparison
    assert set(script.authors_comparison(cfg, totals)) == {"deep_linear"}

"""Smoke tests of the benchmark scripts (benchmarks/).

The quality benchmark runs the digits suite (shipped with scikit-learn, no
files needed) on one task, one seed and one epoch with tiny networks. The
tests check that the scripts run, write their files and compute their
figures as documented, not how good or fast any detector is.
"""

import csv
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

# benchmarks/ is not an installed package: import it from the repository.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks import quality  # noqa: E402


def test_digits_smoke(tmp_path):
    rows = quality.main([
        "--suite", "digits", "--tasks", "1", "--seeds", "0", "--max-epochs", "1",
        "--methods", "iforest,ganomaly,ganomaly_original",
        "--ganomaly-params", '{"latent_dim": 4, "n_filters": 4}',
        "--max-train", "300", "--out", str(tmp_path), "--tag", "smoke",
        "--no-figures", "--bn-recalibration",
    ])
    methods = {r["method"] for r in rows}
    assert methods == {"IsolationForest", "GANomaly", "GANomaly (original evaluation)",
                       quality.LAST_EPOCH_LABEL, quality.BN_RECAL_LABEL}
    for r in rows:
        assert 0.0 <= r["auc"] <= 1.0 and 0.0 <= r["ap"] <= 1.0
        assert r["n_train"] == 300

    text = (tmp_path / "quality_digits_smoke.csv").read_text()
    header = [line for line in text.splitlines() if line.startswith("#")]
    assert any(line.startswith("# command: ") for line in header)
    assert any("cores" in line for line in header)
    table = list(csv.DictReader(line for line in text.splitlines()
                                if not line.startswith("#")))
    assert len(table) == len(rows)
    md = (tmp_path / "quality_digits_smoke.md").read_text()
    assert "| **mean** |" in md and "GANomaly" in md


def test_pca_reconstruction_flags_off_subspace_points():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 2)) @ rng.normal(size=(2, 6))
    model = quality.PCAReconstruction().fit(X)
    inside, outside = X[:5], X[:5] + 5 * rng.normal(size=(5, 6))
    assert np.all(model.score_samples(outside) < model.score_samples(inside).min())


@pytest.mark.parametrize("variant, shape", [
    ("base", (5, 1, 8, 8)), ("tab", (5, 64)), ("pad16", (5, 1, 16, 16)),
    ("pad32", (5, 1, 32, 32)), ("up16", (5, 1, 16, 16)), ("up32", (5, 1, 32, 32))])
def test_digits_variants_feed_the_images_as_described(variant, shape):
    from benchmarks.studies.digits_variants import transform

    X = np.random.RandomState(0).uniform(0, 16, size=(5, 1, 8, 8)).astype(np.float32)
    out = transform(X, variant)
    assert out.shape == shape and out.dtype == np.float32
    if variant.startswith("pad"):
        border = (shape[-1] - 8) // 2
        np.testing.assert_array_equal(out[..., border:-border, border:-border], X)
        assert out.sum() == pytest.approx(X.sum(), rel=1e-6)
    if variant.startswith("up"):
        # Bilinear: within the range of the image, each image's mean kept
        # up to the border effects of half-pixel centres.
        assert out.min() >= X.min() - 1e-5 and out.max() <= X.max() + 1e-5
        np.testing.assert_allclose(out.mean(axis=(2, 3)), X.mean(axis=(2, 3)), rtol=0.05)


def test_weight_averaging_study_averages_as_the_detector_does():
    """The study's moving average, kept beside a fit without averaging, is
    the model the detector scores with ``ema_decay``: same weights."""
    import torch

    from benchmarks import common
    from benchmarks.studies import weight_averaging
    from skganomaly import GANomalyDetector

    X, y = common.load_digits_images()
    train, test, is_anomaly = common.one_class_split(y, 1, seed=0)
    train = train[:200]
    # 75 steps: enough for the decay to pass its warm-up.
    tiny = dict(latent_dim=4, n_filters=4, max_epochs=3, batch_size=8,
                early_stopping=False, random_state=0)
    lines = []
    det = GANomalyDetector(ema_decay=0.0, callbacks=[weight_averaging.AUCProbe()],
                           **tiny)
    weight_averaging._TASK.update(det=det, X=X, train=train, test=test,
                                  decays=[0.8], is_anomaly=is_anomaly,
                                  say=lines.append)
    det.fit(X[train])
    probe = dict(det.net_.callbacks_)["AUCProbe"]
    assert len(probe.rows) == 3 == len(lines)
    assert all(0 <= auc <= 1 for row in probe.rows for auc in row)

    averaged = GANomalyDetector(ema_decay=0.8, **tiny).fit(X[train])
    for p, q in zip(probe.averages[0].parameters(),
                    averaged.net_.module_.parameters()):
        torch.testing.assert_close(p, q)


def test_interrupted_run_resumes_where_it_stopped(tmp_path, monkeypatch):
    """``--resume`` keeps the runs an interrupted call finished, does only the
    rest and gives the results of one uninterrupted call."""
    argv = ["--suite", "digits", "--tasks", "0,1", "--seeds", "0",
            "--methods", "pca,iforest", "--max-train", "200", "--no-figures",
            "--tag", "resume"]
    reference = quality.main(argv + ["--out", str(tmp_path / "reference")])

    fits, original = [], dict(quality.PEERS)

    def counting(key, interrupt_at=None):
        label, factory = original[key]

        def make():
            runner = factory()
            fit = runner.fit

            def counted(ctx):
                fits.append(key)
                if len(fits) == interrupt_at:
                    raise KeyboardInterrupt
                return fit(ctx)
            runner.fit = counted
            return runner
        return label, make

    out = tmp_path / "resumed"
    # Interrupted in the second PCA fit, i.e. at task 1.
    monkeypatch.setitem(quality.PEERS, "pca", counting("pca", interrupt_at=2))
    with pytest.raises(KeyboardInterrupt):
        quality.main(argv + ["--out", str(out)])
    progress = out / "quality_digits_resume.progress.json"
    assert progress.exists() and not (out / "quality_digits_resume.csv").exists()
    assert fits == ["pca", "pca"]

    fits.clear()
    monkeypatch.setitem(quality.PEERS, "pca", counting("pca"))
    # Other settings than the interrupted call's are refused.
    with pytest.raises(SystemExit, match="other settings"):
        quality.main(argv + ["--out", str(out), "--resume", "--max-train", "100"])
    monkeypatch.setitem(quality.PEERS, "iforest", counting("iforest"))
    resumed = quality.main(argv + ["--out", str(out), "--resume"])
    # Task 0 (both methods) came from the first call; task 1 ran now.
    assert fits == ["pca", "iforest"]
    assert [(r["task"], r["method"], r["auc"], r["ap"]) for r in resumed] == \
        [(r["task"], r["method"], r["auc"], r["ap"]) for r in reference]
    assert not progress.exists()
    md = (out / "quality_digits_resume.md").read_text()
    assert "over 2 calls (--resume)" in md and "call 1: " in md


def test_latent_lof_row_comes_from_the_same_fit_as_the_latent_row(tmp_path):
    common = ["--suite", "digits", "--tasks", "3", "--seeds", "0", "--max-epochs", "2",
              "--methods", "ganomaly", "--max-train", "200",
              "--ganomaly-params", '{"latent_dim": 4, "n_filters": 4}',
              "--out", str(tmp_path), "--no-figures"]
    def alone(kind):
        return quality.main(common[:-5] + [
            "--ganomaly-params",
            f'{{"latent_dim": 4, "n_filters": 4, "score_type": "{kind}"}}',
            "--out", str(tmp_path), "--no-figures", "--tag", kind])

    plain, lof = alone("latent"), alone("latent_lof")
    both = quality.main(common + ["--tag", "both", "--latent-lof-row"])
    by_method = {r["method"]: r for r in both}
    assert set(by_method) == {"GANomaly", quality.LATENT_LOF_LABEL}
    # The GANomaly row is exactly what a fit with the paper's latent score
    # reports, and the extra row exactly what a latent_lof fit reports.
    for key in ("auc", "ap", "epochs"):
        assert by_method["GANomaly"][key] == plain[0][key]
        assert by_method[quality.LATENT_LOF_LABEL][key] == lof[0][key]
    assert by_method["GANomaly"]["auc"] != by_method[quality.LATENT_LOF_LABEL]["auc"]


def test_latent_lof_row_refuses_another_score_type(tmp_path):
    with pytest.raises(SystemExit):
        quality.parse_args(["--suite", "digits", "--latent-lof-row",
                            "--ganomaly-params", '{"score_type": "reconstruction"}'])


def test_combine_merges_calls_into_one_table(tmp_path):
    from benchmarks import combine

    def call(seed, tag):
        return quality.main(["--suite", "digits", "--tasks", "1,2", "--seeds", str(seed),
                             "--methods", "iforest,lof", "--max-train", "200",
                             "--out", str(tmp_path), "--tag", tag, "--no-figures"])

    runs = call(0, "s0") + call(1, "s1")
    out = tmp_path / "both.md"
    rows = combine.main([str(tmp_path / "quality_digits_s0.csv"),
                         str(tmp_path / "quality_digits_s1.csv")
                         + ":LOF=LOF, seed 1:IsolationForest=",
                         "--out", str(out)])
    # Seed 1's IsolationForest rows are dropped, its LOF rows relabelled.
    assert len(rows) == 6
    assert {r["method"] for r in rows} == {"IsolationForest", "LOF", "LOF, seed 1"}
    lof1 = np.mean([r["auc"] for r in runs if r["method"] == "LOF" and r["seed"] == 1])
    text = out.read_text()
    assert f"| 1 | — | — | {lof1:.3f} |" in text  # the per-seed table
    both = combine.main([str(tmp_path / "quality_digits_s0.csv"),
                         str(tmp_path / "quality_digits_s1.csv"), "--out", str(out)])
    assert len(both) == 8
    per_seed = [np.mean([r["auc"] for r in runs if r["method"] == "LOF" and r["seed"] == k])
                for k in (0, 1)]
    mean_row = [line for line in out.read_text().splitlines()
                if line.startswith("| **mean** |")][0]  # ROC AUC comes first
    lof = mean_row.split(" | ")[2].rstrip(" |")
    assert lof == f"**{np.mean(per_seed):.3f} ± {np.std(per_seed):.3f}**"
    assert "quality_digits_s1.csv" in text and "--seeds 1" in text

    with pytest.raises(SystemExit, match="in both"):
        combine.main([str(tmp_path / "quality_digits_s0.csv")] * 2 + ["--out", str(out)])


def test_speed_sweep_reports_steady_epochs_per_configuration(tmp_path):
    from benchmarks import speed

    speed.main(["--sweep", "16,32", "--sweep-compile", "", "--precisions", "fp32",
                "--n-train", "64", "--epochs", "3", "--latent-dim", "4",
                "--n-filters", "4", "--no-peak", "--out", "sweep_test", "--results-dir",
                str(tmp_path)])
    data = json.loads((tmp_path / "sweep_test_sweep.json").read_text())
    rows = data["rows"]
    assert [(r["batch_size"], r["precision"], r["compile"]) for r in rows] == [
        (16, "fp32", False), (32, "fp32", False)]
    for r in rows:
        # Warm-up and compilation stay out of the steady figure.
        assert len(r["epoch_s"]) == 3 and r["first_epoch_s"] == r["epoch_s"][0]
        assert r["train_img_s"] == pytest.approx(64 / np.median(r["epoch_s"][1:]))
        assert r["finite"] and r["score_img_s"] > 0
    table = (tmp_path / "sweep_test_sweep.md").read_text()
    assert f"| 16 | fp32 (fp32) | no | {rows[0]['train_img_s']:,.0f} |" in table
    assert "command:" in table and "64 images 1x32x32, 3 epochs" in table
    assert data["failures"] == [] and "failed" not in table


def test_contrast_normalisation_standardises_each_image():
    from benchmarks.studies.cifar_contrast import contrast_normalise

    rng = np.random.RandomState(0)
    X = rng.uniform(0, 1, size=(5, 48)) * rng.uniform(0.1, 3, size=(5, 1)) + 2
    X[4] = 0.7  # a flat image: zeros, not NaN
    Z = contrast_normalise(X)
    np.testing.assert_allclose(Z[:4].mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(Z[:4].std(axis=1), 1)
    np.testing.assert_allclose(Z[4], 0, atol=1e-9)
    # Brightness and contrast are gone: an affine change of an image is undone.
    np.testing.assert_allclose(contrast_normalise(3 * X[:1] + 5), Z[:1])


def test_speed_sweep_records_a_failed_configuration_and_goes_on(tmp_path, monkeypatch):
    from benchmarks import speed

    def fake_row(args, X, batch_size, precision, compile_):
        if compile_:
            raise RuntimeError("no compiler here")
        return {"batch_size": batch_size, "precision": precision, "compile": compile_,
                "resolved": precision, "first_epoch_s": 2.0, "train_img_s": 1000.0,
                "fit_s": 3.0, "epoch_s": [2.0, 1.0], "score_img_s": 5000.0,
                "finite": True}

    monkeypatch.setattr(speed, "sweep_row", fake_row)
    speed.main(["--sweep", "64", "--sweep-compile", "64", "--precisions", "fp32",
                "--latent-dim", "4", "--n-filters", "4", "--no-peak", "--out", "s",
                "--results-dir", str(tmp_path)])
    data = json.loads((tmp_path / "s_sweep.json").read_text())
    assert [r["compile"] for r in data["rows"]] == [False]
    assert data["failures"] == [
        "batch 64 fp32 compile=True: RuntimeError('no compiler here')"]
    table = (tmp_path / "s_sweep.md").read_text()
    assert "| 64 | fp32 (fp32) | no | 1,000 |" in table
    assert "- failed: batch 64 fp32 compile=True: RuntimeError" in table


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 6), st.integers(2, 9), st.integers(0, 2**31 - 1))
def test_fixed_score_averages_one_half_over_leave_one_class_out(n_classes, per_class,
                                                                 seed):
    """The identity behind benchmarks.studies.cifar_ceiling: with equal class sizes a
    score that ignores which class is anomalous has mean AUC exactly 1/2 over
    the tasks, however far each task's AUC is from it."""
    from benchmarks.studies.cifar_ceiling import class_aucs

    rng = np.random.RandomState(seed)
    y = np.repeat(np.arange(n_classes), per_class)
    # Classes shifted apart, so single tasks are far from chance.
    score = rng.permutation(len(y)) + float(len(y)) * y
    aucs = class_aucs(lambda k: score, y, n_classes)
    assert aucs[-1] == 1.0 and aucs[0] == 0.0
    assert aucs.mean() == pytest.approx(0.5, abs=1e-12)


def test_ceiling_lof_learns_from_the_anomaly_class_absence():
    from benchmarks.studies.cifar_ceiling import lof_rows, reference_test_split

    rng = np.random.RandomState(0)
    y = np.repeat(np.arange(4), 100)
    features = rng.normal(size=(400, 3)) + 10.0 * np.eye(4, 3)[y]
    reference, test = reference_test_split(len(y), seed=0)
    assert len(reference) == 320 and sorted(np.r_[reference, test]) == list(range(400))
    blind, protocol = lof_rows(features, y, reference, test, 4)
    # Separated clusters: without its class in the reference part, a class is
    # perfectly anomalous; with it, LOF has nothing to go on.
    assert protocol.min() > 0.99
    assert abs(blind.mean() - 0.5) < 0.1


def test_rotation_network_is_seeded_and_scores_every_image():
    import torch

    from benchmarks.studies.cifar_ceiling import rotation_outputs, rotations, train_rotation_net

    x = torch.arange(2 * 16).float().reshape(1, 2, 4, 4)
    turned, label = rotations(x)
    assert label.tolist() == [0, 1, 2, 3]
    assert torch.equal(turned[2], x[0].flip(1).flip(2))
    images = torch.rand(40, 3, 16, 16) * 2 - 1
    runs = [rotation_outputs(train_rotation_net(images, np.arange(32), epochs=1,
                                                seed=3, batch_size=16), images)
            for _ in range(2)]
    (features, losses), (features_again, losses_again) = runs
    assert features.shape == (40, 128 * 4 * 4) and losses.shape == (40,)
    np.testing.assert_allclose(np.linalg.norm(features, axis=1), 1, rtol=1e-5)
    np.testing.assert_array_equal(features, features_again)
    np.testing.assert_array_equal(losses, losses_again)
    # The loss of four guesses: about 4 ln 4 for a network that barely
    # learned, and never below zero.
    assert (losses > 0).all() and abs(losses.mean() - 4 * np.log(4)) < 1.0


def test_ceiling_rotation_rows_per_task(monkeypatch):
    """Per task the network is trained without the anomaly class, and the
    rotation loss is scored as an anomaly score (higher = more anomalous)."""
    import torch

    from benchmarks.studies import cifar_ceiling

    trained_on = []
    y = np.repeat(np.arange(10), 6)
    images = torch.zeros(60, 3, 16, 16)

    def fake_train(images, train, epochs, seed):
        trained_on.append(set(y[train]))
        return len(trained_on)

    def fake_outputs(net, images):
        rng = np.random.RandomState(0)
        features = rng.normal(size=(60, 2)) + 5.0 * np.eye(10, 2)[y]
        missing = [k for k in range(10) if k not in trained_on[net - 1]]
        # The class a network never saw gets the largest rotation loss.
        return features, (np.isin(y, missing) * 10.0 + rng.uniform(size=60))

    monkeypatch.setattr(cifar_ceiling, "train_rotation_net", fake_train)
    monkeypatch.setattr(cifar_ceiling, "rotation_outputs", fake_outputs)
    reference, test = np.arange(0, 60, 2), np.arange(1, 60, 2)
    rows = cifar_ceiling.rotation_rows(images, y, reference, test, 1, 0, per_task=True)
    assert trained_on[0] == set(range(10))
    assert trained_on[1:] == [set(range(10)) - {k} for k in range(10)]
    np.testing.assert_array_equal(
        rows["rotation loss, protocol (network without the class)"], 1.0)
    assert abs(rows["rotation loss, network trained on all ten classes"].mean()
               - 0.5) < 0.05


# -- smoke tests of every script's main on tiny data ------------------------------------
#
# Tiny networks (latent 4, 4 filters, one epoch), a few dozen rows, files in
# tmp_path; nothing here measures the hardware or runs a benchmark at size.

TINY = {"latent_dim": 4, "n_filters": 4, "max_epochs": 1}


def tiny_detector(monkeypatch, module, **extra):
    """Make ``module`` build its detectors with tiny networks and one epoch."""
    from skganomaly import GANomalyDetector

    def make(*args, **kwargs):
        return GANomalyDetector(*args, **{**kwargs, **TINY, **extra})

    make.load = GANomalyDetector.load
    monkeypatch.setattr(module, "GANomalyDetector", make)


def few_digits(n=120):
    from benchmarks import common

    X, y = common.load_digits_images()
    return lambda: (X[:n], y[:n])


def bf16_skipped():
    from benchmarks.common import bf16_note

    return bf16_note("cpu") is not None


def test_speed_pairs_record_ratios_and_leave_out_bf16_without_native_support(tmp_path):
    from benchmarks import speed

    rows = speed.main(["--n-train", "32", "--pairs", "1", "--size", "16",
                       "--latent-dim", "4", "--n-filters", "4", "--batch-size", "16",
                       "--rss-rows", "0", "--peak-gflops", "100,200",
                       "--out", "pairs", "--results-dir", str(tmp_path)])
    md = (tmp_path / "pairs.md").read_text()
    assert "command: `python -m benchmarks.speed" in md and "cores" in md
    assert "fp32 100 GFLOP/s" in md  # the given peak, not a measured one
    precisions = [r["precision"] for r in rows]
    if bf16_skipped():
        assert precisions == ["fp32"] and "bf16 skipped" in md
        assert "bf16 skipped" in (tmp_path / "pairs.rst").read_text().lower()
    else:
        assert precisions == ["fp32", "bf16"]
    for r in rows:
        assert r["fit_img_s"] > 0 and r["score_img_s"] > 0 and r["fit_ratio"] > 0
    data = json.loads((tmp_path / "pairs.json").read_text())
    assert data["flops"]["peak_fp32"] == 100e9 and data["flops"]["train"] > 0


def test_speed_memory_mode_scores_in_process():
    from benchmarks import speed

    result = speed.main(["--memory", "--rss-rows", "3000", "--features", "8"])
    assert result["rows"] == 3000 and result["peak_mib"] >= result["before_mib"]


def test_precision_smoke(tmp_path):
    from benchmarks import precision

    rows = precision.main(["--digits", "1", "--mnist-digits", "",
                           "--params", json.dumps(TINY),
                           "--results-dir", str(tmp_path)])
    assert {r["precision"] for r in rows} == ({"fp32"} if bf16_skipped()
                                              else {"fp32", "bf16"})
    md = (tmp_path / "precision_cpu.md").read_text()
    assert "command: `python -m benchmarks.precision" in md and "| digits |" in md
    assert ("bf16 skipped" in md) == bf16_skipped()
    assert (tmp_path / "precision_cpu.rst").exists()
    assert len((tmp_path / "precision_cpu.csv").read_text().splitlines()) == len(rows) + 1


def test_out_of_core_smoke(tmp_path):
    from benchmarks import out_of_core

    out_of_core.main(["--sizes-mib", "1", "--features", "16", "--sources", "memmap",
                      "--tmp", str(tmp_path), "--results-dir", str(tmp_path)])
    rows = json.loads((tmp_path / "out_of_core.json").read_text())
    assert [(r["data_mib"], r["source"]) for r in rows] == [(1, "memmap")]
    assert rows[0]["rows"] == 2**20 // (4 * 16)
    assert "python -m benchmarks.out_of_core" in (tmp_path / "out_of_core.md").read_text()


def test_distributed_search_smoke(tmp_path, monkeypatch):
    from benchmarks import distributed_search

    monkeypatch.setattr(distributed_search, "SEARCH", dict(distributed_search.SEARCH))
    monkeypatch.setattr(distributed_search, "free_cores", lambda: 1.0)
    rows = distributed_search.main(["--tiny", "--repeats", "1", "--no-dask", "--no-ray",
                                    "--results-dir", str(tmp_path)])
    assert [r["run"] for r in rows] == [rows[0]["run"]] and len(rows[0]["times"]) == 1
    text = (tmp_path / "distributed_search.md").read_text()
    assert "| yes |" in text and "n_filters=4" in text


def test_gpu_check_smoke_on_cpu(tmp_path):
    from benchmarks import gpu_check

    assert gpu_check.main(["--device", "cpu", "--tiny", "--skip-speed",
                           "--out", str(tmp_path)]) == 0
    summary = json.loads((tmp_path / "gpu_check.json").read_text())
    assert summary["ok"] and ("cpu-bf16" in summary["checks"]) != bf16_skipped()
    assert summary["checks"]["cuda_model_loads_on_cpu"]["ok"]


def test_accelerate_check_smoke_on_cpu(tmp_path, monkeypatch):
    from benchmarks import accelerate_check

    # The fp32 runs only, whatever the CPU (its launched processes read the
    # same variable): bf16 runs are for machines the check is made on.
    monkeypatch.setenv("SKGANOMALY_DISABLE_BF16", "1")
    assert accelerate_check.main(["--device", "cpu", "--processes", "1",
                                  "--n-train", "64", "--latent-dim", "4",
                                  "--n-filters", "4", "--out", str(tmp_path)]) == 0
    runs = json.loads((tmp_path / "accelerate_check.json").read_text())["runs"]
    assert [r["run"] for r in runs][:2] == ["plain-x1-no", "accelerate-x1-no"]
    # One CPU process in fp32: the accelerated fit is the plain one.
    assert runs[1]["vs_plain"]["identical"]


def test_digits_variants_smoke(tmp_path, monkeypatch):
    from benchmarks import common
    from benchmarks.studies import digits_variants

    tiny_detector(monkeypatch, digits_variants)
    monkeypatch.setattr(common, "load_digits_images", few_digits())
    monkeypatch.setattr(digits_variants, "OUT", tmp_path)
    digits_variants.main(["up16", "--tasks", "1", "--patience", "0"])
    log = (tmp_path / "digits_variants_up16_nostop.log").read_text().splitlines()
    assert log[0].startswith("# python -m benchmarks.studies.digits_variants up16")
    assert log[1].startswith("up16 1 epochs=1") and log[2].startswith("up16 MEAN latent=")


def test_image_size_cost_smoke(tmp_path, monkeypatch):
    from benchmarks import common
    from benchmarks.studies import image_size_cost

    tiny_detector(monkeypatch, image_size_cost)
    monkeypatch.setattr(common, "load_digits_images", few_digits())
    monkeypatch.setattr(image_size_cost, "OUT", tmp_path / "cost.md")
    image_size_cost.main(["--epochs", "1", "--repeats", "1"])
    text = (tmp_path / "cost.md").read_text()
    assert "python -m benchmarks.studies.image_size_cost" in text
    assert "| fit |" in text and "| score |" in text


def test_latent_neighbours_smoke(tmp_path, monkeypatch):
    from benchmarks.studies import latent_neighbours

    monkeypatch.setattr(latent_neighbours, "OUT", tmp_path)
    latent_neighbours.main(["--suite", "digits", "--tasks", "1", "--max-train", "100",
                            "--params", json.dumps(TINY), "--lof-neighbours", "5"])
    log = (tmp_path / "latent_neighbours_digits.log").read_text()
    assert "latent" in log and "lof_z" in log


def test_weight_averaging_smoke(tmp_path, monkeypatch):
    from benchmarks import common
    from benchmarks.studies import weight_averaging

    monkeypatch.setattr(common, "load_digits_images", few_digits())
    monkeypatch.setattr(weight_averaging, "OUT", tmp_path)
    monkeypatch.setattr(weight_averaging, "GANomalyDetector", lambda **kw:
                        __import__("skganomaly").GANomalyDetector(
                            **{**kw, "latent_dim": 4, "n_filters": 4}))
    weight_averaging.main(["--tasks", "1", "--epochs", "2", "--decays", "0.9"])
    lines = (tmp_path / "weight_averaging.log").read_text().splitlines()
    assert len(lines) >= 3


def test_score_types_smoke(tmp_path, monkeypatch):
    from benchmarks.studies import score_types

    tiny_detector(monkeypatch, score_types)
    monkeypatch.setattr(score_types, "load_digits_images", few_digits(60))
    out = tmp_path / "score_types.md"
    score_types.main(["--max-epochs", "1", "--out", str(out)])
    text = out.read_text()
    assert "python -m benchmarks.studies.score_types" in text and "combined" in text


def test_model_file_size_smoke(tmp_path, monkeypatch):
    from benchmarks.studies import model_file_size

    tiny_detector(monkeypatch, model_file_size)
    monkeypatch.setattr(model_file_size, "SIZES", [(50, 4)])
    out = tmp_path / "size.md"
    model_file_size.main(["--out", str(out)])
    text = out.read_text()
    assert "format 3" in text and "JSON" in text


def fake_cifar(n_per_class=12):
    rng = np.random.RandomState(0)
    y = np.repeat(np.arange(10), n_per_class)
    X = rng.randint(0, 256, size=(len(y), 3, 32, 32)).astype(np.uint8)
    return lambda data_dir=None: (X, y)


def test_cifar_contrast_smoke(tmp_path, monkeypatch):
    from benchmarks.studies import cifar_contrast

    monkeypatch.setattr(cifar_contrast, "load_cifar10", fake_cifar())
    out = tmp_path / "contrast.md"
    cifar_contrast.main(["--seeds", "0", "--out", str(out)])
    text = out.read_text()
    assert "python -m benchmarks.studies.cifar_contrast" in text and "LOF" in text


def test_cifar_ceiling_smoke(tmp_path, monkeypatch):
    from benchmarks.studies import cifar_ceiling

    monkeypatch.setattr(cifar_ceiling, "load_cifar10", fake_cifar())
    out = tmp_path / "ceiling.md"
    cifar_ceiling.main(["--seeds", "0", "--out", str(out)])
    assert "python -m benchmarks.studies.cifar_ceiling" in out.read_text()


def test_small_data_smoke_table_is_the_mean_of_the_quality_rows(tmp_path):
    from benchmarks import small_data

    overall = small_data.main([
        "--suites", "digits:60,80", "--seeds", "0,2", "--tasks", "0,1",
        "--ganomaly-params", '{"latent_dim": 4, "n_filters": 4, "max_epochs": 1}',
        "--out", str(tmp_path)])
    assert set(overall) == {"GANomaly", "IsolationForest", "LOF", "OneClassSVM"}
    # Each (suite, cap) cell: mean over seeds of the mean over tasks, from the
    # capped quality calls' raw rows (two tasks, two seeds, 60 or 80 rows).
    per_cap = []
    for cap in (60, 80):
        text = (tmp_path / "small_data" / f"quality_digits_small{cap}.csv").read_text()
        rows = list(csv.DictReader(line for line in text.splitlines()
                                   if not line.startswith("#")))
        assert {int(r["n_train"]) for r in rows} == {cap}
        iforest = [float(r["auc"]) for r in rows if r["method"] == "IsolationForest"]
        assert len(iforest) == 4
        per_cap.append(np.mean(iforest))
    assert overall["IsolationForest"] == pytest.approx(np.mean(per_cap))
    table = (tmp_path / "small_data.md").read_text()
    assert "| digits | 60 |" in table and "| **mean** |" in table

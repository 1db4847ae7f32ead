"""``seedlens train``'s Outlier Exposure, objective, CLIP and fine-tuning flags become detector options."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from seedlens.cli.train import _clip_options, _exposure_options
from seedlens.errors import ConfigError


def test_outlier_flags_become_options_and_the_objective_picks_the_detector():
    params: dict = {}
    detector = _exposure_options(params, "auto", [Path("a"), Path("b")], "4", "germination = 'dead'", "focal")
    assert detector == "hsc"
    assert params == {"outliers": ["a", "b"], "outlier_count": 4, "outliers_where": "germination = 'dead'",
                      "objective": "focal"}
    params = {}
    assert _exposure_options(params, "auto", [Path("one.png")], "all", None, "fcdd") == "fcdd"
    assert params == {"outliers": "one.png", "outlier_count": "all"}  # fcdd has no objective option
    assert _exposure_options({}, "knn", None, None, None, None) == "knn"


@pytest.mark.parametrize(("args", "message"), [
    (("auto", None, "several", None, None), "outlier_count must be a positive integer or 'all'"),
    (("auto", None, None, None, "svm"), "--objective must be one of fcdd, hsc, bce, focal; got 'svm'"),
    (("fcdd", None, None, None, "bce"), "--objective bce trains the hsc detector, not --detector fcdd"),
])
def test_bad_outlier_flags_are_one_clear_error(args, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        _exposure_options({}, *args)


def test_finetune_means_a_gentler_pretrained_backbone_or_a_tuned_clip():
    params: dict = {"backbone": "efficientnet_lite2", "lr": 0.01}
    assert _clip_options(params, "hsc", True, None, None) == "hsc"
    assert params["backbone_lr"] == pytest.approx(0.001) and params["freeze_stages"] == 1
    kept: dict = {"backbone": "efficientnet_lite0", "backbone_lr": 0.5, "freeze_stages": 0}
    _clip_options(kept, "fcdd", True, None, None)
    assert kept["backbone_lr"] == 0.5 and kept["freeze_stages"] == 0  # the configuration's own choice stays
    clip: dict = {}
    assert _clip_options(clip, "auto", True, "/models/clip", "healthy seed") == "clip"
    assert clip == {"clip": "/models/clip", "normal_class": "healthy seed", "finetune": True}
    with pytest.raises(ConfigError, match=r"--finetune fine-tunes a pretrained backbone .* got --backbone auto"):
        _clip_options({}, "fcdd", True, None, None)
    with pytest.raises(ConfigError, match="--clip and --class-name set up the clip detector, not --detector knn"):
        _clip_options({}, "knn", False, "/models/clip", None)

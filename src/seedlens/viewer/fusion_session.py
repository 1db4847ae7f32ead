"""A fusion run opened for viewing: its predictions per sample, Shapley bars and a heatmap per image-like modality."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from seedlens.errors import ConfigError, UnknownNameError
from seedlens.viewer.layers import quantize
from seedlens.viewer.sample_view import SampleView, ViewCache


def is_fusion_run(run: str | Path) -> bool:
    """Whether ``run`` holds a saved fusion model (rather than a detector)."""
    from seedlens.predictors.predictor import CONFIG_FILE

    return (Path(run) / CONFIG_FILE).is_file()


class FusionSession:
    """A saved fusion model with the samples of a manifest or hub to show.

    Args:
        run: Folder written by ``seedlens fusion train``.
        data: The manifest (or None with ``hub``) holding the samples.
        split: Only this split (None: every sample).
        hub: A hub to read the samples from instead of ``data``; ``where`` selects them.
        where: Hub query.
        device: Where the model runs.

    Raises:
        DataSourceError: no sample to show.
    """

    def __init__(self, run: str | Path, data: str | Path | None = None, split: str | None = "test",
                 hub: str | None = None, where: str | None = None, device: str = "auto") -> None:
        from seedlens.cli.fusion import _data_for
        from seedlens.predictors import FusionPredictor

        self.run = Path(run)
        self.model = FusionPredictor.load(self.run, device=device)
        self.data = _data_for(self.model, Path(data) if data is not None else None, hub, where, split)
        self.split = split or "all"
        self.source = str(self.data.source)
        self.kinds = {m.name: str(getattr(m.kind, "value", m.kind)) for m in self.model.modalities_}
        predicted = self.model.predict(self.data)
        self.targets = [t for t in predicted if t != "_samples"]
        self.rows: list[dict[str, Any]] = []
        for i, sample in enumerate(self.data.samples):
            row: dict[str, Any] = {"id": sample.sample_id}
            for target in self.targets:
                result = predicted[target]
                row[target] = result["labels"][i] if "labels" in result else float(result["values"][i])
            row["modalities"] = " + ".join(name for name, path in sample.files.items() if path is not None)
            self.rows.append(row)
        self.cache = ViewCache()
        self._explained: dict[int, Any] = {}

    def overview(self) -> dict[str, Any]:
        """The run and one row per sample with its predictions (no ROC: a fusion model has no anomaly score)."""
        columns = ["id", *self.targets, "modalities"]
        return {"run": self.run.name, "detector": "fusion", "modality": "multi-modal", "kind": "fusion",
                "threshold": None, "split": self.split, "source": self.source, "columns": columns,
                "samples": [{"index": i, **row} for i, row in enumerate(self.rows)], "roc": None, "histogram": None}

    def explanation(self, index: int) -> Any:
        """The :class:`~seedlens.predictors.explain.FusionExplanation` of sample ``index``, computed once.

        Raises:
            UnknownNameError: no sample ``index``.
        """
        if not 0 <= index < len(self.rows):
            raise UnknownNameError(f"no sample {index}: this run shows samples 0 to {len(self.rows) - 1}")
        if index not in self._explained:
            self._explained[index] = self.model.explain(self.data, self.rows[index]["id"])
        return self._explained[index]

    def sample(self, index: int) -> dict[str, Any]:
        """Shapley contributions per target and the layout of each image-like modality with a heatmap."""
        explained = self.explanation(index)
        summary = explained.to_dict()
        modalities = [{"name": name, **self.view(index, name).describe()} for name in explained.heatmaps]
        return {"index": index, "kind": "fusion", "id": explained.sample_id, "present": explained.present,
                "missing": explained.missing, "targets": summary["targets"],
                "heatmap_target": explained.heatmap_target, "predictions": summary["predictions"],
                "band_importance": summary["band_importance"], "modalities": modalities}

    def view(self, index: int, modality: str | None = None) -> SampleView:
        """Modality ``modality`` of sample ``index`` with its attribution heatmap.

        Raises:
            ConfigError: no modality named, or one without a heatmap for this sample.
        """
        explained = self.explanation(index)
        if modality not in explained.heatmaps:
            have = ", ".join(explained.heatmaps) or "none"
            raise ConfigError(f"modality must be one of {have} for sample {explained.sample_id!r}; got {modality!r}")
        return self.cache.get((index, modality), lambda: self._build(index, str(modality)))

    def _build(self, index: int, modality: str) -> SampleView:
        from seedlens.io import read

        explained = self.explanation(index)
        path = self.data.samples[index].files[modality]
        array, meta = read(path, modality=self.kinds[modality])
        heat = np.asarray(explained.heatmaps[modality])[None]
        return SampleView(array=array, kind=self.kinds[modality], spacing=meta.voxel_size,
                          wavelengths=meta.wavelengths, heat={"local": quantize(heat)})

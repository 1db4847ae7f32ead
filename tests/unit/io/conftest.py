"""Synthetic DICOM writers shared by the io tests (pydicom Dataset + FileMetaDataset, CT Image Storage)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import (
    CTImageStorage,
    EnhancedCTImageStorage,
    ExplicitVRLittleEndian,
    MediaStorageDirectoryStorage,
    generate_uid,
)

AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


def _base(sop_class: str) -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    return ds


def _pixels(ds: Dataset, stored: np.ndarray) -> None:
    ds.Rows, ds.Columns = stored.shape[-2:]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.PixelData = stored.astype("<i2").tobytes()


def write_ct_slice(
    path: Path,
    stored: np.ndarray,
    *,
    position: Sequence[float],
    orientation: Sequence[float] = AXIAL,
    pixel_spacing: Sequence[float] = (0.5, 0.8),
    series_uid: str = "1.2.826.0.1.3680043.8.498.1",
    instance: int = 1,
    slope: float = 1.0,
    intercept: float = -1024.0,
) -> Path:
    """One CT slice: ``stored`` (H, W) int16 values, HU = stored * slope + intercept."""
    ds = _base(CTImageStorage)
    ds.Modality = "CT"
    ds.StudyInstanceUID = "1.2.826.0.1.3680043.8.498.100"
    ds.SeriesInstanceUID = series_uid
    ds.InstanceNumber = instance
    ds.ImagePositionPatient = [float(v) for v in position]
    ds.ImageOrientationPatient = [float(v) for v in orientation]
    ds.PixelSpacing = [float(v) for v in pixel_spacing]
    ds.SliceThickness = 1.0
    ds.RescaleSlope, ds.RescaleIntercept = slope, intercept
    _pixels(ds, stored)
    ds.save_as(path, enforce_file_format=True)
    return path


def write_multiframe(path: Path, frames: np.ndarray, positions: Sequence[Sequence[float]] | None) -> Path:
    """An Enhanced CT file with frames (F, H, W); per-frame positions and rescale if ``positions`` is given."""
    ds = _base(EnhancedCTImageStorage)
    ds.Modality = "CT"
    ds.SeriesInstanceUID = generate_uid()
    ds.NumberOfFrames = len(frames)
    _pixels(ds, frames)
    if positions is not None:
        orientation, measures = Dataset(), Dataset()
        orientation.ImageOrientationPatient = list(AXIAL)
        measures.PixelSpacing = [0.5, 0.5]
        measures.SliceThickness = 2.0
        shared = Dataset()
        shared.PlaneOrientationSequence = DicomSequence([orientation])
        shared.PixelMeasuresSequence = DicomSequence([measures])
        ds.SharedFunctionalGroupsSequence = DicomSequence([shared])
        per_frame = []
        for position in positions:
            plane, rescale, group = Dataset(), Dataset(), Dataset()
            plane.ImagePositionPatient = [float(v) for v in position]
            rescale.RescaleSlope, rescale.RescaleIntercept = 1.0, -1000.0
            group.PlanePositionSequence = DicomSequence([plane])
            group.PixelValueTransformationSequence = DicomSequence([rescale])
            per_frame.append(group)
        ds.PerFrameFunctionalGroupsSequence = DicomSequence(per_frame)
    ds.save_as(path, enforce_file_format=True)
    return path


def write_dicomdir_like(path: Path) -> Path:
    """A DICOM file without pixel data (a media directory), as found beside real series."""
    ds = _base(MediaStorageDirectoryStorage)
    ds.FileSetID = "SEEDS"
    ds.save_as(path, enforce_file_format=True)
    return path


@pytest.fixture
def ct_slice() -> Callable[..., Path]:
    return write_ct_slice


@pytest.fixture
def multiframe() -> Callable[..., Path]:
    return write_multiframe


@pytest.fixture
def dicomdir_like() -> Callable[[Path], Path]:
    return write_dicomdir_like

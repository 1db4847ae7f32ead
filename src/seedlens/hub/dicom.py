"""DICOM detection and de-identification on import.

By default the hub drops identifying attributes (names, ids, birth date, addresses, phone numbers,
institutions, physicians, operators, accession number, other patient ids) everywhere in the dataset,
including nested sequences, and all private tags, and marks the file ``PatientIdentityRemoved = YES``.
``--keep-phi`` stores the original bytes.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from seedlens.errors import CorruptFileError

PHI_KEYWORDS = (
    "PatientName",
    "PatientID",
    "IssuerOfPatientID",
    "PatientBirthDate",
    "PatientBirthTime",
    "PatientBirthName",
    "PatientAddress",
    "PatientTelephoneNumbers",
    "PatientMotherBirthName",
    "OtherPatientIDs",
    "OtherPatientNames",
    "OtherPatientIDsSequence",
    "PatientInsurancePlanCodeSequence",
    "MilitaryRank",
    "BranchOfService",
    "MedicalRecordLocator",
    "CountryOfResidence",
    "RegionOfResidence",
    "EthnicGroup",
    "Occupation",
    "AdditionalPatientHistory",
    "PatientComments",
    "ReferringPhysicianName",
    "ReferringPhysicianAddress",
    "ReferringPhysicianTelephoneNumbers",
    "PerformingPhysicianName",
    "NameOfPhysiciansReadingStudy",
    "PhysiciansOfRecord",
    "RequestingPhysician",
    "OperatorsName",
    "InstitutionName",
    "InstitutionAddress",
    "InstitutionalDepartmentName",
    "StationName",
    "AccessionNumber",
    "StudyID",
    "RequestAttributesSequence",
)

_DICOM_SUFFIXES = {".dcm", ".dicom", ".ima"}


def is_dicom(path: Path) -> bool:
    """Return True for ``.dcm``/``.dicom``/``.ima`` files and suffix-less files with the ``DICM`` preamble."""
    if path.suffix.lower() in _DICOM_SUFFIXES:
        return True
    if path.suffix:
        return False
    try:
        with open(path, "rb") as handle:
            handle.seek(128)
            return handle.read(4) == b"DICM"
    except OSError:
        return False


def deidentified_bytes(path: Path) -> bytes:
    """Return the file's bytes with identifying attributes and private tags removed.

    Raises:
        CorruptFileError: pydicom cannot parse the file.
    """
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        dataset = pydicom.dcmread(path, force=False)
    except (InvalidDicomError, OSError, ValueError, EOFError) as err:
        raise CorruptFileError(path, f"not a readable DICOM file ({err})") from err
    _strip(dataset)
    dataset.remove_private_tags()
    dataset.PatientIdentityRemoved = "YES"
    dataset.DeidentificationMethod = "seedlens: identifying attributes and private tags removed"
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=False)
    return buffer.getvalue()


def _strip(dataset: Any) -> None:
    for keyword in PHI_KEYWORDS:
        if keyword in dataset:
            delattr(dataset, keyword)
    for element in list(dataset):
        if element.VR == "SQ":
            for item in element.value:
                _strip(item)

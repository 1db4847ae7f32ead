"""Find the acquisitions in an import folder and the sample id of each.

Rules:

* A folder of DICOM files is one series (one acquisition) when importing ``volume``; its id is the
  folder's name. Importing ``image``, each DICOM file is its own sample.
* An ENVI ``.hdr`` (first line ``ENVI``) and its data file, an Analyze ``.hdr``/``.img`` pair, an
  ``.mhd`` or ``.nhdr`` header with its data file form one acquisition stored as a tar pack.
* Every other file is one acquisition stored as is; its id is the file name without its suffix
  (``seed01.nii.gz`` -> ``seed01``).
* ``--id-pattern REGEX`` takes the id from the relative path instead: the group named ``id``, else
  group 1, else the whole match. Paths that do not match are skipped with a warning.
* Hidden files and folders (starting with ``.``) are ignored.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from seedlens.hub.dicom import is_dicom
from seedlens.hub.names import has_bad_chars
from seedlens.hub.provenance import ParentLink
from seedlens.types import Modality

DOUBLE_SUFFIXES = (".nii.gz", ".ome.tif", ".ome.tiff", ".img.gz", ".hdr.gz", ".npy.gz")
ENVI_DATA_SUFFIXES = ("", ".img", ".raw", ".dat", ".bsq", ".bil", ".bip", ".bin", ".cube")
IGNORED_NAMES = {"Thumbs.db", "desktop.ini", "DICOMDIR"}


@dataclass
class Candidate:
    """One acquisition found in the import folder.

    Attributes:
        sample_id: The sample it belongs to.
        source_name: Its file or folder, relative to the import folder (posix).
        kind: ``file`` (stored as is) or ``tar`` (stored as a pack of ``members``).
        read_path: What ``seedlens.io.read`` opens to validate it (file, header or series folder).
        suffix: Extension of a ``file`` blob (``.nii.gz``...).
        entry: Path inside a ``tar`` pack that the reader opens; ``""`` means the extracted folder.
        members: ``(name in pack, file)`` for ``tar`` blobs.
        dicom: The files are DICOM (de-identified unless ``--keep-phi``).
        parent: For a derived acquisition (a grain cut out of an ear's scan): the parent acquisition and
            the region it was cut from, stored on the new acquisition row; ``None`` for an original scan.
    """

    sample_id: str
    source_name: str
    kind: str
    read_path: Path
    suffix: str = ""
    entry: str = ""
    members: list[tuple[str, Path]] = field(default_factory=list)
    dicom: bool = False
    parent: ParentLink | None = None


def full_suffix(name: str) -> str:
    """Return the file's suffix including known double suffixes (``.nii.gz``), in lower case."""
    low = name.lower()
    for double in DOUBLE_SUFFIXES:
        if low.endswith(double) and len(low) > len(double):
            return double
    return Path(low).suffix


def stem(name: str) -> str:
    """Return the file name without its (double) suffix."""
    suffix = full_suffix(name)
    return name[: len(name) - len(suffix)] if suffix else name


def _first_line(path: Path) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.readline(64).strip()
    except OSError:
        return b""


def _header_data_file(path: Path, key: str) -> str | None:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        if "=" in line or ":" in line:
            sep = "=" if "=" in line else ":"
            name, _, value = line.partition(sep)
            if name.strip().lower() == key:
                return value.strip()
    return None


class Discovery:
    """Scan a folder into :class:`Candidate` acquisitions, collecting problems and warnings."""

    def __init__(self, root: Path, modality: Modality, id_pattern: str | None = None,
                 exclude: tuple[Path, ...] = ()) -> None:
        self.root = root
        self.modality = modality
        self.pattern = re.compile(id_pattern) if id_pattern else None
        self.exclude = {p.resolve() for p in exclude}
        self.problems: list[str] = []
        self.warnings: list[str] = []

    def run(self) -> list[Candidate]:
        """Return the candidates in a stable order (sorted by relative path)."""
        found: list[Candidate] = []
        for folder, dirs, files in os.walk(self.root):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            here = Path(folder)
            for name in [*dirs, *files]:
                if has_bad_chars(name):
                    shown = os.fsencode(here / name)
                    self.problems.append(f"{shown!r}: file name is not valid UTF-8 text; rename it")
            dirs[:] = [d for d in dirs if not has_bad_chars(d)]
            names = sorted(f for f in files if not f.startswith(".") and f not in IGNORED_NAMES
                           and not has_bad_chars(f) and (here / f).resolve() not in self.exclude)
            found.extend(self._folder(here, names))
        found.sort(key=lambda c: c.source_name)
        return [c for c in (self._with_id(c) for c in found) if c is not None]

    def _rel(self, path: Path) -> str:
        rel = path.relative_to(self.root).as_posix()
        return rel if rel != "." else self.root.name

    def _folder(self, here: Path, names: list[str]) -> list[Candidate]:
        paths = {n: here / n for n in names}
        dicoms = [n for n in names if is_dicom(paths[n])]
        used: set[str] = set()
        out: list[Candidate] = []
        if dicoms and self.modality == Modality.VOLUME:
            members = [(f"slice_{i:05d}.dcm", paths[n]) for i, n in enumerate(dicoms)]
            out.append(Candidate(here.name if here != self.root else self.root.name, self._rel(here), "tar",
                                 here, members=members, dicom=True))
            used.update(dicoms)
        elif dicoms:
            for n in dicoms:
                out.append(Candidate(stem(n), self._rel(paths[n]), "file", paths[n], suffix=".dcm", dicom=True))
            used.update(dicoms)
        for n in names:
            if n in used:
                continue
            low = n.lower()
            if low.endswith((".hdr", ".mhd", ".nhdr")):
                pack = self._pack(here, n, names, used)
                if pack is not None:
                    out.append(pack)
        for n in names:
            if n not in used:
                out.append(Candidate(stem(n), self._rel(paths[n]), "file", paths[n], suffix=full_suffix(n)))
                used.add(n)
        return out

    def _pack(self, here: Path, header: str, names: list[str], used: set[str]) -> Candidate | None:
        path = here / header
        low = header.lower()
        data: str | None = None
        if low.endswith(".hdr"):
            base = header[:-4]
            suffixes = ENVI_DATA_SUFFIXES if _first_line(path).startswith(b"ENVI") else (".img", ".img.gz")
            for suffix in suffixes:
                for candidate in names:
                    if candidate != header and candidate.lower() == (base + suffix).lower():
                        data = candidate
                        break
                if data:
                    break
            if data is None:
                self.problems.append(f"{path}: header without its data file (looked for {base}"
                                     f"{{{','.join(s or '<none>' for s in suffixes)}}})")
                used.add(header)
                return None
        else:
            key = "elementdatafile" if low.endswith(".mhd") else "data file"
            data = _header_data_file(path, key)
            if not data or data.upper() == "LOCAL":
                return None  # header and data in one file: stored as a plain file
            if "/" in data or "\\" in data or data not in names:
                self.problems.append(f"{path}: its data file {data!r} is not next to it")
                used.add(header)
                return None
        used.update({header, data})
        members = sorted([(header, path), (data, here / data)])
        return Candidate(stem(data) or stem(header), self._rel(path), "tar", path, entry=header, members=members)

    def _with_id(self, candidate: Candidate) -> Candidate | None:
        if self.pattern is None:
            return candidate
        match = self.pattern.search(candidate.source_name)
        if match is None:
            self.warnings.append(f"{candidate.source_name}: does not match --id-pattern {self.pattern.pattern!r}; "
                                 "skipped")
            return None
        groups = match.groupdict()
        if groups.get("id"):
            candidate.sample_id = groups["id"]
        elif match.groups() and match.group(1):
            candidate.sample_id = match.group(1)
        else:
            candidate.sample_id = match.group(0)
        return candidate

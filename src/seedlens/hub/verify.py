"""``seedlens hub verify``: re-hash every blob and check the catalog against the store."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import select

from seedlens.hub.catalog.models import Acquisition, Prediction, Project, Sample
from seedlens.hub.errors import BlobNotFoundError

if TYPE_CHECKING:
    from seedlens.hub.local import LocalHub


@dataclass
class VerifyReport:
    """The outcome of a verification: problems make it fail, warnings do not."""

    target: str
    checked: int = 0
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems

    def summary(self) -> str:
        """One line for the CLI."""
        state = "OK" if self.ok else f"FAILED ({len(self.problems)} problem(s))"
        return f"{self.target}: {state}; {self.checked} blob(s) checked"


def referenced_blobs(hub: LocalHub) -> dict[str, str]:
    """Return blob hash -> a description of one catalog row that uses it."""
    uses: dict[str, str] = {}
    with hub.session() as session:
        rows = session.execute(
            select(Acquisition.blob_hash, Project.name, Sample.sample_id, Acquisition.modality)
            .join(Sample, Sample.id == Acquisition.sample_pk).join(Project, Project.id == Sample.project_id)
        )
        for digest, project, sample_id, modality in rows:
            uses.setdefault(digest, f"{modality} acquisition of sample {project}/{sample_id}")
        rows2 = session.execute(
            select(Prediction.heatmap_hash, Project.name, Sample.sample_id)
            .join(Sample, Sample.id == Prediction.sample_pk).join(Project, Project.id == Sample.project_id)
            .where(Prediction.heatmap_hash.is_not(None))
        )
        for heatmap, heat_project, heat_sample in rows2:
            if heatmap is not None:
                uses.setdefault(heatmap, f"heatmap of sample {heat_project}/{heat_sample}")
    return uses


def verify_hub(hub: LocalHub) -> VerifyReport:
    """Check every referenced blob exists and hashes right, and that no unreferenced blob lies around."""
    report = VerifyReport(target=hub.location)
    uses = referenced_blobs(hub)
    stored = set(hub.store.iter_digests())
    for digest, use in sorted(uses.items()):
        if digest not in stored:
            report.problems.append(f"missing blob {digest} (used by the {use})")
            continue
        try:
            actual, _ = hub.store.hash_stored(digest)
        except BlobNotFoundError:
            report.problems.append(f"missing blob {digest} (used by the {use})")
            continue
        report.checked += 1
        if actual != digest:
            report.problems.append(f"blob {digest} changed: its bytes now hash to {actual} (used by the {use})")
    for digest in sorted(stored - set(uses)):
        report.problems.append(f"extra blob {digest}: in the store but not referenced by the catalog")
    for path in hub.store.iter_stray():
        report.problems.append(f"stray file in the blob folder: {path}")
    tmp = hub.store.tmp_dir() if hub.store.local and not hub.read_only else None
    if tmp is not None and any(tmp.iterdir()):
        report.warnings.append(f"temporary files in {tmp} (an import or upload is running, or was killed)")
    return report

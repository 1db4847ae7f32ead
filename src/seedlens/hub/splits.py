"""Grouped train/val/test splits: every group (lot, patient...) lands in exactly one split.

Groups are shuffled with the seed, then placed largest first, each into the split that is furthest
below its target share. Samples without a group value form a group of their own each.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from seedlens.errors import ConfigError
from seedlens.hub.names import check_split

if TYPE_CHECKING:
    from seedlens.hub.local import LocalHub

DEFAULT_NAMES = {1: ("train",), 2: ("train", "test"), 3: ("train", "val", "test")}


@dataclass
class SplitReport:
    """Samples and groups per split, and warnings (e.g. samples without a group value)."""

    by: str
    samples: dict[str, int] = field(default_factory=dict)
    groups: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line for the CLI."""
        parts = [f"{name}: {self.samples[name]} sample(s) in {self.groups[name]} group(s)" for name in self.samples]
        return f"split by {self.by}: " + "; ".join(parts)


def parse_ratios(text: str | Sequence[float]) -> list[float]:
    """Parse ``"60,20,20"`` (or a sequence) into fractions summing to 1.

    Raises:
        ConfigError: not 1-5 positive numbers.
    """
    try:
        values = [float(v) for v in (text.split(",") if isinstance(text, str) else text)]
    except ValueError:
        raise ConfigError(f"ratios must be comma-separated numbers like 60,20,20; got {text!r}") from None
    if not 1 <= len(values) <= 5 or any(not v > 0 for v in values):
        raise ConfigError(f"ratios must be 1 to 5 positive numbers; got {text!r}")
    total = sum(values)
    return [v / total for v in values]


def split_names(count: int, names: Sequence[str] | None = None) -> list[str]:
    """Return split names for ``count`` ratios (train/val/test by default)."""
    if names:
        if len(names) != count:
            raise ConfigError(f"{count} ratios need {count} split names; got {list(names)}")
        return list(names)
    if count not in DEFAULT_NAMES:
        raise ConfigError(f"name the {count} splits with --names (defaults exist for 1 to 3 ratios)")
    return list(DEFAULT_NAMES[count])


def assign_groups(members: Mapping[str, Sequence[object]], ratios: Sequence[float], names: Sequence[str],
                  seed: int = 0) -> dict[str, str]:
    """Assign each group to one split so that sample counts follow ``ratios``.

    Args:
        members: Group key -> its samples.
        ratios: Target fractions (summing to 1), one per split.
        names: Split names, one per ratio.
        seed: Seed of the shuffle that breaks ties between groups.

    Returns:
        Group key -> split name.
    """
    keys = sorted(members)
    random.Random(seed).shuffle(keys)
    keys.sort(key=lambda k: -len(members[k]))  # stable: the shuffle orders groups of equal size
    total = sum(len(members[k]) for k in keys)
    counts = [0] * len(ratios)
    chosen: dict[str, int] = {}
    for key in keys:
        size = len(members[key])
        # the split whose share after adding would be furthest below its target
        best = min(range(len(ratios)), key=lambda i: ((counts[i] + size) / total - ratios[i], i))
        counts[best] += size
        chosen[key] = best
    # no split stays empty while another has several groups: move the smallest group of the fullest split
    while True:
        groups = [[k for k in keys if chosen[k] == i] for i in range(len(ratios))]
        empty = [i for i in range(len(ratios)) if not groups[i]]
        donors = [i for i in range(len(ratios)) if len(groups[i]) > 1]
        if not empty or not donors:
            break
        donor = max(donors, key=lambda i: counts[i] / total - ratios[i])
        smallest = min(groups[donor], key=lambda k: len(members[k]))
        chosen[smallest] = empty[0]
        counts[donor] -= len(members[smallest])
        counts[empty[0]] += len(members[smallest])
    return {key: names[index] for key, index in chosen.items()}


def apply_split(hub: LocalHub, by: str, ratios: str | Sequence[float], *, seed: int = 0, where: str | None = None,
                project: str | None = None, names: Sequence[str] | None = None) -> SplitReport:
    """Group matching samples by ``by`` and write their split (see :meth:`LocalHub.split`)."""
    from sqlalchemy import Select, and_, select, update

    from seedlens.hub.catalog import queries
    from seedlens.hub.catalog.models import Sample, Trait
    from seedlens.hub.catalog.where import SAMPLE_COLUMNS

    hub.check_writable()
    fractions = parse_ratios(ratios)
    split_list = [check_split(n) for n in split_names(len(fractions), names)]
    with hub.session() as session:
        kinds = queries.trait_kinds(session)
        conditions = queries.sample_filter(session, where, project)
        query: Select[Any, Any]
        if by in SAMPLE_COLUMNS and by != "split":
            query = select(Sample.id, SAMPLE_COLUMNS[by]).where(*conditions)
        elif by in kinds:
            column: Any = Trait.num_value if kinds[by] == "num" else Trait.text_value
            query = select(Sample.id, column).outerjoin(
                Trait, and_(Trait.sample_pk == Sample.id, Trait.name == by)).where(*conditions)
        else:
            known = [c for c in SAMPLE_COLUMNS if c != "split"] + sorted(kinds)
            raise ConfigError(f"cannot split by {by!r}; use a sample field or trait: {', '.join(known)}")
        members: dict[str, list[int]] = {}
        ungrouped = 0
        for pk, group in session.execute(query):
            if group is None:
                ungrouped += 1
                members[f"\x00{pk}"] = [pk]
            else:
                members.setdefault(str(group), []).append(pk)
        report = SplitReport(by=by, samples=dict.fromkeys(split_list, 0), groups=dict.fromkeys(split_list, 0))
        if not members:
            report.warnings.append("no sample matches; nothing to split")
            return report
        if ungrouped:
            report.warnings.append(f"{ungrouped} sample(s) have no {by!r}; each is its own group")
        assignment = assign_groups(members, fractions, split_list, seed)
        by_split: dict[str, list[int]] = {name: [] for name in split_list}
        for key, name in assignment.items():
            by_split[name].extend(members[key])
            report.groups[name] += 1
            report.samples[name] += len(members[key])
        for name, pks in by_split.items():
            for start in range(0, len(pks), 5000):
                session.execute(update(Sample).where(Sample.id.in_(pks[start : start + 5000])).values(split=name))
        empty = [name for name in split_list if report.groups[name] == 0]
        if empty:
            report.warnings.append(f"only {len(members)} group(s): split(s) {', '.join(empty)} got none")
    return report

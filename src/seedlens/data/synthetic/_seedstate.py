"""Hidden state of a multi-modal synthetic seed, its germination class and traits, and the oracle macro-F1.

The story and its numbers are documented in :mod:`seedlens.data.synthetic.multimodal`, which re-exports the
public names of this module.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from seedlens.data.synthetic._random import RNGLike
from seedlens.errors import ConfigError

CLASSES: tuple[str, ...] = ("normal", "abnormal", "dead")
LOTS: tuple[str, ...] = ("L1", "L2", "L3", "L4")
P_UNDAMAGED = 0.5
#: CT defect volume as a fraction of the seed: ``DEFECT_FRACTION[0] + DEFECT_FRACTION[1] * damage`` (damage > 0).
DEFECT_FRACTION: tuple[float, float] = (0.01, 0.12)
CHLOROPHYLL_DEPTH = 0.6  # relative depth of the 672 nm absorption at maturity 0
GREEN_BUMP = 0.02  # reflectance added at 550 nm at maturity 0
MOULD_AREA = 0.4  # patch area fraction at coat 0; area = MOULD_AREA * (1 - coat) ** MOULD_POWER
MOULD_POWER = 1.5
DEAD_DAMAGE, ABNORMAL_DAMAGE, MILD_DAMAGE = 0.65, 0.35, 0.2
LOW_MATURITY, POOR_COAT = 0.5, 0.5
LABEL_NOISE = 0.05
BASE_WEIGHT_MG, WEIGHT_PER_MATURITY, WEIGHT_PER_DAMAGE = 4.0, 1.2, -0.8
BASE_OIL, OIL_PER_MATURITY, OIL_PER_DAMAGE = 42.0, 6.0, -4.0
LOT_WEIGHT = {"L1": -0.4, "L2": 0.0, "L3": 0.3, "L4": 0.6}
LOT_OIL = {"L1": -1.0, "L2": 0.0, "L3": 0.5, "L4": 1.5}
WEIGHT_NOISE, OIL_NOISE, TSW_NOISE = 0.25, 0.7, 0.1


def germination_rule(damage: float, maturity: float, coat: float) -> str:
    """The noise-free germination class of a hidden state (see :mod:`~seedlens.data.synthetic.multimodal`)."""
    if damage > DEAD_DAMAGE or (maturity < LOW_MATURITY and coat < POOR_COAT):
        return "dead"
    if ABNORMAL_DAMAGE < damage <= DEAD_DAMAGE or (MILD_DAMAGE < damage <= ABNORMAL_DAMAGE and maturity < LOW_MATURITY):
        return "abnormal"
    return "normal"


def mean_weight(damage: float, maturity: float, lot: str) -> float:
    """Noise-free single-seed weight in mg (= thousand-seed weight in g)."""
    return BASE_WEIGHT_MG + LOT_WEIGHT[lot] + WEIGHT_PER_MATURITY * maturity + WEIGHT_PER_DAMAGE * damage


def mean_oil(damage: float, maturity: float, lot: str) -> float:
    """Noise-free oil content in %."""
    return BASE_OIL + OIL_PER_MATURITY * maturity + OIL_PER_DAMAGE * damage + LOT_OIL[lot]


@dataclass
class SeedState:
    """The hidden state of one seed and what follows from it.

    Only ``damage``, ``maturity``, ``coat`` and ``lot`` are needed: derived values left out are filled in
    without noise (``germination`` = ``germination_clean``, mean weight, oil and thousand-seed weight).

    Attributes:
        damage: Internal damage in [0, 1] (CT only).
        maturity: Maturity in [0, 1] (cube only).
        coat: Seed-coat condition in [0, 1], 1 = perfect (RGB only).
        lot: Seed lot, one of :data:`LOTS` (table).
        weight: Seed weight in mg (table).
        germination: Observed class (with label noise).
        germination_clean: Class from :func:`germination_rule` before label noise.
        oil_content: Oil content in %.
        thousand_seed_weight: Thousand-seed weight in g.

    Raises:
        ConfigError: a hidden variable is outside [0, 1] or ``lot`` is unknown.
    """

    damage: float
    maturity: float
    coat: float
    lot: str = "L2"
    weight: float = math.nan
    germination: str = ""
    germination_clean: str = ""
    oil_content: float = math.nan
    thousand_seed_weight: float = math.nan

    def __post_init__(self) -> None:
        for name in ("damage", "maturity", "coat"):
            value = getattr(self, name)
            number = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
            if not number or not 0.0 <= value <= 1.0:
                raise ConfigError(f"SeedState.{name} must be a number in [0, 1]; got {value!r}")
        if self.lot not in LOTS:
            raise ConfigError(f"SeedState.lot must be one of {', '.join(LOTS)}; got {self.lot!r}")
        if not self.germination_clean:
            self.germination_clean = germination_rule(self.damage, self.maturity, self.coat)
        if not self.germination:
            self.germination = self.germination_clean
        weight = mean_weight(self.damage, self.maturity, self.lot)
        if math.isnan(self.weight):
            self.weight = weight
        if math.isnan(self.thousand_seed_weight):
            self.thousand_seed_weight = weight
        if math.isnan(self.oil_content):
            self.oil_content = mean_oil(self.damage, self.maturity, self.lot)


def draw_seed_state(rng: RNGLike = None) -> SeedState:
    """Draw one hidden state and its noisy labels and traits (a Generator is advanced; an int seeds one)."""
    g = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    damage = 0.0 if g.uniform() < P_UNDAMAGED else float(g.uniform())
    maturity, coat = float(g.uniform()), float(g.uniform())
    lot = LOTS[int(g.integers(len(LOTS)))]
    clean = germination_rule(damage, maturity, coat)
    noisy = CLASSES[int(g.integers(len(CLASSES)))] if g.uniform() < LABEL_NOISE else clean
    weight = mean_weight(damage, maturity, lot)
    return SeedState(
        damage=damage,
        maturity=maturity,
        coat=coat,
        lot=lot,
        weight=float(weight + g.normal(0, WEIGHT_NOISE)),
        germination=noisy,
        germination_clean=clean,
        oil_content=float(mean_oil(damage, maturity, lot) + g.normal(0, OIL_NOISE)),
        thousand_seed_weight=float(weight + g.normal(0, TSW_NOISE)),
    )


def oracle_macro_f1(n: int = 100_000, seed: int = 0, bins: int = 40) -> dict[str, float]:
    """Macro-F1 of Bayes-optimal rules that see the hidden variable(s) of one modality, or the whole state.

    ``n`` hidden states are simulated (no images). Single-modality rules predict the most frequent (noisy) class
    per bin of that modality's variable, estimated on the simulated draws themselves: damage for ``ct`` (``bins``
    bins plus one for undamaged seeds), maturity for ``hsi``, coat for ``rgb``, lot × weight for ``table``;
    ``all`` predicts the noise-free class from the whole state (only the label noise stays).

    Returns:
        ``{"ct", "hsi", "rgb", "table", "all"}`` → macro-F1 against the noisy labels.
    """
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(seed)
    states = [draw_seed_state(rng) for _ in range(n)]
    truth = np.array([s.germination for s in states])
    damage = np.array([s.damage for s in states])

    def binned(values: np.ndarray) -> np.ndarray:
        return np.clip((values * bins).astype(int), 0, bins - 1)

    keys = {
        "ct": binned(damage) + bins * (damage == 0),
        "hsi": binned(np.array([s.maturity for s in states])),
        "rgb": binned(np.array([s.coat for s in states])),
        "table": binned((np.array([s.weight for s in states]) - 2.0) / 5.0) * len(LOTS)
        + np.array([LOTS.index(s.lot) for s in states]),
    }
    result: dict[str, float] = {}
    for name, key in keys.items():
        predicted = np.empty(n, dtype=object)
        for value in np.unique(key):
            members = key == value
            labels, counts = np.unique(truth[members], return_counts=True)
            predicted[members] = labels[counts.argmax()]
        result[name] = float(f1_score(truth, predicted.astype(str), average="macro"))
    clean = np.array([s.germination_clean for s in states])
    result["all"] = float(f1_score(truth, clean, average="macro"))
    return result

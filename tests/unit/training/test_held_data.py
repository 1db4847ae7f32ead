"""Datasets held on the training device: the same batches as the DataLoader, without it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seedlens.training import train
from seedlens.training.distributed import DistInfo
from seedlens.training.loop import _HeldBatches, _make_loader


def _stackable(tiny, n: int):
    """The tiny dataset that can also give all its items at once, counting the items read one by one."""

    class StackableTiny(tiny.TinyDataset):
        item_reads = 0

        def __getitem__(self, index: int):
            self.item_reads += 1
            return super().__getitem__(index)

        def stacked_nbytes(self) -> int:
            return (self.x.numel() + self.y.numel()) * 4

        def stacked(self):
            return {"x": self.x, "y": self.y}

    return StackableTiny(n=n)


def _weights(model: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.state_dict().values()]


@pytest.mark.parametrize("repeats", [1, 3])
def test_held_data_trains_exactly_as_the_dataloader(tiny, repeats):
    results = {}
    for hold in ("never", "always"):
        dataset = _stackable(tiny, 21)
        model = tiny.tiny_net(0)
        cfg = tiny.config(3, hold_data=hold, dataset_repeats=repeats)
        result = train(model, tiny.noisy_step, dataset, cfg, progress=False)
        results[hold] = (_weights(model), result.losses, dataset.item_reads)
    (w_loader, l_loader, reads_loader), (w_held, l_held, reads_held) = results["never"], results["always"]
    assert l_loader == l_held
    assert all(torch.equal(a, b) for a, b in zip(w_loader, w_held, strict=True))
    assert reads_loader > 0 and reads_held == 0  # held: not one item read through __getitem__


def test_held_batches_match_the_dataloader_batch_for_batch(tiny):
    dataset = _stackable(tiny, 19)
    cfg = tiny.config(1, hold_data="always", batch_size=4, dataset_repeats=2)
    sampler, held = _make_loader(dataset, cfg, DistInfo(), torch.device("cpu"))
    assert isinstance(held, _HeldBatches) and len(held) == 38 // 4  # the ragged end dropped, as the loader does
    sampler.generator.manual_seed(5)
    held_batches = list(held)
    sampler.generator.manual_seed(5)
    order = list(sampler)
    for k, batch in enumerate(held_batches):
        index = [i % 19 for i in order[k * 4 : (k + 1) * 4]]
        assert torch.equal(batch["x"], dataset.x[index]) and torch.equal(batch["y"], dataset.y[index])


def test_auto_holds_small_stackable_sets_only(tiny):
    cpu = torch.device("cpu")
    small = _stackable(tiny, 8)
    _, loader = _make_loader(small, tiny.config(1), DistInfo(), cpu)
    assert isinstance(loader, _HeldBatches)
    _, plain = _make_loader(tiny.TinyDataset(n=8), tiny.config(1), DistInfo(), cpu)  # no stacked(): a loader
    assert isinstance(plain, torch.utils.data.DataLoader)
    huge = _stackable(tiny, 8)
    huge.stacked_nbytes = lambda: 3 * 2**30  # more than the limit
    _, too_big = _make_loader(huge, tiny.config(1), DistInfo(), cpu)
    assert isinstance(too_big, torch.utils.data.DataLoader)
    _, never = _make_loader(small, tiny.config(1, hold_data="never"), DistInfo(), cpu)
    assert isinstance(never, torch.utils.data.DataLoader)


def test_whole_sample_fcdd_holds_its_training_set_and_scores_as_without():
    from seedlens.detectors import FCDD

    rng = np.random.default_rng(0)
    x = rng.random((40, 1, 16, 16), dtype=np.float32)
    options = {"backbone": "fcdd28", "image_size": 16, "epochs": 2, "batch_size": 8, "device": "cpu", "seed": 0}
    held = FCDD(hold_data="always", **options).fit(x, progress=False)
    loaded = FCDD(hold_data="never", **options).fit(x, progress=False)
    assert held.history_ == loaded.history_
    assert np.array_equal(held.score(x[:8]), loaded.score(x[:8]))

"""Reading files ahead of their use: decoding the next files in threads while the current one is processed."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from seedlens.errors import ConfigError

Item = TypeVar("Item")
Result = TypeVar("Result")


def read_ahead(items: Iterable[Item], read: Callable[[Item], Result],
               workers: int = 1) -> Iterator[tuple[Item, Result]]:
    """``(item, read(item))`` for every item, in order, with up to ``workers`` reads running ahead in threads.

    Decoding (gzip, PNG, DICOM...) mostly runs outside Python's lock, so it overlaps the caller's computation on the
    result before. A read that fails raises its error where that item's turn comes, after the results before it.
    ``workers=0`` reads in the calling thread, one item at a time. At most ``workers + 1`` results are in memory.

    Raises:
        ConfigError: ``workers`` is negative.
    """
    if workers < 0:
        raise ConfigError(f"workers must be >= 0 (0: read in the calling thread); got {workers!r}")
    if workers == 0:
        for item in items:
            yield item, read(item)
        return
    pending: deque[tuple[Item, Future[Result]]] = deque()
    source = iter(items)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="seedlens-read") as pool:
        try:
            for item in source:
                pending.append((item, pool.submit(read, item)))
                if len(pending) > workers:
                    done, future = pending.popleft()
                    yield done, future.result()
            while pending:
                done, future = pending.popleft()
                yield done, future.result()
        finally:
            for _, future in pending:  # the caller stopped early or a read failed: drop the reads ahead
                future.cancel()

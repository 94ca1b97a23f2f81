"""The writer the gendata tools share: read samples in parallel into a memory-mapped ``.npy``.

``fill_npy_parallel`` opens ``np.lib.format.open_memmap`` on a temporary file next to the
output, lets a ``multiprocessing.Pool`` read the samples (in chunks, in order), writes each
sample into its row as it arrives, and renames the file over the output only when every
sample is in. Peak memory is a few samples, not the dataset; a crash or an error in any
sample leaves no partial ``.npy`` behind.
"""
from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
from typing import Any, Callable, Iterator, Sequence

import numpy as np
from tqdm import tqdm

from torchlight import atomic_path

logger = logging.getLogger(__name__)

Reader = Callable[[Any], 'tuple[np.ndarray, Any]']


def default_num_workers() -> int:
    """The number of CPUs this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _chunksize(num_items: int, num_workers: int) -> int:
    # a few chunks per worker keeps them busy without paying IPC per sample
    return max(1, min(64, num_items // (num_workers * 8)))


def _results(reader: Reader, items: Sequence[Any], num_workers: int) -> Iterator[tuple[np.ndarray, Any]]:
    if num_workers <= 1 or len(items) <= 1:
        for item in items:
            yield reader(item)
        return
    with multiprocessing.Pool(min(num_workers, len(items))) as pool:
        yield from pool.imap(reader, items, chunksize=_chunksize(len(items), num_workers))


def fill_npy_parallel(out_path: str | os.PathLike, items: Sequence[Any], reader: Reader,
                      sample_shape: tuple[int, ...], num_workers: int = 1,
                      desc: str = 'samples', dtype: Any = np.float32) -> list[Any]:
    """Write ``reader(item)[0]`` for every item into row i of an (N, *sample_shape) ``.npy``.

    ``reader`` must be picklable (a module-level function or a ``functools.partial`` of one)
    when ``num_workers > 1``; it returns ``(array, extra)`` where array has ``sample_shape``.
    Returns the ``extra`` values in item order (e.g. the labels). An exception raised by the
    reader for any item propagates unchanged and no file is left at ``out_path`` (an existing
    file there is left untouched).
    """
    out_path = os.fspath(out_path)
    extras: list[Any] = []
    with atomic_path(out_path) as tmp:
        array = np.lib.format.open_memmap(tmp, mode='w+', dtype=dtype, shape=(len(items), *sample_shape))
        results = _results(reader, items, num_workers)
        with contextlib.closing(results), tqdm(total=len(items), desc=desc, unit='clip',
                                               dynamic_ncols=True) as bar:
            for i, (sample, extra) in enumerate(results):
                if sample.shape != tuple(sample_shape):  # internal contract of the readers
                    raise AssertionError(f'reader returned shape {sample.shape} for item {i}, '
                                         f'expected {tuple(sample_shape)}')
                array[i] = sample
                extras.append(extra)
                bar.update(1)
        array.flush()
        del array
    logger.info('wrote %s: %d samples of shape %s', out_path, len(items), tuple(sample_shape))
    return extras

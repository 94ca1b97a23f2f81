"""Data for training and evaluation: the feeders, their loaders (DistributedSampler under torchrun, an optional
class-balanced sampler), the per-epoch seeding that makes --resume exact, and the checks that data fit a model.

Under torchrun every rank reads its share and ``--batch_size``/``--test_batch_size`` stay the totals over all
ranks, as with DataParallel.
"""
from __future__ import annotations

import logging
import random
from typing import Any, Mapping

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, WeightedRandomSampler

from torchlight import import_class

from .distributed import DistInfo
from .options import ConfigError

logger = logging.getLogger(__name__)


def derived_seed(*parts: int) -> int:
    """A 63-bit seed mixed from integers (seed, epoch, rank, ...): distinct inputs give unrelated seeds."""
    entropy = [int(p) % 2 ** 63 for p in parts]
    return int(np.random.SeedSequence(entropy).generate_state(1, dtype=np.uint64)[0] % 2 ** 63)


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2 ** 32)
    torch.manual_seed(seed)


def worker_init(worker_id: int) -> None:
    """Seed a data-loader worker's numpy and python RNGs (the augmentations use numpy's global RNG).

    torch gives each worker the seed ``base_seed + worker_id``, with ``base_seed`` drawn from the loader's
    generator each epoch (see :meth:`Loaders.set_epoch`): distinct per worker and per epoch, the same run to run.
    """
    seed = torch.initial_seed()
    np.random.seed(derived_seed(seed) % 2 ** 32)
    random.seed(seed)


def build_feeder(feeder: str, args: Mapping[str, Any], which: str, debug: bool = False) -> Dataset:
    """The dataset ``feeder`` (a dotted class path) with ``args``; a ConfigError when the arguments do not fit."""
    feeder_class = import_class(feeder)
    args = dict(args or {})
    if debug:
        args['debug'] = True
    try:
        return feeder_class(**args)
    except TypeError as exc:
        raise ConfigError(f'{which}_feeder_args do not fit {feeder}: {exc}') from None


def data_path(dataset: Dataset) -> str:
    return str(getattr(dataset, 'data_path', type(dataset).__name__))


def check_dataset(dataset: Dataset, split: str, batch_size: int | None, model: torch.nn.Module) -> None:
    """Refuse an empty split, a batch larger than the split, and data that does not fit the model."""
    if len(dataset) == 0:
        raise ValueError(f'the {split} split is empty ({data_path(dataset)})')
    if batch_size is not None and batch_size > len(dataset):
        raise ValueError(f'--batch_size {batch_size} is larger than the {split} split '
                         f'({len(dataset)} samples in {data_path(dataset)})')
    sample = dataset[0][0]
    model = getattr(model, 'origin_stream', model)
    num_node = getattr(model, 'num_node', None)
    if num_node is not None and sample.shape[2] != num_node:
        raise ValueError(f'{data_path(dataset)}: the data has V={sample.shape[2]} joints but the model\'s '
                         f'graph has {num_node} nodes (check graph_args layout)')
    in_channels = getattr(model, 'in_channels', None)
    if in_channels is not None and sample.shape[0] != in_channels:
        raise ValueError(f'{data_path(dataset)}: the data has C={sample.shape[0]} channels but the model '
                         f'expects in_channels={in_channels}')


def class_counts(dataset: Dataset, num_class: int) -> np.ndarray:
    """(num_class,) clips of each class in a dataset with a ``label`` list (the feeders); labelled frames of each
    class for a dense feeder (its ``frame_label`` array)."""
    frame_label = getattr(dataset, 'frame_label', None)
    labels = np.asarray(getattr(dataset, 'label') if frame_label is None else frame_label, dtype=np.int64).ravel()
    labels = labels[labels >= 0]
    if len(labels) and (labels.min() < 0 or labels.max() >= num_class):
        raise ValueError(f'{data_path(dataset)}: labels lie in {labels.min()}..{labels.max()} but the model has '
                         f'num_class={num_class}')
    return np.bincount(labels, minlength=num_class)


class Loaders:
    """The train and test loaders of a run and the generators that seed them per epoch."""

    def __init__(self, dist: DistInfo, seed: int, num_worker: int, pin_memory: bool):
        self.dist = dist
        self.seed = seed
        self.common = dict(num_workers=num_worker, worker_init_fn=worker_init, pin_memory=pin_memory,
                           persistent_workers=False)  # workers are re-created every epoch: seeds follow the epoch
        self.loader: dict[str, DataLoader] = {}
        self.generator: dict[str, torch.Generator] = {}

    def __getitem__(self, split: str) -> DataLoader:
        return self.loader[split]

    def __contains__(self, split: str) -> bool:
        return split in self.loader

    def add_train(self, dataset: Dataset, batch_size: int, class_weights: np.ndarray | None = None) -> None:
        """Shuffled batches of ``batch_size // world_size`` clips per rank, the last short one dropped. With
        ``class_weights`` (one per class), clips are drawn with replacement in proportion to their class's weight
        (a class-balanced sampler; one process only)."""
        world = self.dist.world_size
        if batch_size < world:
            raise ConfigError(f'--batch_size {batch_size} is smaller than the {world} processes; it is the total '
                              'batch over all of them')
        generator = self.generator['train'] = torch.Generator()
        sampler = None
        if class_weights is not None:
            if self.dist.enabled:
                raise ConfigError('--balanced_sampler does not combine with torchrun; use --class_weight '
                                  'balanced instead')
            labels = np.asarray(dataset.label, dtype=np.int64)
            sampler = WeightedRandomSampler(torch.as_tensor(class_weights[labels], dtype=torch.float64),
                                            num_samples=len(labels), replacement=True, generator=generator)
        elif self.dist.enabled:
            sampler = DistributedSampler(dataset, num_replicas=world, rank=self.dist.rank, shuffle=True,
                                         seed=self.seed)
        self.loader['train'] = DataLoader(dataset, batch_size=batch_size // world, shuffle=sampler is None,
                                          sampler=sampler, drop_last=True, generator=generator, **self.common)

    def add_test(self, dataset: Dataset, batch_size: int) -> None:
        """Batches in dataset order; under torchrun each rank a padded share (the evaluation drops the padding)."""
        world = self.dist.world_size
        generator = self.generator['test'] = torch.Generator()
        sampler = None
        if self.dist.enabled:
            sampler = DistributedSampler(dataset, num_replicas=world, rank=self.dist.rank, shuffle=False)
        self.loader['test'] = DataLoader(dataset, batch_size=max(1, batch_size // world), shuffle=False,
                                         sampler=sampler, generator=generator, **self.common)

    def set_epoch(self, epoch: int) -> None:
        """Seed the loaders for ``epoch`` from (--seed, epoch, rank): the shuffle order, the worker seeds and so
        the augmentations of an epoch do not depend on what ran before it."""
        for split, generator in self.generator.items():
            generator.manual_seed(derived_seed(self.seed, epoch, self.dist.rank, split == 'test'))
            sampler = self.loader[split].sampler
            if isinstance(sampler, DistributedSampler):
                sampler.set_epoch(epoch)

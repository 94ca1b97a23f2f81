"""Optimisation: the optimiser, the learning-rate schedule and the loss's class weights."""
from __future__ import annotations

import logging
import math
from typing import Iterable, Sequence

import numpy as np
import torch

from .options import ConfigError

logger = logging.getLogger(__name__)


def build_optimizer(parameters: Iterable[torch.nn.Parameter], name: str, base_lr: float, nesterov: bool,
                    weight_decay: float) -> torch.optim.Optimizer:
    """SGD with momentum 0.9 (Nesterov optional), as the original, or Adam."""
    if name == 'SGD':
        return torch.optim.SGD(parameters, lr=base_lr, momentum=0.9, nesterov=nesterov, weight_decay=weight_decay)
    return torch.optim.Adam(parameters, lr=base_lr, weight_decay=weight_decay)


def learning_rate(base_lr: float, epoch: int, step: Sequence[int], optimizer: str, schedule: str = 'step',
                  num_epoch: int = 1) -> float:
    """The learning rate of a (0-based) epoch. ``step`` (the original's): ``base_lr * 0.1 ** (number of steps <=
    epoch)`` for SGD, Adam keeps base_lr; ``cosine``: ``base_lr * (1 + cos(pi * epoch / num_epoch)) / 2`` for
    either optimiser, from base_lr down towards 0 over the run."""
    if schedule == 'cosine':
        return base_lr * 0.5 * (1.0 + math.cos(math.pi * epoch / max(1, num_epoch)))
    if optimizer == 'SGD' and step:
        return base_lr * 0.1 ** int(np.sum(epoch >= np.array(step)))
    return base_lr


def set_learning_rate(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group['lr'] = lr


def class_weights(spec: Sequence[str], counts: np.ndarray) -> np.ndarray | None:
    """The per-class weights of ``--class_weight``: None for 'none'; for 'balanced', ``N / (K * count)`` (the mean
    over the clips is 1), 0 for a class without clips; else one number per class, as given."""
    values = [str(v) for v in spec]
    num_class = len(counts)
    if values == ['none']:
        return None
    if values == ['balanced']:
        total = counts.sum()
        return np.where(counts > 0, total / (num_class * np.maximum(counts, 1)), 0.0)
    try:
        weights = np.array([float(v) for v in values])
    except ValueError:
        raise ConfigError(f'--class_weight {" ".join(values)}: expected none, balanced or {num_class} numbers') from None
    if len(weights) != num_class or (weights < 0).any():
        raise ConfigError(f'--class_weight: {len(weights)} weights given for {num_class} classes; give one '
                          'non-negative number per class, or none, or balanced')
    return weights


def describe_counts(counts: np.ndarray, names: Sequence[str] | None, weights: np.ndarray | None,
                    sampler_weights: np.ndarray | None, unit: str = 'clips') -> str:
    """'training clips per class: walking 120, rearing 40; loss weights 0.67, 2.00; per epoch (balanced sampler)
    about 80, 80' for the log (``unit`` frames for a per-frame model)."""
    names = list(names) if names else [str(i) for i in range(len(counts))]
    text = f'training {unit} per class: ' + ', '.join(f'{n} {c}' for n, c in zip(names, counts))
    if weights is not None:
        text += '; loss weights ' + ', '.join(f'{w:.2f}' for w in weights)
    if sampler_weights is not None:
        expected = counts * sampler_weights
        expected = expected / max(expected.sum(), 1e-12) * counts.sum()
        text += '; expected per epoch with the balanced sampler ' + ', '.join(f'{e:.0f}' for e in expected)
    return text

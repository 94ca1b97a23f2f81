"""Training checkpoints: written atomically, read with ``torch.load(weights_only=True)``.

A checkpoint (``work_dir/checkpoint.pt``) is a dict of tensors and plain Python values only, so loading it
runs no code::

    format      'st-gcn-checkpoint/1'
    model       state dict (CPU tensors, no ``module.`` prefix)
    optimizer   optimizer.state_dict()
    scaler      GradScaler.state_dict() or None (fp16 mixed precision only)
    epoch       number of finished epochs (training resumes at this 0-based epoch)
    iter        number of finished iterations
    lr          learning rate of the last epoch
    best_top1   best validation top-1 so far (%, None before the first evaluation), best_epoch its epoch
    metrics     the rows of metrics.csv so far
    rng         one RNG state per rank (see capture_rng_state)
    world_size  number of processes of the run that wrote it
    config      the resolved configuration (plain values)
"""
from __future__ import annotations

import os
import random
from collections import OrderedDict
from typing import Any, Mapping

import numpy as np
import torch

from torchlight import atomic_write
from torchlight.io import torch_load

CHECKPOINT_FORMAT = 'st-gcn-checkpoint/1'


def capture_rng_state() -> dict[str, Any]:
    """The python, numpy, torch and CUDA generator states as tensors and plain values (weights_only-safe)."""
    version, internal, gauss_next = random.getstate()
    kind, keys, pos, has_gauss, cached_gaussian = np.random.get_state(legacy=True)
    state: dict[str, Any] = {
        'python': {'version': int(version), 'state': [int(v) for v in internal], 'gauss_next': gauss_next},
        'numpy': {'kind': str(kind), 'keys': [int(v) for v in keys], 'pos': int(pos),
                  'has_gauss': int(has_gauss), 'cached_gaussian': float(cached_gaussian)},
        'torch': torch.get_rng_state(),
        'cuda': None,
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: Mapping[str, Any]) -> None:
    """Put back the generator states saved by :func:`capture_rng_state`."""
    py = state['python']
    random.setstate((py['version'], tuple(py['state']), py['gauss_next']))
    npy = state['numpy']
    np.random.set_state((npy['kind'], np.asarray(npy['keys'], dtype=np.uint32), npy['pos'], npy['has_gauss'],
                         npy['cached_gaussian']))
    torch.set_rng_state(state['torch'].cpu())
    cuda = state.get('cuda')
    if cuda is not None and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([s.cpu() for s in cuda])


def cpu_state_dict(model: torch.nn.Module) -> 'OrderedDict[str, torch.Tensor]':
    """The model's state dict on the CPU, without a DataParallel/DDP ``module.`` prefix."""
    target = model.module if hasattr(model, 'module') else model
    return OrderedDict((k, v.detach().cpu()) for k, v in target.state_dict().items())


def save_checkpoint(path: str | os.PathLike, checkpoint: Mapping[str, Any]) -> None:
    """``torch.save`` through a temporary file renamed over ``path``: a crash leaves the previous checkpoint."""
    with atomic_write(path, 'wb') as handle:
        torch.save(dict(checkpoint, format=CHECKPOINT_FORMAT), handle)


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint with ``torch.load(weights_only=True)``; one-line errors for a missing or foreign file."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{path}: no checkpoint to resume from (checkpoint.pt is written every '
                                '--save_interval epochs; give --resume PATH or leave --resume out)')
    checkpoint = torch_load(path, 'checkpoint')
    if not isinstance(checkpoint, dict) or checkpoint.get('format') != CHECKPOINT_FORMAT:
        raise ValueError(f'{path}: not an st-gcn training checkpoint (expected format {CHECKPOINT_FORMAT!r}; '
                         'a weights-only epoch<N>_model.pt is loaded with --weights, not --resume)')
    return checkpoint

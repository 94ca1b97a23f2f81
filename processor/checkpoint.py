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
    model_file  what a model file stores beside its weights (model, model_args, input), so that a checkpoint
                can be given to --weights like a model file

A model file (``best_model.pt``, ``epoch<N>_model.pt``) is ``{'format': 'st-gcn-model/1', 'state_dict': ...,
'model': 'net.st_gcn.Model', 'model_args': {...}, 'input': {...}}``: the weights, the model class and its arguments
(the graph layout as data, not a path) and the input spec (:class:`feeder.model_input.InputSpec`), so that
``main.py demo --weights best_model.pt --input session.csv`` needs nothing else. A plain state dict (the published
models) is read too; it then needs the model and its input described by a config.
"""
from __future__ import annotations

import os
import random
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import torch

from feeder.model_input import InputSpec
from torchlight import atomic_write
from torchlight.io import plain, read_state_dict, torch_load

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


# ------------------------------------------------------------------ model files
MODEL_FORMAT = 'st-gcn-model/1'


@dataclass
class ModelFile:
    """A weights file as read: the state dict and, for model files written by training, what rebuilds the model
    (``model`` class path, ``model_args`` with the graph layout as data) and prepares its input (``input``);
    those are None for a plain state dict such as the published models."""
    path: str
    state_dict: 'OrderedDict[str, torch.Tensor]'
    model: str | None = None
    model_args: dict[str, Any] | None = None
    input: InputSpec | None = None

    @property
    def has_spec(self) -> bool:
        return self.model is not None


def portable_model_args(model_args: Mapping[str, Any]) -> dict[str, Any]:
    """``model_args`` with its graph layout as data (``net.utils.graph.portable_layout``): no file path in it."""
    from net.utils.graph import portable_layout
    args = plain(dict(model_args))
    graph_args = args.get('graph_args')
    if isinstance(graph_args, dict) and 'layout' in graph_args:
        args['graph_args'] = {**graph_args, 'layout': plain(portable_layout(graph_args['layout']))}
    return args


def portable_transform(transform: Mapping[str, Any]) -> dict[str, Any]:
    """Transform arguments with their ``layout`` as data (see :func:`portable_model_args`)."""
    from net.utils.graph import portable_layout
    args = plain(dict(transform))
    if args.get('layout') is not None:
        args['layout'] = plain(portable_layout(args['layout']))
    return args


def model_file_content(model: str, model_args: Mapping[str, Any], spec: InputSpec) -> dict[str, Any]:
    """What a model file stores beside its state dict (``torchlight.IO.save_model(..., extra=...)``)."""
    return {'format': MODEL_FORMAT, 'model': model, 'model_args': portable_model_args(model_args),
            'input': spec.to_dict()}


def read_model_file(path: str) -> ModelFile:
    """Read a model file, a plain state dict or a training checkpoint (its weights) with ``weights_only=True``."""
    content = torch_load(path, 'PyTorch weights file') if os.path.isfile(path) else None
    state_dict = read_state_dict(path, content)
    if isinstance(content, Mapping) and content.get('format') == MODEL_FORMAT:
        spec = InputSpec.from_dict(content.get('input') or {}, path)
        return ModelFile(path, state_dict, content.get('model'), dict(content.get('model_args') or {}), spec)
    if isinstance(content, Mapping) and content.get('format') == CHECKPOINT_FORMAT and content.get('model_file'):
        info = content['model_file']
        spec = InputSpec.from_dict(info.get('input') or {}, path)
        return ModelFile(path, state_dict, info.get('model'), dict(info.get('model_args') or {}), spec)
    return ModelFile(path, state_dict)

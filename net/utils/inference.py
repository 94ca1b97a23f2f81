"""A fast evaluation path shared by every place that only runs a trained model forward (test, extract, demo).

:func:`prepare_for_inference` returns an evaluation copy of a model, made by replacing modules in a deep copy: eval
mode, gradients off, the graph convolutions swapped for their channels-last formulation (:mod:`net.utils.fast`),
every Conv2d that is immediately followed by a BatchNorm2d inside an ``nn.Sequential`` folded into one convolution
and the BatchNorm after each plain graph convolution folded into the graph convolution (:mod:`net.utils.fold`;
both exact up to rounding). The model passed in is left untouched, so its ``state_dict`` (the published-checkpoint
names) can still be saved or trained.

:func:`predict` runs a prepared (or plain) model over a batch under ``torch.inference_mode``, in micro-batches on
CPU (a batch of 64 Kinetics clips has intermediate tensors of several GB; slices of a few thousand person-frames
run faster and in a fraction of the memory), optionally under bf16 autocast, and returns float32 class scores and,
on request, the pooled clip embeddings.

Shapes: N = clips, C = channels, T = frames, V = joints, M = persons.
"""
from __future__ import annotations

import copy
import logging

import numpy as np
import torch
from torch import nn

from net.utils.fast import use_fast_graph_conv, use_published_graph_conv
from net.utils.fold import fold_batchnorms, fold_graph_conv_batchnorms

logger = logging.getLogger(__name__)

# person-frames (clips x M x T) per forward pass on CPU: 4 Kinetics clips (T=300, M=2), 16 rat clips (T=150) or
# 37 rat windows (T=64). Measured on the idle 2-core AVX-512 machine (docs/performance.md, 2026-12-02):
# Kinetics fp32 ran at 12.3-13.3 clips/s with passes of 1-4 clips against 9.4 with 8 and 8.1 with 16-32 (tensors
# over glibc's 32 MB mmap threshold page-fault on every allocation); bf16 was flat from 1 to 8 clips.
CPU_FRAMES_PER_PASS = 2400


def prepare_for_inference(model: nn.Module, fold_bn: bool = True, channels_last: bool | None = True) -> nn.Module:
    """An evaluation copy of ``model``: eval mode, no gradients, BatchNorms folded, channels-last graph convolutions.

    The copy is made by replacing modules in a deep copy; ``model`` itself is not modified. Works for any module;
    the ST-GCN specific steps apply to the graph convolutions inside it. ``channels_last``: True swaps each
    published graph convolution for its channels-last counterpart (:func:`net.utils.fast.use_fast_graph_conv`),
    False swaps channels-last ones back to the published formulation, None keeps the model's own. ``fold_bn``
    folds the BatchNorms into the convolutions before them (:mod:`net.utils.fold`).
    """
    prepared = copy.deepcopy(model).eval()
    switched = 0
    if channels_last is True:
        switched = use_fast_graph_conv(prepared)
    elif channels_last is False:
        switched = use_published_graph_conv(prepared)
    folded = fold_batchnorms(prepared) + fold_graph_conv_batchnorms(prepared) if fold_bn else 0
    prepared.eval().requires_grad_(False)  # the modules put in too
    logger.debug('prepared for inference: %d graph convolutions switched (channels_last=%s), %d BatchNorms folded',
                 switched, channels_last, folded)
    return prepared


def compile_for_inference(model: nn.Module, **compile_args) -> nn.Module:
    """``model`` with its expensive part compiled by ``torch.compile`` (static shapes unless told otherwise).

    For a model with ``forward_features`` (every model here), that method is replaced on the instance by its
    compiled version, so both ``model(x)`` and :func:`predict` with ``features=True`` (which calls
    ``forward_features`` directly) run compiled; the head (pooling and a 1x1 convolution) stays eager. Other
    modules are wrapped whole. ``compile_args`` go to ``torch.compile`` (e.g. ``backend``, ``mode``).
    """
    compile_args.setdefault('dynamic', False)
    if hasattr(model, 'forward_features'):
        model.forward_features = torch.compile(model.forward_features, **compile_args)
        return model
    return torch.compile(model, **compile_args)


def _forward(model: nn.Module, x: torch.Tensor, features: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    if features:
        if not all(hasattr(model, name) for name in ('forward_features', 'pool_features', 'forward_head')):
            raise ValueError(f'{type(model).__name__} has no forward_features/pool_features/forward_head, '
                             'so predict(features=True) cannot return embeddings')
        feature_map = model.forward_features(x)  # (n, M, C, T', V)
        return model.forward_head(feature_map), model.pool_features(feature_map)  # (n, classes), (n, C)
    return model(x), None


def default_micro_batch(data: torch.Tensor) -> int:
    """Clips per forward pass for ``data`` (N, C, T, V, M): ``CPU_FRAMES_PER_PASS // (T * M)`` on CPU, else N."""
    if data.device.type == 'cpu':
        return max(1, CPU_FRAMES_PER_PASS // (data.size(2) * data.size(4)))
    return max(len(data), 1)


def predict(model: nn.Module, data: torch.Tensor | np.ndarray, micro_batch: int | None = None, amp: bool = False,
            features: bool = False, pad_last: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Class scores for ``data`` (N, C, T, V, M): a float32 tensor (N, num_class) on the data's device.

    Args:
        model: a model in eval mode, ideally from :func:`prepare_for_inference`; it is run as given.
        data: the clips; a numpy array is converted (float32, on the model's device).
        micro_batch: clips per forward pass; default on CPU ``CPU_FRAMES_PER_PASS // (T * M)`` (4 clips of
            T=300, M=2), elsewhere the whole batch. Results do not depend on it (up to rounding).
        amp: run under bf16 autocast (CPU or CUDA).
        features: also return the pooled clip embeddings (N, C) from ``model.pool_features``.
        pad_last: pad a short last micro-batch with zero clips (their outputs are dropped), so that every forward
            pass has the same shape: a ``torch.compile``-d model then compiles once instead of once per size.
    """
    if isinstance(data, np.ndarray):
        device = next(iter(model.parameters()), torch.empty(0)).device
        data = torch.from_numpy(np.ascontiguousarray(data, dtype=np.float32)).to(device)
    if data.dim() != 5:
        raise ValueError(f'data must be (N, C, T, V, M), got shape {tuple(data.shape)}')
    if micro_batch is None:
        micro_batch = default_micro_batch(data)
    if micro_batch < 1:
        raise ValueError(f'micro_batch must be >= 1, got {micro_batch}')
    if model.training:
        logger.warning('predict: the model is in training mode (BatchNorm batch statistics, dropout); '
                       'call prepare_for_inference(model) or model.eval() first')
    scores, pooled = [], []
    with torch.inference_mode(), torch.autocast(data.device.type, dtype=torch.bfloat16, enabled=amp):
        for start in range(0, len(data), micro_batch):
            chunk = data[start:start + micro_batch]  # (n, C, T, V, M)
            if chunk.dtype != torch.float32 and not amp:
                chunk = chunk.float()
            size = len(chunk)
            if pad_last and size < micro_batch:  # zero clips up to (micro_batch, C, T, V, M)
                chunk = torch.cat([chunk, chunk.new_zeros((micro_batch - size,) + tuple(chunk.shape[1:]))])
            elif pad_last:  # an inference tensor like the padded one, so a compiled model's guards see one kind
                chunk = chunk.clone()
            out, emb = _forward(model, chunk, features)
            scores.append(out[:size].float())
            if emb is not None:
                pooled.append(emb[:size].float())
    if not scores:
        raise ValueError('data holds no clips (N = 0)')
    result = torch.cat(scores)  # (N, num_class)
    if features:
        return result, torch.cat(pooled)  # (N, C)
    return result

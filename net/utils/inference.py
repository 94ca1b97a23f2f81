"""A fast evaluation path shared by every place that only runs a trained model forward (test, extract, demo).

:func:`prepare_for_inference` returns an evaluation copy of a model: eval mode, gradients off, every Conv2d that is
immediately followed by a BatchNorm2d inside an ``nn.Sequential`` folded into one convolution, the BatchNorm after
each graph convolution folded into the graph convolution (both exact up to rounding), and the graph convolutions
switched to their channels-last formulation. The model passed in is left untouched, so its ``state_dict`` (the
published-checkpoint names) can still be saved or trained.

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

from net.utils.tgcn import ConvTemporalGraphical

logger = logging.getLogger(__name__)

# person-frames (clips x M x T) per forward pass on CPU: 4 Kinetics clips (T=300, M=2), 16 rat clips (T=150) or
# 37 rat windows (T=64). Measured on the idle 2-core AVX-512 machine (README, performance section, 2026-12-02):
# Kinetics fp32 ran at 12.3-13.3 clips/s with passes of 1-4 clips against 9.4 with 8 and 8.1 with 16-32 (tensors
# over glibc's 32 MB mmap threshold page-fault on every allocation); bf16 was flat from 1 to 8 clips.
CPU_FRAMES_PER_PASS = 2400


def batchnorm_scale_shift(bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """(scale, shift), each (C,), with ``bn(x) == x * scale + shift`` per channel in eval mode.

    Computed in float32, or in the statistics' dtype where that is wider (float64).
    """
    if bn.running_mean is None or bn.running_var is None:
        raise ValueError(f'cannot fold {bn}: it keeps no running statistics (track_running_stats=False)')
    dtype = torch.promote_types(torch.float32, bn.running_var.dtype)
    with torch.no_grad():
        std = torch.sqrt(bn.running_var.to(dtype) + bn.eps)
        gamma = bn.weight.to(dtype) if bn.weight is not None else torch.ones_like(std)
        beta = bn.bias.to(dtype) if bn.bias is not None else torch.zeros_like(std)
        scale = gamma / std  # (C,)
        return scale, beta - bn.running_mean.to(dtype) * scale  # (C,), (C,)


def fold_conv_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    """A new Conv2d equal to ``bn(conv(x))`` with ``bn`` in eval mode (its running statistics)."""
    scale, shift = batchnorm_scale_shift(bn)
    fused = copy.deepcopy(conv)
    with torch.no_grad():
        bias = conv.bias.to(scale.dtype) if conv.bias is not None else torch.zeros_like(scale)
        fused.weight = nn.Parameter((conv.weight.to(scale.dtype) * scale.view(-1, 1, 1, 1)).to(conv.weight.dtype),
                                    requires_grad=False)
        fused.bias = nn.Parameter((bias * scale + shift).to(conv.weight.dtype), requires_grad=False)
    return fused


def fold_batchnorms(model: nn.Module) -> int:
    """Fold, in place, every Conv2d directly followed by a BatchNorm2d with matching channels in an nn.Sequential.

    The BatchNorm is replaced by ``nn.Identity`` so the Sequential's indices stay the same. Returns the number of
    pairs folded. Only valid for evaluation: call on an eval-mode copy.
    """
    folded = 0
    for module in model.modules():
        if not isinstance(module, nn.Sequential):
            continue
        for i in range(len(module) - 1):
            conv, bn = module[i], module[i + 1]
            if (isinstance(conv, nn.Conv2d) and type(bn) is nn.BatchNorm2d and bn.track_running_stats
                    and bn.num_features == conv.out_channels):
                module[i] = fold_conv_bn(conv, bn)
                module[i + 1] = nn.Identity()
                folded += 1
    return folded


def fold_graph_conv_batchnorms(model: nn.Module) -> int:
    """Fold, in place, the BatchNorm2d that opens each ST-GCN block's ``tcn`` into the block's graph convolution.

    A block qualifies when it is an :class:`net.st_gcn.st_gcn` (or a subclass) that keeps that class's forward pass
    (graph convolution, then ``tcn``), its ``gcn`` is a plain :class:`ConvTemporalGraphical` (not a subclass that
    adds work after it, such as the multi-branch SE) with a 1x1 kernel, and ``tcn[0]`` is a BatchNorm2d of the same
    width. The BatchNorm becomes ``nn.Identity``. Returns the number folded. Only valid for evaluation: call on an
    eval-mode copy.
    """
    from net.st_gcn import st_gcn
    folded = 0
    for module in model.modules():
        if not isinstance(module, st_gcn) or type(module).forward is not st_gcn.forward:
            continue
        gcn, tcn = module.gcn, module.tcn
        if (type(gcn) is not ConvTemporalGraphical or not gcn._pointwise or gcn.out_scale is not None
                or not isinstance(tcn, nn.Sequential) or len(tcn) == 0):
            continue
        bn = tcn[0]
        if type(bn) is nn.BatchNorm2d and bn.track_running_stats and bn.num_features == gcn.out_channels:
            gcn.out_scale, gcn.out_shift = batchnorm_scale_shift(bn)
            tcn[0] = nn.Identity()
            folded += 1
    return folded


def prepare_for_inference(model: nn.Module, fold_bn: bool = True, channels_last: bool | None = True) -> nn.Module:
    """An evaluation copy of ``model``: eval mode, no gradients, BatchNorms folded, channels-last graph convolutions.

    The argument is not modified. Works for any module; the ST-GCN specific steps apply to every
    :class:`ConvTemporalGraphical` inside it: ``channels_last`` True (on every device) or False (the channels-first
    orders) sets its formulation, None keeps each one's own setting (by default channels-last on CPU only).
    """
    prepared = copy.deepcopy(model).eval()
    prepared.requires_grad_(False)
    folded = fold_batchnorms(prepared) + fold_graph_conv_batchnorms(prepared) if fold_bn else 0
    switched = 0
    if channels_last is not None:
        for module in prepared.modules():
            if isinstance(module, ConvTemporalGraphical):
                module.channels_last = channels_last
                switched += 1
    logger.debug('prepared for inference: %d conv+BN pairs folded, %d graph convolutions set to channels_last=%s',
                 folded, switched, channels_last)
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

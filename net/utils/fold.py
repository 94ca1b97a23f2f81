"""BatchNorm folding for evaluation copies: a BatchNorm2d in eval mode is an affine map per channel, so it can go
into the convolution before it.

* :func:`fold_batchnorms`: every ``Conv2d`` directly followed by a ``BatchNorm2d`` in an ``nn.Sequential`` (the
  temporal convolution and the residual convolution of each block) becomes one ``Conv2d``.
* :func:`fold_graph_conv_batchnorms`: the ``BatchNorm2d`` that opens a block's ``tcn`` goes into the block's graph
  convolution, which becomes a :class:`FoldedGraphConv`. The rule is structural:

  - the block's class is listed in :data:`FOLDABLE_BLOCKS` (exact type): its forward pass is
    ``relu(tcn(gcn(x, A)) + residual(x))``, so the graph convolution's output goes straight into ``tcn[0]``;
  - its ``gcn`` is exactly a plain graph-convolution sum (:data:`FOLDABLE_GRAPH_CONVS`: the published
    :class:`~net.utils.tgcn.ConvTemporalGraphical` or its channels-last counterpart) with a 1x1 kernel. The
    multi-branch model's :class:`~net.st_gcn_mb.GraphConvSE` (and its channels-last counterpart) applies
    squeeze-and-excitation to the sum, a gate that depends on the input, so the BatchNorm after it stays;
  - ``tcn[0]`` is a ``BatchNorm2d`` with running statistics over the graph convolution's output channels.

Both replace the folded BatchNorm by ``nn.Identity`` (the Sequential keeps its indices) and put new modules with
new tensors in place of the old ones: only call them on an eval-mode copy (as
:func:`net.utils.inference.prepare_for_inference` does); the parameters of the model they are called on are not
written to. Exact up to rounding.
"""
from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from net.st_gcn import st_gcn
from net.st_gcn_mb import st_gcn_mb
from net.utils.fast import GraphConvChannelsLast, channels_last_graph_conv, check_partitions, is_pointwise
from net.utils.tgcn import ConvTemporalGraphical

# blocks whose forward is relu(tcn(gcn(x, A)) + residual(x)); exact types, so that a subclass with another forward
# pass is not folded until it is listed here
FOLDABLE_BLOCKS: tuple[type[nn.Module], ...] = (st_gcn, st_gcn_mb)
# graph convolutions whose output is the graph-convolution sum itself (exact types)
FOLDABLE_GRAPH_CONVS: tuple[type[nn.Module], ...] = (ConvTemporalGraphical, GraphConvChannelsLast)


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


class FoldedGraphConv(nn.Module):
    """``bn(gcn(x, A))`` for a plain graph convolution ``gcn`` with a 1x1 kernel and a BatchNorm2d ``bn`` in eval
    mode, as one graph convolution; for evaluation copies only.

    With the BatchNorm's ``scale`` and ``shift`` (C_out,): weight ``W_k * scale`` and bias ``b_k * scale`` (bias
    passed through the graph), plus ``shift`` after the graph. The tensors are new buffers (``weight`` (K, C_out,
    C_in), ``bias`` (K, C_out) or None, ``shift`` (C_out,)), in the graph convolution's dtype; a folded copy's
    ``state_dict`` therefore fits no unfolded model. The formulation follows the module folded: channels-last
    (:func:`~net.utils.fast.channels_last_graph_conv`) for a :class:`~net.utils.fast.GraphConvChannelsLast`, the
    published order (1x1 conv to K*C_out channels, einsum over (k, v)) for a published
    :class:`~net.utils.tgcn.ConvTemporalGraphical`.

    Shapes: x (N, C_in, T, V), A (K, V, V) -> (N, C_out, T, V), A.
    """

    def __init__(self, gcn: nn.Module, bn: nn.BatchNorm2d):
        super().__init__()
        if type(gcn) not in FOLDABLE_GRAPH_CONVS or not is_pointwise(gcn.conv):
            raise ValueError(f'cannot fold a BatchNorm into {type(gcn).__name__}: only a plain graph convolution '
                             f'({", ".join(c.__name__ for c in FOLDABLE_GRAPH_CONVS)}) with a 1x1 kernel')
        conv, K = gcn.conv, gcn.kernel_size
        if bn.num_features * K != conv.out_channels:
            raise ValueError(f'cannot fold {bn} into a graph convolution of {conv.out_channels // K} channels')
        scale, shift = batchnorm_scale_shift(bn)  # (C_out,) each
        dtype = conv.weight.dtype
        with torch.no_grad():
            weight = conv.weight.to(scale.dtype).view(K, -1, conv.in_channels) * scale[:, None]  # (K, C_out, C_in)
            bias = conv.bias.to(scale.dtype).view(K, -1) * scale if conv.bias is not None else None  # (K, C_out)
            self.register_buffer('weight', weight.to(dtype))
            self.register_buffer('bias', bias.to(dtype) if bias is not None else None)
            self.register_buffer('shift', shift.to(dtype))
        self.kernel_size = K
        self.channels_last = isinstance(gcn, GraphConvChannelsLast)

    def extra_repr(self) -> str:
        return f'kernel_size={self.kernel_size}, channels_last={self.channels_last}'

    def forward(self, x: torch.Tensor, A: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        check_partitions(A, self.kernel_size)
        if self.channels_last:
            return channels_last_graph_conv(x, A, self.weight, self.bias, self.shift), A
        K, C, c_in = self.weight.size()
        bias = self.bias.reshape(K * C) if self.bias is not None else None
        y = F.conv2d(x, self.weight.reshape(K * C, c_in, 1, 1), bias)  # (N, K*C_out, T, V)
        n, _, t, v = y.size()
        y = torch.einsum('nkctv,kvw->nctw', y.view(n, K, C, t, v), A)  # (N, C_out, T, V)
        return y + self.shift[:, None, None].to(y.dtype), A


def fold_graph_conv_batchnorms(model: nn.Module) -> int:
    """Fold, in place, the BatchNorm2d that opens each foldable block's ``tcn`` into the block's graph convolution
    (the rule: this module's docstring). The graph convolution becomes a :class:`FoldedGraphConv`, the BatchNorm
    ``nn.Identity``. Returns the number folded. Only valid for evaluation: call on an eval-mode copy.
    """
    folded = 0
    for block in model.modules():
        if type(block) not in FOLDABLE_BLOCKS:
            continue
        gcn, tcn = block.gcn, block.tcn
        if type(gcn) not in FOLDABLE_GRAPH_CONVS or not is_pointwise(gcn.conv):
            continue
        if not isinstance(tcn, nn.Sequential) or len(tcn) == 0:
            continue
        bn = tcn[0]
        if (type(bn) is nn.BatchNorm2d and bn.track_running_stats
                and bn.num_features * gcn.kernel_size == gcn.conv.out_channels):
            block.gcn = FoldedGraphConv(gcn, bn)
            tcn[0] = nn.Identity()
            folded += 1
    return folded

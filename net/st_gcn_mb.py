"""Multi-branch ST-GCN: the block of the DeepLabCut variant of ST-GCN (NEUSoftGreenAI/Multi-Branch-STGCN).

It is :class:`net.st_gcn.Model` with three changes, each switchable:

* ``temporal='ms'``: a multi-scale temporal module (as in ST-GCN++) replaces the single 9x1 temporal convolution;
* ``se=True``: squeeze-and-excitation channel attention after each graph convolution (then the block's BN);
* ``adjacency_noise={mean, std, seed}``: a fixed, seeded Gaussian matrix scaled by one learnable scalar is added to
  the adjacency before the edge-importance weighting. The base adjacency ``A`` is never modified, and ``forward``
  and feature extraction use the same noisy adjacency (they share ``forward_features``).

With ``temporal='plain', se=False, adjacency_noise=None`` it has the parameter names of ST-GCN and computes the same
function. Shapes: N = batch, C = channels, T = frames, V = graph nodes, M = persons (animals).
"""
from __future__ import annotations

from types import MappingProxyType
from typing import Any, Mapping

import torch
from torch import nn

from net.st_gcn import Model as ST_GCN
from net.st_gcn import st_gcn
from net.utils.tgcn import ConvTemporalGraphical

TEMPORAL = ('ms', 'plain')
DILATIONS = (1, 2, 3, 4)
SE_REDUCTION = 16
DEFAULT_NOISE: Mapping[str, float] = MappingProxyType({'mean': 0.05, 'std': 0.2, 'seed': 0})


class SqueezeExcitation(nn.Module):
    """Channel attention: global average over (T, V), two bias-free linear layers (C -> C/16 -> C), sigmoid gate.

    Shape: (N, C, T, V) -> (N, C, T, V).
    """

    def __init__(self, channels: int, reduction: int = SE_REDUCTION):
        super().__init__()
        hidden = max(1, channels // reduction)
        self.fc = nn.Sequential(
            nn.Linear(channels, hidden, bias=False),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, channels, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = self.fc(x.mean(dim=(2, 3)))  # (N, C)
        return x * gate[:, :, None, None]  # (N, C, T, V)


class GraphConvSE(ConvTemporalGraphical):
    """:class:`ConvTemporalGraphical` followed by :class:`SqueezeExcitation` of its output width.

    Shape: x (N, C_in, T, V), A (K, V, V) -> (N, C_out, T, V), A.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int):
        super().__init__(in_channels, out_channels, kernel_size)
        self.se = SqueezeExcitation(out_channels)

    def forward(self, x: torch.Tensor, A: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x, A = super().forward(x, A)  # (N, C_out, T, V)
        return self.se(x), A


class MultiScaleTemporal(nn.Module):
    """Six parallel temporal branches, concatenated and fused back to ``channels``.

    Four branches of 1x1 conv, BN, ReLU, 3x1 conv (dilation 1, 2, 3, 4; the block's stride), BN; one of 1x1 conv,
    BN, ReLU, 3x1 max-pool (stride); one strided 1x1 conv. Each branch has channels // 6 channels, the first also
    the remainder. The concatenation goes through BN, ReLU, 1x1 conv, BN and dropout.

    Shape: (N, C, T, V) -> (N, C, T', V) with T' = (T - 1) // stride + 1.
    """

    def __init__(self, channels: int, stride: int = 1, dropout: float = 0.0):
        super().__init__()
        num_branches = len(DILATIONS) + 2
        if channels < num_branches:
            raise ValueError(f'the multi-scale temporal module needs at least {num_branches} channels, got {channels}')
        width = channels // num_branches
        widths = [channels - width * (num_branches - 1)] + [width] * (num_branches - 1)
        branches: list[nn.Module] = []
        for branch_width, dilation in zip(widths, DILATIONS):
            branches.append(nn.Sequential(
                nn.Conv2d(channels, branch_width, kernel_size=1),
                nn.BatchNorm2d(branch_width),
                nn.ReLU(inplace=True),
                nn.Conv2d(branch_width, branch_width, kernel_size=(3, 1), stride=(stride, 1),
                          padding=(dilation, 0), dilation=(dilation, 1)),
                nn.BatchNorm2d(branch_width),
            ))
        branches.append(nn.Sequential(
            nn.Conv2d(channels, widths[-2], kernel_size=1),
            nn.BatchNorm2d(widths[-2]),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=(3, 1), stride=(stride, 1), padding=(1, 0)),
        ))
        branches.append(nn.Conv2d(channels, widths[-1], kernel_size=1, stride=(stride, 1)))
        self.branches = nn.ModuleList(branches)
        self.fuse = nn.Sequential(
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, kernel_size=1),
            nn.BatchNorm2d(channels),
            nn.Dropout(dropout, inplace=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.cat([branch(x) for branch in self.branches], dim=1)  # (N, C, T', V)
        return self.fuse(x)  # (N, C, T', V)


class st_gcn_mb(st_gcn):  # noqa: N801 - named after the block it extends
    """An :class:`net.st_gcn.st_gcn` block with optional SE after the graph convolution and a multi-scale temporal
    module in place of the 9x1 temporal convolution. The forward pass is the parent's: residual, graph convolution
    (+ SE), then ``tcn`` (BN, ReLU, temporal module) plus residual, ReLU.

    Args:
        temporal: ``'ms'`` (multi-scale module) or ``'plain'`` (the 9x1 convolution of ST-GCN).
        se: squeeze-and-excitation after the graph convolution.
        Other arguments as :class:`net.st_gcn.st_gcn`.

    Shape: x (N, C_in, T, V), A (K, V, V) -> (N, C_out, T/stride, V), A.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: tuple[int, int], stride: int = 1,
                 dropout: float = 0, residual: bool = True, temporal: str = 'ms', se: bool = True):
        super().__init__(in_channels, out_channels, kernel_size, stride, dropout, residual)
        if se:
            self.gcn = GraphConvSE(in_channels, out_channels, kernel_size[1])
        if temporal == 'ms':
            bn, relu = self.tcn[0], self.tcn[1]  # the BN (after the graph convolution / SE) and ReLU of ST-GCN
            self.tcn = nn.Sequential(bn, relu, MultiScaleTemporal(out_channels, stride, dropout))


def _check_options(temporal: Any, se: Any, adjacency_noise: Any) -> dict[str, float] | None:
    """Validate the three options; return the full noise spec (defaults filled in) or None."""
    if temporal not in TEMPORAL:
        raise ValueError(f'model_args.temporal: {temporal!r} is not one of {", ".join(TEMPORAL)}')
    if not isinstance(se, bool):
        raise ValueError(f'model_args.se: {se!r} must be true or false')
    if adjacency_noise is None:
        return None
    if not isinstance(adjacency_noise, Mapping):
        raise ValueError(f'model_args.adjacency_noise: {adjacency_noise!r} must be a mapping with keys '
                         f'{", ".join(DEFAULT_NOISE)} or null')
    unknown = sorted(set(adjacency_noise) - set(DEFAULT_NOISE))
    if unknown:
        raise ValueError(f'model_args.adjacency_noise: unknown key {unknown[0]!r} (allowed: '
                         f'{", ".join(DEFAULT_NOISE)})')
    spec = {**DEFAULT_NOISE, **adjacency_noise}
    for key in ('mean', 'std'):
        if isinstance(spec[key], bool) or not isinstance(spec[key], (int, float)):
            raise ValueError(f'model_args.adjacency_noise.{key}: {spec[key]!r} must be a number')
    if spec['std'] < 0:
        raise ValueError(f'model_args.adjacency_noise.std: {spec["std"]!r} must be >= 0')
    if isinstance(spec['seed'], bool) or not isinstance(spec['seed'], int):
        raise ValueError(f'model_args.adjacency_noise.seed: {spec["seed"]!r} must be an integer')
    return spec


class Model(ST_GCN):
    """Multi-branch ST-GCN. Same arguments, attributes and methods as :class:`net.st_gcn.Model`, plus:

    Args:
        temporal: ``'ms'`` multi-scale temporal module, or ``'plain'`` 9x1 temporal convolution.
        se: squeeze-and-excitation (reduction 16) after each graph convolution.
        adjacency_noise: ``{mean, std, seed}`` (missing keys take 0.05, 0.2, 0) for a fixed Gaussian matrix of the
            adjacency's shape, stored as buffer ``A_noise`` and scaled by the learnable scalar ``noise_scale``
            (initialised to 1); ``None`` turns it off.

    Shape:
        input (N, in_channels, T, V, M) -> output (N, num_class).
    """

    def __init__(self, in_channels: int, num_class: int, graph_args: Mapping[str, Any] | None = None,
                 edge_importance_weighting: bool = True, temporal: str = 'ms', se: bool = True,
                 adjacency_noise: Mapping[str, Any] | None = DEFAULT_NOISE, **kwargs):
        noise = _check_options(temporal, se, adjacency_noise)
        super().__init__(in_channels, num_class, graph_args, edge_importance_weighting, temporal=temporal, se=se,
                         **kwargs)
        self.temporal = temporal
        self.se = se
        if noise is None:
            self.register_buffer('A_noise', None)
            self.register_parameter('noise_scale', None)
        else:
            generator = torch.Generator().manual_seed(noise['seed'])
            A_noise = torch.randn(self.A.shape, generator=generator, dtype=torch.float32)  # (K, V, V)
            self.register_buffer('A_noise', A_noise * noise['std'] + noise['mean'])
            self.noise_scale = nn.Parameter(torch.ones(()))

    def make_block(self, in_channels: int, out_channels: int, kernel_size: tuple[int, int], stride: int,
                   **kwargs) -> nn.Module:
        return st_gcn_mb(in_channels, out_channels, kernel_size, stride, **kwargs)

    def adjacency(self) -> torch.Tensor:
        """``A + noise_scale * A_noise`` (K, V, V) when adjacency noise is on, else ``A``; ``A`` is not modified."""
        if self.A_noise is None:
            return self.A
        return self.A + self.noise_scale * self.A_noise

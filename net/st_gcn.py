"""Spatial Temporal Graph Convolutional Network (Yan, Xiong and Lin, AAAI 2018).

Shapes used throughout: N = batch, C = channels, T = frames, V = graph nodes (joints), M = persons (animals).
Parameter and buffer names match the published checkpoints (st_gcn.kinetics.pt, st_gcn.ntu-xsub.pt,
st_gcn.ntu-xview.pt). This file computes as published; faster formulations of its modules are swapped in from
beside it (:func:`net.utils.fast.accelerate` for training, :func:`net.utils.inference.prepare_for_inference` for
evaluation copies).
"""
from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import nn

from net.utils.graph import Graph
from net.utils.tgcn import ConvTemporalGraphical

# (in, out, stride) of the ten blocks after the first, which maps in_channels -> 64 without a residual.
BLOCKS = ((64, 64, 1), (64, 64, 1), (64, 64, 1), (64, 128, 2), (128, 128, 1), (128, 128, 1),
          (128, 256, 2), (256, 256, 1), (256, 256, 1))
TEMPORAL_KERNEL = 9


class Model(nn.Module):
    """ST-GCN for skeleton action recognition.

    Args:
        in_channels: channels per joint of the input (3 for x, y, score).
        num_class: number of classes.
        graph_args: keyword arguments of :class:`net.utils.graph.Graph` (layout, strategy, max_hop, dilation).
        edge_importance_weighting: learn a mask over each block's adjacency.
        **kwargs: passed to every block (``dropout``; the first block takes no dropout).

    Shape:
        input (N, in_channels, T, V, M) -> output (N, num_class).
    """

    def __init__(self, in_channels: int, num_class: int, graph_args: Mapping[str, Any] | None = None,
                 edge_importance_weighting: bool = True, **kwargs):
        super().__init__()
        self.graph = Graph(**dict(graph_args or {}))
        A = torch.tensor(self.graph.A, dtype=torch.float32, requires_grad=False)
        self.register_buffer('A', A)  # (K, V, V)
        self.in_channels = in_channels
        self.num_class = num_class
        spatial_kernel_size = A.size(0)
        kernel_size = (TEMPORAL_KERNEL, spatial_kernel_size)
        self.data_bn = nn.BatchNorm1d(in_channels * A.size(1))
        first_kwargs = {k: v for k, v in kwargs.items() if k != 'dropout'}
        self.st_gcn_networks = nn.ModuleList(
            [self.make_block(in_channels, 64, kernel_size, 1, residual=False, **first_kwargs)]
            + [self.make_block(c_in, c_out, kernel_size, stride, **kwargs) for c_in, c_out, stride in BLOCKS])
        if edge_importance_weighting:
            self.edge_importance = nn.ParameterList(
                [nn.Parameter(torch.ones(self.A.size())) for _ in self.st_gcn_networks])
        else:
            self.edge_importance = [1] * len(self.st_gcn_networks)
        self.fcn = nn.Conv2d(256, num_class, kernel_size=1)

    def make_block(self, in_channels: int, out_channels: int, kernel_size: tuple[int, int], stride: int,
                   **kwargs) -> nn.Module:
        """One block of the backbone; a variant overrides this to use its own block (same call signature)."""
        return st_gcn(in_channels, out_channels, kernel_size, stride, **kwargs)

    def adjacency(self) -> torch.Tensor:
        """The (K, V, V) adjacency every block uses before its edge-importance weighting: here the graph's ``A``."""
        return self.A

    @property
    def num_node(self) -> int:
        return self.A.size(1)

    def check_input(self, x: torch.Tensor) -> None:
        """Raise a ValueError when ``x`` is not (N, in_channels, T, V, M) for this model's graph."""
        if x.dim() != 5:
            raise ValueError(f'input must be (N, C, T, V, M), got {x.dim()} dimensions {tuple(x.shape)}')
        if x.size(3) != self.num_node:
            raise ValueError(f'input has V={x.size(3)} joints but the graph has {self.num_node} nodes')
        if x.size(1) != self.in_channels:
            raise ValueError(f'input has C={x.size(1)} channels but the model expects in_channels='
                             f'{self.in_channels}')

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, T, V, M) -> the last block's feature map (N, M, 256, T', V), T' = T/4."""
        self.check_input(x)
        N, C, T, V, M = x.size()
        x = x.permute(0, 4, 3, 1, 2).contiguous()  # (N, M, V, C, T)
        x = x.view(N * M, V * C, T)
        x = self.data_bn(x)
        x = x.view(N, M, V, C, T)
        x = x.permute(0, 1, 3, 4, 2).contiguous()  # (N, M, C, T, V)
        x = x.view(N * M, C, T, V)
        A = self.adjacency()  # (K, V, V)
        for block, importance in zip(self.st_gcn_networks, self.edge_importance):
            x, _ = block(x, A * importance)  # (N*M, C', T', V)
        _, c, t, v = x.size()
        return x.view(N, M, c, t, v)  # (N, M, 256, T', V)

    @staticmethod
    def pool_features(features: torch.Tensor) -> torch.Tensor:
        """Global average over T', V and persons: (N, M, C, T', V) -> the clip embedding (N, C)."""
        return features.mean(dim=(3, 4)).mean(dim=1)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        """(N, M, 256, T', V) -> class scores (N, num_class)."""
        pooled = self.pool_features(features)  # (N, 256)
        return self.fcn(pooled[:, :, None, None]).flatten(1)  # (N, num_class)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def extract_feature(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The original's pair: per-position class scores (N, num_class, T', V, M) and features (N, 256, T', V, M)."""
        features = self.forward_features(x)  # (N, M, C, T', V)
        N, M, c, t, v = features.size()
        output = self.fcn(features.reshape(N * M, c, t, v))  # (N*M, num_class, T', V)
        output = output.view(N, M, -1, t, v).permute(0, 2, 3, 4, 1)  # (N, num_class, T', V, M)
        return output, features.permute(0, 2, 3, 4, 1)  # (N, C, T', V, M)


class st_gcn(nn.Module):  # noqa: N801 - the original's name, kept so checkpoints and readers line up
    """One spatial-temporal graph convolution block.

    Args:
        in_channels, out_channels: channels in and out.
        kernel_size: (temporal kernel, number of adjacency partitions K).
        stride: temporal stride.
        dropout: dropout rate after the temporal convolution.
        residual: add a residual connection (a 1x1 conv + BN where the shape changes).

    Shape:
        x (N, C_in, T, V), A (K, V, V) -> (N, C_out, T/stride, V), A.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: tuple[int, int], stride: int = 1,
                 dropout: float = 0, residual: bool = True):
        super().__init__()
        if len(kernel_size) != 2 or kernel_size[0] % 2 != 1:
            raise ValueError(f'kernel_size must be (odd temporal size, K), got {kernel_size}')
        padding = ((kernel_size[0] - 1) // 2, 0)
        self.gcn = ConvTemporalGraphical(in_channels, out_channels, kernel_size[1])
        self.tcn = nn.Sequential(
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, (kernel_size[0], 1), (stride, 1), padding),
            nn.BatchNorm2d(out_channels),
            nn.Dropout(dropout, inplace=True),
        )
        if not residual:
            self.residual = _zero
        elif in_channels == out_channels and stride == 1:
            self.residual = _identity
        else:
            self.residual = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=(stride, 1)),
                nn.BatchNorm2d(out_channels),
            )
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor, A: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        res = self.residual(x)
        x, A = self.gcn(x, A)  # (N, C_out, T, V)
        x = self.tcn(x) + res  # (N, C_out, T/stride, V)
        return self.relu(x), A


def _zero(x: torch.Tensor) -> int:
    return 0


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


def weights_init(module: nn.Module) -> None:
    """The original initialisation: conv weights N(0, 0.02), BN weights N(1, 0.02), biases 0."""
    name = module.__class__.__name__
    if name.find('Conv1d') != -1 or name.find('Conv2d') != -1:
        module.weight.data.normal_(0.0, 0.02)
        if module.bias is not None:
            module.bias.data.fill_(0)
    elif name.find('BatchNorm') != -1:
        module.weight.data.normal_(1.0, 0.02)
        module.bias.data.fill_(0)

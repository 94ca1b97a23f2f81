"""The K-partition graph convolution of ST-GCN."""
from __future__ import annotations

import torch
from torch import nn


class ConvTemporalGraphical(nn.Module):
    """Graph convolution over K adjacency partitions, as published.

    A (``t_kernel_size`` x 1) convolution maps C_in to K*C_out channels; group k of C_out channels is aggregated over
    the graph with adjacency ``A[k]`` and the K groups are summed:
    ``out[n, c, t, w] = sum_k sum_v (W_k x)[n, c, t, v] A[k, v, w]``.

    Its one parameter is ``conv`` (K*C_out, C_in, t_kernel_size, 1), the name and shape of the published checkpoints.
    Faster formulations of the same sum, which take over this ``conv``, are in :mod:`net.utils.fast`.

    Args:
        in_channels, out_channels: C_in and C_out.
        kernel_size: K, the number of adjacency partitions.
        t_kernel_size, t_stride, t_padding, t_dilation: of the temporal kernel (1, 1, 0, 1 in ST-GCN).
        bias: give ``conv`` a bias.

    Shapes (N = batch * persons, C = channels, T = frames, V = nodes, K = partitions):
        x: (N, C_in, T_in, V), A: (K, V, V) -> (N, C_out, T_out, V), A.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, t_kernel_size: int = 1,
                 t_stride: int = 1, t_padding: int = 0, t_dilation: int = 1, bias: bool = True):
        super().__init__()
        self.kernel_size = kernel_size
        self.conv = nn.Conv2d(in_channels, out_channels * kernel_size, kernel_size=(t_kernel_size, 1),
                              padding=(t_padding, 0), stride=(t_stride, 1), dilation=(t_dilation, 1), bias=bias)

    def forward(self, x: torch.Tensor, A: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if A.size(0) != self.kernel_size:
            raise ValueError(f'adjacency has {A.size(0)} partitions, the graph convolution expects '
                             f'{self.kernel_size}')
        x = self.conv(x)  # (N, K*C_out, T, V)
        n, kc, t, v = x.size()
        x = x.view(n, self.kernel_size, kc // self.kernel_size, t, v)  # (N, K, C_out, T, V)
        x = torch.einsum('nkctv,kvw->nctw', x, A)  # (N, C_out, T, V)
        return x.contiguous(), A

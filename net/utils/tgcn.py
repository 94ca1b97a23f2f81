"""The K-partition graph convolution of ST-GCN."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ConvTemporalGraphical(nn.Module):
    """Graph convolution over K adjacency partitions.

    A 1x1 (or ``t_kernel_size`` x 1) convolution produces K groups of ``out_channels`` channels; group k is then
    aggregated over the graph with adjacency ``A[k]`` and the groups are summed:
    ``out[n, c, t, w] = sum_k sum_v (W_k x)[n, c, t, v] A[k, v, w]``.

    The sum is linear, so it can be evaluated in three orders that give the same numbers (to rounding):

    * ``'conv_first'`` (the original): convolve to K*C_out channels, then contract (k, v) with an einsum.
    * ``'graph_first'``: aggregate the C_in input channels over the graph first (one matmul with A laid out as
      (V, K*V)), then a (1, K) convolution with dilation V mixes the K partitions and the channels. The graph
      matmul then runs on C_in instead of K*C_out channels: used for 1x1 kernels when C_in < C_out (the first
      block and the channel-doubling blocks), where it is the fastest order for the training step.
    * ``channels_last`` (set the attribute to True, as ``net.utils.inference.prepare_for_inference`` does): a
      (N*T*V, C_in) x (C_in, K*C_out) matmul followed by one batched (V, V*K) x (V*K, C_out) matmul per frame,
      with no permute copies; returns a channels-last tensor so the following BatchNorm and temporal convolution
      run channels-last too. Fastest forward pass; its backward is slow, so it is an inference path.

    Only the parameter ``conv`` is stored, with the original shape (K*C_out, C_in, t_kernel_size, 1), so published
    checkpoints load unchanged.

    Shapes (N = batch * persons, C = channels, T = frames, V = nodes, K = partitions):
        x: (N, C_in, T_in, V), A: (K, V, V) -> (N, C_out, T_out, V), A.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, t_kernel_size: int = 1,
                 t_stride: int = 1, t_padding: int = 0, t_dilation: int = 1, bias: bool = True):
        super().__init__()
        self.kernel_size = kernel_size
        self.out_channels = out_channels
        self.conv = nn.Conv2d(in_channels, out_channels * kernel_size, kernel_size=(t_kernel_size, 1),
                              padding=(t_padding, 0), stride=(t_stride, 1), dilation=(t_dilation, 1), bias=bias)
        pointwise = t_kernel_size == 1 and t_stride == 1 and t_padding == 0
        self.order = 'graph_first' if pointwise and in_channels < out_channels else 'conv_first'
        self.channels_last = False
        self._pointwise = pointwise

    def forward(self, x: torch.Tensor, A: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if A.size(0) != self.kernel_size:
            raise ValueError(f'adjacency has {A.size(0)} partitions, the graph convolution expects '
                             f'{self.kernel_size}')
        if self.channels_last and self._pointwise:
            return self._channels_last(x, A), A
        if self.order == 'graph_first':
            return self._graph_first(x, A), A
        return self._conv_first(x, A), A

    def _conv_first(self, x: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)  # (N, K*C_out, T, V)
        n, kc, t, v = x.size()
        x = x.view(n, self.kernel_size, kc // self.kernel_size, t, v)  # (N, K, C_out, T, V)
        x = torch.einsum('nkctv,kvw->nctw', x, A)  # (N, C_out, T, V)
        return x.contiguous()

    def _graph_first(self, x: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
        n, c_in, t, v = x.size()
        K, C = self.kernel_size, self.out_channels
        a_cat = A.permute(1, 0, 2).reshape(v, K * v)  # (V, K*W): a_cat[v, k*W + w] = A[k, v, w]
        z = torch.matmul(x, a_cat)  # (N, C_in, T, K*W)
        weight = self.conv.weight.view(K, C, c_in).permute(1, 2, 0).unsqueeze(2)  # (C_out, C_in, 1, K)
        # output w reads z[..., k*W + w] for k = 0..K-1: a (1, K) kernel with dilation W over the last axis
        out = F.conv2d(z, weight, dilation=(1, v))  # (N, C_out, T, W)
        if self.conv.bias is not None:
            # bias b[k, c] passes through the graph as b[k, c] * sum_v A[k, v, w]
            bias = torch.matmul(self.conv.bias.view(K, C).t(), A.sum(1))  # (C_out, W)
            out = out + bias[:, None, :].to(out.dtype)
        return out

    def _channels_last(self, x: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
        n, c_in, t, v = x.size()
        K, C = self.kernel_size, self.out_channels
        z = F.linear(x.permute(0, 2, 3, 1), self.conv.weight.flatten(1), self.conv.bias)  # (N, T, V, K*C_out)
        z = z.reshape(n * t, v * K, C)  # (N*T, V*K, C_out), rows ordered (v, k)
        a_t = A.permute(2, 1, 0).reshape(v, v * K).to(z.dtype)  # (W, V*K): a_t[w, v*K + k] = A[k, v, w]
        out = torch.matmul(a_t, z)  # (N*T, W, C_out)
        return out.view(n, t, v, C).permute(0, 3, 1, 2)  # (N, C_out, T, W), channels-last in memory

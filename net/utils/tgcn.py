"""The K-partition graph convolution of ST-GCN."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class GraphAggregate(torch.autograd.Function):
    """``y[b] = a @ x[b]`` for a (P, V) matrix shared by every b, as batched matmuls in both directions.

    ``torch.matmul`` of a 2-D by a 3-D tensor that needs gradients folds the batch into one matmul by transposing
    (copying) both the input and the output, forward and backward; for ST-GCN's graph aggregation those copies
    cost more than the arithmetic. Here the forward pass, the gradient of x and the gradient of a are each one
    batched matmul (the last summed over b), with no copies.

    Shapes: a (P, V), x (B, V, C) -> (B, P, C).
    """

    @staticmethod
    def forward(ctx, a: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(a, x)
        return torch.bmm(a.expand(x.size(0), -1, -1), x)  # (B, P, C)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        a, x = ctx.saved_tensors
        grad_a = grad_x = None
        if ctx.needs_input_grad[0]:
            grad_a = torch.bmm(grad, x.transpose(1, 2)).sum(0)  # (B, P, V) -> (P, V)
        if ctx.needs_input_grad[1]:
            grad_x = torch.bmm(a.t().expand(x.size(0), -1, -1), grad)  # (B, V, C)
        return grad_a, grad_x


class ConvTemporalGraphical(nn.Module):
    """Graph convolution over K adjacency partitions.

    A 1x1 (or ``t_kernel_size`` x 1) convolution produces K groups of ``out_channels`` channels; group k is then
    aggregated over the graph with adjacency ``A[k]`` and the groups are summed:
    ``out[n, c, t, w] = sum_k sum_v (W_k x)[n, c, t, v] A[k, v, w]``.

    The sum is linear, so it can be evaluated in several orders that give the same numbers (to rounding):

    * channels-last, graph first (1x1 kernels; the default on CPU, training and inference): one batched
      (W*K, V) x (V, C_in) matmul per frame (:class:`GraphAggregate`) gives the rows (N*T*W, K*C_in) of a
      channels-last tensor directly, then a 1x1 convolution to C_out channels (oneDNN, which on some CPUs runs
      about twice as fast as the BLAS matmul behind ``F.linear``) and the bias passed through the graph. No
      permute copies; the output is channels-last, so the BatchNorm, ReLU, temporal convolution and residual
      that follow run channels-last too, without the layout conversions oneDNN otherwise makes.
    * ``'conv_first'`` (the original): convolve to K*C_out channels, then contract (k, v) with an einsum.
    * ``'graph_first'``: aggregate the C_in input channels over the graph first (one matmul with A laid out as
      (V, K*V)), then a (1, K) convolution with dilation V mixes the K partitions and the channels. The graph
      matmul then runs on C_in instead of K*C_out channels. Used instead of ``'conv_first'`` when C_in < C_out.

    ``channels_last`` picks the formulation: None (default) means channels-last on CPU tensors and ``order``
    (``'graph_first'`` or ``'conv_first'``) elsewhere; True or False forces it (kernels longer than 1 always use
    ``order``).

    ``out_scale`` and ``out_shift`` (C_out,), None by default, are a per-channel affine map applied to the output:
    ``net.utils.inference`` sets them on evaluation copies to fold the BatchNorm that follows into this layer (the
    scale goes into the weights, the shift into the bias after the graph). While None they are not in the
    ``state_dict``, so checkpoints keep the published keys.

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
        self.channels_last: bool | None = None
        self._pointwise = pointwise
        # (C_out,) each or None: buffers, so that .to() moves them; a None buffer is not in the state_dict, so
        # checkpoints keep their keys, and a folded copy's state_dict carries them (it then fits no unfolded model)
        self.register_buffer('out_scale', None)
        self.register_buffer('out_shift', None)

    def forward(self, x: torch.Tensor, A: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if A.size(0) != self.kernel_size:
            raise ValueError(f'adjacency has {A.size(0)} partitions, the graph convolution expects '
                             f'{self.kernel_size}')
        channels_last = self.channels_last if self.channels_last is not None else x.device.type == 'cpu'
        if channels_last and self._pointwise:
            return self._channels_last(x, A), A
        out = self._graph_first(x, A) if self.order == 'graph_first' else self._conv_first(x, A)
        # a folded BatchNorm outside the channels-last path: its own affine step, (C_out, 1, 1) over (N, C_out, T, W)
        if self.out_scale is not None:
            out = out * self.out_scale[:, None, None].to(out.dtype)
        if self.out_shift is not None:
            out = out + self.out_shift[:, None, None].to(out.dtype)
        return out, A

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
        x = x.contiguous(memory_format=torch.channels_last)  # no copy when it already is
        a_g = A.permute(2, 0, 1).reshape(v * K, v)  # (W*K, V): a_g[w*K + k, v] = A[k, v, w]
        if torch.is_autocast_enabled(x.device.type):
            # cast as autocast would for a matmul: the backward pass runs outside autocast and needs equal dtypes
            dtype = torch.get_autocast_dtype(x.device.type)
            a_g, x = a_g.to(dtype), x.to(dtype)
        rows = x.permute(0, 2, 3, 1).reshape(n * t, v, c_in)  # (N*T, V, C_in), a view of the channels-last x
        y = GraphAggregate.apply(a_g, rows)  # (N*T, W*K, C_in)
        y = y.view(n, t, v, K * c_in).permute(0, 3, 1, 2)  # (N, K*C_in, T, W), channels-last in memory
        weight = self.conv.weight.view(K, C, c_in)  # (K, C_out, C_in)
        bias = self.conv.bias.view(K, C) if self.conv.bias is not None else None  # (K, C_out)
        if self.out_scale is not None:
            weight = weight * self.out_scale[:, None]
            bias = bias * self.out_scale if bias is not None else None
        weight = weight.permute(1, 0, 2).reshape(C, K * c_in, 1, 1)  # (C_out, K*C_in, 1, 1), input index k*C_in + c
        out = F.conv2d(y, weight.to(y.dtype))  # (N, C_out, T, W), channels-last
        # the bias b[k, c] passes through the graph as sum_k b[k, c] * sum_v A[k, v, w]; the folded BN adds its shift
        shift = torch.matmul(bias.t(), A.sum(1)) if bias is not None else None  # (C_out, W)
        if self.out_shift is not None:
            shift = self.out_shift[:, None] if shift is None else shift + self.out_shift[:, None]
        if shift is None:
            return out
        shift = shift.t().to(out.dtype)  # (W, C_out): added in memory order over (N, T, W, C_out), a plain broadcast
        if out.requires_grad:  # out of place: an in-place add on a permuted view costs two copies in the backward
            return (out.permute(0, 2, 3, 1) + shift).permute(0, 3, 1, 2)  # (N, C_out, T, W), channels-last
        out.permute(0, 2, 3, 1).add_(shift.contiguous())  # (N, T, W, C_out) += (W, C_out)
        return out

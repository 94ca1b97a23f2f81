"""Faster formulations of the published modules, swapped into a model from beside it.

The model files (:mod:`net.st_gcn`, :mod:`net.utils.tgcn`) compute as the paper does. This module replaces some of
their modules, in place, by modules that compute the same function faster on CPU and **take over the replaced
module's parameters** (the same ``nn.Conv2d`` object): the ``state_dict`` keeps the published names and tensors,
an optimiser built before or after the switch updates the same tensors, and a published checkpoint loads before
and after.

* :class:`GraphConvChannelsLast` for :class:`~net.utils.tgcn.ConvTemporalGraphical` (and
  :class:`GraphConvSEChannelsLast` for the multi-branch model's :class:`~net.st_gcn_mb.GraphConvSE`): the graph
  convolution evaluated channels-last, graph first.
* :class:`net.utils.dropout.Dropout` for ``nn.Dropout``: the same distribution, a cheaper CPU mask.

The training switch is :func:`accelerate` (called once by the training code, right after the model is built);
:func:`use_fast_graph_conv` and :func:`use_published_graph_conv` switch the graph convolutions either way.
All switches are idempotent (what is already switched is left alone) and reversible. Evaluation copies
(:func:`net.utils.inference.prepare_for_inference`) use the channels-last graph convolution too, with the
BatchNorm that follows it folded in (:mod:`net.utils.fold`).

Shapes: N = batch * persons, C = channels, T = frames, V (or W) = nodes, K = adjacency partitions.
"""
from __future__ import annotations

import logging
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from net.st_gcn_mb import GraphConvSE
from net.utils.dropout import Dropout
from net.utils.tgcn import ConvTemporalGraphical

logger = logging.getLogger(__name__)


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


def channels_last_graph_conv(x: torch.Tensor, A: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                             shift: torch.Tensor | None = None) -> torch.Tensor:
    """``sum_k sum_v (W_k x + b_k)[n, c, t, v] A[k, v, w] + shift[c]``, channels-last and graph first.

    The published order (1x1 conv to K*C_out channels, then an einsum over (k, v)) runs its matmuls on K*C_out
    channels and permutes between layouts. Here one batched (W*K, V) x (V, C_in) matmul per frame
    (:class:`GraphAggregate`) gives the rows (N*T*W, K*C_in) of a channels-last tensor directly, then a 1x1
    convolution maps K*C_in to C_out channels (oneDNN, which on some CPUs runs about twice as fast as the BLAS
    matmul behind ``F.linear``), and the bias reaches the output through the graph as ``sum_k b_k sum_v A[k, v, w]``.
    No permute copies; the output is channels-last, so the BatchNorm, ReLU, temporal convolution and residual
    after it run channels-last too, without the layout conversions oneDNN would otherwise make.

    Shapes: x (N, C_in, T, V), A (K, V, W), weight (K, C_out, C_in), bias (K, C_out) or None, shift (C_out,) or None
    -> (N, C_out, T, W), channels-last in memory.
    """
    n, c_in, t, v = x.size()
    K, C = weight.size(0), weight.size(1)
    x = x.contiguous(memory_format=torch.channels_last)  # no copy when it already is
    a_g = A.permute(2, 0, 1).reshape(v * K, v)  # (W*K, V): a_g[w*K + k, v] = A[k, v, w]
    if torch.is_autocast_enabled(x.device.type):
        # cast as autocast would for a matmul: the backward pass runs outside autocast and needs equal dtypes
        dtype = torch.get_autocast_dtype(x.device.type)
        a_g, x = a_g.to(dtype), x.to(dtype)
    rows = x.permute(0, 2, 3, 1).reshape(n * t, v, c_in)  # (N*T, V, C_in), a view of the channels-last x
    y = GraphAggregate.apply(a_g, rows)  # (N*T, W*K, C_in)
    y = y.view(n, t, v, K * c_in).permute(0, 3, 1, 2)  # (N, K*C_in, T, W), channels-last in memory
    weight = weight.permute(1, 0, 2).reshape(C, K * c_in, 1, 1)  # (C_out, K*C_in, 1, 1), input index k*C_in + c
    out = F.conv2d(y, weight.to(y.dtype))  # (N, C_out, T, W), channels-last
    offset = torch.matmul(bias.t(), A.sum(1)) if bias is not None else None  # (C_out, W)
    if shift is not None:
        offset = shift[:, None] if offset is None else offset + shift[:, None]
    if offset is None:
        return out
    offset = offset.t().to(out.dtype)  # (W, C_out): added in memory order over (N, T, W, C_out), a plain broadcast
    if out.requires_grad:  # out of place: an in-place add on a permuted view costs two copies in the backward
        return (out.permute(0, 2, 3, 1) + offset).permute(0, 3, 1, 2)  # (N, C_out, T, W), channels-last
    out.permute(0, 2, 3, 1).add_(offset.contiguous())  # (N, T, W, C_out) += (W, C_out)
    return out


def is_pointwise(conv: nn.Conv2d) -> bool:
    """Whether ``conv`` is a plain 1x1 convolution (the graph convolution of every ST-GCN block)."""
    return (conv.kernel_size == (1, 1) and conv.stride == (1, 1) and conv.padding == (0, 0) and conv.groups == 1
            and conv.padding_mode == 'zeros')


def check_partitions(A: torch.Tensor, kernel_size: int) -> None:
    """The published graph convolution's check: ``A`` has K = ``kernel_size`` partitions."""
    if A.size(0) != kernel_size:
        raise ValueError(f'adjacency has {A.size(0)} partitions, the graph convolution expects {kernel_size}')


class GraphConvChannelsLast(nn.Module):
    """:class:`ConvTemporalGraphical`'s function (1x1 kernel), computed by :func:`channels_last_graph_conv`.

    Built from a published graph convolution, whose ``conv`` it takes over (the same module and Parameters), so
    its ``state_dict`` has the published keys ``conv.weight`` (K*C_out, C_in, 1, 1) and ``conv.bias`` (K*C_out,).
    :meth:`published` gives back the published module around the same ``conv``.

    Shapes: x (N, C_in, T, V), A (K, V, V) -> (N, C_out, T, V) channels-last, A.
    """

    published_class: type[nn.Module] = ConvTemporalGraphical

    def __init__(self, gcn: ConvTemporalGraphical):
        super().__init__()
        if not is_pointwise(gcn.conv):
            raise ValueError(f'the channels-last graph convolution needs a 1x1 kernel; {gcn.conv} is not one')
        self.kernel_size = gcn.kernel_size
        self.conv = gcn.conv

    def extra_repr(self) -> str:
        return f'kernel_size={self.kernel_size}'

    def forward(self, x: torch.Tensor, A: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        check_partitions(A, self.kernel_size)
        weight = self.conv.weight.view(self.kernel_size, -1, self.conv.in_channels)  # (K, C_out, C_in)
        bias = self.conv.bias.view(self.kernel_size, -1) if self.conv.bias is not None else None  # (K, C_out)
        return channels_last_graph_conv(x, A, weight, bias), A

    def published(self) -> nn.Module:
        """The published module of this one, around the same ``conv`` (and, in subclasses, the same other parts).

        It is built on the meta device, so building it allocates nothing and draws no random numbers; then the
        parts of this module are put in.
        """
        with torch.device('meta'):
            module = self.published_class(self.conv.in_channels, self.conv.out_channels // self.kernel_size,
                                          self.kernel_size)
        module.conv = self.conv
        return module


class GraphConvSEChannelsLast(GraphConvChannelsLast):
    """:class:`net.st_gcn_mb.GraphConvSE` with the channels-last graph convolution: it takes over ``conv`` and ``se``
    (keys ``conv.*`` and ``se.fc.*`` as the published module).

    Shapes: x (N, C_in, T, V), A (K, V, V) -> (N, C_out, T, V) channels-last, A.
    """

    published_class = GraphConvSE

    def __init__(self, gcn: GraphConvSE):
        super().__init__(gcn)
        self.se = gcn.se

    def forward(self, x: torch.Tensor, A: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x, A = super().forward(x, A)  # (N, C_out, T, V)
        return self.se(x), A

    def published(self) -> nn.Module:
        module = super().published()
        module.se = self.se
        return module


# published class -> its channels-last counterpart; matched by exact type, so a subclass that changes the
# computation is left alone until it is listed here
FAST_GRAPH_CONVS: dict[type[nn.Module], type[GraphConvChannelsLast]] = {
    ConvTemporalGraphical: GraphConvChannelsLast,
    GraphConvSE: GraphConvSEChannelsLast,
}


def replace_modules(model: nn.Module, make: Callable[[nn.Module], nn.Module | None]) -> int:
    """Replace, in place, every submodule ``m`` of ``model`` for which ``make(m)`` returns a module by that module.

    The new module takes the old one's training flag. A module that appears at several places is replaced by one
    and the same new module. ``model`` itself is not replaced. Returns the number of modules replaced.
    """
    replaced: dict[int, nn.Module | None] = {}
    for parent in list(model.modules()):
        # _modules rather than named_children(), which names a module held twice by one parent only once
        for name, child in list(parent._modules.items()):
            if child is None:
                continue
            if id(child) not in replaced:
                new = make(child)
                if new is not None:
                    new.training = child.training
                replaced[id(child)] = new
            if replaced[id(child)] is not None:
                setattr(parent, name, replaced[id(child)])
    return sum(new is not None for new in replaced.values())


def use_fast_graph_conv(model: nn.Module) -> int:
    """Swap, in place, each published graph convolution with a 1x1 kernel for its channels-last counterpart.

    The counterpart takes over the module's parameters (see :class:`GraphConvChannelsLast`): names, shapes and
    tensors of ``model.state_dict()`` do not change, nor does what the model computes (to rounding). Idempotent:
    graph convolutions already switched are left as they are. Returns the number swapped.
    """
    def make(module: nn.Module) -> nn.Module | None:
        fast = FAST_GRAPH_CONVS.get(type(module))
        return fast(module) if fast is not None and is_pointwise(module.conv) else None
    return replace_modules(model, make)


def use_published_graph_conv(model: nn.Module) -> int:
    """The reverse of :func:`use_fast_graph_conv`, in place: each channels-last graph convolution back to its
    published class, around the same parameters. Returns the number swapped."""
    return replace_modules(model, lambda m: m.published() if isinstance(m, GraphConvChannelsLast) else None)


def use_fast_dropout(model: nn.Module) -> int:
    """Swap, in place, each ``nn.Dropout`` (exact type) for :class:`net.utils.dropout.Dropout` with the same ``p``
    and ``inplace``: the same distribution, a mask drawn faster on CPU (a different random stream, so seeded masks
    differ from ``nn.Dropout``'s). Idempotent. Returns the number swapped."""
    return replace_modules(model, lambda m: Dropout(m.p, m.inplace) if type(m) is nn.Dropout else None)


def use_published_dropout(model: nn.Module) -> int:
    """The reverse of :func:`use_fast_dropout`, in place. Returns the number swapped."""
    return replace_modules(model, lambda m: nn.Dropout(m.p, m.inplace) if type(m) is Dropout else None)


def accelerate(model: nn.Module, device: torch.device | str) -> nn.Module:
    """The training switch: make ``model`` (in place) compute faster on ``device``; returns ``model``.

    On CPU: the channels-last graph convolution (:func:`use_fast_graph_conv`) and the faster dropout
    (:func:`use_fast_dropout`), the training speed-up that ``benchmarks/run.py`` (case ``train_speed``) measures
    against the published formulation. Elsewhere nothing is switched: the published formulation and
    ``nn.Dropout`` run as they are (the channels-last order has not been measured on a GPU). Parameter names,
    shapes and tensors stay those of the published model, so checkpoints are written and read as before; call it
    before wrapping the model in DistributedDataParallel. Idempotent; :func:`use_published_graph_conv` and
    :func:`use_published_dropout` undo it.
    """
    if torch.device(device).type != 'cpu':
        return model
    graph_convs = use_fast_graph_conv(model)
    dropouts = use_fast_dropout(model)
    logger.debug('accelerate: %d graph convolutions channels-last, %d dropouts swapped', graph_convs, dropouts)
    return model

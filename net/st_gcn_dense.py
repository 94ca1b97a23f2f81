"""Dense (per-frame) ST-GCN: the ST-GCN backbone with a temporal segmentation head that scores every frame.

The clip model (:class:`net.st_gcn.Model`) pools its last feature map over time and classifies the clip; labelling
a recording then means classifying overlapping windows and averaging them per frame. This model keeps time: the
last feature map is pooled over joints and individuals only, brought back to the input's frame rate and refined by
a small multi-stage temporal convolutional network in the manner of MS-TCN (Farha and Gall, CVPR 2019), so that it
is trained on per-frame labels and predicts a label for every frame.

Shapes: N = batch, C = channels, T = frames, V = graph nodes (joints), M = individuals, K = classes,
T' = ceil(T / 4) = the backbone's output length (two temporal strides of 2).

Parameter names of the backbone (``A``, ``data_bn``, ``st_gcn_networks.*``, ``edge_importance.*``) are those of the
clip model, so a trained clip model's backbone loads with :meth:`Model.load_backbone`; the clip head ``fcn`` does
not exist here, the dense head is ``stages.*``.
"""
from __future__ import annotations

import logging
import math
from typing import Any, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from net.st_gcn import BLOCKS
from net.st_gcn import Model as ST_GCN

logger = logging.getLogger(__name__)

UPSAMPLE = ('linear', 'nearest')
INDIVIDUAL_POOL = ('mean', 'max')
HEAD_PREFIX = 'stages.'
STAGE_KERNEL = 3  # temporal kernel of every dilated layer of the head


class DilatedResidualLayer(nn.Module):
    """``x + dropout(conv1x1(relu(conv3(x))))`` with the 3-tap convolution dilated by ``dilation`` frames.

    Shape: (N, C, T) -> (N, C, T).
    """

    def __init__(self, channels: int, dilation: int, dropout: float = 0.0):
        super().__init__()
        self.conv_dilated = nn.Conv1d(channels, channels, STAGE_KERNEL, padding=dilation, dilation=dilation)
        self.conv_1x1 = nn.Conv1d(channels, channels, 1)
        self.dropout = nn.Dropout(dropout, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.dropout(self.conv_1x1(F.relu(self.conv_dilated(x))))  # (N, C, T)


class Stage(nn.Module):
    """One stage of the head: a 1x1 convolution to ``channels``, ``layers`` dilated residual layers with dilations
    1, 2, 4, ..., 2^(layers-1) frames, and a 1x1 convolution to ``num_class`` scores.

    Its receptive field is ``2 * (2^layers - 1) + 1`` frames.

    Shape: (N, C_in, T) -> (N, K, T).
    """

    def __init__(self, in_channels: int, num_class: int, channels: int, layers: int, dropout: float = 0.0):
        super().__init__()
        self.conv_in = nn.Conv1d(in_channels, channels, 1)
        self.layers = nn.ModuleList([DilatedResidualLayer(channels, 2 ** i, dropout) for i in range(layers)])
        self.conv_out = nn.Conv1d(channels, num_class, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv_in(x)  # (N, channels, T)
        for layer in self.layers:
            x = layer(x)  # (N, channels, T)
        return self.conv_out(x)  # (N, K, T)


def frames_from_features(x: torch.Tensor, num_frames: int, stride: int, mode: str = 'linear') -> torch.Tensor:
    """Bring a feature sequence back to the frame rate: (N, C, T') -> (N, C, num_frames).

    Feature position u of a backbone with temporal stride ``stride`` (centred, zero-padded convolutions) is centred on
    input frame ``stride * u``, so frame t reads position ``t / stride``: interpolated between its two neighbours
    (``'linear'``) or the nearest one (``'nearest'``, ties upward), held constant past the last position. Unlike
    ``F.interpolate`` this keeps each feature on the frame it was computed for, and it gives exactly ``num_frames``
    frames whether or not that is a multiple of ``stride``.
    """
    if mode not in UPSAMPLE:
        raise ValueError(f'upsample {mode!r}: allowed values are {", ".join(UPSAMPLE)}')
    length = x.size(-1)
    if num_frames < 1 or math.ceil(num_frames / stride) != length:
        raise ValueError(f'a feature sequence of T\'={length} positions comes from {stride * (length - 1) + 1} to '
                         f'{stride * length} frames (temporal stride {stride}), not {num_frames}')
    position = torch.arange(num_frames, device=x.device, dtype=torch.float64) / stride  # (T,)
    position = position.clamp(max=length - 1)
    if mode == 'nearest':
        return x[..., torch.floor(position + 0.5).long()]  # (N, C, T)
    lower = position.floor().long()  # (T,)
    upper = (lower + 1).clamp(max=length - 1)  # (T,)
    weight = (position - lower).to(x.dtype)  # (T,) in [0, 1)
    return x[..., lower] * (1 - weight) + x[..., upper] * weight  # (N, C, T)


def _check_head_options(num_class: int, head_stages: Any, head_layers: Any, head_channels: Any, head_dropout: Any,
                        upsample: Any, individual_pool: Any) -> None:
    for name, value, low in (('num_class', num_class, 1), ('head_stages', head_stages, 1),
                             ('head_layers', head_layers, 0), ('head_channels', head_channels, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f'model_args.{name}: {value!r} must be an integer >= {low}')
    if isinstance(head_dropout, bool) or not isinstance(head_dropout, (int, float)) or not 0 <= head_dropout < 1:
        raise ValueError(f'model_args.head_dropout: {head_dropout!r} must be a number in [0, 1)')
    if upsample not in UPSAMPLE:
        raise ValueError(f'model_args.upsample: {upsample!r} is not one of {", ".join(UPSAMPLE)}')
    if individual_pool not in INDIVIDUAL_POOL:
        raise ValueError(f'model_args.individual_pool: {individual_pool!r} is not one of '
                         f'{", ".join(INDIVIDUAL_POOL)}')


class Model(ST_GCN):
    """Per-frame ST-GCN: the backbone of :class:`net.st_gcn.Model` and a multi-stage temporal head.

    Args:
        in_channels, num_class, graph_args, edge_importance_weighting, **kwargs: as :class:`net.st_gcn.Model`
            (``kwargs`` such as ``dropout`` go to the backbone's blocks).
        head_stages: stages of the head: the first reads the pooled features, each further stage (MS-TCN's
            refinement stage) reads the softmax of the previous stage's scores.
        head_layers: dilated residual layers per stage (dilations 1, 2, 4, ..., 2^(head_layers-1) frames).
        head_channels: width of each stage.
        head_dropout: dropout in each dilated residual layer (MS-TCN uses 0.5).
        upsample: ``'linear'`` or ``'nearest'``: how the T' feature positions are brought back to T frames
            (:func:`frames_from_features`).
        individual_pool: ``'mean'`` or ``'max'`` over the M individuals (max keeps what any one animal does, for
            social recordings where one individual's behaviour labels the frame).

    Head: the feature map (N, M, 256, T', V) is averaged over V and pooled over M (``individual_pool``) to
    (N, 256, T'), brought back to (N, 256, T) (:meth:`pool_features`: the per-frame embedding), and the stages give
    (N, K, T) scores each.

    Shape:
        input (N, in_channels, T, V, M) -> output (N, num_class, T) (the last stage's scores, before softmax);
        :meth:`forward_stages` gives every stage's, for :func:`dense_loss`.

    Receptive field: output frame t depends on input frames t - R .. t + R with R = :meth:`receptive_field`
    (589 frames for the defaults: 76 in the backbone, 3 for linear upsampling (2 for nearest), 255 per stage).
    Inside a window, frames at least R frames from both ends (or at the recording's own ends) get exactly the scores
    of one pass over the whole recording, when the window starts at a multiple of the temporal stride (4) and the
    model is in eval mode (:func:`processor.ethogram.stitch_frames` with ``margin=R`` stitches such windows).
    """

    def __init__(self, in_channels: int, num_class: int, graph_args: Mapping[str, Any] | None = None,
                 edge_importance_weighting: bool = True, head_stages: int = 2, head_layers: int = 8,
                 head_channels: int = 64, head_dropout: float = 0.5, upsample: str = 'linear',
                 individual_pool: str = 'mean', **kwargs):
        _check_head_options(num_class, head_stages, head_layers, head_channels, head_dropout, upsample,
                            individual_pool)
        super().__init__(in_channels, num_class, graph_args, edge_importance_weighting, **kwargs)
        del self.fcn  # the clip head: a dense model has none (see load_backbone)
        self.upsample = upsample
        self.individual_pool = individual_pool
        self.head_layers = head_layers
        self.temporal_stride, self._backbone_reach = self._backbone_geometry()
        width = BLOCKS[-1][1]  # 256, the last block's channels
        self.stages = nn.ModuleList(
            [Stage(width, num_class, head_channels, head_layers, head_dropout)]
            + [Stage(num_class, num_class, head_channels, head_layers, head_dropout) for _ in range(head_stages - 1)])

    # ------------------------------------------------------------ geometry
    def _backbone_geometry(self) -> tuple[int, int]:
        """(temporal stride, receptive half-width in frames) of :meth:`forward_features`, read off the blocks'
        convolutions: each adds (kernel - 1) / 2 * dilation positions at the stride reached before it."""
        stride, reach = 1, 0
        for block in self.st_gcn_networks:
            convs = [block.gcn.conv] + [m for m in block.tcn.modules() if isinstance(m, nn.Conv2d)]
            for conv in convs:
                reach += (conv.kernel_size[0] - 1) // 2 * conv.dilation[0] * stride
                stride *= conv.stride[0]
        return stride, reach

    def receptive_field(self) -> int:
        """R: output frame t depends on input frames t - R .. t + R (and on nothing further away).

        Backbone reach (76 frames for ST-GCN's ten blocks), plus the upsampling's (stride - 1 frames for linear,
        stride // 2 for nearest), plus (2^head_layers - 1) frames per stage.
        """
        upsampling = self.temporal_stride - 1 if self.upsample == 'linear' else self.temporal_stride // 2
        return self._backbone_reach + upsampling + len(self.stages) * (2 ** self.head_layers - 1)

    # ------------------------------------------------------------ head
    def pool_features(self, features: torch.Tensor, num_frames: int | None = None) -> torch.Tensor:
        """The per-frame embedding: (N, M, C, T', V) -> (N, C, T), mean over V, ``individual_pool`` over M, brought
        back to ``num_frames`` frames (default ``stride * T'``; pass the input's T, which
        :meth:`forward` does). Its mean over T is a clip embedding like the clip model's."""
        x = features.mean(dim=4)  # (N, M, C, T')
        x = x.mean(dim=1) if self.individual_pool == 'mean' else x.amax(dim=1)  # (N, C, T')
        if num_frames is None:
            num_frames = self.temporal_stride * x.size(-1)
        return frames_from_features(x, num_frames, self.temporal_stride, self.upsample)  # (N, C, T)

    def forward_head_stages(self, features: torch.Tensor, num_frames: int | None = None) -> list[torch.Tensor]:
        """(N, M, 256, T', V) -> every stage's scores, a list of head_stages tensors (N, K, T)."""
        x = self.stages[0](self.pool_features(features, num_frames))  # (N, K, T)
        scores = [x]
        for stage in self.stages[1:]:
            x = stage(F.softmax(x, dim=1))  # (N, K, T)
            scores.append(x)
        return scores

    def forward_head(self, features: torch.Tensor, num_frames: int | None = None) -> torch.Tensor:
        """(N, M, 256, T', V) -> the last stage's per-frame scores (N, K, T)."""
        return self.forward_head_stages(features, num_frames)[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, T, V, M) -> (N, K, T), the last stage's scores; in training mode every stage's, stacked
        (S, N, K, T), for :func:`dense_loss` (so that the loss goes through ``forward``, as DistributedDataParallel
        and torch.compile need)."""
        stages = self.forward_head_stages(self.forward_features(x), x.size(2))
        return torch.stack(stages) if self.training else stages[-1]

    def forward_stages(self, x: torch.Tensor) -> list[torch.Tensor]:
        """(N, C, T, V, M) -> every stage's scores, head_stages tensors (N, K, T), for :func:`dense_loss`."""
        return self.forward_head_stages(self.forward_features(x), x.size(2))

    def extract_feature(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-frame class scores (N, K, T) and the backbone's feature map (N, C, T', V, M)."""
        features = self.forward_features(x)  # (N, M, C, T', V)
        return self.forward_head(features, x.size(2)), features.permute(0, 2, 3, 4, 1)  # (N, C, T', V, M)

    # ------------------------------------------------------------ weights
    def load_backbone(self, state_dict: Mapping[str, torch.Tensor], source: str = 'state_dict') -> list[str]:
        """Load the backbone (``A``, ``data_bn``, ``st_gcn_networks``, ``edge_importance``) from a clip model's
        state dict, leaving the dense head as it is; return the keys of ``state_dict`` that were skipped (the clip
        head ``fcn.weight``, ``fcn.bias``, and anything else that is not part of this backbone), also logged.

        Every backbone key must be present with this model's shape: otherwise a ValueError names the missing and
        mis-shaped keys (``source`` names the file in it). A ``module.`` prefix is removed. For a file, pass
        ``torchlight.io.read_state_dict(path)`` (which also unwraps a training checkpoint).
        """
        weights = {(k[len('module.'):] if k.startswith('module.') else k): v for k, v in state_dict.items()}
        own = {k: v for k, v in self.state_dict().items() if not k.startswith(HEAD_PREFIX)}
        missing = [k for k in own if k not in weights and not k.endswith('num_batches_tracked')]
        mis_shaped = [f'{k} ({source} {tuple(weights[k].shape)}, model {tuple(own[k].shape)})'
                      for k in own if k in weights and tuple(weights[k].shape) != tuple(own[k].shape)]
        problems = ([f'missing backbone keys: {", ".join(missing)}'] if missing else []) + \
            ([f'mis-shaped keys: {", ".join(mis_shaped)}'] if mis_shaped else [])
        if problems:
            raise ValueError(f'{source}: the backbone does not fit this model ({"; ".join(problems)}); is it a '
                             'checkpoint of a different model, layout or in_channels?')
        skipped = sorted(k for k in weights if k not in own)
        backbone = {k: weights[k] for k in own if k in weights}
        result = self.load_state_dict(backbone, strict=False)
        unexpected_missing = [k for k in result.missing_keys
                              if not k.startswith(HEAD_PREFIX) and not k.endswith('num_batches_tracked')]
        assert not result.unexpected_keys and not unexpected_missing, (result, unexpected_missing)
        logger.info('%s: loaded %d backbone tensors; skipped %d keys not in the backbone: %s', source, len(backbone),
                    len(skipped), ', '.join(skipped) if skipped else 'none')
        return skipped


# ---------------------------------------------------------------- loss
def dense_loss(stage_scores: Sequence[torch.Tensor] | torch.Tensor, labels: torch.Tensor,
               class_weight: torch.Tensor | None = None, smooth_weight: float = 0.15, tau: float = 4.0,
               ignore_index: int = -1) -> torch.Tensor:
    """The MS-TCN loss summed over stages: per-frame cross-entropy plus ``smooth_weight`` times a smoothing term.

    Args:
        stage_scores: each stage's scores (N, K, T) (:meth:`Model.forward_stages`, or a training-mode forward's
            (S, N, K, T) stack), or one tensor (N, K, T).
        labels: (N, T) integer class per frame; ``ignore_index`` marks unlabelled frames, which contribute nothing
            (neither term; their scores get zero gradient).
        class_weight: (K,) weights of the cross-entropy; the term is then the weighted mean
            ``sum_i w[y_i] ce_i / sum_i w[y_i]`` over labelled frames (as ``F.cross_entropy``).
        smooth_weight: lambda of the smoothing term (MS-TCN: 0.15).
        tau: truncation of the smoothing term.

    Smoothing term, per stage: ``mean over k and over pairs (t-1, t) of min((log p_t[k] - log p_{t-1}[k])^2, tau^2)``
    where both frames are labelled; ``log p_{t-1}`` is detached (MS-TCN's choice: each frame is pulled towards its
    predecessor, not both towards each other). A batch without labelled frames has loss 0.

    Returns a scalar tensor.
    """
    if isinstance(stage_scores, torch.Tensor):
        stage_scores = list(stage_scores.unbind(0)) if stage_scores.dim() == 4 else [stage_scores]
    if len(stage_scores) == 0:
        raise ValueError('dense_loss: no stage scores given')
    N, K, T = stage_scores[0].shape
    if labels.shape != (N, T):
        raise ValueError(f'dense_loss: labels have shape {tuple(labels.shape)}, the scores (N, K, T) = '
                         f'{(N, K, T)} need (N, T) = {(N, T)}')
    valid = labels != ignore_index  # (N, T)
    if valid.any() and (labels[valid].min() < 0 or labels[valid].max() >= K):
        raise ValueError(f'dense_loss: labels must be in 0..{K - 1} or {ignore_index} (unlabelled), found '
                         f'{labels[valid].min().item()}..{labels[valid].max().item()}')
    if class_weight is not None and class_weight.shape != (K,):
        raise ValueError(f'dense_loss: class_weight has shape {tuple(class_weight.shape)}, expected ({K},)')
    target = torch.where(valid, labels, torch.zeros_like(labels))  # (N, T), unlabelled frames read class 0
    frame_weight = valid.to(stage_scores[0].dtype)  # (N, T)
    if class_weight is not None:
        frame_weight = frame_weight * class_weight.to(frame_weight.dtype)[target]  # (N, T)
    pair = (valid[:, 1:] & valid[:, :-1]).to(frame_weight.dtype)  # (N, T-1): both frames labelled
    ce_norm = frame_weight.sum().clamp_min(torch.finfo(frame_weight.dtype).tiny)
    pair_norm = (pair.sum() * K).clamp_min(1)
    total = stage_scores[0].new_zeros(())
    for scores in stage_scores:
        if scores.shape != (N, K, T):
            raise ValueError(f'dense_loss: stage scores have shapes {tuple(scores.shape)} and {(N, K, T)}')
        ce = F.cross_entropy(scores, target, reduction='none')  # (N, T)
        total = total + (ce * frame_weight).sum() / ce_norm
        if smooth_weight:
            log_p = F.log_softmax(scores, dim=1)  # (N, K, T)
            squared = (log_p[:, :, 1:] - log_p[:, :, :-1].detach()).pow(2).clamp(max=tau * tau)  # (N, K, T-1)
            total = total + smooth_weight * (squared * pair[:, None, :]).sum() / pair_norm
    return total

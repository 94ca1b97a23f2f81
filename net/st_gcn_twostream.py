"""Two-stream ST-GCN: one network on joint positions, one on their motion; class scores are summed."""
from __future__ import annotations

import torch
from torch import nn

from net.st_gcn import Model as ST_GCN


def motion(x: torch.Tensor) -> torch.Tensor:
    """Central-difference motion of (N, C, T, V, M): x[t] - x[t-1]/2 - x[t+1]/2, zero at the first and last frame."""
    m = torch.zeros_like(x)
    m[:, :, 1:-1] = x[:, :, 1:-1] - 0.5 * x[:, :, 2:] - 0.5 * x[:, :, :-2]
    return m


class Model(nn.Module):
    """Same arguments as :class:`net.st_gcn.Model`. Input (N, C, T, V, M) -> (N, num_class)."""

    def __init__(self, *args, **kwargs):
        super().__init__()
        self.origin_stream = ST_GCN(*args, **kwargs)
        self.motion_stream = ST_GCN(*args, **kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.origin_stream(x) + self.motion_stream(motion(x))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Both streams' feature maps concatenated on channels: (N, M, 512, T', V)."""
        return torch.cat([self.origin_stream.forward_features(x),
                          self.motion_stream.forward_features(motion(x))], dim=2)

    @staticmethod
    def pool_features(features: torch.Tensor) -> torch.Tensor:
        return ST_GCN.pool_features(features)  # (N, 512)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        origin, moving = features.chunk(2, dim=2)
        return self.origin_stream.forward_head(origin) + self.motion_stream.forward_head(moving)

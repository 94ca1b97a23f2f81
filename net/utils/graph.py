"""Skeleton graphs for ST-GCN.

A layout is data: a named layout from :data:`LAYOUTS`, a mapping ``{num_node, edges, center}`` (edges as pairs of
node indices or, with ``names``, of bodypart names), or ``{dlc_config: path}`` pointing at a DeepLabCut project
``config.yaml`` whose ``bodyparts`` (or ``multianimalbodyparts`` + ``uniquebodyparts``) give the nodes and whose
``skeleton`` gives the edges. :class:`Graph` turns a layout and a partition strategy into the stack of normalised
adjacency matrices ``A`` of shape (K, V, V) that the graph convolution uses.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import yaml

STRATEGIES = ('uniform', 'distance', 'spatial')


@dataclass(frozen=True)
class LayoutSpec:
    """Nodes and bones of a skeleton: ``edges`` are neighbour pairs, self-links excluded."""
    num_node: int
    edges: tuple[tuple[int, int], ...]
    center: int
    names: tuple[str, ...] | None = None


def _one_based(pairs: Sequence[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    return tuple((i - 1, j - 1) for i, j in pairs)


OPENPOSE_NAMES = ('nose', 'neck', 'right_shoulder', 'right_elbow', 'right_wrist', 'left_shoulder', 'left_elbow',
                  'left_wrist', 'right_hip', 'right_knee', 'right_ankle', 'left_hip', 'left_knee', 'left_ankle',
                  'right_eye', 'left_eye', 'right_ear', 'left_ear')
NTU_NAMES = ('spine_base', 'spine_mid', 'neck', 'head', 'left_shoulder', 'left_elbow', 'left_wrist', 'left_hand',
             'right_shoulder', 'right_elbow', 'right_wrist', 'right_hand', 'left_hip', 'left_knee', 'left_ankle',
             'left_foot', 'right_hip', 'right_knee', 'right_ankle', 'right_foot', 'spine_shoulder',
             'left_hand_tip', 'left_thumb', 'right_hand_tip', 'right_thumb')
RAT_NAMES = ('nose', 'left_ear', 'right_ear', 'neck', 'left_forepaw', 'right_forepaw', 'spine', 'left_hindpaw',
             'right_hindpaw', 'tail_base', 'tail_mid', 'tail_tip')

LAYOUTS: dict[str, LayoutSpec] = {
    'openpose': LayoutSpec(
        18, ((4, 3), (3, 2), (7, 6), (6, 5), (13, 12), (12, 11), (10, 9), (9, 8), (11, 5), (8, 2), (5, 1), (2, 1),
             (0, 1), (15, 0), (14, 0), (17, 15), (16, 14)), 1, OPENPOSE_NAMES),
    'ntu-rgb+d': LayoutSpec(
        25, _one_based(((1, 2), (2, 21), (3, 21), (4, 3), (5, 21), (6, 5), (7, 6), (8, 7), (9, 21), (10, 9),
                        (11, 10), (12, 11), (13, 1), (14, 13), (15, 14), (16, 15), (17, 1), (18, 17), (19, 18),
                        (20, 19), (22, 23), (23, 8), (24, 25), (25, 12))), 21 - 1, NTU_NAMES),
    'ntu_edge': LayoutSpec(
        24, _one_based(((1, 2), (3, 2), (4, 3), (5, 2), (6, 5), (7, 6), (8, 7), (9, 2), (10, 9), (11, 10),
                        (12, 11), (13, 1), (14, 13), (15, 14), (16, 15), (17, 1), (18, 17), (19, 18), (20, 19),
                        (21, 22), (22, 8), (23, 24), (24, 12))), 2, None),
    # 12 DeepLabCut rat bodyparts, as released by the DLC variant of ST-GCN (NEUSoftGreenAI/Multi-Branch-STGCN).
    'rat': LayoutSpec(
        12, ((0, 1), (0, 2), (0, 3), (3, 6), (4, 6), (5, 6), (6, 7), (6, 8), (6, 9), (9, 10), (10, 11)), 1,
        RAT_NAMES),
}


def read_dlc_config(path: str, include_unique: bool = True) -> tuple[list[str], list[tuple[str, str]]]:
    """Bodypart names (in node order) and skeleton pairs (by name) of a DeepLabCut project ``config.yaml``.

    Single-animal projects list the names under ``bodyparts``; multi-animal projects write ``bodyparts: MULTI!`` and
    list ``multianimalbodyparts`` then ``uniquebodyparts`` (the latter only with ``include_unique``).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{path}: no such DeepLabCut config file')
    with open(path, encoding='utf-8') as handle:
        try:
            config = yaml.safe_load(handle)
        except yaml.YAMLError as exc:
            raise ValueError(f'{path}: not valid YAML: {exc}') from None
    if not isinstance(config, dict):
        raise ValueError(f'{path}: expected a DeepLabCut config (a YAML mapping with "bodyparts")')
    bodyparts = config.get('bodyparts')
    if isinstance(bodyparts, str) and bodyparts.strip().upper() == 'MULTI!':
        multi = config.get('multianimalbodyparts') or []
        unique = config.get('uniquebodyparts') or []
        if not isinstance(multi, list) or not multi:
            raise ValueError(f'{path}: "bodyparts" is MULTI! but "multianimalbodyparts" is not a non-empty list')
        names = list(multi) + (list(unique) if include_unique and isinstance(unique, list) else [])
    elif isinstance(bodyparts, list) and bodyparts:
        names = list(bodyparts)
    else:
        raise ValueError(f'{path}: key "bodyparts" must be a non-empty list of names or MULTI! (got {bodyparts!r})')
    pairs = []
    for item in config.get('skeleton') or []:
        if not isinstance(item, (list, tuple)) or len(item) != 2:
            raise ValueError(f'{path}: skeleton entry {item!r} is not a pair of bodypart names')
        pairs.append((str(item[0]), str(item[1])))
    return [str(name) for name in names], pairs


def _edges_from_names(pairs, names, origin: str) -> tuple[tuple[int, int], ...]:
    index = {name: i for i, name in enumerate(names)}
    edges = []
    for a, b in pairs:
        for name in (a, b):
            if name not in index:
                raise ValueError(f'{origin}: skeleton names {name!r}, which is not a bodypart '
                                 f'(bodyparts: {", ".join(names)})')
        edges.append((index[a], index[b]))
    return tuple(edges)


def layout_spec(layout: str | Mapping[str, Any]) -> LayoutSpec:
    """Resolve a layout name, a ``{num_node, edges, center}`` mapping or a ``{dlc_config: path}`` mapping."""
    if isinstance(layout, str):
        if layout not in LAYOUTS:
            raise ValueError(f'unknown graph layout {layout!r}; valid layouts: {", ".join(LAYOUTS)}, '
                             'or a mapping {num_node, edges, center} or {dlc_config: path}')
        return LAYOUTS[layout]
    if not isinstance(layout, Mapping):
        raise ValueError(f'graph layout must be a name or a mapping, got {type(layout).__name__}')
    if 'dlc_config' in layout:
        path = str(layout['dlc_config'])
        names, pairs = read_dlc_config(path)
        center = layout.get('center', 0)
        if isinstance(center, str):
            if center not in names:
                raise ValueError(f'{path}: center {center!r} is not a bodypart (bodyparts: {", ".join(names)})')
            center = names.index(center)
        spec = LayoutSpec(len(names), _edges_from_names(pairs, names, path), int(center), tuple(names))
    else:
        missing = [key for key in ('num_node', 'edges') if key not in layout]
        if missing:
            raise ValueError(f'custom graph layout is missing {", ".join(missing)}; expected '
                             '{num_node: N, edges: [[i, j], ...], center: c} or {dlc_config: path}')
        names = tuple(layout['names']) if layout.get('names') else None
        raw_edges = [tuple(e) for e in layout['edges']]
        if names and raw_edges and isinstance(raw_edges[0][0], str):
            edges = _edges_from_names(raw_edges, names, 'graph layout')
        else:
            edges = tuple((int(i), int(j)) for i, j in raw_edges)
        center = layout.get('center', 0)
        if isinstance(center, str) and names:
            center = names.index(center)
        spec = LayoutSpec(int(layout['num_node']), edges, int(center), names)
    for i, j in spec.edges:
        if not (0 <= i < spec.num_node and 0 <= j < spec.num_node):
            raise ValueError(f'graph layout edge ({i}, {j}) is outside the {spec.num_node} nodes')
    if not 0 <= spec.center < spec.num_node:
        raise ValueError(f'graph layout center {spec.center} is outside the {spec.num_node} nodes')
    return spec


def portable_layout(layout: str | Mapping[str, Any]) -> str | dict[str, Any]:
    """The layout as plain data that needs no file: a named layout stays its name; a mapping (a DeepLabCut
    ``{dlc_config: path}`` included) becomes ``{num_node, edges, center, names}``, what a model file stores."""
    if isinstance(layout, str):
        layout_spec(layout)  # checks the name
        return layout
    spec = layout_spec(layout)
    portable: dict[str, Any] = {'num_node': spec.num_node, 'edges': [list(edge) for edge in spec.edges],
                                'center': spec.center}
    if spec.names is not None:
        portable['names'] = list(spec.names)
    return portable


class Graph:
    """The adjacency stack of a skeleton graph.

    Args:
        layout: a name in :data:`LAYOUTS` or a mapping (see :func:`layout_spec`).
        strategy: ``uniform`` (one partition), ``distance`` (one per hop distance) or ``spatial`` (root, closer to
            the centre, further from the centre; the paper's partition).
        max_hop: the largest hop distance two nodes may have to be neighbours.
        dilation: the step between the hop distances that are used.

    Attributes:
        A: float32 array (K, V, V), the normalised adjacency matrices, K partitions, V nodes.
        num_node, edge (neighbour and self links), center, names.
    """

    def __init__(self, layout: str | Mapping[str, Any] = 'openpose', strategy: str = 'uniform',
                 max_hop: int = 1, dilation: int = 1):
        if strategy not in STRATEGIES:
            raise ValueError(f'unknown graph strategy {strategy!r}; valid strategies: {", ".join(STRATEGIES)}')
        self.max_hop = int(max_hop)
        self.dilation = int(dilation)
        spec = layout_spec(layout)
        self.spec = spec
        self.num_node = spec.num_node
        self.center = spec.center
        self.names = spec.names
        self.edge = [(i, i) for i in range(self.num_node)] + list(spec.edges)
        self.hop_dis = get_hop_distance(self.num_node, self.edge, max_hop=self.max_hop)
        self.A = self._adjacency(strategy)

    def __str__(self) -> str:
        return str(self.A)

    def _adjacency(self, strategy: str) -> np.ndarray:
        valid_hop = range(0, self.max_hop + 1, self.dilation)
        adjacency = np.zeros((self.num_node, self.num_node))
        for hop in valid_hop:
            adjacency[self.hop_dis == hop] = 1
        normalized = normalize_digraph(adjacency)
        if strategy == 'uniform':
            return normalized[None].astype(np.float32)  # (1, V, V)
        if strategy == 'distance':
            A = np.zeros((len(valid_hop), self.num_node, self.num_node))
            for i, hop in enumerate(valid_hop):
                mask = self.hop_dis == hop
                A[i][mask] = normalized[mask]
            return A.astype(np.float32)  # (K, V, V), K = number of hops used
        # spatial: split each hop's neighbours by their distance to the centre, relative to the root node
        to_center = self.hop_dis[:, self.center]  # (V,)
        partitions = []
        for hop in valid_hop:
            mask = self.hop_dis == hop  # mask[j, i]: j and i are `hop` apart
            j_dist = to_center[:, None]  # distance of j (rows)
            i_dist = to_center[None, :]  # distance of i (columns)
            root = np.where(mask & (j_dist == i_dist), normalized, 0.0)
            close = np.where(mask & (j_dist > i_dist), normalized, 0.0)
            further = np.where(mask & (j_dist < i_dist), normalized, 0.0)
            if hop == 0:
                partitions.append(root)
            else:
                partitions.append(root + close)
                partitions.append(further)
        return np.stack(partitions).astype(np.float32)  # (K, V, V), K = 1 + 2 * max_hop


def get_hop_distance(num_node: int, edge: Sequence[tuple[int, int]], max_hop: int = 1) -> np.ndarray:
    """(V, V) hop distances up to ``max_hop``; ``inf`` beyond it or between unconnected nodes."""
    A = np.zeros((num_node, num_node))
    for i, j in edge:
        A[j, i] = 1
        A[i, j] = 1
    hop_dis = np.zeros((num_node, num_node)) + np.inf
    transfer = [np.linalg.matrix_power(A, d) for d in range(max_hop + 1)]
    arrive = np.stack(transfer) > 0
    for d in range(max_hop, -1, -1):
        hop_dis[arrive[d]] = d
    return hop_dis


def normalize_digraph(A: np.ndarray) -> np.ndarray:
    """Column-normalise: ``A @ D^-1`` with D the column sums (zero columns stay zero)."""
    column_sum = A.sum(0)
    inverse = np.zeros_like(column_sum)
    nonzero = column_sum > 0
    inverse[nonzero] = 1.0 / column_sum[nonzero]
    return A @ np.diag(inverse)


def normalize_undigraph(A: np.ndarray) -> np.ndarray:
    """Symmetric normalisation ``D^-1/2 A D^-1/2``."""
    degree = A.sum(0)
    inverse = np.zeros_like(degree)
    nonzero = degree > 0
    inverse[nonzero] = degree[nonzero] ** -0.5
    D = np.diag(inverse)
    return D @ A @ D

#!/usr/bin/env python
"""Cluster behaviour embeddings with DBSCAN and rank the samples by how unusual they are.

Reads the ``features.pkl`` written by ``python main.py extract`` (or the ``test_result.pkl`` of
``python main.py recognition --phase test --save_result True``), standardises the vectors, optionally
reduces them with PCA, runs scikit-learn's DBSCAN and writes, into ``--out``:

- ``clusters.csv``: one row per sample, most unusual first;
- ``cluster_map.png``: a 2-D PCA or t-SNE map, one colour per cluster, noise in black, one marker per true label;
- ``k_distance.png``: the sorted k-distance curve with the eps used;
- ``summary.json``: eps, clusters, noise, cluster sizes and, when true labels are known, ARI and purity.

Example::

    python tools/dbscan.py --features work_dir/rat_features/features.pkl --out work_dir/rat_clusters
"""
from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import os
import sys
from dataclasses import dataclass, field
from typing import Sequence

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for _path in (os.path.join(_ROOT, 'torchlight'), _ROOT):
    if _path not in sys.path:
        sys.path.insert(0, _path)

import numpy as np  # noqa: E402

from torchlight import atomic_write, run_cli, safe_load_pickle  # noqa: E402

logger = logging.getLogger(__name__)

FEATURES_FORMAT = 'st-gcn-features/1'
MAP_METHODS = ('pca', 'tsne')
NOISE = -1
UNKNOWN = 'unknown'
_MARKERS = ('o', 's', '^', 'D', 'v', 'P', 'X', '*', '<', '>', 'h', 'p', 'd', '8', 'H')


# ---------------------------------------------------------------- loading
@dataclass
class Features:
    """What :func:`load_features` returns, also usable as the tuple ``(names, X, labels, preds, class_names)``."""
    names: list[str]
    X: np.ndarray                      # (N, D) float64
    labels: np.ndarray | None          # (N,) int64, -1 = unknown; None when the file has no labels
    preds: np.ndarray | None           # (N,) int64 predicted class; None when unknown
    class_names: list[str] | None      # (K,) or None

    def __iter__(self):
        return iter((self.names, self.X, self.labels, self.preds, self.class_names))


def _expected_formats(path: str) -> str:
    return (f'{path}: not a features file; expected the dict written by main.py extract '
            f"(format {FEATURES_FORMAT!r}) or a test_result.pkl dict {{sample_name: 1-D score vector}}")


def _int_vector(value, key: str, n: int, path: str) -> np.ndarray | None:
    if value is None:
        return None
    array = np.asarray(value)
    if array.shape != (n,) or not (np.issubdtype(array.dtype, np.integer) or array.size == 0):
        raise ValueError(f'{path}: key {key!r} must be {n} integers (one per sample), got shape {array.shape} '
                         f'dtype {array.dtype}')
    return array.astype(np.int64)


def load_features(path: str) -> Features:
    """Read a features file; return ``(names, X, labels, preds, class_names)``.

    Accepts the ``st-gcn-features/1`` dict of ``main.py extract`` and the original ``test_result.pkl``
    (``{sample_name: score vector}``; then the predicted class is the arg-max and no true labels are known).
    Raises FileNotFoundError for a missing file and ValueError naming the file for an empty or malformed
    one, or naming the first sample whose vector holds NaN or inf.
    """
    try:
        data = safe_load_pickle(path)
    except ValueError as exc:
        detail = str(exc)
        detail = detail[len(path) + 2:] if detail.startswith(f'{path}: ') else detail
        raise ValueError(f'{path}: not a readable pickle ({detail}); expected the features.pkl of main.py '
                         'extract or a test_result.pkl') from None
    if not isinstance(data, dict):
        raise ValueError(_expected_formats(path) + f', got a {type(data).__name__}')
    if not data:
        raise ValueError(f'{path}: the file holds no samples (an empty dict)')

    if 'format' in data:
        if data['format'] != FEATURES_FORMAT:
            raise ValueError(f'{path}: unsupported format {data["format"]!r}; this tool reads {FEATURES_FORMAT!r}')
        missing = [key for key in ('sample_names', 'features') if key not in data]
        if missing:
            raise ValueError(f'{path}: format {FEATURES_FORMAT!r} but key(s) {", ".join(missing)} missing')
        names = [str(name) for name in data['sample_names']]
        X = np.asarray(data['features'])
        if X.ndim != 2 or not np.issubdtype(X.dtype, np.number):
            raise ValueError(f'{path}: key \'features\' must be a numeric (N, D) array, got shape {X.shape} '
                             f'dtype {X.dtype}')
        if X.shape[0] != len(names):
            raise ValueError(f'{path}: {len(names)} sample_names but {X.shape[0]} feature rows')
        if not names:
            raise ValueError(f'{path}: the file holds no samples (sample_names is empty)')
        n = len(names)
        labels = _int_vector(data.get('label'), 'label', n, path)
        preds = _int_vector(data.get('pred'), 'pred', n, path)
        if preds is None and data.get('scores') is not None:
            scores = np.asarray(data['scores'])
            if scores.ndim == 2 and scores.shape[0] == n and scores.shape[1] > 0:
                preds = scores.argmax(axis=1).astype(np.int64)
        class_names = data.get('class_names')
        if class_names is not None:
            class_names = [str(c) for c in class_names]
    else:
        names, rows = [], []
        for key, value in data.items():
            vector = np.asarray(value) if isinstance(value, (np.ndarray, list, tuple)) else None
            if not isinstance(key, str) or vector is None or vector.ndim != 1 \
                    or not np.issubdtype(vector.dtype, np.number):
                raise ValueError(_expected_formats(path) + f'; entry {key!r} is a {type(value).__name__}')
            names.append(key)
            rows.append(vector)
        lengths = {len(r) for r in rows}
        if len(lengths) != 1 or 0 in lengths:
            raise ValueError(f'{path}: score vectors have differing or zero lengths ({sorted(lengths)})')
        X = np.stack(rows)
        labels, class_names = None, None
        preds = X.argmax(axis=1).astype(np.int64)

    if X.shape[1] == 0:
        raise ValueError(f'{path}: the feature vectors are empty (D = 0)')
    X = X.astype(np.float64)
    finite = np.isfinite(X).all(axis=1)
    if not finite.all():
        bad = int(np.flatnonzero(~finite)[0])
        raise ValueError(f'{path}: sample {names[bad]!r} (row {bad}) has NaN or inf in its vector; '
                         f'{int((~finite).sum())} of {len(names)} samples are affected')
    if labels is not None and (labels < 0).all():
        labels = None
    return Features(names, X, labels, preds, class_names)


# ---------------------------------------------------------------- clustering
def k_distances(X: np.ndarray, k: int) -> np.ndarray:
    """Distance of each row of ``X`` (N, D) to its k-th nearest neighbour, the row itself counting as the first.

    This is DBSCAN's own convention: a point is a core point exactly when its k-distance (k = min_samples)
    is at most eps. Returns (N,).
    """
    from sklearn.neighbors import NearestNeighbors
    if len(X) < k:
        raise ValueError(f'{len(X)} samples, fewer than min_samples = {k}; lower --min_samples')
    nn = NearestNeighbors(n_neighbors=k).fit(X)
    distances, _ = nn.kneighbors(X)            # (N, k), column 0 is the point itself
    return distances[:, k - 1]


def knee_value(curve: np.ndarray) -> float:
    """The value of an ascending curve at its knee.

    Both axes are rescaled to [0, 1]; the knee is the point farthest below the straight line joining the
    curve's first and last points. A straight or flat curve has no knee: its median is returned.
    """
    y = np.asarray(curve, dtype=np.float64)
    if len(y) < 3 or y[-1] <= y[0]:
        return float(np.median(y))
    x = np.linspace(0.0, 1.0, len(y))
    yn = (y - y[0]) / (y[-1] - y[0])
    gap = x - yn                                # distance below the chord y = x, up to a factor 1/sqrt(2)
    best = int(np.argmax(gap))
    if gap[best] <= 1e-12:
        return float(np.median(y))
    return float(y[best])


def auto_eps(X: np.ndarray, k: int) -> tuple[float, np.ndarray]:
    """eps at the knee of the sorted k-distance curve of ``X`` (N, D); returns ``(eps, kdist_sorted)``."""
    kdist_sorted = np.sort(k_distances(X, k))
    return _eps_at_knee(kdist_sorted), kdist_sorted


def _eps_at_knee(kdist_sorted: np.ndarray) -> float:
    eps = knee_value(kdist_sorted)
    if eps <= 0:
        positive = kdist_sorted[kdist_sorted > 0]
        eps = float(positive.min()) if positive.size else 1e-6
        logger.warning('the knee of the k-distance curve is 0 (duplicate vectors); using eps = %.4g', eps)
    return eps


@dataclass
class ClusterResult:
    """Output of :func:`cluster`."""
    clusters: np.ndarray          # (N,) cluster id, -1 = noise
    scores: np.ndarray            # (N,) anomaly score: k-distance in the clustered space
    eps: float
    eps_mode: str                 # 'auto' or 'given'
    kdist_sorted: np.ndarray      # (N,) ascending
    Z: np.ndarray                 # (N, d) the clustered space (standardised, optionally PCA-reduced)
    pca_components: int | None
    min_samples: int
    sizes: dict[int, int] = field(default_factory=dict)

    @property
    def n_clusters(self) -> int:
        return len(self.sizes)

    @property
    def n_noise(self) -> int:
        return int((self.clusters == NOISE).sum())


def parse_eps(value: str | float) -> float | str:
    """``'auto'`` or a positive float; ValueError naming the value otherwise."""
    if isinstance(value, str) and value.strip().lower() == 'auto':
        return 'auto'
    try:
        eps = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"--eps must be 'auto' or a positive number, got {value!r}") from None
    if not math.isfinite(eps) or eps <= 0:
        raise ValueError(f"--eps must be 'auto' or a positive number, got {value!r}")
    return eps


def cluster(X: np.ndarray, eps: float | str = 'auto', min_samples: int = 5, pca: int | None = None,
            seed: int = 0) -> ClusterResult:
    """StandardScaler, optional PCA to ``pca`` components, then DBSCAN on ``X`` (N, D).

    ``eps='auto'`` takes the knee of the sorted k-distance curve (k = min_samples). The anomaly score of a
    sample is its k-distance in the clustered space.
    """
    from sklearn.cluster import DBSCAN
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler

    if int(min_samples) != min_samples or min_samples < 2:
        raise ValueError(f'--min_samples must be an integer >= 2, got {min_samples!r}')
    min_samples = int(min_samples)
    eps = parse_eps(eps)
    n, dims = X.shape
    if n < min_samples:
        raise ValueError(f'{n} samples, fewer than min_samples = {min_samples}; lower --min_samples')
    Z = StandardScaler().fit_transform(X)       # (N, D)
    components = None
    if pca is not None:
        if pca < 1:
            raise ValueError(f'--pca must be a positive number of components, got {pca}')
        components = min(pca, n, dims)
        if components != pca:
            logger.warning('--pca %d clipped to %d (samples %d, dimensions %d)', pca, components, n, dims)
        Z = PCA(n_components=components, random_state=seed).fit_transform(Z)   # (N, components)
    kdist = k_distances(Z, min_samples)
    kdist_sorted = np.sort(kdist)
    if eps == 'auto':
        eps_value = _eps_at_knee(kdist_sorted)      # the same curve auto_eps(Z, min_samples) computes
        mode = 'auto'
    else:
        eps_value, mode = float(eps), 'given'
    clusters = DBSCAN(eps=eps_value, min_samples=min_samples).fit_predict(Z).astype(np.int64)
    ids, counts = np.unique(clusters[clusters != NOISE], return_counts=True)
    sizes = {int(i): int(c) for i, c in zip(ids, counts)}
    return ClusterResult(clusters, kdist, eps_value, mode, kdist_sorted, Z, components, min_samples, sizes)


# ---------------------------------------------------------------- metrics
def purity(labels: np.ndarray, clusters: np.ndarray) -> float | None:
    """Share of clustered (non-noise) samples that carry their cluster's majority label; None if none."""
    keep = clusters != NOISE
    if not keep.any():
        return None
    total = 0
    for cid in np.unique(clusters[keep]):
        _, counts = np.unique(labels[clusters == cid], return_counts=True)
        total += int(counts.max())
    return total / int(keep.sum())


def summarize(result: ClusterResult, features: Features, path: str) -> dict:
    """The content of summary.json."""
    from sklearn.metrics import adjusted_rand_score
    summary = {
        'features': os.path.abspath(path),
        'n_samples': len(features.names),
        'dimensions': int(features.X.shape[1]),
        'pca_components': result.pca_components,
        'min_samples': result.min_samples,
        'eps': result.eps,
        'eps_mode': result.eps_mode,
        'n_clusters': result.n_clusters,
        'noise_count': result.n_noise,
        'noise_fraction': result.n_noise / len(features.names),
        'cluster_sizes': {str(k): v for k, v in result.sizes.items()},
        'labels_known': features.labels is not None,
    }
    if features.labels is not None:
        known = features.labels >= 0
        summary['labelled_samples'] = int(known.sum())
        # noise counts as one more cluster for ARI; purity is over the clustered samples only
        summary['adjusted_rand_index'] = float(adjusted_rand_score(features.labels[known], result.clusters[known]))
        summary['purity'] = purity(features.labels[known], result.clusters[known])
    return summary


# ---------------------------------------------------------------- outputs
def label_name(index: int, class_names: Sequence[str] | None) -> str:
    """Class name of ``index`` (its number when there are no names); -1 is 'unknown'."""
    if index < 0:
        return UNKNOWN
    if class_names is not None and index < len(class_names):
        return class_names[index]
    return str(index)


def ranking(result: ClusterResult) -> np.ndarray:
    """Sample order for clusters.csv: anomaly score descending (ties keep file order)."""
    return np.argsort(-result.scores, kind='stable')


def write_clusters_csv(path: str, features: Features, result: ClusterResult) -> None:
    """clusters.csv: sample, cluster, is_anomaly, anomaly_score [, true_label] [, predicted_label]."""
    header = ['sample', 'cluster', 'is_anomaly', 'anomaly_score']
    if features.labels is not None:
        header.append('true_label')
    if features.preds is not None:
        header.append('predicted_label')
    with atomic_write(path, 'w') as handle:
        writer = csv.writer(handle, lineterminator='\n')
        writer.writerow(header)
        for i in ranking(result):
            row = [features.names[i], int(result.clusters[i]), int(result.clusters[i] == NOISE),
                   f'{result.scores[i]:.6g}']
            if features.labels is not None:
                row.append(label_name(int(features.labels[i]), features.class_names))
            if features.preds is not None:
                row.append(label_name(int(features.preds[i]), features.class_names))
            writer.writerow(row)


def embed_2d(Z: np.ndarray, method: str = 'pca', seed: int = 0) -> np.ndarray:
    """A 2-D map (N, 2) of the clustered space ``Z`` (N, d) by PCA or t-SNE."""
    if method not in MAP_METHODS:
        raise ValueError(f'--map must be one of {", ".join(MAP_METHODS)}, got {method!r}')
    n, d = Z.shape
    if d == 1 or n < 2:
        return np.column_stack([Z[:, 0], np.zeros(n)]) if d >= 1 else np.zeros((n, 2))
    if method == 'tsne' and n >= 4:
        from sklearn.manifold import TSNE
        perplexity = float(min(30.0, (n - 1) / 3.0))
        return TSNE(n_components=2, perplexity=perplexity, init='pca', random_state=seed).fit_transform(Z)
    from sklearn.decomposition import PCA
    return PCA(n_components=2, random_state=seed).fit_transform(Z)


def _save_figure(fig, path: str) -> None:
    with atomic_write(path, 'wb') as handle:
        fig.savefig(handle, format='png', dpi=120, bbox_inches='tight')


def plot_cluster_map(path: str, xy: np.ndarray, features: Features, result: ClusterResult, method: str) -> None:
    """cluster_map.png: colour = cluster (noise black), marker = true label, legend and a titled summary."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    cluster_ids = sorted(result.sizes)
    cmap = plt.get_cmap('tab10' if len(cluster_ids) <= 10 else 'tab20' if len(cluster_ids) <= 20 else 'turbo')
    colours = {cid: cmap(i % cmap.N if len(cluster_ids) <= 20 else i / max(1, len(cluster_ids) - 1))
               for i, cid in enumerate(cluster_ids)}
    colours[NOISE] = (0.0, 0.0, 0.0, 1.0)
    if features.labels is not None:
        label_ids = sorted(int(v) for v in np.unique(features.labels))
        markers = {lab: _MARKERS[i % len(_MARKERS)] for i, lab in enumerate(label_ids)}
        sample_labels = features.labels
    else:
        label_ids, markers, sample_labels = [], {}, None

    fig, ax = plt.subplots(figsize=(8.0, 6.5))
    groups = label_ids if sample_labels is not None else [None]
    for lab in groups:
        in_group = np.ones(len(xy), bool) if lab is None else sample_labels == lab
        marker = 'o' if lab is None else markers[lab]
        for cid in cluster_ids + [NOISE]:
            sel = in_group & (result.clusters == cid)
            if sel.any():
                ax.scatter(xy[sel, 0], xy[sel, 1], s=18 if cid != NOISE else 24, marker=marker,
                           color=colours[cid], alpha=0.85 if cid != NOISE else 1.0, linewidths=0)
    max_entries = 20
    cluster_handles = [Line2D([], [], linestyle='', marker='o', color=colours[cid],
                              label=f'cluster {cid} ({result.sizes[cid]})') for cid in cluster_ids[:max_entries]]
    if len(cluster_ids) > max_entries:
        cluster_handles.append(Line2D([], [], linestyle='', label=f'... {len(cluster_ids) - max_entries} more'))
    cluster_handles.append(Line2D([], [], linestyle='', marker='o', color='black',
                                  label=f'noise ({result.n_noise})'))
    legend = ax.legend(handles=cluster_handles, title='cluster', loc='upper left', bbox_to_anchor=(1.01, 1.0),
                       fontsize=8, title_fontsize=9, frameon=False)
    if label_ids:
        ax.add_artist(legend)
        label_handles = [Line2D([], [], linestyle='', marker=markers[lab], color='0.4',
                                label=label_name(lab, features.class_names)) for lab in label_ids[:max_entries]]
        ax.legend(handles=label_handles, title='true label', loc='lower left', bbox_to_anchor=(1.01, 0.0),
                  fontsize=8, title_fontsize=9, frameon=False)
    axis = 'PC' if method == 'pca' else 't-SNE '
    ax.set_xlabel(f'{axis}1')
    ax.set_ylabel(f'{axis}2')
    ax.set_title(f'DBSCAN: {result.n_clusters} clusters, {result.n_noise} noise points of {len(xy)}, '
                 f'eps = {result.eps:.3g} ({result.eps_mode}), min_samples = {result.min_samples}', fontsize=10)
    fig.tight_layout()
    _save_figure(fig, path)
    plt.close(fig)


def plot_k_distance(path: str, result: ClusterResult) -> None:
    """k_distance.png: the sorted k-distance curve and a line at the eps used."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    curve = result.kdist_sorted
    fig, ax = plt.subplots(figsize=(7.0, 4.5))
    ax.plot(np.arange(len(curve)), curve, color='tab:blue', linewidth=1.5, label=f'{result.min_samples}-distance')
    ax.axhline(result.eps, color='tab:red', linestyle='--', linewidth=1.2,
               label=f'eps = {result.eps:.3g} ({result.eps_mode})')
    above = int((curve > result.eps).sum())
    ax.set_xlabel('samples, sorted by k-distance')
    ax.set_ylabel(f'distance to {result.min_samples}-th nearest neighbour')
    ax.set_title(f'sorted k-distance curve (k = {result.min_samples}); {above} samples above eps', fontsize=10)
    ax.legend(loc='upper left', fontsize=9)
    fig.tight_layout()
    _save_figure(fig, path)
    plt.close(fig)


def top_table(features: Features, result: ClusterResult, count: int = 10) -> str:
    """A small text table of the ``count`` highest-scoring samples."""
    rows = []
    for rank, i in enumerate(ranking(result)[:count], start=1):
        row = [str(rank), features.names[i], f'{result.scores[i]:.4g}',
               'noise' if result.clusters[i] == NOISE else str(int(result.clusters[i]))]
        if features.labels is not None:
            row.append(label_name(int(features.labels[i]), features.class_names))
        if features.preds is not None:
            row.append(label_name(int(features.preds[i]), features.class_names))
        rows.append(row)
    header = ['rank', 'sample', 'score', 'cluster']
    if features.labels is not None:
        header.append('true')
    if features.preds is not None:
        header.append('predicted')
    widths = [max(len(r[c]) for r in rows + [header]) for c in range(len(header))]
    lines = ['  '.join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in [header] + rows]
    return '\n'.join(lines)


def anomaly_check(scores: np.ndarray, clusters: np.ndarray, labels: np.ndarray,
                  class_names: Sequence[str] | None, abnormal_label: str) -> dict:
    """How well the ranking finds clips known to be abnormal (true label ``abnormal_label``).

    recall_at_n: the fraction of the n abnormal clips among the n highest anomaly scores; abnormal_noise_fraction
    and normal_noise_fraction: the fractions of abnormal and of other clips that DBSCAN calls noise.
    """
    names = [label_name(int(i), class_names) for i in labels]
    abnormal = np.array([name == abnormal_label for name in names])
    n = int(abnormal.sum())
    if n == 0:
        raise ValueError(f'--abnormal_label {abnormal_label!r}: no sample has that true label (labels: '
                         f'{", ".join(sorted(set(names)))})')
    top = np.argsort(-scores, kind='stable')[:n]
    noise = clusters == -1
    return {'abnormal_label': abnormal_label, 'abnormal_count': n,
            'recall_at_n': float(abnormal[top].mean()),
            'abnormal_noise_fraction': float(noise[abnormal].mean()),
            'normal_noise_fraction': float(noise[~abnormal].mean()) if (~abnormal).any() else None}


def run(features_path: str, out_dir: str, eps: float | str = 'auto', min_samples: int = 5,
        pca: int | None = None, map_method: str = 'pca', seed: int = 0, abnormal_label: str | None = None) -> dict:
    """The whole tool: load, cluster, write the four outputs into ``out_dir``; returns the summary."""
    if map_method not in MAP_METHODS:
        raise ValueError(f'--map must be one of {", ".join(MAP_METHODS)}, got {map_method!r}')
    eps = parse_eps(eps)
    features = load_features(features_path)
    n = len(features.names)
    if n < min_samples:
        raise ValueError(f'{features_path}: {n} samples, fewer than min_samples = {min_samples}; '
                         'lower --min_samples')
    np.random.seed(seed)
    logger.info('%s: %d samples x %d dimensions', features_path, n, features.X.shape[1])
    result = cluster(features.X, eps=eps, min_samples=min_samples, pca=pca, seed=seed)
    logger.info('eps = %.4g (%s): %d clusters, %d noise points', result.eps, result.eps_mode,
                result.n_clusters, result.n_noise)
    os.makedirs(out_dir, exist_ok=True)
    summary = summarize(result, features, features_path)
    if abnormal_label is not None:
        if features.labels is None:
            raise ValueError(f'{features_path}: --abnormal_label needs true labels (a features.pkl of main.py extract)')
        summary['anomaly_check'] = anomaly_check(result.scores, result.clusters, features.labels,
                                                 features.class_names, abnormal_label)
    write_clusters_csv(os.path.join(out_dir, 'clusters.csv'), features, result)
    plot_cluster_map(os.path.join(out_dir, 'cluster_map.png'), embed_2d(result.Z, map_method, seed),
                     features, result, map_method)
    plot_k_distance(os.path.join(out_dir, 'k_distance.png'), result)
    with atomic_write(os.path.join(out_dir, 'summary.json'), 'w') as handle:
        json.dump(summary, handle, indent=2)
        handle.write('\n')
    if 'adjusted_rand_index' in summary:
        purity_text = 'n/a' if summary['purity'] is None else f'{summary["purity"]:.3f}'
        logger.info('adjusted Rand index %.3f, purity %s', summary['adjusted_rand_index'], purity_text)
    if 'anomaly_check' in summary:
        check = summary['anomaly_check']
        normal = check['normal_noise_fraction']
        logger.info('%s clips: %.0f%% of the %d are among the %d highest scores; noise: %.0f%% of them, %s of the '
                    'other clips', abnormal_label, 100 * check['recall_at_n'], check['abnormal_count'],
                    check['abnormal_count'], 100 * check['abnormal_noise_fraction'],
                    'n/a' if normal is None else f'{100 * normal:.1f}%')
    logger.info('ten most unusual samples:\n%s', top_table(features, result))
    logger.info('wrote clusters.csv, cluster_map.png, k_distance.png, summary.json to %s', out_dir)
    return summary


# ---------------------------------------------------------------- command line
def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Cluster behaviour embeddings (features.pkl of main.py extract, or test_result.pkl) with '
                    'StandardScaler, optional PCA and DBSCAN; rank samples by anomaly score and draw a cluster map.',
        epilog='eps auto: for every sample take the distance to its k-th nearest neighbour (k = --min_samples, the '
               'sample itself counting as the first, as in DBSCAN), sort these ascending, rescale both axes of the '
               'curve to [0, 1] and take the value at the point farthest from the straight line joining the '
               "curve's first and last points (the knee). The anomaly score is the same k-distance: higher = more "
               'unusual.')
    parser.add_argument('--features', required=True, help='features.pkl from main.py extract, or test_result.pkl')
    parser.add_argument('--out', required=True, help='output folder (created if missing)')
    parser.add_argument('--eps', default='auto',
                        help="DBSCAN neighbourhood radius in the standardised (PCA) space, or 'auto' "
                             '(knee of the k-distance curve, see below); default auto')
    parser.add_argument('--min_samples', type=int, default=5,
                        help='DBSCAN min_samples (the point itself included), integer >= 2; default 5')
    parser.add_argument('--pca', type=int, default=None,
                        help='reduce to this many PCA components before DBSCAN (clipped to samples and '
                             'dimensions); default: no PCA')
    parser.add_argument('--map', default='pca', choices=MAP_METHODS,
                        help='2-D embedding for cluster_map.png: pca (fast) or tsne; default pca')
    parser.add_argument('--seed', type=int, default=0, help='random seed for PCA and t-SNE; default 0')
    parser.add_argument('--abnormal_label', default=None,
                        help='true label of clips known to be abnormal: reports in summary.json the fraction of them '
                             'among the highest scores (recall at their number) and the noise fraction of the rest')
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(message)s')
    logging.getLogger('numexpr').setLevel(logging.WARNING)   # its thread-count notice is not ours to show
    run(args.features, args.out, eps=args.eps, min_samples=args.min_samples, pca=args.pca,
        map_method=args.map, seed=args.seed, abnormal_label=args.abnormal_label)
    return 0


if __name__ == '__main__':
    run_cli(main)

"""tools/dbscan.py: blob recovery, outlier ranking, eps auto, both input formats, outputs and errors."""
from __future__ import annotations

import csv
import json
import logging
import os
import pickle
import subprocess
import sys

import cv2
import numpy as np
import pytest

import tools.dbscan as dbscan

BLOB = 60
OUTLIERS = 4
CLASSES = ['walk', 'groom', 'rear']


def make_blobs(seed: int = 0) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Three tight 16-D blobs of 60 points and 4 far outliers (label -1, the last four samples)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1, (3, 16)) * 6
    X = np.concatenate([rng.normal(0, 0.5, (BLOB, 16)) + c for c in centres]
                       + [rng.normal(0, 1, (OUTLIERS, 16)) * 12])
    labels = np.array([0] * BLOB + [1] * BLOB + [2] * BLOB + [-1] * OUTLIERS, np.int64)
    names = [f's{i:03d}' for i in range(len(X))]
    return names, X.astype(np.float32), labels


def write_features(path, names, X, labels, class_names=CLASSES, **extra) -> str:
    preds = np.maximum(labels, 0)
    scores = np.eye(3, dtype=np.float32)[preds]
    data = {'format': dbscan.FEATURES_FORMAT, 'sample_names': names, 'features': X, 'scores': scores,
            'pred': preds, 'label': labels, 'class_names': class_names}
    data.update(extra)
    with open(path, 'wb') as handle:
        pickle.dump(data, handle)
    return str(path)


@pytest.fixture
def blobs_pkl(tmp_path):
    names, X, labels = make_blobs()
    return write_features(tmp_path / 'features.pkl', names, X, labels), names, X, labels


def read_csv(path):
    with open(path, newline='') as handle:
        return list(csv.DictReader(handle))


def test_recovers_blobs_and_ranks_outliers_first(blobs_pkl, tmp_path):
    path, names, _, labels = blobs_pkl
    out = tmp_path / 'out'
    summary = dbscan.run(path, str(out))
    assert summary['n_clusters'] == 3
    assert summary['adjusted_rand_index'] > 0.95
    assert summary['purity'] == pytest.approx(1.0)
    rows = read_csv(out / 'clusters.csv')
    assert list(rows[0]) == ['sample', 'cluster', 'is_anomaly', 'anomaly_score', 'true_label', 'predicted_label']
    outliers = set(names[-OUTLIERS:])
    assert {r['sample'] for r in rows[:OUTLIERS]} == outliers
    assert all(r['cluster'] == '-1' and r['is_anomaly'] == '1' and r['true_label'] == 'unknown'
               for r in rows[:OUTLIERS])
    scores = [float(r['anomaly_score']) for r in rows]
    assert scores == sorted(scores, reverse=True)
    # the blob members carry their class names, and the blobs are not noise
    by_name = {r['sample']: r for r in rows}
    assert by_name['s000']['true_label'] == 'walk' and by_name['s100']['true_label'] == 'groom'
    assert sum(r['is_anomaly'] == '1' for r in rows) <= OUTLIERS + 3


def test_auto_eps_between_blob_scale_and_outlier_distance():
    _, X, labels = make_blobs(seed=1)
    k = 5
    eps, curve = dbscan.auto_eps(X.astype(np.float64), k)
    kdist = dbscan.k_distances(X.astype(np.float64), k)
    inlier = kdist[labels >= 0]
    distances = np.linalg.norm(X[:, None, :] - X[None, :, :], axis=-1)
    np.fill_diagonal(distances, np.inf)
    outlier_gap = distances[labels < 0].min()       # nearest anything to any outlier
    assert np.percentile(inlier, 90) <= eps < outlier_gap
    assert np.all(np.diff(curve) >= 0) and len(curve) == len(X)


def test_knee_of_a_known_curve():
    curve = np.concatenate([np.linspace(1.0, 1.2, 90), np.linspace(5.0, 20.0, 10)])
    assert dbscan.knee_value(curve) == pytest.approx(1.2)
    assert dbscan.knee_value(np.linspace(0, 1, 50)) == pytest.approx(0.5)   # no knee: the median


def test_given_eps_is_used_and_too_small_eps_makes_all_noise(blobs_pkl, tmp_path):
    path, *_ = blobs_pkl
    summary = dbscan.run(path, str(tmp_path / 'out'), eps=1e-3)
    assert summary['eps'] == pytest.approx(1e-3) and summary['eps_mode'] == 'given'
    assert summary['n_clusters'] == 0 and summary['noise_count'] == summary['n_samples']
    assert summary['purity'] is None


def test_accepts_test_result_pkl(tmp_path):
    names, X, _ = make_blobs()
    path = tmp_path / 'test_result.pkl'
    with open(path, 'wb') as handle:
        pickle.dump({n: x for n, x in zip(names, X)}, handle)
    loaded_names, loaded_X, loaded_labels, preds, class_names = dbscan.load_features(str(path))
    assert loaded_names == names and loaded_labels is None and class_names is None
    np.testing.assert_array_equal(preds, X.argmax(axis=1))
    summary = dbscan.run(str(path), str(tmp_path / 'out'))
    assert summary['labels_known'] is False and 'adjusted_rand_index' not in summary
    assert summary['n_clusters'] == 3
    rows = read_csv(tmp_path / 'out' / 'clusters.csv')
    assert list(rows[0]) == ['sample', 'cluster', 'is_anomaly', 'anomaly_score', 'predicted_label']
    assert {r['sample'] for r in rows[:OUTLIERS]} == set(names[-OUTLIERS:])
    assert rows[0]['predicted_label'] == str(X[names.index(rows[0]['sample'])].argmax())


def test_pngs_decode_and_are_not_blank(blobs_pkl, tmp_path):
    path, *_ = blobs_pkl
    out = tmp_path / 'out'
    dbscan.run(path, str(out))
    for name in ('cluster_map.png', 'k_distance.png'):
        image = cv2.imread(str(out / name))
        assert image is not None, name
        assert image.shape[0] > 100 and image.shape[1] > 100
        assert image.std() > 0
        assert len(np.unique(image.reshape(-1, 3), axis=0)) > 2


def test_tsne_map_is_two_dimensional():
    _, X, _ = make_blobs()
    Z = X[::6].astype(np.float64)                      # 31 points keep t-SNE fast
    xy = dbscan.embed_2d(Z, 'tsne', seed=3)
    assert xy.shape == (len(Z), 2) and np.isfinite(xy).all() and xy.std(axis=0).min() > 0
    with pytest.raises(ValueError, match="--map must be one of pca, tsne, got 'umap'"):
        dbscan.embed_2d(Z, 'umap')


def test_summary_fields(blobs_pkl, tmp_path):
    path, names, *_ = blobs_pkl
    dbscan.run(path, str(tmp_path / 'out'), min_samples=4, pca=8)
    with open(tmp_path / 'out' / 'summary.json') as handle:
        summary = json.load(handle)
    for key in ('eps', 'eps_mode', 'n_clusters', 'noise_count', 'cluster_sizes', 'adjusted_rand_index', 'purity',
                'min_samples', 'pca_components'):
        assert key in summary
    assert summary['min_samples'] == 4 and summary['pca_components'] == 8
    assert sum(summary['cluster_sizes'].values()) + summary['noise_count'] == len(names)
    assert len(summary['cluster_sizes']) == summary['n_clusters'] == 3


def test_pca_is_clipped_with_a_warning(blobs_pkl, caplog):
    _, _, X, _ = blobs_pkl
    with caplog.at_level(logging.WARNING):
        result = dbscan.cluster(X.astype(np.float64), pca=100)
    assert result.pca_components == 16 and result.Z.shape == (len(X), 16)
    assert '--pca 100 clipped to 16' in caplog.text


def test_same_input_same_output(blobs_pkl, tmp_path):
    path, *_ = blobs_pkl
    dbscan.run(path, str(tmp_path / 'a'), pca=5)
    dbscan.run(path, str(tmp_path / 'b'), pca=5)
    assert (tmp_path / 'a' / 'clusters.csv').read_bytes() == (tmp_path / 'b' / 'clusters.csv').read_bytes()


def _bad_file(tmp_path, kind: str) -> tuple[str, int]:
    path = tmp_path / f'{kind}.pkl'
    names, X, labels = make_blobs()
    if kind == 'empty':
        path.write_bytes(pickle.dumps({}))
    elif kind == 'empty_features':
        write_features(path, [], np.zeros((0, 16), np.float32), np.zeros(0, np.int64))
    elif kind == 'list':
        path.write_bytes(pickle.dumps([1, 2, 3]))
    elif kind == 'garbage':
        path.write_bytes(b'this is not a pickle')
    elif kind == 'bad_entry':
        path.write_bytes(pickle.dumps({'a': 'text'}))
    elif kind == 'format':
        write_features(path, names, X, labels, format='st-gcn-features/9')
    elif kind == 'few':
        write_features(path, names[:3], X[:3], labels[:3])
    elif kind in ('nan', 'inf'):
        X = X.copy()
        X[7, 3] = np.nan if kind == 'nan' else np.inf
        X[9, 0] = np.nan
        write_features(path, names, X, labels)
    return str(path)


@pytest.mark.parametrize('kind, message', [
    ('empty', 'holds no samples'),
    ('empty_features', 'holds no samples'),
    ('list', 'not a features file'),
    ('garbage', 'not a readable pickle'),
    ('bad_entry', "entry 'a' is a str"),
    ('format', "unsupported format 'st-gcn-features/9'"),
    ('few', '3 samples, fewer than min_samples = 5'),
    ('nan', "sample 's007' (row 7) has NaN or inf"),
    ('inf', "sample 's007' (row 7) has NaN or inf"),
])
def test_bad_inputs_name_the_problem(tmp_path, kind, message):
    path = _bad_file(tmp_path, kind)
    with pytest.raises(ValueError) as info:
        dbscan.run(path, str(tmp_path / 'out'))
    assert message in str(info.value)
    if kind != 'few':
        assert path in str(info.value)
    assert not (tmp_path / 'out' / 'clusters.csv').exists()


@pytest.mark.parametrize('kwargs, message', [
    ({'eps': '-1'}, "--eps must be 'auto' or a positive number, got '-1'"),
    ({'eps': 'knee'}, "got 'knee'"),
    ({'min_samples': 1}, '--min_samples must be an integer >= 2'),
    ({'pca': 0}, '--pca must be a positive number'),
])
def test_bad_options(blobs_pkl, tmp_path, kwargs, message):
    path, *_ = blobs_pkl
    with pytest.raises(ValueError, match=None) as info:
        dbscan.run(path, str(tmp_path / 'out'), **kwargs)
    assert message in str(info.value)


def test_missing_file_and_cli_error_is_one_line(tmp_path):
    missing = str(tmp_path / 'nope.pkl')
    with pytest.raises(FileNotFoundError, match='nope.pkl'):
        dbscan.load_features(missing)
    script = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                          'tools', 'dbscan.py')
    garbage = _bad_file(tmp_path, 'garbage')
    proc = subprocess.run([sys.executable, script, '--features', garbage, '--out', str(tmp_path / 'o')],
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.strip().count('\n') == 0
    assert proc.stderr.startswith('dbscan.py: error: ') and garbage in proc.stderr


def test_abnormal_label_reports_recall_and_noise(tmp_path):
    names, X, labels = make_blobs()
    labels = labels.copy()
    path = write_features(tmp_path / 'f.pkl', names, X, labels, class_names=['a', 'b', 'c', 'seizure'])
    with open(path, 'rb') as handle:
        data = pickle.load(handle)
    data['label'][-4:] = 3  # the planted outliers carry a known 'seizure' label
    with open(path, 'wb') as handle:
        pickle.dump(data, handle)
    summary = dbscan.run(path, str(tmp_path / 'out'), abnormal_label='seizure')
    check = summary['anomaly_check']
    assert check['abnormal_count'] == 4 and check['recall_at_n'] == 1.0
    assert check['abnormal_noise_fraction'] == 1.0 and check['normal_noise_fraction'] < 0.05
    with open(tmp_path / 'out' / 'summary.json') as handle:
        assert json.load(handle)['anomaly_check'] == check
    with pytest.raises(ValueError, match="--abnormal_label 'limp': no sample has that true label"):
        dbscan.run(path, str(tmp_path / 'out2'), abnormal_label='limp')

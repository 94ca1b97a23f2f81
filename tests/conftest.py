"""Shared test set-up: the repo root on sys.path, small synthetic datasets, paths to shared fixtures."""
from __future__ import annotations

import os
import pickle
import sys

import numpy as np
import pytest
import torch

# One thread per process: the suite runs many small models and subprocesses (data-loader workers, torchrun ranks)
# on a 2-core machine, where 2 threads per process oversubscribe the cores.
os.environ.setdefault('OMP_NUM_THREADS', '1')
torch.set_num_threads(1)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

SHARED = os.path.join(os.path.dirname(ROOT), 'shared')


def make_separable_arrays(n: int, num_class: int, T: int, V: int, M: int = 1, seed: int = 0,
                          C: int = 3) -> tuple[np.ndarray, list[int]]:
    """(N, C, T, V, M) float32 clips: the class sets which joints are displaced and how fast they oscillate.

    Sample i has label i % num_class; x and y stay inside (-0.5, 0.5), the frame centred as in the feeders.
    """
    rng = np.random.default_rng(seed)
    labels = [i % num_class for i in range(n)]
    t = np.arange(T, dtype=np.float32)
    data = np.zeros((n, C, T, V, M), dtype=np.float32)
    for i, label in enumerate(labels):
        freq = 0.05 + 0.08 * label
        phase = rng.uniform(0, 2 * np.pi)
        base = rng.normal(0, 0.03, size=(V,)).astype(np.float32)
        wave = 0.15 * np.sin(2 * np.pi * freq * t + phase)[:, None]  # (T, 1)
        data[i, 0, :, :, 0] = base[None, :] + wave * np.linspace(0.2, 1.0, V)[None, :]
        data[i, 1, :, :, 0] = base[None, ::-1] + 0.05 * label
        data[i, 0, :, (label * V // num_class):((label + 1) * V // num_class), 0] += 0.3  # a class-specific pose
        data[i, 2, :, :, 0] = 1.0
    data[:, :2] += rng.normal(0, 0.01, size=data[:, :2].shape).astype(np.float32)
    return data, labels


def write_dataset(folder, split: str, data: np.ndarray, labels: list[int]) -> tuple[str, str]:
    os.makedirs(folder, exist_ok=True)
    data_path = os.path.join(folder, f'{split}_data.npy')
    label_path = os.path.join(folder, f'{split}_label.pkl')
    np.save(data_path, data)
    with open(label_path, 'wb') as handle:
        pickle.dump(([f'{split}_{i:04d}' for i in range(len(labels))], labels), handle)
    return data_path, label_path


@pytest.fixture
def separable_dataset(tmp_path):
    """train/val splits of separable 4-class data for the 12-node rat layout (T=16, M=1)."""
    folder = tmp_path / 'data'
    train = write_dataset(folder, 'train', *make_separable_arrays(64, 4, 16, 12, seed=1))
    val = write_dataset(folder, 'val', *make_separable_arrays(32, 4, 16, 12, seed=2))
    return {'train': train, 'val': val, 'folder': str(folder)}


RAT_MODEL_ARGS = ['--model', 'net.st_gcn.Model', '--model_args', 'in_channels=3', 'num_class=4',
                  "graph_args={'layout': 'rat', 'strategy': 'spatial'}"]


@pytest.fixture(scope='session')
def trained_rat(tmp_path_factory):
    """A short training run on separable 4-class rat data, shared by the tests that need a trained model."""
    import main as main_module
    root = tmp_path_factory.mktemp('trained_rat')
    folder = root / 'data'
    train = write_dataset(folder, 'train', *make_separable_arrays(64, 4, 16, 12, seed=1))
    val = write_dataset(folder, 'val', *make_separable_arrays(32, 4, 16, 12, seed=2))
    work = root / 'work'
    argv = ['recognition', '-w', str(work), *RAT_MODEL_ARGS,
            '--train_feeder_args', f'data_path={train[0]}', f'label_path={train[1]}',
            '--test_feeder_args', f'data_path={val[0]}', f'label_path={val[1]}',
            '--num_epoch', '10', '--batch_size', '8', '--test_batch_size', '16', '--base_lr', '0.003',
            '--step', '9', '--save_interval', '5', '--eval_interval', '5', '--num_worker', '0',
            '--save_result', 'true', '--seed', '3', '--show_topk', '1']
    code = main_module.main(argv)
    return {'code': code, 'work': work, 'weights': str(work / 'epoch10_model.pt'), 'train': train, 'val': val}

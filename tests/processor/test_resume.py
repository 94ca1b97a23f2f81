"""Checkpoints and --resume: a SIGKILLed run, resumed, ends bit-identical to an uninterrupted one."""
import csv
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

import main as main_module
from conftest import ROOT, make_separable_arrays, write_dataset
from processor import checkpoint as checkpoint_module
from processor.checkpoint import capture_rng_state, load_checkpoint, restore_rng_state, save_checkpoint

NUM_EPOCH = 3


@pytest.fixture
def tiny_dataset(tmp_path):
    folder = tmp_path / 'data'
    train = write_dataset(folder, 'train', *make_separable_arrays(16, 4, 16, 12, seed=1))
    val = write_dataset(folder, 'val', *make_separable_arrays(8, 4, 16, 12, seed=2))
    return train, val


def _argv(work, dataset, *extra, val=True):
    (train_data, train_label), (val_data, val_label) = dataset
    test_args = ['--test_feeder_args', f'data_path={val_data}', f'label_path={val_label}'] if val else []
    return ['recognition', '-w', str(work), '--model', 'net.st_gcn.Model', '--model_args', 'in_channels=3',
            'num_class=4', 'dropout=0.5', "graph_args={'layout': 'rat', 'strategy': 'spatial'}",
            # random_move and random_shift draw from numpy's global RNG, dropout from torch's
            '--train_feeder_args', f'data_path={train_data}', f'label_path={train_label}', 'random_move=True',
            'random_shift=True',
            *test_args, '--num_epoch', str(NUM_EPOCH), '--batch_size', '8', '--test_batch_size', '8', '--base_lr', '0.05',
            '--step', '2', '--save_interval', '1', '--eval_interval', '2', '--num_worker', '0', '--seed', '11',
            '--print_log', 'false', *extra]


def _metrics(work):
    with open(work / 'metrics.csv', newline='') as handle:
        return [{k: v for k, v in row.items() if k != 'seconds'} for row in csv.DictReader(handle)]


def test_killed_run_resumes_bit_identically(tmp_path, tiny_dataset):
    reference = tmp_path / 'reference'
    assert main_module.main(_argv(reference, tiny_dataset)) == 0
    checkpoint = load_checkpoint(str(reference / 'checkpoint.pt'))  # torch.load(weights_only=True) inside
    assert checkpoint['epoch'] == NUM_EPOCH and checkpoint['iter'] == NUM_EPOCH * 2  # 16 samples, batch 8
    assert checkpoint['lr'] == pytest.approx(0.005)  # --base_lr 0.05 decayed once at --step 2
    assert checkpoint['optimizer']['state'], 'momentum buffers are saved'
    assert checkpoint['config']['seed'] == 11 and checkpoint['config']['num_epoch'] == NUM_EPOCH
    assert checkpoint['best_top1'] is not None and checkpoint['best_epoch'] in (2, 3)
    assert len(checkpoint['rng']) == 1 and set(checkpoint['rng'][0]) == {'python', 'numpy', 'torch', 'cuda'}
    for name in ('epoch1_model.pt', 'epoch3_model.pt', 'best_model.pt', 'metrics.csv', 'curves.png'):
        assert (reference / name).is_file(), name

    work = tmp_path / 'interrupted'
    proc = subprocess.Popen([sys.executable, 'main.py', *_argv(work, tiny_dataset)], cwd=ROOT,
                            env=dict(os.environ, OMP_NUM_THREADS='1'), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 300
    try:
        while not (work / 'checkpoint.pt').exists():
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.time() < deadline, 'no checkpoint.pt within 300 s'
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    interrupted_at = load_checkpoint(str(work / 'checkpoint.pt'))['epoch']
    assert 1 <= interrupted_at < NUM_EPOCH  # the kill came before the run could finish
    assert not (work / f'epoch{NUM_EPOCH}_model.pt').exists()

    assert main_module.main(_argv(work, tiny_dataset, '--resume')) == 0
    assert load_checkpoint(str(work / 'checkpoint.pt'))['epoch'] == NUM_EPOCH
    expected = torch.load(reference / f'epoch{NUM_EPOCH}_model.pt', weights_only=True)['state_dict']
    resumed = torch.load(work / f'epoch{NUM_EPOCH}_model.pt', weights_only=True)['state_dict']
    assert expected.keys() == resumed.keys()
    different = [k for k in expected if not torch.equal(expected[k], resumed[k])]
    assert different == []
    assert _metrics(work) == _metrics(reference)
    assert len(_metrics(work)) == NUM_EPOCH
    assert torch.equal(torch.load(reference / 'best_model.pt', weights_only=True)['state_dict']['fcn.weight'],
                       torch.load(work / 'best_model.pt', weights_only=True)['state_dict']['fcn.weight'])
    log = (work / 'log.txt').read_text()
    assert f'Resumed from {work / "checkpoint.pt"}: {interrupted_at} epochs' in log


def test_rng_state_round_trip():
    import random

    import numpy as np
    state = capture_rng_state()
    first = (random.random(), float(np.random.rand()), float(torch.rand(1)))
    restore_rng_state(state)
    assert (random.random(), float(np.random.rand()), float(torch.rand(1))) == first


def test_crash_while_writing_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / 'checkpoint.pt'
    save_checkpoint(path, {'epoch': 1, 'model': {'w': torch.ones(3)}})

    def crash(obj, handle, *args, **kwargs):
        handle.write(b'half a checkpoint')
        raise RuntimeError('disk full')

    monkeypatch.setattr(checkpoint_module.torch, 'save', crash)
    with pytest.raises(RuntimeError, match='disk full'):
        save_checkpoint(path, {'epoch': 2, 'model': {'w': torch.zeros(3)}})
    monkeypatch.undo()
    checkpoint = load_checkpoint(str(path))
    assert checkpoint['epoch'] == 1 and torch.equal(checkpoint['model']['w'], torch.ones(3))
    assert os.listdir(tmp_path) == ['checkpoint.pt']  # no temporary file left behind


def test_same_seed_same_run_with_workers(tmp_path, tiny_dataset):
    """Two runs with --seed and two loader workers (augmenting with numpy's RNG) give the same weights."""
    weights = []
    for name in ('a', 'b'):
        work = tmp_path / name
        assert main_module.main(_argv(work, tiny_dataset, '--num_epoch', '1', '--num_worker', '2', val=False)) == 0
        weights.append(torch.load(work / 'epoch1_model.pt', weights_only=True)['state_dict'])
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])

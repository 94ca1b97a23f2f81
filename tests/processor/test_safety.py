"""Unsafe files are refused without running them; bad input gives one clear line (exit 1, or 2 for config)."""
import os
import pickle

import numpy as np
import pytest
import torch

import main as main_module
from conftest import make_separable_arrays, write_dataset
from processor.checkpoint import save_checkpoint

MODEL = ['--model', 'net.st_gcn.Model', '--model_args', 'in_channels=3', 'num_class=4',
         "graph_args={'layout': 'rat', 'strategy': 'spatial'}"]


class _Exploit:
    """Pickles to a call of os.system that would create the marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}',)


def _run(capsys, argv):
    code = main_module.main(['recognition', '--print_log', 'false', '--num_worker', '0', *argv])
    err = capsys.readouterr().err.strip()
    return code, err


def _train(work, train, val=None, *extra):
    argv = ['-w', str(work), *MODEL, '--train_feeder_args', f'data_path={train[0]}', f'label_path={train[1]}',
            '--batch_size', '4', '--num_epoch', '1']
    if val:
        argv += ['--test_feeder_args', f'data_path={val[0]}', f'label_path={val[1]}']
    return argv + list(extra)


@pytest.fixture
def data(tmp_path):
    return write_dataset(tmp_path / 'data', 'train', *make_separable_arrays(8, 4, 16, 12, seed=1))


def test_malicious_label_pickle_is_refused_without_running(tmp_path, capsys, data):
    control = tmp_path / 'control'
    pickle.loads(pickle.dumps(_Exploit(control)))  # what a plain pickle.load would do
    assert control.exists()
    marker = tmp_path / 'marker'
    with open(data[1], 'wb') as handle:
        pickle.dump((['a'] * 8, _Exploit(marker)), handle)
    code, err = _run(capsys, _train(tmp_path / 'w', data))
    assert code == 1 and len(err.splitlines()) == 1, err
    assert f'{data[1]}: refused to load' in err and ('posix.system' in err or 'os.system' in err), err
    assert not marker.exists()


def test_malicious_weights_file_is_refused_without_running(tmp_path, capsys, data):
    marker = tmp_path / 'marker'
    weights = tmp_path / 'evil.pt'
    torch.save({'fcn.weight': _Exploit(marker)}, weights)
    code, err = _run(capsys, _train(tmp_path / 'w', data, None, '--weights', str(weights)))
    assert code == 1 and len(err.splitlines()) == 1, err
    assert 'evil.pt: not a loadable PyTorch weights file' in err
    assert not marker.exists()


def _nan_data(folder):
    array, labels = make_separable_arrays(8, 4, 16, 12, seed=1)
    array[5, 1, 3, 2, 0] = np.nan
    return write_dataset(folder, 'train', array, labels)


def _short_labels(folder):
    array, labels = make_separable_arrays(8, 4, 16, 12, seed=1)
    paths = write_dataset(folder, 'train', array, labels)
    with open(paths[1], 'wb') as handle:
        pickle.dump(([f'train_{i}' for i in range(7)], labels[:7]), handle)
    return paths


def _wrong_joints(folder):
    return write_dataset(folder, 'train', *make_separable_arrays(8, 4, 16, 14, seed=1))


def _empty(folder):
    return write_dataset(folder, 'train', np.zeros((0, 3, 16, 12, 1), np.float32), [])


def _few(folder):
    return write_dataset(folder, 'train', *make_separable_arrays(3, 3, 16, 12, seed=1))


@pytest.mark.parametrize('make, message', [
    (_nan_data, 'train_data.npy: sample 5 (train_0005) holds NaN or inf'),
    (_short_labels, 'train_label.pkl has 7 labels but'),
    (_wrong_joints, "the data has V=14 joints but the model's graph has 12 nodes"),
    (_empty, 'the train split is empty'),
    (_few, '--batch_size 4 is larger than the train split (3 samples'),
], ids=['nan', 'label-count', 'joints', 'empty', 'batch-size'])
def test_bad_data_is_one_line(tmp_path, capsys, make, message):
    paths = make(tmp_path / 'data')
    code, err = _run(capsys, _train(tmp_path / 'w', paths))
    assert code == 1 and len(err.splitlines()) == 1, err
    assert err.startswith('main.py recognition: error: ') and message in err, err


def test_resume_errors_are_one_line(tmp_path, capsys, data):
    from net.st_gcn import Model
    work = tmp_path / 'w'
    code, err = _run(capsys, _train(work, data, None, '--resume'))
    assert code == 1 and len(err.splitlines()) == 1, err
    assert f'{work / "checkpoint.pt"}: no checkpoint to resume from' in err

    other = tmp_path / 'other.pt'  # a checkpoint of a 5-class model
    save_checkpoint(other, {'model': Model(3, 5, {'layout': 'rat', 'strategy': 'spatial'}).state_dict(),
                            'epoch': 1})
    code, err = _run(capsys, _train(work, data, None, '--resume', str(other)))
    assert code == 1 and len(err.splitlines()) == 1, err
    assert 'other.pt: does not fit the model' in err and 'mis-shaped keys: fcn.weight (file (5, 256, 1, 1)' in err

    weights_only = tmp_path / 'epoch1_model.pt'
    torch.save(Model(3, 4, {'layout': 'rat', 'strategy': 'spatial'}).state_dict(), weights_only)
    code, err = _run(capsys, _train(work, data, None, '--resume', str(weights_only)))
    assert code == 1 and 'epoch1_model.pt: not an st-gcn training checkpoint' in err, err

    code, err = _run(capsys, ['--phase', 'test', '-w', str(work), *MODEL, '--weights', str(weights_only),
                              '--resume'])
    assert code == 2 and err.endswith('--resume continues a training run; it does not apply to --phase test')

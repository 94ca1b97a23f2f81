"""tools/ntu_gendata.py: NTU RGB+D .skeleton files -> xsub/xview benchmarks."""
from __future__ import annotations

import os

import numpy as np
import pytest

from torchlight import safe_load_pickle
from tools import ntu_gendata


def _joint_line(x, y, z):
    # x y z depthX depthY colorX colorY orientationW X Y Z trackingState
    return f'{x} {y} {z} 250.1 200.2 1000.3 500.4 0.5 0.1 0.2 0.3 2'


def _write_skeleton(path, frames, num_joint=25):
    """frames: a list of frames, each a list of bodies, each an (x, y, z) base value per body."""
    lines = [str(len(frames))]
    for bodies in frames:
        lines.append(str(len(bodies)))
        for base in bodies:
            lines.append('72057594037931101 0 1 1 1 1 0 0.1 0.2 2')
            lines.append(str(num_joint))
            for j in range(num_joint):
                lines.append(_joint_line(base + j, base + j + 0.5, base - j))
    with open(path, 'w') as handle:
        handle.write('\r\n'.join(lines) + '\r\n')


def test_read_xyz_keeps_two_bodies_and_xyz(tmp_path):
    path = tmp_path / 'S001C001P001R001A001.skeleton'
    _write_skeleton(path, [[1.0], [2.0, 3.0, 4.0]])
    data = ntu_gendata.read_xyz(str(path), max_frame=4)
    assert data.shape == (3, 4, 25, 2) and data.dtype == np.float32
    j = np.arange(25)
    np.testing.assert_allclose(data[:, 0, :, 0], [1.0 + j, 1.5 + j, 1.0 - j])
    assert not data[:, 0, :, 1].any()
    np.testing.assert_allclose(data[:, 1, :, 1], [3.0 + j, 3.5 + j, 3.0 - j])  # the third body is dropped
    assert not data[:, 2:].any()


@pytest.mark.parametrize('text, message', [
    ('2\n1\n', 'the file ends at line 2'),
    ('x\n', "line 1: expected the number of frames, got 'x'"),
    ('1\n1\n1 2 3 4 5 6 7 8 9 10\n1\n1 2 3\n', 'line 5: expected 12 joint values, got 3'),
    ('400\n', '400 frames, more than max_frame=300'),
])
def test_malformed_files_name_the_file_and_line(tmp_path, text, message):
    path = tmp_path / 'S001C001P001R001A001.skeleton'
    path.write_text(text)
    with pytest.raises(ValueError, match=message) as info:
        ntu_gendata.read_xyz(str(path))
    assert 'S001C001P001R001A001.skeleton' in str(info.value)


def test_split_membership_follows_the_paper():
    names = ['S001C001P001R001A010.skeleton',  # subject 1 (train), camera 1 (val)
             'S001C002P003R001A002.skeleton',  # subject 3 (val), camera 2 (train)
             'S002C003P038R002A060.skeleton',  # subject 38 (train), camera 3 (train)
             'S001C001P007R001A001.skeleton',  # subject 7 (val), camera 1 (val)
             'S001C002P003R001A009.skeleton',  # ignored
             'readme.txt']
    ignored = {'S001C002P003R001A009'}
    assert ntu_gendata.select_samples(names, ignored, 'xsub', 'train') == (
        ['S001C001P001R001A010.skeleton', 'S002C003P038R002A060.skeleton'], [9, 59])
    assert ntu_gendata.select_samples(names, ignored, 'xsub', 'val') == (
        ['S001C001P007R001A001.skeleton', 'S001C002P003R001A002.skeleton'], [0, 1])
    assert ntu_gendata.select_samples(names, ignored, 'xview', 'train') == (
        ['S001C002P003R001A002.skeleton', 'S002C003P038R002A060.skeleton'], [1, 59])
    assert ntu_gendata.select_samples(names, ignored, 'xview', 'val') == (
        ['S001C001P001R001A010.skeleton', 'S001C001P007R001A001.skeleton'], [9, 0])
    with pytest.raises(ValueError, match="benchmark 'xset' is not one of xsub, xview"):
        ntu_gendata.select_samples(names, ignored, 'xset', 'train')
    with pytest.raises(ValueError, match='not an NTU RGB\\+D sample name'):
        ntu_gendata.select_samples(['bad.skeleton'], set(), 'xsub', 'train')


def test_main_writes_both_benchmarks_without_ignored_samples(tmp_path):
    src = tmp_path / 'skeletons'
    src.mkdir()
    samples = {'S001C001P001R001A003': 1.0, 'S001C002P003R001A005': 2.0,
               'S001C003P002R002A007': 3.0, 'S001C002P001R001A008': 4.0}
    for name, base in samples.items():
        _write_skeleton(src / f'{name}.skeleton', [[base], [base, base + 10]])
    ignored = tmp_path / 'missing.txt'
    ignored.write_text('S001C002P001R001A008\n')
    out = tmp_path / 'out'
    assert ntu_gendata.main(['--data_path', str(src), '--out_folder', str(out), '--ignored_sample_path',
                             str(ignored), '--num_workers', '2']) == 0
    for benchmark, part, expected in [
            ('xsub', 'train', ['S001C001P001R001A003', 'S001C003P002R002A007']),
            ('xsub', 'val', ['S001C002P003R001A005']),
            ('xview', 'train', ['S001C002P003R001A005', 'S001C003P002R002A007']),
            ('xview', 'val', ['S001C001P001R001A003'])]:
        names, labels = safe_load_pickle(out / benchmark / f'{part}_label.pkl')
        assert names == [name + '.skeleton' for name in expected]
        assert labels == [int(name[-3:]) - 1 for name in expected]
        data = np.load(out / benchmark / f'{part}_data.npy')
        assert data.shape == (len(expected), 3, 300, 25, 2)
        for i, name in enumerate(expected):
            base = samples[name]
            np.testing.assert_allclose(data[i, 0, 1, 0, :], [base, base + 10])
            np.testing.assert_allclose(data[i, 2, 0, 24, 0], base - 24)
    assert sorted(os.listdir(out / 'xsub')) == ['train_data.npy', 'train_label.pkl', 'val_data.npy',
                                                'val_label.pkl']


def test_missing_ignored_sample_file_is_an_error(tmp_path):
    (tmp_path / 's').mkdir()
    with pytest.raises(FileNotFoundError, match='nope.txt: no such ignored-sample file'):
        ntu_gendata.gendata(str(tmp_path / 's'), str(tmp_path / 'o'), str(tmp_path / 'nope.txt'), 'xsub', 'train')

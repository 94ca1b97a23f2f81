"""tools/kinetics_gendata.py: JSON clips -> (N, 3, T, V, M) .npy + (names, labels) .pkl."""
from __future__ import annotations

import json
import logging
import os

import numpy as np
import pytest

from feeder import model_input
from torchlight import safe_load_pickle
from tools import kinetics_gendata


def _clip(path, frames, label_index):
    with open(path, 'w') as handle:
        json.dump({'data': frames, 'label': f'c{label_index}', 'label_index': label_index}, handle)


def _split(root, split, clips):
    """clips: {name: (frames, label_index, has_skeleton)}"""
    folder = os.path.join(root, f'kinetics_{split}')
    os.makedirs(folder)
    labels = {}
    for name, (frames, label_index, has_skeleton) in clips.items():
        _clip(os.path.join(folder, name + '.json'), frames, label_index)
        labels[name] = {'has_skeleton': has_skeleton, 'label': f'c{label_index}', 'label_index': label_index}
    with open(os.path.join(root, f'kinetics_{split}_label.json'), 'w') as handle:
        json.dump(labels, handle)
    return folder, os.path.join(root, f'kinetics_{split}_label.json')


def _sk(x, y, s, V=2):
    return {'pose': [x, y] * V, 'score': [s] * V}


def _tiny(root):
    # V = 2 joints, 3 frames; clip "one" has three persons in frame 1
    clips = {
        'one': ([{'frame_index': 0, 'skeleton': [_sk(0.75, 0.25, 0.5)]},
                 {'frame_index': 1, 'skeleton': [_sk(0.5, 0.5, 0.2), _sk(1.0, 0.0, 0.75), _sk(0.25, 1.0, 0.5)]}],
                4, True),
        'empty': ([], 1, False),
        'two': ([{'frame_index': 2, 'skeleton': [_sk(0.5, 0.75, 1.0)]}], 2, True),
    }
    return _split(root, 'train', clips)


def _expected():
    data = np.zeros((2, 3, 3, 2, 2), dtype=np.float32)  # (N, C, T, V, M)
    data[0, :, 0, :, 0] = np.array([0.25, -0.25, 0.5])[:, None]
    data[0, :, 1, :, 0] = np.array([0.5, -0.5, 0.75])[:, None]   # the best of three
    data[0, :, 1, :, 1] = np.array([-0.25, 0.5, 0.5])[:, None]   # second best
    data[1, :, 2, :, 0] = np.array([0.0, 0.25, 1.0])[:, None]
    return data


@pytest.mark.parametrize('num_workers', [1, 2])
def test_gendata_writes_the_exact_arrays_and_labels(tmp_path, num_workers):
    folder, label_path = _tiny(str(tmp_path))
    out = tmp_path / 'out'
    names, labels = kinetics_gendata.gendata(folder, label_path, str(out / 'train_data.npy'),
                                             str(out / 'train_label.pkl'), max_frame=3,
                                             num_person_in=5, num_person_out=2, num_workers=num_workers)
    assert (names, labels) == (['one.json', 'two.json'], [4, 2])
    data = np.load(out / 'train_data.npy')
    assert data.dtype == np.float32
    np.testing.assert_array_equal(data, _expected())
    stored = safe_load_pickle(out / 'train_label.pkl')
    assert stored == (['one.json', 'two.json'], [4, 2])
    assert all(type(label) is int for label in stored[1])
    assert sorted(os.listdir(out)) == ['train_data.npy', 'train_label.pkl', 'train_meta.json']  # no temporary files
    spec = model_input.read_meta(str(out / 'train_data.npy'))  # the clips say nothing about their preprocessing
    assert (spec.bodyparts, spec.frame_size, spec.clip_len, spec.num_person) == (None, None, 3, 2)


def test_the_meta_file_keeps_what_every_clip_shares(tmp_path):
    clips = {f'c{i}': ([{'frame_index': 0, 'skeleton': [_sk(0.5, 0.5, 1.0)]}], 0, True) for i in range(3)}
    folder, label_path = _split(str(tmp_path), 'train', clips)
    for i, size in enumerate(([640, 480], [640, 480], [800, 600])):
        path = os.path.join(folder, f'c{i}.json')
        with open(path) as handle:
            clip = json.load(handle)
        clip.update(bodyparts=['a', 'b'], frame_size=size, input={'pcutoff': 0.4, 'max_gap': 3, 'fps': 25.0,
                                                                  'single': 'attach'})
        with open(path, 'w') as handle:
            json.dump(clip, handle)
    kinetics_gendata.gendata(folder, label_path, str(tmp_path / 'train_data.npy'), str(tmp_path / 'l.pkl'),
                             max_frame=1, num_person_out=1, num_workers=1, class_names=['x'])
    spec = model_input.read_meta(str(tmp_path / 'train_data.npy'))
    assert spec.bodyparts == ['a', 'b'] and (spec.pcutoff, spec.max_gap, spec.fps) == (0.4, 3, 25.0)
    assert spec.frame_size is None  # it varies between recordings
    assert spec.class_names == ['x'] and (spec.clip_len, spec.num_person) == (1, 1)


def test_gendata_one_person_out(tmp_path):
    folder, label_path = _tiny(str(tmp_path))
    kinetics_gendata.gendata(folder, label_path, str(tmp_path / 'd.npy'), str(tmp_path / 'l.pkl'),
                             max_frame=3, num_person_out=1, num_workers=1)
    np.testing.assert_array_equal(np.load(tmp_path / 'd.npy'), _expected()[..., :1])


def test_joint_count_disagreement_names_the_clip_and_leaves_no_output(tmp_path):
    frames2 = [{'frame_index': 0, 'skeleton': [_sk(0.5, 0.5, 1.0, V=2)]}]
    frames3 = [{'frame_index': 0, 'skeleton': [_sk(0.5, 0.5, 1.0, V=3)]}]
    clips = {f'c{i:02d}': (frames2, 0, True) for i in range(12)}
    clips['c07'] = (frames3, 0, True)
    folder, label_path = _split(str(tmp_path), 'train', clips)
    out = tmp_path / 'out'
    out.mkdir()
    (out / 'train_data.npy').write_bytes(b'old')  # an earlier result stays untouched
    with pytest.raises(ValueError, match=r'c07\.json.*3 joints.*V=2'):
        kinetics_gendata.gendata(folder, label_path, str(out / 'train_data.npy'), str(out / 'train_label.pkl'),
                                 max_frame=2, num_workers=2)
    assert sorted(os.listdir(out)) == ['train_data.npy']
    assert (out / 'train_data.npy').read_bytes() == b'old'


def test_a_failure_midway_leaves_no_partial_npy(tmp_path):
    frames = [{'frame_index': 0, 'skeleton': [_sk(0.5, 0.5, 1.0)]}]
    clips = {f'c{i:02d}': (frames, 0, True) for i in range(10)}
    folder, label_path = _split(str(tmp_path), 'train', clips)
    with open(os.path.join(folder, 'c05.json'), 'w') as handle:
        handle.write('{"data": [{"frame_index": 0, "skel')  # truncated
    out = tmp_path / 'out'
    with pytest.raises(ValueError, match=r'c05\.json: not valid JSON'):
        kinetics_gendata.gendata(folder, label_path, str(out / 'train_data.npy'), str(out / 'train_label.pkl'),
                                 max_frame=2, num_workers=2)
    assert os.listdir(out) == []


def test_main_converts_the_present_split_and_warns_about_the_other(tmp_path, caplog):
    _tiny(str(tmp_path))
    out = tmp_path / 'out'
    with caplog.at_level(logging.WARNING):
        code = kinetics_gendata.main(['--data_path', str(tmp_path), '--out_folder', str(out), '--max_frame', '3',
                                      '--num_workers', '1'])
    assert code == 0
    assert 'skipping the val split' in caplog.text
    np.testing.assert_array_equal(np.load(out / 'train_data.npy'), _expected())
    with pytest.raises(FileNotFoundError, match='kinetics_val'):
        kinetics_gendata.main(['--data_path', str(tmp_path), '--out_folder', str(out), '--split', 'val'])


def test_person_counts_are_checked(tmp_path):
    folder, label_path = _tiny(str(tmp_path))
    with pytest.raises(ValueError, match='num_person_out=3 must be between 1 and num_person_in=2'):
        kinetics_gendata.gendata(folder, label_path, str(tmp_path / 'd.npy'), str(tmp_path / 'l.pkl'),
                                 num_person_in=2, num_person_out=3)


@pytest.mark.parametrize('size', [None, ['800', '600']])
def test_a_frame_size_read_per_recording_is_not_fixed_in_the_spec(tmp_path, size):
    """One training recording whose frame size came from its coordinate range must not fix that size for the
    recordings a model later labels (each has its own range); a size given with --width/--height is kept."""
    from tools import csv2json, gen_trainDataset
    from tools.make_sample_data import make_sample
    make_sample(str(tmp_path / 'sample'), recordings=1, abnormal=0, frames=96)
    one = next((tmp_path / 'sample' / 'csv_data' / 'walking').glob('*.csv'))
    argv = ['--input', str(one), '--label', 'walking', '--output', str(tmp_path / 'json'), '--clip_len',
            '32', '--stride', '32', '--log_level', 'ERROR']
    if size:
        argv += ['--width', size[0], '--height', size[1]]
    assert csv2json.main(argv) == 0
    dataset = tmp_path / 'dataset'
    assert gen_trainDataset.main(['--input', str(tmp_path / 'json'), '--output', str(dataset), '--train_ratio', '1',
                                  '--log_level', 'ERROR']) == 0
    assert kinetics_gendata.main(['--data_path', str(dataset), '--out_folder', str(dataset), '--max_frame', '32',
                                  '--split', 'train', '--num_workers', '1']) == 0
    spec = model_input.read_meta(str(dataset / 'train_data.npy'))
    assert spec.frame_size == (None if size is None else [800.0, 600.0])
    assert spec.aspect == (1.0 if size is None else 0.75)   # the coordinate range's square, or 600 / 800
    model_input.check_frame_aspect(spec, {'frame_size': [1, 1] if size is None else [800, 600]}, 'the data')
    with pytest.raises(ValueError, match=r'frame_size \[640, 480\] \(height / width 0.750\) does not match the data, '
                                         r'whose clips were divided by frames of height / width 1.000 \(csv2json used '
                                         r'the coordinate range' if size is None else r'set frame_size to the size'):
        model_input.check_frame_aspect(spec, {'frame_size': [640, 480] if size is None else [1, 1]}, 'the data')

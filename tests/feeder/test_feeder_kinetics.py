"""feeder/feeder_kinetics.py: the Feeder_kinetics dataset of JSON clips."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from feeder.feeder_kinetics import Feeder_kinetics
from test_kinetics_json import _skeleton, _write


def _dataset(tmp_path, V=3, T=4):
    folder = tmp_path / 'kinetics_train'
    folder.mkdir()
    labels = {}
    for i, (name, has_skeleton) in enumerate([('b', True), ('a', True), ('empty', False)]):
        frames = [{'frame_index': t, 'skeleton': [_skeleton([(0.5 + 0.1 * i, 0.5)] * V, [1.0] * V)]}
                  for t in range(T)] if has_skeleton else []
        _write(folder / f'{name}.json', frames, label_index=i)
        labels[name] = {'has_skeleton': has_skeleton, 'label': f'class{i}', 'label_index': i}
    label_path = tmp_path / 'kinetics_train_label.json'
    label_path.write_text(json.dumps(labels))
    return str(folder), str(label_path)


def test_feeder_reads_sorted_clips_and_drops_empty_ones(tmp_path):
    folder, label_path = _dataset(tmp_path)
    feeder = Feeder_kinetics(folder, label_path, max_frame=4)
    assert feeder.sample_name == ['a.json', 'b.json'] and len(feeder) == 2
    assert feeder.V == 3 and feeder.T == 4 and feeder.M == 2
    data, label = feeder[0]
    assert label == 1 and data.shape == (3, 4, 3, 2)
    np.testing.assert_allclose(data[0, :, :, 0], 0.1)  # 0.6 - 0.5
    assert len(Feeder_kinetics(folder, label_path, ignore_empty_sample=False, max_frame=4)) == 3


def test_feeder_window_and_augmentation(tmp_path):
    folder, label_path = _dataset(tmp_path, T=4)
    data, _ = Feeder_kinetics(folder, label_path, window_size=6, max_frame=4)[0]
    assert data.shape == (3, 6, 3, 2) and not data[:, 4:].any()
    np.random.seed(0)
    data, _ = Feeder_kinetics(folder, label_path, random_choose=True, random_move=True, window_size=2,
                              max_frame=4)[1]
    assert data.shape == (3, 2, 3, 2)


def test_feeder_errors_name_the_clip(tmp_path):
    folder, label_path = _dataset(tmp_path)
    _write(os.path.join(folder, 'stray.json'), [])
    with pytest.raises(ValueError, match=r"no entry for clip 'stray\.json'"):
        Feeder_kinetics(folder, label_path, max_frame=4)
    os.remove(os.path.join(folder, 'stray.json'))
    labels = json.loads(open(label_path).read())
    labels['a']['label_index'] = 7
    with open(label_path, 'w') as handle:
        json.dump(labels, handle)
    with pytest.raises(ValueError, match=r'a\.json: label_index 1 differs from 7'):
        Feeder_kinetics(folder, label_path, max_frame=4)[0]
    with pytest.raises(FileNotFoundError, match='nowhere'):
        Feeder_kinetics(str(tmp_path / 'nowhere'), label_path)

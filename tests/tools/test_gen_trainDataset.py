"""tools/gen_trainDataset.py: grouped, stratified, seeded split; label files; --force refusal."""
from __future__ import annotations

import json
import os

import pytest

from feeder import kinetics_json
from tools import gen_trainDataset as gen


def write_clip(folder, label, label_index, recording, clip, aug=0, empty=False):
    name = kinetics_json.clip_name(label, recording, clip, aug)
    score = [0.0, 0.0] if empty else [0.9, 0.8]
    obj = {'data': [{'frame_index': 0, 'skeleton': [{'pose': [0.1, 0.2, 0.3, 0.4], 'score': score}]}],
           'label': label, 'label_index': label_index}
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name + '.json'), 'w') as handle:
        json.dump(obj, handle)
    return name


def make_clips(folder, recordings_per_class=(('groom', 0, 5), ('walk', 1, 10))):
    """For each class, recordings with 3 clips and 2 augmented copies of each."""
    for label, index, n in recordings_per_class:
        for r in range(n):
            for c in range(3):
                for aug in range(3):
                    write_clip(folder, label, index, f'{label}_rat{r}DLC_resnet50', c, aug)
    with open(os.path.join(folder, 'classes.txt'), 'w') as handle:
        handle.write(''.join(f'{label}\n' for label, _, _ in recordings_per_class))


def read_labels(out):
    with open(os.path.join(out, 'kinetics_train_label.json')) as a, \
            open(os.path.join(out, 'kinetics_val_label.json')) as b:
        return json.load(a), json.load(b)


def test_no_recording_in_both_splits_and_stratified(tmp_path):
    make_clips(str(tmp_path / 'json'))
    out = str(tmp_path / 'ds')
    assert gen.main(['--input', str(tmp_path / 'json'), '--output', out, '--train_ratio', '0.8']) == 0
    train, val = read_labels(out)
    recordings = {split: {kinetics_json.parse_clip_name(n)['recording'] for n in labels}
                  for split, labels in (('train', train), ('val', val))}
    assert not recordings['train'] & recordings['val']
    # stratified: 1 of 5 groom recordings and 2 of 10 walk recordings in val (9 files each)
    val_classes = sorted(v['label'] for v in val.values())
    assert val_classes.count('groom') == 1 * 9 and val_classes.count('walk') == 2 * 9
    assert len(train) + len(val) == 15 * 9
    # the files are placed in the matching folder, with the label's index
    for name, entry in train.items():
        assert os.path.isfile(os.path.join(out, 'kinetics_train', name + '.json'))
        assert entry == {'has_skeleton': True, 'label': entry['label'],
                         'label_index': {'groom': 0, 'walk': 1}[entry['label']]}
    assert sorted(os.listdir(os.path.join(out, 'kinetics_val'))) == sorted(n + '.json' for n in val)
    with open(os.path.join(out, 'classes.txt')) as handle:
        assert handle.read() == 'groom\nwalk\n'


def test_split_is_seeded(tmp_path):
    make_clips(str(tmp_path / 'json'))
    a = gen.make_dataset(str(tmp_path / 'json'), str(tmp_path / 'a'), seed=3, progress=False)
    b = gen.make_dataset(str(tmp_path / 'json'), str(tmp_path / 'b'), seed=3, progress=False)
    assert a == b
    others = [gen.make_dataset(str(tmp_path / 'json'), str(tmp_path / f'c{s}'), seed=s, progress=False)
              for s in range(4, 8)]
    assert any(sorted(o['val']) != sorted(a['val']) for o in others)


def test_force_refusal_and_overwrite(tmp_path):
    make_clips(str(tmp_path / 'json'))
    out = tmp_path / 'ds'
    out.mkdir()
    (out / 'old.txt').write_text('x')
    with pytest.raises(FileExistsError, match='output folder is not empty; pass --force'):
        gen.main(['--input', str(tmp_path / 'json'), '--output', str(out)])
    stale = out / 'kinetics_val' / 'stale.json'
    stale.parent.mkdir()
    stale.write_text('{}')
    assert gen.main(['--input', str(tmp_path / 'json'), '--output', str(out), '--force']) == 0
    assert not stale.exists()


def test_class_with_one_recording_warns(tmp_path, caplog):
    make_clips(str(tmp_path / 'json'), (('groom', 0, 1), ('walk', 1, 4)))
    with caplog.at_level('WARNING'):
        labels = gen.make_dataset(str(tmp_path / 'json'), str(tmp_path / 'ds'), progress=False)
    assert "class 'groom' has 1 recording(s): it is absent from val" in caplog.text
    assert all(v['label'] == 'walk' for v in labels['val'].values())
    assert len(labels['val']) == 9          # round(4 * 0.2) = 1 walk recording


def test_has_skeleton_false_for_empty_clip(tmp_path):
    folder = str(tmp_path / 'json')
    for r in range(2):
        write_clip(folder, 'walk', 0, f'r{r}', 0, empty=(r == 0))
    labels = gen.make_dataset(folder, str(tmp_path / 'ds'), progress=False)
    merged = {**labels['train'], **labels['val']}
    assert merged['walk__r0__0000']['has_skeleton'] is False
    assert merged['walk__r1__0000']['has_skeleton'] is True


def test_inconsistent_label_index_is_an_error(tmp_path):
    folder = str(tmp_path / 'json')
    write_clip(folder, 'walk', 0, 'r0', 0)
    write_clip(folder, 'walk', 1, 'r1', 0)
    with pytest.raises(ValueError, match="class 'walk' has label_index 1 but other clips give it 0"):
        gen.make_dataset(folder, str(tmp_path / 'ds'), progress=False)


def test_count_table():
    labels = {'train': {'a': {'label': 'walk', 'label_index': 1, 'has_skeleton': True}},
              'val': {'b': {'label': 'groom', 'label_index': 0, 'has_skeleton': True},
                      'c': {'label': 'walk', 'label_index': 1, 'has_skeleton': True}}}
    table = gen.count_table(labels).splitlines()
    assert table[0].split() == ['class', 'index', 'train', 'val']
    assert table[1].split() == ['groom', '0', '0', '1']
    assert table[2].split() == ['walk', '1', '1', '1']
    assert table[3].split() == ['total', '1', '2']


def test_bouts_of_one_recording_stay_together(tmp_path):
    folder = str(tmp_path / 'json')
    for r in range(6):
        write_clip(folder, 'groom', 0, f'long{r}', 0)
        write_clip(folder, 'rear', 1, f'long{r}', 0)
        write_clip(folder, 'rear', 1, f'long{r}', 1)
    labels = gen.make_dataset(folder, str(tmp_path / 'ds'), train_ratio=0.5, progress=False)
    split_of = {}
    for split, entries in labels.items():
        for name in entries:
            recording = kinetics_json.parse_clip_name(name)['recording']
            assert split_of.setdefault(recording, split) == split
    assert sorted(set(split_of.values())) == ['train', 'val']


def test_val_recordings_chosen_by_name(tmp_path):
    clips_dir = str(tmp_path / 'clips')
    for recording in ('rec_a', 'rec_b', 'rec_c'):
        for k in range(2):
            write_clip(clips_dir, 'walk', 0, recording, k)
    labels = gen.make_dataset(clips_dir, str(tmp_path / 'out'), val_recordings=['rec_b'],
                                           progress=False)
    assert {kinetics_json.parse_clip_name(n)['recording'] for n in labels['val']} == {'rec_b'}
    assert {kinetics_json.parse_clip_name(n)['recording'] for n in labels['train']} == {'rec_a', 'rec_c'}
    with pytest.raises(ValueError, match=r"--val_recordings 'rec_d' is not a recording of the clips \(did you mean "
                                         r"'rec_c'\?\); the recordings are rec_a, rec_b, rec_c"):
        gen.make_dataset(clips_dir, str(tmp_path / 'out2'), val_recordings=['rec_d'],
                                      progress=False)

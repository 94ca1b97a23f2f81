"""tools/quickstart.py: the quick start in Python runs the nine steps on a tiny sample outside the checkout (about
30 s on 2 cores: each step is a fresh Python process, as in quickstart.sh) and prints the same summary."""
from __future__ import annotations

import os

import pytest

from tools import quickstart


def test_the_quick_start_runs_end_to_end(tmp_path, capsys):
    assert quickstart.main(['--out', str(tmp_path), '--epochs', '1', '--recordings', '2', '--frames', '160']) == 0
    out = capsys.readouterr().out
    work = tmp_path / 'work_dir' / 'quickstart'
    for step in range(1, 10):
        assert f' {step}/9 ' in out
    for path in ('train/epoch1_model.pt', 'test/log.txt', 'test/test_result.pkl', 'features/features.pkl',
                 'clusters/clusters.csv', 'clusters/summary.json', 'clusters/cluster_map.png'):
        assert (work / path).is_file(), path
    assert (tmp_path / 'data' / 'dlc-skeleton' / 'val_data.npy').is_file()
    summary = out[out.index('Done in'):]
    assert 'Validation Top1: ' in summary and '(5 behaviours, chance 20%)' in summary
    assert f'trained weights    {work / "train" / "epoch1_model.pt"}' in summary.replace(os.getcwd() + os.sep, '')


def test_options_are_checked():
    with pytest.raises(SystemExit):
        quickstart.parse_args(['--epochs', '0'])
    assert quickstart.parse_args([]).out == quickstart.ROOT


def test_the_social_quick_start_labels_the_held_out_pairs(tmp_path, capsys):
    assert quickstart.main(['--social', '--out', str(tmp_path), '--epochs', '1', '--recordings', '2',
                            '--frames', '160']) == 0
    out = capsys.readouterr().out
    work = tmp_path / 'work_dir' / 'quickstart_social'
    assert all(f' {step}/6 ' in out for step in range(1, 7))
    assert (tmp_path / 'data' / 'social-skeleton' / 'train_data.npy').is_file()
    ethograms = sorted((work / 'demo').glob('*/ethogram.csv'))
    assert len(ethograms) == 5                                    # one held-out pair per behaviour
    with open(ethograms[0]) as handle:
        assert handle.readlines()[1].split(',')[2] == 'rat1+rat2'  # the pair is labelled together
    assert (work / 'demo' / 'evaluation' / 'evaluation.json').is_file()
    assert 'Held-out pairs, per frame: macro F1 ' in out[out.index('Done in'):]

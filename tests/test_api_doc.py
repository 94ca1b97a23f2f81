"""docs/python-api.md runs as written: its ```python blocks, in order, in one namespace, in an empty folder.

Then a few checks on what the page left behind, so that a block that runs but does the wrong thing fails too.
"""
from __future__ import annotations

import os
import re

import numpy as np
import pytest

from conftest import ROOT

PAGE = os.path.join(ROOT, 'docs', 'python-api.md')


def python_blocks(path: str) -> list[str]:
    with open(path, encoding='utf-8') as handle:
        text = handle.read()
    return re.findall(r'^```python\n(.*?)^```', text, flags=re.MULTILINE | re.DOTALL)


@pytest.fixture(scope='module')
def page(tmp_path_factory):
    folder = tmp_path_factory.mktemp('api_doc')
    here = os.getcwd()
    namespace: dict = {'__name__': '__api_doc__'}
    blocks = python_blocks(PAGE)
    os.chdir(folder)
    try:
        for number, block in enumerate(blocks, start=1):
            exec(compile(block, f'{PAGE} (python block {number})', 'exec'), namespace)
    finally:
        os.chdir(here)
    return {'namespace': namespace, 'folder': folder, 'blocks': blocks}


def test_the_page_has_the_steps(page):
    code = '\n'.join(page['blocks'])
    for call in ('api.read_pose(', 'api.convert(', 'api.make_dataset(', 'api.train(', 'api.load_model(',
                 'api.label(', 'api.evaluate('):
        assert call in code, call


def test_what_the_page_made(page):
    ns = page['namespace']
    assert ns['rec'].xy.shape == (160, 1, 12, 2)
    assert os.path.basename(ns['weights']) == 'best_model.pt'
    model = ns['model']
    assert model.class_names == ['grooming', 'rearing', 'resting', 'turning', 'walking']
    assert model.spec.fps == 30.0 and not model.model.training
    frames = ns['frames']
    assert len(frames) == 160 and list(frames.columns[:5]) == ['frame', 'time_s', 'individual', 'label',
                                                                'confidence']
    assert list(frames.columns[5:]) == [f'p_{name}' for name in model.class_names]
    probs = frames[[f'p_{name}' for name in model.class_names]].to_numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    assert frames.attrs['fps'] == 30.0 and frames['time_s'].iloc[30] == pytest.approx(1.0)
    scores = ns['scores']
    assert scores['frames_scored'] == 160 and 0.0 <= scores['accuracy'] <= 1.0
    assert scores['accuracy'] == pytest.approx(float(np.mean(frames['label'] == 'rearing')))


def test_label_keeps_demo_files_and_matches_ethogram_csv(page, tmp_path):
    import pandas as pd
    from processor import api
    ns = page['namespace']
    recording = os.path.join(page['folder'], ns['recording'])
    frames = api.label(ns['model'], recording, work_dir=tmp_path, window=16, stride=4)
    written = pd.read_csv(os.path.join(frames.attrs['out_dir'], 'ethogram.csv'))
    assert list(written.columns) == list(frames.columns)
    assert (written['label'] == frames['label']).all()
    np.testing.assert_allclose(written['p_rearing'], frames['p_rearing'], atol=5e-5)
    pd.testing.assert_frame_equal(frames, ns['frames'])


def test_errors_are_the_command_lines(page, tmp_path):
    from processor import api
    ns = page['namespace']
    with pytest.raises(ValueError, match='label takes one pose file'):
        api.label(ns['model'], page['folder'])
    with pytest.raises(FileNotFoundError, match='no such file'):
        api.read_pose(tmp_path / 'missing.csv')
    with pytest.raises(ValueError, match=r"individual 'rat9' is not in the DataFrame \(animal\)"):
        api.evaluate(ns['frames'], os.path.join(page['folder'], 'rearing_labels.csv'), individual='rat9')
    with pytest.raises(FileNotFoundError, match='no best_model.pt or epoch<N>_model.pt'):
        api.trained_model_file(tmp_path)

import csv
import subprocess
import sys

import numpy as np
import pytest
import torch

import main as main_module
from conftest import ROOT, make_separable_arrays, write_dataset
from net.st_gcn import Model
from processor.io import ConfigError
from processor.extract import Extractor, top1_line
from torchlight import safe_load_pickle

MODEL = ['--model', 'net.st_gcn.Model', '--model_args', 'in_channels=3', 'num_class=4',
         "graph_args={'layout': 'rat', 'strategy': 'spatial'}"]


@pytest.fixture
def weights(tmp_path):
    torch.manual_seed(0)
    model = Model(3, 4, {'layout': 'rat', 'strategy': 'spatial'})
    path = tmp_path / 'rat.pt'
    torch.save(model.state_dict(), path)
    return str(path)


def _extract(tmp_path, work, weights, separable_dataset, *extra):
    argv = ['extract', '-w', str(tmp_path / work), *MODEL, '--weights', weights, '--num_worker', '0',
            '--test_feeder_args', f'data_path={separable_dataset["val"][0]}',
            f'label_path={separable_dataset["val"][1]}', '--test_batch_size', '7', *extra]
    assert main_module.main(argv) == 0
    return safe_load_pickle(tmp_path / work / 'features.pkl')


def test_features_structure_and_determinism(tmp_path, weights, separable_dataset):
    names_file = tmp_path / 'classes.txt'
    names_file.write_text('a\nb\nc\nd\n')
    first = _extract(tmp_path, 'w1', weights, separable_dataset, '--label_names', str(names_file))
    second = _extract(tmp_path, 'w2', weights, separable_dataset)
    assert first['format'] == 'st-gcn-features/1'
    assert first['features'].shape == (32, 256) and first['features'].dtype == np.float32
    assert first['scores'].shape == (32, 4)
    assert first['sample_names'][:2] == ['val_0000', 'val_0001']
    assert first['label'].tolist() == [i % 4 for i in range(32)]
    np.testing.assert_array_equal(first['pred'], first['scores'].argmax(1))
    np.testing.assert_array_equal(first['features'], second['features'])  # same weights, same data
    assert first['class_names'] == ['a', 'b', 'c', 'd'] and second['class_names'] is None
    # the embedding is the model's pooled forward_features, and the scores its head
    model = Model(3, 4, {'layout': 'rat', 'strategy': 'spatial'})
    model.load_state_dict(torch.load(weights, weights_only=True))
    model.eval()
    data = torch.from_numpy(np.load(separable_dataset['val'][0])[:3])
    with torch.no_grad():
        expected = model.pool_features(model.forward_features(data))
        scores = model(data)
    np.testing.assert_allclose(first['features'][:3], expected.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(first['scores'][:3], scores.numpy(), rtol=1e-4, atol=1e-5)
    with open(tmp_path / 'w1' / 'predictions.csv') as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ['sample', 'source', 'true_label', 'predicted_label', 'confidence']
    assert rows[1]['true_label'] == 'b' and rows[1]['predicted_label'] in 'abcd'
    assert 0.25 <= float(rows[0]['confidence']) <= 1.0


def test_several_sources_and_splits(tmp_path, weights, separable_dataset):
    extra = write_dataset(tmp_path / 'abnormal', 'abn', *make_separable_arrays(5, 4, 16, 12, seed=9))
    result = _extract(tmp_path, 'w', weights, separable_dataset, '--data_path', separable_dataset['val'][0],
                      extra[0], '--label_path', separable_dataset['val'][1], extra[1])
    assert len(result['sample_names']) == 37
    assert result['sources'][-1] == extra[0] and result['sample_names'][-1] == 'abn_0004'
    both = _extract(tmp_path, 'w2', weights, separable_dataset, '--split', 'train', 'test',
                    '--train_feeder_args', f'data_path={separable_dataset["train"][0]}',
                    f'label_path={separable_dataset["train"][1]}', 'random_move=True', 'random_choose=True',
                    'window_size=8')
    assert len(both['sample_names']) == 64 + 32
    # augmentation is switched off: the train clips keep all 16 frames and are extracted deterministically
    again = _extract(tmp_path, 'w3', weights, separable_dataset, '--split', 'train',
                     '--train_feeder_args', f'data_path={separable_dataset["train"][0]}',
                     f'label_path={separable_dataset["train"][1]}', 'random_move=True')
    # (batches are composed differently, so compare to float tolerance)
    np.testing.assert_allclose(again['features'], both['features'][:64], rtol=1e-5, atol=1e-6)


def test_extract_errors(tmp_path, separable_dataset):
    with pytest.raises(ConfigError, match='extract needs --weights'):
        Extractor(['-w', str(tmp_path / 'w'), *MODEL])
    with pytest.raises(ConfigError, match='--data_path and --label_path go in pairs'):
        Extractor(['-w', str(tmp_path / 'w'), *MODEL, '--weights', 'x.pt', '--data_path', 'a.npy'])
    proc = subprocess.run([sys.executable, 'main.py', 'extract', '-w', str(tmp_path / 'w'), *MODEL, '--weights',
                           str(tmp_path / 'none.pt')], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 1 and proc.stderr.strip().endswith(
        'none.pt: weights file not found (download the published models with `bash tools/get_models.sh`, '
        'or give the path of a trained epoch<N>_model.pt)')


def test_top1_counts_only_the_models_classes():
    label = np.array([0, 1, 2, 5, 5, -1])  # two clips of a class the model never saw (5), one unlabelled
    pred = np.array([0, 1, 0, 2, 1, 0])
    line = top1_line(label, pred, num_class=3)
    assert 'Top1 of the 3 samples' in line and '66.67%' in line and '2 sample(s) of classes' in line
    assert 'no top-1' in top1_line(np.array([5, -1]), np.array([0, 0]), num_class=3)
    assert 'left out' not in top1_line(label[:3], pred[:3], num_class=3)

"""What a user sees: metrics.csv, curves.png, per_class.csv, confusion_matrix.png, --tensorboard, --amp."""
import csv
import math
import sys

import numpy as np
import pytest
import torch

import main as main_module
from conftest import make_separable_arrays, write_dataset
from processor import report
from processor.processor import amp_policy
from processor.recognition import REC_Processor

MODEL = ['--model', 'net.st_gcn.Model', '--model_args', 'in_channels=3', 'num_class=4',
         "graph_args={'layout': 'rat', 'strategy': 'spatial'}"]
PNG = b'\x89PNG\r\n\x1a\n'


@pytest.fixture
def splits(tmp_path):
    train = write_dataset(tmp_path / 'data', 'train', *make_separable_arrays(8, 4, 16, 12, seed=1))
    val = write_dataset(tmp_path / 'data', 'val', *make_separable_arrays(10, 4, 16, 12, seed=2))
    return ['--train_feeder_args', f'data_path={train[0]}', f'label_path={train[1]}',
            '--test_feeder_args', f'data_path={val[0]}', f'label_path={val[1]}']


def _rows(path):
    with open(path, newline='') as handle:
        return list(csv.DictReader(handle))


def test_training_writes_metrics_and_curves(tmp_path, splits):
    work = tmp_path / 'w'
    argv = ['recognition', '-w', str(work), *MODEL, *splits, '--num_epoch', '2', '--eval_interval', '2',
            '--batch_size', '4', '--base_lr', '0.02', '--step', '1', '--num_worker', '0', '--print_log', 'false']
    assert main_module.main(argv) == 0
    rows = _rows(work / 'metrics.csv')
    assert list(rows[0]) == ['epoch', 'train_loss', 'lr', 'val_loss', 'top1', 'top5', 'seconds']
    assert [r['epoch'] for r in rows] == ['1', '2']
    assert [float(r['lr']) for r in rows] == pytest.approx([0.02, 0.002])
    assert rows[0]['val_loss'] == rows[0]['top1'] == ''  # not evaluated after epoch 1
    assert float(rows[1]['top5']) == 100.0  # 4 classes: the label is always among the top 5
    assert 0.0 <= float(rows[1]['top1']) <= 100.0 and math.isfinite(float(rows[1]['val_loss']))
    assert all(float(r['train_loss']) > 0 and float(r['seconds']) > 0 for r in rows)
    for name in ('curves.png', 'confusion_matrix.png'):
        assert (work / name).read_bytes().startswith(PNG), name
    per_class = _rows(work / 'per_class.csv')
    assert [r['class'] for r in per_class] == ['0', '1', '2', '3']  # no --label_names: indices
    assert sum(int(r['support']) for r in per_class) == 10
    log = (work / 'log.txt').read_text()
    assert 'Epoch 1/2 took' in log and 'ETA 0:00:' in log


def test_test_phase_reports_use_label_names(tmp_path, splits):
    from net.st_gcn import Model
    weights = tmp_path / 'm.pt'
    torch.manual_seed(0)
    torch.save(Model(3, 4, {'layout': 'rat', 'strategy': 'spatial'}).state_dict(), weights)
    names = tmp_path / 'classes.txt'
    names.write_text('grooming\nrearing\n\nwalking\nseizure\n')
    work = tmp_path / 'w'
    processor = REC_Processor(['--phase', 'test', '-w', str(work), *MODEL, *splits, '--weights', str(weights),
                               '--label_names', str(names), '--num_worker', '0', '--print_log', 'false'])
    processor.start()
    predicted = processor.result.argmax(axis=1)
    expected = report.per_class_rows(report.confusion_matrix(processor.label, predicted, 4),
                                     ['grooming', 'rearing', 'walking', 'seizure'])
    rows = _rows(work / 'per_class.csv')
    assert list(rows[0]) == ['class', 'precision', 'recall', 'f1', 'support']
    assert [r['class'] for r in rows] == ['grooming', 'rearing', 'walking', 'seizure']
    for row, want in zip(rows, expected):
        assert float(row['precision']) == pytest.approx(want['precision'], abs=1e-4)
        assert float(row['recall']) == pytest.approx(want['recall'], abs=1e-4)
        assert float(row['f1']) == pytest.approx(want['f1'], abs=1e-4)
        assert int(row['support']) == want['support'] == int(np.sum(processor.label == rows.index(row)))
    assert (work / 'confusion_matrix.png').read_bytes().startswith(PNG)

    names.write_text('grooming\nrearing\n')
    with pytest.raises(ValueError, match=r'classes.txt: lists 2 class names but the model has num_class=4'):
        REC_Processor(['--phase', 'test', '-w', str(work), *MODEL, *splits, '--weights', str(weights),
                       '--label_names', str(names)])


def test_confusion_matrix_and_per_class_values():
    labels = np.array([0, 0, 0, 1, 1, 2])
    predicted = np.array([0, 0, 1, 1, 1, 1])
    matrix = report.confusion_matrix(labels, predicted, 3)
    assert matrix.tolist() == [[2, 1, 0], [0, 2, 0], [0, 1, 0]]
    rows = report.per_class_rows(matrix, ['a', 'b', 'c'])
    assert rows[0] == {'class': 'a', 'precision': 1.0, 'recall': pytest.approx(2 / 3), 'f1': pytest.approx(0.8),
                       'support': 3}
    assert rows[1]['precision'] == pytest.approx(0.5) and rows[1]['recall'] == 1.0
    assert rows[1]['f1'] == pytest.approx(2 / 3)  # 2 * 0.5 * 1 / 1.5
    assert rows[2] == {'class': 'c', 'precision': 0.0, 'recall': 0.0, 'f1': 0.0, 'support': 1}  # never predicted
    assert report.macro_f1(matrix) == pytest.approx((0.8 + 2 / 3 + 0.0) / 3)
    # a class neither labelled nor predicted is left out of the macro mean rather than counted as F1 0
    padded = np.zeros((4, 4), dtype=np.int64)
    padded[:3, :3] = matrix
    assert report.macro_f1(padded) == pytest.approx(report.macro_f1(matrix))
    assert [r['f1'] for r in report.per_class_rows(padded)][3] == 0.0
    assert math.isnan(report.macro_f1(np.zeros((3, 3), dtype=np.int64)))
    assert report.confusion_matrix([], [], 2).tolist() == [[0, 0], [0, 0]]
    with pytest.raises(ValueError, match=r'labels must be class indices in \[0, 3\), got values from 0 to 3'):
        report.confusion_matrix([0, 3], [0, 1], 3)


def test_topk_accuracy():
    scores = np.array([[0.1, 0.5, 0.3, 0.1],    # ranks 1, 2, 0/3
                       [0.7, 0.1, 0.15, 0.05],  # ranks 0, 2, 1
                       [0.2, 0.2, 0.5, 0.1]])   # ranks 2, then the tie 0/1 goes to 1
    labels = np.array([2, 0, 0])  # class 1 and 3 never a label: sklearn needs labels=
    assert report.topk_accuracy(scores, labels, 1) == pytest.approx(1 / 3)
    assert report.topk_accuracy(scores, labels, 2) == pytest.approx(2 / 3)  # the tie keeps class 0 out of row 3
    assert report.topk_accuracy(scores, labels, 3) == 1.0
    assert report.topk_accuracy(scores, labels, 5) == 1.0  # k >= classes counts every sample
    two = np.array([[2.0, -1.0], [0.2, 0.3], [0.4, 0.6]])  # logits outside [0, 1] and probabilities
    assert report.topk_accuracy(two, np.array([0, 0, 1]), 1) == pytest.approx(2 / 3)
    diverged = scores.copy()
    diverged[0] = np.nan
    # sklearn refuses nan; numpy sorts it last, so the all-nan row's top-1 is class 3, as before sklearn
    assert report.topk_accuracy(diverged, np.array([3, 0, 0]), 1) == pytest.approx(2 / 3)
    assert math.isnan(report.topk_accuracy(np.zeros((0, 4)), np.zeros(0), 1))


def test_read_label_names_skips_blank_and_comment_lines(tmp_path):
    path = tmp_path / 'classes.txt'
    path.write_text('# written by csv2json\ngrooming\n\n  rearing  \n#walking is not scored\nseizure\n')
    assert report.read_label_names(str(path)) == ['grooming', 'rearing', 'seizure']
    assert report.read_label_names(str(path), 3) == ['grooming', 'rearing', 'seizure']
    path.write_text('# only a comment\n\n')
    with pytest.raises(ValueError, match=r'classes.txt: no class names'):
        report.read_label_names(str(path))


def test_tensorboard_missing_says_how_to_install(tmp_path, splits, monkeypatch):
    monkeypatch.setitem(sys.modules, 'torch.utils.tensorboard', None)  # import fails as when not installed
    work = tmp_path / 'w'
    processor = REC_Processor(['-w', str(work), *MODEL, *splits, '--batch_size', '4', '--tensorboard', 'true',
                               '--num_worker', '0', '--print_log', 'false'])
    processor.open_tensorboard()
    assert processor.tensorboard is None
    assert '--tensorboard: TensorBoard is not installed; `pip install tensorboard`' in (work / 'log.txt').read_text()


def test_amp_policy(monkeypatch):
    cpu, cuda = torch.device('cpu'), torch.device('cuda', 0)
    assert amp_policy(cpu, False) == (None, False) and amp_policy(cuda, False) == (None, False)
    monkeypatch.setattr(torch.cuda, 'is_bf16_supported', lambda *a, **k: True)
    assert amp_policy(cuda, True) == (torch.bfloat16, False)
    monkeypatch.setattr(torch.cuda, 'is_bf16_supported', lambda *a, **k: False)
    assert amp_policy(cuda, True) == (torch.float16, True)  # float16 needs the GradScaler
    assert amp_policy(cpu, True)[0] in (torch.bfloat16, None) and amp_policy(cpu, True)[1] is False


@pytest.mark.skipif(amp_policy(torch.device('cpu'), True)[0] is None, reason='no bfloat16 support on this CPU')
def test_amp_cpu_training_step_runs_in_bfloat16(tmp_path, splits):
    processor = REC_Processor(['-w', str(tmp_path / 'w'), *MODEL, *splits, '--batch_size', '4', '--amp', 'true',
                               '--num_worker', '0', '--print_log', 'false'])
    data = torch.from_numpy(make_separable_arrays(2, 4, 16, 12)[0])
    with processor.autocast():
        output = processor.model(data)
    assert output.dtype == torch.bfloat16
    before = processor.model.fcn.weight.detach().clone()
    processor.meta_info['epoch'] = 0
    processor.train()
    assert math.isfinite(processor.train_loss)
    assert not torch.equal(before, processor.model.fcn.weight)
    assert 'autocast to bfloat16 on cpu' in (tmp_path / 'w' / 'log.txt').read_text()


def test_the_originals_score_helpers_give_the_same_numbers():
    """feeder/tools.py of the original had top_k, top_k_by_category and calculate_recall_precision; report.py is
    now the one place for them."""
    score = np.array([[0.1, 0.7, 0.2], [0.5, 0.1, 0.4], [0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])
    label = np.array([1, 2, 2, 1])
    assert report.topk_accuracy(score, label, 1) == 0.5
    assert report.topk_accuracy(score, label, 2) == 1.0
    rows = report.per_class_rows(report.confusion_matrix(label, score.argmax(1), 3))
    assert [row['recall'] for row in rows] == [0.0, 0.5, 0.5]        # class 0 has no samples
    assert [row['precision'] for row in rows] == [0.0, 1.0, 1.0]     # class 0 is predicted twice, wrongly

import os
import pickle
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
import yaml

import main as main_module
from conftest import ROOT
from processor.io import ConfigError
from processor.recognition import REC_Processor

RAT_MODEL = ['--model', 'net.st_gcn.Model', '--model_args', 'in_channels=3', 'num_class=4',
             "graph_args={'layout': 'rat', 'strategy': 'spatial'}"]


def _feeder_args(dataset):
    return ['--train_feeder_args', f'data_path={dataset["train"][0]}', f'label_path={dataset["train"][1]}',
            '--test_feeder_args', f'data_path={dataset["val"][0]}', f'label_path={dataset["val"][1]}']


def test_short_training_learns_and_writes_outputs(trained_rat):
    work = trained_rat['work']  # 10 epochs on separable 4-class data (conftest.trained_rat)
    assert trained_rat['code'] == 0
    for name in ('epoch5_model.pt', 'epoch10_model.pt', 'log.txt', 'config.yaml', 'test_result.pkl'):
        assert (work / name).is_file(), name
    log = (work / 'log.txt').read_text()
    top1 = float(log.strip().split('Top1: ')[-1].split('%')[0])
    assert top1 >= 75.0, log[-2000:]  # chance is 25%
    with open(work / 'test_result.pkl', 'rb') as handle:
        result = pickle.load(handle)
    assert len(result) == 32 and result['val_0000'].shape == (4,)
    header = (work / 'config.yaml').read_text().splitlines()[0]
    assert header.startswith('# command line: main.py recognition -w')
    config = yaml.safe_load((work / 'config.yaml').read_text())
    assert config['model_args']['graph_args'] == {'layout': 'rat', 'strategy': 'spatial'}
    state = torch.load(work / 'epoch10_model.pt', weights_only=True)['state_dict']  # beside the model and input spec
    assert 'fcn.weight' in state and not any(k.startswith('module.') for k in state)


def _write_config(path, **values):
    path.write_text(yaml.safe_dump(values))
    return str(path)


def test_command_line_beats_config_beats_default(tmp_path, separable_dataset):
    config = _write_config(tmp_path / 'c.yaml', base_lr=0.2, batch_size=8, model='net.st_gcn.Model',
                           model_args={'in_channels': 3, 'num_class': 4, 'dropout': 0.3,
                                       'graph_args': {'layout': 'rat', 'strategy': 'spatial'}},
                           train_feeder_args={'data_path': separable_dataset['train'][0],
                                              'label_path': separable_dataset['train'][1]},
                           test_feeder_args={'data_path': separable_dataset['val'][0],
                                             'label_path': 'overridden.pkl'},
                           class_weight='balanced', device=0)
    processor = REC_Processor(['-c', config, '-w', str(tmp_path / 'w'), '--batch_size', '4',
                               '--model_args', 'num_class=4', 'dropout=0.1',
                               '--test_feeder_args', f'label_path={separable_dataset["val"][1]}'])
    arg = processor.arg
    assert arg.batch_size == 4          # command line over config
    assert arg.base_lr == 0.2           # config over default
    assert arg.weight_decay == 0.0001   # default
    assert arg.class_weight == ['balanced'] and arg.device == [0]   # one value in the file for a list option
    # key=value options merge into the config file's dict
    assert arg.model_args == {'in_channels': 3, 'num_class': 4, 'dropout': 0.1,
                              'graph_args': {'layout': 'rat', 'strategy': 'spatial'}}
    assert arg.test_feeder_args == {'data_path': separable_dataset['val'][0],
                                    'label_path': separable_dataset['val'][1]}


def test_unknown_config_key_is_one_line_exit_2(tmp_path):
    config = _write_config(tmp_path / 'c.yaml', base_lr=0.1, bach_size=8)
    with pytest.raises(ConfigError, match=r"c.yaml: unknown option 'bach_size' \(did you mean 'batch_size'\?\)"):
        REC_Processor(['-c', config, '-w', str(tmp_path / 'w')])
    proc = subprocess.run([sys.executable, 'main.py', 'recognition', '-c', config, '-w', str(tmp_path / 'w')],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "unknown option 'bach_size'" in lines[0] and 'c.yaml' in lines[0]


def test_test_phase_without_weights_fails_clearly(tmp_path, separable_dataset):
    proc = subprocess.run([sys.executable, 'main.py', 'recognition', '--phase', 'test', '-w', str(tmp_path / 'w'),
                           *RAT_MODEL, '--test_feeder_args', f'data_path={separable_dataset["val"][0]}',
                           f'label_path={separable_dataset["val"][1]}'],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode != 0
    assert proc.stderr.strip() == 'main.py recognition: error: --phase test needs --weights (a trained ' \
                                  'epoch<N>_model.pt or a published model)'


def test_user_errors_are_one_line(tmp_path, separable_dataset):
    from net.st_gcn import Model
    weights = str(tmp_path / 'rat.pt')
    torch.save(Model(3, 4, {'layout': 'rat', 'strategy': 'spatial'}).state_dict(), weights)
    cases = [
        (['--weights', str(tmp_path / 'none.pt')], 'none.pt: weights file not found'),
        (['--weights', weights, '--test_feeder_args', f'data_path={tmp_path}/x.npy', f'label_path={separable_dataset["val"][1]}'],
         'x.npy: data file not found'),
        (['-c', str(tmp_path / 'missing.yaml')], 'missing.yaml: config file not found'),
        (['--weights', weights, '--model_args', 'in_channels=3', 'num_class=5',
          "graph_args={'layout': 'rat', 'strategy': 'spatial'}"], 'mis-shaped keys: fcn.weight'),
    ]
    for extra, message in cases:
        proc = subprocess.run([sys.executable, 'main.py', 'recognition', '--phase', 'test', '-w',
                               str(tmp_path / 'w'), *RAT_MODEL, '--test_feeder_args',
                               f'data_path={separable_dataset["val"][0]}', f'label_path={separable_dataset["val"][1]}',
                               *extra], cwd=ROOT, capture_output=True, text=True)
        assert proc.returncode != 0, extra
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert message in proc.stderr, proc.stderr


def test_data_with_wrong_joint_count_is_refused(tmp_path, separable_dataset):
    argv = ['-w', str(tmp_path / 'w'), '--model', 'net.st_gcn.Model', '--model_args', 'in_channels=3',
            'num_class=4', "graph_args={'layout': 'openpose', 'strategy': 'spatial'}",
            *_feeder_args(separable_dataset), '--batch_size', '8', '--num_worker', '0']
    with pytest.raises(ValueError, match='the data has V=12 joints but the model\'s graph has 18 nodes'):
        REC_Processor(argv)


@pytest.mark.parametrize('path', sorted(
    os.path.relpath(os.path.join(d, f), ROOT) for d, _, files in os.walk(os.path.join(ROOT, 'config'))
    for f in files if f.endswith('.yaml')))
def test_every_shipped_config_builds_its_model(path):
    from processor.io import read_config
    from torchlight import import_class
    parser = REC_Processor.get_parser()
    config = read_config(os.path.join(ROOT, path), list(vars(parser.parse_args([]))))
    model_class = import_class(config.get('model', 'net.st_gcn.Model'))
    model = model_class(**config['model_args'])
    assert sum(p.numel() for p in model.parameters()) > 1e6


def _test_scores(work, weights, dataset, *extra):
    code = main_module.main(['recognition', '--phase', 'test', '-w', str(work), *RAT_MODEL, '--weights', weights,
                             '--test_feeder_args', f'data_path={dataset[0]}', f'label_path={dataset[1]}',
                             '--test_batch_size', '12', '--num_worker', '0', '--save_result', 'true', *extra])
    assert code == 0
    with open(work / 'test_result.pkl', 'rb') as handle:
        return pickle.load(handle)


def test_compile_without_a_cxx_compiler_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv('PATH', str(tmp_path))  # no compiler on it
    monkeypatch.delenv('CXX', raising=False)
    with pytest.raises(ConfigError, match=r'--compile eval: torch.compile needs a C\+\+ compiler'):
        REC_Processor(['-w', str(tmp_path / 'w'), *RAT_MODEL, '--compile', 'eval', '--use_gpu', 'false'])


@pytest.mark.skipif(not any(shutil.which(c) for c in ('g++', 'c++', 'clang++')),
                    reason='torch.compile (inductor) needs a C++ compiler')
def test_compile_eval_gives_the_same_scores(tmp_path, trained_rat):
    from torch._dynamo.utils import counters
    plain_scores = _test_scores(tmp_path / 'plain', trained_rat['weights'], trained_rat['val'])
    torch._dynamo.reset()
    counters.clear()
    compiled_scores = _test_scores(tmp_path / 'compiled', trained_rat['weights'], trained_rat['val'],
                                   '--compile', 'eval')
    assert counters['stats']['unique_graphs'] == 1  # compiled, once: batches of 12, 12 and 8 (padded to 12)
    torch._dynamo.reset()
    assert list(compiled_scores) == list(plain_scores) and len(plain_scores) == 32  # 32 clips: batches of 12
    for name, score in plain_scores.items():
        assert np.allclose(compiled_scores[name], score, rtol=1e-4, atol=1e-4), name
    log = (tmp_path / 'compiled' / 'log.txt').read_text()
    assert '--compile eval: compiling the evaluation copy with torch.compile at its first batch' in log


def test_compile_all_trains_through_a_compiled_wrapper_and_saves_plain_names(tmp_path, separable_dataset,
                                                                             monkeypatch):
    compiled = []
    real_compile = torch.compile

    def eager_compile(model, **kwargs):  # the wiring, not inductor: dynamo with the eager backend is fast
        compiled.append(model)
        return real_compile(model, backend='eager', dynamic=False)

    monkeypatch.setattr(torch, 'compile', eager_compile)
    processor = REC_Processor(['-w', str(tmp_path / 'w'), *RAT_MODEL, *_feeder_args(separable_dataset),
                               '--num_epoch', '1', '--batch_size', '16', '--test_batch_size', '16',
                               '--num_worker', '0', '--compile', 'all'])
    assert compiled == [processor.model] and processor.train_forward is not processor.model
    processor.start()
    assert len(compiled) == 2  # the training model, then the evaluation copy's backbone at the end of the epoch
    assert compiled[1].__name__ == 'forward_features'
    state = torch.load(tmp_path / 'w' / 'epoch1_model.pt', weights_only=True)['state_dict']
    assert set(state) == set(processor.model.state_dict()) and not any('_orig_mod' in k for k in state)


def test_main_without_the_requirements_installed_is_one_line():
    # a Python without torch: None in sys.modules makes `import torch` fail with ModuleNotFoundError
    code = "import runpy, sys; sys.modules['torch'] = None; sys.argv = ['main.py', '-h']; " \
           "runpy.run_path('main.py', run_name='__main__')"
    proc = subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 1 and proc.stdout == ''
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "the package 'torch' is not installed" in lines[0]
    assert 'pip install -r requirements.txt' in lines[0]


def test_class_weights_and_the_balanced_sampler(tmp_path, caplog):
    from conftest import make_separable_arrays, write_dataset
    from processor.optim import class_weights
    data, labels = make_separable_arrays(40, 4, 16, 12, seed=1)
    keep = [i for i, label in enumerate(labels) if label != 3 or i < 8]           # class 3: 2 clips, the others 10
    train = write_dataset(tmp_path / 'data', 'train', data[keep], [labels[i] for i in keep])
    counts = np.bincount([labels[i] for i in keep], minlength=4)
    assert counts.tolist() == [10, 10, 10, 2]
    np.testing.assert_allclose(class_weights(['balanced'], counts), 32 / (4 * counts))
    with pytest.raises(ConfigError, match='3 weights given for 4 classes'):
        class_weights(['1', '2', '3'], counts)
    argv = ['-w', str(tmp_path / 'w'), *RAT_MODEL, '--train_feeder_args', f'data_path={train[0]}',
            f'label_path={train[1]}', '--batch_size', '8', '--num_worker', '0', '--num_epoch', '1']
    with caplog.at_level('INFO'):
        processor = REC_Processor(argv + ['--class_weight', 'balanced', '--balanced_sampler', 'true'])
    assert 'training clips per class: 0 10, 1 10, 2 10, 3 2; loss weights 0.80, 0.80, 0.80, 4.00' in caplog.text
    assert 'expected per epoch with the balanced sampler 8, 8, 8, 8' in caplog.text
    assert processor.loss.weight.tolist() == pytest.approx([0.8, 0.8, 0.8, 4.0])
    drawn = [label for _ in range(5) for _, batch in processor.data_loader['train'] for label in batch.tolist()]
    assert 0.15 < np.mean(np.array(drawn) == 3) < 0.35   # a quarter of the draws, against 2/32 without the sampler


def test_learning_rate_schedules():
    from processor.optim import learning_rate
    assert [learning_rate(0.1, e, [2, 4], 'SGD') for e in range(5)] == pytest.approx([0.1, 0.1, 0.01, 0.01, 0.001])
    assert learning_rate(0.1, 3, [2], 'Adam') == 0.1                       # the original: Adam keeps base_lr
    cosine = [learning_rate(0.1, e, [], 'Adam', 'cosine', 4) for e in range(4)]
    assert cosine == pytest.approx([0.1, 0.1 * (1 + 2 ** -0.5) / 2, 0.05, 0.1 * (1 - 2 ** -0.5) / 2])

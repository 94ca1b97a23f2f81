"""A model file knows its input: the pipeline's model files carry the model, its arguments and the input spec, so
demo needs only --weights and --input, sees a recording exactly as training saw its clips, and refuses options that
would change that."""
import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import main as main_module
from conftest import ROOT
from feeder.feeder import Feeder
from feeder.kinetics_json import load_json
from processor.checkpoint import read_model_file
from processor.demo import Demo
from processor.io import ConfigError
from tools import csv2json, gen_trainDataset, kinetics_gendata
from tools.make_sample_data import make_sample

CLIP = 32
RAT_CONFIG = os.path.join(ROOT, 'config', 'st_gcn', 'rat', 'train.yaml')
RAT_TEST_CONFIG = os.path.join(ROOT, 'config', 'st_gcn', 'rat', 'test.yaml')


@pytest.fixture(scope='module')
def pipeline(tmp_path_factory):
    """The quick start's pipeline on a tiny sample: make_sample_data -> csv2json -> gen_trainDataset ->
    kinetics_gendata -> 2 epochs of training with the rat config (egocentric input)."""
    root = tmp_path_factory.mktemp('pipeline')
    sample = make_sample(str(root / 'sample'), recordings=2, abnormal=0, frames=160)
    assert csv2json.main(['--input', str(root / 'sample' / 'csv_data'), '--output', str(root / 'json'),
                          '--width', '640', '--height', '480', '--clip_len', str(CLIP), '--stride', '16',
                          '--fps', '30', '--log_level', 'WARNING']) == 0
    dataset = root / 'dataset'
    assert gen_trainDataset.main(['--input', str(root / 'json'), '--output', str(dataset), '--log_level',
                                  'WARNING']) == 0
    assert kinetics_gendata.main(['--data_path', str(dataset), '--out_folder', str(dataset), '--max_frame',
                                  str(CLIP), '--num_person_out', '1', '--num_workers', '1']) == 0
    work = root / 'train'
    assert main_module.main(['recognition', '-c', RAT_CONFIG, '-w', str(work),
                             '--train_feeder_args', f'data_path={dataset}/train_data.npy',
                             f'label_path={dataset}/train_label.pkl',
                             '--test_feeder_args', f'data_path={dataset}/val_data.npy',
                             f'label_path={dataset}/val_label.pkl', '--num_epoch', '2', '--batch_size', '8',
                             '--num_worker', '0', '--eval_interval', '1', '--save_interval', '2',
                             '--label_names', str(dataset / 'classes.txt'), '--print_log', 'false']) == 0
    return {'root': root, 'dataset': dataset, 'weights': str(work / 'epoch2_model.pt'), 'csv': sample['csv'],
            'json': root / 'json'}


def test_the_model_file_carries_the_model_and_its_input(pipeline):
    model_file = read_model_file(pipeline['weights'])
    assert model_file.model == 'net.st_gcn.Model'
    assert model_file.model_args['num_class'] == 5 and model_file.model_args['graph_args']['layout'] == 'rat'
    spec = model_file.input
    assert spec.bodyparts[:3] == ['nose', 'left_ear', 'right_ear'] and len(spec.bodyparts) == 12
    assert (spec.frame_size, spec.fps, spec.pcutoff, spec.clip_len, spec.num_person) == ([640.0, 480.0], 30.0, 0.6,
                                                                                         CLIP, 1)
    assert spec.transform['normalize'] == 'egocentric_clip' and spec.transform['center_joint'] == 'spine'
    assert 'data_path' not in spec.transform and 'random_rotate' not in spec.transform
    assert spec.class_names == ['grooming', 'rearing', 'resting', 'turning', 'walking']
    best = read_model_file(str(os.path.join(os.path.dirname(pipeline['weights']), 'best_model.pt')))
    assert best.input == spec and best.model_args == model_file.model_args


def test_demo_needs_only_the_weights_and_a_recording(pipeline, tmp_path):
    recording = next(p for p in pipeline['csv'] if 'rearing' in p)
    proc = subprocess.run([sys.executable, 'main.py', 'demo', '--weights', pipeline['weights'], '--input', recording,
                           '-w', str(tmp_path)], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    name = os.path.splitext(os.path.basename(recording))[0]
    with open(tmp_path / name / 'ethogram.csv') as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 160 and rows[30]['time_s'] == '1.000'   # the model's frame rate gives times
    assert {row['label'] for row in rows} <= {'grooming', 'rearing', 'resting', 'turning', 'walking'}
    assert list(rows[0])[5:] == ['p_grooming', 'p_rearing', 'p_resting', 'p_turning', 'p_walking']


def test_demo_sees_a_recording_exactly_as_training_saw_its_clips(pipeline, tmp_path):
    """Bit for bit: the model input demo makes of frames [s, s + T) of a recording, and the validation clip cut
    from the same frames by csv2json and stored by kinetics_gendata, as the test feeder serves it."""
    dataset = pipeline['dataset']
    names = sorted(os.listdir(dataset / 'kinetics_val'))
    clip = load_json(dataset / 'kinetics_val' / names[3])
    source, start = clip['source']['file'], clip['source']['start_frame']
    demo = Demo(['--weights', pipeline['weights'], '--input', source, '-w', str(tmp_path), '--print_log', 'false'])
    recording = demo.read_recording(source, fps=30.0)
    window = demo.window_batch(recording.model_array(), np.array([start]), CLIP)[0]
    model_file = read_model_file(pipeline['weights'])
    feeder = Feeder(data_path=str(dataset / 'val_data.npy'), label_path=str(dataset / 'val_label.pkl'),
                    **model_file.input.transform)
    served, _ = feeder[feeder.sample_name.index(names[3])]
    assert window.dtype == served.dtype == np.float32
    assert np.array_equal(window, served)
    assert np.abs(window).max() > 0.1   # a real, transformed clip, not zeros


def test_options_that_contradict_the_model_file_are_refused(pipeline, tmp_path):
    recording = pipeline['csv'][0]
    base = ['--weights', pipeline['weights'], '--input', recording, '-w', str(tmp_path), '--print_log', 'false']
    cases = [
        (['--model_args', 'num_class=4'], r'--model_args num_class=4 contradicts .*epoch2_model.pt, which was trained '
                                          r'with num_class=5 \(leave it out'),
        (['--pcutoff', '0.3'], r'--pcutoff 0.3 contradicts .*whose training data had pcutoff 0.6'),
        (['--width', '800', '--height', '600'], r'--frame_size \[800.0, 600.0\] contradicts'),
        (['--test_feeder_args', 'normalize=frame'], r"--test_feeder_args normalize='frame' contradicts .*"
                                                     r"normalize='egocentric_clip'"),
        (['--model', 'net.st_gcn_mb.Model'], r'--model net.st_gcn_mb.Model contradicts .*a net.st_gcn.Model'),
    ]
    for extra, message in cases:
        with pytest.raises(ConfigError, match=message):
            Demo(base + extra)
    # the same values as training, or options that are safe to change, are accepted
    demo = Demo(base + ['--pcutoff', '0.6', '--window', '24', '--test_batch_size', '7'])
    assert demo.spec.pcutoff == 0.6 and demo.arg.test_batch_size == 7


def test_a_recognition_config_serves_demo_and_test(pipeline, tmp_path):
    recording = pipeline['csv'][0]
    work = tmp_path / 'demo'
    assert main_module.main(['demo', '-c', RAT_TEST_CONFIG, '--weights', pipeline['weights'], '--input', recording,
                             '-w', str(work), '--model_args', 'num_class=5']) == 0
    log = (work / 'log.txt').read_text()
    assert 'options of other commands left out: feeder, num_worker, phase, show_topk' in log
    dataset = pipeline['dataset']
    assert main_module.main(['recognition', '-c', RAT_TEST_CONFIG, '--weights', pipeline['weights'], '-w',
                             str(tmp_path / 'test'), '--model_args', 'num_class=5', '--num_worker', '0',
                             '--test_feeder_args', f'data_path={dataset}/val_data.npy',
                             f'label_path={dataset}/val_label.pkl']) == 0
    bad = tmp_path / 'bad.yaml'
    bad.write_text('weights: x.pt\nwindow_size: 3\n')
    proc = subprocess.run([sys.executable, 'main.py', 'demo', '-c', str(bad), '--input', recording],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.count('\n') == 1
    assert "bad.yaml: unknown option 'window_size' (did you mean 'window'?)" in proc.stderr


def test_each_command_shows_only_its_options():
    def help_text(command):
        return subprocess.run([sys.executable, 'main.py', command, '-h'], cwd=ROOT, capture_output=True,
                              text=True).stdout
    demo, extract, recognition = help_text('demo'), help_text('extract'), help_text('recognition')
    for option in ('--base_lr', '--optimizer', '--resume', '--num_epoch', '--batch_size', '--step', '--phase',
                   '--data_path', '--show_topk', '--feeder'):
        assert option not in demo, option
    for option in ('--input', '--window', '--annotations', '--smooth {', 'labelling recordings:'):
        assert option in demo and option not in recognition, option
    for option in ('--base_lr', '--resume', '--input', '--window', '--phase'):
        assert option not in extract, option
    assert '--data_path' in extract and 'training:' in recognition and '--class_weight' in recognition


def _stitched(pipeline, path):
    """A recording of 80 frames of rearing then 80 of walking (two sample recordings), and its human labels."""
    from feeder import dlc_io
    from tools.make_sample_data import dlc_csv_text
    parts = []
    for behaviour in ('rearing', 'walking'):
        rec = dlc_io.read_pose_file(next(p for p in pipeline['csv'] if behaviour in p))
        parts.append(np.concatenate([rec.xy, rec.score[..., None]], axis=-1)[:80, 0])   # (80, V, 3)
    path.write_text(dlc_csv_text(np.concatenate(parts).astype(np.float32), 'DLC_test', rec.bodyparts))
    labels = path.parent / (path.stem + '_labels.csv')
    labels.write_text('frame,label\n' + ''.join(f'{t},{"rearing" if t < 80 else "walking"}\n' for t in range(160)))
    return str(path), str(labels)


def test_demo_scores_its_ethogram_against_human_labels(pipeline, tmp_path):
    from tools import evaluate_ethogram
    recording, labels = _stitched(pipeline, tmp_path / 'stitchedDLC_test.csv')
    work = tmp_path / 'demo'
    assert main_module.main(['demo', '--weights', pipeline['weights'], '--input', recording, '--annotations', labels,
                             '-w', str(work), '--window', '16', '--stride', '4']) == 0
    out = work / 'stitchedDLC_test'
    result = json.loads((out / 'evaluation.json').read_text())
    assert result['frames_scored'] == 160 and result['frames_excluded'] == 0
    assert 0.0 <= result['macro_f1'] <= 1.0 and {'accuracy', 'bout_f1', 'per_class', 'confusion'} <= set(result)
    for name in ('evaluation_per_class.csv', 'confusion_matrix.csv', 'confusion_matrix.png', 'timeline.png'):
        assert (out / name).is_file(), name
    with open(out / 'ethogram.csv') as handle:
        predicted = [row['label'] for row in csv.DictReader(handle)]
    truth = ['rearing'] * 80 + ['walking'] * 80
    assert result['accuracy'] == pytest.approx(np.mean([p == t for p, t in zip(predicted, truth)]))
    log = (work / 'log.txt').read_text()
    assert f'stitchedDLC_test: macro F1 {result["macro_f1"]:.3f}, accuracy {result["accuracy"]:.3f}' in log
    # the same scores afterwards from the ethogram.csv, with the standalone tool
    lines = evaluate_ethogram.evaluate_files([str(work)], [labels], str(tmp_path / 'again'))
    assert lines == [f'stitchedDLC_test: macro F1 {result["macro_f1"]:.3f}, accuracy {result["accuracy"]:.3f}, '
                     f'bout F1 {result["bout_f1"]:.2f} (160 frames scored, 0 excluded)']
    again = json.loads((tmp_path / 'again' / 'stitchedDLC_test' / 'evaluation.json').read_text())
    assert again['confusion'] == result['confusion']


def test_smooth_median_without_min_bout_takes_half_the_shortest_training_bout(pipeline, tmp_path):
    recording = pipeline['csv'][0]
    base = ['--weights', pipeline['weights'], '--input', recording, '-w', str(tmp_path), '--print_log', 'false']
    demo = Demo(base + ['--smooth', 'median'])
    logged = []
    demo.io.print_log = logged.append
    read = demo.read_recording(recording, fps=30.0)
    assert demo.mean_bout(5, read) is None and demo.median_window(1, None) == 1    # class folders: no bout lengths
    assert 'labels are not smoothed; give --min_bout' in logged[0]
    demo.spec.mean_bout = {'grooming': 40.0, 'rearing': 21.0, 'resting': 90.0}
    demo._median_said = False
    lengths = demo.mean_bout(5, read)
    np.testing.assert_array_equal(lengths, [40.0, 21.0, 90.0, 40.0, 40.0])     # classes without bouts: the median
    assert demo.median_window(1, lengths) == 11 and 'a window of 11 frames' in logged[1]
    given = Demo(base + ['--smooth', 'median', '--min_bout', '6'])
    assert given.mean_bout(5, read) is None and given.median_window(6, None) == 7   # --min_bout wins, made odd

"""DistributedDataParallel under torchrun with 2 gloo (CPU) processes."""
import csv
import os
import pickle
import socket
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT, make_separable_arrays, write_dataset
from processor.distributed import DistInfo, detect
from processor.recognition import REC_Processor

MODEL = ['--model', 'net.st_gcn.Model', '--model_args', 'in_channels=3', 'num_class=4',
         "graph_args={'layout': 'rat', 'strategy': 'spatial'}"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def test_detect_reads_torchrun_environment():
    assert detect({}) == DistInfo(0, 1, 0) and not detect({}).enabled
    info = detect({'RANK': '3', 'WORLD_SIZE': '4', 'LOCAL_RANK': '1'})
    assert info == DistInfo(3, 4, 1) and info.enabled and not info.is_main
    with pytest.raises(ValueError, match="WORLD_SIZE='two' is not an integer"):
        detect({'RANK': '0', 'WORLD_SIZE': 'two'})
    with pytest.raises(ValueError, match='RANK=2 and WORLD_SIZE=2 do not fit'):
        detect({'RANK': '2', 'WORLD_SIZE': '2'})


def test_two_gloo_processes_write_one_set_of_outputs_with_whole_set_accuracy(tmp_path):
    folder = tmp_path / 'data'
    train = write_dataset(folder, 'train', *make_separable_arrays(16, 4, 16, 12, seed=1))
    # 7 validation clips over 2 ranks: the sampler pads rank 1 with a repeat that must not be counted
    val = write_dataset(folder, 'val', *make_separable_arrays(7, 4, 16, 12, seed=2))
    work = tmp_path / 'work'
    feeders = ['--train_feeder_args', f'data_path={train[0]}', f'label_path={train[1]}',
               '--test_feeder_args', f'data_path={val[0]}', f'label_path={val[1]}']
    command = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node=2', '--master_addr', '127.0.0.1',
               '--master_port', str(_free_port()), 'main.py', 'recognition', '-w', str(work), *MODEL, *feeders,
               '--num_epoch', '1', '--batch_size', '8', '--test_batch_size', '4', '--base_lr', '0.05',
               '--num_worker', '0', '--use_gpu', 'false', '--seed', '2', '--save_result', 'true']
    env = dict(os.environ, OMP_NUM_THREADS='1')
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]

    # one set of outputs: rank 0 logs and writes, rank 1 stays silent
    assert proc.stdout.count('Training epoch: 0') == 1, proc.stdout
    log = (work / 'log.txt').read_text()
    assert log.count('Training epoch: 0') == 1
    assert 'Distributed run: 2 processes, backend gloo' in log
    assert {'epoch1_model.pt', 'best_model.pt', 'checkpoint.pt', 'metrics.csv', 'test_result.pkl',
            'per_class.csv'} <= set(os.listdir(work))
    with open(work / 'metrics.csv', newline='') as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 1
    with open(work / 'test_result.pkl', 'rb') as handle:
        scores = pickle.load(handle)
    assert sorted(scores) == [f'val_{i:04d}' for i in range(7)]

    # the reduced accuracy is that of the whole validation set under a single-process evaluation
    single = REC_Processor(['--phase', 'test', '-w', str(tmp_path / 'single'), *MODEL, *feeders,
                            '--weights', str(work / 'epoch1_model.pt'), '--use_gpu', 'false', '--num_worker', '0',
                            '--print_log', 'false'])
    single.test()
    assert float(rows[0]['top1']) == pytest.approx(100 * single.topk[1], abs=1e-3)
    assert float(rows[0]['val_loss']) == pytest.approx(single.eval_info['val_loss'], rel=1e-4)
    ddp_scores = np.stack([scores[f'val_{i:04d}'] for i in range(7)])
    np.testing.assert_allclose(ddp_scores, single.result, rtol=1e-4, atol=1e-5)


def test_two_processes_share_a_folder_of_recordings_and_a_rerun_skips_the_done_ones(tmp_path, trained_rat):
    from test_demo import stitched_recording
    folder = tmp_path / 'recordings'
    folder.mkdir()
    for i in range(3):
        stitched_recording(folder / f'session{i}DLC_test.csv')
    names = tmp_path / 'classes.txt'
    names.write_text('a\nb\nc\nd\n')
    work = tmp_path / 'demo'
    command = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node=2', '--master_addr', '127.0.0.1',
               '--master_port', str(_free_port()), 'main.py', 'demo', '-w', str(work), *MODEL, '--weights',
               trained_rat['weights'], '--input', str(folder), '--window', '16', '--stride', '8', '--width', '640',
               '--height', '480', '--label_names', str(names), '--use_gpu', 'false', '--skip_done', 'true']
    env = dict(os.environ, OMP_NUM_THREADS='1')
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for i in range(3):
        assert (work / f'session{i}DLC_test' / 'ethogram.png').is_file()
    log = (work / 'log.txt').read_text()
    assert '3 recordings shared by 2 processes.' in log
    assert sum(line.count('labelled ') for line in log.splitlines() if ' -> ' in line) == 3  # rank 0 lists all
    os.remove(work / 'session1DLC_test' / 'bouts.csv')   # as if interrupted while writing session1's outputs
    proc = subprocess.run(command[:4] + ['--master_port', str(_free_port())] + command[6:], cwd=ROOT,
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = (work / 'log.txt').read_text()
    assert '--skip_done: 2 recording(s) already labelled, skipped: session0DLC_test.csv, session2DLC_test.csv' in log
    assert (work / 'session1DLC_test' / 'bouts.csv').is_file()

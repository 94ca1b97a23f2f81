import json
import os
import shutil
import subprocess
import sys
from collections import OrderedDict

import pytest
import torch

from conftest import ROOT, SHARED

SHAPES = os.path.join(SHARED, 'reference', 'st_gcn_published_state_dict_shapes.json')
pytestmark = [pytest.mark.skipif(not os.path.isfile(SHAPES), reason='../shared/reference absent'),
              pytest.mark.skipif(shutil.which('curl') is None, reason='curl absent')]


def _fake_published(path, kind):
    with open(SHAPES) as handle:
        shapes = json.load(handle)[kind]
    torch.save(OrderedDict((k, torch.rand(s) if s else torch.tensor(0)) for k, s in shapes.items()
                           if not k.endswith('num_batches_tracked')), path)


def _run(mirror, dest, *names):
    env = dict(os.environ, ST_GCN_MODEL_URL=f'file://{mirror}', ST_GCN_MODEL_DIR=str(dest), PYTHON=sys.executable)
    return subprocess.run(['bash', os.path.join(ROOT, 'tools', 'get_models.sh'), *names], env=env,
                          capture_output=True, text=True)


def test_downloads_checks_and_skips(tmp_path):
    mirror, dest = tmp_path / 'mirror', tmp_path / 'models'
    mirror.mkdir()
    _fake_published(mirror / 'st_gcn.kinetics.pt', 'kinetics')
    _fake_published(mirror / 'st_gcn.ntu-xsub.pt', 'ntu')
    proc = _run(mirror, dest, 'st_gcn.kinetics.pt', 'st_gcn.ntu-xsub.pt')
    assert proc.returncode == 0, proc.stderr
    assert (dest / 'st_gcn.kinetics.pt').read_bytes() == (mirror / 'st_gcn.kinetics.pt').read_bytes()
    assert not list(dest.glob('*.part'))
    again = _run(mirror, dest, 'st_gcn.kinetics.pt')
    assert 'already present, skipped' in again.stdout


def test_wrong_file_and_missing_file_fail_clearly(tmp_path):
    mirror, dest = tmp_path / 'mirror', tmp_path / 'models'
    mirror.mkdir()
    _fake_published(mirror / 'st_gcn.ntu-xview.pt', 'kinetics')  # the wrong model under the name
    proc = _run(mirror, dest, 'st_gcn.ntu-xview.pt', 'st_gcn.kinetics.pt')
    assert proc.returncode == 1
    assert 'st_gcn.ntu-xview.pt does not look like the published model' in proc.stderr
    assert 'mis-shaped keys' in proc.stderr
    assert 'could not download file://' in proc.stderr and 'st_gcn.kinetics.pt' in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == 'get_models.sh: failed: st_gcn.ntu-xview.pt st_gcn.kinetics.pt'
    assert not dest.exists() or not any(dest.iterdir())


def test_no_network_is_one_line(tmp_path):
    env = dict(os.environ, ST_GCN_MODEL_URL='http://127.0.0.1:9/models', ST_GCN_MODEL_DIR=str(tmp_path),
               PYTHON=sys.executable)
    proc = subprocess.run(['bash', os.path.join(ROOT, 'tools', 'get_models.sh'), 'st_gcn.kinetics.pt'], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    first = proc.stderr.strip().splitlines()[0]
    assert first.startswith('get_models.sh: error: could not download http://127.0.0.1:9/models/st_gcn.kinetics.pt')

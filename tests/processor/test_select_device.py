"""IO.select_device: CUDA when present, else Apple mps when present (not under torchrun), else the CPU; --use_gpu
false keeps the CPU. mps availability is monkeypatched: no test machine has it."""
from __future__ import annotations

import argparse
import types

import pytest
import torch

from processor import io as io_module
from processor.io import IO, ConfigError


def _processor(use_gpu=None, distributed=False):
    return types.SimpleNamespace(arg=argparse.Namespace(use_gpu=use_gpu, device=[0]),
                                 dist=types.SimpleNamespace(enabled=distributed, local_rank=0))


@pytest.fixture
def mac(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    monkeypatch.setattr(io_module, 'mps_available', lambda: True)
    monkeypatch.setenv('PYTORCH_ENABLE_MPS_FALLBACK', '1')


def test_mps_is_used_when_cuda_is_absent(mac, caplog):
    proc = _processor()
    device = IO.select_device(proc)
    assert device == torch.device('mps')
    assert proc.use_gpu is False and proc.devices == [0]   # no pinned memory, DataParallel or NCCL on mps
    assert 'running on Apple mps (untested' in caplog.text and 'PYTORCH_ENABLE_MPS_FALLBACK' not in caplog.text
    assert IO.select_device(_processor(use_gpu=True)) == torch.device('mps')


def test_use_gpu_false_keeps_the_cpu_and_torchrun_does_not_take_mps(mac):
    assert IO.select_device(_processor(use_gpu=False)) == torch.device('cpu')
    assert IO.select_device(_processor(distributed=True)) == torch.device('cpu')


def test_without_the_fallback_variable_a_warning_says_so(mac, monkeypatch, caplog):
    monkeypatch.delenv('PYTORCH_ENABLE_MPS_FALLBACK')
    IO.select_device(_processor())
    assert 'without PYTORCH_ENABLE_MPS_FALLBACK=1 set before torch was imported' in caplog.text


def test_no_accelerator(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    monkeypatch.setattr(io_module, 'mps_available', lambda: False)
    assert IO.select_device(_processor()) == torch.device('cpu')
    with pytest.raises(ConfigError, match=r'no CUDA device \(nor Apple mps\) is available'):
        IO.select_device(_processor(use_gpu=True))


def test_the_console_commands_set_the_fallback_on_macos_only_before_torch(monkeypatch):
    from processor import console
    monkeypatch.delenv('PYTORCH_ENABLE_MPS_FALLBACK', raising=False)
    monkeypatch.setattr(console.platform, 'system', lambda: 'Darwin')
    monkeypatch.delitem(console.sys.modules, 'torch')
    console.prefer_mps_fallback()
    assert console.os.environ['PYTORCH_ENABLE_MPS_FALLBACK'] == '1'
    monkeypatch.setenv('PYTORCH_ENABLE_MPS_FALLBACK', '0')   # the user's choice is kept
    console.prefer_mps_fallback()
    assert console.os.environ['PYTORCH_ENABLE_MPS_FALLBACK'] == '0'
    monkeypatch.delenv('PYTORCH_ENABLE_MPS_FALLBACK')
    monkeypatch.setattr(console.platform, 'system', lambda: 'Linux')
    console.prefer_mps_fallback()
    assert 'PYTORCH_ENABLE_MPS_FALLBACK' not in console.os.environ

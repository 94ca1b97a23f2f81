"""benchmarks/run.py: its reference is the original model, its plan fits its cases, its table reads its results."""
import inspect
import os
import sys

import pytest
import torch

from conftest import ROOT

sys.path.insert(0, os.path.join(ROOT, 'benchmarks'))
import run as bench  # noqa: E402

from net.utils.dropout import Dropout  # noqa: E402


@pytest.mark.parametrize('shape', ['rat', 'kinetics'])
def test_reference_computes_what_the_model_computes(shape):
    model = bench.build_model(shape).eval()
    reference = bench.use_reference(bench.build_model(shape)).eval()
    assert not any(isinstance(m, Dropout) for m in reference.modules())  # the original's nn.Dropout
    assert sum(type(m) is torch.nn.Dropout for m in reference.modules()) == 10  # one per block
    x = bench.clips(shape, 2, 12)
    with torch.no_grad():
        expected, out = model(x), reference(x)
    assert ((out - expected).abs().max() / expected.abs().max()).item() < 1e-4


@pytest.mark.parametrize('quick', [True, False])
def test_every_planned_measurement_fits_its_case(quick):
    items = bench.plan(quick)
    assert len({label for label, *_ in items}) == len(items)  # labels are unique
    for label, case, kwargs, env in items:
        inspect.signature(bench.CASES[case]).bind(**kwargs)  # raises TypeError on a wrong or missing argument
        assert all(isinstance(v, str) for v in env.values()), label


def test_gemm_rates_and_the_fraction_of_them():
    rates = bench.gemm_gflops(size=256, seconds=0.05)
    assert rates['fp32'] == max(rates['mm_fp32'], rates['onednn_fp32']) > 0
    fp32 = bench.rates_of(1e9, 2.0, {'fp32': 4.0, 'bf16': 8.0}, 'fp32')
    assert fp32 == {'clips_s': 2.0, 'gflops': 2.0, 'of_matmul': 0.5}
    assert bench.rates_of(1e9, 2.0, {'fp32': 4.0, 'bf16': 8.0}, 'bf16')['of_bf16_gemm'] == 0.25


def test_table_shows_ratios_and_compile_times():
    gemm = {'mm_fp32': 90.0, 'onednn_fp32': 180.0, 'fp32': 180.0, 'bf16': 700.0}
    speed = {'flops_per_clip': 2e9, 'matmul_gflops': 180.0, 'gemm': gemm,
             'reference': bench.rates_of(2e9, 10.0, gemm, 'reference'),
             'fp32': bench.rates_of(2e9, 25.0, gemm, 'fp32'), 'bf16': bench.rates_of(2e9, 50.0, gemm, 'bf16')}
    compiled = {'first_call_fp32_s': 12.0, 'eager_fp32': {'clips_s': 10.0}, 'compiled_fp32': {'clips_s': 11.0}}
    text = bench.table([{'label': 'infer', 'case': 'infer_speed', 'result': speed},
                        {'label': 'compile', 'case': 'compile', 'result': compiled},
                        {'label': 'broken', 'case': 'dbscan', 'result': {'error': 'boom'}}])
    assert 'fp32 25.00 clips/s (2.50x, 28% of fp32 GEMM)' in text
    assert 'bf16 50.00 clips/s (5.00x, 56% of fp32 GEMM, 14% of bf16)' in text
    assert 'torch.mm 90, oneDNN 180' in text
    assert 'compiled_fp32 11.00 clips/s (first call, compiling: fp32 12 s)' in text
    assert 'error: boom' in text

"""benchmarks/run.py: its reference is the original model, its plan fits its cases, its cases run, its table reads
its results."""
import inspect
import os
import sys

import pytest
import torch

from conftest import ROOT

sys.path.insert(0, os.path.join(ROOT, 'benchmarks'))
import run as bench  # noqa: E402

from net.utils.dropout import Dropout  # noqa: E402
from net.utils.fast import GraphConvChannelsLast  # noqa: E402


@pytest.mark.parametrize('shape', ['rat', 'kinetics'])
def test_reference_computes_what_the_model_computes(shape):
    model = bench.fast_model(shape).eval()
    reference = bench.build_model(shape).eval()
    assert not any(isinstance(m, Dropout) for m in reference.modules())  # the original's nn.Dropout
    assert sum(type(m) is torch.nn.Dropout for m in reference.modules()) == 10  # one per block
    assert not any(isinstance(m, GraphConvChannelsLast) for m in reference.modules())  # the published formulation
    assert sum(isinstance(m, GraphConvChannelsLast) for m in model.modules()) == 10
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


def test_fresh_process_cases_run_on_small_inputs():
    for path in ('reference', 'fp32'):
        r = bench.case_infer_process('kinetics', T=16, N=3, path=path, batch=2)
        assert r['clips'] == 3 and len(r['batch_s']) == 2 and r['clips_s'] > 0 and r['flops_per_clip'] > 0
    for command in ('original', 'main'):  # the command lines are right: each runs to the end
        r = bench.case_whole_command('kinetics', T=16, N=3, command=command)
        assert r['process_s'] > 0 and r['clips'] == 3
        if command == 'original':
            assert r['inner']['clips'] == 3 and r['inner']['model_s'] > 0
    assert r['inner'] == {}  # main.py reports nothing inside; the original script reports its parts


def test_side_by_side_gives_model_and_whole_process_figures_and_shares_of_the_peak():
    kwargs = {'shape': 'kinetics', 'T': 300, 'N': 256}
    peak = {'mm_fp32': 180.0, 'onednn_fp32': 400.0, 'fp32': 400.0, 'bf16': 800.0}
    flops = 4e9

    def item(case, name, clips_s, **extra):
        key = 'path' if case == 'infer_process' else 'command'
        return {'label': name, 'case': case, 'kwargs': kwargs,
                'result': {key: name, 'clips_s': clips_s, 'flops_per_clip': flops, **extra}}
    results = [{'label': 'peak', 'case': 'peak', 'kwargs': {}, 'result': peak},
               *[item('infer_process', name, clips_s, model_s=1.0, batch_s=[0.5, 0.5], setup_s=1.0)
                 for name, clips_s in (('reference', 4.0), ('fp32', 16.0), ('bf16', 40.0))],
               item('whole_command', 'original', 2.0, process_s=128.0), item('whole_command', 'main', 5.0,
                                                                              process_s=51.2)]
    text = bench.side_by_side(results)
    assert 'measured peak (oneDNN GEMM): fp32 400, bf16 800 GFLOP/s' in text
    assert ('reference model only 4.00 clips/s (1.00x), 4% of the fp32 peak; whole process, the original processor '
            '2.00 clips/s (1.00x), 128.0 s, 2% of the fp32 peak') in text
    assert 'fp32      model only 16.00 clips/s (4.00x), 16% of the fp32 peak; whole process, main.py --phase ' \
        'test 5.00 clips/s (2.50x), 51.2 s, 5% of the fp32 peak' in text
    assert 'bf16      model only 40.00 clips/s (10.00x), 20% of the bf16 peak' in text
    assert text in bench.table(results)

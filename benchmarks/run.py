"""Speed benchmark: the model against the original formulation, whole commands, data pipeline, tools.

The reference is the published model itself (``net.st_gcn.Model`` as built, which computes as the paper: 1x1 conv to
K*C_out channels then an einsum, ``nn.Dropout``); the fast paths are what the processor runs: the training model
after :func:`net.utils.fast.accelerate`, the evaluation copy of :func:`net.utils.inference.prepare_for_inference`
run through ``predict``.

Each case runs in a fresh subprocess (its peak resident memory, ru_maxrss, is its own). Two kinds of figures:

* **Fresh process per path** (``peak``, ``infer_process``, ``whole_command``): each inference path runs alone in
  its own process, the way the original runs (a new process, eval, ``no_grad``, batches of 64), so the reference
  has the original's real speed. ``whole_command`` times whole processes from start to exit: ``python main.py
  recognition --phase test`` against a script that does what the original processor does; ``infer_process`` gives
  the model-only time of each path; ``peak`` measures the machine's oneDNN GEMM rates (fp32, bf16), and every
  model figure is also given as a share of them. These are the figures to quote; they need a quiet machine.
* **Interleaved in one process** (``infer_speed``, ``train_speed``, ``compile``): the reference and the fast
  paths take turns, so load from other jobs hits both alike; the ratios hold on a loaded machine, but the
  in-process reference runs slower than the original does in its own process, so these ratios overstate the
  speed-up against the original.

Large inference batches also run with ``THP_MEM_ALLOC_ENABLE`` set to 1 and with a glibc no-mmap allocator.

    python benchmarks/run.py --quick             # a few minutes
    python benchmarks/run.py --only peak infer_process whole_command --quick   # the fresh-process figures only
    python benchmarks/run.py --out bench.json    # the full run (long on 2 cores)
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

logger = logging.getLogger('benchmark')

SHAPES = {'kinetics': ('openpose', 18, 2, 400), 'rat': ('rat', 12, 1, 8)}  # layout, V, M, classes


# ------------------------------------------------------------------ models and helpers
def build_model(shape: str, seed: int = 0) -> torch.nn.Module:
    """The published model with the original initialisation: the reference, as the original computes."""
    from net import st_gcn
    layout, _, _, classes = SHAPES[shape]
    torch.manual_seed(seed)
    model = st_gcn.Model(3, classes, {'layout': layout, 'strategy': 'spatial'}, dropout=0.5)
    model.apply(st_gcn.weights_init)
    return model


def fast_model(shape: str, seed: int = 0) -> torch.nn.Module:
    """The model the processor trains on CPU: :func:`build_model` switched by ``net.utils.fast.accelerate``."""
    from net.utils.fast import accelerate
    return accelerate(build_model(shape, seed), 'cpu')


def clips(shape: str, N: int, T: int, seed: int = 0) -> torch.Tensor:
    _, V, M, _ = SHAPES[shape]
    return torch.randn(N, 3, T, V, M, generator=torch.Generator().manual_seed(seed))


def _best_gflops(fn: Callable[[], Any], flops: float, seconds: float) -> float:
    fn()
    best, end = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        t0 = time.perf_counter()
        fn()
        best = max(best, flops / (time.perf_counter() - t0) / 1e9)
    return best


def gemm_gflops(size: int = 2048, seconds: float = 1.0) -> dict[str, float]:
    """GEMM rates of this process, best of repeated size^3 products (GFLOP/s).

    ``mm_fp32``: ``torch.mm`` (the BLAS: MKL in the PyPI CPU wheel). ``onednn_fp32``: the same product as a oneDNN
    1x1 convolution (the library behind PyTorch's CPU convolutions); on AMD CPUs MKL's sgemm may not use AVX-512
    and runs at about half of oneDNN. ``fp32``: the larger of the two, the fp32 rate the model figures are
    compared with. ``bf16``: the bf16 product as a oneDNN convolution (0 where bf16 is not supported).
    """
    a, b = torch.randn(size, size), torch.randn(size, size)
    x = a.view(1, size, 1, size).permute(0, 3, 1, 2)  # (1, K, M, 1) channels-last: rows M, reduction K
    w = b.view(size, size, 1, 1)  # (N, K, 1, 1)
    flops = 2.0 * size ** 3
    rates = {'mm_fp32': _best_gflops(lambda: a @ b, flops, seconds),
             'onednn_fp32': _best_gflops(lambda: F.conv2d(x, w), flops, seconds)}
    rates['fp32'] = max(rates['mm_fp32'], rates['onednn_fp32'])
    rates['bf16'] = _best_gflops(lambda: F.conv2d(x.bfloat16(), w.bfloat16()), flops, seconds) \
        if bf16_supported() else 0.0
    return rates


def rates_of(flops: float, clips_per_s: float, gemm: dict[str, float], dtype: str) -> dict[str, float]:
    """GFLOP/s of a path and its fraction of the fp32 GEMM rate (and of the bf16 one for bf16 paths)."""
    gflops = flops * clips_per_s / 1e9
    out = {'clips_s': clips_per_s, 'gflops': gflops, 'of_matmul': gflops / gemm['fp32']}
    if dtype == 'bf16' and gemm.get('bf16'):
        out['of_bf16_gemm'] = gflops / gemm['bf16']
    return out


def flops_per_clip(model: torch.nn.Module, x: torch.Tensor, train: bool) -> float:
    from torch.utils.flop_counter import FlopCounterMode
    counter = FlopCounterMode(display=False)
    with counter:
        if train:
            model(x[:1]).sum().backward()
        else:
            with torch.no_grad():
                model(x[:1])
    return float(counter.get_total_flops())


def bf16_supported() -> bool:
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def interleave(fns: dict[str, Callable[[], Any]], reps: int) -> dict[str, float]:
    """Best wall time (s) of each function over ``reps`` rounds, the functions taking turns."""
    best = {name: float('inf') for name in fns}
    for _ in range(reps):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    return best


def maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ------------------------------------------------------------------ cases (each run in its own subprocess)
def case_infer_speed(shape: str, T: int, N: int, reps: int, micro_batch: int | None = None) -> dict:
    from net.utils.inference import predict, prepare_for_inference
    x = clips(shape, N, T)
    ref = build_model(shape).eval()
    fast = prepare_for_inference(build_model(shape))
    fns = {'reference': lambda: ref(x), 'fp32': lambda: predict(fast, x, micro_batch=micro_batch)}
    with torch.no_grad():  # the reference as the original test loop ran it: whole batch, no_grad
        if bf16_supported():
            fns['bf16'] = lambda: predict(fast, x, micro_batch=micro_batch, amp=True)
        times = interleave(fns, reps)
    flops = flops_per_clip(ref, x, train=False)
    gemm = gemm_gflops()
    out = {'flops_per_clip': flops, 'matmul_gflops': gemm['fp32'], 'gemm': gemm}
    for name, sec in times.items():
        out[name] = rates_of(flops, N / sec, gemm, name)
    return out


def case_infer_memory(shape: str, T: int, N: int, path: str, micro_batch: int | None = None) -> dict:
    from net.utils.inference import predict, prepare_for_inference
    x = clips(shape, N, T)
    before = maxrss_mb()
    if path == 'reference':
        ref = build_model(shape).eval()
        with torch.no_grad():
            ref(x)
    else:
        predict(prepare_for_inference(build_model(shape)), x, micro_batch=micro_batch, amp=path == 'bf16')
    return {'peak_rss_mb': maxrss_mb(), 'rss_before_mb': before}


def train_step(model, opt, x, y, amp: bool) -> float:
    with torch.autocast('cpu', dtype=torch.bfloat16, enabled=amp):
        loss = F.cross_entropy(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss.item()


def case_train_speed(shape: str, T: int, N: int, reps: int) -> dict:
    x = clips(shape, N, T)
    y = torch.randint(0, SHAPES[shape][3], (N,), generator=torch.Generator().manual_seed(1))
    models = {'reference': build_model(shape), 'fp32': fast_model(shape)}
    if bf16_supported():
        models['bf16'] = fast_model(shape)
    opts = {k: torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9) for k, m in models.items()}
    fns = {k: (lambda k=k: train_step(models[k], opts[k], x, y, k == 'bf16')) for k in models}
    times = interleave(fns, reps)
    flops = flops_per_clip(build_model(shape), x, train=True)
    gemm = gemm_gflops()
    out = {'flops_per_clip': flops, 'matmul_gflops': gemm['fp32'], 'gemm': gemm}
    for name, sec in times.items():
        out[name] = {**rates_of(flops, N / sec, gemm, name), 'step_s': sec}
    return out


def case_compile(shape: str, T: int, N: int, reps: int, train: bool, micro_batch: int | None = None) -> dict:
    """torch.compile against eager, in one process: inference (fp32 and bf16, the prepared model through
    ``predict``) or the fp32 training step; the first call's time includes compiling."""
    x = clips(shape, N, T)
    out: dict[str, Any] = {}
    if train:
        y = torch.randint(0, SHAPES[shape][3], (N,), generator=torch.Generator().manual_seed(1))
        eager, base = fast_model(shape), fast_model(shape)
        compiled = torch.compile(base, dynamic=False)
        opts = {'eager': torch.optim.SGD(eager.parameters(), lr=0.01, momentum=0.9),
                'compiled': torch.optim.SGD(base.parameters(), lr=0.01, momentum=0.9)}
        t0 = time.perf_counter()
        train_step(compiled, opts['compiled'], x, y, False)
        out['first_call_s'] = time.perf_counter() - t0
        times = interleave({'eager': lambda: train_step(eager, opts['eager'], x, y, False),
                            'compiled': lambda: train_step(compiled, opts['compiled'], x, y, False)}, reps)
        return {**out, **{k: {'clips_s': N / v, 'step_s': v} for k, v in times.items()}}
    from net.utils.inference import compile_for_inference, predict, prepare_for_inference
    eager = prepare_for_inference(build_model(shape))
    compiled = compile_for_inference(prepare_for_inference(build_model(shape)))  # as --compile eval does
    fns = {}
    for amp in ([False, True] if bf16_supported() else [False]):
        tag = 'bf16' if amp else 'fp32'
        t0 = time.perf_counter()
        predict(compiled, x, micro_batch=micro_batch, amp=amp, pad_last=True, features=True)
        out[f'first_call_{tag}_s'] = time.perf_counter() - t0
        fns[f'eager_{tag}'] = lambda amp=amp: predict(eager, x, micro_batch=micro_batch, amp=amp, features=True)
        fns[f'compiled_{tag}'] = lambda amp=amp: predict(compiled, x, micro_batch=micro_batch, amp=amp,
                                                         pad_last=True, features=True)
    times = interleave(fns, reps)
    return {**out, **{k: {'clips_s': N / v} for k, v in times.items()}}


def separable(n: int, T: int, V: int, num_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(n, 3, T, V, 1) clips whose class sets an oscillation frequency and a displaced joint group, plus noise."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % num_class
    t = np.arange(T, dtype=np.float32)
    data = rng.normal(0, 0.05, size=(n, 3, T, V, 1)).astype(np.float32)
    for i, label in enumerate(labels):
        wave = 0.2 * np.sin(2 * np.pi * (0.03 + 0.05 * label) * t + rng.uniform(0, 6.3))
        data[i, 0, :, :, 0] += wave[:, None] * np.linspace(0.2, 1.0, V)[None, :]
        group = slice(label * V // num_class, (label + 1) * V // num_class)
        data[i, 1, :, group, 0] += 0.3
        data[i, 2] = 1.0
    return data, labels


def case_bf16_agreement(T: int, n_train: int, n_test: int, epochs: int) -> dict:
    """Train a small rat model in fp32 and in bf16 from the same start; compare losses and test predictions."""
    from net.utils.inference import predict, prepare_for_inference
    x, y = separable(n_train, T, 12, 8, seed=0)
    xt, yt = separable(n_test, T, 12, 8, seed=1)
    x, y, xt = torch.from_numpy(x), torch.from_numpy(y).long(), torch.from_numpy(xt)
    curves, models = {}, {}
    for name in ('fp32', 'bf16'):
        model = fast_model('rat', seed=3)
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        order = torch.Generator().manual_seed(4)
        curves[name] = []
        for _ in range(epochs):
            for idx in torch.randperm(len(x), generator=order).split(16):
                curves[name].append(train_step(model, opt, x[idx], y[idx], name == 'bf16'))
        models[name] = model
    fast = prepare_for_inference(models['fp32'])
    p32 = predict(fast, xt).argmax(1)
    p16 = predict(fast, xt, amp=True).argmax(1)
    c32, c16 = np.array(curves['fp32']), np.array(curves['bf16'])
    tail = max(1, len(c32) // 5)
    return {'top1_agreement': float((p32 == p16).float().mean()),
            'fp32_accuracy': float((p32.numpy() == yt).mean()),
            'loss_fp32_last': float(c32[-tail:].mean()), 'loss_bf16_last': float(c16[-tail:].mean()),
            'loss_max_abs_diff': float(np.abs(c32 - c16).max()), 'steps': len(c32)}


def case_epoch(n: int, T: int, batch: int, workers: int) -> dict:
    """One training epoch plus evaluation through Feeder + DataLoader, and pure model time on the same batches."""
    from feeder.feeder import Feeder
    from net.utils.inference import predict, prepare_for_inference
    from torchlight import save_pickle
    data, labels = separable(n, T, 12, 8, seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        np.save(os.path.join(tmp, 'd.npy'), data)
        save_pickle(os.path.join(tmp, 'l.pkl'), ([f's{i}' for i in range(n)], [int(v) for v in labels]))
        del data
        feeder = Feeder(os.path.join(tmp, 'd.npy'), os.path.join(tmp, 'l.pkl'), random_move=True)
        loader = torch.utils.data.DataLoader(feeder, batch_size=batch, shuffle=True, num_workers=workers,
                                             persistent_workers=workers > 0, drop_last=False)
        model = fast_model('rat')
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        batches = []
        t0 = time.perf_counter()
        for xb, yb in loader:
            train_step(model, opt, xb.float(), yb.long(), False)
            batches.append((xb, yb))
        epoch_s = time.perf_counter() - t0
        eval_loader = torch.utils.data.DataLoader(Feeder(os.path.join(tmp, 'd.npy'), os.path.join(tmp, 'l.pkl')),
                                                  batch_size=64, num_workers=workers)
        fast = prepare_for_inference(model)
        t0 = time.perf_counter()
        for xb, _ in eval_loader:
            predict(fast, xb)
        eval_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        for xb, yb in batches:
            train_step(model, opt, xb.float(), yb.long(), False)
        pure_s = time.perf_counter() - t0
        every = torch.cat([b[0] for b in batches])
        t0 = time.perf_counter()
        for i in range(0, n, 64):
            predict(fast, every[i:i + 64])
        pure_eval_s = time.perf_counter() - t0
    return {'clips': n, 'epoch_s': epoch_s, 'pure_model_s': pure_s, 'overhead': epoch_s / pure_s - 1,
            'eval_s': eval_s, 'pure_eval_s': pure_eval_s}


def case_csv2json(frames: int) -> dict:
    from tools import csv2json
    bodyparts = [f'bp{i}' for i in range(12)]
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, 'walk', 'rat.csv')
        os.makedirs(os.path.dirname(path))
        header = ['scorer,' + ','.join(['DLC'] * 36), 'bodyparts,' + ','.join(b for b in bodyparts for _ in range(3)),
                  'coords,' + ','.join(['x', 'y', 'likelihood'] * 12)]
        values = rng.uniform(0, 500, size=(frames, 36))
        values[:, 2::3] = rng.uniform(0.5, 1, size=(frames, 12))
        body = np.column_stack([np.arange(frames), values])
        with open(path, 'w') as handle:
            handle.write('\n'.join(header) + '\n')
            np.savetxt(handle, body, fmt='%.3f', delimiter=',')
        opts = csv2json.ConvertOptions(output=os.path.join(tmp, 'out'), width=640, height=480)
        os.makedirs(opts.output)
        t0 = time.perf_counter()
        written = csv2json.convert_file(csv2json.Job(path=path, label='walk'), {'walk': 0}, opts)
        sec = time.perf_counter() - t0
    return {'frames': frames, 'frames_s': frames / sec, 'clips': len(written)}


def write_kinetics_clips(folder: str, n: int, T: int, V: int, persons: int = 2) -> str:
    rng = np.random.default_rng(0)
    clip_dir = os.path.join(folder, 'kinetics_train')
    os.makedirs(clip_dir)
    labels = {}
    for i in range(n):
        frames = [{'frame_index': t, 'skeleton': [
            {'pose': rng.uniform(0, 1, 2 * V).round(3).tolist(), 'score': rng.uniform(0, 1, V).round(3).tolist()}
            for _ in range(persons)]} for t in range(T)]
        name = f'clip{i:05d}'
        with open(os.path.join(clip_dir, name + '.json'), 'w') as handle:
            json.dump({'data': frames, 'label': 'a', 'label_index': i % 4}, handle)
        labels[name] = {'has_skeleton': True, 'label': 'a', 'label_index': i % 4}
    label_path = os.path.join(folder, 'kinetics_train_label.json')
    with open(label_path, 'w') as handle:
        json.dump(labels, handle)
    return label_path


def naive_gendata(clip_dir: str, n_frames: int, V: int, M: int) -> np.ndarray:
    """The single-process per-file approach: parse each JSON and fill one in-memory array."""
    names = sorted(os.listdir(clip_dir))
    out = np.zeros((len(names), 3, n_frames, V, M), dtype=np.float32)
    for i, name in enumerate(names):
        with open(os.path.join(clip_dir, name)) as handle:
            clip = json.load(handle)
        for frame in clip['data']:
            t = frame['frame_index']
            for m, skel in enumerate(frame['skeleton'][:M]):
                pose = np.array(skel['pose'], dtype=np.float32)
                out[i, 0, t, :, m] = pose[0::2]
                out[i, 1, t, :, m] = pose[1::2]
                out[i, 2, t, :, m] = skel['score']
    return out


def case_gendata(n: int, T: int) -> dict:
    from tools import kinetics_gendata
    with tempfile.TemporaryDirectory() as tmp:
        label_path = write_kinetics_clips(tmp, n, T, 18)
        clip_dir = os.path.join(tmp, 'kinetics_train')
        times = interleave({
            'naive': lambda: naive_gendata(clip_dir, T, 18, 2),
            'gendata': lambda: kinetics_gendata.gendata(clip_dir, label_path, os.path.join(tmp, 'd.npy'),
                                                        os.path.join(tmp, 'l.pkl'), max_frame=T)}, 1)
    return {'clips': n, 'naive_clips_s': n / times['naive'], 'gendata_clips_s': n / times['gendata'],
            'speedup': times['naive'] / times['gendata']}


def case_gendata_memory(n: int, T: int) -> dict:
    """kinetics_gendata alone on ``n`` clips: peak anonymous memory of the main process (sampled every 20 ms;
    the output is a memory-mapped file, whose pages the kernel can write back and drop) and of its workers."""
    import threading
    from tools import kinetics_gendata

    def anon_kb() -> int:
        with open('/proc/self/status') as handle:
            return next(int(line.split()[1]) for line in handle if line.startswith('RssAnon:'))

    with tempfile.TemporaryDirectory() as tmp:
        label_path = write_kinetics_clips(tmp, n, T, 18)
        peak, done = [anon_kb()], threading.Event()

        def sample() -> None:
            while not done.wait(0.02):
                peak.append(anon_kb())
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        t0 = time.perf_counter()
        kinetics_gendata.gendata(os.path.join(tmp, 'kinetics_train'), label_path, os.path.join(tmp, 'd.npy'),
                                 os.path.join(tmp, 'l.pkl'), max_frame=T)
        sec = time.perf_counter() - t0
        done.set()
        sampler.join()
        output_mb = os.path.getsize(os.path.join(tmp, 'd.npy')) / 2 ** 20
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {'clips': n, 'clips_s': n / sec, 'output_mb': output_mb, 'peak_anon_mb': max(peak) / 1024,
            'start_anon_mb': peak[0] / 1024, 'worker_peak_rss_mb': children}


def case_dbscan(n: int, d: int) -> dict:
    from tools import dbscan
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(c, 1.0, size=(n // 5, d)) for c in range(5)]).astype(np.float32)
    t0 = time.perf_counter()
    result = dbscan.cluster(X, eps='auto', min_samples=5)
    sec = time.perf_counter() - t0
    return {'samples': len(X), 'seconds': sec, 'samples_s': len(X) / sec,
            'clusters': int(len(set(np.asarray(result.clusters).tolist()) - {-1}))
            if hasattr(result, 'clusters') else None}


def case_extract(n: int, T: int) -> dict:
    """Embedding extraction as processor/extract.py runs it: prepared model, predict(features=True)."""
    from net.utils.inference import predict, prepare_for_inference
    fast = prepare_for_inference(build_model('rat'))
    x = clips('rat', n, T)
    t0 = time.perf_counter()
    predict(fast, x, features=True)
    return {'samples': n, 'samples_s': n / (time.perf_counter() - t0)}


# ------------------------------------------------------------------ fresh process per path, whole commands
EVAL_CONFIGS = {'kinetics': 'config/st_gcn/kinetics-skeleton/test.yaml'}  # shape -> the shipped test config
EVAL_BATCH = 64  # the shipped test configs' test_batch_size, and the original's


def case_peak(seconds: float = 1.0) -> dict:
    """The machine's measured peak, in a fresh process: GEMM rates of oneDNN (fp32, bf16) and torch.mm (GFLOP/s)."""
    return gemm_gflops(seconds=seconds)


def case_infer_process(shape: str, T: int, N: int, path: str, batch: int = EVAL_BATCH) -> dict:
    """One inference path alone in this fresh process, over ``N`` clips in batches of ``batch``, the first batch
    included, as a test run meets them.

    ``reference``: the published model as the original processor runs it (eval, ``no_grad``, one forward pass per
    batch). ``fp32`` / ``bf16``: the processor's evaluation path (``prepare_for_inference``, then ``predict`` per
    batch, micro-batched on CPU; ``amp`` for bf16). ``model_s`` is the time in those calls only.
    """
    from net.utils.inference import predict, prepare_for_inference
    t0 = time.perf_counter()
    model = build_model(shape).eval()
    x = clips(shape, N, T)
    if path == 'reference':
        def run(chunk: torch.Tensor) -> torch.Tensor:
            with torch.no_grad():
                return model(chunk)
    else:
        fast = prepare_for_inference(model)

        def run(chunk: torch.Tensor) -> torch.Tensor:
            return predict(fast, chunk, amp=path == 'bf16')
    setup_s = time.perf_counter() - t0
    batch_s = []
    for start in range(0, N, batch):
        t0 = time.perf_counter()
        run(x[start:start + batch])
        batch_s.append(time.perf_counter() - t0)
    flops = flops_per_clip(model, x, train=False)  # after the timing, so that it does not warm anything up
    return {'path': path, 'clips': N, 'batch': batch, 'setup_s': setup_s, 'model_s': sum(batch_s),
            'clips_s': N / sum(batch_s), 'batch_s': batch_s, 'flops_per_clip': flops}


def write_eval_data(folder: str, shape: str, T: int, N: int) -> dict[str, str]:
    """Random clips of ``shape`` (N, 3, T, V, M) as a feeder's ``.npy`` and ``.pkl``, and random published-format
    weights; returns their paths."""
    _, _, _, classes = SHAPES[shape]
    paths = {name: os.path.join(folder, name) for name in ('data.npy', 'label.pkl', 'weights.pt')}
    np.save(paths['data.npy'], clips(shape, N, T).numpy())
    from torchlight import save_pickle
    save_pickle(paths['label.pkl'], ([f'clip{i}' for i in range(N)], [i % classes for i in range(N)]))
    torch.save(build_model(shape, seed=1).state_dict(), paths['weights.pt'])
    return paths


def case_original_test(shape: str, data: str, labels: str, weights: str, batch: int = EVAL_BATCH) -> dict:
    """What the original processor's ``--phase test`` does, run as a whole process by ``whole_command``: build the
    published model (original initialisation), load the weights, read the data (memory-mapped ``.npy``, label
    pickle), eval, and under ``no_grad`` one forward pass per batch of ``batch`` clips; loss and top-1/top-5 at
    the end. Returns the time of each part (the parent times the whole process)."""
    from torchlight import safe_load_pickle
    t0 = time.perf_counter()
    model = build_model(shape)
    model.load_state_dict(torch.load(weights, map_location='cpu', weights_only=True))
    model.eval()
    t1 = time.perf_counter()
    array = np.load(data, mmap_mode='r')
    _, label = safe_load_pickle(labels)
    label = torch.tensor(label)
    data_s, model_s, scores = 0.0, 0.0, []
    for start in range(0, len(array), batch):
        t2 = time.perf_counter()
        chunk = torch.from_numpy(np.array(array[start:start + batch], dtype=np.float32))  # (n, C, T, V, M)
        t3 = time.perf_counter()
        with torch.no_grad():
            scores.append(model(chunk))
        data_s, model_s = data_s + t3 - t2, model_s + time.perf_counter() - t3
    scores = torch.cat(scores)
    loss = F.cross_entropy(scores, label).item()
    top = scores.topk(5, dim=1).indices
    return {'build_load_s': t1 - t0, 'data_s': data_s, 'model_s': model_s, 'clips': len(array), 'loss': loss,
            'top1': (top[:, 0] == label).float().mean().item(),
            'top5': (top == label[:, None]).any(1).float().mean().item()}


def case_whole_command(shape: str, T: int, N: int, command: str) -> dict:
    """One evaluation command on ``N`` random clips, as a whole process timed from start to exit.

    ``original``: :func:`case_original_test` in a fresh interpreter (what the original processor does).
    ``main`` / ``main_amp``: ``python main.py recognition --phase test`` with the shipped test config (CPU, batches
    of 64; ``--amp true`` for ``main_amp``), as a user runs it.
    """
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_eval_data(tmp, shape, T, N)
        if command == 'original':
            spec = {'name': 'original_test', 'kwargs': {'shape': shape, 'data': paths['data.npy'],
                                                        'labels': paths['label.pkl'], 'weights': paths['weights.pt']}}
            cmd = [sys.executable, os.path.abspath(__file__), '--case', json.dumps(spec)]
        elif command in ('main', 'main_amp'):
            cmd = [sys.executable, 'main.py', 'recognition', '--phase', 'test', '--config', EVAL_CONFIGS[shape],
                   '--weights', paths['weights.pt'], '--work_dir', os.path.join(tmp, 'work'), '--use_gpu', 'false',
                   '--test_batch_size', str(EVAL_BATCH), '--test_feeder_args', f'data_path={paths["data.npy"]}',
                   f'label_path={paths["label.pkl"]}', '--amp', 'true' if command == 'main_amp' else 'false']
        else:
            raise ValueError(f'command {command!r} is not one of original, main, main_amp')
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        process_s = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(f'{" ".join(cmd[:4])} failed: ' + (proc.stderr.strip().splitlines() or ['?'])[-1])
        inner = json.loads(proc.stdout.strip().splitlines()[-1]) if command == 'original' else {}
    flops = flops_per_clip(build_model(shape).eval(), clips(shape, 1, T), train=False)
    return {'command': command, 'clips': N, 'process_s': process_s, 'clips_s': N / process_s, 'inner': inner,
            'flops_per_clip': flops}


CASES = {'infer_speed': case_infer_speed, 'infer_memory': case_infer_memory, 'train_speed': case_train_speed,
         'compile': case_compile, 'bf16_agreement': case_bf16_agreement, 'epoch': case_epoch,
         'csv2json': case_csv2json, 'gendata': case_gendata, 'gendata_memory': case_gendata_memory,
         'dbscan': case_dbscan, 'extract': case_extract, 'peak': case_peak, 'infer_process': case_infer_process,
         'original_test': case_original_test, 'whole_command': case_whole_command}


def run_case(name: str, env: dict[str, str] | None = None, **kwargs) -> dict:
    """Run one case in a fresh Python process; returns its result plus its peak RSS, or {'error': ...}."""
    cmd = [sys.executable, os.path.abspath(__file__), '--case', json.dumps({'name': name, 'kwargs': kwargs})]
    full_env = {k: v for k, v in os.environ.items() if k != 'THP_MEM_ALLOC_ENABLE'}
    full_env.update(env or {})
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=full_env, cwd=ROOT)
    if proc.returncode != 0:
        logger.warning('%s %s failed: %s', name, kwargs, proc.stderr.strip().splitlines()[-1:])
        return {'error': proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f'exit {proc.returncode}'}
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    logger.info('%s %s%s: %.0f s', name, kwargs, ' ' + str(env) if env else '', time.perf_counter() - t0)
    return result


def plan(quick: bool) -> list[tuple[str, str, dict, dict]]:
    """(label, case, kwargs, env) of every measurement."""
    # large batches also under two allocator settings: PyTorch's huge-page allocations, and glibc never handing
    # large blocks back to the kernel (so that re-allocating them does not page-fault every time)
    allocators = [('', {}), (' THP=1', {'THP_MEM_ALLOC_ENABLE': '1'}),
                  (' glibc-no-mmap', {'MALLOC_MMAP_MAX_': '0', 'MALLOC_TRIM_THRESHOLD_': str(2 ** 40)})]
    # fresh process per path: the machine's peak, each inference path's model time, whole commands
    items = [('peak (GEMM)', 'peak', {'seconds': 0.5 if quick else 2.0}, {})]
    for N in ((64,) if quick else (128, 256)):
        for path in ('reference', 'fp32', 'bf16'):
            items.append((f'process {path} kinetics T=300 N={N}', 'infer_process',
                          {'shape': 'kinetics', 'T': 300, 'N': N, 'path': path}, {}))
        for command in ('original', 'main', 'main_amp'):
            items.append((f'whole {command} kinetics T=300 N={N}', 'whole_command',
                          {'shape': 'kinetics', 'T': 300, 'N': N, 'command': command}, {}))
    infer = [('rat', 150, 8), ('rat', 150, 64), ('kinetics', 150, 8)] if quick else \
        [(s, 300, n) for s in ('kinetics', 'rat') for n in (8, 64)]
    for shape, T, N in infer:
        for tag, env in (allocators if N >= 64 else allocators[:1]):
            items.append((f'infer {shape} T={T} N={N}{tag}', 'infer_speed',
                          {'shape': shape, 'T': T, 'N': N, 'reps': 2 if quick else 3}, env))
            for path in ('reference', 'fp32', 'bf16'):
                items.append((f'memory {path} {shape} T={T} N={N}{tag}', 'infer_memory',
                              {'shape': shape, 'T': T, 'N': N, 'path': path}, env))
    if not quick:
        for mb in (1, 2, 4, 8, 16, 32):
            items.append((f'micro-batch {mb} kinetics T=300 N=32', 'infer_speed',
                          {'shape': 'kinetics', 'T': 300, 'N': 32, 'reps': 2, 'micro_batch': mb}, {}))
    train = [('rat', 150, 16), ('kinetics', 150, 16)] if quick else \
        [(s, 150, n) for s in ('kinetics', 'rat') for n in (8, 16, 64)]
    for shape, T, N in train:
        items.append((f'train {shape} T={T} N={N}', 'train_speed',
                      {'shape': shape, 'T': T, 'N': N, 'reps': 2 if quick else 3}, {}))
    items.append(('compile, infer kinetics T=300 N=16', 'compile',
                  {'shape': 'kinetics', 'T': 300, 'N': 16, 'reps': 2 if quick else 3, 'train': False}, {}))
    if not quick:
        items.append(('compile, infer rat windows T=64 N=370', 'compile',
                      {'shape': 'rat', 'T': 64, 'N': 370, 'reps': 3, 'train': False}, {}))
        items.append(('compile, train rat T=150 N=16', 'compile',
                      {'shape': 'rat', 'T': 150, 'N': 16, 'reps': 3, 'train': True}, {}))
    items.append(('bf16 agreement (rat)', 'bf16_agreement',
                  {'T': 32, 'n_train': 64 if quick else 512, 'n_test': 128 if quick else 512,
                   'epochs': 4 if quick else 6}, {}))
    items.append(('epoch (Feeder + DataLoader)', 'epoch',
                  {'n': 200 if quick else 2000, 'T': 64 if quick else 150, 'batch': 16, 'workers': 2}, {}))
    items.append(('csv2json', 'csv2json', {'frames': 20000 if quick else 100000}, {}))
    items.append(('kinetics_gendata', 'gendata', {'n': 40 if quick else 400, 'T': 300}, {}))
    for n in ((40, 160) if quick else (100, 400)):
        items.append((f'kinetics_gendata memory, {n} clips', 'gendata_memory', {'n': n, 'T': 300}, {}))
    items.append(('dbscan', 'dbscan', {'n': 5000, 'd': 256}, {}))
    items.append(('extract', 'extract', {'n': 64, 'T': 150}, {}))
    return items


# (inference path, whole command, what the command is) reported side by side
SIDE_BY_SIDE = (('reference', 'original', 'the original processor'), ('fp32', 'main', 'main.py --phase test'),
                ('bf16', 'main_amp', 'main.py --phase test --amp true'))


def share_of_peak(result: dict, peak: dict | None, bf16: bool) -> str:
    """', 12% of the fp32 peak' for a result with flops_per_clip and clips_s ('' without a peak)."""
    kind = 'bf16' if bf16 else 'fp32'
    if not peak or not peak.get(kind):
        return ''
    gflops = result['flops_per_clip'] * result['clips_s'] / 1e9
    return f', {100 * gflops / peak[kind]:.0f}% of the {kind} peak'


def side_by_side(results: list[dict]) -> str:
    """Model-only and whole-process figures of the fresh-process cases, per (shape, T, N), with ratios to the
    original and shares of the measured GEMM peak."""
    peak = next((item['result'] for item in results if item['case'] == 'peak' and 'error' not in item['result']),
                None)
    groups: dict[tuple, dict[str, dict]] = {}
    for item in results:
        r = item['result']
        if item['case'] in ('infer_process', 'whole_command') and 'error' not in r:
            k = item['kwargs']
            name = r['path'] if item['case'] == 'infer_process' else r['command']
            groups.setdefault((k['shape'], k['T'], k['N']), {})[name] = r
    lines = []
    for (shape, T, N), group in groups.items():
        head = f'{shape} T={T}, {N} clips, batches of {EVAL_BATCH}, a fresh process for each figure'
        if peak:
            head += f'; measured peak (oneDNN GEMM): fp32 {peak["onednn_fp32"]:.0f}, bf16 {peak["bf16"]:.0f} GFLOP/s'
        lines.append(head)
        for path, command, what in SIDE_BY_SIDE:
            cells = []
            for name, kind, ref in ((path, 'model only', 'reference'), (command, f'whole process, {what}', 'original')):
                r = group.get(name)
                if r is None:
                    continue
                base = group.get(ref, {}).get('clips_s')
                ratio = f' ({r["clips_s"] / base:.2f}x)' if base else ''
                seconds = f', {r["process_s"]:.1f} s' if 'process_s' in r else ''
                cells.append(f'{kind} {r["clips_s"]:.2f} clips/s{ratio}{seconds}'
                             f'{share_of_peak(r, peak, path == "bf16")}')
            if cells:
                lines.append(f'  {path:9s} ' + '; '.join(cells))
    return '\n'.join(lines)


def table(results: list[dict]) -> str:
    lines = [f'{"measurement":46s} {"result"}']
    for item in results:
        r = item['result']
        if 'error' in r:
            text = 'error: ' + r['error']
        elif item['case'] in ('infer_speed', 'train_speed'):
            ref = r['reference']['clips_s']
            parts = []
            for k in ('reference', 'fp32', 'bf16'):
                if k in r:
                    of_bf16 = f', {100 * r[k]["of_bf16_gemm"]:.0f}% of bf16' if 'of_bf16_gemm' in r[k] else ''
                    parts.append(f'{k} {r[k]["clips_s"]:.2f} clips/s ({r[k]["clips_s"] / ref:.2f}x, '
                                 f'{100 * r[k]["of_matmul"]:.0f}% of fp32 GEMM{of_bf16})')
            gemm = r.get('gemm', {})
            text = '; '.join(parts) + f'; {r["flops_per_clip"] / 1e9:.1f} GFLOP/clip; GEMM GFLOP/s fp32 ' \
                f'{r["matmul_gflops"]:.0f} (torch.mm {gemm.get("mm_fp32", 0):.0f}, oneDNN ' \
                f'{gemm.get("onednn_fp32", 0):.0f}), bf16 {gemm.get("bf16", 0):.0f}'
        elif item['case'] == 'compile':
            paths = [k for k in r if isinstance(r[k], dict)]
            text = '; '.join(f'{k} {r[k]["clips_s"]:.2f} clips/s' for k in paths)
            first = ', '.join(f'{k[len("first_call_"):-2] or "first"} {v:.0f} s' for k, v in r.items()
                              if k.startswith('first_call'))
            text += f' (first call, compiling: {first})'
        elif item['case'] == 'infer_memory':
            text = f'peak RSS {r["peak_rss_mb"]:.0f} MB'
        elif item['case'] == 'peak':
            text = f'GEMM GFLOP/s: oneDNN fp32 {r["onednn_fp32"]:.0f}, torch.mm fp32 {r["mm_fp32"]:.0f}, ' \
                f'oneDNN bf16 {r["bf16"]:.0f}'
        elif item['case'] == 'infer_process':
            text = f'model only {r["clips_s"]:.2f} clips/s ({r["model_s"]:.1f} s, first batch ' \
                f'{r["batch_s"][0]:.1f} s; set-up {r["setup_s"]:.1f} s)'
        elif item['case'] == 'whole_command':
            text = f'whole process {r["clips_s"]:.2f} clips/s ({r["process_s"]:.1f} s)'
            if r.get('inner'):
                inner = r['inner']
                text += f'; inside it: model {inner["model_s"]:.1f} s, data {inner["data_s"]:.1f} s, ' \
                    f'build and load {inner["build_load_s"]:.1f} s'
        else:
            text = ', '.join(f'{k}={v:.3g}' if isinstance(v, float) else f'{k}={v}' for k, v in r.items()
                             if k != 'peak_rss_mb')
        lines.append(f'{item["label"]:46s} {text}')
    summary = side_by_side(results)
    if summary:
        lines += ['', summary]
    return '\n'.join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='ST-GCN speed benchmark: model, data pipeline and tools')
    parser.add_argument('--quick', action='store_true', help='small sizes; finishes in a few minutes')
    parser.add_argument('--out', default='benchmarks/results.json', help='JSON file for the results')
    parser.add_argument('--only', nargs='+', default=None, help='run only these cases (names: ' +
                        ', '.join(CASES) + ')')
    parser.add_argument('--case', default=None, help=argparse.SUPPRESS)  # internal: one case, JSON on stdout
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.case:
        spec = json.loads(args.case)
        result = CASES[spec['name']](**spec['kwargs'])
        result['peak_rss_mb'] = maxrss_mb()
        print(json.dumps(result))
        return 0
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(message)s')
    if args.only:
        unknown = sorted(set(args.only) - set(CASES))
        if unknown:
            raise ValueError(f'--only: unknown case(s) {unknown}; choose from {", ".join(CASES)}')
    results = []
    meta = {'date': time.strftime('%Y-%m-%d %H:%M'), 'torch': torch.__version__, 'threads': torch.get_num_threads(),
            'cpu_capability': torch.backends.cpu.get_cpu_capability(), 'bf16': bf16_supported(),
            'load_average_start': os.getloadavg(), 'quick': args.quick}
    for label, case, kwargs, env in plan(args.quick):
        if args.only and case not in args.only:
            continue
        results.append({'label': label, 'case': case, 'kwargs': kwargs, 'env': env,
                        'result': run_case(case, env, **kwargs)})
    meta['load_average_end'] = os.getloadavg()
    from torchlight import atomic_write
    with atomic_write(args.out, 'w') as handle:
        json.dump({'meta': meta, 'results': results}, handle, indent=1)
    sys.stdout.write(table(results) + '\n')
    logger.info('wrote %s (load average %s -> %s)', args.out, meta['load_average_start'], meta['load_average_end'])
    return 0


if __name__ == '__main__':
    from torchlight import run_cli
    run_cli(main)

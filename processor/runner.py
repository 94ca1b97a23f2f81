"""Running a model forward for evaluation, extraction and labelling: precision (--amp), torch.compile (--compile)
and the fast inference copy of net.utils.inference.

:func:`make_runner` returns a function ``data -> (class scores, pooled embeddings or None)`` that every evaluating
command uses (recognition's test, extract, demo), so all of them run a trained model the same way.
"""
from __future__ import annotations

import logging
import shutil
from typing import Callable

import torch

logger = logging.getLogger(__name__)

Runner = Callable[[torch.Tensor], 'tuple[torch.Tensor, torch.Tensor | None]']


def amp_policy(device: torch.device, enabled: bool) -> tuple[torch.dtype | None, bool]:
    """(autocast dtype or None, whether a GradScaler is needed) of ``--amp`` on ``device``.

    CUDA: bfloat16 where the GPU supports it, else float16 with a GradScaler. CPU: bfloat16 where oneDNN has
    fast bfloat16 kernels (AVX512-BF16/AMX), else None (float32).
    """
    if not enabled:
        return None, False
    if device.type == 'cuda':
        if torch.cuda.is_bf16_supported():
            return torch.bfloat16, False
        return torch.float16, True
    if device.type == 'cpu':
        try:
            supported = torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()
        except (AttributeError, RuntimeError):
            supported = False
        return (torch.bfloat16, False) if supported else (None, False)
    return None, False


def autocast(device: torch.device, dtype: torch.dtype | None):
    """The autocast context of ``--amp`` (a no-op context without it)."""
    return torch.autocast(device_type=device.type, dtype=dtype or torch.float32, enabled=dtype is not None)


def cxx_compiler() -> str | None:
    """The C++ compiler torch.compile's CPU backend would use (CXX, else c++/g++/clang++ on PATH), or None."""
    import os
    candidates = [os.environ['CXX']] if os.environ.get('CXX') else ['c++', 'g++', 'clang++']
    return next((path for path in map(shutil.which, candidates) if path), None)


def compiling_message(mode: str, what: str) -> str:
    """The log line that says --compile compiles ``what`` at its first batch, which therefore takes longer."""
    return (f'--compile {mode}: compiling {what} with torch.compile at its first batch (seconds to a minute on a '
            '2-core CPU, per input shape and precision).')


def make_runner(model: torch.nn.Module, device: torch.device, amp_dtype: torch.dtype | None, compile_mode: str,
                clips_per_process: int) -> Runner:
    """A function data -> (class scores, pooled embeddings or None) for evaluation batches.

    The fast path (net.utils.inference): a copy of the model with BatchNorm folded into its convolutions, run
    in CPU micro-batches under inference_mode (bf16 autocast with --amp); with ``compile_mode`` eval or all, the
    copy's backbone is compiled and every pass has one shape (a whole test batch, or on CPU the default pass if
    that is smaller; a short last one padded). A DataParallel model over several GPUs, or float16 autocast on an
    older GPU, runs as it is.
    """
    from net.utils.inference import compile_for_inference, default_micro_batch, predict, prepare_for_inference
    bare = model.module if hasattr(model, 'module') else model
    with_features = all(hasattr(bare, n) for n in ('forward_features', 'pool_features', 'forward_head'))
    compile_eval = compile_mode in ('eval', 'all')
    if not isinstance(model, torch.nn.DataParallel) and amp_dtype in (None, torch.bfloat16):
        prepared = prepare_for_inference(bare)
        if compile_eval:
            logger.info(compiling_message(compile_mode, 'the evaluation copy'))
            prepared = compile_for_inference(prepared)

        def fast(data: torch.Tensor):
            micro_batch = None
            if compile_eval:
                micro_batch = (min(default_micro_batch(data), clips_per_process) if data.device.type == 'cpu'
                               else clips_per_process)
            result = predict(prepared, data, micro_batch=micro_batch, amp=amp_dtype is not None,
                             features=with_features, pad_last=compile_eval)
            return result if with_features else (result, None)
        return fast
    if compile_eval:
        why = 'DataParallel' if isinstance(model, torch.nn.DataParallel) else 'float16 autocast'
        logger.info('--compile %s: the evaluation is not compiled under %s.', compile_mode, why)
    model.eval()

    def plain(data: torch.Tensor):
        with torch.inference_mode(), autocast(device, amp_dtype):
            return model(data).float(), None
    return plain

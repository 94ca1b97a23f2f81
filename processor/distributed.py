"""DistributedDataParallel under torchrun: environment, process group and the few collectives the processors use.

torchrun (``python -m torch.distributed.run``) starts one process per GPU (or per CPU slot) and sets ``RANK``,
``WORLD_SIZE`` and ``LOCAL_RANK``; a plain ``python main.py`` sets none of them and runs as a single process.
"""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import Any, Iterator

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits in a torchrun job (rank 0 of 1 when not under torchrun)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def detect(environ: dict[str, str] | None = None) -> DistInfo:
    """Read RANK, WORLD_SIZE and LOCAL_RANK as torchrun sets them; a ValueError names a malformed variable."""
    env = os.environ if environ is None else environ
    values = {}
    for name, default in (('RANK', 0), ('WORLD_SIZE', 1), ('LOCAL_RANK', None)):
        text = env.get(name)
        if text is None or text == '':
            values[name] = default
            continue
        try:
            values[name] = int(text)
        except ValueError:
            raise ValueError(f'environment variable {name}={text!r} is not an integer (set by torchrun)') from None
    if values['LOCAL_RANK'] is None:
        values['LOCAL_RANK'] = values['RANK']
    info = DistInfo(rank=values['RANK'], world_size=values['WORLD_SIZE'], local_rank=values['LOCAL_RANK'])
    if info.world_size < 1 or not 0 <= info.rank < info.world_size:
        raise ValueError(f'RANK={info.rank} and WORLD_SIZE={info.world_size} do not fit (need 0 <= RANK < '
                         'WORLD_SIZE); start distributed runs with torchrun')
    return info


def init(info: DistInfo, device: torch.device) -> str:
    """Join the process group: NCCL for CUDA devices, gloo for CPUs. Returns the backend name."""
    if not info.enabled or is_initialized():
        return dist.get_backend() if is_initialized() else ''
    backend = 'nccl' if device.type == 'cuda' else 'gloo'
    kwargs: dict[str, Any] = {}
    if device.type == 'cuda':
        kwargs['device_id'] = device
    dist.init_process_group(backend=backend, rank=info.rank, world_size=info.world_size, **kwargs)
    return backend


def is_initialized() -> bool:
    return dist.is_available() and dist.is_initialized()


def all_gather_objects(obj: Any) -> list[Any]:
    """Every rank's ``obj`` (picklable), in rank order; ``[obj]`` outside a distributed run."""
    if not is_initialized():
        return [obj]
    gathered: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, obj)
    return gathered


def mean_over_ranks(value: float, device: torch.device) -> float:
    """The mean of a float over all ranks (the value itself outside a distributed run)."""
    if not is_initialized():
        return float(value)
    tensor = torch.tensor([float(value)], dtype=torch.float64, device=device)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return float(tensor.item()) / dist.get_world_size()


def broadcast_buffers(module: torch.nn.Module, src: int = 0) -> None:
    """Copy rank ``src``'s buffers (BatchNorm running statistics) to every rank, so evaluation sees one model."""
    if not is_initialized():
        return
    with torch.no_grad():
        for buffer in module.buffers():
            dist.broadcast(buffer, src)


def barrier() -> None:
    if is_initialized():
        dist.barrier()


@contextlib.contextmanager
def process_group_closed_after() -> Iterator[None]:
    """Run the block, then leave the process group: after all ranks finished, or at once after an error."""
    try:
        yield
    except BaseException:
        shutdown(wait=False)
        raise
    shutdown()


def shutdown(wait: bool = True) -> None:
    """Leave the process group; with ``wait`` all ranks first wait for each other (not after an error, when the
    other ranks may be stuck in another collective: torchrun then stops them)."""
    if is_initialized():
        if wait:
            dist.barrier()
        dist.destroy_process_group()

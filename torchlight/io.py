"""IO: the work directory, logging, and saving/loading of results and weights for the processors."""
from __future__ import annotations

import logging
import os
import pickle
import sys
from collections import OrderedDict
from typing import Any, Iterable, Mapping

import numpy as np
import yaml

from .util import atomic_write, save_pickle

logger = logging.getLogger('st-gcn')

_LOG_FORMAT = '[%(asctime)s] %(message)s'
_DATE_FORMAT = '%m.%d.%y|%H:%M:%S'


def setup_logging(work_dir: str | None, print_log: bool = True, save_log: bool = True,
                  level: int = logging.INFO) -> None:
    """Configure the project's loggers once: console and ``work_dir/log.txt``, with timestamps."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, '_st_gcn', False):
            root.removeHandler(handler)
            handler.close()
    formatter = logging.Formatter(_LOG_FORMAT, _DATE_FORMAT)
    if print_log:
        console = logging.StreamHandler(sys.stdout)
        console.setFormatter(formatter)
        console._st_gcn = True
        root.addHandler(console)
    if save_log and work_dir:
        os.makedirs(work_dir, exist_ok=True)
        file_handler = logging.FileHandler(os.path.join(work_dir, 'log.txt'), encoding='utf-8')
        file_handler.setFormatter(formatter)
        file_handler._st_gcn = True
        root.addHandler(file_handler)
    root.setLevel(level)


class IO:
    """Work-directory IO shared by the processors: the log, the resolved config, pickles and model files."""

    def __init__(self, work_dir: str, save_log: bool = True, print_log: bool = True, enabled: bool = True):
        self.work_dir = work_dir
        self.enabled = enabled  # False on non-zero ranks of a distributed run: log nothing, write nothing
        if enabled:
            os.makedirs(work_dir, exist_ok=True)
            setup_logging(work_dir, print_log, save_log)

    # ------------------------------------------------------------ logging
    def print_log(self, message: str) -> None:
        if self.enabled:
            logger.info(message)

    # ------------------------------------------------------------ files
    def save_arg(self, arg: Mapping[str, Any] | Any, command_line: Iterable[str] | None = None) -> None:
        """Write the resolved config to ``work_dir/config.yaml`` with the command line as a header comment."""
        if not self.enabled:
            return
        values = dict(vars(arg)) if not isinstance(arg, Mapping) else dict(arg)
        command = ' '.join(command_line if command_line is not None else sys.argv)
        with atomic_write(os.path.join(self.work_dir, 'config.yaml'), 'w') as handle:
            handle.write(f'# command line: {command}\n\n')
            yaml.safe_dump(plain(values), handle, default_flow_style=False, sort_keys=True)

    def save_pkl(self, result: Any, filename: str) -> None:
        if self.enabled:
            save_pickle(os.path.join(self.work_dir, filename), result)

    def save_model(self, model, name: str, extra: Mapping[str, Any] | None = None) -> None:
        """Save the model's weights (CPU tensors, no ``module.`` prefix) atomically.

        Without ``extra`` the file is a plain state dict, as the original wrote; with it, a dict
        ``{'state_dict': weights, **extra}`` of plain values (what ``torch.load(weights_only=True)`` reads).
        """
        if not self.enabled:
            return
        import torch
        state_dict = model.state_dict()
        weights = OrderedDict((_strip_module(k), v.detach().cpu()) for k, v in state_dict.items())
        content = weights if extra is None else {**plain(dict(extra)), 'state_dict': weights}
        with atomic_write(os.path.join(self.work_dir, name), 'wb') as handle:
            torch.save(content, handle)
        self.print_log(f'The model has been saved as {os.path.join(self.work_dir, name)}.')


def _strip_module(key: str) -> str:
    return key[len('module.'):] if key.startswith('module.') else key


def plain(value: Any) -> Any:
    """Config values as YAML-safe builtins (also what a weights_only checkpoint can hold)."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def torch_load(path: str, what: str = 'PyTorch weights file') -> Any:
    """``torch.load(path, weights_only=True)`` on the CPU: plain data and tensors only, no code runs.

    A missing file is a FileNotFoundError, a file that is not such data (or holds objects that could run code) a
    ValueError naming the file and ``what`` it was expected to be.
    """
    import torch
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{path}: {what} not found')
    try:
        return torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as exc:
        found = str(exc).split('GLOBAL ')[-1].split(' ')[0] if 'GLOBAL ' in str(exc) else ''
        detail = (f'it holds {found}, which torch.load(weights_only=True) refuses because loading it could run code'
                  if found else 'not a PyTorch file of tensors')
        raise ValueError(f'{path}: not a loadable {what} ({detail})') from None
    except Exception as exc:  # torch raises many types for a bad file; all mean the same to the user
        raise ValueError(f'{path}: not a loadable {what} ({exc.__class__.__name__}: '
                         f'{str(exc).splitlines()[0] if str(exc) else ""})') from None


def read_state_dict(weights_path: str, content: Any = None) -> OrderedDict:
    """Read a weights file: a plain state dict (the published models, older epoch<N>_model.pt), a model file with
    its input spec (``state_dict`` entry) or a training checkpoint (``model`` entry). ``content``: the file's
    content when the caller has loaded it already."""
    if content is None and not os.path.isfile(weights_path):
        raise FileNotFoundError(f'{weights_path}: weights file not found (download the published models with '
                                '`bash tools/get_models.sh`, or give the path of a trained epoch<N>_model.pt)')
    state = torch_load(weights_path, 'PyTorch weights file') if content is None else content
    if isinstance(state, Mapping):
        for key in ('state_dict', 'model'):
            if key in state and isinstance(state[key], Mapping):
                state = state[key]
                break
    if not isinstance(state, Mapping):
        raise ValueError(f'{weights_path}: expected a state dict, found {type(state).__name__}')
    return OrderedDict((_strip_module(k), v) for k, v in state.items())


def load_state_dict_strict(model, weights_path: str, ignore_weights: Iterable[str] | None = None) -> None:
    """Load ``weights_path`` into ``model``, refusing any partial or mis-shaped load.

    Tolerated silently: a ``module.`` prefix (multi-GPU checkpoints) and absent ``num_batches_tracked`` buffers
    (checkpoints from older PyTorch). Keys starting with a prefix in ``ignore_weights`` are dropped from the file
    and may be missing. Anything else missing, unexpected or of the wrong shape raises a ValueError naming the keys.
    """
    load_state_dict_checked(model, read_state_dict(weights_path), weights_path, ignore_weights)


def load_state_dict_checked(model, weights: Mapping[str, Any], source: str,
                            ignore_weights: Iterable[str] | None = None) -> None:
    """Load an in-memory state dict as :func:`load_state_dict_strict` does; ``source`` names it in errors."""
    ignore = tuple(ignore_weights or ())
    weights = OrderedDict((_strip_module(k), v) for k, v in weights.items())
    target = model.module if hasattr(model, 'module') else model
    own = target.state_dict()
    weights = OrderedDict((k, v) for k, v in weights.items() if not k.startswith(ignore)) if ignore else weights
    missing = [k for k in own if k not in weights and not k.endswith('num_batches_tracked')
               and not (ignore and k.startswith(ignore))]
    unexpected = [k for k in weights if k not in own]
    mis_shaped = [f'{k} (file {tuple(weights[k].shape)}, model {tuple(own[k].shape)})'
                  for k in weights if k in own and tuple(weights[k].shape) != tuple(own[k].shape)]
    problems = []
    if missing:
        problems.append(f'missing keys: {_short(missing)}')
    if unexpected:
        problems.append(f'unexpected keys: {_short(unexpected)}')
    if mis_shaped:
        problems.append(f'mis-shaped keys: {_short(mis_shaped)}')
    if problems:
        raise ValueError(f'{source}: does not fit the model ({"; ".join(problems)}); '
                         'is it a checkpoint of a different model, layout or num_class?')
    for k in own:
        if k.endswith('num_batches_tracked') and k not in weights and not (ignore and k.startswith(ignore)):
            weights[k] = own[k]
    target.load_state_dict(weights, strict=not ignore)


def _short(keys: list[str], limit: int = 6) -> str:
    shown = ', '.join(keys[:limit])
    return shown + (f' and {len(keys) - limit} more' if len(keys) > limit else '')

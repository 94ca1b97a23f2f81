"""IO processor: arguments (command line > config file > defaults), environment, model and weights."""
from __future__ import annotations

import argparse
import logging
import os
import random
import sys
from typing import Any, Sequence

import numpy as np
import torch
import yaml

import torchlight
from torchlight import DictAction, import_class, str2bool
from torchlight.io import load_state_dict_strict

from . import distributed

logger = logging.getLogger(__name__)


class ConfigError(ValueError):
    """A bad config file or option; main.py exits with code 2 for it."""


def read_config(path: str, valid: Sequence[str]) -> dict[str, Any]:
    """Read a YAML config with ``yaml.safe_load``; an unknown key names the key, the file and the closest option."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{path}: config file not found')
    with open(path, encoding='utf-8') as handle:
        try:
            config = yaml.safe_load(handle) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, 'problem_mark', None)
            where = f' at line {mark.line + 1}' if mark else ''
            raise ConfigError(f'{path}: not valid YAML{where}') from None
    if not isinstance(config, dict):
        raise ConfigError(f'{path}: expected a mapping of option: value, found {type(config).__name__}')
    for key in config:
        if key not in valid:
            raise ConfigError(f'{path}: unknown option {key!r}{torchlight.closest(str(key), valid)}')
    return config


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2 ** 32)
    torch.manual_seed(seed)


def derived_seed(*parts: int) -> int:
    """A 63-bit seed mixed from integers (seed, epoch, rank, ...): distinct inputs give unrelated seeds."""
    entropy = [int(p) % 2 ** 63 for p in parts]
    return int(np.random.SeedSequence(entropy).generate_state(1, dtype=np.uint64)[0] % 2 ** 63)


class IO:
    """Base processor: parses arguments, sets up the device and work directory, builds the model."""

    def __init__(self, argv: Sequence[str] | None = None):
        self.load_arg(argv)
        self.init_environment()
        self.load_model()
        self.load_weights()
        self.gpu()
        self.prepare()

    def prepare(self) -> None:
        """What a processor sets up once the model is on its device (data, optimiser, ...); nothing here."""

    # ------------------------------------------------------------ arguments
    def load_arg(self, argv: Sequence[str] | None = None) -> None:
        argv = list(sys.argv[1:] if argv is None else argv)
        parser = self.get_parser()
        first = parser.parse_args(argv)
        config: dict[str, Any] = {}
        if first.config:
            config = read_config(first.config, list(vars(first)))
            parser.set_defaults(**config)
        self.arg = parser.parse_args(argv)
        # key=value options given on the command line merge into the config file's dict
        given = self._given_on_command_line(argv)
        for action in parser._actions:
            if isinstance(action, DictAction) and action.dest in given and isinstance(config.get(action.dest), dict):
                merged = dict(config[action.dest])
                merged.update(given[action.dest])
                setattr(self.arg, action.dest, merged)
        self.command_line = ['main.py', getattr(self, 'command_name', '')] + argv
        self.validate_arg()

    def _given_on_command_line(self, argv: Sequence[str]) -> dict[str, Any]:
        parser = self.get_parser()
        for action in parser._actions:
            action.default = argparse.SUPPRESS
        return vars(parser.parse_args(argv))

    def validate_arg(self) -> None:
        """Check option values that argparse cannot; raise ConfigError naming the option."""
        if not self.arg.model:
            raise ConfigError('no model given: set --model (e.g. net.st_gcn.Model) or use a config file (-c)')

    def init_environment(self) -> None:
        self.dist = distributed.detect()
        self.dev = self.select_device()
        distributed.init(self.dist, self.dev)
        self.io = torchlight.IO(self.arg.work_dir, save_log=self.arg.save_log, print_log=self.arg.print_log,
                                enabled=self.is_main_process)
        self.io.save_arg(self.arg, self.command_line)
        if self.dist.enabled:
            self.io.print_log(f'Distributed run: {self.dist.world_size} processes, backend '
                              f'{torch.distributed.get_backend()}, rank 0 writes the outputs.')
        # without --seed, draw one (and log it) so that the run's loaders still have a seed to derive from
        self.seed = self.arg.seed if self.arg.seed is not None else int.from_bytes(os.urandom(4), 'little')
        if self.arg.seed is None:
            self.io.print_log(f'No --seed given; using seed {self.seed}.')
        seed_everything(self.seed + self.dist.rank)  # every rank its own dropout/augmentation stream

    @property
    def is_main_process(self) -> bool:
        """True on the one process that logs and writes files (rank 0 of a torchrun job, or the only process)."""
        dist_info = getattr(self, 'dist', None)
        return dist_info is None or dist_info.is_main

    # ------------------------------------------------------------ device
    def select_device(self) -> torch.device:
        use_gpu = self.arg.use_gpu
        if use_gpu is None:
            use_gpu = torch.cuda.is_available()
        if use_gpu and not torch.cuda.is_available():
            raise ConfigError('--use_gpu true was given but no CUDA device is available (use --use_gpu false '
                              'or leave it unset to run on the CPU)')
        self.use_gpu = bool(use_gpu)
        if not self.use_gpu:
            return torch.device('cpu')
        if self.dist.enabled:  # torchrun: one GPU per process, chosen by LOCAL_RANK (CUDA_VISIBLE_DEVICES selects)
            available = torch.cuda.device_count()
            if self.dist.local_rank >= available:
                raise ConfigError(f'LOCAL_RANK={self.dist.local_rank} but only {available} GPU(s) are visible: '
                                  'give torchrun --nproc_per_node at most the number of GPUs')
            self.devices = [self.dist.local_rank]
            torch.cuda.set_device(self.dist.local_rank)
            return torch.device('cuda', self.dist.local_rank)
        devices = list(self.arg.device) if isinstance(self.arg.device, (list, tuple)) else [self.arg.device]
        available = torch.cuda.device_count()
        bad = [d for d in devices if not 0 <= int(d) < available]
        if bad:
            raise ConfigError(f'--device {" ".join(map(str, devices))}: GPU {bad[0]} does not exist '
                              f'({available} visible)')
        self.devices = [int(d) for d in devices]
        return torch.device('cuda', self.devices[0])

    # ------------------------------------------------------------ model
    def load_model(self) -> None:
        model_class = import_class(self.arg.model)
        try:
            self.model = model_class(**self.arg.model_args)
        except TypeError as exc:
            raise ConfigError(f'model_args do not fit {self.arg.model}: {exc}') from None

    def load_weights(self) -> None:
        if self.arg.weights:
            self.io.print_log(f'Load weights from {self.arg.weights}.')
            load_state_dict_strict(self.model, self.arg.weights, self.arg.ignore_weights)

    def gpu(self) -> None:
        self.model = self.model.to(self.dev)
        if self.dist.enabled:
            from torch.nn.parallel import DistributedDataParallel
            self.model = DistributedDataParallel(self.model, device_ids=[self.dev.index] if self.use_gpu else None)
        elif self.use_gpu and len(self.devices) > 1:
            self.model = torch.nn.DataParallel(self.model, device_ids=self.devices, output_device=self.devices[0])

    @property
    def bare_model(self) -> torch.nn.Module:
        """The model without a DataParallel/DistributedDataParallel wrapper."""
        return self.model.module if hasattr(self.model, 'module') else self.model

    def start(self) -> None:
        self.io.print_log(f'Parameters:\n{vars(self.arg)}\n')

    # ------------------------------------------------------------ options
    @staticmethod
    def get_parser(add_help: bool = False) -> argparse.ArgumentParser:
        parser = argparse.ArgumentParser(add_help=add_help, description='IO processor')
        parser.add_argument('-w', '--work_dir', default='./work_dir/tmp', help='folder for logs, config, weights and results')
        parser.add_argument('-c', '--config', default=None, help='YAML config file; command-line options override it')
        parser.add_argument('--use_gpu', type=str2bool, default=None,
                            help='true/false; default: use CUDA when it is available')
        parser.add_argument('--device', type=int, default=[0], nargs='+',
                            help='CUDA device indices; several mean DataParallel over them (under torchrun each '
                                 'process uses GPU LOCAL_RANK instead)')
        parser.add_argument('--print_log', type=str2bool, default=True, help='print the log to the console (true/false)')
        parser.add_argument('--save_log', type=str2bool, default=True, help='write work_dir/log.txt (true/false)')
        parser.add_argument('--seed', type=int, default=0,
                            help='seed of python, numpy, torch and the data loaders (an integer; same seed, same '
                                 'CPU run)')
        parser.add_argument('--model', default=None, help='model class as a dotted path, e.g. net.st_gcn.Model')
        parser.add_argument('--model_args', action=DictAction, default=dict(),
                            help="model arguments as key=value (Python literals), merged into the config's, e.g. "
                                 "num_class=5 \"graph_args={'layout': 'rat', 'strategy': 'spatial'}\"")
        parser.add_argument('--weights', default=None, help='weights file (.pt state dict) to initialise the model')
        parser.add_argument('--ignore_weights', type=str, default=[], nargs='+',
                            help='name prefixes of weights not to load (e.g. fcn to fine-tune on new classes)')
        return parser

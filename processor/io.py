"""IO processor: the options (command line > config file > defaults > what a model file says), the device, the
work directory and its log, the model and its weights. Every command's processor is an IO.

The set-up runs in this order, each step a method a subclass may extend (calling ``super()``) or replace:
``load_arg`` -> ``init_environment`` -> ``load_model`` -> ``load_weights`` -> ``gpu`` -> ``prepare``; then
``start`` runs the command.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any, Sequence

import torch

import torchlight
from feeder.transforms import AUGMENTATION_ARGS, TRANSFORM_ARGS
from torchlight import DictAction, import_class
from torchlight.io import load_state_dict_checked

from . import distributed, options
from .checkpoint import ModelFile, portable_model_args, portable_transform, read_model_file
from .data import derived_seed, seed_everything  # noqa: F401 - re-exported: the processors' seeding helpers
from .options import ConfigError, read_config  # noqa: F401 - re-exported: what main.py and the tests catch
from .runner import amp_policy

logger = logging.getLogger(__name__)


class IO:
    """Base processor: options, environment, model and weights (see the module docstring for the order)."""

    #: the option groups of processor.options this command takes (its ``-h`` and its config keys)
    OPTION_GROUPS: tuple[str, ...] = ('common', 'model', 'input', 'evaluation')
    #: the name in messages; main.py sets it to the subcommand
    command_name = ''
    #: whether the model is trained (under torchrun it is then wrapped in DistributedDataParallel)
    TRAINS = False

    def __init__(self, argv: Sequence[str] | None = None):
        self.load_arg(argv)
        self.init_environment()
        self.load_model()
        self.load_weights()
        self.gpu()
        self.prepare()

    def prepare(self) -> None:
        """What a processor sets up once the model is on its device (data, optimiser, ...); nothing here."""

    def start(self) -> None:
        self.io.print_log(f'Parameters:\n{vars(self.arg)}\n')

    # ------------------------------------------------------------ options
    @classmethod
    def get_parser(cls, add_help: bool = False) -> argparse.ArgumentParser:
        return options.build_parser(cls.OPTION_GROUPS, description=(cls.__doc__ or '').split('\n')[0],
                                    add_help=add_help)

    def load_arg(self, argv: Sequence[str] | None = None) -> None:
        argv = list(sys.argv[1:] if argv is None else argv)
        parser = self.get_parser()
        first = parser.parse_args(argv)
        valid = list(vars(first))
        config: dict[str, Any] = {}
        self.ignored_config_keys: list[str] = []
        if first.config:
            config = read_config(first.config, valid)
            self.ignored_config_keys = options.other_commands_keys(first.config, valid)
            for action in parser._actions:  # `class_weight: balanced` means [balanced] for a list option
                if action.nargs in ('+', '*') and action.dest in config and not isinstance(
                        config[action.dest], (list, tuple, dict)):
                    config[action.dest] = [config[action.dest]]
            parser.set_defaults(**config)
        self.arg = parser.parse_args(argv)
        # key=value options given on the command line merge into the config file's dict
        given = self._given_on_command_line(argv)
        for action in parser._actions:
            if isinstance(action, DictAction) and action.dest in given and isinstance(config.get(action.dest), dict):
                setattr(self.arg, action.dest, {**config[action.dest], **given[action.dest]})
        self.given = set(config) | set(given)  # the options the user chose (the rest are defaults)
        self.command_line = ['main.py', self.command_name] + argv
        self.validate_arg()
        self.model_file: ModelFile | None = None
        if self.takes_model_file() and self.arg.weights:
            self.model_file = read_model_file(self.arg.weights)
            if self.model_file.has_spec:
                self.apply_model_file(self.model_file)
        if not self.arg.model:
            raise ConfigError('no model given: set --model (e.g. net.st_gcn.Model) or use a config file (-c), or '
                              'give --weights a model file written by training')

    def _given_on_command_line(self, argv: Sequence[str]) -> dict[str, Any]:
        parser = self.get_parser()
        for action in parser._actions:
            action.default = argparse.SUPPRESS
        return vars(parser.parse_args(argv))

    def validate_arg(self) -> None:
        """Check option values that argparse cannot; raise ConfigError naming the option. Runs before any file
        is read."""

    def takes_model_file(self) -> bool:
        """Whether this run takes the model, its arguments and its input preparation from a model file given to
        --weights (evaluation and labelling do; training only initialises from its weights)."""
        return True

    def apply_model_file(self, model_file: ModelFile) -> None:
        """Take --model, --model_args and the test feeder's transform from a model file written by training; a
        value the user gave that contradicts it is refused (the model would silently get other input)."""
        name = model_file.path
        if 'model' in self.given and self.arg.model != model_file.model:
            raise ConfigError(f'--model {self.arg.model} contradicts {name}, a {model_file.model} (leave --model '
                              'out to use the model file\'s)')
        self.arg.model = model_file.model
        if 'model_args' in self.given:
            _check_agree('model_args', portable_model_args(self.arg.model_args), model_file.model_args, name)
        self.arg.model_args = dict(model_file.model_args)
        if model_file.input is not None and model_file.input.transform is not None:
            feeder_args = dict(getattr(self.arg, 'test_feeder_args', None) or {})
            given = {k: v for k, v in feeder_args.items() if k in TRANSFORM_ARGS and k not in AUGMENTATION_ARGS}
            if given:
                _check_agree('test_feeder_args', portable_transform(given), model_file.input.transform, name)
            others = {k: v for k, v in feeder_args.items() if k not in TRANSFORM_ARGS}
            self.arg.test_feeder_args = {**others, **model_file.input.transform}

    # ------------------------------------------------------------ environment
    def init_environment(self) -> None:
        self.dist = distributed.detect()
        self.dev = self.select_device()
        distributed.init(self.dist, self.dev)
        self.io = torchlight.IO(self.arg.work_dir, save_log=self.arg.save_log, print_log=self.arg.print_log,
                                enabled=self.is_main_process)
        self.io.save_arg(self.arg, self.command_line)
        if self.ignored_config_keys:
            self.io.print_log(f'{self.arg.config}: options of other commands left out: '
                              f'{", ".join(self.ignored_config_keys)}.')
        if self.dist.enabled:
            self.io.print_log(f'Distributed run: {self.dist.world_size} processes, backend '
                              f'{torch.distributed.get_backend()}, rank 0 writes the outputs.')
        # without --seed, draw one (and log it) so that the run's loaders still have a seed to derive from
        self.seed = self.arg.seed if self.arg.seed is not None else int.from_bytes(os.urandom(4), 'little')
        if self.arg.seed is None:
            self.io.print_log(f'No --seed given; using seed {self.seed}.')
        seed_everything(self.seed + self.dist.rank)  # every rank its own dropout/augmentation stream
        self.amp_dtype, use_scaler = amp_policy(self.dev, self.arg.amp)
        self.scaler = torch.amp.GradScaler('cuda') if use_scaler else None
        if self.arg.amp:
            if self.amp_dtype is None:
                self.io.print_log('--amp: this CPU has no fast bfloat16 support; running in float32.')
            else:
                self.io.print_log(f'--amp: autocast to {str(self.amp_dtype).replace("torch.", "")} on '
                                  f'{self.dev.type}{" with a GradScaler" if self.scaler else ""}.')

    @property
    def is_main_process(self) -> bool:
        """True on the one process that logs and writes files (rank 0 of a torchrun job, or the only process)."""
        dist_info = getattr(self, 'dist', None)
        return dist_info is None or dist_info.is_main

    def select_device(self) -> torch.device:
        use_gpu = self.arg.use_gpu
        # Apple's mps when there is no CUDA (not under torchrun); untested, see docs/python-api.md
        mps = not torch.cuda.is_available() and not self.dist.enabled and mps_available()
        if use_gpu is None:
            use_gpu = torch.cuda.is_available() or mps
        if use_gpu and not torch.cuda.is_available() and not mps:
            raise ConfigError('--use_gpu true was given but no CUDA device (nor Apple mps) is available (use '
                              '--use_gpu false or leave it unset to run on the CPU)')
        if use_gpu and mps:
            self.use_gpu, self.devices = False, [0]  # CUDA-only paths (pinned memory, DataParallel, NCCL) stay off
            if os.environ.get('PYTORCH_ENABLE_MPS_FALLBACK') != '1':
                logger.warning('Apple mps without PYTORCH_ENABLE_MPS_FALLBACK=1 set before torch was imported: an '
                               'op mps lacks will fail instead of running on the CPU')
            logger.warning('running on Apple mps (untested; --use_gpu false runs on the CPU)')
            return torch.device('mps')
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
        self.label_names = self.read_label_names()

    def read_label_names(self) -> list[str] | None:
        """``--label_names`` (exactly one name per class of the model), else the names a model file carries."""
        num_class = getattr(getattr(self.model, 'origin_stream', self.model), 'num_class', None)
        if getattr(self.arg, 'label_names', None):
            from .report import read_label_names
            return read_label_names(self.arg.label_names, num_class)
        return self.model_file_class_names()

    def model_file_class_names(self) -> list[str] | None:
        spec = self.model_file.input if self.model_file is not None else None
        return list(spec.class_names) if spec is not None and spec.class_names else None

    def load_weights(self) -> None:
        if not self.arg.weights:
            return
        self.io.print_log(f'Load weights from {self.arg.weights}.')
        weights = self.model_file if self.model_file is not None else read_model_file(self.arg.weights)
        load_state_dict_checked(self.model, weights.state_dict, self.arg.weights, self.arg.ignore_weights)

    def gpu(self) -> None:
        self.model = self.model.to(self.dev)
        if self.dist.enabled and self.TRAINS:
            from torch.nn.parallel import DistributedDataParallel
            self.model = DistributedDataParallel(self.model, device_ids=[self.dev.index] if self.use_gpu else None)
        elif self.use_gpu and len(self.devices) > 1:
            self.model = torch.nn.DataParallel(self.model, device_ids=self.devices, output_device=self.devices[0])

    @property
    def bare_model(self) -> torch.nn.Module:
        """The model without a DataParallel/DistributedDataParallel wrapper."""
        return self.model.module if hasattr(self.model, 'module') else self.model


def mps_available() -> bool:
    """Whether this torch build and machine have Apple's Metal (mps) device."""
    backend = getattr(torch.backends, 'mps', None)
    return backend is not None and backend.is_available()


def _check_agree(option: str, mine: dict[str, Any], stored: dict[str, Any], path: str) -> None:
    """Refuse, naming the first key, a value the user gave for ``option`` that differs from the model file's."""
    for key in sorted(mine):
        if mine[key] != stored.get(key):
            raise ConfigError(f'--{option} {key}={mine[key]!r} contradicts {path}, which was trained with '
                              f'{key}={stored.get(key)!r} (leave it out to use the model file\'s)')

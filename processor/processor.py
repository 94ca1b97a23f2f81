"""Processor: data loading, optimiser and the train/test loop shared by the task processors."""
from __future__ import annotations

import argparse
import os
import time
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from torchlight import DictAction, import_class, str2bool

from .io import IO, ConfigError


def _worker_init(worker_id: int) -> None:
    """Give every data-loader worker its own numpy/python seed derived from torch's (seeded) base seed."""
    import random
    seed = torch.initial_seed() % 2 ** 32
    np.random.seed(seed)
    random.seed(seed)


class Processor(IO):
    """Base processor with a train/test schedule; subclasses define train() and test()."""

    def __init__(self, argv=None):
        self.load_arg(argv)
        self.init_environment()
        self.load_model()
        self.load_weights()
        self.gpu()
        self.load_data()
        self.load_optimizer()

    def init_environment(self) -> None:
        super().init_environment()
        self.result: dict[str, Any] = {}
        self.iter_info: dict[str, Any] = {}
        self.epoch_info: dict[str, Any] = {}
        self.meta_info = dict(epoch=0, iter=0)

    def load_optimizer(self) -> None:
        pass

    def validate_arg(self) -> None:
        super().validate_arg()
        if self.arg.phase == 'test' and not self.arg.weights:
            raise ConfigError('--phase test needs --weights (a trained epoch<N>_model.pt or a published model)')
        for name in ('batch_size', 'test_batch_size', 'num_epoch', 'log_interval', 'save_interval', 'eval_interval'):
            if getattr(self.arg, name) < 1:
                raise ConfigError(f'--{name} must be at least 1, got {getattr(self.arg, name)}')

    # ------------------------------------------------------------ data
    def build_feeder(self, args: dict[str, Any], which: str):
        feeder_class = import_class(self.arg.feeder)
        args = dict(args or {})
        if self.arg.debug:
            args['debug'] = True
        try:
            return feeder_class(**args)
        except TypeError as exc:
            raise ConfigError(f'{which}_feeder_args do not fit {self.arg.feeder}: {exc}') from None

    def load_data(self) -> None:
        self.data_loader: dict[str, DataLoader] = {}
        generator = torch.Generator()
        generator.manual_seed(self.arg.seed if self.arg.seed is not None else torch.initial_seed())
        common = dict(num_workers=self.arg.num_worker, worker_init_fn=_worker_init,
                      pin_memory=self.use_gpu, persistent_workers=self.arg.num_worker > 0)
        if self.arg.phase == 'train':
            if not self.arg.train_feeder_args:
                raise ConfigError('--phase train needs train_feeder_args (data_path and label_path of the '
                                  'training split)')
            dataset = self.build_feeder(self.arg.train_feeder_args, 'train')
            self.check_dataset(dataset, 'train', self.arg.batch_size)
            self.data_loader['train'] = DataLoader(dataset, batch_size=self.arg.batch_size, shuffle=True,
                                                   drop_last=True, generator=generator, **common)
        if self.arg.test_feeder_args:
            dataset = self.build_feeder(self.arg.test_feeder_args, 'test')
            self.check_dataset(dataset, 'test', None)
            self.data_loader['test'] = DataLoader(dataset, batch_size=self.arg.test_batch_size, shuffle=False,
                                                  **common)
        elif self.arg.phase == 'test':
            raise ConfigError('--phase test needs test_feeder_args (data_path and label_path)')

    def check_dataset(self, dataset, split: str, batch_size: int | None) -> None:
        """Refuse an empty split, a batch larger than the split, and data that does not fit the model."""
        if len(dataset) == 0:
            raise ValueError(f'the {split} split is empty ({_data_path(dataset)})')
        if batch_size is not None and batch_size > len(dataset):
            raise ValueError(f'--batch_size {batch_size} is larger than the {split} split '
                             f'({len(dataset)} samples in {_data_path(dataset)})')
        sample = dataset[0][0]
        model = self.bare_model
        num_node = getattr(model, 'num_node', None)
        if num_node is None and hasattr(model, 'origin_stream'):
            num_node = model.origin_stream.num_node
        if num_node is not None and sample.shape[2] != num_node:
            raise ValueError(f'{_data_path(dataset)}: the data has V={sample.shape[2]} joints but the model\'s '
                             f'graph has {num_node} nodes (check graph_args layout)')
        in_channels = getattr(model, 'in_channels', None)
        if in_channels is not None and sample.shape[0] != in_channels:
            raise ValueError(f'{_data_path(dataset)}: the data has C={sample.shape[0]} channels but the model '
                             f'expects in_channels={in_channels}')

    # ------------------------------------------------------------ logging helpers
    def show_epoch_info(self) -> None:
        info = ', '.join(f'{k}: {_fmt(v)}' for k, v in self.epoch_info.items())
        self.io.print_log(info)

    def show_iter_info(self) -> None:
        if self.meta_info['iter'] % self.arg.log_interval == 0:
            info = f'\tIter {self.meta_info["iter"]} Done.'
            for k, v in self.iter_info.items():
                info += f' | {k}: {_fmt(v)}'
            self.io.print_log(info)

    def train(self) -> None:
        raise NotImplementedError

    def test(self, evaluation: bool = True) -> None:
        raise NotImplementedError

    # ------------------------------------------------------------ schedule
    def start(self) -> None:
        self.io.print_log(f'Parameters:\n{vars(self.arg)}\n')
        if self.arg.phase == 'train':
            self.run_training()
        elif self.arg.phase == 'test':
            self.io.print_log(f'Model:   {self.arg.model}.')
            self.io.print_log(f'Weights: {self.arg.weights}.')
            self.io.print_log('Evaluation Start:')
            self.test()
            self.io.print_log('Done.\n')
            if self.arg.save_result:
                self.save_result()

    def run_training(self) -> None:
        epoch_times = []
        for epoch in range(self.arg.start_epoch, self.arg.num_epoch):
            started = time.time()
            self.meta_info['epoch'] = epoch
            self.io.print_log(f'Training epoch: {epoch}')
            self.train()
            self.io.print_log('Done.')
            if (epoch + 1) % self.arg.save_interval == 0 or epoch + 1 == self.arg.num_epoch:
                self.io.save_model(self.bare_model, f'epoch{epoch + 1}_model.pt')
            if 'test' in self.data_loader and ((epoch + 1) % self.arg.eval_interval == 0
                                               or epoch + 1 == self.arg.num_epoch):
                self.io.print_log(f'Eval epoch: {epoch}')
                self.test()
                self.io.print_log('Done.')
            epoch_times.append(time.time() - started)
            remaining = (self.arg.num_epoch - epoch - 1) * float(np.mean(epoch_times))
            self.io.print_log(f'Epoch {epoch + 1}/{self.arg.num_epoch} took {epoch_times[-1]:.1f}s, '
                              f'ETA {_duration(remaining)}')
        if self.arg.save_result and 'test' in self.data_loader:
            self.save_result()

    def save_result(self) -> None:
        names = self.data_loader['test'].dataset.sample_name
        result = {str(name): np.asarray(score) for name, score in zip(names, self.result)}
        self.io.save_pkl(result, 'test_result.pkl')
        self.io.print_log(f'Scores of {len(result)} test samples saved to {self.arg.work_dir}/test_result.pkl')

    # ------------------------------------------------------------ options
    @staticmethod
    def get_parser(add_help: bool = False) -> argparse.ArgumentParser:
        parent = IO.get_parser(add_help=False)
        parser = argparse.ArgumentParser(add_help=add_help, parents=[parent], description='Base processor')
        parser.add_argument('--phase', default='train', choices=['train', 'test'], help='train or test')
        parser.add_argument('--save_result', type=str2bool, default=False,
                            help='write work_dir/test_result.pkl (sample name -> class scores) (true/false)')
        parser.add_argument('--start_epoch', type=int, default=0, help='epoch to start training from (0-based)')
        parser.add_argument('--num_epoch', type=int, default=80, help='number of training epochs')
        parser.add_argument('--log_interval', type=int, default=100, help='log every this many iterations')
        parser.add_argument('--save_interval', type=int, default=10,
                            help='save epoch<N>_model.pt every this many epochs (and at the end)')
        parser.add_argument('--eval_interval', type=int, default=5,
                            help='evaluate on the test split every this many epochs (and at the end)')
        parser.add_argument('--feeder', default='feeder.feeder.Feeder', help='dataset class as a dotted path')
        parser.add_argument('--num_worker', type=int, default=min(4, os.cpu_count() or 1),
                            help='data-loader worker processes (0 = load in the main process); default: '
                                 'min(4, CPU cores)')
        parser.add_argument('--train_feeder_args', action=DictAction, default=dict(),
                            help='training feeder arguments as key=value, merged into the config\'s')
        parser.add_argument('--test_feeder_args', action=DictAction, default=dict(),
                            help='test feeder arguments as key=value, e.g. data_path=data/x/val_data.npy')
        parser.add_argument('--batch_size', type=int, default=256, help='training batch size (clips)')
        parser.add_argument('--test_batch_size', type=int, default=256, help='test batch size (clips)')
        parser.add_argument('--debug', action='store_true', help='use only the first 100 samples of each split')
        return parser


def _fmt(value: Any) -> str:
    return f'{value:.4f}' if isinstance(value, float) else str(value)


def _duration(seconds: float) -> str:
    minutes, sec = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f'{hours}:{minutes:02d}:{sec:02d}'


def _data_path(dataset) -> str:
    return str(getattr(dataset, 'data_path', type(dataset).__name__))

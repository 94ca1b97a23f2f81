"""Processor: data loading, optimiser and the train/test loop shared by the task processors."""
from __future__ import annotations

import argparse
import os
import shutil
import time
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, DistributedSampler

from torchlight import DictAction, import_class, str2bool
from torchlight.io import load_state_dict_checked, plain

from . import distributed, report
from .checkpoint import capture_rng_state, cpu_state_dict, load_checkpoint, restore_rng_state, save_checkpoint
from .io import IO, ConfigError, derived_seed


def _worker_init(worker_id: int) -> None:
    """Seed a data-loader worker's numpy and python RNGs (the augmentations use numpy's global RNG).

    torch gives each worker the seed ``base_seed + worker_id``, with ``base_seed`` drawn from the loader's
    generator each epoch (see Processor.set_epoch): distinct per worker and per epoch, the same run to run.
    """
    import random
    seed = torch.initial_seed()
    np.random.seed(derived_seed(seed) % 2 ** 32)
    random.seed(seed)


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


class Processor(IO):
    """Base processor with a train/test schedule; subclasses define train() and test().

    Training writes, to ``work_dir``: ``epoch<N>_model.pt`` (weights) every ``--save_interval`` epochs and at the
    end, ``best_model.pt`` (best validation top-1), ``checkpoint.pt`` (everything ``--resume`` needs),
    ``metrics.csv`` and ``curves.png`` every epoch; the last evaluation adds ``confusion_matrix.png`` and
    ``per_class.csv``.
    """

    def prepare(self) -> None:
        self.load_data()
        self.load_optimizer()
        if self.arg.phase == 'train' and self.arg.resume is not None:
            self.resume(self.resume_path())

    def init_environment(self) -> None:
        super().init_environment()
        self.result: dict[str, Any] = {}
        self.iter_info: dict[str, Any] = {}
        self.epoch_info: dict[str, Any] = {}
        self.eval_info: dict[str, Any] = {}
        self.meta_info = dict(epoch=0, iter=0)
        self.metrics: list[dict[str, Any]] = []
        self.best_top1: float | None = None
        self.best_epoch: int | None = None
        self.lr = float(getattr(self.arg, 'base_lr', 0.0) or 0.0)
        self.amp_dtype, use_scaler = amp_policy(self.dev, self.arg.amp)
        self.scaler = torch.amp.GradScaler('cuda') if use_scaler else None
        if self.arg.amp:
            if self.amp_dtype is None:
                self.io.print_log('--amp: this CPU has no fast bfloat16 support; running in float32.')
            else:
                self.io.print_log(f'--amp: autocast to {str(self.amp_dtype).replace("torch.", "")} on '
                                  f'{self.dev.type}{" with a GradScaler" if self.scaler else ""}.')

    def load_model(self) -> None:
        super().load_model()
        self.label_names = self.read_label_names()

    def read_label_names(self) -> list[str] | None:
        """``--label_names``: exactly one name per class of the model (None when not given)."""
        if not getattr(self.arg, 'label_names', None):
            return None
        from .report import read_label_names
        return read_label_names(self.arg.label_names, getattr(self.model, 'num_class', None))

    def load_optimizer(self) -> None:
        pass

    def inference_runner(self):
        """A function data -> (class scores, pooled embeddings or None) for evaluation batches.

        The fast path (net.utils.inference): a copy of the model with BatchNorm folded into its convolutions, run
        in CPU micro-batches under inference_mode (bf16 autocast with --amp). A DataParallel model over several
        GPUs, or float16 autocast on an older GPU, runs as it is.
        """
        from net.utils.inference import compile_for_inference, default_micro_batch, predict, prepare_for_inference
        model = self.bare_model if self.dist.enabled else self.model
        with_features = all(hasattr(self.bare_model, n) for n in ('forward_features', 'pool_features', 'forward_head'))
        compile_eval = self.arg.compile in ('eval', 'all')
        if not isinstance(model, torch.nn.DataParallel) and self.amp_dtype in (None, torch.bfloat16):
            prepared = prepare_for_inference(model)
            per_process = max(1, self.arg.test_batch_size // self.dist.world_size)  # clips of one test batch
            if compile_eval:
                self.log_compiling('the evaluation copy')
                prepared = compile_for_inference(prepared)

            def fast(data):
                # compiled: one input shape, one compilation: passes of a fixed size (a whole test batch, or on CPU
                # the default pass if that is smaller), a short last one padded
                micro_batch = None
                if compile_eval:
                    micro_batch = min(default_micro_batch(data), per_process) if data.device.type == 'cpu' \
                        else per_process
                result = predict(prepared, data, micro_batch=micro_batch, amp=self.amp_dtype is not None,
                                 features=with_features, pad_last=compile_eval)
                return result if with_features else (result, None)
            return fast
        if compile_eval:
            self.io.print_log(f'--compile {self.arg.compile}: the evaluation is not compiled under '
                              f'{"DataParallel" if isinstance(model, torch.nn.DataParallel) else "float16 autocast"}.')
        model.eval()

        def plain(data):
            with torch.inference_mode(), self.autocast():
                return model(data).float(), None
        return plain

    def log_compiling(self, what: str) -> None:
        """Say that --compile compiles ``what`` at its first batch, which therefore takes longer."""
        self.io.print_log(f'--compile {self.arg.compile}: compiling {what} with torch.compile at its first batch '
                          '(seconds to a minute on a 2-core CPU, per input shape and precision).')

    def validate_arg(self) -> None:
        super().validate_arg()
        on_cpu = self.arg.use_gpu is False or not torch.cuda.is_available()
        if self.arg.compile != 'off' and on_cpu and not _cxx_compiler():
            raise ConfigError(f'--compile {self.arg.compile}: torch.compile needs a C++ compiler on the CPU and '
                              'none was found (install g++, or set CXX); or leave --compile off')
        if self.arg.phase == 'test' and not self.arg.weights:
            raise ConfigError('--phase test needs --weights (a trained epoch<N>_model.pt or a published model)')
        for name in ('batch_size', 'test_batch_size', 'num_epoch', 'log_interval', 'save_interval', 'eval_interval'):
            if getattr(self.arg, name) < 1:
                raise ConfigError(f'--{name} must be at least 1, got {getattr(self.arg, name)}')
        if self.arg.resume is not None and self.arg.phase != 'train':
            raise ConfigError('--resume continues a training run; it does not apply to --phase test')

    # ------------------------------------------------------------ mixed precision
    def autocast(self):
        """The autocast context of ``--amp`` (a no-op context without it)."""
        return torch.autocast(device_type=self.dev.type, dtype=self.amp_dtype or torch.float32,
                              enabled=self.amp_dtype is not None)

    # ------------------------------------------------------------ checkpoints and resume
    def resume_path(self) -> str:
        value = self.arg.resume
        if value in ('', True) or (isinstance(value, str) and value.lower() == 'true'):
            return os.path.join(self.arg.work_dir, 'checkpoint.pt')
        return str(value)

    def checkpoint_state(self, epochs_done: int) -> dict[str, Any]:
        optimizer = getattr(self, 'optimizer', None)
        return {
            'model': cpu_state_dict(self.model),
            'optimizer': optimizer.state_dict() if optimizer is not None else None,
            'scaler': self.scaler.state_dict() if self.scaler is not None else None,
            'epoch': int(epochs_done),
            'iter': int(self.meta_info['iter']),
            'lr': float(self.lr),
            'best_top1': self.best_top1,
            'best_epoch': self.best_epoch,
            'metrics': [dict(row) for row in self.metrics],
            'world_size': self.dist.world_size,
            'config': plain(vars(self.arg)),
        }

    def save_checkpoint(self, epochs_done: int) -> None:
        """Write work_dir/checkpoint.pt atomically (rank 0), with the RNG states of every rank."""
        rng = distributed.all_gather_objects(capture_rng_state())  # a collective: every rank takes part
        if not self.is_main_process:
            return
        state = self.checkpoint_state(epochs_done)
        state['rng'] = rng
        path = os.path.join(self.arg.work_dir, 'checkpoint.pt')
        save_checkpoint(path, state)
        self.io.print_log(f'Checkpoint of epoch {epochs_done} saved as {path}.')

    def resume(self, path: str) -> None:
        """Continue from a checkpoint: model, optimizer, schedule position, metrics, best top-1 and RNG states."""
        checkpoint = load_checkpoint(path)
        load_state_dict_checked(self.bare_model, checkpoint['model'], path)
        optimizer = getattr(self, 'optimizer', None)
        if optimizer is not None and checkpoint.get('optimizer') is not None:
            try:
                optimizer.load_state_dict(checkpoint['optimizer'])
            except (ValueError, KeyError) as exc:
                raise ValueError(f'{path}: its optimizer state does not fit --optimizer {self.arg.optimizer} '
                                 f'({exc})') from None
        if self.scaler is not None and checkpoint.get('scaler'):
            self.scaler.load_state_dict(checkpoint['scaler'])
        self.arg.start_epoch = int(checkpoint['epoch'])
        self.meta_info['iter'] = int(checkpoint['iter'])
        self.lr = float(checkpoint.get('lr', self.lr))
        self.best_top1 = checkpoint.get('best_top1')
        self.best_epoch = checkpoint.get('best_epoch')
        self.metrics = [dict(row) for row in checkpoint.get('metrics', [])]
        rng = checkpoint.get('rng') or []
        if len(rng) == self.dist.world_size:
            restore_rng_state(rng[self.dist.rank])
        else:
            self.io.print_log(f'{path} was written by {len(rng)} process(es), this run has '
                              f'{self.dist.world_size}: random states are re-seeded, so the run will not '
                              'repeat the interrupted one exactly.')
        if self.arg.start_epoch >= self.arg.num_epoch:
            self.io.print_log(f'{path}: already trained {self.arg.start_epoch} epochs (--num_epoch '
                              f'{self.arg.num_epoch}); nothing left to train.')
        self.io.print_log(f'Resumed from {path}: {self.arg.start_epoch} epochs and {self.meta_info["iter"]} '
                          'iterations done.')

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
        """Build the loaders. Under torchrun each rank reads its share through a DistributedSampler and
        ``--batch_size``/``--test_batch_size`` stay the totals over all ranks, as with DataParallel."""
        self.data_loader: dict[str, DataLoader] = {}
        self.loader_generator: dict[str, torch.Generator] = {}
        world = self.dist.world_size
        common = dict(num_workers=self.arg.num_worker, worker_init_fn=_worker_init, pin_memory=self.use_gpu)
        if self.arg.phase == 'train':
            if not self.arg.train_feeder_args:
                raise ConfigError('--phase train needs train_feeder_args (data_path and label_path of the '
                                  'training split)')
            dataset = self.build_feeder(self.arg.train_feeder_args, 'train')
            self.check_dataset(dataset, 'train', self.arg.batch_size)
            if self.arg.batch_size < world:
                raise ConfigError(f'--batch_size {self.arg.batch_size} is smaller than the {world} processes; it is '
                                  'the total batch over all of them')
            generator = self.loader_generator['train'] = torch.Generator()
            sampler = None
            if self.dist.enabled:
                sampler = DistributedSampler(dataset, num_replicas=world, rank=self.dist.rank, shuffle=True,
                                             seed=self.seed)
            # workers are re-created every epoch so that their seeds follow the epoch (exact --resume)
            self.data_loader['train'] = DataLoader(dataset, batch_size=self.arg.batch_size // world,
                                                   shuffle=sampler is None, sampler=sampler, drop_last=True,
                                                   generator=generator, persistent_workers=False, **common)
        if self.arg.test_feeder_args:
            dataset = self.build_feeder(self.arg.test_feeder_args, 'test')
            self.check_dataset(dataset, 'test', None)
            generator = self.loader_generator['test'] = torch.Generator()
            sampler = None
            if self.dist.enabled:  # pads with repeated samples; test() drops them again
                sampler = DistributedSampler(dataset, num_replicas=world, rank=self.dist.rank, shuffle=False)
            self.data_loader['test'] = DataLoader(dataset, batch_size=max(1, self.arg.test_batch_size // world),
                                                  shuffle=False, sampler=sampler, generator=generator,
                                                  persistent_workers=False, **common)
        elif self.arg.phase == 'test':
            raise ConfigError('--phase test needs test_feeder_args (data_path and label_path)')
        self.set_epoch(self.arg.start_epoch)

    def set_epoch(self, epoch: int) -> None:
        """Seed the loaders for ``epoch`` from (--seed, epoch, rank): the shuffle order, the worker seeds and so
        the augmentations of an epoch do not depend on what ran before it."""
        for split, generator in getattr(self, 'loader_generator', {}).items():
            generator.manual_seed(derived_seed(self.seed, epoch, self.dist.rank, split == 'test'))
            sampler = self.data_loader[split].sampler
            if isinstance(sampler, DistributedSampler):
                sampler.set_epoch(epoch)

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
        try:
            self.io.print_log(f'Parameters:\n{vars(self.arg)}\n')
            if self.arg.phase == 'train':
                self.run_training()
            elif self.arg.phase == 'test':
                self.io.print_log(f'Model:   {self.arg.model}.')
                self.io.print_log(f'Weights: {self.arg.weights}.')
                self.io.print_log('Evaluation Start:')
                self.test()
                self.io.print_log('Done.\n')
                self.write_test_reports()
                if self.arg.save_result:
                    self.save_result()
        except BaseException:
            distributed.shutdown(wait=False)
            raise
        distributed.shutdown()

    def run_training(self) -> None:
        self.open_tensorboard()
        epoch_times = []
        evaluated = False
        for epoch in range(self.arg.start_epoch, self.arg.num_epoch):
            started = time.time()
            done = epoch + 1
            last = done == self.arg.num_epoch
            save_now = done % self.arg.save_interval == 0 or last
            self.meta_info['epoch'] = epoch
            self.set_epoch(epoch)
            self.io.print_log(f'Training epoch: {epoch}')
            self.train()
            self.io.print_log('Done.')
            if save_now:
                self.io.save_model(self.bare_model, f'epoch{done}_model.pt')
            self.eval_info = {}
            evaluated = 'test' in self.data_loader and (done % self.arg.eval_interval == 0 or last)
            if evaluated:
                self.io.print_log(f'Eval epoch: {epoch}')
                self.test()
                self.io.print_log('Done.')
                top1 = self.eval_info.get('top1')
                if top1 is not None and (self.best_top1 is None or top1 > self.best_top1):
                    self.best_top1, self.best_epoch = top1, done
                    self.io.save_model(self.bare_model, 'best_model.pt')
            epoch_times.append(time.time() - started)
            self.record_epoch(done, epoch_times[-1])
            if save_now:
                self.save_checkpoint(done)
            remaining = (self.arg.num_epoch - done) * float(np.mean(epoch_times))
            self.io.print_log(f'Epoch {done}/{self.arg.num_epoch} took {epoch_times[-1]:.1f}s, '
                              f'ETA {_duration(remaining)}')
        if self.best_top1 is not None:
            self.io.print_log(f'Best top-1 {self.best_top1:.2f}% at epoch {self.best_epoch} (best_model.pt).')
        if evaluated:
            self.write_test_reports()
            if self.arg.save_result:
                self.save_result()
        self.close_tensorboard()

    def record_epoch(self, epoch: int, seconds: float) -> None:
        """Append the epoch to metrics.csv, redraw curves.png and log to TensorBoard (rank 0)."""
        row = {'epoch': epoch, 'train_loss': getattr(self, 'train_loss', None), 'lr': float(self.lr),
               'val_loss': self.eval_info.get('val_loss'), 'top1': self.eval_info.get('top1'),
               'top5': self.eval_info.get('top5'), 'seconds': round(float(seconds), 3)}
        self.metrics.append(row)
        if not self.is_main_process:
            return
        report.write_metrics(os.path.join(self.arg.work_dir, 'metrics.csv'), self.metrics)
        report.plot_curves(os.path.join(self.arg.work_dir, 'curves.png'), self.metrics)
        if getattr(self, "tensorboard", None) is not None:
            for key in ('train_loss', 'lr', 'val_loss', 'top1', 'top5'):
                if row[key] is not None:
                    self.tensorboard.add_scalar(key, row[key], epoch)
            self.tensorboard.flush()

    def write_test_reports(self) -> None:
        """confusion_matrix.png and per_class.csv of the last evaluation (rank 0; needs labels and scores)."""
        if not self.is_main_process or getattr(self, 'label', None) is None or not len(self.result):
            return
        scores = np.asarray(self.result)
        matrix = report.confusion_matrix(self.label, scores.argmax(axis=1), scores.shape[1])
        report.write_per_class(os.path.join(self.arg.work_dir, 'per_class.csv'), matrix, self.label_names)
        report.plot_confusion_matrix(os.path.join(self.arg.work_dir, 'confusion_matrix.png'), matrix,
                                     self.label_names)
        self.io.print_log(f'Per-class precision and recall in {os.path.join(self.arg.work_dir, "per_class.csv")}, '
                          f'confusion matrix in {os.path.join(self.arg.work_dir, "confusion_matrix.png")}.')

    def open_tensorboard(self) -> None:
        self.tensorboard = None
        if not self.arg.tensorboard or not self.is_main_process:
            return
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            self.io.print_log('--tensorboard: TensorBoard is not installed; `pip install tensorboard` to get '
                              'TensorBoard logs (training continues without them).')
            return
        log_dir = os.path.join(self.arg.work_dir, 'tensorboard')
        self.tensorboard = SummaryWriter(log_dir=log_dir)
        self.io.print_log(f'TensorBoard logs in {log_dir} (tensorboard --logdir {log_dir}).')

    def close_tensorboard(self) -> None:
        if getattr(self, 'tensorboard', None) is not None:
            self.tensorboard.close()
            self.tensorboard = None

    def save_result(self) -> None:
        if not self.is_main_process:
            return
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
        parser.add_argument('--resume', nargs='?', const='', default=None, metavar='PATH',
                            help='continue an interrupted training run from PATH (default: work_dir/checkpoint.pt): '
                                 'model, optimizer, schedule, metrics and random states')
        parser.add_argument('--amp', type=str2bool, default=False,
                            help='mixed precision (true/false): bfloat16 on CUDA where supported, else float16 '
                                 'with a GradScaler; bfloat16 on CPUs that support it')
        parser.add_argument('--compile', default='off', choices=['off', 'eval', 'all'],
                            help='torch.compile: off, eval (test, extract, demo and evaluation during training) or '
                                 'all (the training forward pass too); README, Performance, says what it buys')
        parser.add_argument('--tensorboard', type=str2bool, default=False,
                            help='also write TensorBoard logs to work_dir/tensorboard (true/false; needs '
                                 '`pip install tensorboard`)')
        parser.add_argument('--num_epoch', type=int, default=80, help='number of training epochs')
        parser.add_argument('--log_interval', type=int, default=100, help='log every this many iterations')
        parser.add_argument('--save_interval', type=int, default=10,
                            help='save epoch<N>_model.pt and checkpoint.pt every this many epochs (and at the end)')
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


def _cxx_compiler() -> str | None:
    """The C++ compiler torch.compile's CPU backend would use (CXX, else c++/g++/clang++ on PATH), or None."""
    candidates = [os.environ['CXX']] if os.environ.get('CXX') else ['c++', 'g++', 'clang++']
    return next((path for path in map(shutil.which, candidates) if path), None)


def _fmt(value: Any) -> str:
    return f'{value:.4f}' if isinstance(value, float) else str(value)


def _duration(seconds: float) -> str:
    minutes, sec = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f'{hours}:{minutes:02d}:{sec:02d}'


def _data_path(dataset) -> str:
    return str(getattr(dataset, 'data_path', type(dataset).__name__))

"""Processor: the train/test schedule shared by the task processors (the original's name and entry point).

Its jobs are delegated, one module each: the data and loaders (processor/data.py), the optimiser, schedule and
class weights (processor/optim.py), checkpoints and model files (processor/checkpoint.py), the evaluation forward
pass (processor/runner.py) and the files a person reads (processor/report.py). A task processor
(:class:`processor.recognition.REC_Processor`) defines ``load_optimizer``, ``train`` and ``test``.

Training writes, to ``work_dir``: ``epoch<N>_model.pt`` (model files: weights, model and input spec) every
``--save_interval`` epochs and at the end, ``best_model.pt`` (best validation top-1), ``checkpoint.pt``
(everything ``--resume`` needs), ``metrics.csv`` and ``curves.png`` every epoch; the last evaluation adds
``confusion_matrix.png`` and ``per_class.csv``.
"""
from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
import torch

from feeder.model_input import InputSpec, check_frame_aspect, meta_path, read_meta
from feeder.transforms import transform_args
from torchlight.io import load_state_dict_checked, plain

from . import distributed, report
from .checkpoint import (capture_rng_state, cpu_state_dict, load_checkpoint, model_file_content, portable_transform,
                         restore_rng_state, save_checkpoint)
from .data import Loaders, build_feeder, check_dataset, class_counts
from .io import IO, ConfigError
from .optim import class_weights, describe_counts
from .runner import amp_policy, autocast, compiling_message, cxx_compiler, make_runner  # noqa: F401 - amp_policy


class Processor(IO):
    """Base processor with a train/test schedule; subclasses define train() and test()."""

    OPTION_GROUPS = ('common', 'model', 'input', 'data', 'training', 'evaluation', 'testing')
    TRAINS = True

    def takes_model_file(self) -> bool:
        return self.arg.phase == 'test'

    def validate_arg(self) -> None:
        super().validate_arg()
        on_cpu = self.arg.use_gpu is False or not torch.cuda.is_available()
        if self.arg.compile != 'off' and on_cpu and not cxx_compiler():
            raise ConfigError(f'--compile {self.arg.compile}: torch.compile needs a C++ compiler on the CPU and '
                              'none was found (install g++, or set CXX); or leave --compile off')
        if self.arg.phase == 'test' and not self.arg.weights:
            raise ConfigError('--phase test needs --weights (a trained epoch<N>_model.pt or a published model)')
        for name in ('batch_size', 'test_batch_size', 'num_epoch', 'log_interval', 'save_interval', 'eval_interval'):
            if getattr(self.arg, name) < 1:
                raise ConfigError(f'--{name} must be at least 1, got {getattr(self.arg, name)}')
        if self.arg.resume is not None and self.arg.phase != 'train':
            raise ConfigError('--resume continues a training run; it does not apply to --phase test')

    def init_environment(self) -> None:
        super().init_environment()
        self.result: Any = {}
        self.iter_info: dict[str, Any] = {}
        self.epoch_info: dict[str, Any] = {}
        self.eval_info: dict[str, Any] = {}
        self.meta_info = dict(epoch=0, iter=0)
        self.metrics: list[dict[str, Any]] = []
        self.best_top1: float | None = None
        self.best_epoch: int | None = None
        self.lr = float(self.arg.base_lr)
        self.loss_weights: torch.Tensor | None = None

    def prepare(self) -> None:
        self.load_data()
        if self.arg.phase == 'train':
            self.load_optimizer()
            if self.arg.resume is not None:
                self.resume(self.resume_path())

    def load_optimizer(self) -> None:
        """The task's optimiser (REC_Processor); nothing here."""

    # ------------------------------------------------------------ data
    def load_data(self) -> None:
        """The loaders of the splits the phase needs (processor/data.py), class weights and the input spec."""
        self.data_loader = Loaders(self.dist, self.seed, self.arg.num_worker, self.use_gpu)
        self.dense = hasattr(self.bare_model, 'forward_stages')  # a per-frame model: per-frame labels
        dense = {'dense': True} if self.dense else {}
        if self.arg.phase == 'train':
            if not self.arg.train_feeder_args:
                raise ConfigError('--phase train needs train_feeder_args (data_path and label_path of the '
                                  'training split)')
            dataset = build_feeder(self.arg.feeder, {**self.arg.train_feeder_args, **dense}, 'train', self.arg.debug)
            check_dataset(dataset, 'train', self.arg.batch_size, self.bare_model)
            self.data_loader.add_train(dataset, self.arg.batch_size, self.sampler_weights(dataset))
        if self.arg.test_feeder_args:
            dataset = build_feeder(self.arg.feeder, {**self.arg.test_feeder_args, **dense}, 'test', self.arg.debug)
            check_dataset(dataset, 'test', None, self.bare_model)
            self.data_loader.add_test(dataset, self.arg.test_batch_size)
        elif self.arg.phase == 'test':
            raise ConfigError('--phase test needs test_feeder_args (data_path and label_path)')
        self.set_epoch(self.arg.start_epoch)
        if self.arg.phase == 'train':
            self.input_spec = self.training_input_spec()
            for which in ('train_feeder_args', 'test_feeder_args'):
                try:
                    check_frame_aspect(self.input_spec, getattr(self.arg, which), 'the training data (' + meta_path(
                        str((self.arg.train_feeder_args or {}).get('data_path', ''))) + ')')
                except ValueError as exc:
                    raise ConfigError(f'{which}: {exc}') from None
            num_class = getattr(getattr(self.bare_model, 'origin_stream', self.bare_model), 'num_class', None)
            if self.label_names is None and self.input_spec.class_names and \
                    len(self.input_spec.class_names) == num_class:
                self.label_names = list(self.input_spec.class_names)  # the data's classes.txt, for the reports

    def sampler_weights(self, dataset) -> np.ndarray | None:
        """Sets the loss's class weights (--class_weight) and returns the balanced sampler's per-class weights
        (--balanced_sampler) or None, logging the class counts when either is on."""
        if list(self.arg.class_weight) == ['none'] and not self.arg.balanced_sampler:
            return None
        num_class = getattr(getattr(self.bare_model, 'origin_stream', self.bare_model), 'num_class', None)
        if self.dense and self.arg.balanced_sampler:
            raise ConfigError('--balanced_sampler draws whole clips and a per-frame model\'s clips hold several '
                              'classes: use --class_weight balanced')
        counts = class_counts(dataset, num_class)
        weights = class_weights(self.arg.class_weight, counts)
        if weights is not None:
            self.loss_weights = torch.as_tensor(weights, dtype=torch.float32, device=self.dev)
        sampler = np.where(counts > 0, 1.0 / np.maximum(counts, 1), 0.0) if self.arg.balanced_sampler else None
        self.io.print_log(describe_counts(counts, self.label_names, weights, sampler,
                                          'frames' if self.dense else 'clips') + '.')
        return sampler

    def set_epoch(self, epoch: int) -> None:
        self.data_loader.set_epoch(epoch)

    def training_input_spec(self) -> InputSpec:
        """What the model files of this run store about the input: the training data's description (written by
        kinetics_gendata beside the arrays), the test feeder's transform and the class names."""
        train_args = self.arg.train_feeder_args or {}
        spec = read_meta(str(train_args.get('data_path', ''))) if train_args.get('data_path') else None
        spec = spec or InputSpec()
        dataset = self.data_loader['train'].dataset
        spec.transform = portable_transform(transform_args(self.arg.test_feeder_args or train_args))
        spec.clip_len = spec.clip_len or getattr(dataset, 'T', None)
        spec.num_person = spec.num_person or getattr(dataset, 'M', None)
        spec.class_names = self.label_names or spec.class_names
        return spec

    def save_model(self, name: str) -> None:
        """A model file in work_dir: the weights, the model and its arguments, and the input spec."""
        self.io.save_model(self.bare_model, name,
                           extra=model_file_content(self.arg.model, self.arg.model_args, self.input_spec))

    # ------------------------------------------------------------ evaluation
    def inference_runner(self):
        """The evaluation forward pass (processor/runner.py) of this run's model."""
        model = self.bare_model if self.dist.enabled else self.model
        return make_runner(model, self.dev, self.amp_dtype, self.arg.compile,
                           max(1, self.arg.test_batch_size // self.dist.world_size))

    def log_compiling(self, what: str) -> None:
        self.io.print_log(compiling_message(self.arg.compile, what))

    def autocast(self):
        """The autocast context of ``--amp`` (a no-op context without it)."""
        return autocast(self.dev, self.amp_dtype)

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
            'model_file': model_file_content(self.arg.model, self.arg.model_args, self.input_spec),
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

    # ------------------------------------------------------------ logging helpers
    def show_epoch_info(self) -> None:
        self.io.print_log(', '.join(f'{k}: {_fmt(v)}' for k, v in self.epoch_info.items()))

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
        with distributed.process_group_closed_after():
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
                self.save_model(f'epoch{done}_model.pt')
            self.eval_info = {}
            evaluated = 'test' in self.data_loader and (done % self.arg.eval_interval == 0 or last)
            if evaluated:
                self.io.print_log(f'Eval epoch: {epoch}')
                self.test()
                self.io.print_log('Done.')
                top1 = self.eval_info.get('top1')
                if top1 is not None and (self.best_top1 is None or top1 > self.best_top1):
                    self.best_top1, self.best_epoch = top1, done
                    self.save_model('best_model.pt')
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
        if getattr(self, 'tensorboard', None) is not None:
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
        self.io.print_log(f'Macro F1 {report.macro_f1(matrix):.3f}; per-class precision, recall and F1 in '
                          f'{os.path.join(self.arg.work_dir, "per_class.csv")}, confusion matrix in '
                          f'{os.path.join(self.arg.work_dir, "confusion_matrix.png")}.')

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
        result = {str(name): np.asarray(score) for name, score in zip(names, self.clip_result)}
        self.io.save_pkl(result, 'test_result.pkl')
        self.io.print_log(f'Scores of {len(result)} test samples saved to {self.arg.work_dir}/test_result.pkl')


def _fmt(value: Any) -> str:
    return f'{value:.4f}' if isinstance(value, float) else str(value)


def _duration(seconds: float) -> str:
    minutes, sec = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f'{hours}:{minutes:02d}:{sec:02d}'

"""Recognition processor: train and test a skeleton action classifier."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from net.st_gcn import weights_init
from net.st_gcn_dense import dense_loss
from net.utils.fast import accelerate

from . import distributed, report
from .optim import build_optimizer, learning_rate, set_learning_rate
from .processor import Processor


class REC_Processor(Processor):  # noqa: N801 - the original's name
    """Trains with cross-entropy, SGD (Nesterov optional) or Adam, and a step-decayed learning rate.

    A per-frame model (one with ``forward_stages``, such as net.st_gcn_dense.Model) trains on every frame's label
    with ``net.st_gcn_dense.dense_loss`` (the feeders then serve per-frame labels) and is scored per labelled
    frame.
    """

    def load_model(self) -> None:
        super().load_model()
        self.model.apply(weights_init)
        accelerate(self.model, self.dev)  # net.utils.fast: channels-last graph convolution, faster dropout on CPU

    def load_optimizer(self) -> None:
        self.optimizer = build_optimizer(self.model.parameters(), self.arg.optimizer, self.arg.base_lr,
                                         self.arg.nesterov, self.arg.weight_decay)
        self.lr = self.arg.base_lr
        self.loss = nn.CrossEntropyLoss(weight=self.loss_weights)

    def adjust_lr(self) -> None:
        self.lr = learning_rate(self.arg.base_lr, self.meta_info['epoch'], self.arg.step, self.arg.optimizer,
                                self.arg.lr_schedule, self.arg.num_epoch)
        set_learning_rate(self.optimizer, self.lr)

    def show_topk(self, k: int) -> float:
        accuracy = report.topk_accuracy(self.result, self.label, k)
        self.io.print_log(f'\tTop{k}: {100 * accuracy:.2f}%')
        return accuracy

    def prepare(self) -> None:
        super().prepare()
        # --compile all: the training forward pass goes through a compiled wrapper of the same modules (so
        # checkpoints keep their names); the evaluation copy is compiled in inference_runner
        self.train_forward = self.model
        if self.arg.compile == 'all' and self.arg.phase == 'train':
            self.log_compiling('the training model')
            self.train_forward = torch.compile(self.model, dynamic=False)

    def train(self) -> None:
        self.model.train()
        self.adjust_lr()
        loader = self.data_loader['train']
        loss_value = []
        for data, label in tqdm(loader, desc=f'epoch {self.meta_info["epoch"]}', leave=False,
                                disable=None if self.is_main_process else True):
            data = data.float().to(self.dev, non_blocking=True)
            label = label.long().to(self.dev, non_blocking=True)
            with self.autocast():
                output = self.train_forward(data)  # (N, K); a dense model: every stage's (S, N, K, T)
            if self.dense:  # per-frame cross-entropy (unlabelled frames -1 left out) + the smoothing term
                loss = dense_loss(output.float(), label, self.loss_weights, smooth_weight=self.arg.smooth_loss)
            else:
                loss = self.loss(output.float(), label)
            self.optimizer.zero_grad(set_to_none=True)
            if self.scaler is not None:  # float16: scale the loss so small gradients do not underflow
                self.scaler.scale(loss).backward()
                self.scaler.step(self.optimizer)
                self.scaler.update()
            else:
                loss.backward()
                self.optimizer.step()
            self.iter_info['loss'] = loss.item()
            self.iter_info['lr'] = f'{self.lr:.6f}'
            loss_value.append(self.iter_info['loss'])
            self.show_iter_info()
            self.meta_info['iter'] += 1
        # the mean over all ranks' batches (every rank runs the same number of batches)
        self.train_loss = distributed.mean_over_ranks(float(np.mean(loss_value)), self.dev)
        self.epoch_info['mean_loss'] = self.train_loss
        self.show_epoch_info()

    def test(self, evaluation: bool = True) -> None:
        """Score the test split; under torchrun the ranks' scores are gathered so that every rank holds the scores
        of the whole split, in dataset order, without the sampler's padding."""
        model = self.bare_model if self.dist.enabled else self.model
        distributed.broadcast_buffers(model)  # every rank evaluates rank 0's model (BatchNorm statistics)
        run = self.inference_runner()  # BatchNorm folded into a copy, micro-batched, inference_mode
        loader = self.data_loader['test']
        score_frag, label_frag = [], []
        for data, label in tqdm(loader, desc='test', leave=False, disable=None if self.is_main_process else True):
            data = data.float().to(self.dev, non_blocking=True)
            output, _ = run(data)
            score_frag.append(output.float().cpu().numpy())
            label_frag.append(np.asarray(label, dtype=np.int64))
        scores = np.concatenate(score_frag)  # (N, K); a dense model: (N, K, T)
        labels = np.concatenate(label_frag)  # (N,); a dense model: (N, T)
        if self.dist.enabled:
            indices = np.asarray(list(iter(loader.sampler)), dtype=np.int64)
            parts = distributed.all_gather_objects((indices, scores, labels))
            total = len(loader.dataset)
            scores = np.zeros((total,) + scores.shape[1:], dtype=np.float32)
            labels = np.zeros((total,) + labels.shape[1:], dtype=np.int64)
            for part_indices, part_scores, part_labels in parts:
                scores[part_indices] = part_scores  # padding repeats samples: same index, same value
                labels[part_indices] = part_labels
        self.clip_result = scores  # what test_result.pkl holds per sample
        if self.dense:  # the metrics are per labelled frame
            labelled = labels >= 0  # (N, T)
            scores, labels = scores.transpose(0, 2, 1)[labelled], labels[labelled]  # (F, K), (F,)
        self.result = scores
        if evaluation:
            self.label = labels
            val_loss = float(nn.functional.cross_entropy(torch.from_numpy(scores).double(),
                                                         torch.from_numpy(labels)).item())
            self.epoch_info['mean_loss'] = val_loss
            self.show_epoch_info()
            self.topk = {k: self.show_topk(k) for k in self.arg.show_topk}
            self.eval_info = {'val_loss': val_loss, 'top1': 100 * report.topk_accuracy(scores, labels, 1),
                              'top5': 100 * report.topk_accuracy(scores, labels, 5)}

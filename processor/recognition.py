"""Recognition processor: train and test a skeleton action classifier."""
from __future__ import annotations

import argparse

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from net.st_gcn import weights_init
from torchlight import str2bool

from .processor import Processor


class REC_Processor(Processor):  # noqa: N801 - the original's name
    """Trains with cross-entropy, SGD (Nesterov optional) or Adam, and a step-decayed learning rate."""

    def load_model(self) -> None:
        super().load_model()
        self.model.apply(weights_init)
        self.loss = nn.CrossEntropyLoss()

    def load_optimizer(self) -> None:
        if self.arg.optimizer == 'SGD':
            self.optimizer = torch.optim.SGD(self.model.parameters(), lr=self.arg.base_lr, momentum=0.9,
                                             nesterov=self.arg.nesterov, weight_decay=self.arg.weight_decay)
        else:
            self.optimizer = torch.optim.Adam(self.model.parameters(), lr=self.arg.base_lr,
                                              weight_decay=self.arg.weight_decay)
        self.lr = self.arg.base_lr

    def adjust_lr(self) -> None:
        if self.arg.optimizer == 'SGD' and self.arg.step:
            decays = int(np.sum(self.meta_info['epoch'] >= np.array(self.arg.step)))
            lr = self.arg.base_lr * (0.1 ** decays)
        else:
            lr = self.arg.base_lr
        for group in self.optimizer.param_groups:
            group['lr'] = lr
        self.lr = lr

    def show_topk(self, k: int) -> float:
        rank = self.result.argsort()
        hit = [label in rank[i, -k:] for i, label in enumerate(self.label)]
        accuracy = sum(hit) * 1.0 / len(hit)
        self.io.print_log(f'\tTop{k}: {100 * accuracy:.2f}%')
        return accuracy

    def train(self) -> None:
        self.model.train()
        self.adjust_lr()
        loader = self.data_loader['train']
        loss_value = []
        for data, label in tqdm(loader, desc=f'epoch {self.meta_info["epoch"]}', leave=False, disable=None):
            data = data.float().to(self.dev, non_blocking=True)
            label = label.long().to(self.dev, non_blocking=True)
            output = self.model(data)
            loss = self.loss(output, label)
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            self.iter_info['loss'] = loss.item()
            self.iter_info['lr'] = f'{self.lr:.6f}'
            loss_value.append(self.iter_info['loss'])
            self.show_iter_info()
            self.meta_info['iter'] += 1
        self.epoch_info['mean_loss'] = float(np.mean(loss_value))
        self.show_epoch_info()
        self.io.print_timer() if self.io.split_timer else None

    @torch.inference_mode()
    def test(self, evaluation: bool = True) -> None:
        self.model.eval()
        loader = self.data_loader['test']
        loss_value, result_frag, label_frag = [], [], []
        for data, label in tqdm(loader, desc='test', leave=False, disable=None):
            data = data.float().to(self.dev, non_blocking=True)
            label = label.long().to(self.dev, non_blocking=True)
            output = self.model(data)
            result_frag.append(output.float().cpu().numpy())
            if evaluation:
                loss_value.append(self.loss(output, label).item())
                label_frag.append(label.cpu().numpy())
        self.result = np.concatenate(result_frag)
        if evaluation:
            self.label = np.concatenate(label_frag)
            self.epoch_info['mean_loss'] = float(np.mean(loss_value))
            self.show_epoch_info()
            self.topk = {k: self.show_topk(k) for k in self.arg.show_topk}

    @staticmethod
    def get_parser(add_help: bool = False) -> argparse.ArgumentParser:
        parent = Processor.get_parser(add_help=False)
        parser = argparse.ArgumentParser(add_help=add_help, parents=[parent],
                                         description='Spatial Temporal Graph Convolution Network')
        parser.add_argument('--show_topk', type=int, default=[1, 5], nargs='+', help='which Top K accuracy to show')
        parser.add_argument('--base_lr', type=float, default=0.01, help='initial learning rate')
        parser.add_argument('--step', type=int, default=[], nargs='+',
                            help='epochs at which the learning rate is multiplied by 0.1 (SGD)')
        parser.add_argument('--optimizer', default='SGD', choices=['SGD', 'Adam'], help='SGD or Adam')
        parser.add_argument('--nesterov', type=str2bool, default=True, help='Nesterov momentum for SGD (true/false)')
        parser.add_argument('--weight_decay', type=float, default=0.0001, help='weight decay (L2) of the optimiser')
        return parser

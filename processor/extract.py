"""Extract processor: clip embeddings, class scores and predictions of a trained model.

Writes ``work_dir/features.pkl``, a dict (format ``st-gcn-features/1``)::

    sample_names  list[str] (N)        clip names, in feeder order
    sources       list[str] (N)        the data file each clip came from
    features      float32 (N, D)       embedding: the last block's output pooled over T, V and persons
                                       (D = 256 for ST-GCN), computed by model.forward_features
    scores        float32 (N, K)       class scores (logits) of the model's head
    pred          int64 (N,)           predicted class index
    label         int64 (N,)           true class index from the label file (-1 when unknown)
    class_names   list[str] or None    names of the label indices (from --label_names or a classes.txt)

``dict(zip(d['sample_names'], d['features']))`` maps sample name -> embedding. Beside it,
``predictions.csv`` lists sample, source, true and predicted label, and the softmax confidence.
"""
from __future__ import annotations

import csv
import os
from typing import Any

import numpy as np
import torch
from torch.utils.data import ConcatDataset, DataLoader
from tqdm import tqdm

from feeder.kinetics_json import read_classes
from torchlight import atomic_write, save_pickle

from .data import build_feeder, check_dataset
from .io import IO, ConfigError
from .report import read_label_names as read_names_file
from .runner import make_runner

FEATURES_FORMAT = 'st-gcn-features/1'
AUGMENTATION_KEYS = ('random_choose', 'random_shift', 'random_move', 'random_rotate', 'random_scale')


class Extractor(IO):
    """Extracts clip embeddings and predictions of a trained model into work_dir/features.pkl."""

    OPTION_GROUPS = ('common', 'model', 'input', 'data', 'evaluation', 'extract')

    def prepare(self) -> None:
        self.load_data()

    def validate_arg(self) -> None:
        if not self.arg.weights:
            raise ConfigError('extract needs --weights (a trained epoch<N>_model.pt, best_model.pt or a '
                              'published model)')
        if bool(self.arg.data_path) != bool(self.arg.label_path) or (
                self.arg.data_path and len(self.arg.data_path) != len(self.arg.label_path)):
            raise ConfigError('--data_path and --label_path go in pairs: give as many of one as of the other')

    # ------------------------------------------------------------ data
    def sources(self) -> list[tuple[str, dict[str, Any]]]:
        """(source name, feeder arguments) of every dataset to extract, augmentation switched off."""
        if self.arg.data_path:
            base = dict(self.arg.test_feeder_args or {})
            return [(data, {**base, 'data_path': data, 'label_path': label})
                    for data, label in zip(self.arg.data_path, self.arg.label_path)]
        result = []
        for split in self.arg.split:
            args = self.arg.train_feeder_args if split == 'train' else self.arg.test_feeder_args
            if not args:
                raise ConfigError(f'--split {split}: the config has no {"train" if split == "train" else "test"}'
                                  '_feeder_args; give --data_path and --label_path instead')
            result.append((str(args.get('data_path', split)), dict(args)))
        return result

    def load_data(self) -> None:
        datasets, self.source_of = [], []
        for name, args in self.sources():
            args = {k: v for k, v in args.items() if k not in AUGMENTATION_KEYS}
            dataset = build_feeder(self.arg.feeder, args, 'test', self.arg.debug)
            check_dataset(dataset, name, None, self.bare_model)
            datasets.append(dataset)
            self.source_of.extend([name] * len(dataset))
        self.datasets = datasets
        self.loader = DataLoader(ConcatDataset(datasets), batch_size=self.arg.test_batch_size, shuffle=False,
                                 num_workers=self.arg.num_worker, pin_memory=self.use_gpu)

    def read_label_names(self) -> list[str] | None:
        """``--label_names`` may name more classes than the model has (e.g. held-out abnormal clips)."""
        if self.arg.label_names:
            return read_label_names_at_least(self.arg.label_names, self.bare_model)
        return self.model_file_class_names()

    def class_names(self) -> list[str] | None:
        if self.label_names:
            return self.label_names
        for dataset in self.datasets:  # csv2json/gen_trainDataset put classes.txt beside the data
            candidate = os.path.join(os.path.dirname(str(getattr(dataset, 'data_path', ''))), 'classes.txt')
            if os.path.isfile(candidate):
                return read_classes(candidate, file_names=False)
        return None

    # ------------------------------------------------------------ run
    def extract(self) -> dict[str, Any]:
        run = make_runner(self.model, self.dev, self.amp_dtype, self.arg.compile, self.arg.test_batch_size)
        features, scores, labels = [], [], []
        for data, label in tqdm(self.loader, desc='extract', leave=False, disable=None):
            data = data.float().to(self.dev, non_blocking=True)
            score, embedding = run(data)  # (N, K), (N, C) from the model's forward_features
            if embedding is None:
                raise ValueError(f'{self.arg.model} has no forward_features/pool_features: cannot extract embeddings')
            scores.append(score.cpu().numpy())
            features.append(embedding.cpu().numpy())
            labels.append(np.asarray(label, dtype=np.int64))
        names: list[str] = []
        for dataset in self.datasets:
            names.extend(str(n) for n in dataset.sample_name)
        if len(set(names)) != len(names):  # the same clip name in two sources: keep them apart
            names = [f'{os.path.basename(src)}/{n}' for src, n in zip(self.source_of, names)]
        score = np.concatenate(scores).astype(np.float32)
        return {
            'format': FEATURES_FORMAT,
            'sample_names': names,
            'sources': list(self.source_of),
            'features': np.concatenate(features).astype(np.float32),
            'scores': score,
            'pred': score.argmax(axis=1).astype(np.int64),
            'label': np.concatenate(labels).astype(np.int64),
            'class_names': self.class_names(),
        }

    def start(self) -> None:
        self.io.print_log(f'Extracting {len(self.loader.dataset)} samples with {self.arg.model} '
                          f'from {self.arg.weights}')
        result = self.extract()
        save_pickle(os.path.join(self.arg.work_dir, 'features.pkl'), result)
        write_predictions(os.path.join(self.arg.work_dir, 'predictions.csv'), result)
        self.io.print_log(top1_line(result['label'], result['pred'], result['scores'].shape[1]))
        self.io.print_log(f'Features of {len(result["sample_names"])} samples ({result["features"].shape[1]} '
                          f'values each) saved to {os.path.join(self.arg.work_dir, "features.pkl")}; '
                          f'predictions in {os.path.join(self.arg.work_dir, "predictions.csv")}')


def read_label_names_at_least(path: str, model) -> list[str]:
    """Class names from ``path`` (one per line), at least as many as the model's classes."""
    names = read_names_file(path)
    num_class = getattr(getattr(model, 'origin_stream', model), 'num_class', None)
    if num_class is not None and len(names) < num_class:
        raise ValueError(f'{path}: lists {len(names)} class names but the model has num_class={num_class} '
                         '(--label_names must name every class, in label order)')
    return names


def top1_line(label: np.ndarray, pred: np.ndarray, num_class: int) -> str:
    """The log line on top-1: over the samples labelled with one of the model's ``num_class`` classes; samples of
    other classes (held-out abnormal clips) are counted apart, as no prediction can be right for them."""
    known = (label >= 0) & (label < num_class)
    other = int((label >= num_class).sum())
    aside = f' ({other} sample(s) of classes the model was not trained on left out)' if other else ''
    if not known.any():
        return f'No sample is labelled with one of the model\'s {num_class} classes: no top-1{aside}'
    accuracy = float((pred[known] == label[known]).mean())
    return f'Top1 of the {int(known.sum())} samples of the model\'s classes: {100 * accuracy:.2f}%{aside}'


def write_predictions(path: str, result: dict[str, Any]) -> None:
    names = result['class_names']

    def name_of(index: int) -> str:
        if index < 0:
            return ''
        return names[index] if names and index < len(names) else str(index)

    scores = result['scores'].astype(np.float64)
    probs = np.exp(scores - scores.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    with atomic_write(path, 'w') as handle:
        writer = csv.writer(handle)
        writer.writerow(['sample', 'source', 'true_label', 'predicted_label', 'confidence'])
        for i, sample in enumerate(result['sample_names']):
            pred = int(result['pred'][i])
            writer.writerow([sample, result['sources'][i], name_of(int(result['label'][i])), name_of(pred),
                             f'{probs[i, pred]:.4f}'])

"""What a training run leaves for a person: metrics.csv, curves.png, confusion_matrix.png and per_class.csv.

Figures are drawn with matplotlib's Agg canvas directly (no pyplot, no display, no global backend switch).
Every file is written through ``atomic_write``.
"""
from __future__ import annotations

import csv
import math
import os
from typing import Any, Mapping, Sequence

import numpy as np

from torchlight import atomic_write

METRIC_FIELDS = ('epoch', 'train_loss', 'lr', 'val_loss', 'top1', 'top5', 'seconds')
PER_CLASS_FIELDS = ('class', 'precision', 'recall', 'support')


def read_label_names(path: str, num_class: int | None = None) -> list[str]:
    """Class names, one per line (label_name.txt, csv2json's classes.txt); blank lines and ``#`` comments are skipped.

    With ``num_class`` the file must list exactly that many names.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{path}: label names file not found (--label_names)')
    with open(path, encoding='utf-8') as handle:
        names = [line.strip() for line in handle]
    names = [name for name in names if name and not name.startswith('#')]
    if not names:
        raise ValueError(f'{path}: no class names (expected one name per line)')
    if num_class is not None and len(names) != num_class:
        raise ValueError(f'{path}: lists {len(names)} class names but the model has num_class={num_class} '
                         '(--label_names must name every class, in label order)')
    return names


def _cell(value: Any) -> str:
    if value is None:
        return ''
    if isinstance(value, float):
        return f'{value:.6g}'
    return str(value)


def write_metrics(path: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """One row per epoch: epoch, train_loss, lr, val_loss, top1 (%), top5 (%), seconds; blank = not evaluated."""
    with atomic_write(path, 'w') as handle:
        writer = csv.writer(handle, lineterminator='\n')
        writer.writerow(METRIC_FIELDS)
        for row in rows:
            writer.writerow([_cell(row.get(field)) for field in METRIC_FIELDS])


def _save_figure(figure, path: str) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    FigureCanvasAgg(figure)
    with atomic_write(path, 'wb') as handle:
        figure.savefig(handle, format='png', dpi=100)


def plot_curves(path: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """Loss (train and validation) and validation top-1 by epoch, side by side."""
    from matplotlib.figure import Figure
    figure = Figure(figsize=(10, 4))
    loss_axes, top1_axes = figure.subplots(1, 2)
    epochs = [row['epoch'] for row in rows]
    loss_axes.plot(epochs, [row.get('train_loss') for row in rows], marker='o', label='train')
    evaluated = [row for row in rows if row.get('val_loss') is not None]
    if evaluated:
        loss_axes.plot([r['epoch'] for r in evaluated], [r['val_loss'] for r in evaluated], marker='o',
                       label='validation')
        top1_axes.plot([r['epoch'] for r in evaluated], [r['top1'] for r in evaluated], marker='o',
                       color='tab:green')
    else:
        top1_axes.text(0.5, 0.5, 'no validation yet', ha='center', va='center', transform=top1_axes.transAxes)
    loss_axes.set(xlabel='epoch', ylabel='cross-entropy loss', title='Loss')
    loss_axes.legend()
    top1_axes.set(xlabel='epoch', ylabel='top-1 (%)', title='Validation top-1', ylim=(0, 100))
    for axes in (loss_axes, top1_axes):
        axes.grid(alpha=0.3)
    figure.tight_layout()
    _save_figure(figure, path)


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, num_class: int) -> np.ndarray:
    """(num_class, num_class) int64 counts; row = true class, column = predicted class."""
    labels = np.asarray(labels, dtype=np.int64)
    predictions = np.asarray(predictions, dtype=np.int64)
    matrix = np.zeros((num_class, num_class), dtype=np.int64)
    np.add.at(matrix, (labels, predictions), 1)
    return matrix


def class_names_for(num_class: int, names: Sequence[str] | None) -> list[str]:
    return list(names) if names else [str(i) for i in range(num_class)]


def per_class_rows(matrix: np.ndarray, names: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Precision, recall and support of every class (precision/recall 0 when undefined)."""
    names = class_names_for(len(matrix), names)
    true_positive = np.diag(matrix).astype(np.float64)
    predicted = matrix.sum(axis=0)
    support = matrix.sum(axis=1)
    rows = []
    for i, name in enumerate(names):
        rows.append({'class': name,
                     'precision': float(true_positive[i] / predicted[i]) if predicted[i] else 0.0,
                     'recall': float(true_positive[i] / support[i]) if support[i] else 0.0,
                     'support': int(support[i])})
    return rows


def write_per_class(path: str, matrix: np.ndarray, names: Sequence[str] | None = None) -> None:
    with atomic_write(path, 'w') as handle:
        writer = csv.writer(handle, lineterminator='\n')
        writer.writerow(PER_CLASS_FIELDS)
        for row in per_class_rows(matrix, names):
            writer.writerow([row['class'], f'{row["precision"]:.4f}', f'{row["recall"]:.4f}', row['support']])


def plot_confusion_matrix(path: str, matrix: np.ndarray, names: Sequence[str] | None = None) -> None:
    """Row-normalised confusion matrix (recall on the diagonal); counts written in the cells of small matrices."""
    from matplotlib.figure import Figure
    num_class = len(matrix)
    names = class_names_for(num_class, names)
    side = min(max(4.0, 0.45 * num_class + 2.0), 24.0)
    figure = Figure(figsize=(side + 1.5, side))
    axes = figure.subplots()
    support = matrix.sum(axis=1, keepdims=True)
    normalised = np.divide(matrix, support, out=np.zeros(matrix.shape, dtype=np.float64), where=support > 0)
    image = axes.imshow(normalised, cmap='Blues', vmin=0.0, vmax=1.0)
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04, label='fraction of the true class')
    if num_class <= 60:
        ticks = np.arange(num_class)
        axes.set_xticks(ticks, labels=names, rotation=90, fontsize=8)
        axes.set_yticks(ticks, labels=names, fontsize=8)
    if num_class <= 25:
        for i in range(num_class):
            for j in range(num_class):
                if matrix[i, j]:
                    axes.text(j, i, str(matrix[i, j]), ha='center', va='center', fontsize=7,
                              color='white' if normalised[i, j] > 0.5 else 'black')
    accuracy = np.trace(matrix) / max(1, matrix.sum())
    axes.set(xlabel='predicted class', ylabel='true class',
             title=f'Confusion matrix ({int(matrix.sum())} samples, top-1 {100 * accuracy:.1f}%)')
    figure.tight_layout()
    _save_figure(figure, path)


def topk_accuracy(scores: np.ndarray, labels: np.ndarray, k: int) -> float:
    """Fraction of samples whose label is among the k highest scores (k >= classes counts every sample)."""
    k = min(k, scores.shape[1])
    top = np.argsort(scores, axis=1, kind='stable')[:, -k:]
    return float(np.mean([label in row for row, label in zip(top, labels)])) if len(labels) else math.nan

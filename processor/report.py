"""What a training run leaves for a person: metrics.csv, curves.png, confusion_matrix.png and per_class.csv.

Figures are drawn with matplotlib's Agg canvas directly (no pyplot, no display, no global backend switch).
Every file is written through ``atomic_write``. The metrics come from ``sklearn.metrics``, imported where used
like matplotlib, so importing this module stays cheap.
"""
from __future__ import annotations

import csv
import math
import os
from typing import Any, Mapping, Sequence

import numpy as np

from feeder.kinetics_json import read_classes
from torchlight import atomic_write

METRIC_FIELDS = ('epoch', 'train_loss', 'lr', 'val_loss', 'top1', 'top5', 'seconds')
PER_CLASS_FIELDS = ('class', 'precision', 'recall', 'f1', 'support')


def read_label_names(path: str, num_class: int | None = None) -> list[str]:
    """Class names, one per line (label_name.txt, csv2json's classes.txt); blank lines and ``#`` comments are skipped.

    With ``num_class`` the file must list exactly that many names.
    """
    names = read_classes(path, file_names=False, what='label names file (--label_names)')
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


def save_figure(figure, path: str) -> None:
    """Render a ``matplotlib.figure.Figure`` on an Agg canvas and write it to ``path`` as a PNG (atomically)."""
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
    save_figure(figure, path)


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, num_class: int) -> np.ndarray:
    """(num_class, num_class) int64 counts; row = true class, column = predicted class (all zeros for no samples)."""
    from sklearn.metrics import confusion_matrix as sklearn_confusion_matrix
    labels = np.asarray(labels, dtype=np.int64)
    predictions = np.asarray(predictions, dtype=np.int64)
    for name, values in (('labels', labels), ('predictions', predictions)):
        if len(values) and (values.min() < 0 or values.max() >= num_class):
            raise ValueError(f'confusion_matrix: {name} must be class indices in [0, {num_class}), '
                             f'got values from {values.min()} to {values.max()}')
    if not len(labels):  # sklearn refuses empty input
        return np.zeros((num_class, num_class), dtype=np.int64)
    return sklearn_confusion_matrix(labels, predictions, labels=np.arange(num_class)).astype(np.int64)


def matrix_pairs(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The (true, predicted) label pairs a confusion matrix counts, as two (matrix.sum(),) int64 arrays.

    The matrix holds everything the frame and sample metrics need; sklearn wants label vectors, so this hands it
    one pair per counted sample (row-major order, which no metric depends on).
    """
    matrix = np.asarray(matrix, dtype=np.int64)
    num_class = len(matrix)
    counts = matrix.ravel()
    true = np.repeat(np.repeat(np.arange(num_class), num_class), counts)
    predicted = np.repeat(np.tile(np.arange(num_class), num_class), counts)
    return true, predicted


def class_names_for(num_class: int, names: Sequence[str] | None) -> list[str]:
    return list(names) if names else [str(i) for i in range(num_class)]


def per_class_rows(matrix: np.ndarray, names: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Precision, recall, F1 and support of every class (0 when undefined: never predicted or no samples)."""
    from sklearn.metrics import precision_recall_fscore_support
    names = class_names_for(len(matrix), names)
    num_class = len(matrix)
    support = np.asarray(matrix).sum(axis=1)
    if support.sum():
        precision, recall, f1, _ = precision_recall_fscore_support(*matrix_pairs(matrix), labels=np.arange(num_class),
                                                                   zero_division=0)
    else:
        precision = recall = f1 = np.zeros(num_class)
    return [{'class': name, 'precision': float(precision[i]), 'recall': float(recall[i]), 'f1': float(f1[i]),
             'support': int(support[i])} for i, name in enumerate(names)]


def macro_f1(matrix: np.ndarray) -> float:
    """Unweighted mean F1 over the classes that occur as a label or as a prediction; nan for an empty matrix.

    A class absent from both has an undefined F1 (0/0) and is left out rather than counted as 0 or 1: that is
    sklearn's default label set (``labels=None``), and what :mod:`processor.evaluation` does for ethograms.
    """
    from sklearn.metrics import f1_score
    if not np.asarray(matrix).sum():
        return math.nan
    return float(f1_score(*matrix_pairs(matrix), average='macro', zero_division=0))


def write_per_class(path: str, matrix: np.ndarray, names: Sequence[str] | None = None) -> None:
    with atomic_write(path, 'w') as handle:
        writer = csv.writer(handle, lineterminator='\n')
        writer.writerow(PER_CLASS_FIELDS)
        for row in per_class_rows(matrix, names):
            writer.writerow([row['class'], f'{row["precision"]:.4f}', f'{row["recall"]:.4f}', f'{row["f1"]:.4f}',
                             row['support']])


def plot_confusion_matrix(path: str, matrix: np.ndarray, names: Sequence[str] | None = None,
                          title: str | None = None) -> None:
    """Row-normalised confusion matrix (recall on the diagonal); counts written in the cells of small matrices.

    ``title`` replaces the default 'Confusion matrix (N samples, top-1 X%)'.
    """
    from matplotlib.figure import Figure
    num_class = len(matrix)
    names = class_names_for(num_class, names)
    # inches; above 60 classes no tick labels are drawn, so a larger figure only costs time (400 classes: ~1 s)
    side = min(max(4.0, 0.45 * num_class + 2.0), 24.0 if num_class <= 60 else 10.0)
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
    if title is None:
        title = f'Confusion matrix ({int(matrix.sum())} samples, top-1 {100 * accuracy:.1f}%)'
    axes.set(xlabel='predicted class', ylabel='true class', title=title)
    figure.tight_layout()
    save_figure(figure, path)


def topk_accuracy(scores: np.ndarray, labels: np.ndarray, k: int) -> float:
    """Fraction of samples whose label is among the k highest of their (N, num_class) scores; nan without samples.

    k >= num_class counts every sample (sklearn warns there; here it is the top-5 column of a 4-class model).
    Ties go to the higher class index, as in sklearn's multiclass path.
    """
    from sklearn.metrics import accuracy_score, top_k_accuracy_score
    scores = np.asarray(scores)
    labels = np.asarray(labels, dtype=np.int64)
    if not len(labels):
        return math.nan
    num_class = scores.shape[1]
    if k >= num_class:
        return 1.0
    if not np.isfinite(scores).all():
        # sklearn refuses nan/inf; the ranks within each row (numpy sorts nan last) keep the top-k, so an evaluation
        # of a diverged model logs a number instead of stopping the training run
        scores = np.argsort(np.argsort(scores, axis=1, kind='stable'), axis=1, kind='stable')
    if num_class == 2:  # sklearn reads two classes as binary and wants one score column: top-1 is the larger one
        return float(accuracy_score(labels, (scores[:, 1] >= scores[:, 0]).astype(np.int64)))
    return float(top_k_accuracy_score(labels, scores, k=k, labels=np.arange(num_class)))

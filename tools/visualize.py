#!/usr/bin/env python
"""Render skeleton clips as animated GIF or MP4, one clip or the most anomalous samples of a clustering.

The skeleton is drawn with its layout's edges on a plain white background; masked joints (score 0, or
x = y = 0) are left out, with their edges; the label and the frame number sit in the top-left corner.
The output format follows the ``--out`` extension: ``.gif`` (Pillow, one shared palette) or ``.mp4``
(OpenCV, mp4v).

Examples::

    python tools/visualize.py --clip json_data/clip.json --out clip.gif
    python tools/visualize.py --data data/dlc-skeleton/val_data.npy --index 3 --out sample3.mp4
    python tools/visualize.py --clusters work_dir/rat_clusters/clusters.csv \\
        --data data/dlc-skeleton/val_data.npy --top 10 --out work_dir/rat_clusters/anomalies/
"""
from __future__ import annotations

import argparse
import csv
import logging
import os
import re
import sys
from dataclasses import dataclass
from typing import Iterator, Sequence

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from feeder.feeder import open_data, read_label_pkl  # noqa: E402
from feeder.kinetics_json import read_clip_frames  # noqa: E402
from feeder.model_input import companion_path  # noqa: E402
from torchlight import atomic_path, atomic_write, closest, run_cli  # noqa: E402

logger = logging.getLogger(__name__)

FORMATS = ('gif', 'mp4')
GUESSED_LAYOUTS = {18: 'openpose', 25: 'ntu-rgb+d', 12: 'rat'}
NO_LAYOUT = 'none'
BACKGROUND = (255, 255, 255)
TEXT_COLOUR = (20, 20, 20)
PERSON_COLOURS = ((31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189), (255, 127, 14),
                  (23, 190, 207))   # RGB, one per skeleton in a frame


# ---------------------------------------------------------------- clips
@dataclass
class Clip:
    """One skeleton clip in image coordinates.

    ``xy`` (T, V, M, 2): x, y in [0, 1] of the frame (0, 0 top-left); ``score`` (T, V, M): joint confidence;
    ``frame_numbers`` (T,): the number printed on each frame.
    """
    xy: np.ndarray
    score: np.ndarray
    frame_numbers: list[int]
    label: str
    frame_size: tuple[int, int] | None = None

    @property
    def num_frames(self) -> int:
        return int(self.xy.shape[0])

    @property
    def num_joints(self) -> int:
        return int(self.xy.shape[1])


def visible_joints(clip: Clip) -> np.ndarray:
    """(T, V, M) bool: joints to draw. A joint is masked when its score is 0 or both coordinates are 0."""
    at_origin = (clip.xy[..., 0] == 0) & (clip.xy[..., 1] == 0)
    return (clip.score > 0) & ~at_origin & np.isfinite(clip.xy).all(axis=-1)


def load_json_clip(path: str) -> Clip:
    """Read a Kinetics-skeleton JSON clip: one rendered frame per entry of ``data``, in frame_index order."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{path}: no such clip')
    numbers, xy, score, clip = read_clip_frames(path)
    label = str(clip.get('label', ''))
    frame_size = clip.get('frame_size')
    size = None
    if isinstance(frame_size, (list, tuple)) and len(frame_size) == 2 and all(
            isinstance(v, (int, float)) and v > 0 for v in frame_size):
        size = (int(frame_size[0]), int(frame_size[1]))
    return Clip(xy, score, numbers, label, size)


def clip_from_array(sample: np.ndarray, label: str) -> Clip:
    """A clip from one (C, T, V, M) sample of the training arrays (x, y centred by -0.5; channel 2 = score).

    Trailing frames with no visible joint (zero padding) are dropped; at least one frame is kept.
    """
    if sample.ndim != 4 or sample.shape[0] < 2:
        raise ValueError(f'expected one (C, T, V, M) sample with C >= 2, got shape {sample.shape}')
    sample = np.asarray(sample, np.float64)
    centred = sample[0:2]                                   # (2, T, V, M)
    missing = (centred[0] == 0) & (centred[1] == 0)         # gendata writes 0 for missing joints
    if sample.shape[0] >= 3:
        score = sample[2].copy()                            # (T, V, M)
    else:
        score = np.ones(sample.shape[1:], np.float64)
    score[missing] = 0
    xy = np.moveaxis(centred + 0.5, 0, -1)                  # (T, V, M, 2)
    clip = Clip(xy, score, list(range(sample.shape[1])), label)
    shown = visible_joints(clip).any(axis=(1, 2))           # (T,)
    last = int(np.flatnonzero(shown)[-1]) + 1 if shown.any() else 1
    return Clip(xy[:last], score[:last], clip.frame_numbers[:last], label)


def default_label_path(data_path: str) -> str:
    """``<split>_label.pkl`` beside ``<split>_data.npy`` (or ``X_label.pkl`` beside ``X.npy``)."""
    return companion_path(data_path, '_label.pkl')


def load_label_pkl(path: str, expected: int | None = None) -> tuple[list[str], list[int]]:
    """``(sample_names, labels)`` from a label pickle written by kinetics_gendata."""
    names, labels = read_label_pkl(path)
    if expected is not None and len(names) != expected:
        raise ValueError(f'{path}: {len(names)} sample names but the data array holds {expected} samples')
    return names, labels


def sample_index(names: Sequence[str], sample: str, label_path: str) -> int:
    try:
        return list(names).index(sample)
    except ValueError:
        raise ValueError(f'{label_path}: no sample named {sample!r}{closest(sample, names)}') from None


def load_npy_sample(data_path: str, index: int | None = None, sample: str | None = None,
                    label_path: str | None = None) -> Clip:
    """One sample of an (N, C, T, V, M) array, chosen by ``index`` or by ``sample`` name (needs the label pkl)."""
    data = open_data(data_path)
    label_path = label_path or default_label_path(data_path)
    names, labels = (load_label_pkl(label_path, len(data)) if os.path.isfile(label_path) else (None, None))
    if sample is not None:
        if names is None:
            raise FileNotFoundError(f'{label_path}: no such label pkl; --sample needs --label_path '
                                    '(a pickle (sample_names, labels))')
        index = sample_index(names, sample, label_path)
    if index is None:
        raise ValueError('give --index or --sample to choose a sample of --data')
    if not 0 <= index < len(data):
        raise ValueError(f'{data_path}: --index {index} is outside 0..{len(data) - 1}')
    label = f'{names[index]}: label {labels[index]}' if names is not None else f'sample {index}'
    return clip_from_array(np.asarray(data[index]), label)


# ---------------------------------------------------------------- drawing
def resolve_layout(layout: str | None, num_joints: int):
    """The LayoutSpec to draw with, or None to draw points only.

    ``layout`` is a layout name of net.utils.graph, a DeepLabCut ``config.yaml`` path, 'none', or None to
    guess from the joint count (18 openpose, 25 ntu-rgb+d, 12 rat, else points only).
    """
    if layout == NO_LAYOUT:
        return None
    if layout is None:
        layout = GUESSED_LAYOUTS.get(num_joints)
        if layout is None:
            logger.info('%d joints match no known layout; drawing points without edges', num_joints)
            return None
    from net.utils.graph import layout_spec
    if layout.endswith(('.yaml', '.yml')):
        spec = layout_spec({'dlc_config': layout})
    else:
        spec = layout_spec(layout)
    if spec.num_node != num_joints:
        raise ValueError(f'--layout {layout!r} has {spec.num_node} joints but the clip has {num_joints}; '
                         f"give the matching layout or --layout {NO_LAYOUT}")
    return spec


def canvas_shape(size: int, frame_size: tuple[int, int] | None) -> tuple[int, int]:
    """(height, width): the longer side is ``size``, the aspect follows ``frame_size``; both even (for MP4)."""
    width = height = size
    if frame_size is not None:
        w, h = frame_size
        if w >= h:
            height = max(2, round(size * h / w))
        else:
            width = max(2, round(size * w / h))
    return height - height % 2, width - width % 2


def _put_text(image: np.ndarray, lines: Sequence[str], origin: tuple[int, int], scale: float,
              colour=TEXT_COLOUR) -> None:
    import cv2
    x, y = origin
    thickness = max(1, int(round(scale * 2)))
    step = int(round(26 * scale)) + 4
    for line in lines:
        y += step
        cv2.putText(image, line, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thickness, cv2.LINE_AA)


def render_frames(clip: Clip, edges: Sequence[tuple[int, int]] = (), size: int = 400) -> list[np.ndarray]:
    """One RGB uint8 image (H, W, 3) per frame of ``clip``."""
    import cv2
    height, width = canvas_shape(size, clip.frame_size)
    visible = visible_joints(clip)                                          # (T, V, M)
    pixels = np.rint(np.nan_to_num(clip.xy) * [width, height]).astype(np.int64)   # (T, V, M, 2)
    pixels = np.clip(pixels, -10 * size, 10 * size)
    radius = max(2, size // 100)
    line = max(1, size // 160)
    scale = max(0.35, size / 900)
    frames = []
    for t in range(clip.num_frames):
        image = np.full((height, width, 3), BACKGROUND, np.uint8)
        for m in range(clip.xy.shape[2]):
            colour = PERSON_COLOURS[m % len(PERSON_COLOURS)]
            shown = visible[t, :, m]
            for i, j in edges:
                if shown[i] and shown[j]:
                    cv2.line(image, tuple(int(v) for v in pixels[t, i, m]), tuple(int(v) for v in pixels[t, j, m]),
                             colour, line, cv2.LINE_AA)
            dark = tuple(int(c * 0.6) for c in colour)
            for v in np.flatnonzero(shown):
                cv2.circle(image, tuple(int(c) for c in pixels[t, v, m]), radius, dark, -1, cv2.LINE_AA)
        header = [clip.label] if clip.label else []
        header.append(f'frame {clip.frame_numbers[t]}')
        _put_text(image, header, (6, 0), scale)
        frames.append(image)
    return frames


def output_format(path: str) -> str:
    """'gif' or 'mp4' from the extension of ``path``; ValueError otherwise."""
    ext = os.path.splitext(path)[1].lower().lstrip('.')
    if ext not in FORMATS:
        raise ValueError(f'--out {path!r}: unsupported extension {ext!r}; use .gif or .mp4')
    return ext


def _shared_palette(frames: Sequence[np.ndarray], colours: int = 64):
    """Pillow palette images of ``frames`` sharing one palette fitted to a few of them.

    imageio's GIF writer (Pillow underneath) fits a palette to every frame: about 8x slower on these
    drawings, and the colours flicker from frame to frame. One palette, no dithering, avoids both.
    """
    from PIL import Image
    step = max(1, len(frames) // 8)
    palette = Image.fromarray(np.concatenate(list(frames[::step]))).quantize(colors=colours,
                                                                           method=Image.Quantize.MAXCOVERAGE)
    return [Image.fromarray(frame).quantize(palette=palette, dither=Image.Dither.NONE) for frame in frames]


def write_animation(path: str, frames: Sequence[np.ndarray], fps: float = 15) -> None:
    """Write RGB frames as an animated GIF (Pillow, shared palette) or MP4 (OpenCV mp4v), atomically."""
    fmt = output_format(path)
    if not frames:
        raise ValueError(f'{path}: no frames to write')
    if fmt == 'gif':
        images = _shared_palette(frames)
        with atomic_write(path, 'wb') as handle:
            images[0].save(handle, format='GIF', save_all=True, append_images=images[1:],
                           duration=1000.0 / fps, loop=0)
        return
    import cv2
    height, width = frames[0].shape[:2]
    with atomic_path(path) as tmp:
        writer = cv2.VideoWriter(tmp, cv2.VideoWriter_fourcc(*'mp4v'), float(fps), (width, height))
        if not writer.isOpened():
            raise ValueError(f'{path}: OpenCV cannot open an mp4v video writer here; use a .gif output')
        try:
            for frame in frames:
                writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        finally:
            writer.release()


def write_png(path: str, image: np.ndarray) -> None:
    """Write an RGB image as PNG, atomically."""
    import cv2
    ok, encoded = cv2.imencode('.png', cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError(f'{path}: PNG encoding failed')
    with atomic_write(path, 'wb') as handle:
        handle.write(encoded.tobytes())


def render_clip(clip: Clip, out: str, layout: str | None = None, size: int = 400, fps: float = 15) -> list[np.ndarray]:
    """Draw ``clip`` and write it to ``out`` (.gif or .mp4); returns the frames."""
    output_format(out)
    spec = resolve_layout(layout, clip.num_joints)
    frames = render_frames(clip, spec.edges if spec is not None else (), size)
    write_animation(out, frames, fps)
    logger.info('wrote %s (%d frames)', out, len(frames))
    return frames


# ---------------------------------------------------------------- anomalies
def read_ranked_samples(clusters_csv: str) -> list[dict]:
    """Rows of clusters.csv, highest anomaly score first."""
    if not os.path.isfile(clusters_csv):
        raise FileNotFoundError(f'{clusters_csv}: no such clusters.csv')
    with open(clusters_csv, newline='', encoding='utf-8') as handle:
        reader = csv.DictReader(handle)
        columns = reader.fieldnames or []
        missing = [c for c in ('sample', 'anomaly_score') if c not in columns]
        if missing:
            raise ValueError(f'{clusters_csv}: missing column(s) {", ".join(missing)} (found: {", ".join(columns)});'
                             ' expected the clusters.csv written by tools/dbscan.py')
        rows = list(reader)
    if not rows:
        raise ValueError(f'{clusters_csv}: no rows')
    for line, row in enumerate(rows, start=2):
        try:
            row['anomaly_score'] = float(row['anomaly_score'])
        except (TypeError, ValueError):
            raise ValueError(f'{clusters_csv}: line {line}: anomaly_score {row["anomaly_score"]!r} is not a '
                             'number') from None
    return sorted(rows, key=lambda r: -r['anomaly_score'])


def safe_filename(text: str) -> str:
    """``text`` with anything but letters, digits, '.', '-' and '_' replaced by '_'."""
    return re.sub(r'[^A-Za-z0-9._-]+', '_', text).strip('_') or 'sample'


def contact_sheet(tiles: Sequence[np.ndarray], captions: Sequence[Sequence[str]], columns: int = 5) -> np.ndarray:
    """A grid of RGB tiles (same size), each with caption lines underneath; returns RGB uint8."""
    height, width = tiles[0].shape[:2]
    columns = max(1, min(columns, len(tiles)))
    rows = -(-len(tiles) // columns)
    scale = max(0.35, width / 900)
    band = (int(round(26 * scale)) + 4) * max(len(c) for c in captions) + 10
    pad = 6
    sheet = np.full((rows * (height + band + pad) + pad, columns * (width + pad) + pad, 3), 235, np.uint8)
    for k, (tile, caption) in enumerate(zip(tiles, captions)):
        r, c = divmod(k, columns)
        y, x = pad + r * (height + band + pad), pad + c * (width + pad)
        sheet[y:y + height, x:x + width] = tile
        sheet[y + height:y + height + band, x:x + width] = 255
        max_chars = max(8, int(width / (20 * scale)))
        lines = [line if len(line) <= max_chars else line[:max_chars - 3] + '...' for line in caption]
        _put_text(sheet, lines, (x + 4, y + height), scale)
    return sheet


def render_top(clusters_csv: str, data_path: str | Sequence[str], out_dir: str, top: int = 10,
               label_path: str | Sequence[str] | None = None, layout: str | None = None, size: int = 400,
               fps: float = 15, fmt: str = 'gif') -> list[str]:
    """Render the ``top`` highest-scoring samples of clusters.csv into ``out_dir`` plus contact_sheet.png.

    ``data_path`` is one .npy or several (as given to ``main.py extract --data_path``), each with its label pkl
    (``label_path``, or ``<split>_label.pkl`` beside it). Files are named ``rank01_score3.21_<sample>.<fmt>``;
    returns their paths, best first.
    """
    if top < 1:
        raise ValueError(f'--top must be >= 1, got {top}')
    if fmt not in FORMATS:
        raise ValueError(f'--format must be one of {", ".join(FORMATS)}, got {fmt!r}')
    rows = read_ranked_samples(clusters_csv)
    data_paths = [data_path] if isinstance(data_path, str) else list(data_path)
    label_paths = ([label_path] if isinstance(label_path, str) else list(label_path)) if label_path else []
    if label_paths and len(label_paths) != len(data_paths):
        raise ValueError(f'{len(data_paths)} --data files but {len(label_paths)} --label_path files; give one '
                         'label pkl per data file, or none to use the ones beside the data')
    lookup: dict[str, tuple[np.ndarray, int, int]] = {}  # sample name -> (array, row, label)
    for i, path in enumerate(data_paths):
        array = open_data(path)
        given = bool(label_paths)
        pkl = label_paths[i] if given else default_label_path(path)
        if not os.path.isfile(pkl):
            hint = '' if given else ' (looked beside --data; give --label_path)'
            raise FileNotFoundError(f'{pkl}: no such label pkl{hint}; it maps the sample names of '
                                    f'{clusters_csv} to rows of {path}')
        names, labels = load_label_pkl(pkl, len(array))
        for row, (name, label) in enumerate(zip(names, labels)):
            lookup.setdefault(str(name), (array, row, label))
            lookup.setdefault(f'{os.path.basename(path)}/{name}', (array, row, label))  # extract's prefixed names
    if top > len(rows):
        logger.warning('--top %d but %s has %d rows; rendering all', top, clusters_csv, len(rows))
    chosen = rows[:top]
    edges: Sequence[tuple[int, int]] | None = None
    width = max(2, len(str(len(chosen))))
    os.makedirs(out_dir, exist_ok=True)
    paths, tiles, captions = [], [], []
    try:
        from tqdm import tqdm
        progress = tqdm(chosen, desc='rendering', unit='clip', disable=len(chosen) < 3)
    except ImportError:  # tqdm is in requirements.txt; a bare environment still works
        progress = chosen
    for rank, row in enumerate(progress, start=1):
        sample, score = row['sample'], row['anomaly_score']
        if sample not in lookup:
            raise ValueError(f'{clusters_csv}: sample {sample!r} is in none of the label files of '
                             f'{", ".join(data_paths)}')
        data, index, true_label = lookup[sample]
        label = row.get('true_label') or str(true_label)
        clip = clip_from_array(np.asarray(data[index]), f'#{rank} {label}')
        if edges is None:
            spec = resolve_layout(layout, clip.num_joints)
            edges = spec.edges if spec is not None else ()
        frames = render_frames(clip, edges, size)
        path = os.path.join(out_dir, f'rank{rank:0{width}d}_score{score:.2f}_{safe_filename(sample)}.{fmt}')
        write_animation(path, frames, fps)
        paths.append(path)
        tiles.append(frames[len(frames) // 2])
        captions.append([f'#{rank}  score {score:.3g}', sample])
    sheet_path = os.path.join(out_dir, 'contact_sheet.png')
    write_png(sheet_path, contact_sheet(tiles, captions))
    logger.info('wrote %d clips and %s', len(paths), sheet_path)
    return paths


# ---------------------------------------------------------------- command line
def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Render a skeleton clip (JSON clip, or one sample of an (N, C, T, V, M) .npy) as an animated '
                    'GIF or MP4, or the K most anomalous samples of a tools/dbscan.py clusters.csv.')
    source = parser.add_argument_group('input (one of --clip, --data with --index/--sample, --clusters with --data)')
    source.add_argument('--clip', help='Kinetics-skeleton JSON clip')
    source.add_argument('--data', nargs='+', help='(N, C, T, V, M) .npy array (x, y centred by -0.5, channel 2 = '
                                                 'score); with --clusters, one or more')
    source.add_argument('--index', type=int, help='sample index in --data')
    source.add_argument('--sample', help='sample name in --data (looked up in the label pkl)')
    source.add_argument('--label_path', nargs='+', help='label pkl (sample_names, labels) of --data; default: '
                                             '<split>_label.pkl beside <split>_data.npy')
    source.add_argument('--clusters', help='clusters.csv of tools/dbscan.py: render its --top samples')
    source.add_argument('--top', type=int, default=10, help='with --clusters: how many samples to render; '
                                                            'default 10')
    parser.add_argument('--out', required=True,
                        help='output .gif or .mp4; with --clusters, an output folder')
    parser.add_argument('--format', default='gif', choices=FORMATS,
                        help='with --clusters: clip format in the folder; default gif')
    parser.add_argument('--layout', default=None,
                        help='skeleton layout: openpose, ntu-rgb+d, ntu_edge, rat, a DeepLabCut config.yaml, or '
                             f'{NO_LAYOUT} (points only); default: guessed from the joint count '
                             '(18 openpose, 25 ntu-rgb+d, 12 rat, else points only)')
    parser.add_argument('--size', type=int, default=400, help='longer image side in pixels; default 400')
    parser.add_argument('--fps', type=float, default=15, help='frames per second; default 15')
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(message)s')
    if args.size < 32:
        raise ValueError(f'--size must be at least 32 pixels, got {args.size}')
    if not args.fps > 0:
        raise ValueError(f'--fps must be positive, got {args.fps}')
    if args.clusters:
        if not args.data:
            raise ValueError('--clusters needs --data (the .npy array the clustered samples come from)')
        render_top(args.clusters, args.data, args.out, top=args.top, label_path=args.label_path,
                   layout=args.layout, size=args.size, fps=args.fps, fmt=args.format)
        return 0
    if args.clip and args.data:
        raise ValueError('give either --clip or --data, not both')
    if args.clip:
        clip = load_json_clip(args.clip)
    elif args.data:
        if len(args.data) > 1 or (args.label_path and len(args.label_path) > 1):
            raise ValueError('rendering one sample takes one --data file (and one --label_path)')
        clip = load_npy_sample(args.data[0], index=args.index, sample=args.sample,
                               label_path=args.label_path[0] if args.label_path else None)
    else:
        raise ValueError('nothing to render: give --clip, --data with --index or --sample, or --clusters with --data')
    render_clip(clip, args.out, layout=args.layout, size=args.size, fps=args.fps)
    return 0


if __name__ == '__main__':
    run_cli(main)

"""The whole pipeline on the bundled sample, end to end (``bash tools/quickstart.sh`` runs this script).

    python tools/quickstart.py             (outputs under data/ and work_dir/quickstart/ of the checkout)
    python tools/quickstart.py --social    (the two-animal sample: outputs under work_dir/quickstart_social/)

make_sample_data -> csv2json -> gen_trainDataset -> kinetics_gendata -> train -> test -> extract (validation +
abnormal clips) -> dbscan.py -> visualize.py. With ``--social``: the two-animal maDLC sample -> clips of both animals
-> a pair model (config/st_gcn/rat_social) -> per-frame pair ethograms of the held-out pairs scored against their
labels. Each step runs the checkout's command with this Python (``sys.executable``), so it uses the environment
this script runs in; no shell is needed (Windows, macOS and Linux). ``--out`` puts data/ and work_dir/ elsewhere;
``--epochs``, ``--recordings`` and ``--frames`` make a shorter run.
"""
from __future__ import annotations

import argparse
import functools
import glob
import os
import re
import shutil
import subprocess
import sys
import time
from typing import Sequence

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLIP = ['--width', '640', '--height', '480', '--fps', '30', '--clip_len', '64', '--stride', '32']
STEPS = 9


class StepFailed(RuntimeError):
    """A step's command exited with an error (its own message is above)."""


def run(args: Sequence[str], quiet_out: bool = False, quiet_err: bool = False, check: bool = True) -> int:
    """``python <args>`` in the checkout with this interpreter; StepFailed when it fails and ``check``."""
    code = subprocess.run([sys.executable, *args], cwd=ROOT, stdout=subprocess.DEVNULL if quiet_out else None,
                          stderr=subprocess.DEVNULL if quiet_err else None).returncode
    if code != 0 and check:
        raise StepFailed(f'this command failed (exit code {code}): python {" ".join(args)}')
    return code


def announce(start: float, total: int, number: int, text: str) -> None:
    """The line that opens step ``number`` of ``total``, with the seconds since ``start``."""
    print(f'\n==> [{int(time.time() - start)}s] {number}/{total} {text}', flush=True)


def feeder_paths(dataset: str) -> tuple[list[str], list[str]]:
    """The options naming the training and the validation arrays of ``dataset`` (given on the command line, so
    that --out elsewhere than the checkout works too)."""
    return tuple([f'--{which}_feeder_args', f'data_path={os.path.join(dataset, split + "_data.npy")}',
                  f'label_path={os.path.join(dataset, split + "_label.pkl")}']
                 for which, split in (('train', 'train'), ('test', 'val')))


def latest_model(folder: str) -> str:
    """The newest ``epoch<N>_model.pt`` in ``folder`` (the bash script's ``ls -t | head -n 1``)."""
    models = glob.glob(os.path.join(glob.escape(folder), 'epoch*_model.pt'))
    if not models:
        raise StepFailed(f'training wrote no epoch<N>_model.pt in {folder}')
    return max(models, key=os.path.getmtime)


def last_top1(log: str) -> str | None:
    """The last 'Top1: 12.34%' of a log file, or None."""
    if not os.path.isfile(log):
        return None
    with open(log, encoding='utf-8', errors='replace') as handle:
        found = re.findall(r'Top1: [0-9.]*%', handle.read())
    return found[-1] if found else None


def quickstart(out: str = ROOT, epochs: int | None = None, recordings: int | None = None,
               frames: int | None = None) -> str:
    """Run the nine steps; return the final summary. Paths under ``out``: data/sample, data/dlc-skeleton,
    data/sample-abnormal, work_dir/quickstart."""
    data = os.path.join(out, 'data')
    work = os.path.join(out, 'work_dir', 'quickstart')
    sample, dataset = os.path.join(data, 'sample'), os.path.join(data, 'dlc-skeleton')
    abnormal = os.path.join(data, 'sample-abnormal')
    sample_json, abnormal_json = os.path.join(data, 'sample-json'), os.path.join(data, 'sample-abnormal-json')
    train_config = os.path.join('config', 'st_gcn', 'rat', 'train.yaml')
    test_config = os.path.join('config', 'st_gcn', 'rat', 'test.yaml')
    if not os.path.isfile(os.path.join(ROOT, train_config)):
        raise StepFailed(f'{os.path.join(ROOT, train_config)} not found: run the quick start from a checkout of the '
                         'repository (the configs live there)')
    train_data, val_data = feeder_paths(dataset)
    size = (['--recordings', str(recordings)] if recordings else []) + (['--frames', str(frames)] if frames else [])
    epoch_args = ['--num_epoch', str(epochs)] if epochs else []
    run(['main.py', '-h'], quiet_out=True)  # says in one line what to do when the requirements are not installed
    start = time.time()
    step = functools.partial(announce, start, STEPS)

    step(1, f'writing the sample DeepLabCut project to {sample}')
    run([os.path.join('tools', 'make_sample_data.py'), '--out', sample, '--seed', '0', *size])

    step(2, 'csv2json: DLC CSVs -> 64-frame JSON clips')
    for folder in (sample_json, abnormal_json):
        shutil.rmtree(folder, ignore_errors=True)
    run([os.path.join('tools', 'csv2json.py'), '--input', os.path.join(sample, 'csv_data'), '--output', sample_json,
         *CLIP, '--log_level', 'WARNING'])

    step(3, 'gen_trainDataset: train/val split grouped by recording')
    run([os.path.join('tools', 'gen_trainDataset.py'), '--input', sample_json, '--output', dataset, '--force',
         '--log_level', 'WARNING'])

    step(4, f'kinetics_gendata: JSON clips -> {os.path.join(dataset, "{train,val}_data.npy")}')
    run([os.path.join('tools', 'kinetics_gendata.py'), '--data_path', dataset, '--out_folder', dataset,
         '--max_frame', '64', '--num_person_out', '1'])

    step(5, f'training ST-GCN ({train_config})')
    shutil.rmtree(work, ignore_errors=True)
    run(['main.py', 'recognition', '-c', train_config, '--work_dir', os.path.join(work, 'train'), *train_data,
         *val_data, *epoch_args, '--log_interval', '1000'])
    weights = latest_model(os.path.join(work, 'train'))

    step(6, f'testing {weights} on the validation split')
    run(['main.py', 'recognition', '-c', test_config, '--weights', weights, '--work_dir', os.path.join(work, 'test'),
         *val_data, '--label_names', os.path.join(dataset, 'classes.txt'), '--save_result', 'true'])

    step(7, 'extracting embeddings of the validation clips and one held-out abnormal (seizure) clip per recording')
    classes_with_abnormal = os.path.join(work, 'classes_with_abnormal.txt')
    with open(os.path.join(dataset, 'classes.txt'), encoding='utf-8') as handle:
        classes = handle.read()
    with open(classes_with_abnormal, 'w', encoding='utf-8') as handle:
        handle.write(classes + ('' if classes.endswith('\n') or not classes else '\n') + 'seizure\n')
    # anomalies are rare: one 64-frame clip from each abnormal recording, among the validation clips
    run([os.path.join('tools', 'csv2json.py'), '--input', os.path.join(sample, 'abnormal'), '--label', 'seizure',
         '--classes', classes_with_abnormal, '--output', abnormal_json, '--width', '640', '--height', '480',
         '--clip_len', '64', '--stride', '100000', '--log_level', 'WARNING'])
    run([os.path.join('tools', 'gen_trainDataset.py'), '--input', abnormal_json, '--output', abnormal,
         '--train_ratio', '1', '--force', '--log_level', 'WARNING'], quiet_out=True)
    run([os.path.join('tools', 'kinetics_gendata.py'), '--data_path', abnormal, '--out_folder', abnormal, '--split',
         'train', '--max_frame', '64', '--num_person_out', '1'], quiet_err=True)
    run(['main.py', 'extract', '-c', test_config, '--weights', weights, '--work_dir', os.path.join(work, 'features'),
         '--data_path', os.path.join(dataset, 'val_data.npy'), os.path.join(abnormal, 'train_data.npy'),
         '--label_path', os.path.join(dataset, 'val_label.pkl'), os.path.join(abnormal, 'train_label.pkl'),
         '--label_names', classes_with_abnormal])

    step(8, 'dbscan.py: clusters, anomaly ranking and cluster map')
    clusters = os.path.join(work, 'clusters')
    run([os.path.join('tools', 'dbscan.py'), '--features', os.path.join(work, 'features', 'features.pkl'), '--out',
         clusters, '--seed', '0', '--abnormal_label', 'seizure'])

    step(9, 'visualize.py: rendering the 6 most anomalous clips')
    if run([os.path.join('tools', 'visualize.py'), '--clusters', os.path.join(clusters, 'clusters.csv'), '--data',
            os.path.join(dataset, 'val_data.npy'), os.path.join(abnormal, 'train_data.npy'), '--top', '6', '--out',
            os.path.join(clusters, 'anomalies')], quiet_err=True, check=False) != 0:
        print('(visualize.py could not render the anomalies; see the command above)')

    top1 = last_top1(os.path.join(work, 'test', 'log.txt')) or 'Top1: n/a'
    lines = [f'Done in {int(time.time() - start)}s. Validation {top1} (5 behaviours, chance 20%).',
             f'  trained weights    {weights}',
             f'  training log       {os.path.join(work, "train", "log.txt")}',
             f'  test results       {os.path.join(work, "test")}{os.sep} (log.txt, test_result.pkl)',
             f'  embeddings         {os.path.join(work, "features", "features.pkl")}, predictions.csv',
             f'  clusters           {os.path.join(clusters, "clusters.csv")}, summary.json',
             f'  cluster map        {os.path.join(clusters, "cluster_map.png")}',
             f'  anomalies          {os.path.join(clusters, "anomalies")}{os.sep}']
    return '\n'.join(lines)


def social_quickstart(out: str = ROOT, epochs: int | None = None, recordings: int | None = None,
                      frames: int | None = None) -> str:
    """The pair workflow on the two-animal sample; return the final summary. Paths under ``out``:
    data/social_sample, data/social-json, data/social-skeleton, data/social-labels, work_dir/quickstart_social."""
    data = os.path.join(out, 'data')
    work = os.path.join(out, 'work_dir', 'quickstart_social')
    sample, clips = os.path.join(data, 'social_sample'), os.path.join(data, 'social-json')
    dataset, labels = os.path.join(data, 'social-skeleton'), os.path.join(data, 'social-labels')
    config = os.path.join('config', 'st_gcn', 'rat_social', 'train.yaml')
    train_data, val_data = feeder_paths(dataset)
    size = (['--recordings', str(recordings)] if recordings else []) + (['--frames', str(frames)] if frames else [])
    run(['main.py', '-h'], quiet_out=True)
    start = time.time()
    step = functools.partial(announce, start, 6)
    step(1, f'writing the two-animal sample (maDLC) to {sample}')
    run([os.path.join('tools', 'make_sample_data.py'), '--social', '--out', sample, '--seed', '0', *size])
    step(2, 'csv2json: both animals of every recording in one clip')
    shutil.rmtree(clips, ignore_errors=True)
    run([os.path.join('tools', 'csv2json.py'), '--input', os.path.join(sample, 'csv_data'), '--output', clips, *CLIP,
         '--log_level', 'WARNING'])
    step(3, 'gen_trainDataset and kinetics_gendata --num_person_out 2')
    run([os.path.join('tools', 'gen_trainDataset.py'), '--input', clips, '--output', dataset, '--force',
         '--log_level', 'WARNING'], quiet_out=True)
    run([os.path.join('tools', 'kinetics_gendata.py'), '--data_path', dataset, '--out_folder', dataset,
         '--max_frame', '64', '--num_person_out', '2'], quiet_err=True)
    step(4, f'training the pair model ({config}: both animals in the pair\'s frame)')
    shutil.rmtree(work, ignore_errors=True)
    run(['main.py', 'recognition', '-c', config, '--work_dir', os.path.join(work, 'train'), *train_data, *val_data,
         '--label_names', os.path.join(dataset, 'classes.txt'), '--log_interval', '1000',
         *(['--num_epoch', str(epochs)] if epochs else [])])
    weights = latest_model(os.path.join(work, 'train'))
    step(5, 'the held-out pairs: every frame labelled with its recording\'s behaviour')
    held_out = held_out_recordings(os.path.join(dataset, 'kinetics_val_label.json'), os.path.join(sample, 'csv_data'))
    shutil.rmtree(labels, ignore_errors=True)
    os.makedirs(os.path.join(labels, 'recordings'))
    write_frame_labels(held_out, labels)
    for path, _ in held_out:
        shutil.copyfile(path, os.path.join(labels, 'recordings', os.path.basename(path)))
    step(6, 'main.py demo: per-frame pair ethograms scored against the labels')
    demo = os.path.join(work, 'demo')
    run(['main.py', 'demo', '--weights', weights, '--input', os.path.join(labels, 'recordings'), '--annotations',
         labels, '--work_dir', demo])
    pooled = os.path.join(demo, 'evaluation', 'evaluation.json')
    summary = 'n/a'
    if os.path.isfile(pooled):
        import json
        with open(pooled, encoding='utf-8') as handle:
            result = json.load(handle)
        summary = f'macro F1 {result["macro_f1"]:.3f}, accuracy {result["accuracy"]:.3f}'
    lines = [f'Done in {int(time.time() - start)}s. Held-out pairs, per frame: {summary} (5 behaviours, chance 0.2).',
             f'  trained weights    {weights}',
             f'  ethograms          {demo}{os.sep}<recording>{os.sep} (ethogram.csv: individual rat1+rat2)',
             f'  evaluation         {os.path.join(demo, "evaluation")}{os.sep} (evaluation.json, confusion_matrix.png)']
    return '\n'.join(lines)


def held_out_recordings(label_json: str, csv_data: str) -> list[tuple[str, str]]:
    """(pose file, behaviour) of the recordings of the validation split (clip names: <class>__<recording>__<n>)."""
    import json
    with open(label_json, encoding='utf-8') as handle:
        names = {name.split('__')[1]: entry['label'] for name, entry in json.load(handle).items()}
    found = []
    for behaviour in sorted(os.listdir(csv_data)):
        for file in sorted(os.listdir(os.path.join(csv_data, behaviour))):
            if os.path.splitext(file)[0] in names:
                found.append((os.path.join(csv_data, behaviour, file), behaviour))
    return found


def write_frame_labels(recordings: Sequence[tuple[str, str]], folder: str) -> None:
    """A per-frame label file ``<recording>_labels.csv`` (``frame,label``) in ``folder`` for each (pose file,
    behaviour), every frame carrying the recording's behaviour."""
    for path, behaviour in recordings:
        name = os.path.splitext(os.path.basename(path))[0]
        with open(os.path.join(folder, name + '_labels.csv'), 'w', encoding='utf-8') as handle:
            handle.write('frame,label\n' + ''.join(f'{t},{behaviour}\n' for t in range(_rows(path))))


def _rows(path: str) -> int:
    """Frames of a DLC CSV (its lines after the header rows)."""
    with open(path, encoding='utf-8') as handle:
        return sum(1 for line in handle if line[:1].isdigit())


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog='quickstart.py', description=__doc__.split('\n')[0])
    parser.add_argument('--out', default=ROOT, metavar='DIR',
                        help='folder for data/ and work_dir/quickstart/ (default: the checkout, as quickstart.sh)')
    parser.add_argument('--epochs', type=int, default=None,
                        help='training epochs (default: the rat config\'s num_epoch, as quickstart.sh\'s EPOCHS)')
    parser.add_argument('--recordings', type=int, default=None,
                        help='sample recordings per behaviour (default: make_sample_data\'s, 6)')
    parser.add_argument('--frames', type=int, default=None,
                        help='frames per sample recording (default: make_sample_data\'s, 600)')
    parser.add_argument('--social', action='store_true',
                        help='the pair workflow on the two-animal sample instead (work_dir/quickstart_social/)')
    args = parser.parse_args(argv)
    for name in ('epochs', 'recordings', 'frames'):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.error(f'--{name} must be at least 1, got {getattr(args, name)}')
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        run_steps = social_quickstart if args.social else quickstart
        summary = run_steps(os.path.abspath(args.out), args.epochs, args.recordings, args.frames)
    except StepFailed as exc:
        print(f'quickstart.py: error: {exc}', file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print('quickstart.py: interrupted', file=sys.stderr)
        return 130
    cwd = os.getcwd()
    print('\n' + summary.replace(cwd + os.sep, '') if cwd != os.sep else '\n' + summary)
    return 0


if __name__ == '__main__':
    sys.exit(main())

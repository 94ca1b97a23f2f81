"""pyproject.toml: the wheel installs the project's modules and console commands, which run outside the checkout.

The checkout is copied and built with the environment's setuptools (no download), installed with --target into a
temporary folder (no venv, so torch and the other dependencies come from the running environment), and the commands
run from another folder with only that install on PYTHONPATH. About 10 s on 2 cores.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT

PACKAGES = ('processor', 'net', 'feeder', 'torchlight', 'tools')
FILES = ('pyproject.toml', 'README.md', 'LICENSE', 'main.py')


def _setuptools_version() -> tuple[int, ...]:
    try:
        from importlib.metadata import version
        return tuple(int(part) for part in version('setuptools').split('.')[:2])
    except Exception:  # not installed, or an unusual version string: the build cannot be checked here
        return (0,)


@pytest.fixture(scope='module')
def installed(tmp_path_factory):
    if _setuptools_version() < (77,):
        pytest.skip('building the wheel needs setuptools >= 77 (PEP 639 licence fields)')
    root = tmp_path_factory.mktemp('packaging')
    src = root / 'src'
    src.mkdir()
    for name in FILES:
        shutil.copy2(os.path.join(ROOT, name), src / name)
    for name in PACKAGES:
        shutil.copytree(os.path.join(ROOT, name), src / name, ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
    quiet = dict(capture_output=True, text=True)
    built = subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '--no-index',
                            '-q', str(src), '-w', str(root / 'wheel')], **quiet)
    assert built.returncode == 0, built.stderr
    wheel = next((root / 'wheel').glob('st_gcn-*.whl'))
    target = root / 'site'
    done = subprocess.run([sys.executable, '-m', 'pip', 'install', '--no-deps', '--no-index', '-q', '--target',
                           str(target), str(wheel)], **quiet)
    assert done.returncode == 0, done.stderr
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    env['PYTHONPATH'] = str(target)
    return {'target': target, 'env': env, 'cwd': root, 'wheel': wheel}


def _run(installed, command: str, *args: str) -> subprocess.CompletedProcess:
    script = installed['target'] / 'bin' / command
    return subprocess.run([sys.executable, str(script), *args], cwd=installed['cwd'], env=installed['env'],
                          capture_output=True, text=True)


def test_the_modules_come_from_the_install(installed):
    proc = subprocess.run([sys.executable, '-c', 'import main, processor.api, feeder.pose_formats, torchlight, '
                           'tools.csv2json as t; print(main.__file__, torchlight.__file__, t.__file__)'],
                          cwd=installed['cwd'], env=installed['env'], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert all(path.startswith(str(installed['target'])) for path in proc.stdout.split()), proc.stdout


def test_console_commands(installed):
    proc = _run(installed, 'st-gcn', '-h')
    assert proc.returncode == 0, proc.stderr
    assert '{recognition,extract,demo}' in proc.stdout
    proc = _run(installed, 'st-gcn', 'demo', '-h')
    assert proc.returncode == 0 and '--weights' in proc.stdout, proc.stderr
    proc = _run(installed, 'st-gcn-csv2json', '-h')
    assert proc.returncode == 0 and '--annotations' in proc.stdout, proc.stderr
    # a user error is one line naming the command, exit code 1, as from the checkout's scripts
    proc = _run(installed, 'st-gcn-evaluate-ethogram', '--pred', 'nowhere', '--annotations', 'nowhere')
    assert proc.returncode == 1
    assert proc.stderr.strip() == 'st-gcn-evaluate-ethogram: error: nowhere: no such ethogram.csv or folder (--pred)'


def test_every_tool_with_a_main_has_a_command():
    tomllib = pytest.importorskip('tomllib')
    with open(os.path.join(ROOT, 'pyproject.toml'), 'rb') as handle:
        scripts = tomllib.load(handle)['project']['scripts']
    tools = sorted(f[:-3] for f in os.listdir(os.path.join(ROOT, 'tools'))
                   if f.endswith('.py') and f != 'quickstart.py' and 'def main(' in
                   open(os.path.join(ROOT, 'tools', f), encoding='utf-8').read())
    from processor import console
    assert sorted(console.TOOLS.values()) == [f'tools.{t}' for t in tools]
    for command, module in console.TOOLS.items():
        entry = scripts[f'st-gcn-{command}']
        function = getattr(console, entry.split(':')[1])
        assert function.__name__ == f'st_gcn_{command}'.replace('-', '_'), (command, entry)

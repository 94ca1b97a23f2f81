"""The documentation's commands and links are checked against the code.

Every fenced shell command of README.md, docs/*.md and benchmarks/README.md is extracted (``bash``/``sh``/``shell``/
``console`` fences, and in other fences the lines that start with ``python``, ``bash`` or ``torchrun``; ``\\``
continuations joined; ``&&``, ``;`` and ``|`` split). Each ``python main.py <cmd> ...``, ``python tools/<tool>.py
...`` and ``python benchmarks/<script>.py ...`` (also under ``torchrun``) is parsed by that command's real parser
without running it; ``-h`` invocations run for real; ``bash`` scripts must exist and pass ``bash -n``. A fence after
``<!-- docs-check: skip -->`` is left out; a fence after ``<!-- docs-check: run -->`` also runs, in order, in a
scratch folder that links to the repository. Every relative link must point to an existing file, and every anchor
to a heading of its page. README.md stays under 300 lines and keeps the install and test commands of ``.ci/run``.
"""
from __future__ import annotations

import contextlib
import dataclasses
import importlib
import importlib.util
import io
import os
import re
import shlex
import subprocess
import sys
from typing import Any, Callable

import pytest

from conftest import ROOT

DOCS = ['README.md', 'benchmarks/README.md'] + sorted(
    os.path.join('docs', name) for name in os.listdir(os.path.join(ROOT, 'docs')) if name.endswith('.md'))
SHELL_FENCES = {'bash', 'sh', 'shell', 'console'}
CODE_FENCES = {'python', 'py', 'yaml', 'yml', 'json'}   # never hold shell commands
COMMAND_WORDS = ('python', 'python3', 'bash', 'torchrun')
SKIP_MARK = '<!-- docs-check: skip -->'
RUN_MARK = '<!-- docs-check: run -->'
README_LIMIT = 300
# what .ci/run does, which README.md must say
CI_COMMANDS = ('python3 -m venv .venv', '. .venv/bin/activate', 'pip install -r requirements.txt',
               'pip install -r requirements-dev.txt', 'python -m pytest -q tests')


@dataclasses.dataclass
class Fence:
    path: str       # relative to ROOT
    line: int       # 1-based line of the opening ```
    lang: str
    lines: list[str]
    mark: str | None


@dataclasses.dataclass
class Command:
    path: str
    line: int
    tokens: list[str]
    run: bool

    @property
    def where(self) -> str:
        return f'{self.path}:{self.line}'

    @property
    def text(self) -> str:
        return shlex.join(self.tokens)


# ---------------------------------------------------------------- extraction
def fences(path: str, text: str) -> list[Fence]:
    """The fenced code blocks of a markdown text, with the docs-check mark on the line before each, if any."""
    found: list[Fence] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        match = re.match(r'^(\s*)(`{3,}|~{3,})\s*([\w+-]*)', lines[i])
        if not match:
            i += 1
            continue
        indent, fence, lang = match.groups()
        before = next((lines[j].strip() for j in range(i - 1, -1, -1) if lines[j].strip()), '')
        mark = before if before in (SKIP_MARK, RUN_MARK) else None
        body = []
        j = i + 1
        while j < len(lines) and not lines[j].strip().startswith(fence):
            body.append(lines[j][len(indent):] if lines[j].startswith(indent) else lines[j])
            j += 1
        found.append(Fence(path, i + 1, lang.lower(), body, mark))
        i = j + 1
    return found


def _logical_lines(lines: list[str]) -> list[tuple[int, str]]:
    """(offset of the first line, text) with backslash continuations joined."""
    out: list[tuple[int, str]] = []
    pending, start = '', 0
    for offset, line in enumerate(lines):
        if not pending:
            start = offset
        if line.rstrip().endswith('\\'):
            pending += line.rstrip()[:-1] + ' '
            continue
        out.append((start, pending + line))
        pending = ''
    if pending:
        out.append((start, pending))
    return out


def split_commands(text: str) -> list[list[str]]:
    """Shell words of each command of a line (split at &&, ||, ;, |), comments and NAME=value prefixes removed."""
    lexer = shlex.shlex(text, posix=True, punctuation_chars=';&|')
    lexer.whitespace_split = True
    commands: list[list[str]] = [[]]
    for token in lexer:
        if token and set(token) <= set(';&|'):
            commands.append([])
        else:
            commands[-1].append(token)
    result = []
    for words in commands:
        while words and re.match(r'^[A-Za-z_][A-Za-z0-9_]*=', words[0]):
            words = words[1:]
        if words:
            result.append(words)
    return result


def fence_commands(fence: Fence) -> list[Command]:
    if fence.mark == SKIP_MARK or fence.lang in CODE_FENCES:
        return []
    commands = []
    for offset, line in _logical_lines(fence.lines):
        stripped = line.strip()
        if fence.lang == 'console':
            if not stripped.startswith('$ '):
                continue
            stripped = stripped[2:]
        if not stripped or stripped.startswith('#'):
            continue
        if fence.lang not in SHELL_FENCES and stripped.split()[0] not in COMMAND_WORDS:
            continue
        for tokens in split_commands(stripped):
            commands.append(Command(fence.path, fence.line + 1 + offset, tokens, fence.mark == RUN_MARK))
    return commands


def doc_commands(paths: list[str] = DOCS, root: str = ROOT) -> list[Command]:
    commands = []
    for path in paths:
        with open(os.path.join(root, path), encoding='utf-8') as handle:
            text = handle.read()
        for fence in fences(path, text):
            commands.extend(fence_commands(fence))
    return commands


# ---------------------------------------------------------------- checking one command
def _parse(parse: Callable[[list[str]], Any], args: list[str]) -> tuple[Any, str | None]:
    """(namespace, None), or (None, the parser's error) when it exits."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            return parse(args), None
        except SystemExit as exc:
            message = err.getvalue().strip().splitlines()
            return None, f'exit {exc.code}: {message[-1] if message else "(no message)"}'


def _module_of(script: str):
    """The importable module of a repository script (tools are a namespace package; benchmarks load by path)."""
    if script.startswith('tools/'):
        return importlib.import_module('tools.' + os.path.splitext(os.path.basename(script))[0])
    name = 'docs_check_' + re.sub(r'\W', '_', script)
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, script))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def _check_benchmark_cases(module, namespace) -> list[str]:
    cases = getattr(module, 'CASES', {})
    return [f'--only {case}: no such case (cases: {", ".join(cases)})'
            for case in getattr(namespace, 'only', None) or [] if case not in cases]


def check_python_script(script: str, args: list[str], root: str = ROOT) -> list[str]:
    """Problems of ``python <script> <args>``: a missing script, options its parser refuses, a missing config."""
    if not os.path.isfile(os.path.join(root, script)):
        return [f'{script}: no such script']
    if any(a in ('-h', '--help') for a in args):
        return []   # run for real by test_help_runs
    if script == 'main.py':
        import main
        namespace, error = _parse(main.build_parser().parse_args, args)
        if error:
            return [error]
        config = getattr(namespace, 'config', None)
        if config and config.replace('./', '').startswith('config/') and not os.path.isfile(os.path.join(root, config)):
            return [f'-c {config}: no such config file']
        return []
    if script.startswith(('tools/', 'benchmarks/')) and script.endswith('.py'):
        module = _module_of(script)
        namespace, error = _parse(module.parse_args, args)
        if error:
            return [error]
        return _check_benchmark_cases(module, namespace) if script == 'benchmarks/run.py' else []
    return [f'{script}: not a command the docs check knows (main.py, tools/*.py, benchmarks/*.py)']


def check_command(tokens: list[str], root: str = ROOT) -> list[str]:
    """Problems of one documented command (empty when it is fine)."""
    word, args = tokens[0], tokens[1:]
    if word in ('python', 'python3'):
        if args[:1] == ['-m']:
            module, rest = args[1], args[2:]
            if module == 'venv':
                return []
            if module == 'pytest':
                return [f'{p}: no such test path' for p in rest if not p.startswith('-')
                        and not os.path.exists(os.path.join(root, p))]
            if module == 'torch.distributed.run':
                return check_command(['torchrun'] + rest, root)
            return [f'python -m {module}: not a command the docs check knows']
        if not args:
            return ['python without a script']
        return check_python_script(args[0].replace('./', '', 1) if args[0].startswith('./') else args[0], args[1:],
                                   root)
    if word == 'torchrun':
        from torch.distributed.run import get_args_parser
        namespace, error = _parse(get_args_parser().parse_args, args)
        if error:
            return [f'torchrun: {error}']
        return check_python_script(namespace.training_script, list(namespace.training_script_args), root)
    if word == 'bash':
        script = os.path.join(root, args[0]) if args else ''
        if not os.path.isfile(script):
            return [f'bash {args[0] if args else ""}: no such script']
        syntax = subprocess.run(['bash', '-n', script], capture_output=True, text=True)
        return [f'bash -n {args[0]}: {syntax.stderr.strip()}'] if syntax.returncode else []
    if word == 'pip':
        if '-r' in args:
            requirement = args[args.index('-r') + 1]
            if not os.path.isfile(os.path.join(root, requirement)):
                return [f'pip install -r {requirement}: no such file']
        return []
    if word in ('.', 'source'):
        return []
    if word in CONSOLE_COMMANDS:  # the console commands of pyproject.toml: the same parsers as the scripts
        return check_python_script(CONSOLE_COMMANDS[word], args, root)
    return [f'{word}: not a command the docs check knows']


def _console_commands() -> dict[str, str]:
    """``st-gcn`` -> main.py and ``st-gcn-<tool>`` -> the tool's script (processor/console.py's table)."""
    from processor.console import TOOLS
    commands = {'st-gcn': 'main.py'}
    commands.update({f'st-gcn-{name}': module.replace('.', '/') + '.py' for name, module in TOOLS.items()})
    return commands


CONSOLE_COMMANDS = _console_commands()


COMMANDS = doc_commands()


@pytest.mark.parametrize('command', COMMANDS, ids=[c.where for c in COMMANDS])
def test_every_documented_command_parses(command):
    problems = check_command(command.tokens)
    assert not problems, f'{command.where}: {command.text}\n  ' + '\n  '.join(problems)


def test_the_docs_hold_commands_of_every_kind():
    """The extraction finds the commands (a broken extractor would make every other check pass vacuously)."""
    scripts = {c.tokens[1] for c in COMMANDS if c.tokens[0] == 'python' and len(c.tokens) > 1}
    assert {'main.py', 'tools/csv2json.py', 'tools/gen_trainDataset.py', 'tools/kinetics_gendata.py',
            'tools/evaluate_ethogram.py', 'tools/dbscan.py', 'tools/visualize.py',
            'tools/make_sample_data.py'} <= scripts
    subcommands = {c.tokens[2] for c in COMMANDS if c.tokens[:2] == ['python', 'main.py'] and len(c.tokens) > 2}
    assert {'recognition', 'demo', 'extract'} <= subcommands
    assert len(COMMANDS) >= 60


HELP_COMMANDS = list({c.text: c for c in COMMANDS
                      if c.tokens[0] in ('python', 'python3') and set(c.tokens) & {'-h', '--help'}}.values())


@pytest.mark.parametrize('command', HELP_COMMANDS, ids=[c.where for c in HELP_COMMANDS])
def test_help_runs(command):
    proc = subprocess.run([sys.executable] + command.tokens[1:], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={**os.environ, 'OMP_NUM_THREADS': '1'})
    assert proc.returncode == 0 and 'usage:' in proc.stdout, f'{command.where}: {command.text}\n{proc.stderr}'


RUN_COMMANDS = [c for c in COMMANDS if c.run]


@pytest.mark.skipif(not RUN_COMMANDS, reason='no fence is marked to run')
def test_marked_fences_run(tmp_path):
    """The fences marked to run, in order, in a scratch folder whose repository entries link to the real ones
    (so data/ and work_dir/ are written there)."""
    for entry in os.listdir(ROOT):
        if entry not in ('data', 'work_dir', '.git', '.venv', 'models'):
            os.symlink(os.path.join(ROOT, entry), tmp_path / entry)
    for command in RUN_COMMANDS:
        assert command.tokens[0] in ('python', 'python3'), f'{command.where}: only python commands are run'
        proc = subprocess.run([sys.executable] + command.tokens[1:], cwd=tmp_path, capture_output=True, text=True,
                              timeout=300, env={**os.environ, 'OMP_NUM_THREADS': '1'})
        assert proc.returncode == 0, f'{command.where}: {command.text}\n{proc.stderr[-2000:]}'


# ---------------------------------------------------------------- links
def _without_code(text: str, spans: bool = True) -> str:
    """The markdown with fenced blocks (and, with ``spans``, inline code spans) blanked: links there are not links,
    and lines there are not headings."""
    kept, in_fence, fence = [], False, ''
    for line in text.splitlines():
        match = re.match(r'^\s*(`{3,}|~{3,})', line)
        if match and (not in_fence or line.strip().startswith(fence)):
            in_fence, fence = (not in_fence), match.group(1)
            kept.append('')
            continue
        kept.append('' if in_fence else re.sub(r'`[^`]*`', '``', line) if spans else line)
    return '\n'.join(kept)


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: the text as rendered, lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r'!?\[([^\]]*)\]\([^)]*\)', r'\1', heading)
    text = text.replace('`', '').replace('*', '').strip().lower()
    return re.sub(r'[^\w\- ]', '', text).replace(' ', '-')


def anchors(path: str) -> set[str]:
    with open(path, encoding='utf-8') as handle:
        text = _without_code(handle.read(), spans=False)
    seen: dict[str, int] = {}
    result = set()
    for line in text.splitlines():
        match = re.match(r'^#{1,6}\s+(.*?)\s*#*\s*$', line)
        if match:
            base = slug(match.group(1))
            count = seen.get(base, 0)
            seen[base] = count + 1
            result.add(base if count == 0 else f'{base}-{count}')
    return result


def link_problems(path: str, root: str = ROOT) -> list[str]:
    """Relative links and images of a markdown file whose target or anchor does not exist."""
    full = os.path.join(root, path)
    with open(full, encoding='utf-8') as handle:
        text = _without_code(handle.read())
    problems = []
    for number, line in enumerate(text.splitlines(), start=1):
        for target in re.findall(r'!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)', line):
            if re.match(r'^[a-z][a-z0-9+.-]*:', target):     # http:, https:, mailto:
                continue
            file_part, _, anchor = target.partition('#')
            destination = os.path.normpath(os.path.join(os.path.dirname(full), file_part)) if file_part else full
            if not os.path.exists(destination):
                problems.append(f'{path}:{number}: {target}: no such file')
            elif anchor and destination.endswith('.md') and anchor not in anchors(destination):
                problems.append(f'{path}:{number}: {target}: no heading with this anchor')
    return problems


@pytest.mark.parametrize('path', DOCS)
def test_links_point_to_files_and_headings(path):
    problems = link_problems(path)
    assert not problems, '\n'.join(problems)


def test_every_docs_page_is_linked_from_the_readme():
    with open(os.path.join(ROOT, 'README.md'), encoding='utf-8') as handle:
        readme = handle.read()
    missing = [path for path in DOCS if path != 'README.md' and f']({path}' not in readme]
    assert not missing, f'README.md does not link to {", ".join(missing)}'


# ---------------------------------------------------------------- the README itself
def test_readme_is_short():
    with open(os.path.join(ROOT, 'README.md'), encoding='utf-8') as handle:
        count = len(handle.read().splitlines())
    assert count < README_LIMIT, f'README.md has {count} lines; keep it under {README_LIMIT} (details go in docs/)'


def test_readme_says_what_ci_does():
    """.ci/run installs as README.md says and runs its test command: both must keep saying the same."""
    readme = {shlex.join(c.tokens) for c in COMMANDS if c.path == 'README.md'}
    with open(os.path.join(ROOT, '.ci', 'run'), encoding='utf-8') as handle:
        ci = handle.read()
    for command in CI_COMMANDS:
        assert command in ci, f'.ci/run no longer runs {command!r}; update CI_COMMANDS and README.md together'
        assert shlex.join(shlex.split(command)) in readme, f'README.md does not show {command!r}'


# ---------------------------------------------------------------- the check can fail
def test_the_check_catches_wrong_options_scripts_and_links(tmp_path):
    page = tmp_path / 'page.md'
    page.write_text('See [missing](nowhere.md) and [here](#no-such-heading).\n\n# A heading\n\n'
                    '```bash\n'
                    'python tools/csv2json.py --inptu data/ --output json/\n'
                    'python main.py demo --weights m.pt --input a.csv \\\n    --smooth kalman\n'
                    'python main.py recognition -c config/st_gcn/rat/no_such.yaml\n'
                    'python tools/no_such_tool.py --x 1\n'
                    'python benchmarks/run.py --only infer_speed no_such_case\n'
                    'python tools/dbscan.py --features f.pkl --out o  # fine\n'
                    '```\n', encoding='utf-8')
    commands = doc_commands(['page.md'], str(tmp_path))
    assert [c.line for c in commands] == [6, 7, 9, 10, 11, 12]
    problems = [check_command(c.tokens) for c in commands]
    assert 'unrecognized arguments: --inptu' in problems[0][0]
    assert "invalid choice: 'kalman'" in problems[1][0]
    assert problems[2] == ['-c config/st_gcn/rat/no_such.yaml: no such config file']
    assert problems[3] == ['tools/no_such_tool.py: no such script']
    assert problems[4][0].startswith('--only no_such_case: no such case')
    assert problems[5] == []
    assert link_problems('page.md', str(tmp_path)) == ['page.md:1: nowhere.md: no such file',
                                                       'page.md:1: #no-such-heading: no heading with this anchor']
    assert slug('`tools/csv2json.py`: pose files to JSON clips') == 'toolscsv2jsonpy-pose-files-to-json-clips'

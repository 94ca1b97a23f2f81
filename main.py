#!/usr/bin/env python
"""st-gcn command line: `python main.py <processor> [options]`; `python main.py <processor> -h` lists them."""
from __future__ import annotations

import argparse
import os
import sys

# Processors are registered here, by name, in one place. Imported lazily so `-h` and errors stay quick.
PROCESSORS = {
    'recognition': 'processor.recognition.REC_Processor',
    'extract': 'processor.extract.Extractor',
    'demo': 'processor.demo.Demo',
}


def build_parser(prog: str = 'main.py') -> argparse.ArgumentParser:
    from torchlight import import_class
    parser = argparse.ArgumentParser(prog=prog, description='ST-GCN: skeleton-based action recognition')
    subparsers = parser.add_subparsers(dest='processor', metavar='{' + ','.join(PROCESSORS) + '}')
    for name, dotted in PROCESSORS.items():
        processor = import_class(dotted)
        subparsers.add_parser(name, parents=[processor.get_parser()], help=(processor.__doc__ or '').split('\n')[0])
    return parser


def main(argv: list[str] | None = None, prog: str = 'main.py') -> int:
    """Run ``<processor> [options]``; ``prog`` names the command in messages (``st-gcn`` for the installed one)."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from processor.console import prefer_mps_fallback
    prefer_mps_fallback()  # before torch is imported
    try:
        from processor.io import ConfigError
        from torchlight import import_class
        from torchlight.util import USER_ERRORS
    except ModuleNotFoundError as exc:  # run outside the environment the requirements were installed into
        print(f'{prog}: error: the package {exc.name!r} is not installed for {sys.executable}; activate the '
              'environment you installed into (. .venv/bin/activate) or install: pip install -r requirements.txt',
              file=sys.stderr)
        return 1

    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in PROCESSORS:
        parser = build_parser(prog)
        parser.parse_args(argv)  # prints help or the list of valid processors and exits
        parser.print_help()
        return 2
    name = argv[0]
    try:
        processor_class = import_class(PROCESSORS[name])
        if any(a in ('-h', '--help') for a in argv[1:]):
            build_parser(prog).parse_args(argv)
        processor_class.command_name = name
        processor = processor_class(argv[1:])
        processor.start()
    except ConfigError as exc:
        if os.environ.get('ST_GCN_TRACEBACK'):
            raise
        print(f'{prog} {name}: error: {exc}', file=sys.stderr)
        return 2
    except USER_ERRORS as exc:
        if os.environ.get('ST_GCN_TRACEBACK'):
            raise
        print(f'{prog} {name}: error: {exc}', file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f'{prog} {name}: interrupted', file=sys.stderr)
        return 130
    return 0


if __name__ == '__main__':
    sys.exit(main())

"""Installs the torchlight package from this folder (requirements.txt does it: `-e ./torchlight`)."""
from setuptools import setup

setup(
    name='torchlight',
    version='1.0',
    description='IO, logging and small utilities shared by the st-gcn processors',
    packages=['torchlight'],
    package_dir={'torchlight': '.'},
    py_modules=[],
)

from setuptools import find_packages, setup

setup(
    name='torchlight',
    version='1.0',
    description='IO, logging and small utilities shared by the st-gcn processors',
    packages=find_packages(),
)

"""The dual-mode MNIST trainer that Batch AI jobs run, and the preparation of its data.

``ConvNet_MNIST.py`` is the job script itself (one self-contained file, Python 3.5+, stdlib + numpy,
CNTK when importable); ``trainer.data`` writes its CNTK text format input files.
"""

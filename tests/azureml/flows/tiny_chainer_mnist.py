"""Stand-in for trainer/chainer_mnist.py when a checkout has none: the seed script's command line and outputs,
numpy only (metrics through Run.get_context(), outputs/model.npz)."""
import argparse
import os

import numpy as np
from azureml.core.run import Run

run = Run.get_context()
parser = argparse.ArgumentParser()
parser.add_argument('--batchsize', '-b', type=int, default=100)
parser.add_argument('--epochs', '-e', type=int, default=20)
parser.add_argument('--output_dir', '-o', default='./outputs')
parser.add_argument('--gpu_id', '-g', type=int, default=-1)
args = parser.parse_args()
run.log('Batch size', args.batchsize)
run.log('Epochs', args.epochs)
weights = np.random.default_rng(0).normal(size=(784, 10))
for epoch in range(args.epochs):
    print(f"epoch {epoch + 1}", flush=True)
    run.log('Accuracy', 0.5 + epoch / 100)
os.makedirs(args.output_dir, exist_ok=True)
np.savez(os.path.join(args.output_dir, 'model.npz'), w=weights)

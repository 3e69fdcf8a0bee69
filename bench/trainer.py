"""Training throughput of ConvNet_MNIST's numpy backend against PyTorch CPU, same network, same minibatch.

    python bench/trainer.py [--rounds 3] [--steps 100] [--minibatch-size 64] [--keep-openblas-env]

Each round runs the numpy backend and then PyTorch (torch==2.13.0, the bench-only dependency), each in a fresh
child process: warm-up steps, then timed training steps (forward, backward, CNTK's momentum update) on
MNIST-shaped minibatches. The rounds interleave the two so that load from elsewhere hits both alike. Printed:
the median images/s of each and their ratio, numpy / torch.

Both run as they would train: the numpy backend with its defaults (one worker thread per CPU, one BLAS thread
each, glibc told to keep freed blocks, see tune_allocator), PyTorch with one intra-op thread per CPU and the
same glibc settings. By default OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are removed
from the children's environment, so numpy's OpenBLAS picks its kernels for this CPU (some machines set them to
work around old OpenBLAS builds; PyTorch does not use OpenBLAS). --keep-openblas-env keeps them.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)


def cpus():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def batches(np, minibatch, count=16, seed=0):
    rng = np.random.RandomState(seed)
    xs = [(rng.randint(0, 256, (minibatch, 28, 28, 1)) * 0.00390625).astype(np.float32) for _ in range(count)]
    ys = [rng.randint(0, 10, minibatch) for _ in range(count)]
    return xs, ys


def time_steps(step, warmup, steps, reps):
    for i in range(warmup):
        step(i)
    rates = []
    for _ in range(reps):
        began = time.perf_counter()
        for i in range(steps):
            step(i)
        rates.append(time.perf_counter() - began)
    return rates


def child_numpy(args):
    from trainer import ConvNet_MNIST as convnet
    np = convnet.np
    rng = np.random.RandomState(1)
    params = convnet.glorot_params(rng)
    workers = convnet.Workers(params, args.threads or convnet.cpu_count())
    learner = convnet.MomentumSGD(params)
    xs, ys = batches(np, args.minibatch_size)
    eye = np.eye(10, dtype=np.float32)
    lr, momentum = convnet.schedule(5, args.minibatch_size)

    def step(i):
        keep = convnet.dropout_keep(rng, args.minibatch_size)
        grads = workers.loss_and_grads(xs[i % 16], eye[ys[i % 16]], keep)[2]
        learner.update(grads, lr, momentum)

    seconds = time_steps(step, 20, args.steps, args.reps)
    workers.close()
    info = {'numpy': np.__version__, 'workers': len(workers.nets),
            'OPENBLAS_NUM_THREADS': os.environ.get('OPENBLAS_NUM_THREADS'),
            'OPENBLAS_CORETYPE': os.environ.get('OPENBLAS_CORETYPE')}
    return seconds, info


def child_torch(args):
    import numpy as np
    import torch
    from torch import nn
    torch.set_num_threads(args.threads or cpus())
    torch.manual_seed(1)
    net = nn.Sequential(
        nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(32, 48, 3), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(48, 64, 3), nn.ReLU(), nn.Flatten(),
        nn.Linear(576, 96), nn.ReLU(), nn.Dropout(0.5), nn.Linear(96, 10))
    assert sum(p.numel() for p in net.parameters()) == 98778
    momentum = 0.939413  # the reference's time constant of 1024 samples at minibatch 64
    # CNTK's unit-gain momentum on the summed gradient is SGD with dampening = momentum on a summed loss
    optimizer = torch.optim.SGD(net.parameters(), lr=0.001, momentum=momentum, dampening=momentum)
    loss_fn = nn.CrossEntropyLoss(reduction='sum')
    xs, ys = batches(np, args.minibatch_size)
    xs = [torch.from_numpy(x.transpose(0, 3, 1, 2).copy()) for x in xs]
    ys = [torch.from_numpy(y) for y in ys]

    def step(i):
        optimizer.zero_grad()
        loss_fn(net(xs[i % 16]), ys[i % 16]).backward()
        optimizer.step()

    seconds = time_steps(step, 20, args.steps, args.reps)
    return seconds, {'torch': torch.__version__, 'threads': torch.get_num_threads()}


def run_child(kind, args):
    env = dict(os.environ)
    if not args.keep_openblas_env:
        env.pop('OPENBLAS_CORETYPE', None)
        env.pop('OPENBLAS_L2_SIZE', None)
    if kind == 'numpy':
        env.setdefault('OPENBLAS_NUM_THREADS', '1')  # as ConvNet_MNIST.py sets it when run as a script
    command = [sys.executable, os.path.abspath(__file__), '--child', kind, '--steps', str(args.steps),
               '--reps', str(args.reps), '--minibatch-size', str(args.minibatch_size)]
    if args.threads:
        command += ['--threads', str(args.threads)]
    output = subprocess.run(command, env=env, stdout=subprocess.PIPE, check=True, universal_newlines=True).stdout
    result = json.loads(output)
    return [args.minibatch_size * args.steps / s for s in result['seconds']], result['info']


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--steps', type=int, default=100, help='timed steps per repetition')
    parser.add_argument('--reps', type=int, default=3, help='timed repetitions per child')
    parser.add_argument('--minibatch-size', type=int, default=64)
    parser.add_argument('--threads', type=int, default=None, help='default: one per CPU')
    parser.add_argument('--keep-openblas-env', action='store_true')
    parser.add_argument('--child', choices=('numpy', 'torch'), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        from trainer import ConvNet_MNIST as convnet
        convnet.tune_allocator()  # run_numpy's glibc settings, given to PyTorch too so that neither pays mmap churn
        seconds, info = (child_numpy if args.child == 'numpy' else child_torch)(args)
        print(json.dumps({'seconds': seconds, 'info': info}))
        return
    rates = {'numpy': [], 'torch': []}
    infos = {}
    for round_number in range(args.rounds):
        for kind in ('numpy', 'torch'):
            more, infos[kind] = run_child(kind, args)
            rates[kind] += more
            print('round %d %-5s %s img/s' % (round_number + 1, kind, ' '.join('%.0f' % r for r in more)),
                  flush=True)
    numpy_rate, torch_rate = statistics.median(rates['numpy']), statistics.median(rates['torch'])
    print('numpy backend: %s' % json.dumps(infos['numpy'], sort_keys=True))
    print('pytorch:       %s' % json.dumps(infos['torch'], sort_keys=True))
    print('minibatch %d, %d CPUs, OPENBLAS_CORETYPE/L2_SIZE %s' % (
        args.minibatch_size, cpus(), 'kept' if args.keep_openblas_env else 'removed'))
    print('numpy  training: %.0f images/s (median of %d)' % (numpy_rate, len(rates['numpy'])))
    print('torch  training: %.0f images/s (median of %d)' % (torch_rate, len(rates['torch'])))
    print('ratio numpy/torch: %.2fx' % (numpy_rate / torch_rate))


if __name__ == '__main__':
    main()

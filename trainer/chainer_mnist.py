"""Chainer MNIST, dual mode: the training script of the Azure ML Chainer estimator flow, on a GPU or on a CPU.

    python chainer_mnist.py [--batchsize/-b 100] [--epochs/-e 20] [--output_dir/-o ./outputs] [--gpu_id/-g N]

The command line and the outputs are those of the script the Azure ML "train and register Chainer models" article
submits: a three-layer perceptron (ReLU, 100 hidden units, Adam) trained on MNIST from ``chainer.datasets.get_mnist()``,
the metrics 'Batch size', 'Epochs' and, after each epoch, the test 'Accuracy' logged through
``azureml.core.run.Run.get_context()``, and the weights saved with ``chainer.serializers.save_npz`` as
``<output_dir>/model.npz``. What differs: it runs on CuPy when ``--gpu_id`` names a GPU and on numpy when it is -1
(the default is GPU 0 only when CuPy imports and finds a CUDA device), and ``--gpu_id`` is an int.

Metrics go to the run when the script runs inside an Azure ML run (or the emulator's); outside one the SDK's
offline run prints them, and without azureml-core installed they are printed in the same form.

Data: ``get_mnist()`` reads ``$CHAINER_DATASET_ROOT/pfnet/chainer/mnist/{train,test}.npz`` and downloads MNIST
only when they are missing; ``python -m trainer.data --format chainer`` writes them (offline: 4,000 training and
1,000 test images of real MNIST digits).
"""
import argparse
import os
import sys
import time

import numpy as np

HIDDEN_UNITS = 100
SEED = 0


def cupy_device_count():
    """How many CUDA devices CuPy sees; 0 when CuPy is missing or finds no driver or device."""
    try:
        import cupy
        return int(cupy.cuda.runtime.getDeviceCount())
    except Exception:  # ImportError, CUDARuntimeError (no driver), anything else a broken install raises
        return 0


def default_gpu_id():
    return 0 if cupy_device_count() > 0 else -1


def build_parser():
    parser = argparse.ArgumentParser(description='Chainer example: MNIST (GPU through CuPy, else numpy on the CPU)')
    parser.add_argument('--batchsize', '-b', type=int, default=100, help='Number of images in each mini-batch')
    parser.add_argument('--epochs', '-e', type=int, default=20, help='Number of sweeps over the dataset to train')
    parser.add_argument('--output_dir', '-o', default='./outputs', help='Directory to output the result')
    parser.add_argument('--gpu_id', '-g', type=int, default=None,
                        help='GPU ID, -1 for the CPU (default: 0 when CuPy finds a GPU, else -1)')
    return parser


def parse_args(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.batchsize < 1:
        parser.error('--batchsize must be at least 1')
    if args.epochs < 1:
        parser.error('--epochs must be at least 1')
    if args.gpu_id is None:
        args.gpu_id = default_gpu_id()
    elif args.gpu_id < -1:
        parser.error('--gpu_id must be -1 (CPU) or a GPU number')
    elif args.gpu_id >= 0 and cupy_device_count() <= args.gpu_id:
        parser.error('--gpu_id %d needs CuPy and a CUDA device %d (CuPy sees %d); use --gpu_id -1 for the CPU'
                     % (args.gpu_id, args.gpu_id, cupy_device_count()))
    return args


class ConsoleRun(object):
    """Stands in for Run.get_context() when azureml-core is not installed: prints what would be logged."""

    def log(self, name, value, description=''):
        print('Attempted to log scalar metric %s:\n%s' % (name, value))
        sys.stdout.flush()


def get_run():
    try:
        from azureml.core.run import Run
    except ImportError:
        return ConsoleRun()
    return Run.get_context()


def make_model():
    import chainer
    import chainer.functions as F
    import chainer.links as L

    class MLP(chainer.Chain):
        """784 -> 100 -> 100 -> 10, ReLU between (input size inferred on the first call)."""

        def __init__(self, n_units=HIDDEN_UNITS, n_out=10):
            super(MLP, self).__init__()
            with self.init_scope():
                self.l1 = L.Linear(None, n_units)
                self.l2 = L.Linear(n_units, n_units)
                self.l3 = L.Linear(n_units, n_out)

        def forward(self, x):
            h = F.relu(self.l1(x))
            h = F.relu(self.l2(h))
            return self.l3(h)

    return MLP()


def evaluate(model, dataset, batchsize, device):
    """(mean loss, accuracy) of model over dataset, in evaluation mode without a graph."""
    import chainer
    import chainer.functions as F
    from chainer.dataset import concat_examples

    losses, correct, total = 0.0, 0, 0
    with chainer.using_config('train', False), chainer.no_backprop_mode():
        for start in range(0, len(dataset), batchsize):
            x, t = concat_examples(dataset[start:start + batchsize], device)
            y = model(x)
            losses += float(F.softmax_cross_entropy(y, t, reduce='no').array.sum())
            correct += int((y.array.argmax(axis=1) == t).sum())
            total += len(t)
    return losses / max(total, 1), correct / float(max(total, 1))


def train(args, run, out=sys.stdout):
    """Train as args say, logging to run; returns the list of per-epoch test accuracies."""
    import chainer
    import chainer.functions as F
    from chainer import optimizers, serializers
    from chainer.dataset import concat_examples

    # Fixed seeds (the 2019 script had none) so that two runs with the same arguments give the same numbers.
    np.random.seed(SEED)
    device = chainer.get_device('@cupy:%d' % args.gpu_id if args.gpu_id >= 0 else '@numpy')
    device.use()
    if args.gpu_id >= 0:
        import cupy
        cupy.random.seed(SEED)
    out.write('Device: %s (chainer %s, numpy %s)\n' % (device, chainer.__version__, np.__version__))

    train_set, test_set = chainer.datasets.get_mnist()
    out.write('MNIST: %d training and %d test images\n' % (len(train_set), len(test_set)))
    out.write('# Minibatch-size: %d\n# epoch: %d\n\n' % (args.batchsize, args.epochs))
    out.flush()

    model = make_model()
    model.to_device(device)
    optimizer = optimizers.Adam()  # as Chainer's own train_mnist example
    optimizer.setup(model)

    run.log('Batch size', int(args.batchsize))
    run.log('Epochs', int(args.epochs))

    iterator = chainer.iterators.SerialIterator(train_set, args.batchsize, repeat=True, shuffle=True)
    accuracies = []
    began = time.time()
    while iterator.epoch < args.epochs:
        batch = iterator.next()
        x, t = concat_examples(batch, device)
        loss = F.softmax_cross_entropy(model(x), t)
        model.cleargrads()
        loss.backward()
        optimizer.update()
        if iterator.is_new_epoch:
            test_loss, accuracy = evaluate(model, test_set, args.batchsize, device)
            accuracies.append(accuracy)
            out.write('epoch:%02d train_loss:%.04f test_loss:%.04f test_accuracy:%.04f (%.1f s)\n'
                      % (iterator.epoch, float(loss.array), test_loss, accuracy, time.time() - began))
            out.flush()
            run.log('Accuracy', float(accuracy))

    os.makedirs(args.output_dir, exist_ok=True)
    path = os.path.join(args.output_dir, 'model.npz')
    model.to_device('@numpy')  # the saved weights load anywhere, GPU or not
    serializers.save_npz(path, model)
    out.write('saved the model to %s\n' % path)
    out.flush()
    return accuracies


def main(argv=None):
    args = parse_args(argv)
    print('GPU: %d' % args.gpu_id)
    train(args, get_run())
    return 0


if __name__ == '__main__':
    sys.exit(main())

r"""ConvNet_MNIST: the Batch AI quickstart's CNTK ConvNet on MNIST, on CNTK when it imports, else on numpy.

Run it as the Batch AI quickstart does::

    python ConvNet_MNIST.py $AZ_BATCHAI_INPUT_SAMPLE $AZ_BATCHAI_OUTPUT_MODEL

DATADIR must hold ``Train-28x28_cntk_text.txt`` and ``Test-28x28_cntk_text.txt`` (CNTK text format, streams
``labels`` of dim 10 and ``features`` of dim 784, dense or sparse). Options: ``--backend auto|cntk|numpy``,
``--epochs`` (40), ``--epoch-size`` (one sweep of the training file), ``--minibatch-size`` (64), ``--seed``,
``--threads`` (numpy backend: worker threads, default one per CPU, each with one BLAS thread). The network, the 1/256 input scaling and the learner are the
reference's; the numpy backend applies CNTK's update exactly: gradients summed over the minibatch, per-sample
learning rate 0.001/0.0005/0.0001 (epochs 1-10/11-20/21+), unit-gain momentum
``v = m*v + (1-m)*sum(g); w -= lr*v`` with m = 0 for epochs 1-5, then exp(-minibatch/1024).

Output. As in the reference, stdout is merged into stderr (the job's ``stderr.txt``); every line is flushed::

    Training 98778 parameters in 10 parameter tensors.
    Finished Epoch[1 of 40]: [Training] loss = 0.405960 * 60000, metric = 13.01% * 60000 21.741s (2759.8 samples/s);
    Final Results: Minibatch[1-11]: errs = 0.54% * 10000

The final line is the stable, parseable one, printed once, as the reference prints it; this regular expression
gives (test minibatches + 1, the reference's off-by-one kept; test error in percent, 2 decimals; test samples)::

    ^Final Results: Minibatch\[1-(\d+)\]: errs = (\d+\.\d{2})% \* (\d+)$

The test pass is one sweep of the test file in minibatches of 1024, without dropout. The per-epoch lines follow
the reference's ProgressPrinter: loss is the mean cross-entropy per sample, metric the training error with
dropout on.

Files written to OUTPUTDIR (created if missing):

- one model per epoch, numbered from 0 as the reference does: ``ConvNet_MNIST_<n>.dnn`` (CNTK, ``Function.save``)
  or ``ConvNet_MNIST_<n>.npz`` (numpy: the 10 parameter arrays under the names in ``PARAM_NAMES``, conv weights
  laid out (kh, kw, in, out) and dense weights (in, out) with f4's input in CNTK's (C, H, W) order; the momentum
  buffers as ``velocity.<name>``; the random state and the reader position; ``meta``, a JSON string with
  ``format``, ``epoch`` (0-based), ``epochs``, ``epoch_size``, ``minibatch_size``, ``seed``, ``history``).
- ``metrics.json`` at the end: ``{"format": 1, "backend", "epochs", "epoch_size", "minibatch_size", "seed",
  "parameters", "train": [{"epoch", "loss", "metric", "samples", "seconds"}...], "test_error" (fraction),
  "test": {"error", "errors", "samples", "minibatches"}, "model", "resumed_from", "wall_seconds"}``.

A retried job resumes after the newest checkpoint in OUTPUTDIR (numpy: weights, momentum, random state and
reader position, so the run continues as if never stopped; CNTK: the saved model, schedules from that epoch on).
Exit status: 0 on success, 1 with an ``error:`` line on missing or malformed data, 2 on bad options.
"""
import argparse
import io
import json
import math
import os
import re
import sys
import time
from concurrent.futures import ThreadPoolExecutor

def cpu_count():
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _preset_blas_threads():
    """One BLAS thread per worker: the numpy backend runs its own worker threads (see Workers).

    Set before numpy loads, since OpenBLAS reads it once; a value the user set is kept.
    """
    os.environ.setdefault('OPENBLAS_NUM_THREADS', '1')


if __name__ == '__main__':
    _preset_blas_threads()

import numpy as np  # noqa: E402  (after the thread preset on purpose)
from numpy.lib.stride_tricks import as_strided  # noqa: E402

TRAIN_FILE = 'Train-28x28_cntk_text.txt'
TEST_FILE = 'Test-28x28_cntk_text.txt'
STREAMS = {'features': 784, 'labels': 10}
INPUT_SCALE = 0.00390625  # 1/256, as the reference (not 1/255)
LR_PER_SAMPLE = [0.001] * 10 + [0.0005] * 10 + [0.0001]
MOMENTUM_TIME_CONSTANT = [0] * 5 + [1024]
TEST_MINIBATCH = 1024
CHECKPOINT_FORMAT = 1
PARAM_NAMES = ('conv1.W', 'conv1.b', 'conv2.W', 'conv2.b', 'conv3.W', 'conv3.b', 'f4.W', 'f4.b', 'z.W', 'z.b')
PARAM_SHAPES = {'conv1.W': (5, 5, 1, 32), 'conv1.b': (32,), 'conv2.W': (3, 3, 32, 48), 'conv2.b': (48,),
                'conv3.W': (3, 3, 48, 64), 'conv3.b': (64,), 'f4.W': (576, 96), 'f4.b': (96,),
                'z.W': (96, 10), 'z.b': (10,)}


class JobError(Exception):
    """A problem the user can fix (missing or malformed data, mismatched checkpoint): one line, exit status 1."""


class DataError(JobError):
    """Malformed CNTK text format input; the message starts with file:line."""


def log(message=''):
    sys.stderr.write(message + '\n')
    sys.stderr.flush()


# ---------------------------------------------------------------------------------------------------------------
# CNTK text format reader

def read_ctf(path, streams=None):
    """Read a CNTK text format file into {stream name: float32 array (sequences, dim)}.

    Handles dense values and sparse ``index:value`` pairs, ``|#`` comments, tabs or spaces, and optional
    sequence ids (if the first line has none, ids are ignored and every line is a sequence; otherwise lines
    sharing an id form one sequence). Each sequence must carry exactly one sample of every requested stream;
    other streams are skipped. Any malformed input raises DataError naming the file and line.
    """
    dims = dict(STREAMS if streams is None else streams)
    rows = dict((name, []) for name in dims)
    state = {'ids': None, 'current': None, 'open': None}
    seen = set()

    def fail(lineno, message):
        raise DataError('%s:%d: %s' % (path, lineno, message))

    def close_sequence():
        if state['open'] is None:
            return
        first_line, sample = state['open']
        for name in dims:
            if name not in sample:
                fail(first_line, "sequence has no '%s' sample" % name)
            rows[name].append(sample[name])
        state['open'] = None

    with io.open(path, 'r', encoding='utf-8', errors='replace') as handle:
        for lineno, line in enumerate(handle, 1):
            parts = line.rstrip('\r\n').split('|')
            head = parts[0].strip()
            fields = [p for p in parts[1:] if not p.startswith('#')]
            if not head and not fields:
                continue  # blank or comment-only line
            if state['ids'] is None:
                state['ids'] = head != ''
            if state['ids']:
                if not head:
                    fail(lineno, 'missing sequence id (the first line has one)')
                if not head.isdigit():
                    fail(lineno, 'sequence id %r is not a non-negative integer' % head)
                if head != state['current']:
                    if head in seen:
                        fail(lineno, 'sequence id %s repeats on a non-consecutive line' % head)
                    close_sequence()
                    seen.add(head)
                    state['current'] = head
            else:
                if head:
                    fail(lineno, 'unexpected text %r before the first |' % head)
                close_sequence()
            if state['open'] is None:
                state['open'] = (lineno, {})
            sample = state['open'][1]
            for field in fields:
                pieces = field.split(None, 1)
                if not pieces or field[0].isspace():
                    fail(lineno, "'|' is not followed by an input name")
                name = pieces[0]
                if name not in dims:
                    continue
                if name in sample:
                    fail(lineno, "more than one '%s' sample in one sequence" % name)
                sample[name] = _parse_values(pieces[1] if len(pieces) > 1 else '', dims[name],
                                             lambda msg, n=lineno, s=name: fail(n, "'%s': %s" % (s, msg)))
    close_sequence()
    if not rows[next(iter(dims))]:
        raise DataError('%s: no samples' % path)
    return dict((name, np.vstack(rows[name])) for name in dims)


def _parse_values(text, dim, fail):
    tokens = text.split()
    if ':' not in text:
        if len(tokens) != dim:
            fail('expected %d dense values, found %d' % (dim, len(tokens)))
        try:
            return np.array(tokens, dtype=np.float32)
        except ValueError as exc:
            fail('bad value (%s)' % exc)
    row = np.zeros(dim, np.float32)
    for token in tokens:
        index, sep, value = token.partition(':')
        try:
            index, value = int(index), float(value)
        except ValueError:
            fail('bad sparse entry %r (want index:value)' % token)
        if not sep or not 0 <= index < dim:
            fail('bad sparse entry %r (index must be in 0..%d)' % (token, dim - 1))
        row[index] = value
    return row


# ---------------------------------------------------------------------------------------------------------------
# numpy network: NHWC tensors, im2col convolutions (one GEMM each), strided-pass overlapping max-pool

def im2col(x, kh, kw):
    """(N, H, W, C) -> (N*Ho*Wo, kh*kw*C) patches of a 'valid' convolution, columns ordered (kh, kw, C)."""
    n, h, w, c = x.shape
    ho, wo = h - kh + 1, w - kw + 1
    s = x.strides
    windows = as_strided(x, (n, ho, wo, kh, kw, c), (s[0], s[1], s[2], s[1], s[2], s[3]))
    return windows.reshape(n * ho * wo, kh * kw * c)


def conv1_columns(x):
    """Patches of conv1 (5x5, 'same', one input channel) as a (25, N*28*28) array.

    With one channel, 25 copies of whole shifted images beat a patch-major copy; the transposed view feeds the
    GEMM as it is, and dW = columns @ dy needs no transpose at all.
    """
    n = x.shape[0]
    padded = np.zeros((n, 32, 32), x.dtype)
    padded[:, 2:30, 2:30] = x.reshape(n, 28, 28)
    columns = np.empty((25, n, 28, 28), x.dtype)
    for i in range(5):
        for j in range(5):
            columns[5 * i + j] = padded[:, i:i + 28, j:j + 28]
    return columns.reshape(25, n * 784)


def col2im(dcols, shape, kh, kw):
    """Adjoint of im2col: sums patch gradients back into an (N, H, W, C) array."""
    n, h, w, c = shape
    ho, wo = h - kh + 1, w - kw + 1
    d = dcols.reshape(n, ho, wo, kh, kw, c)
    dx = np.empty(shape, dcols.dtype)
    dx[:, ho:] = 0
    dx[:, :ho, wo:] = 0
    dx[:, :ho, :wo] = d[:, :, :, 0, 0, :]
    for i in range(kh):
        for j in range(kw):
            if i or j:
                dx[:, i:i + ho, j:j + wo, :] += d[:, :, :, i, j, :]
    return dx


def _pool_views(x, ho, wo):
    """The nine strided views x[:, i::2, j::2, :] of a 3x3 stride-2 window grid, in raster order."""
    return [x[:, i:i + 2 * ho - 1:2, j:j + 2 * wo - 1:2, :] for i in range(3) for j in range(3)]


def maxpool_forward(x):
    """3x3 stride-2 max-pool without padding (CNTK MaxPooling((3,3),(2,2))): nine branch-free passes.

    Returns the pooled array and the uint8 position (0..8, raster order, first maximum wins) of each maximum.
    """
    n, h, w, c = x.shape
    ho, wo = (h - 3) // 2 + 1, (w - 3) // 2 + 1
    views = _pool_views(x, ho, wo)
    best = views[0].copy()
    where = np.zeros(best.shape, np.uint8)
    greater = np.empty(best.shape, bool)
    candidate = greater.view(np.uint8)
    for k in range(1, 9):
        np.greater(views[k], best, out=greater)
        np.maximum(best, views[k], out=best)
        candidate *= np.uint8(k)  # k where views[k] is a new maximum, else 0; k exceeds every earlier position
        np.maximum(where, candidate, out=where)
    return best, where


def maxpool_backward(dout, where, shape):
    """Routes each pooled gradient to the position of its maximum; overlapping windows add up."""
    n, h, w, c = shape
    ho, wo = dout.shape[1], dout.shape[2]
    dx = np.empty(shape, dout.dtype)
    dx[:, 2 * ho:] = 0  # the rows and columns that no window's first two rows or columns reach
    dx[:, :2 * ho, 2 * wo:] = 0
    views = _pool_views(dx, ho, wo)
    mask = np.empty(dout.shape, bool)
    for k in (0, 1, 3, 4):  # disjoint views that tile the rest: written, not added
        np.equal(where, k, out=mask)
        np.multiply(dout, mask, out=views[k])
    routed = np.empty(dout.shape, dout.dtype)
    for k in (2, 5, 6, 7, 8):
        np.equal(where, k, out=mask)
        np.multiply(dout, mask, out=routed)
        views[k] += routed
    return dx


def glorot_params(rng, dtype=np.float32):
    """Glorot-uniform weights and zero biases, the CNTK layer defaults."""
    params = {}
    for name in PARAM_NAMES:
        shape = PARAM_SHAPES[name]
        if name.endswith('.b'):
            params[name] = np.zeros(shape, dtype)
            continue
        field = shape[0] * shape[1] if len(shape) == 4 else 1
        fan_in, fan_out = field * shape[-2], field * shape[-1]
        limit = math.sqrt(6.0 / (fan_in + fan_out))
        params[name] = rng.uniform(-limit, limit, shape).astype(dtype)
    return params


class NumpyConvNet(object):
    """ConvNet_MNIST: conv5x5x32 (same) > pool > conv3x3x48 > pool > conv3x3x64 > dense96 > dropout 0.5 > dense10.

    ReLU follows every conv and f4. Bias and ReLU are applied after the max-pool, which gives the same values
    and gradients (both commute with max) on a tensor four times smaller.
    """

    def __init__(self, params):
        self.params = params
        self.cache = None

    def forward(self, x, keep=None):
        """x: (N, 28, 28, 1), already scaled. Returns the logits (N, 10).

        keep: None to evaluate, or the training-time dropout multipliers for f4 (N, 96) of 0 and 2 (CNTK's
        Dropout scales kept units by 1 / (1 - 0.5)); then what backward needs is kept.
        """
        p = self.params
        n = x.shape[0]
        cols1 = conv1_columns(x)
        y1 = np.dot(cols1.T, p['conv1.W'].reshape(25, 32)).reshape(n, 28, 28, 32)
        a1, where1 = maxpool_forward(y1)
        a1 += p['conv1.b']
        np.maximum(a1, 0, out=a1)
        cols2 = im2col(a1, 3, 3)
        y2 = np.dot(cols2, p['conv2.W'].reshape(288, 48)).reshape(n, 11, 11, 48)
        a2, where2 = maxpool_forward(y2)
        a2 += p['conv2.b']
        np.maximum(a2, 0, out=a2)
        cols3 = im2col(a2, 3, 3)
        a3 = np.dot(cols3, p['conv3.W'].reshape(432, 64))
        a3 += p['conv3.b']
        np.maximum(a3, 0, out=a3)
        flat = a3.reshape(n, 3, 3, 64).transpose(0, 3, 1, 2).reshape(n, 576)  # CNTK flattens (C, H, W)
        a4 = np.dot(flat, p['f4.W'])
        a4 += p['f4.b']
        np.maximum(a4, 0, out=a4)
        if keep is not None:
            a4 *= keep
        z = np.dot(a4, p['z.W'])
        z += p['z.b']
        if keep is not None:
            self.cache = (cols1, where1, a1, cols2, where2, a2, cols3, a3, flat, a4, keep)
        return z

    def backward(self, dz):
        """Gradients of the loss whose logit gradient is dz, for every parameter."""
        cols1, where1, a1, cols2, where2, a2, cols3, a3, flat, a4, keep = self.cache
        self.cache = None
        p = self.params
        n = dz.shape[0]
        g = {'z.W': np.dot(a4.T, dz), 'z.b': dz.sum(0)}
        d4 = np.dot(dz, p['z.W'].T)
        d4 *= keep  # keep is 0 where dropped; a4 = relu * keep, so a4 > 0 marks the live units
        d4 *= a4 > 0
        g['f4.W'] = np.dot(flat.T, d4)
        g['f4.b'] = d4.sum(0)
        d3 = np.dot(d4, p['f4.W'].T).reshape(n, 64, 3, 3).transpose(0, 2, 3, 1).reshape(n * 9, 64)
        d3 *= a3 > 0
        g['conv3.W'] = np.dot(cols3.T, d3).reshape(PARAM_SHAPES['conv3.W'])
        g['conv3.b'] = d3.sum(0)
        d2 = col2im(np.dot(d3, p['conv3.W'].reshape(432, 64).T), a2.shape, 3, 3)
        d2 *= a2 > 0
        g['conv2.b'] = d2.sum((0, 1, 2))
        d2 = maxpool_backward(d2, where2, (n, 11, 11, 48)).reshape(n * 121, 48)
        g['conv2.W'] = np.dot(cols2.T, d2).reshape(PARAM_SHAPES['conv2.W'])
        d1 = col2im(np.dot(d2, p['conv2.W'].reshape(288, 48).T), a1.shape, 3, 3)
        d1 *= a1 > 0
        g['conv1.b'] = d1.sum((0, 1, 2))
        d1 = maxpool_backward(d1, where1, (n, 28, 28, 32)).reshape(n * 784, 32)
        g['conv1.W'] = np.dot(cols1, d1).reshape(PARAM_SHAPES['conv1.W'])
        return g

    def loss_and_grads(self, x, labels, keep):
        """Summed softmax cross-entropy, number of errors, and the gradients of the summed loss."""
        z = self.forward(x, keep)
        loss, errors, dz = softmax_cross_entropy(z, labels)
        return loss, errors, self.backward(dz)


def softmax_cross_entropy(z, labels):
    """CNTK cross_entropy_with_softmax summed over rows, classification_error count, and d(loss)/dz."""
    shifted = z - z.max(1, keepdims=True)
    exp = np.exp(shifted)
    total = exp.sum(1, keepdims=True)
    log_prob = shifted - np.log(total)
    loss = -float((labels * log_prob).sum())
    errors = int((z.argmax(1) != labels.argmax(1)).sum())
    dz = exp / total * labels.sum(1, keepdims=True) - labels
    return loss, errors, dz.astype(z.dtype)


def schedule(epoch, minibatch):
    """Per-sample learning rate and per-minibatch unit-gain momentum of the reference for a 0-based epoch."""
    lr = LR_PER_SAMPLE[min(epoch, len(LR_PER_SAMPLE) - 1)]
    tc = MOMENTUM_TIME_CONSTANT[min(epoch, len(MOMENTUM_TIME_CONSTANT) - 1)]
    return lr, (math.exp(-float(minibatch) / tc) if tc else 0.0)


def tune_allocator():
    """Keeps freed blocks up to 32 MB in glibc's heaps instead of unmapping them.

    Every training step allocates and frees a few dozen arrays of 1-8 MB. By default glibc maps and unmaps each
    one, so every step pays page faults and, with worker threads, a TLB shootdown per unmap: that halved the
    throughput here and made a second worker thread almost useless. Returns whether glibc took the settings.
    """
    try:
        import ctypes
        mallopt = ctypes.CDLL(None).mallopt
    except Exception:  # not glibc (macOS, Windows, ...): keep the defaults
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    return bool(mallopt(m_mmap_threshold, 32 << 20)) and bool(mallopt(m_trim_threshold, (1 << 31) - 1))


def dropout_keep(rng, n, dtype=np.float32):
    """Training-time dropout multipliers for f4: 0 with probability 0.5, else 2."""
    keep = (rng.random_sample((n, 96)) >= 0.5).astype(dtype)
    keep *= 2
    return keep


class Workers(object):
    """Evaluates each minibatch as contiguous shards in parallel threads (numpy and BLAS release the GIL).

    Gradients are summed in shard order, so results never depend on thread timing.
    """

    def __init__(self, params, count):
        self.nets = [NumpyConvNet(params) for _ in range(max(1, count))]
        self.pool = ThreadPoolExecutor(len(self.nets)) if len(self.nets) > 1 else None

    def _map(self, function, n, *arrays):
        shards = min(len(self.nets), n)
        bounds = [(n * i // shards, n * (i + 1) // shards) for i in range(shards)]
        calls = [(function(self.nets[i]), [a[lo:hi] for a in arrays]) for i, (lo, hi) in enumerate(bounds)]
        if shards == 1:
            return [calls[0][0](*calls[0][1])]
        futures = [self.pool.submit(call, *args) for call, args in calls]
        return [future.result() for future in futures]

    def loss_and_grads(self, x, labels, keep):
        results = self._map(lambda net: net.loss_and_grads, len(x), x, labels, keep)
        loss, errors, grads = results[0]
        for more_loss, more_errors, more_grads in results[1:]:
            loss += more_loss
            errors += more_errors
            for name in PARAM_NAMES:
                grads[name] += more_grads[name]
        return loss, errors, grads

    def predict(self, x):
        return np.concatenate(self._map(lambda net: net.forward, len(x), x))

    def close(self):
        if self.pool is not None:
            self.pool.shutdown()


class MomentumSGD(object):
    """CNTK momentum_sgd (unit gain): v = m*v + (1-m)*g; w -= lr*v, with g the gradient summed over the minibatch."""

    def __init__(self, params, velocity=None):
        self.params = params
        self.velocity = velocity or dict((n, np.zeros_like(params[n])) for n in PARAM_NAMES)

    def update(self, grads, lr, momentum):
        for name in PARAM_NAMES:
            v = self.velocity[name]
            v *= momentum
            v += (1.0 - momentum) * grads[name]
            self.params[name] -= lr * v


class SampleStream(object):
    """Endless sweeps over the training set, each in a new random order (CNTK randomize=True, repeat forever)."""

    def __init__(self, count, rng, order=None, position=0):
        self.count, self.rng = count, rng
        self.order = rng.permutation(count) if order is None else order
        self.position = position

    def next(self, n):
        parts = []
        while n > 0:
            if self.position == self.count:
                self.order, self.position = self.rng.permutation(self.count), 0
            take = min(n, self.count - self.position)
            parts.append(self.order[self.position:self.position + take])
            self.position += take
            n -= take
        return np.concatenate(parts)


# ---------------------------------------------------------------------------------------------------------------
# checkpoints, progress and results

def find_checkpoints(outdir, extension):
    """[(n, path)] of ConvNet_MNIST_<n><extension> in outdir, newest first."""
    found = []
    pattern = re.compile(r'^ConvNet_MNIST_(\d+)' + re.escape(extension) + '$')
    for name in os.listdir(outdir):
        match = pattern.match(name)
        if match:
            found.append((int(match.group(1)), os.path.join(outdir, name)))
    return sorted(found, reverse=True)


def _write_atomically(path, write):
    temporary = path + '.partial'
    with open(temporary, 'wb') as handle:
        write(handle)
    os.replace(temporary, path)


def save_numpy_checkpoint(path, params, velocity, rng, stream, meta):
    arrays = dict(params)
    for name in PARAM_NAMES:
        arrays['velocity.' + name] = velocity[name]
    state = rng.get_state()
    arrays['rng.keys'] = state[1]
    arrays['rng.position'] = np.array(state[2])
    arrays['rng.gauss'] = np.array([state[3], state[4]], np.float64)
    arrays['stream.order'] = stream.order
    arrays['stream.position'] = np.array(stream.position)
    arrays['meta'] = np.array(json.dumps(meta, sort_keys=True))
    _write_atomically(path, lambda handle: np.savez(handle, **arrays))


def load_numpy_checkpoint(path):
    """(meta, params, velocity, rng, stream) from a checkpoint written by save_numpy_checkpoint."""
    with np.load(path) as data:
        meta = json.loads(str(data['meta']))
        if meta.get('format') != CHECKPOINT_FORMAT:
            raise ValueError('unknown checkpoint format %r' % meta.get('format'))
        params = dict((n, data[n].astype(np.float32)) for n in PARAM_NAMES)
        velocity = dict((n, data['velocity.' + n].astype(np.float32)) for n in PARAM_NAMES)
        for name in PARAM_NAMES:
            if params[name].shape != PARAM_SHAPES[name]:
                raise ValueError('%s has shape %s, not %s' % (name, params[name].shape, PARAM_SHAPES[name]))
        rng = np.random.RandomState()
        gauss = data['rng.gauss']
        rng.set_state(('MT19937', data['rng.keys'], int(data['rng.position']), int(gauss[0]), float(gauss[1])))
        order = data['stream.order']
        stream = SampleStream(len(order), rng, order, int(data['stream.position']))
    return meta, params, velocity, rng, stream


class Progress(object):
    """Prints the reference's console lines and keeps the per-epoch history for metrics.json."""

    def __init__(self, epochs, history=None):
        self.epochs = epochs
        self.history = list(history or [])
        self.shown = (None, None)

    def parameters(self, counts):
        log('Training %d parameters in %d parameter tensors.' % (sum(counts), len(counts)))
        log()

    def schedule(self, epoch):
        lr, momentum = schedule(epoch, 1)
        if self.shown[0] != lr:
            log('Learning rate per 1 samples: %s' % lr)
        if self.shown[1] != momentum:
            log('Momentum per 1 samples: %s' % momentum)
        self.shown = (lr, momentum)

    def epoch(self, epoch, loss_sum, errors, samples, seconds):
        loss, metric = loss_sum / samples, float(errors) / samples
        log('Finished Epoch[%d of %d]: [Training] loss = %f * %d, metric = %.2f%% * %d %.3fs (%.1f samples/s);'
            % (epoch + 1, self.epochs, loss, samples, 100.0 * metric, samples, seconds,
               samples / max(seconds, 1e-9)))
        self.history.append({'epoch': epoch + 1, 'loss': loss, 'metric': metric, 'samples': samples,
                             'seconds': round(seconds, 3)})

    @staticmethod
    def final(errors, samples, minibatches):
        log()
        log('Final Results: Minibatch[1-%d]: errs = %.2f%% * %d' % (minibatches + 1, 100.0 * errors / samples,
                                                                   samples))
        log()


def log_resume(checkpoint, start, epochs):
    if start < epochs:
        log('Resuming from %s: epoch %d of %d' % (checkpoint, start + 1, epochs))
    else:
        log('%s is the model of epoch %d: no epoch left to train, testing it' % (checkpoint, start))


# ---------------------------------------------------------------------------------------------------------------
# the two backends

def run_numpy(args, train, test, outdir):
    tune_allocator()
    train['features'] *= np.float32(INPUT_SCALE)  # exact in float32; done once instead of per minibatch
    x = train['features'].reshape(-1, 28, 28, 1)
    y = train['labels']
    epoch_size = args.epoch_size or len(x)
    resumed_from, meta = None, None
    for _, path in find_checkpoints(outdir, '.npz'):
        try:
            meta, params, velocity, rng, stream = load_numpy_checkpoint(path)
        except Exception as exc:  # a damaged file must not stop a retry: fall back to an older one
            log('warning: cannot resume from %s (%s), trying an older checkpoint' % (path, exc))
            continue
        resumed_from = os.path.basename(path)
        break
    if resumed_from:
        for key, value in (('epoch_size', epoch_size), ('minibatch_size', args.minibatch_size)):
            if meta[key] != value:
                raise JobError('%s was trained with %s %s, not %s: rerun with the same options or use an empty '
                               'output directory' % (resumed_from, key.replace('_', '-'), meta[key], value))
        if stream.count != len(x):
            raise JobError('%s was trained on %d samples, the training file now has %d'
                           % (resumed_from, stream.count, len(x)))
        start = meta['epoch'] + 1
        log_resume(resumed_from, start, args.epochs)
    else:
        rng = np.random.RandomState(args.seed)
        params = glorot_params(rng)
        velocity = None
        stream = SampleStream(len(x), rng)
        start = 0
    progress = Progress(args.epochs, meta['history'] if meta else None)
    progress.parameters([params[n].size for n in PARAM_NAMES])
    workers = Workers(params, args.threads or cpu_count())
    learner = MomentumSGD(params, velocity)
    try:
        for epoch in range(start, args.epochs):
            progress.schedule(epoch)
            began, loss_sum, errors, seen = time.time(), 0.0, 0, 0
            while seen < epoch_size:
                n = min(args.minibatch_size, epoch_size - seen)
                batch = stream.next(n)
                loss, wrong, grads = workers.loss_and_grads(x[batch], y[batch], dropout_keep(rng, n))
                learner.update(grads, *schedule(epoch, n))
                loss_sum, errors, seen = loss_sum + loss, errors + wrong, seen + n
            progress.epoch(epoch, loss_sum, errors, seen, time.time() - began)
            meta = {'format': CHECKPOINT_FORMAT, 'backend': 'numpy', 'epoch': epoch, 'epochs': args.epochs,
                    'epoch_size': epoch_size, 'minibatch_size': args.minibatch_size, 'seed': args.seed,
                    'history': progress.history}
            save_numpy_checkpoint(os.path.join(outdir, 'ConvNet_MNIST_%d.npz' % epoch), params,
                                  learner.velocity, rng, stream, meta)
        test['features'] *= np.float32(INPUT_SCALE)
        x_test = test['features'].reshape(-1, 28, 28, 1)
        errors, minibatches = 0, 0
        for first in range(0, len(x_test), TEST_MINIBATCH):
            z = workers.predict(x_test[first:first + TEST_MINIBATCH])
            errors += int((z.argmax(1) != test['labels'][first:first + TEST_MINIBATCH].argmax(1)).sum())
            minibatches += 1
    finally:
        workers.close()
    last = find_checkpoints(outdir, '.npz')[0][1]
    return {'epoch_size': epoch_size, 'parameters': sum(params[n].size for n in PARAM_NAMES),
            'history': progress.history, 'errors': errors, 'samples': len(x_test),
            'minibatches': minibatches, 'model': os.path.basename(last), 'resumed_from': resumed_from}


def run_cntk(cntk, args, train_path, test_path, train_count, outdir):
    """The reference script on CNTK 2.x; resumes by reloading the newest ConvNet_MNIST_<n>.dnn."""
    epoch_size = args.epoch_size or train_count
    if hasattr(cntk.cntk_py, 'set_fixed_random_seed'):
        cntk.cntk_py.set_fixed_random_seed(args.seed)
    new_input = getattr(cntk, 'input_variable', None) or cntk.ops.input
    label_var = new_input(10, np.float32)
    checkpoints = find_checkpoints(outdir, '.dnn')
    resumed_from = None
    if checkpoints:
        start, resumed_from = checkpoints[0][0] + 1, os.path.basename(checkpoints[0][1])
        z = cntk.ops.functions.load_model(checkpoints[0][1])
        input_var = z.arguments[0]
        log_resume(resumed_from, start, args.epochs)
    else:
        start = 0
        input_var = new_input((1, 28, 28), np.float32)
        scaled_input = cntk.ops.element_times(cntk.ops.constant(INPUT_SCALE), input_var)
        with cntk.layers.default_options(activation=cntk.ops.relu, pad=False):
            conv1 = cntk.layers.Convolution2D((5, 5), 32, pad=True)(scaled_input)
            pool1 = cntk.layers.MaxPooling((3, 3), (2, 2))(conv1)
            conv2 = cntk.layers.Convolution2D((3, 3), 48)(pool1)
            pool2 = cntk.layers.MaxPooling((3, 3), (2, 2))(conv2)
            conv3 = cntk.layers.Convolution2D((3, 3), 64)(pool2)
            f4 = cntk.layers.Dense(96)(conv3)
            drop4 = cntk.layers.Dropout(0.5)(f4)
            z = cntk.layers.Dense(10, activation=None)(drop4)
    ce = cntk.losses.cross_entropy_with_softmax(z, label_var)
    pe = cntk.metrics.classification_error(z, label_var)
    # the schedules restart with a new learner, so they begin at the resumed epoch
    lr_per_sample = LR_PER_SAMPLE[min(start, len(LR_PER_SAMPLE) - 1):]
    time_constant = MOMENTUM_TIME_CONSTANT[min(start, len(MOMENTUM_TIME_CONSTANT) - 1):]
    lr_schedule = cntk.learning_rate_schedule(lr_per_sample, cntk.learners.UnitType.sample, epoch_size)
    mm_schedule = cntk.learners.momentum_as_time_constant_schedule(time_constant, epoch_size)
    learner = cntk.learners.momentum_sgd(z.parameters, lr_schedule, mm_schedule)
    trainer = cntk.Trainer(z, (ce, pe), learner)
    progress = Progress(args.epochs)
    progress.parameters([int(np.prod(p.shape)) for p in z.parameters])

    def reader(path, is_training):
        return cntk.io.MinibatchSource(cntk.io.CTFDeserializer(path, cntk.io.StreamDefs(
            features=cntk.io.StreamDef(field='features', shape=784),
            labels=cntk.io.StreamDef(field='labels', shape=10))),
            randomize=is_training, max_sweeps=cntk.io.INFINITELY_REPEAT if is_training else 1)

    reader_train = reader(train_path, True)
    input_map = {input_var: reader_train.streams.features, label_var: reader_train.streams.labels}
    model = None
    for epoch in range(start, args.epochs):
        progress.schedule(epoch)
        began, loss_sum, error_sum, seen = time.time(), 0.0, 0.0, 0
        while seen < epoch_size:
            data = reader_train.next_minibatch(min(args.minibatch_size, epoch_size - seen), input_map=input_map)
            trainer.train_minibatch(data)
            n = data[label_var].num_samples
            loss_sum += trainer.previous_minibatch_loss_average * n
            error_sum += trainer.previous_minibatch_evaluation_average * n
            seen += n
        progress.epoch(epoch, loss_sum, int(round(error_sum)), seen, time.time() - began)
        model = 'ConvNet_MNIST_%d.dnn' % epoch
        z.save(os.path.join(outdir, model))
    reader_test = reader(test_path, False)
    input_map = {input_var: reader_test.streams.features, label_var: reader_test.streams.labels}
    error_sum, samples, minibatches = 0.0, 0, 0
    while True:
        data = reader_test.next_minibatch(TEST_MINIBATCH, input_map=input_map)
        if not data:
            break
        n = data[label_var].num_samples
        error_sum += trainer.test_minibatch(data) * n
        samples, minibatches = samples + n, minibatches + 1
    return {'epoch_size': epoch_size, 'parameters': sum(int(np.prod(p.shape)) for p in z.parameters),
            'history': progress.history, 'errors': int(round(error_sum)), 'samples': samples,
            'minibatches': minibatches, 'model': model or resumed_from, 'resumed_from': resumed_from}


def choose_backend(name):
    """('cntk', module) or ('numpy', None). auto uses CNTK whenever it imports."""
    if name in ('auto', 'cntk'):
        try:
            import cntk
            return 'cntk', cntk
        except Exception as exc:  # ImportError, or an OSError from a CNTK build without its native libraries
            if name == 'cntk':
                raise JobError('--backend cntk, but cntk does not import: %s' % exc)
            log('cntk does not import (%s): using the numpy backend' % exc)
    return 'numpy', None


# ---------------------------------------------------------------------------------------------------------------
# command line

def _positive(text):
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError('must be a positive integer, not %s' % text)
    return value


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog='ConvNet_MNIST.py', description='Train the CNTK ConvNet_MNIST example on CNTK or numpy.')
    parser.add_argument('datadir', help='directory holding %s and %s' % (TRAIN_FILE, TEST_FILE))
    parser.add_argument('outputdir', help='directory for the per-epoch models and metrics.json')
    parser.add_argument('--backend', choices=('auto', 'cntk', 'numpy'), default='auto',
                        help='auto (default) uses CNTK when it imports, else numpy')
    parser.add_argument('--epochs', type=_positive, default=40, help='number of epochs (default 40)')
    parser.add_argument('--epoch-size', type=_positive, default=None,
                        help='samples per epoch (default: one sweep of the training file)')
    parser.add_argument('--minibatch-size', type=_positive, default=64, help='default 64')
    parser.add_argument('--seed', type=int, default=1, help='random seed (default 1)')
    parser.add_argument('--threads', type=_positive, default=None,
                        help='numpy backend: worker threads, one BLAS thread each (default: all CPUs)')
    return parser.parse_args(argv)


def run_job(args):
    """Checks the data, trains on the chosen backend, tests, prints the final line and writes metrics.json."""
    began = time.time()
    if not os.path.isdir(args.datadir):
        raise JobError('data directory %s does not exist' % args.datadir)
    paths = [os.path.join(args.datadir, name) for name in (TRAIN_FILE, TEST_FILE)]
    for path in paths:
        if not os.path.isfile(path):
            raise JobError('%s not found: the data directory must hold %s and %s' % (path, TRAIN_FILE, TEST_FILE))
    if os.path.exists(args.outputdir) and not os.path.isdir(args.outputdir):
        raise JobError('output path %s is not a directory' % args.outputdir)
    if not os.path.isdir(args.outputdir):
        os.makedirs(args.outputdir)
    backend, cntk = choose_backend(args.backend)
    log('ConvNet_MNIST: %s backend (numpy %s), data %s, models to %s'
        % (backend, np.__version__, args.datadir, args.outputdir))
    train, test = read_ctf(paths[0]), read_ctf(paths[1])
    log('%d training and %d test samples' % (len(train['labels']), len(test['labels'])))
    if backend == 'cntk':
        count = len(train['labels'])
        del train, test
        result = run_cntk(cntk, args, paths[0], paths[1], count, args.outputdir)
    else:
        result = run_numpy(args, train, test, args.outputdir)
    Progress.final(result['errors'], result['samples'], result['minibatches'])
    error = float(result['errors']) / result['samples']
    metrics = {'format': 1, 'backend': backend, 'epochs': args.epochs, 'epoch_size': result['epoch_size'],
               'minibatch_size': args.minibatch_size, 'seed': args.seed, 'parameters': result['parameters'],
               'train': result['history'], 'test_error': error,
               'test': {'error': error, 'errors': result['errors'], 'samples': result['samples'],
                        'minibatches': result['minibatches']},
               'model': result['model'], 'resumed_from': result['resumed_from'],
               'wall_seconds': round(time.time() - began, 3)}
    text = json.dumps(metrics, indent=2, sort_keys=True) + '\n'
    _write_atomically(os.path.join(args.outputdir, 'metrics.json'), lambda handle: handle.write(text.encode()))


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        run_job(args)
    except JobError as exc:
        log('error: %s' % exc)
        return 1
    except (IOError, OSError) as exc:  # e.g. an output share that cannot be written: say so, no traceback
        log('error: %s' % exc)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())

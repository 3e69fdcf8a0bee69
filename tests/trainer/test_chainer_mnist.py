"""trainer/chainer_mnist.py (the Azure ML Chainer flow's training script) and the Chainer layout of trainer.data.

The script runs in .venv-azureml (chainer 7.8.1, numpy 1.26.4, azureml-core), as a subprocess the way a job runs it,
on the offline digits written where chainer.datasets.get_mnist() looks for its cache.
"""
import os
import subprocess
import sys

import numpy as np
import pytest

from trainer import chainer_mnist, data

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(REPO, 'trainer', 'chainer_mnist.py')


def run_script(python, args, chainer_root, cwd, extra_env=None, timeout=300):
    env = dict(os.environ, CHAINER_DATASET_ROOT=chainer_root, PYTHONUNBUFFERED='1')
    env.pop('PYTHONPATH', None)
    env.update(extra_env or {})
    return subprocess.run([python, SCRIPT] + [str(a) for a in args], cwd=str(cwd), env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                          timeout=timeout)


def logged(output, name):
    """Values the script logged under name, as printed by the offline run ('Attempted to log ... NAME:\\nVALUE')."""
    lines = output.splitlines()
    return [lines[i + 1] for i, line in enumerate(lines[:-1])
            if line.startswith('Attempted to log') and line.endswith(' %s:' % name)]


# ---------------------------------------------------------------------------------------------------------------
# the chainer layout of trainer.data

def test_chainer_layout_holds_the_offline_split_as_get_mnist_caches_it(chainer_root, offline_data):
    folder = os.path.join(chainer_root, 'pfnet', 'chainer', 'mnist')
    assert sorted(os.listdir(folder)) == ['test.npz', 'train.npz']
    with np.load(os.path.join(folder, 'train.npz')) as train, np.load(os.path.join(folder, 'test.npz')) as test:
        assert sorted(train.files) == ['x', 'y'] and sorted(test.files) == ['x', 'y']
        for split, count in ((train, 4000), (test, 1000)):
            assert split['x'].dtype == np.uint8 and split['x'].shape == (count, 784)
            assert split['y'].dtype == np.uint8 and split['y'].shape == (count,)
            assert np.bincount(split['y'], minlength=10).tolist() == [count // 10] * 10
        # the same images, in the same order, as the CTF files ConvNet_MNIST.py reads
        with open(os.path.join(offline_data, data.TEST_FILE)) as handle:
            first = handle.readline()
        labels, features = first.split('|features ')
        assert [int(v) for v in features.split()] == test['x'][0].tolist()
        assert [int(v) for v in labels.split()[1:]].index(1) == test['y'][0]


def test_cli_chainer_format_defaults_to_chainer_dataset_root(tmp_path, monkeypatch, offline_data):
    wheel_dir = os.environ.get('TRAINER_DATA_CACHE') or os.path.join(REPO, '.data', 'cache')
    monkeypatch.setenv('CHAINER_DATASET_ROOT', str(tmp_path / 'root'))
    assert data.main(['--format', 'chainer', '--source', 'offline', '--wheel', wheel_dir, '--limit', '10']) == 0
    with np.load(str(tmp_path / 'root' / 'pfnet' / 'chainer' / 'mnist' / 'train.npz')) as train:
        assert train['x'].shape == (10, 784)
    leftovers = [n for n in os.listdir(str(tmp_path / 'root' / 'pfnet' / 'chainer' / 'mnist')) if 'partial' in n]
    assert leftovers == []


def test_cli_ctf_format_still_needs_out(capsys):
    with pytest.raises(SystemExit) as exc:
        data.main(['--source', 'offline'])
    assert exc.value.code == 2
    assert '--out is required' in capsys.readouterr().err


def test_get_mnist_loads_the_layout_without_downloading(aml_python, chainer_root, tmp_path):
    code = ('import chainer, numpy; train, test = chainer.datasets.get_mnist(); x, t = test[0]; '
            'print(len(train), len(test), x.shape, x.dtype, float(x.max()), int(t))')
    result = subprocess.run([aml_python, '-c', code], env=dict(os.environ, CHAINER_DATASET_ROOT=chainer_root),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=120)
    assert result.returncode == 0, result.stdout
    with np.load(os.path.join(chainer_root, 'pfnet', 'chainer', 'mnist', 'test.npz')) as test:
        expected_label = int(test['y'][0])
    assert result.stdout.split()[-6:] == ['4000', '1000', '(784,)', 'float32', '1.0', str(expected_label)]
    assert not os.path.exists(os.path.join(chainer_root, '_dl_cache'))  # chainer's download cache: never used


# ---------------------------------------------------------------------------------------------------------------
# the command line (parsed in-process: parsing needs neither chainer nor azureml)

def test_defaults_are_the_seed_scripts():
    args = chainer_mnist.build_parser().parse_args([])
    assert (args.batchsize, args.epochs, args.output_dir) == (100, 20, './outputs')


def test_short_and_long_options_and_int_gpu_id():
    args = chainer_mnist.parse_args(['-b', '128', '-e', '10', '-o', 'out', '-g', '-1'])
    assert (args.batchsize, args.epochs, args.output_dir, args.gpu_id) == (128, 10, 'out', -1)
    args = chainer_mnist.parse_args(['--batchsize', '64', '--epochs', '2', '--output_dir', 'o', '--gpu_id', '-1'])
    assert (args.batchsize, args.epochs, args.output_dir, args.gpu_id) == (64, 2, 'o', -1)


def test_default_gpu_follows_what_cupy_finds(monkeypatch):
    monkeypatch.setattr(chainer_mnist, 'cupy_device_count', lambda: 0)
    assert chainer_mnist.parse_args([]).gpu_id == -1
    monkeypatch.setattr(chainer_mnist, 'cupy_device_count', lambda: 2)
    assert chainer_mnist.parse_args([]).gpu_id == 0
    assert chainer_mnist.parse_args(['-g', '1']).gpu_id == 1


@pytest.mark.parametrize('argv, message', [
    (['--gpu_id', '0'], '--gpu_id 0 needs CuPy'),
    (['--gpu_id', 'zero'], "invalid int value: 'zero'"),
    (['--gpu_id', '-2'], '--gpu_id must be -1'),
    (['--batchsize', '0'], '--batchsize must be at least 1'),
    (['--epochs', '0'], '--epochs must be at least 1'),
])
def test_bad_arguments_are_usage_errors(argv, message, monkeypatch, capsys):
    monkeypatch.setattr(chainer_mnist, 'cupy_device_count', lambda: 0)
    with pytest.raises(SystemExit) as exc:
        chainer_mnist.parse_args(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_cupy_device_count_is_zero_without_cupy():
    # neither venv has CuPy: the CPU is the default here
    assert chainer_mnist.cupy_device_count() == 0
    assert chainer_mnist.default_gpu_id() == -1


# ---------------------------------------------------------------------------------------------------------------
# training, as a job runs it

def test_trains_on_cpu_logs_metrics_and_saves_the_model(aml_python, chainer_root, tmp_path):
    # the estimator's script_params as the SDK passes them: strings, output_dir relative to the working directory
    result = run_script(aml_python, ['--epochs', '2', '--batchsize', '128', '--output_dir', './outputs'],
                        chainer_root, tmp_path)
    assert result.returncode == 0, result.stdout
    out = result.stdout
    assert 'GPU: -1' in out and '@numpy' in out
    assert 'MNIST: 4000 training and 1000 test images' in out
    # outside a run, azureml-core's offline run prints each metric
    assert logged(out, 'Batch size') == ['128']
    assert logged(out, 'Epochs') == ['2']
    accuracies = [float(v) for v in logged(out, 'Accuracy')]
    assert len(accuracies) == 2
    assert 0.75 < accuracies[-1] <= 1.0, out  # 10 classes: chance is 0.1; 2 epochs on 4,000 digits give ~0.9

    model = tmp_path / 'outputs' / 'model.npz'
    assert model.is_file()
    with np.load(str(model)) as weights:
        shapes = dict((name, weights[name].shape) for name in weights.files)
    assert shapes == {'l1/W': (100, 784), 'l1/b': (100,), 'l2/W': (100, 100), 'l2/b': (100,),
                      'l3/W': (10, 100), 'l3/b': (10,)}

    # the saved model predicts the test digits as well as the last epoch said
    check = ('import sys, chainer, numpy; sys.path.insert(0, %r); import chainer_mnist as m; '
             'model = m.make_model(); chainer.serializers.load_npz(%r, model); '
             '_, test = chainer.datasets.get_mnist(); '
             'print(m.evaluate(model, test, 500, chainer.get_device("@numpy"))[1])'
             % (os.path.dirname(SCRIPT), str(model)))
    again = subprocess.run([aml_python, '-c', check], env=dict(os.environ, CHAINER_DATASET_ROOT=chainer_root),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=120)
    assert again.returncode == 0, again.stdout
    assert abs(float(again.stdout.split()[-1]) - accuracies[-1]) < 1e-9


def test_same_arguments_same_numbers(aml_python, chainer_root, tmp_path):
    runs = []
    for name in ('a', 'b'):
        (tmp_path / name).mkdir()
        result = run_script(aml_python, ['-e', '1', '-b', '256', '-g', '-1'], chainer_root, tmp_path / name)
        assert result.returncode == 0, result.stdout
        runs.append(logged(result.stdout, 'Accuracy'))
    assert runs[0] == runs[1]


def test_without_azureml_metrics_are_printed(aml_python, chainer_root, tmp_path):
    # a package named azureml that cannot be imported hides the installed SDK
    hider = tmp_path / 'hide' / 'azureml'
    hider.mkdir(parents=True)
    (hider / '__init__.py').write_text("raise ImportError('azureml hidden by the test')\n")
    result = run_script(aml_python, ['-e', '1', '-b', '256', '-o', 'out'], chainer_root, tmp_path,
                        extra_env={'PYTHONPATH': str(tmp_path / 'hide')})
    assert result.returncode == 0, result.stdout
    assert logged(result.stdout, 'Batch size') == ['256']
    assert logged(result.stdout, 'Epochs') == ['1']
    assert len(logged(result.stdout, 'Accuracy')) == 1
    assert (tmp_path / 'out' / 'model.npz').is_file()


def test_asking_for_a_gpu_without_cupy_fails_clearly(aml_python, chainer_root, tmp_path):
    result = run_script(aml_python, ['--gpu_id', '0'], chainer_root, tmp_path)
    assert result.returncode == 2
    assert 'needs CuPy and a CUDA device 0' in result.stdout
    assert not (tmp_path / 'outputs').exists()


def test_script_runs_on_the_estimators_python_3_6():
    # the Chainer estimator's environment asks for python 3.6.2: nothing newer may be needed
    from tests.trainer.test_trainer_compat import vermin
    result = vermin(SCRIPT)
    assert result.returncode == 0, result.stdout

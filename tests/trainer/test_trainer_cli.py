"""ConvNet_MNIST.py run as the quickstart runs it: errors, a real short training run, checkpoints and resume."""
import json
import os
import re

import numpy as np
import pytest

FINAL = re.compile(r'^Final Results: Minibatch\[1-(\d+)\]: errs = (\d+\.\d{2})% \* (\d+)$', re.M)
EPOCH = re.compile(r'^Finished Epoch\[(\d+) of (\d+)\]: \[Training\] loss = (\d+\.\d+) \* (\d+), '
                   r'metric = (\d+\.\d+)% \* (\d+) (\d+\.\d+)s \((\d+\.\d+) samples/s\);$', re.M)


def test_missing_data_directory(run_script, tmp_path):
    result = run_script(tmp_path / 'nowhere', tmp_path / 'out')
    assert result.returncode == 1
    assert 'error: data directory %s does not exist' % (tmp_path / 'nowhere') in result.stderr
    assert 'Traceback' not in result.stderr


def test_missing_test_file(run_script, tmp_path):
    (tmp_path / 'Train-28x28_cntk_text.txt').write_text('|labels 1 0 0 0 0 0 0 0 0 0 |features' + ' 0' * 784)
    result = run_script(tmp_path, tmp_path / 'out')
    assert result.returncode == 1
    assert 'Test-28x28_cntk_text.txt not found' in result.stderr
    assert 'Traceback' not in result.stderr


def test_malformed_data_names_file_and_line(run_script, small_data, tmp_path):
    path = os.path.join(small_data, 'Test-28x28_cntk_text.txt')
    with open(path, 'a') as handle:
        handle.write('|labels 1 0 0 0 0 0 0 0 0 0 |features 1 2 3\n')
    result = run_script(small_data, tmp_path / 'out', '--epochs', 1)
    assert result.returncode == 1
    assert 'error: %s:257: ' % path in result.stderr
    assert "'features': expected 784 dense values, found 3" in result.stderr
    assert 'Traceback' not in result.stderr


@pytest.mark.parametrize('options', [['--epochs', '0'], ['--backend', 'tensorflow'], ['--minibatch-size', 'x']])
def test_bad_options_exit_2(run_script, tmp_path, options):
    result = run_script(tmp_path, tmp_path / 'out', *options)
    assert result.returncode == 2
    assert 'usage: ConvNet_MNIST.py' in result.stderr


def test_cntk_backend_requested_without_cntk(run_script, small_data, tmp_path):
    result = run_script(small_data, tmp_path / 'out', '--backend', 'cntk')
    assert result.returncode == 1
    assert 'error: --backend cntk, but cntk does not import' in result.stderr


@pytest.mark.slow
def test_short_run_on_real_digits_reaches_low_error(run_script, offline_data, tmp_path):
    """8 epochs of the 4,000 offline training images, default schedule (3.1-3.5% for seeds 1-3).

    Chance is 90%; a net with a wrong gradient or a dead layer stays far above the 5% bound.
    """
    out = tmp_path / 'models'
    result = run_script(offline_data, out, '--epochs', 8)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ''  # all output goes to stderr, as the reference's sys.stdout = sys.stderr
    assert 'Training 98778 parameters in 10 parameter tensors.' in result.stderr
    epochs = EPOCH.findall(result.stderr)
    assert [(e[0], e[1], e[3]) for e in epochs] == [(str(i), '8', '4000') for i in range(1, 9)]
    losses = [float(e[2]) for e in epochs]
    assert losses[-1] < losses[0] / 3
    final = FINAL.findall(result.stderr)
    assert len(final) == 1
    minibatches, percent, samples = final[0]
    assert (minibatches, samples) == ('2', '1000')  # one minibatch of 1024; the reference prints n + 1
    assert float(percent) <= 5.0, result.stderr
    assert sorted(os.listdir(str(out))) == ['ConvNet_MNIST_%d.npz' % i for i in range(8)] + ['metrics.json']
    metrics = json.loads((out / 'metrics.json').read_text())
    assert metrics['test_error'] == pytest.approx(float(percent) / 100, abs=5e-5)
    assert metrics['test'] == {'error': metrics['test_error'], 'errors': int(round(metrics['test_error'] * 1000)),
                               'samples': 1000, 'minibatches': 1}
    assert (metrics['backend'], metrics['epochs'], metrics['epoch_size'], metrics['minibatch_size']) == \
        ('numpy', 8, 4000, 64)
    assert metrics['parameters'] == 98778
    assert metrics['model'] == 'ConvNet_MNIST_7.npz' and metrics['resumed_from'] is None
    assert [h['epoch'] for h in metrics['train']] == list(range(1, 9))
    assert metrics['train'][-1]['loss'] == pytest.approx(losses[-1], abs=1e-6)


def test_checkpoint_contents(convnet, run_script, small_data, tmp_path):
    out = tmp_path / 'out'
    assert run_script(small_data, out, '--epochs', 2, '--epoch-size', 200, '--minibatch-size', 50).returncode == 0
    with np.load(str(out / 'ConvNet_MNIST_1.npz')) as saved:
        meta = json.loads(str(saved['meta']))
        for name in convnet.PARAM_NAMES:
            assert saved[name].shape == convnet.PARAM_SHAPES[name]
            assert saved['velocity.' + name].shape == convnet.PARAM_SHAPES[name]
    assert (meta['epoch'], meta['epochs'], meta['epoch_size'], meta['minibatch_size']) == (1, 2, 200, 50)
    assert [h['epoch'] for h in meta['history']] == [1, 2]


def final_weights(path):
    with np.load(str(path)) as saved:
        return dict((name, saved[name]) for name in saved.files if name != 'meta')


def test_resume_continues_exactly_where_it_stopped(convnet, run_script, small_data, tmp_path):
    """Epochs 1-3 in one go equal epoch 1-2, then a retried job that resumes for epoch 3."""
    options = ['--epoch-size', 300, '--minibatch-size', 32, '--seed', 7, '--threads', 2]
    straight, retried = tmp_path / 'straight', tmp_path / 'retried'
    assert run_script(small_data, straight, '--epochs', 3, *options).returncode == 0
    assert run_script(small_data, retried, '--epochs', 2, *options).returncode == 0
    result = run_script(small_data, retried, '--epochs', 3, *options)
    assert result.returncode == 0, result.stderr
    assert 'Resuming from ConvNet_MNIST_1.npz: epoch 3 of 3' in result.stderr
    assert [e[0] for e in EPOCH.findall(result.stderr)] == ['3']
    a, b = final_weights(straight / 'ConvNet_MNIST_2.npz'), final_weights(retried / 'ConvNet_MNIST_2.npz')
    for name in a:
        np.testing.assert_allclose(a[name], b[name], rtol=1e-5, atol=1e-7, err_msg=name)
    one = json.loads((straight / 'metrics.json').read_text())
    two = json.loads((retried / 'metrics.json').read_text())
    assert two['resumed_from'] == 'ConvNet_MNIST_1.npz'
    assert [h['epoch'] for h in two['train']] == [1, 2, 3]
    assert two['test_error'] == one['test_error']


def test_damaged_newest_checkpoint_falls_back_to_older(run_script, small_data, tmp_path):
    out = tmp_path / 'out'
    options = ['--epoch-size', 100, '--minibatch-size', 50]
    assert run_script(small_data, out, '--epochs', 2, *options).returncode == 0
    (out / 'ConvNet_MNIST_1.npz').write_bytes(b'truncated')
    result = run_script(small_data, out, '--epochs', 2, *options)
    assert result.returncode == 0, result.stderr
    assert 'warning: cannot resume from %s' % (out / 'ConvNet_MNIST_1.npz') in result.stderr
    assert 'Resuming from ConvNet_MNIST_0.npz: epoch 2 of 2' in result.stderr


def test_finished_job_retried_only_retests(run_script, small_data, tmp_path):
    out = tmp_path / 'out'
    options = ['--epochs', 1, '--epoch-size', 100, '--minibatch-size', 50]
    first = run_script(small_data, out, *options)
    again = run_script(small_data, out, *options)
    assert again.returncode == 0
    assert 'Finished Epoch' not in again.stderr
    assert 'ConvNet_MNIST_0.npz is the model of epoch 1: no epoch left to train, testing it' in again.stderr
    assert FINAL.findall(again.stderr) == FINAL.findall(first.stderr)


def test_resume_with_other_options_is_refused(run_script, small_data, tmp_path):
    out = tmp_path / 'out'
    assert run_script(small_data, out, '--epochs', 1, '--epoch-size', 100).returncode == 0
    result = run_script(small_data, out, '--epochs', 2, '--epoch-size', 200)
    assert result.returncode == 1
    assert 'ConvNet_MNIST_0.npz was trained with epoch-size 100, not 200' in result.stderr


def test_epoch_size_defaults_to_one_sweep_and_last_minibatch_is_short(run_script, small_data, tmp_path):
    result = run_script(small_data, tmp_path / 'out', '--epochs', 1, '--minibatch-size', 100)
    assert result.returncode == 0, result.stderr
    assert EPOCH.findall(result.stderr)[0][3] == '512'
    assert FINAL.findall(result.stderr)[0][2] == '256'


def test_the_documented_final_line_format_is_the_one_tested(convnet):
    documented = [line.strip() for line in convnet.__doc__.splitlines() if line.strip().startswith('^Final')]
    assert documented == [FINAL.pattern]


def test_output_path_that_is_a_file(run_script, small_data, tmp_path):
    (tmp_path / 'out').write_text('not a directory')
    result = run_script(small_data, tmp_path / 'out', '--epochs', 1)
    assert result.returncode == 1
    assert 'error: output path %s is not a directory' % (tmp_path / 'out') in result.stderr

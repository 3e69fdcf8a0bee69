"""The CNTK backend's use of the CNTK 2.x API, run against a recording stand-in (CNTK has no wheel for this
Python). It checks the calls the reference script makes, with the reference's arguments, and our outputs:
progress lines, ConvNet_MNIST_<n>.dnn per epoch, resume from the newest .dnn, metrics.json."""
import contextlib
import json
import os
import re
import sys
import types

import pytest


class Fake(object):
    """Records every call made through it; calls return new Fakes, so layer chains compose."""

    def __init__(self, name, calls, **attrs):
        self.name, self.calls = name, calls
        self.__dict__.update(attrs)

    def __call__(self, *args, **kwargs):
        self.calls.append((self.name, args, kwargs))
        return Fake(self.name + '()', self.calls)


class Model(object):
    def __init__(self, calls, arguments):
        self.calls, self.arguments = calls, arguments
        shapes = [(32, 1, 5, 5), (32,), (48, 32, 3, 3), (48,), (64, 48, 3, 3), (64,), (64, 3, 3, 96), (96,),
                  (96, 10), (10,)]
        self.parameters = [types.SimpleNamespace(shape=s) for s in shapes]

    def save(self, path):
        self.calls.append(('save', (os.path.basename(path),), {}))
        with open(path, 'wb') as handle:
            handle.write(b'model')


class Reader(object):
    def __init__(self, path, randomize, max_sweeps, samples):
        self.path, self.randomize, self.left = path, randomize, None if max_sweeps == 'forever' else samples
        self.streams = types.SimpleNamespace(features='features stream', labels='labels stream')

    def next_minibatch(self, n, input_map):
        if self.left is not None:
            n = min(n, self.left)
            self.left -= n
            if n == 0:
                return {}
        return dict((var, types.SimpleNamespace(num_samples=n)) for var in input_map)


def fake_cntk(calls, samples):
    inputs = []

    def input_variable(shape, dtype):
        inputs.append(shape)
        return 'input%s' % (shape,)

    @contextlib.contextmanager
    def default_options(**kwargs):
        calls.append(('default_options', (), kwargs))
        yield

    def layer(name):
        def make(*args, **kwargs):
            calls.append((name, args, kwargs))
            return lambda x: Model(calls, ['input(1, 28, 28)']) if name.endswith('Dense') and args[0] == 10 \
                else name
        return make

    class Trainer(object):
        def __init__(self, model, criteria, learner):
            calls.append(('Trainer', (criteria, learner), {}))
            self.previous_minibatch_loss_average = 0.5
            self.previous_minibatch_evaluation_average = 0.25

        def train_minibatch(self, data):
            calls.append(('train_minibatch', (list(data.values())[0].num_samples,), {}))

        def test_minibatch(self, data):
            return 0.125

    io = types.SimpleNamespace(
        MinibatchSource=lambda deserializer, randomize, max_sweeps: Reader(deserializer, randomize, max_sweeps,
                                                                           samples),
        CTFDeserializer=lambda path, streams: calls.append(('CTFDeserializer', (path, streams), {})) or path,
        StreamDefs=lambda **streams: streams,
        StreamDef=lambda field, shape: (field, shape),
        INFINITELY_REPEAT='forever')
    module = types.ModuleType('cntk')
    module.__dict__.update(
        cntk_py=types.SimpleNamespace(set_fixed_random_seed=Fake('set_fixed_random_seed', calls)),
        input_variable=input_variable,
        ops=types.SimpleNamespace(element_times=Fake('element_times', calls), constant=Fake('constant', calls),
                                  relu='relu', functions=types.SimpleNamespace(
                                      load_model=lambda path: calls.append(('load_model', (path,), {}))
                                      or Model(calls, ['loaded input']))),
        layers=types.SimpleNamespace(default_options=default_options, Convolution2D=layer('Convolution2D'),
                                     MaxPooling=layer('MaxPooling'), Dense=layer('Dense'), Dropout=layer('Dropout')),
        losses=types.SimpleNamespace(cross_entropy_with_softmax=Fake('cross_entropy_with_softmax', calls)),
        metrics=types.SimpleNamespace(classification_error=Fake('classification_error', calls)),
        learning_rate_schedule=Fake('learning_rate_schedule', calls),
        learners=types.SimpleNamespace(UnitType=types.SimpleNamespace(sample='sample'),
                                       momentum_as_time_constant_schedule=Fake('momentum_schedule', calls),
                                       momentum_sgd=Fake('momentum_sgd', calls)),
        Trainer=Trainer, io=io)
    return module


def calls_named(calls, name):
    return [c for c in calls if c[0] == name]


@pytest.fixture
def cntk_run(convnet, small_data, tmp_path, monkeypatch, capsys):
    def run(*options):
        calls = []
        monkeypatch.setitem(sys.modules, 'cntk', fake_cntk(calls, 256))
        status = convnet.main([small_data, str(tmp_path / 'out')] + [str(o) for o in options])
        return status, calls, capsys.readouterr().err
    return run


def test_auto_picks_cntk_and_builds_the_reference_network(cntk_run, small_data, tmp_path):
    status, calls, err = cntk_run('--epochs', 2, '--minibatch-size', 100)
    assert status == 0, err
    assert 'ConvNet_MNIST: cntk backend' in err
    assert calls_named(calls, 'constant')[0][1] == (0.00390625,)
    assert calls_named(calls, 'default_options')[0][2] == {'activation': 'relu', 'pad': False}
    assert [(c[0], c[1], c[2]) for c in calls if c[0] in ('Convolution2D', 'MaxPooling', 'Dense', 'Dropout')] == [
        ('Convolution2D', ((5, 5), 32), {'pad': True}), ('MaxPooling', ((3, 3), (2, 2)), {}),
        ('Convolution2D', ((3, 3), 48), {}), ('MaxPooling', ((3, 3), (2, 2)), {}),
        ('Convolution2D', ((3, 3), 64), {}), ('Dense', (96,), {}), ('Dropout', (0.5,), {}),
        ('Dense', (10,), {'activation': None})]
    assert calls_named(calls, 'learning_rate_schedule')[0][1] == (
        [0.001] * 10 + [0.0005] * 10 + [0.0001], 'sample', 512)
    assert calls_named(calls, 'momentum_schedule')[0][1] == ([0] * 5 + [1024], 512)
    assert [c[1] for c in calls_named(calls, 'CTFDeserializer')] == [
        (os.path.join(small_data, 'Train-28x28_cntk_text.txt'), {'features': ('features', 784),
                                                                 'labels': ('labels', 10)}),
        (os.path.join(small_data, 'Test-28x28_cntk_text.txt'), {'features': ('features', 784),
                                                                'labels': ('labels', 10)})]
    # one sweep of 512 samples per epoch: minibatches of 100 and a last one of 12
    assert [c[1][0] for c in calls_named(calls, 'train_minibatch')] == [100] * 5 + [12] + [100] * 5 + [12]
    assert [c[1][0] for c in calls_named(calls, 'save')] == ['ConvNet_MNIST_0.dnn', 'ConvNet_MNIST_1.dnn']
    assert 'Training 98778 parameters in 10 parameter tensors.' in err
    assert 'Finished Epoch[2 of 2]: [Training] loss = 0.500000 * 512, metric = 25.00% * 512' in err
    assert re.search(r'^Final Results: Minibatch\[1-2\]: errs = 12\.50% \* 256$', err, re.M)
    metrics = json.loads((tmp_path / 'out' / 'metrics.json').read_text())
    assert (metrics['backend'], metrics['model'], metrics['test']['errors']) == ('cntk', 'ConvNet_MNIST_1.dnn', 32)


def test_resume_reloads_newest_model_and_starts_schedules_there(cntk_run, tmp_path):
    out = tmp_path / 'out'
    out.mkdir()
    for n in (0, 11, 2):
        (out / ('ConvNet_MNIST_%d.dnn' % n)).write_bytes(b'model')
    status, calls, err = cntk_run('--epochs', 13, '--epoch-size', 200)
    assert status == 0, err
    assert calls_named(calls, 'load_model')[0][1] == (str(out / 'ConvNet_MNIST_11.dnn'),)
    assert not calls_named(calls, 'Convolution2D')
    assert 'Resuming from ConvNet_MNIST_11.dnn: epoch 13 of 13' in err
    assert calls_named(calls, 'learning_rate_schedule')[0][1] == ([0.0005] * 8 + [0.0001], 'sample', 200)
    assert calls_named(calls, 'momentum_schedule')[0][1] == ([1024], 200)
    assert [c[1][0] for c in calls_named(calls, 'save')] == ['ConvNet_MNIST_12.dnn']
    assert 'Finished Epoch[13 of 13]' in err and 'Finished Epoch[12' not in err

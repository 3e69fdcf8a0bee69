"""The numpy backend's building blocks against direct definitions, and its gradients against finite differences."""
import math
import platform

import numpy as np
import pytest


def naive_pool(x):
    """3x3 stride-2 max-pool by loops: the max, and the first (raster order) position holding it."""
    n, h, w, c = x.shape
    ho, wo = (h - 3) // 2 + 1, (w - 3) // 2 + 1
    out = np.zeros((n, ho, wo, c), x.dtype)
    where = np.zeros((n, ho, wo, c), int)
    for b in range(n):
        for i in range(ho):
            for j in range(wo):
                for ch in range(c):
                    window = x[b, 2 * i:2 * i + 3, 2 * j:2 * j + 3, ch].ravel()
                    out[b, i, j, ch] = window.max()
                    where[b, i, j, ch] = int(np.argmax(window))
    return out, where


def naive_conv(x, w):
    """'valid' cross-correlation, NHWC input and (kh, kw, in, out) weights."""
    kh, kw = w.shape[:2]
    n, h, wd, _ = x.shape
    out = np.zeros((n, h - kh + 1, wd - kw + 1, w.shape[3]))
    for i in range(h - kh + 1):
        for j in range(wd - kw + 1):
            out[:, i, j, :] = np.tensordot(x[:, i:i + kh, j:j + kw, :], w, axes=([1, 2, 3], [0, 1, 2]))
    return out


def test_maxpool_matches_loops_including_ties(convnet):
    rng = np.random.RandomState(0)
    x = rng.randint(0, 4, size=(2, 11, 11, 3)).astype(np.float32)  # few values: many ties
    out, where = convnet.maxpool_forward(x)
    ref_out, ref_where = naive_pool(x)
    assert out.shape == (2, 5, 5, 3)
    np.testing.assert_array_equal(out, ref_out)
    np.testing.assert_array_equal(where, ref_where)
    dout = rng.randn(*out.shape).astype(np.float32)
    dx = convnet.maxpool_backward(dout, where, x.shape)
    expected = np.zeros_like(x)
    for b, i, j, ch in np.ndindex(*out.shape):
        di, dj = divmod(ref_where[b, i, j, ch], 3)
        expected[b, 2 * i + di, 2 * j + dj, ch] += dout[b, i, j, ch]
    np.testing.assert_allclose(dx, expected, rtol=1e-6)


def test_pool_output_sizes_are_the_reference_floor_sizes(convnet):
    assert convnet.maxpool_forward(np.zeros((1, 28, 28, 1)))[0].shape == (1, 13, 13, 1)
    assert convnet.maxpool_forward(np.zeros((1, 11, 11, 1)))[0].shape == (1, 5, 5, 1)


def test_im2col_convolution_and_col2im_adjoint(convnet):
    rng = np.random.RandomState(1)
    x = rng.randn(2, 7, 6, 3)
    w = rng.randn(3, 3, 3, 4)
    y = np.dot(convnet.im2col(x, 3, 3), w.reshape(27, 4)).reshape(2, 5, 4, 4)
    np.testing.assert_allclose(y, naive_conv(x, w), rtol=1e-10, atol=1e-12)
    cols = rng.randn(2 * 5 * 4, 27)
    lhs = (convnet.im2col(x, 3, 3) * cols).sum()
    rhs = (x * convnet.col2im(cols, x.shape, 3, 3)).sum()
    assert lhs == pytest.approx(rhs, rel=1e-10)


def test_conv1_columns_is_a_same_padded_5x5_convolution(convnet):
    rng = np.random.RandomState(2)
    x = rng.randn(2, 28, 28, 1)
    w = rng.randn(5, 5, 1, 32)
    y = np.dot(convnet.conv1_columns(x).T, w.reshape(25, 32)).reshape(2, 28, 28, 32)
    padded = np.pad(x, ((0, 0), (2, 2), (2, 2), (0, 0)), mode='constant')
    np.testing.assert_allclose(y, naive_conv(padded, w), rtol=1e-10, atol=1e-12)


def test_network_shape_and_parameter_count(convnet):
    params = convnet.glorot_params(np.random.RandomState(0))
    assert sum(p.size for p in params.values()) == 98778  # "Training 98778 parameters in 10 parameter tensors."
    assert len(params) == 10
    z = convnet.NumpyConvNet(params).forward(np.zeros((3, 28, 28, 1), np.float32))
    assert z.shape == (3, 10) and z.dtype == np.float32


def loss_of(convnet, params, x, labels, keep):
    z = convnet.NumpyConvNet(params).forward(x, keep.copy())
    return convnet.softmax_cross_entropy(z, labels)[0]


def test_gradients_match_finite_differences(convnet):
    """Every parameter tensor, dropout on, soft labels, float64: analytic vs central differences."""
    rng = np.random.RandomState(3)
    params = convnet.glorot_params(rng, np.float64)
    for name in params:
        if name.endswith('.b'):
            params[name] = rng.uniform(-0.1, 0.1, params[name].shape)
    x = rng.uniform(0, 1, (3, 28, 28, 1))
    labels = rng.dirichlet(np.ones(10), 3)
    keep = convnet.dropout_keep(rng, 3, np.float64)
    net = convnet.NumpyConvNet(params)
    loss, _, grads = net.loss_and_grads(x, labels, keep.copy())
    assert loss == pytest.approx(loss_of(convnet, params, x, labels, keep))
    eps = 1e-6
    for name in convnet.PARAM_NAMES:
        assert grads[name].shape == params[name].shape
        flat = params[name].reshape(-1)
        picks = rng.choice(flat.size, min(12, flat.size), replace=False)
        for k in picks:
            saved = flat[k]
            flat[k] = saved + eps
            up = loss_of(convnet, params, x, labels, keep)
            flat[k] = saved - eps
            down = loss_of(convnet, params, x, labels, keep)
            flat[k] = saved
            numeric = (up - down) / (2 * eps)
            analytic = grads[name].reshape(-1)[k]
            assert analytic == pytest.approx(numeric, rel=1e-4, abs=1e-7), (name, k)
        assert np.abs(grads[name]).max() > 0, name


def test_gradient_of_summed_loss_is_per_sample_sum(convnet):
    """CNTK semantics: the gradient of a minibatch is the sum of the per-sample gradients."""
    rng = np.random.RandomState(4)
    params = convnet.glorot_params(rng, np.float64)
    x = rng.uniform(0, 1, (4, 28, 28, 1))
    labels = np.eye(10)[[1, 7, 3, 3]]
    keep = convnet.dropout_keep(rng, 4, np.float64)
    whole = convnet.NumpyConvNet(params).loss_and_grads(x, labels, keep)[2]
    parts = [convnet.NumpyConvNet(params).loss_and_grads(x[i:i + 1], labels[i:i + 1], keep[i:i + 1])[2]
             for i in range(4)]
    for name in convnet.PARAM_NAMES:
        np.testing.assert_allclose(whole[name], sum(p[name] for p in parts), rtol=1e-9, atol=1e-12)


def test_sharded_workers_equal_one_net(convnet):
    rng = np.random.RandomState(5)
    params = convnet.glorot_params(rng)
    x = rng.uniform(0, 1, (13, 28, 28, 1)).astype(np.float32)
    labels = np.eye(10, dtype=np.float32)[rng.randint(0, 10, 13)]
    keep = convnet.dropout_keep(rng, 13)
    single = convnet.NumpyConvNet(params).loss_and_grads(x, labels, keep.copy())
    workers = convnet.Workers(params, 3)
    try:
        sharded = workers.loss_and_grads(x, labels, keep.copy())
        np.testing.assert_allclose(workers.predict(x), convnet.NumpyConvNet(params).forward(x), rtol=1e-4,
                                   atol=1e-6)
    finally:
        workers.close()
    assert sharded[0] == pytest.approx(single[0], rel=1e-5)
    assert sharded[1] == single[1]
    for name in convnet.PARAM_NAMES:
        np.testing.assert_allclose(sharded[2][name], single[2][name], rtol=1e-4, atol=1e-6)


def test_dropout_keeps_half_and_scales_by_two(convnet):
    keep = convnet.dropout_keep(np.random.RandomState(0), 1000)
    assert set(np.unique(keep)) == {0.0, 2.0}
    assert abs(keep.mean() - 1.0) < 0.02


def test_schedule_is_the_reference_converted(convnet):
    """lr per sample 0.001 x10, 0.0005 x10, then 0.0001; momentum 0 x5, then time constant 1024 samples."""
    assert convnet.schedule(0, 64) == (0.001, 0.0)
    assert convnet.schedule(4, 64) == (0.001, 0.0)
    lr, m = convnet.schedule(5, 64)
    assert lr == 0.001 and m == pytest.approx(0.939413, abs=1e-6)
    assert convnet.schedule(5, 1)[1] == pytest.approx(0.9990239141819757, abs=1e-15)
    assert convnet.schedule(5, 32)[1] == pytest.approx(math.exp(-32 / 1024.0))
    assert convnet.schedule(10, 64)[0] == 0.0005
    assert convnet.schedule(19, 64)[0] == 0.0005
    assert convnet.schedule(20, 64)[0] == 0.0001
    assert convnet.schedule(39, 64)[0] == 0.0001


def test_momentum_sgd_is_cntk_unit_gain(convnet):
    params = dict((n, np.zeros(convnet.PARAM_SHAPES[n], np.float64)) for n in convnet.PARAM_NAMES)
    learner = convnet.MomentumSGD(params)
    grads = dict((n, np.ones(convnet.PARAM_SHAPES[n])) for n in convnet.PARAM_NAMES)
    learner.update(grads, 0.001, 0.0)
    assert params['z.b'][0] == pytest.approx(-0.001)
    learner.update(grads, 0.001, 0.9)  # v = 0.9 * 1 + 0.1 * 1 = 1
    assert params['z.b'][0] == pytest.approx(-0.002)
    learner.update(dict((n, np.zeros_like(g)) for n, g in grads.items()), 0.001, 0.5)  # v = 0.5
    assert params['z.b'][0] == pytest.approx(-0.0025)


@pytest.mark.skipif(platform.libc_ver()[0] != 'glibc', reason='glibc only')
def test_allocator_tuning_is_accepted_by_glibc(convnet):
    assert convnet.tune_allocator() is True

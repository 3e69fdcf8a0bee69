"""The CNTK text format reader: the forms the spec allows, and clear file:line errors for the rest."""
import numpy as np
import pytest

STREAMS = {'features': 4, 'labels': 3}


def write(tmp_path, text, name='data.txt'):
    path = tmp_path / name
    path.write_bytes(text.encode())
    return str(path)


def test_dense_lines_as_install_mnist_writes_them(convnet, tmp_path):
    path = write(tmp_path, '|labels 0 1 0 |features 0 12 255 3\n|labels 1 0 0 |features 1 2 3 4\n')
    data = convnet.read_ctf(path, STREAMS)
    np.testing.assert_array_equal(data['labels'], [[0, 1, 0], [1, 0, 0]])
    np.testing.assert_array_equal(data['features'], [[0, 12, 255, 3], [1, 2, 3, 4]])
    assert data['features'].dtype == np.float32


def test_sparse_values_any_order_tabs_crlf_comments_and_blank_lines(convnet, tmp_path):
    text = ('|# a comment line\r\n'
            '|features\t0:5 3:1.5 |# pixels |labels 2:1\r\n'
            '\r\n'
            '|labels 1 0 0\t|features 1e0 -2 0.5 0 |# trailing comment\r\n')
    data = convnet.read_ctf(write(tmp_path, text), STREAMS)
    np.testing.assert_array_equal(data['features'], [[5, 0, 0, 1.5], [1, -2, 0.5, 0]])
    np.testing.assert_array_equal(data['labels'], [[0, 0, 1], [1, 0, 0]])


def test_sequence_ids_merge_consecutive_lines(convnet, tmp_path):
    text = ('7 |labels 0 0 1\n'
            '7 |features 1 1 1 1\n'
            '3 |labels 0 1 0 |features 2 2 2 2\n')
    data = convnet.read_ctf(write(tmp_path, text), STREAMS)
    np.testing.assert_array_equal(data['labels'], [[0, 0, 1], [0, 1, 0]])
    np.testing.assert_array_equal(data['features'], [[1, 1, 1, 1], [2, 2, 2, 2]])


def test_unknown_streams_are_skipped(convnet, tmp_path):
    text = '|labels 0 1 0 |weights 9 |features 1 2 3 4\n'
    assert convnet.read_ctf(write(tmp_path, text), STREAMS)['features'].shape == (1, 4)


@pytest.mark.parametrize('text, line, words', [
    ('|labels 0 1 0 |features 1 2 3\n', 1, 'expected 4 dense values, found 3'),
    ('|labels 0 1 0 |features 1 2 3 4\n|labels 0 1 0 |features 1 2 x 4\n', 2, "bad value"),
    ('|labels 0 1 0 |features 1 2 3 4\n|labels 0 1 0\n', 2, "no 'features' sample"),
    ('|labels 0 1 0 |features 0:1 9:1\n', 1, "bad sparse entry '9:1'"),
    ('|labels 0 1 0 |features 0:1 2-1\n', 1, "bad sparse entry '2-1'"),
    ('|labels 0 1 0 |features 1 2 3 4 |features 1 2 3 4\n', 1, "more than one 'features'"),
    ('|labels 0 1 0 | features 1 2 3 4\n', 1, "not followed by an input name"),
    ('1 |labels 0 1 0 |features 1 2 3 4\n|labels 0 1 0 |features 1 2 3 4\n', 2, 'missing sequence id'),
    ('1 |labels 0 1 0 |features 1 2 3 4\n2 |labels 0 1 0 |features 1 2 3 4\n'
     '1 |labels 0 1 0 |features 1 2 3 4\n', 3, 'repeats on a non-consecutive line'),
    ('a |labels 0 1 0 |features 1 2 3 4\n', 1, "sequence id 'a'"),
    ('|labels 0 1 0 |features 1 2 3 4\nhello |labels 0 1 0 |features 1 2 3 4\n', 2, "unexpected text 'hello'"),
])
def test_malformed_input_names_file_and_line(convnet, tmp_path, text, line, words):
    path = write(tmp_path, text, 'Train-28x28_cntk_text.txt')
    with pytest.raises(convnet.DataError) as caught:
        convnet.read_ctf(path, STREAMS)
    message = str(caught.value)
    assert message.startswith('%s:%d: ' % (path, line)), message
    assert words in message


def test_empty_file_is_an_error(convnet, tmp_path):
    path = write(tmp_path, '|# nothing here\n')
    with pytest.raises(convnet.DataError, match='no samples'):
        convnet.read_ctf(path, STREAMS)

"""ConvNet_MNIST.py must run in the CNTK 2.1 image: Python 3.5 and an old numpy, and nothing beyond numpy."""
import ast
import os
import subprocess
import sys

import pytest

SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                      'trainer', 'ConvNet_MNIST.py')
# numpy names that old numpy (CNTK 2.1 images shipped 1.11-1.13) does not have
NEWER_NUMPY = {'default_rng', 'Generator', 'sliding_window_view', 'take_along_axis', 'put_along_axis', 'isin',
               'quantile', 'nanquantile', 'flip', 'divmod', 'heaviside', 'block', 'gcd', 'lcm', 'positive',
               'float_power', 'count_nonzero_axis', 'broadcast_shapes', 'shares_memory'}


def vermin(path):
    """vermin's command line (it has no python -m entry): exit 0 only when Python 3.5 suffices."""
    command = 'import sys, vermin; sys.argv = ["vermin"] + sys.argv[1:]; sys.exit(vermin.main())'
    return subprocess.run([sys.executable, '-c', command, '--no-tips', '-t=3.5-', '--violations', path],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)


def test_script_needs_no_more_than_python_3_5():
    result = vermin(SCRIPT)
    assert result.returncode == 0, result.stdout
    assert 'Minimum required versions: 3.' in result.stdout


@pytest.mark.parametrize('source', ['x = 1\nprint(f"{x}")\n', 'x: int = 1\n', 'import dataclasses\n',
                                    'import secrets\n'])
def test_the_check_catches_3_6_features(tmp_path, source):
    path = tmp_path / 'newer.py'
    path.write_text(source)
    result = vermin(str(path))
    assert result.returncode == 1 and 'Target versions not met' in result.stdout, result.stdout


def test_script_imports_only_stdlib_numpy_and_optional_cntk():
    tree = ast.parse(open(SCRIPT).read())
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name.split('.')[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            modules.add(node.module.split('.')[0])
    stdlib = {'argparse', 'concurrent', 'ctypes', 'io', 'json', 'math', 'os', 're', 'sys', 'time'}
    assert modules - stdlib == {'numpy', 'cntk'}


def test_script_uses_no_newer_numpy_api():
    tree = ast.parse(open(SCRIPT).read())
    used = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            used.add(node.attr)
        elif isinstance(node, ast.ImportFrom) and node.module.startswith('numpy'):
            used.update(alias.name for alias in node.names)
    assert not used & NEWER_NUMPY

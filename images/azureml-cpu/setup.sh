# Runs in a container of the azureml-cpu stage image (images/azureml-cpu/build.sh), without network:
# installs the wheels copied to /tmp/azureml-cpu/wheels with pip run from its own wheel (pip stays out of the
# image), writes the offline MNIST digits where chainer.datasets.get_mnist() finds them, and compiles only the
# modules a run imports (compiling all of azureml-core's dependencies would add ~70 MB of unused .pyc).
set -Eeuo pipefail
W=/tmp/azureml-cpu
export CHAINER_DATASET_ROOT=/opt/chainer-dataset   # as the image's ENV says
pip_wheel="$(ls "$W"/wheels/pip-*.whl | head -n1)"
python3 "$pip_wheel/pip" install --no-index --find-links "$W/wheels" --no-compile --break-system-packages \
    --root-user-action=ignore --disable-pip-version-check --no-warn-script-location --quiet \
    -r "$W/requirements.txt"
# Trim what no run imports: the async twins of the azure-mgmt-* clients (azureml-core uses the sync ones; ~23 MB)
# and numpy's own test suite.
site=/usr/local/lib/python3.11/dist-packages
find "$site/azure/mgmt" -type d -name aio -prune -exec rm -rf {} +
find "$site/numpy" -type d -name tests -prune -exec rm -rf {} +
python3 "$W/data.py" --format chainer --source offline --wheel "$W/wheels" --out "$CHAINER_DATASET_ROOT"
# importing writes the .pyc of what is imported: the script's and the run's modules
python3 - <<'PY'
import numpy, chainer, chainer.functions, chainer.links, chainer.optimizers, chainer.serializers, chainer.datasets
import azureml.core
from azureml.core.run import Run
run = Run.get_context()
train, test = chainer.datasets.get_mnist()
print('numpy', numpy.__version__, 'chainer', chainer.__version__, 'azureml-core', azureml.core.VERSION,
      'digits', len(train), len(test), type(run).__name__)
PY
rm -rf "$W" /root/.cache

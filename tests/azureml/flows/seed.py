# The seed's code (shared/seeds/azureml-chainer-estimator.md), verbatim in order; only `exp` -> `experiment` and
# `est` -> `estimator` are the names the article's own earlier cells define, and a JSON report is printed at the end.
import json
import os

from azureml.core import Workspace

ws = Workspace.from_config()

project_folder = './chainer-mnist'
os.makedirs(project_folder, exist_ok=True)

from azureml.core import Experiment

experiment_name = 'chainer-mnist'
experiment = Experiment(ws, name=experiment_name)

from azureml.core.compute import ComputeTarget, AmlCompute
from azureml.core.compute_target import ComputeTargetException

# choose a name for your cluster
cluster_name = "gpu-cluster"

try:
    compute_target = ComputeTarget(workspace=ws, name=cluster_name)
    print('Found existing compute target.')
except ComputeTargetException:
    print('Creating a new compute target...')
    compute_config = AmlCompute.provisioning_configuration(vm_size='STANDARD_NC6',
                                                           max_nodes=4)

    # create the cluster
    compute_target = ComputeTarget.create(ws, cluster_name, compute_config)

    compute_target.wait_for_completion(show_output=True)

# use get_status() to get a detailed status for the current cluster.
print(compute_target.get_status().serialize())

from azureml.train.dnn import Chainer

script_params = {
    '--epochs': 10,
    '--batchsize': 128,
    '--output_dir': './outputs'
}

estimator = Chainer(source_directory=project_folder,
                    script_params=script_params,
                    compute_target=compute_target,
                    pip_packages=['numpy', 'pytest'],
                    entry_script='chainer_mnist.py',
                    use_gpu=True)

run = experiment.submit(estimator)
run.wait_for_completion(show_output=True)

model = run.register_model(model_name='chainer-dnn-mnist', model_path='outputs/model.npz')

# Create a model folder in the current directory
os.makedirs('./model', exist_ok=True)

for f in run.get_file_names():
    if f.startswith('outputs/model'):
        output_file_path = os.path.join('./model', f.split('/')[-1])
        print('Downloading from {} to {} ...'.format(f, output_file_path))
        run.download_file(name=f, output_file_path=output_file_path)

print(json.dumps({"run_id": run.id, "status": run.get_status(), "metrics": run.get_metrics(),
                  "model": [model.name, model.version], "files": run.get_file_names(),
                  "snapshot": run.get_details()["properties"].get("ContentSnapshotId")}))

# Two commands do all the set-up on a fresh machine: `make demo` (the main job) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# azure-mgmt-batchai 2.0.0 (the seed's SDK) cannot share an environment with 7.0.0: it gets its own
SDK2   := .venv-sdk2018
# and so do the older generations: 0.2.0 (2017-09-01-preview) and 1.0.1 (2018-03-01)
SDK0   := .venv-sdk2017
SDK1   := .venv-sdk2018-03
MOTO   := .venv-moto
# the legacy blob SDK (azure-storage-blob 2.1.0, BlockBlobService) owns azure.storage.blob like 12.x does
BLOB2  := .venv-blob2018
# Azure ML SDK v1 (azureml-core + azureml-train-core) with chainer and numpy 1.26: the Azure ML flow and its trainer
AML    := .venv-azureml
# azure-cli 2.91.0, the last with `az batchai`: its own environment (it pins its own azure-* packages)
AZCLI  := .venv-azcli

.PHONY: install constraints conformance batchai-sdk-tests run test bench bench-moto bench-slurm bench-hardening fuzz demo demo-azureml images data \
	clean

install: $(VENV)/.installed $(SDK2)/.installed $(SDK2)/.installed-batchai-sdk-tests $(SDK0)/.installed $(SDK1)/.installed $(BLOB2)/.installed \
	$(AML)/.installed $(AZCLI)/.installed

# constraints.txt pins every package to the versions the tests last passed with (regenerate with
# `make constraints` after changing dependencies), so a fresh machine gets the same versions
# the main job's environment: the emulator, the submission side and the trainer's tools
$(VENV)/.installed-run: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[cloud,trainer]'
	touch $@

# the test tools on top of it
$(VENV)/.installed: $(VENV)/.installed-run
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

# the recipe of an environment of its own made from one requirements file (the rule's prerequisite); the target
# is <venv>/.installed
define venv_from_requirements
$(PYTHON) -m venv $(@D)
$(@D)/bin/pip install --quiet --upgrade pip
$(@D)/bin/pip install --quiet -r $<
touch $@
endef

$(SDK2)/.installed: tests/sdk/requirements-2.0.0.txt
	$(venv_from_requirements)

# what azure-mgmt-batchai 2.0.0's own live tests need on top of it (pytest, the legacy blob SDK, azure-mgmt-storage)
$(SDK2)/.installed-batchai-sdk-tests: $(SDK2)/.installed tests/batchai_sdk/requirements.txt
	$(SDK2)/bin/pip install --quiet -r tests/batchai_sdk/requirements.txt
	touch $@

$(SDK0)/.installed: tests/sdk/requirements-0.2.0.txt
	$(venv_from_requirements)

$(SDK1)/.installed: tests/sdk/requirements-1.0.1.txt
	$(venv_from_requirements)

$(BLOB2)/.installed: tests/blob/requirements-2.1.0.txt
	$(venv_from_requirements)

$(AZCLI)/.installed: tests/cli/requirements-azcli.txt
	$(venv_from_requirements)

# chainer 7.8.1 is an sdist only; it builds against the venv's own setuptools (pinned) and wheel
$(AML)/.installed: images/azureml-cpu/requirements.txt tests/azureml/requirements.txt
	$(PYTHON) -m venv $(AML)
	$(AML)/bin/pip install --quiet --upgrade pip wheel 'setuptools==65.5.0'
	$(AML)/bin/pip install --quiet --no-build-isolation -r images/azureml-cpu/requirements.txt \
		-r tests/azureml/requirements.txt
	touch $@

# the emulator on 127.0.0.1:8080 (HTTP) and :8443 (HTTPS), state in ~/.batchai-emulator, with the demo's image map
# (the quickstart's CNTK GPU image runs as the offline-built CPU trainer image), so the README's quickstart works
RUN_IMAGE_MAP := microsoft/cntk:2.1-gpu-python3.5-cuda8.0-cudnn6.0=batchai-emulator/trainer-cpu:latest
run: $(VENV)/.installed-run
	$(BIN)/batchai-emulator serve --image-map $(RUN_IMAGE_MAP) $(ARGS)

# the main job: emulator + the quickstart flow against it, then the emulator stops
demo: $(VENV)/.installed-run
	$(BIN)/python -m cloud demo

# the Azure ML flow (python -m cloud azureml-quickstart, in .venv-azureml) against a local emulator, then it stops
demo-azureml: $(VENV)/.installed-run $(AML)/.installed
	$(BIN)/python -m cloud demo-azureml

# the quickstart's two CTF files (real MNIST when a mirror answers, else the offline digits)
data: $(VENV)/.installed-run
	$(BIN)/python -m trainer.data --out .data/mnist

# Docker engine + the offline-built job images (root: installs docker.io and debootstrap when missing)
images:
	bash .ci/docker.sh

test: install
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python bench/control_plane.py
	$(BIN)/python bench/job_overhead.py
	$(BIN)/python bench/files.py
	$(BIN)/python bench/blob.py
	$(BIN)/python bench/azureml.py
	$(BIN)/pip install --quiet 'torch==2.13.0' && $(BIN)/python bench/trainer.py
	$(MAKE) bench-moto

# no-op job start against moto's Docker-backed AWS Batch (moto gets its own venv: see bench/requirements-moto.txt)
bench-moto: install $(MOTO)/.installed
	$(BIN)/python bench/moto_batch.py

$(MOTO)/.installed: bench/requirements-moto.txt
	$(PYTHON) -m venv $(MOTO)
	$(MOTO)/bin/pip install --quiet --upgrade pip
	$(MOTO)/bin/pip install --quiet -r bench/requirements-moto.txt
	touch $@

# the long versions of the hardening suites: 16 x 500 load, 20 kill -9 trials per executor; slow clients, size limits
bench-hardening: install
	$(BIN)/python bench/load.py
	$(BIN)/python bench/faults.py
	$(BIN)/python bench/slow_clients.py
	$(BIN)/python bench/scale.py

# the long swagger fuzz run (about 11 min): exits 1 when anything is found
fuzz: install
	$(BIN)/python bench/fuzz.py --examples 500

# pins of everything .[dev] resolves to today, from a throwaway environment
constraints:
	rm -rf .venv-constraints && $(PYTHON) -m venv .venv-constraints
	.venv-constraints/bin/pip install --quiet --upgrade pip
	.venv-constraints/bin/pip install --quiet -e '.[dev]'
	( echo "# pins for make install: made by make constraints"; \
	  .venv-constraints/bin/pip freeze --exclude-editable | grep -v '^batchai-emulator' ) > constraints.txt
	rm -rf .venv-constraints

# the azure-storage-file-share sdist's own test suite, live against a fresh emulator (sdist cached in .conformance/)
conformance: install
	$(BIN)/python -m tests.conformance

# azure-mgmt-batchai 2.0.0's own live tests against a fresh emulator (the two ssh tests excluded): the tests from
# BATCHAI_SDK_TESTS_DIR, else downloaded at pinned commits into .batchai-sdk-tests/ (needs GitHub); ARGS: files, -k
batchai-sdk-tests: $(VENV)/.installed $(SDK2)/.installed-batchai-sdk-tests
	$(BIN)/python -m tests.batchai_sdk $(ARGS)

clean:
	rm -rf $(VENV) $(SDK2) $(SDK0) $(SDK1) $(BLOB2) $(AML) $(AZCLI) .pytest_cache

# Slurm executor overhead on the 3-node test cluster (root: network namespaces; Slurm from .ci/slurm.sh)
bench-slurm: install
	bash .ci/slurm.sh
	$(BIN)/python bench/slurm.py

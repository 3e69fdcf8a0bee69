"""The batchai-emulator harness's stand-in for azure-devtools (tests/batchai_sdk): only what azure-mgmt-batchai's
live tests import from it. Runs in the SDK's own environment; imports nothing from this project."""

"""The in-job launcher of an Azure ML run (copied into the job's directory and run by the job's python).

What the service's run wrapper does, in the project's own small form: read run.json beside this file, set the
AZUREML_* variables, the run token and the CA variables, run the entry script with its arguments as __main__
(its Run.get_context() is then the submitted run), then flush what the script logged through it, as the SDK's
own SendRunKillSignal does (metrics are sent in the background and lost unless flushed before the interpreter
exits). It writes its phase (running, finalizing)
for the emulator, and the script's error (type, message, traceback) to error.json when the script raises.
Standard library only, plus azureml-core when the job's python has it.
"""
import json
import os
import runpy
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))


def phase(name):
    with open(os.path.join(HERE, "phase.tmp"), "w") as fh:
        fh.write(name)
    os.replace(os.path.join(HERE, "phase.tmp"), os.path.join(HERE, "phase"))


def main():
    with open(os.path.join(HERE, "run.json")) as fh:
        cfg = json.load(fh)
    for name, value in cfg["env"].items():
        os.environ[name] = value
    ca = os.path.join(HERE, "ca.pem")
    if os.path.exists(ca):
        os.environ["REQUESTS_CA_BUNDLE"] = os.environ["SSL_CERT_FILE"] = ca
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    print(f"[{stamp}] Entering the run's launcher: python {sys.version.split()[0]} at {sys.executable}", flush=True)
    os.makedirs("outputs", exist_ok=True)
    os.makedirs("logs", exist_ok=True)
    # The SDK is imported only by scripts that use it (Run.get_context() builds the run from the variables set
    # above); the launcher flushes what they logged at the end. A script that never imports azureml pays nothing.
    script = cfg["script"]
    sys.argv = [script] + [str(a) for a in cfg["arguments"]]
    sys.path.insert(0, os.getcwd())
    print(f"[launcher] Starting the script: {' '.join(sys.argv)}", flush=True)
    phase("running")
    code = 0
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if code:
            _error({"type": "SystemExit", "message": f"The script exited with code {code}.", "traceback": ""})
    except BaseException as exc:
        text = traceback.format_exc()
        sys.stderr.write(text)
        _error({"type": type(exc).__name__, "message": str(exc), "traceback": text})
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        phase("finalizing")
        if "azureml.core" in sys.modules:
            print("[launcher] Script finished; flushing the run's metrics.", flush=True)
            try:
                from azureml._run_impl.run_base import _RunBase
                _RunBase._kill(timeout=float(os.environ.get("AZUREML_RUN_KILL_SIGNAL_TIMEOUT_SEC", "120")))
            except Exception as exc:
                print(f"[launcher] flushing metrics failed: {exc}", flush=True)
        else:
            print("[launcher] Script finished (it did not use azureml-core: no metrics to flush).", flush=True)
    if code == 0:
        print("The activity completed successfully. Finalizing run...", flush=True)
    else:
        print(f"The script failed (exit code {code}). Finalizing run...", flush=True)
    sys.stdout.flush()
    os._exit(code)     # no interpreter teardown: background threads of the SDK must not hold the job open


def _error(err):
    with open(os.path.join(HERE, "error.json"), "w") as fh:
        json.dump(err, fh)


if __name__ == "__main__":
    main()

"""DockerExecutor: one container per node, through the docker SDK (never the CLI).

Containers are labelled with the job key and node index so a restarted emulator re-attaches to them; they get
only the mounts their job names, no privileged mode, no host network and no Docker socket. GPUs are asked for
per node as DeviceRequest(device_ids=[...], capabilities=[["gpu"]]).
"""
from __future__ import annotations

import logging
import os
import re
import threading

import docker
import requests
from docker.errors import APIError, DockerException, ImageNotFound, NotFound
from docker.types import DeviceRequest, Mount

from .. import vmsizes
from ..properties import ImageSourceRegistry
from .executors import VANISHED, LaunchError

log = logging.getLogger("batchai_emulator.runner")
LABEL_JOB = "batchai.emulator.job"
LABEL_NODE = "batchai.emulator.node"
LABEL_JOB_ID = "batchai.emulator.job-id"
# the engine does not answer at all (an APIError is an HTTPError, so a RequestException, and is an answer)
_ENGINE_GONE = (requests.exceptions.ConnectionError, requests.exceptions.Timeout)


def container_name(job_key: str, rank: int, job_name: str = "") -> str:
    """batchai-<job name>-<job key>-<rank>: the job's name (as far as Docker allows) for whoever looks at
    `docker ps`, the key keeps it unique."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", job_name).strip("-._")[:48]
    return f"batchai-{safe}-{job_key[:12]}-{rank}" if safe else f"batchai-{job_key[:12]}-{rank}"


class DockerExecutor:
    layout = "container"

    def __init__(self, client: docker.DockerClient, image_map: dict[str, str]):
        self.client = client
        self.image_map = image_map
        self.on_exit = lambda: None
        # exit codes `wait` returned, by handle, until poll hands them out: a finished node costs no engine call
        self._exit_codes: dict[str, int] = {}
        self._host: tuple[int, int] | None = None       # the engine's cores and memory bytes
        self._scaled_logged: set[str] = set()

    def node_resources(self, vm_size: str) -> tuple[dict, str]:
        """(container limits, one line describing them) for a node of `vm_size`: its cores (nano_cpus) and memory
        (mem_limit), scaled down to what the engine's machine has, and a /dev/shm of half the memory, as a Linux
        node's tmpfs default gives (Docker's own default, 64 MB, is too small for PyTorch data loaders)."""
        size = vmsizes.lookup(vm_size)
        if self._host is None:
            try:
                info = self.client.info()
                self._host = (int(info.get("NCPU") or os.cpu_count() or 1), int(info.get("MemTotal") or 0))
            except (DockerException, requests.exceptions.RequestException):
                return {}, "no limits (the engine did not say what its machine has)"
        ncpu, mem_total = self._host
        cpus = min(size.vcpus, ncpu)
        mem = int(size.memory_gb * 2 ** 30)
        if mem_total:
            mem = min(mem, mem_total) if mem else 0
        limits: dict = {"nano_cpus": int(cpus * 1e9)}
        line = f"{size.name}: {cpus} core(s)"
        if mem:
            limits.update(mem_limit=mem, shm_size=mem // 2)
            line += f", {mem / 2 ** 30:.1f} GiB memory, /dev/shm {mem // 2 / 2 ** 30:.1f} GiB"
        if cpus < size.vcpus or (size.memory_gb and mem < size.memory_gb * 2 ** 30):
            line += (f" (scaled down from {size.vcpus} cores and {size.memory_gb:g} GiB: this machine has {ncpu} "
                     f"cores and {mem_total / 2 ** 30:.1f} GiB)")
            if size.name not in self._scaled_logged:
                self._scaled_logged.add(size.name)
                log.info("nodes of size %s get %s", size.name, line)
        return limits, line

    def describe(self) -> str:
        try:
            version = self.client.version().get("Version", "?")
        except (DockerException, requests.exceptions.RequestException):
            version = "not answering"
        return f"Docker executor (engine {version})"

    def available(self) -> str | None:
        try:
            self.client.ping()
        except (DockerException, requests.exceptions.RequestException) as exc:
            return f"{self.client.api.base_url}: {exc}"
        return None

    def sweep(self, job_keys: set[str], keep_exited: bool = False) -> None:
        for c in self.client.api.containers(all=True, filters={"label": LABEL_JOB}):
            if (c.get("Labels") or {}).get(LABEL_JOB) not in job_keys:
                continue
            try:
                if keep_exited and c["State"] in ("exited", "dead", "created"):
                    continue
                if keep_exited:
                    self.client.api.kill(c["Id"])
                else:
                    self.client.api.remove_container(c["Id"], force=True)
            except DockerException:
                pass

    def resolve_image(self, image: str) -> str:
        return self.image_map.get(image, image)

    def _engine_gone(self, exc: Exception) -> LaunchError:
        return LaunchError("DockerEngineUnavailable", f"The Docker engine at {self.client.api.base_url} does not "
                           f"answer: {exc}")

    def prepare(self, job_key: str, network: str | None, image: str, registry: ImageSourceRegistry | None) -> None:
        try:
            self._prepare(job_key, network, image, registry)
        except _ENGINE_GONE as exc:
            raise self._engine_gone(exc) from exc

    def _prepare(self, job_key: str, network: str | None, image: str, registry: ImageSourceRegistry | None) -> None:
        try:
            self.client.images.get(image)
        except ImageNotFound:
            self._pull(image, registry or ImageSourceRegistry(image))
        except DockerException as exc:
            raise LaunchError("ImagePullFailed", f"Cannot inspect image {image}: {exc}") from exc
        if network:
            try:
                self.client.networks.get(network)
            except NotFound:
                self.client.networks.create(network, driver="bridge", labels={LABEL_JOB: job_key})

    def _pull(self, image: str, registry: ImageSourceRegistry) -> None:
        auth = None
        creds = registry.credentials
        if creds.username:
            auth = {"username": creds.username, "password": creds.password or ""}
            if registry.server_url:
                auth["serveraddress"] = registry.server_url
        ref = image
        server = (registry.server_url or "").replace("https://", "").replace("http://", "").rstrip("/")
        if server and not image.startswith(server + "/"):
            ref = f"{server}/{image}"
        repo, _, tag = ref.rpartition(":") if re.search(r":[^/]+$", ref) else (ref, "", "latest")
        try:
            self.client.images.pull(repo, tag=tag or "latest", auth_config=auth)
        except DockerException as exc:
            message = getattr(exc, "explanation", None) or str(exc)
            raise LaunchError("ImagePullFailed", f"Pulling image {ref} failed: {message}") from exc

    def create(self, job_key: str, job_id: str, network: str | None, node, rank: int, image: str,
               shm_size: str | None) -> str:
        limits, _ = self.node_resources(node.vm_size)
        kwargs = dict(
            image=image, command=["/bin/sh", node.script_node_path], environment=node.env,
            name=container_name(job_key, rank, node.job_name), hostname=node.hostname, detach=True,
            labels={LABEL_JOB: job_key, LABEL_NODE: str(rank), LABEL_JOB_ID: job_id[:250]},
            mounts=[Mount(target=target, source=source, type="bind") for source, target in node.binds],
            working_dir=node.env["AZ_BATCHAI_JOB_TEMP"], privileged=False, network=network,
        )
        kwargs.update(limits)
        if shm_size:            # the job's own containerSettings.shmSize wins
            kwargs["shm_size"] = shm_size
        if node.gpus:
            kwargs["device_requests"] = [DeviceRequest(device_ids=list(node.gpus), capabilities=[["gpu"]])]
        try:
            return self.client.containers.create(**kwargs).id
        except _ENGINE_GONE as exc:
            raise self._engine_gone(exc) from exc
        except APIError as exc:
            if exc.status_code == 409:  # a container of this job and node exists already: never run twice
                return self.client.containers.get(container_name(job_key, rank, node.job_name)).id
            raise LaunchError("ContainerCreateFailed", f"Creating the container failed: {exc.explanation}") from exc

    def run(self, handle: str, node) -> str:
        try:
            self.client.api.start(handle)
        except _ENGINE_GONE as exc:
            raise self._engine_gone(exc) from exc
        except APIError as exc:
            text = str(exc.explanation or exc)
            if node.gpus and ("device driver" in text or "gpu" in text.lower() or "nvidia" in text.lower()):
                raise LaunchError("GpuRuntimeNotAvailable",
                                  f"The node was given GPUs {','.join(node.gpus)} but this Docker engine cannot "
                                  "hand GPUs to containers: install the NVIDIA container runtime "
                                  f"(nvidia-container-toolkit) and restart dockerd. Engine said: {text}") from exc
            raise LaunchError("ContainerStartFailed", f"Starting the container failed: {text}") from exc
        threading.Thread(target=self._watch, args=(handle,), daemon=True, name=f"watch-{handle[:12]}").start()
        return handle

    def _watch(self, handle: str) -> None:
        while True:
            try:
                code = (self.client.api.wait(handle, timeout=3600) or {}).get("StatusCode")
                if isinstance(code, int) and 0 <= code <= 128:
                    # an exit of its own: poll answers it without asking the engine. Codes above 128 (killed by
                    # a signal: maybe by a stopping engine) still go through the engine (see the scheduler's
                    # _settling), so an outage is told from a kill.
                    self._exit_codes[handle] = code
            except requests.exceptions.ReadTimeout:
                continue  # still running after an hour: keep waiting
            except Exception:  # removed, engine gone: the scheduler's poll finds out either way
                pass
            break
        self.on_exit()

    def poll(self, handles: list[str]) -> dict[str, object]:
        if not handles:
            return {}
        known = {h: self._exit_codes.pop(h) for h in handles if h in self._exit_codes}
        if len(known) == len(handles):
            return known
        wanted = set(handles)
        seen: dict[str, dict] = {}
        for c in self.client.api.containers(all=True, filters={"label": LABEL_JOB}):
            if c["Id"] in wanted:
                seen[c["Id"]] = c
        out: dict[str, object] = dict(known)
        for h in handles:
            c = seen.get(h)
            if h in known:
                continue
            if c is None:
                out[h] = VANISHED
            elif c["State"] == "created":
                out[h] = VANISHED  # created but never started: a launch cut short by a crash
            elif c["State"] in ("exited", "dead"):
                try:
                    out[h] = int(self.client.api.inspect_container(h)["State"]["ExitCode"])
                except NotFound:
                    out[h] = VANISHED
            else:
                out[h] = None
        return out

    def find(self, job_key: str, node_dirs) -> dict[int, tuple[str, str]]:
        out: dict[int, tuple[str, str]] = {}
        for c in self.client.api.containers(all=True, filters={"label": f"{LABEL_JOB}={job_key}"}):
            try:
                rank = int((c.get("Labels") or {}).get(LABEL_NODE, ""))
            except ValueError:
                continue
            state = c["State"]
            out[rank] = (c["Id"], "created" if state == "created" else
                         "exited" if state in ("exited", "dead") else "running")
        return out

    def stop(self, handles: list[str]) -> None:
        for h in handles:
            try:
                self.client.api.kill(h)
            except DockerException:
                pass  # already gone or stopped

    def cleanup(self, job_key: str, handles: list[str]) -> None:
        for c in self.client.api.containers(all=True, filters={"label": f"{LABEL_JOB}={job_key}"}):
            try:
                self.client.api.remove_container(c["Id"], force=True)
            except DockerException:
                pass
        if len(handles) < 2:
            return  # single-node jobs run on the default bridge: no network of their own
        for net in self.client.networks.list(filters={"label": f"{LABEL_JOB}={job_key}"}):
            try:
                net.remove()
            except DockerException:
                pass

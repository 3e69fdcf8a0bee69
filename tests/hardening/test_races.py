"""Races the load suite's clients avoid by construction (each owns its names and works sequentially), forced here:
two creates of one resource at once (a client retrying a create that timed out while the first is still being
served), and a create racing the delete of its parent. The store gives the atomic primitive (create with
parent_kind); the Batch AI creates must use it for the SDK-level cases to hold."""
from __future__ import annotations

import threading
from collections import Counter

import pytest

from emulator.store import AlreadyExists, ParentNotFound
from emulator.store.sqlite import SqliteStore
from tests.conftest import start_live

from . import clients
from .clients import Recorder

ROUNDS = 60


def _together(*fns):
    """Run the functions in threads released at the same instant; their results (or exceptions) in order."""
    barrier = threading.Barrier(len(fns))
    out: list = [None] * len(fns)

    def run(i, fn):
        barrier.wait()
        try:
            out[i] = fn()
        except Exception as exc:
            out[i] = exc
    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(fns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return out


def test_store_create_of_one_id_has_one_winner(tmp_path):
    store = SqliteStore(tmp_path / "emulator.db")
    try:
        for i in range(ROUNDS):
            results = _together(*[lambda k=k: store.create("experiment", f"/x/e{i}", "/x", f"e{i}", {"k": k})
                                  for k in range(6)])
            assert sum(not isinstance(r, Exception) for r in results) == 1, results
            assert all(isinstance(r, AlreadyExists) for r in results if isinstance(r, Exception)), results
            winner = next(r for r in results if not isinstance(r, Exception))
            assert store.get(f"/x/e{i}").body == winner.body
    finally:
        store.close()


def test_store_create_under_a_parent_being_deleted_never_orphans(tmp_path):
    store = SqliteStore(tmp_path / "emulator.db")
    try:
        outcomes = Counter()
        for i in range(ROUNDS):
            parent = f"/w/exp{i}"
            store.create("experiment", parent, "/w", f"exp{i}", {})
            created, _ = _together(
                lambda: store.create("job", parent + "/jobs/j", parent, "j", {}, parent_kind="experiment"),
                lambda: store.delete_tree(parent))
            outcomes[type(created).__name__] += 1
            assert store.get(parent) is None
            assert store.get(parent + "/jobs/j") is None, "a job outlived the experiment deleted with it"
            assert not isinstance(created, Exception) or isinstance(created, ParentNotFound), created
        with pytest.raises(ParentNotFound):
            store.create("job", "/w/none/jobs/j", "/w/none", "j", {}, parent_kind="experiment")
    finally:
        store.close()


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    """A live emulator that runs jobs as local processes, with a cluster and an experiment."""
    live = start_live(tmp_path_factory.mktemp("races"), executor="local", gpus="none", allocation_delay=0)
    recorder = Recorder()
    ai, rm = clients.batchai(live, recorder)
    rm.resource_groups.create_or_update("rg", {"location": "eastus"})
    from azure.mgmt.batchai import models
    ai.workspaces.begin_create("rg", "ws", models.WorkspaceCreateParameters(location="eastus")).result()
    share = live.settings.data_dir / "shares" / clients.ACCOUNT / "races"
    share.mkdir(parents=True)
    cluster = ai.clusters.begin_create("rg", "ws", "cl", clients.cluster_params(live, "races", nodes=4)).result()
    yield live, cluster.id, share
    live.server.stop()
    assert not live.server_errors, live.server_errors


def test_two_creates_of_one_job_at_once_answer_one_job_that_runs_once(running):
    live, cluster_id, share = running
    ais = [clients.batchai(live, Recorder())[0] for _ in range(3)]
    ais[0].experiments.begin_create("rg", "ws", "twice").result()
    answered = []
    for i in range(ROUNDS):
        params = clients.job_params(cluster_id, f"echo t{i} >> $AZ_BATCHAI_MOUNT_ROOT/afs/runs.txt")
        jobs = _together(*[lambda a=a: a.jobs.begin_create("rg", "ws", "twice", f"t{i}", params).result()
                           for a in ais])
        stored = ais[0].jobs.get("rg", "ws", "twice", f"t{i}")
        answered.append({j.job_output_directory_path_segment for j in jobs + [stored]})
    _wait_finished(ais[0], "twice")
    lines = Counter((share / "runs.txt").read_text().split())
    assert [n for n, c in lines.items() if c > 1] == []
    assert [s for s in answered if len(s) > 1] == []


def test_a_job_created_while_its_experiment_is_deleted_does_not_survive_it(running):
    live, cluster_id, _ = running
    a, b = clients.batchai(live, Recorder())[0], clients.batchai(live, Recorder())[0]
    orphans = []
    for i in range(ROUNDS):
        exp = f"gone{i}"
        a.experiments.begin_create("rg", "ws", exp).result()
        _together(lambda: a.jobs.begin_create("rg", "ws", exp, "j", clients.job_params(cluster_id, "true")).result(),
                  lambda: b.experiments.begin_delete("rg", "ws", exp).result())
        a.experiments.begin_create("rg", "ws", exp).result()
        orphans += [exp for _ in a.jobs.list_by_experiment("rg", "ws", exp)]
    assert orphans == []


def _wait_finished(ai, exp: str, timeout: float = 60) -> None:
    import time
    deadline = time.monotonic() + timeout
    while any(j.execution_state not in ("succeeded", "failed") for j in ai.jobs.list_by_experiment("rg", "ws", exp)):
        assert time.monotonic() < deadline
        time.sleep(0.2)


RG_ROUNDS = 200


def test_creates_racing_their_resource_group_delete_leave_no_orphans(tmp_path):
    """Workspace, file server and storage account creates against the delete of their group, 200 times:
    whichever wins, nothing of a deleted group is left (listed, or stored without its parent)."""
    from azure.mgmt.batchai import models
    from azure.mgmt.storage import StorageManagementClient
    from azure.mgmt.storage.models import Sku, StorageAccountCreateParameters

    live = start_live(tmp_path / "data", allocation_delay=0)
    try:
        def clients_():
            ai, rm = clients.batchai(live, Recorder())
            sa = StorageManagementClient(clients.StaticToken(), clients.SUB, base_url=live.https_url,
                                         credential_scopes=[live.https_url + "/.default"],
                                         connection_verify=live.ca_bundle, retry_total=0)
            return ai, rm, sa
        (ai, rm, _), (ai2, _, sa), (ai3, rm3, _) = clients_(), clients_(), clients_()
        fs_params = models.FileServerCreateParameters(
            vm_size="STANDARD_D2", ssh_configuration=models.SshConfiguration(
                user_account_settings=models.UserAccountSettings(admin_user_name="u", admin_user_password="p")),
            data_disks=models.DataDisks(disk_size_in_gb=10, disk_count=1, storage_account_type="Standard_LRS"))
        outcomes = Counter()
        for i in range(RG_ROUNDS):
            rg = f"race{i}"
            rm.resource_groups.create_or_update(rg, {"location": "eastus"})
            ai.workspaces.begin_create(rg, "base", models.WorkspaceCreateParameters(location="eastus")).result()
            results = _together(
                lambda: ai.workspaces.begin_create(rg, "ws", models.WorkspaceCreateParameters(
                    location="eastus")).result(),
                lambda: ai2.file_servers.begin_create(rg, "base", "fs", fs_params).result(),
                lambda: sa.storage_accounts.begin_create(rg, f"racesa{i}", StorageAccountCreateParameters(
                    sku=Sku(name="Standard_LRS"), kind="StorageV2", location="eastus")).result(),
                lambda: rm3.resource_groups.begin_delete(rg).result())
            outcomes.update("error" if isinstance(r, Exception) else "ok" for r in results[:3])
            for r in results:
                assert not isinstance(r, Exception) or getattr(r, "status_code", None) == 404, r
        assert [w.id for w in ai.workspaces.list()] == []
        assert [a.id for a in sa.storage_accounts.list()] == []
        store = live.ext.store
        orphans = [r.id for kind in ("workspace", "fileServer", "storageAccount") for r in store.list(kind)
                   if store.get(r.parent) is None]
        assert orphans == []
        assert outcomes["ok"] and outcomes["error"], outcomes   # both orders happened
    finally:
        live.server.stop()
    assert not live.server_errors, live.server_errors

"""NFS and provisioned shares through azure-storage-file-share over a real socket: a premium FileStorage account
made through ARM, its NFS shares' properties, NFS file properties, hard links and symbolic links, and the
containment of links (a link made through the API is never a host symbolic link and is never followed)."""
from __future__ import annotations

import os
import stat

import pytest
import requests
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.storage.fileshare import ContentSettings, ShareServiceClient

from .conftest import share_dir

SUB = "00000000-0000-0000-0000-0000000000f5"


def arm_account(live, name: str, sku: str) -> tuple[str, str]:
    """(name, key) of a FileStorage account of `sku` created through ARM."""
    base, auth = f"{live.http_url}/subscriptions/{SUB}/resourcegroups/nfs-rg", {"Authorization": "Bearer x"}
    requests.put(f"{base}?api-version=2021-04-01", json={"location": "eastus"}, headers=auth,
                 timeout=30).raise_for_status()
    account = f"{base}/providers/Microsoft.Storage/storageAccounts/{name}"
    requests.put(f"{account}?api-version=2021-04-01", headers=auth, timeout=30,
                 json={"location": "eastus", "sku": {"name": sku}, "kind": "FileStorage"}).raise_for_status()
    keys = requests.post(f"{account}/listKeys?api-version=2021-04-01", headers=auth, timeout=30)
    keys.raise_for_status()
    return name, keys.json()["keys"][0]["value"]


@pytest.fixture(scope="module")
def premium(live):
    return arm_account(live, "nfspremium", "Premium_LRS")


@pytest.fixture(scope="module")
def psvc(live, premium) -> ShareServiceClient:
    name, key = premium
    return ShareServiceClient(f"{live.http_url}/{name}", credential={"account_name": name, "account_key": key})


@pytest.fixture()
def nfs_share(psvc, request):
    share = psvc.get_share_client("nfs" + str(abs(hash(request.node.name)))[:12])
    share.create_share(protocols="NFS")
    yield share
    share.delete_share()


def test_nfs_and_provisioned_share_properties(psvc):
    share = psvc.get_share_client("nfsprops")
    share.create_share(protocols="NFS", root_squash="RootSquash", quota=1024)
    props = share.get_share_properties()
    assert props.protocols == ["NFS"] and props.root_squash == "RootSquash" and props.quota == 1024
    # provisioned v1: IOPS and bandwidth follow the provisioned size
    assert props.provisioned_iops == 3000 + 1024 and props.provisioned_bandwidth > 100
    assert props.next_allowed_quota_downgrade_time is not None and props.access_tier == "Premium"
    share.set_share_properties(root_squash="AllSquash", paid_bursting_enabled=True, paid_bursting_iops=20000,
                               paid_bursting_bandwidth_mibps=2000)
    listed = {s.name: s for s in psvc.list_shares()}["nfsprops"]
    assert listed.protocols == ["NFS"] and listed.root_squash == "AllSquash"
    assert listed.paid_bursting_enabled and listed.paid_bursting_iops == 20000 and listed.provisioned_iops == 4024
    with pytest.raises(HttpResponseError) as err:
        share.set_share_properties(quota=1024, paid_bursting_iops=200000)
    assert err.value.error_code == "InvalidHeaderValue"
    smb = psvc.get_share_client("smbprops")
    smb.create_share()
    assert smb.get_share_properties().protocols == ["SMB"] and smb.get_share_properties().root_squash is None
    with pytest.raises(HttpResponseError) as err:
        smb.set_share_properties(root_squash="AllSquash")
    assert err.value.error_code == "UnsupportedHeader"
    for s in (share, smb):
        s.delete_share()


def test_a_standard_account_has_no_nfs_or_provisioned_shares(svc, share):
    with pytest.raises(HttpResponseError) as err:
        svc.get_share_client("nfsonstandard").create_share(protocols="NFS")
    assert err.value.error_code == "FeatureNotSupportedOnStorageAccount"
    assert "nfsonstandard" not in [s.name for s in svc.list_shares()]
    with pytest.raises(HttpResponseError) as err:
        svc.get_share_client(share).set_share_properties(quota=5, paid_bursting_enabled=True)
    assert err.value.error_code == "UnsupportedHeader"
    props = svc.get_share_client(share).get_share_properties()
    assert props.protocols == ["SMB"] and props.provisioned_iops is None and not props.paid_bursting_enabled
    # NFS properties belong to NFS shares
    with pytest.raises(HttpResponseError) as err:
        svc.get_share_client(share).get_file_client("f").create_file(1, owner="1000")
    assert err.value.error_code == "UnsupportedHeader" and "x-ms-owner" in str(err.value)


def test_nfs_file_and_directory_properties(live, psvc, nfs_share):
    d = nfs_share.get_directory_client("dir")
    d.create_directory(owner="1000", group="100", file_mode="rwxr-x---")
    props = d.get_directory_properties()
    assert (props.owner, props.group, props.file_mode, props.nfs_file_type) == ("1000", "100", "0750", "Directory")
    assert props.file_attributes is None and props.permission_key is None
    f = d.get_file_client("f.bin")
    f.create_file(10)
    props = f.get_file_properties()
    assert (props.owner, props.group, props.file_mode, props.nfs_file_type, props.link_count) == \
        ("0", "0", "0664", "Regular", 1)
    f.set_http_headers(ContentSettings(), file_mode="4755")
    assert f.get_file_properties().file_mode == "4755"
    # the mode is the API's: the host file keeps the emulator's own mode (no setuid bit appears for jobs)
    host = share_dir(live, nfs_share.share_name, "nfspremium") / "dir" / "f.bin"
    assert not os.stat(host).st_mode & (stat.S_ISUID | stat.S_ISGID)
    with pytest.raises(HttpResponseError) as err:
        f.set_http_headers(ContentSettings(), file_attributes="ReadOnly")
    assert err.value.error_code == "UnsupportedHeader"
    with pytest.raises(HttpResponseError) as err:
        f.set_http_headers(ContentSettings(), file_mode="9999")
    assert err.value.error_code == "InvalidHeaderValue"
    listed = list(d.list_directories_and_files(include=["attributes", "permission_key", "timestamps"]))
    assert [e.name for e in listed] == ["f.bin"] and listed[0].file_attributes is None \
        and listed[0].permission_key is None


def test_hard_links_share_the_file(live, nfs_share):
    src = nfs_share.get_file_client("src.bin")
    src.upload_file(b"linked bytes")
    link = nfs_share.get_file_client("link.bin")
    resp = link.create_hardlink(target="src.bin")
    assert resp["link_count"] == 2 and resp["file_file_type"] == "Regular"
    host = share_dir(live, nfs_share.share_name, "nfspremium")
    assert os.stat(host / "src.bin").st_ino == os.stat(host / "link.bin").st_ino
    assert link.download_file().readall() == b"linked bytes"
    link.set_http_headers(ContentSettings(), file_mode="0600", owner="7")
    props = src.get_file_properties()         # properties belong to the file, whichever name set them
    assert (props.file_mode, props.owner, props.link_count) == ("0600", "7", 2)
    os.link(host / "src.bin", host / "joblink.bin")    # a job's own hard link: the file's properties show there
    props = nfs_share.get_file_client("joblink.bin").get_file_properties()
    assert (props.file_mode, props.owner, props.link_count) == ("0600", "7", 3)
    src.delete_file()
    assert link.get_file_properties().link_count == 2 and link.download_file().readall() == b"linked bytes"
    with pytest.raises(ResourceExistsError):
        nfs_share.get_file_client("link.bin").create_hardlink(target="link.bin")
    with pytest.raises(ResourceNotFoundError):
        nfs_share.get_file_client("l2").create_hardlink(target="missing.bin")
    nfs_share.create_directory("sub")
    with pytest.raises(ResourceNotFoundError):
        nfs_share.get_file_client("l3").create_hardlink(target="sub")
    with pytest.raises(HttpResponseError) as err:
        nfs_share.get_file_client("l4").create_hardlink(target="sub/../link.bin")
    assert err.value.status_code == 400


def test_symbolic_links_are_data_never_host_links(live, nfs_share):
    host = share_dir(live, nfs_share.share_name, "nfspremium")
    secret = open("/etc/hostname", "rb").read() if os.path.exists("/etc/hostname") else None
    for name, target in (("up", "../../../../../../../../etc/hostname"), ("abs", "/etc/hostname"),
                         ("uni", "dir/naïve name")):
        f = nfs_share.get_file_client(name)
        resp = f.create_symlink(target=target, owner="5")
        assert resp["file_file_type"] == "SymLink" and resp["owner"] == "5"
        from urllib.parse import unquote
        assert unquote(f.get_symlink()["link_text"]) == target
        # on the host: a regular file holding the text, not a symbolic link
        assert not os.path.islink(host / name) and stat.S_ISREG(os.lstat(host / name).st_mode)
        assert (host / name).read_bytes() == target.encode()
        # reading it through the API gives the text, never what it names
        data = f.download_file().readall()
        assert data == target.encode() and data != secret
        props = f.get_file_properties()
        assert props.nfs_file_type == "SymLink" and props.file_mode == "0777" and props.owner == "5"
    with pytest.raises(ResourceExistsError):
        nfs_share.get_file_client("up").create_symlink(target="x")
    with pytest.raises(HttpResponseError) as err:     # a hard link to a symbolic link, as on the service
        nfs_share.get_file_client("hl").create_hardlink(target="up")
    assert err.value.status_code == 400
    nfs_share.get_file_client("plain").create_file(1)
    with pytest.raises(HttpResponseError) as err:
        nfs_share.get_file_client("plain").get_symlink()
    assert err.value.status_code == 400


def test_host_symlinks_a_job_plants_are_never_linked_or_followed(live, nfs_share):
    host = share_dir(live, nfs_share.share_name, "nfspremium")
    os.symlink("/etc/hostname", host / "planted")
    os.symlink("/etc", host / "planteddir")
    with pytest.raises(HttpResponseError) as err:
        nfs_share.get_file_client("hl").create_hardlink(target="planted")
    assert err.value.status_code == 400 and not os.path.lexists(host / "hl")
    with pytest.raises(HttpResponseError) as err:
        nfs_share.get_file_client("hl").create_hardlink(target="planteddir/hostname")
    assert err.value.status_code == 400 and not os.path.lexists(host / "hl")
    with pytest.raises(HttpResponseError) as err:
        nfs_share.get_directory_client("planteddir").get_file_client("x").create_symlink(target="y")
    assert err.value.status_code == 400 and not os.path.lexists("/etc/x")
    with pytest.raises(HttpResponseError):
        nfs_share.get_file_client("planted").get_symlink()


def test_provisioned_v2_shares_set_their_iops_and_bandwidth(live):
    name, key = arm_account(live, "provisionedv2", "StandardV2_LRS")
    v2 = ShareServiceClient(f"{live.http_url}/{name}", credential={"account_name": name, "account_key": key})
    share = v2.get_share_client("billing")
    share.create_share(provisioned_iops=500, provisioned_bandwidth_mibps=150, quota=100)
    props = share.get_share_properties()
    assert (props.provisioned_iops, props.provisioned_bandwidth) == (500, 150)
    assert props.included_burst_iops >= 500 and props.max_burst_credits_for_iops is not None
    assert props.next_provisioned_iops_downgrade is not None and props.paid_bursting_enabled is None
    share.set_share_properties(quota=100, provisioned_iops=3000, provisioned_bandwidth_mibps=125)
    listed = [s for s in v2.list_shares() if s.name == "billing"][0]
    assert (listed.provisioned_iops, listed.provisioned_bandwidth) == (3000, 125)
    with pytest.raises(HttpResponseError) as err:          # paid bursting is a provisioned v1 feature
        share.set_share_properties(quota=100, paid_bursting_enabled=True)
    assert err.value.error_code == "UnsupportedHeader"
    with pytest.raises(HttpResponseError) as err:          # NFS needs SSD (PremiumV2), not StandardV2
        v2.get_share_client("nfs").create_share(protocols="NFS")
    assert err.value.error_code == "FeatureNotSupportedOnStorageAccount"

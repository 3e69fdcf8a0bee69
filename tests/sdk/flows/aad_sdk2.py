"""ServicePrincipalCredentials against the emulator's AAD (v1 token endpoint) over HTTPS, then an ARM call."""
import argparse
import json

from msrestazure.azure_cloud import get_cloud_from_metadata_endpoint
from azure.common.credentials import ServicePrincipalCredentials
import azure.mgmt.batchai as batchai

p = argparse.ArgumentParser()
p.add_argument("--endpoint", required=True)
args = p.parse_args()

cloud = get_cloud_from_metadata_endpoint(args.endpoint)
# adal validates authorities against login.microsoftonline.com unless the authority is an ADFS one
cloud.endpoints.active_directory = args.endpoint + "/adfs"
creds = ServicePrincipalCredentials(client_id="my-app", secret="my-secret", tenant="my-tenant",
                                    cloud_environment=cloud)
client = batchai.BatchAIManagementClient(creds, "00000000-0000-0000-0000-0000000000aa", base_url=args.endpoint)
print(json.dumps({"token_type": creds.token["token_type"],
                  "workspaces": [w.name for w in client.workspaces.list()],
                  "operations": len(list(client.operations.list()))}))

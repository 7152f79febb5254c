"""The azure-ai-ml side of the poolbroker benchmark.

`python azureml_ops.py ops --cycles N` runs N+1 rounds of attach (user-assigned, 2 identities)
-> show -> list -> update identity -> detach against the ARM emulator at $BENCH_ARM_ENDPOINT with
the bearer token $BENCH_TOKEN, exactly as a Python Azure Function would with MLClient, and prints
one JSON report: latencies per operation (round 0, the warm-up, not counted), the ARM requests of
round 1, and the process' peak RSS.

`python azureml_ops.py coldstart` is what the cold-start figure times: import azure.ai.ml and
construct an MLClient.
"""

import json
import os
import sys
import time

SUBSCRIPTION = "00000000-0000-0000-0000-000000000001"
RESOURCE_GROUP = "poolbroker-demo"
WORKSPACE = "ml-demo"
POOL1 = (
    f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}"
    "/providers/Microsoft.Synapse/workspaces/syn-demo/bigDataPools/sparkpool1"
)


def uai(n):
    return (
        f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}"
        f"/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uai-poolbroker-{n}"
    )


class StaticTokenCredential:
    """A fixed bearer token (the emulator issued it), like a managed identity's cached token."""

    def __init__(self, token):
        from azure.core.credentials import AccessToken

        self._token = AccessToken(token, int(time.time()) + 24 * 3600)

    def get_token(self, *scopes, **kwargs):
        return self._token

    def get_token_info(self, *scopes, options=None):
        from azure.core.credentials import AccessTokenInfo

        return AccessTokenInfo(self._token.token, self._token.expires_on)


def ml_client(endpoint, token):
    from azure.ai.ml import MLClient

    # azure-ai-ml's documented way to reach another cloud: a cloud name plus its metadata.
    cloud = {
        "azure_portal": "https://portal.azure.com/",
        "resource_manager": endpoint,
        "active_directory": "https://login.microsoftonline.com/",
        "aml_resource_id": "https://ml.azure.com/",
        "storage_endpoint": "core.windows.net",
        "registry_discovery_endpoint": endpoint,
    }
    return MLClient(
        StaticTokenCredential(token),
        SUBSCRIPTION,
        RESOURCE_GROUP,
        WORKSPACE,
        cloud="PoolbrokerBenchEmulator",
        cloud_metadata=cloud,
        # azure-core treats "Retry-After: 0" as no hint and would sleep its 30 s default between
        # LRO polls; 0 makes it poll at once, as poolbroker does with the same header.
        polling_interval=0,
    )


def peak_rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return None


def recorded_requests(endpoint, session):
    resp = session.get(endpoint + "_emulator/requests")
    resp.raise_for_status()
    return [[r["method"], r["path"]] for r in resp.json()]


def ops(cycles):
    import requests
    from azure.ai.ml.entities import (
        IdentityConfiguration,
        ManagedIdentityConfiguration,
        SynapseSparkCompute,
    )

    endpoint = os.environ["BENCH_ARM_ENDPOINT"]
    ml = ml_client(endpoint, os.environ["BENCH_TOKEN"])
    control = requests.Session()

    def attach(name):
        compute = SynapseSparkCompute(
            name=name,
            resource_id=POOL1,
            identity=IdentityConfiguration(
                type="user_assigned",
                user_assigned_identities=[
                    ManagedIdentityConfiguration(resource_id=uai(1)),
                    ManagedIdentityConfiguration(resource_id=uai(2)),
                ],
            ),
        )
        return ml.compute.begin_create_or_update(compute).result()

    def show(name):
        return ml.compute.get(name)

    def list_(name):
        return list(ml.compute.list())

    def update_identity(name):
        # What `az ml compute update --identity-type user_assigned --user-assigned-identities` does.
        compute = ml.compute.get(name)
        compute.identity = IdentityConfiguration(
            type="user_assigned",
            user_assigned_identities=[ManagedIdentityConfiguration(resource_id=uai(2))],
        )
        return ml.compute.begin_update(compute).result()

    def detach(name):
        return ml.compute.begin_delete(name, action="Detach").result()

    steps = [
        ("attach", attach),
        ("show", show),
        ("list", list_),
        ("update_identity", update_identity),
        ("detach", detach),
    ]
    latency = {key: [] for key, _ in steps}
    calls = {}
    for cycle in range(cycles + 1):
        name = f"py{cycle}"
        for key, step in steps:
            record = cycle == 1
            if record:
                control.delete(endpoint + "_emulator/requests").raise_for_status()
            started = time.perf_counter_ns()
            step(name)
            took = time.perf_counter_ns() - started
            if record:
                calls[key] = recorded_requests(endpoint, control)
            if cycle > 0:
                latency[key].append(took / 1e6)
    json.dump(
        {"latency_ms": latency, "arm_calls": calls, "peak_rss_kib": peak_rss_kib()},
        sys.stdout,
    )


def coldstart():
    ml_client("https://127.0.0.1:1/", "cold-start-token")


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else "ops"
    if mode == "ops":
        cycles = 20
        if "--cycles" in sys.argv:
            cycles = int(sys.argv[sys.argv.index("--cycles") + 1])
        ops(cycles)
    elif mode == "coldstart":
        coldstart()
    else:
        sys.exit(f"unknown mode {mode!r}: expected ops or coldstart")

"""Microsoft's azure-ai-ml and azure-identity, unchanged, against `poolbroker local`.

run.sh starts the local world and exports what its banner prints; this script drives every
operation of issue #11 through the SDK and prints one line per operation, then "N of N". It
exits 1 if any operation fails. Time is controlled, not waited for: the emulator's clock is
advanced through its control API (next to the identity endpoint) instead of sleeping.
"""

import base64
import json
import os
import sys
import tempfile
import textwrap
import time
import traceback
import urllib.request
from pathlib import Path

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.identity import ManagedIdentityCredential

from azure.ai.ml import MLClient, load_compute, spark
from azure.ai.ml.entities import (
    IdentityConfiguration,
    ManagedIdentityConfiguration,
    SynapseSparkCompute,
)

SUBSCRIPTION = "00000000-0000-0000-0000-000000000001"
RESOURCE_GROUP = "poolbroker-demo"
WORKSPACE = "ml-demo"
RG_ID = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}"
POOL1 = f"{RG_ID}/providers/Microsoft.Synapse/workspaces/syn-demo/bigDataPools/sparkpool1"
POOL2 = f"{RG_ID}/providers/Microsoft.Synapse/workspaces/syn-demo/bigDataPools/sparkpool2"
UAI1 = f"{RG_ID}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uai-poolbroker-1"
UAI2 = f"{RG_ID}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uai-poolbroker-2"
WS_ID = f"{RG_ID}/providers/Microsoft.MachineLearningServices/workspaces/{WORKSPACE}"
# For Spark jobs azure-ai-ml takes `code` as a local folder or a code version's ARM id.
CODE_ID = f"{WS_ID}/codes/sales-etl/versions/1"

ARM = os.environ["POOLBROKER_ARM_ENDPOINT"].rstrip("/")
IDENTITY_ENDPOINT = os.environ["IDENTITY_ENDPOINT"]
CONTROL = IDENTITY_ENDPOINT.rsplit("/msi/", 1)[0] + "/_emulator"

results = []


def operation(name):
    """Runs one operation, records pass/fail with the reason."""

    def wrap(fn):
        started = time.monotonic()
        try:
            detail = fn() or ""
            results.append((name, True, detail))
            print(f"PASS  {name}  {detail}  ({time.monotonic() - started:.1f} s)", flush=True)
        except Exception as e:  # noqa: BLE001 - every failure is reported, none hidden
            results.append((name, False, repr(e)))
            print(f"FAIL  {name}: {e!r}", flush=True)
            traceback.print_exc()
        return fn

    return wrap


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def control(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        f"{CONTROL}{path}", data=data, method=method, headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        raw = resp.read()
        return json.loads(raw) if raw else None


def advance(seconds):
    """Moves the emulator's clock: operations finish and jobs move on as if time had passed."""
    control("POST", "/clock", {"advanceSecs": seconds})


def claims(token):
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


credential = ManagedIdentityCredential()

# azure-ai-ml's documented way to reach another cloud: a name plus its endpoints.
ml = MLClient(
    credential,
    SUBSCRIPTION,
    RESOURCE_GROUP,
    WORKSPACE,
    cloud="PoolbrokerLocal",
    cloud_metadata={
        "azure_portal": "https://portal.azure.com/",
        "resource_manager": ARM + "/",
        "active_directory": "https://login.microsoftonline.com/",
        "aml_resource_id": "https://ml.azure.com/",
        "storage_endpoint": "core.windows.net",
        "registry_discovery_endpoint": ARM + "/",
    },
)


def finish(poller):
    """Waits for an SDK poller the way a user does (.result()), with the clock moved on first."""
    advance(60)
    return poller.result()


@operation("identity: ManagedIdentityCredential gets an ARM token (App Service endpoint)")
def _():
    token = credential.get_token("https://management.azure.com/.default")
    c = claims(token.token)
    check(c["aud"] == "https://management.azure.com", f"aud {c['aud']}")
    check(c["iss"].startswith("https://sts.windows.net/"), f"iss {c['iss']}")
    check(token.expires_on > time.time() + 600, "expires_on")
    for k in ("tid", "oid", "appid"):
        check(c.get(k), f"missing {k}")
    return f"aud={c['aud']} appid={c['appid']}"


@operation("identity: user-assigned identity token (client_id) carries xms_mirid")
def _():
    # The directory's ids for the UAI (registering an existing one returns the same ids).
    uai = control(
        "POST",
        "/identities",
        {"subscriptionId": SUBSCRIPTION, "resourceGroup": RESOURCE_GROUP, "name": "uai-poolbroker-1"},
    )
    uai_credential = ManagedIdentityCredential(client_id=uai["clientId"])
    # The scope azure-ai-ml asks for under a custom cloud: `<resource_manager>/.default`.
    c = claims(uai_credential.get_token(ARM + "//.default").token)
    check(c["aud"].rstrip("/") == ARM, f"aud {c['aud']}")
    check(c["appid"] == uai["clientId"], f"appid {c['appid']} != {uai['clientId']}")
    check(c["oid"] == uai["principalId"], f"oid {c['oid']}")
    check(c.get("xms_mirid", "").lower() == UAI1.lower(), f"xms_mirid {c.get('xms_mirid')}")
    return f"xms_mirid=…/{c['xms_mirid'].rsplit('/', 1)[-1]}"


@operation("workspaces.get")
def _():
    ws = ml.workspaces.get(WORKSPACE)
    check(ws.name == WORKSPACE, ws.name)
    return f"{ws.name} in {ws.location}"


@operation("attach: no identity")
def _():
    c = finish(ml.compute.begin_create_or_update(SynapseSparkCompute(name="sdk-plain", resource_id=POOL1)))
    check(c.provisioning_state == "Succeeded", c.provisioning_state)
    check(c.identity is None, f"identity {c.identity}")
    return c.provisioning_state


@operation("attach: SystemAssigned")
def _():
    compute = SynapseSparkCompute(
        name="sdk-system", resource_id=POOL1, identity=IdentityConfiguration(type="SystemAssigned")
    )
    c = finish(ml.compute.begin_create_or_update(compute))
    check(c.identity.type == "system_assigned", c.identity.type)
    check(c.identity.principal_id, "principal id")
    return f"identity {c.identity.type}"


@operation("attach: two user-assigned identities")
def _():
    compute = SynapseSparkCompute(
        name="sdk-uais",
        resource_id=POOL2,
        identity=IdentityConfiguration(
            type="UserAssigned",
            user_assigned_identities=[
                ManagedIdentityConfiguration(resource_id=UAI1),
                ManagedIdentityConfiguration(resource_id=UAI2),
            ],
        ),
    )
    c = finish(ml.compute.begin_create_or_update(compute))
    ids = [u.resource_id for u in c.identity.user_assigned_identities]
    check(ids == [UAI1, UAI2], ids)
    return f"{len(ids)} UAIs"


@operation("attach: from an az ml YAML (load_compute)")
def _():
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "compute.yml"
        path.write_text(
            textwrap.dedent(
                f"""\
                $schema: https://azuremlschemas.azureedge.net/latest/synapsesparkcompute.schema.json
                name: sdk-yaml
                type: synapsespark
                resource_id: {POOL2}
                identity:
                  type: user_assigned
                  user_assigned_identities:
                    - resource_id: {UAI1}
                """
            )
        )
        compute = load_compute(source=str(path))
    c = finish(ml.compute.begin_create_or_update(compute))
    check(c.identity.user_assigned_identities[0].resource_id == UAI1, "uai")
    return c.provisioning_state


@operation("show (compute.get)")
def _():
    c = ml.compute.get("sdk-system")
    check(c.type == "synapsespark", c.type)
    check(c.resource_id == POOL1, c.resource_id)
    check(c.provisioning_state == "Succeeded", c.provisioning_state)
    return f"{c.name} spark {c.properties.get('sparkVersion') if hasattr(c, 'properties') and c.properties else ''}".strip()


@operation("list (compute.list)")
def _():
    names = sorted(c.name for c in ml.compute.list())
    for n in ("sdk-plain", "sdk-system", "sdk-uais", "sdk-yaml"):
        check(n in names, f"{n} not in {names}")
    return f"{len(names)} computes"


@operation("update identity (SystemAssigned → UserAssigned)")
def _():
    c = ml.compute.get("sdk-system")
    c.identity = IdentityConfiguration(
        type="user_assigned", user_assigned_identities=[ManagedIdentityConfiguration(resource_id=UAI2)]
    )
    updated = finish(ml.compute.begin_update(c))
    check(updated.identity.type == "user_assigned", updated.identity.type)
    shown = ml.compute.get("sdk-system")
    check(shown.identity.user_assigned_identities[0].resource_id == UAI2, "uai after update")
    check(shown.provisioning_state == "Succeeded", shown.provisioning_state)
    return shown.identity.type


@operation("detach (begin_delete action=Detach)")
def _():
    finish(ml.compute.begin_delete("sdk-plain", action="Detach"))
    try:
        ml.compute.get("sdk-plain")
    except ResourceNotFoundError:
        return "gone"
    raise AssertionError("sdk-plain still exists after detach")


SPARK_SIZES = dict(
    driver_cores=1,
    driver_memory="2g",
    executor_cores=2,
    executor_memory="2g",
    executor_instances=2,
)

jobs = {}


@operation("Spark job, serverless, from a code-asset id")
def _():
    job = spark(
        display_name="sdk serverless",
        code=CODE_ID,
        entry={"file": "etl.py"},
        resources={"instance_type": "Standard_E4S_V3", "runtime_version": "3.4"},
        **SPARK_SIZES,
    )
    created = ml.jobs.create_or_update(job)
    check(created.status == "NotStarted", created.status)
    jobs["serverless"] = created.name
    return created.name


@operation("Spark job on an attached pool (code-asset id, ManagedIdentityConfiguration())")
def _():
    job = spark(
        display_name="sdk attached",
        code=CODE_ID,
        entry={"file": "etl.py"},
        compute="sdk-uais",
        identity=ManagedIdentityConfiguration(),
        **SPARK_SIZES,
    )
    created = ml.jobs.create_or_update(job)
    check(created.compute.endswith("sdk-uais") or created.compute == "sdk-uais", created.compute)
    jobs["attached"] = created.name
    return created.name


code_dir = tempfile.TemporaryDirectory()
src = Path(code_dir.name) / "src"
src.mkdir()
(src / "etl.py").write_text("print('hello from the local world')\n")
(src / "helpers.py").write_text("VALUE = 42\n")


def local_code_job():
    return spark(
        display_name="sdk local code",
        code=str(src),
        entry={"file": "etl.py"},
        compute="sdk-yaml",
        **SPARK_SIZES,
    )


@operation("Spark job from a local code folder (code upload through startPendingUpload + blob)")
def _():
    created = ml.jobs.create_or_update(local_code_job())
    check("/codes/" in (created.code or ""), f"code {created.code}")
    jobs["local"] = created.name
    name, version = created.code.split("/codes/", 1)[1].split("/versions/")
    return f"anonymous code {name}:{version}"


@operation("named code asset (az ml code create → ml_client._code), then found again by ?hash=")
def _():
    from azure.ai.ml.entities._assets import Code

    # `az ml code create` drives this operations object (MLClient keeps it private).
    first = ml._code.create_or_update(Code(name="sdk-code", version="1", path=str(src)))
    check("/poolbrokerlocal/" in str(first.path), f"codeUri {first.path}")
    shown = ml._code.get("sdk-code", "1")
    check(shown.path == first.path, f"{shown.path} != {first.path}")
    # The same folder under the same name: the SDK finds the version by content hash.
    again = ml._code.create_or_update(Code(name="sdk-code", version="2", path=str(src)))
    check(again.version == "1", f"expected the existing version 1, got {again.version}")
    return f"codeUri …{str(first.path)[-40:]}"


LIFECYCLE = ["NotStarted", "Starting", "Preparing", "Queued", "Running", "Finalizing", "Completed"]


@operation("jobs.get shows the service's statuses as the clock moves (reading changes nothing)")
def _():
    name = jobs["serverless"]
    seen = [ml.jobs.get(name).status]
    check(ml.jobs.get(name).status == seen[0], "reading a job must not change it")
    # `poolbroker local`: 2 s per status, 10 s running; one status per 2 s step of the clock.
    for _ in range(12):
        advance(2)
        status = ml.jobs.get(name).status
        if status != seen[-1]:
            seen.append(status)
    check(seen[-1] == "Completed", seen)
    check(seen == [s for s in LIFECYCLE if s in seen], f"out of order: {seen}")
    check(len(seen) >= 5 and "Running" in seen, f"too few statuses seen: {seen}")
    return " → ".join(seen)


@operation("jobs.list")
def _():
    names = [j.name for j in ml.jobs.list()]
    for key in ("serverless", "attached", "local"):
        check(jobs[key] in names, f"{jobs[key]} not listed in {names}")
    return f"{len(names)} jobs"


@operation("jobs.begin_cancel")
def _():
    job = spark(
        display_name="sdk to cancel",
        code=CODE_ID,
        entry={"file": "etl.py"},
        compute="sdk-uais",
        **SPARK_SIZES,
    )
    name = ml.jobs.create_or_update(job).name
    finish(ml.jobs.begin_cancel(name))
    status = ml.jobs.get(name).status
    check(status == "Canceled", status)
    return status


@operation("a job naming a code version that does not exist is refused (400)")
def _():
    job = spark(
        code=f"{WS_ID}/codes/no-such-code/versions/7",
        entry={"file": "etl.py"},
        resources={"instance_type": "Standard_E4S_V3", "runtime_version": "3.4"},
        **SPARK_SIZES,
    )
    try:
        ml.jobs.create_or_update(job)
    except HttpResponseError as e:
        check(e.status_code in (400, 404), e.status_code)
        return f"{e.status_code}"
    raise AssertionError("accepted a job whose code does not exist")


passed = sum(1 for _, ok, _ in results if ok)
print(f"\nsdk_compat: {passed} of {len(results)} operations passed "
      f"(azure-ai-ml {__import__('azure.ai.ml', fromlist=['__version__']).__version__}, "
      f"azure-identity {__import__('azure.identity', fromlist=['__version__'])._version.VERSION})")
for name, ok, detail in results:
    if not ok:
        print(f"  failed: {name}: {detail}")
sys.exit(0 if passed == len(results) else 1)

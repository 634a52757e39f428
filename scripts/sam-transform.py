"""Runs the AWS SAM transform (AWS::Serverless-2016-10-31) on a template offline, with the
translator CloudFormation itself runs (aws-sam-translator), and writes the CloudFormation
template it becomes. Every error SAM would report at deploy time fails it here.

    python scripts/sam-transform.py infra/template.yaml target/sam/template.json

No AWS call: the template names no AWS managed policy by name (the only lookup the
transform would make), so the managed-policy map is empty; a name would fail the run.
"""

import json
import os
import sys

from samtranslator.model.exceptions import InvalidDocumentException
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


# The properties `sam package` rewrites from a local path to the S3 object it uploads.
PACKAGED = {
    "AWS::Serverless::Function": "CodeUri",
    "AWS::Serverless::LayerVersion": "ContentUri",
    "AWS::Serverless::Api": "DefinitionUri",
    "AWS::Serverless::HttpApi": "DefinitionUri",
    "AWS::Serverless::StateMachine": "DefinitionUri",
}


def as_packaged(template):
    """Local code paths become S3 URIs, as `sam package` leaves them (and `sam validate`
    assumes): the transform accepts nothing else."""
    for name, resource in template.get("Resources", {}).items():
        prop = PACKAGED.get(resource.get("Type"))
        value = (resource.get("Properties") or {}).get(prop)
        if isinstance(value, str) and not value.startswith("s3://"):
            resource["Properties"][prop] = f"s3://baton-package/{name}.zip"


class NoManagedPolicies:
    """The policy loader: the map of AWS managed policy names to ARNs, empty (offline)."""

    def load(self):
        return {}


def main(source, target):
    # Pseudo parameters (AWS::Region, ...) resolve against a region, as in a deploy.
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with open(source, encoding="utf-8") as handle:
        template = yaml_parse(handle.read())
    as_packaged(template)
    try:
        output = transform(template, {}, NoManagedPolicies())
    except InvalidDocumentException as error:
        for cause in error.causes:
            print(f"sam-transform: {source}: {cause.message}", file=sys.stderr)
        return 1
    if "Transform" in output or any(
        str(resource.get("Type", "")).startswith("AWS::Serverless::")
        for resource in output.get("Resources", {}).values()
    ):
        print(f"sam-transform: {source}: serverless resources left after the transform", file=sys.stderr)
        return 1
    os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
    with open(target, "w", encoding="utf-8") as handle:
        json.dump(output, handle, indent=2, sort_keys=True)
    kinds = {}
    for resource in output["Resources"].values():
        kinds[resource["Type"]] = kinds.get(resource["Type"], 0) + 1
    print(
        f"sam-transform: {source} -> {target}: {len(output['Resources'])} resources "
        f"({', '.join(f'{n} {t}' for t, n in sorted(kinds.items()))})",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))

"""A schema-only Terraform provider: answers the plugin protocol with a committed schema.

Terraform cannot download providers on our machines, so the offline checks start this script
in place of `terraform-provider-google` (and `-google-beta`, `-random`) through a
`dev_overrides` CLI configuration. It serves the real provider's schema, trimmed to the types
this module uses (infra/tools/schema/*.json, written by extract_schema.py), which is all that
`terraform validate` and `terraform test` with `mock_provider` need: Terraform itself then
checks argument names, block nesting, required arguments, types, references and sensitivity.
It creates nothing: any call that would touch real infrastructure returns an error.

Usage (as Terraform starts it): schema_provider.py SCHEMA_JSON
The plugin handshake, TLS and gRPC server come from the PyPI package `tf`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from tf import provider as tf_provider
from tf import runner
from tf.gen import tfplugin_pb2 as pb

_NESTING = {
    "single": pb.Schema.NestedBlock.NestingMode.SINGLE,
    "list": pb.Schema.NestedBlock.NestingMode.LIST,
    "set": pb.Schema.NestedBlock.NestingMode.SET,
    "map": pb.Schema.NestedBlock.NestingMode.MAP,
    "group": pb.Schema.NestedBlock.NestingMode.GROUP,
}


def _block_pb(block: dict[str, Any]) -> Any:
    attributes = [
        pb.Schema.Attribute(
            name=name,
            type=json.dumps(spec["type"]).encode(),
            required=spec.get("required", False),
            optional=spec.get("optional", False),
            computed=spec.get("computed", False),
            sensitive=spec.get("sensitive", False),
        )
        for name, spec in sorted(block.get("attributes", {}).items())
    ]
    nested = [
        pb.Schema.NestedBlock(
            type_name=name,
            block=_block_pb(spec["block"]),
            nesting=_NESTING[spec["nesting_mode"]],
            min_items=spec.get("min_items", 0),
            max_items=spec.get("max_items", 0),
        )
        for name, spec in sorted(block.get("block_types", {}).items())
    ]
    return pb.Schema.Block(attributes=attributes, block_types=nested)


def _schema_pb(entry: dict[str, Any]) -> Any:
    return pb.Schema(version=entry.get("version", 0), block=_block_pb(entry["block"]))


class SchemaOnlyProvider:
    """The `tf` Provider interface, reduced to a name; the servicer below does the work."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema

    def full_name(self) -> str:
        return str(self.schema["provider_source"])

    def get_model_prefix(self) -> str:
        return ""

    def get_resources(self) -> list[Any]:
        return []

    def get_data_sources(self) -> list[Any]:
        return []

    def get_functions(self) -> list[Any]:
        return []


class SchemaOnlyServicer(tf_provider.ProviderServicer):  # type: ignore[misc]
    """Serves the committed schema; validation is left to Terraform core."""

    def GetProviderSchema(self, request: Any, context: Any) -> Any:
        schema = self.app.schema
        return pb.GetProviderSchema.Response(
            provider=_schema_pb(schema["provider"]),
            provider_meta=pb.Schema(version=0, block=pb.Schema.Block()),
            resource_schemas={k: _schema_pb(v) for k, v in schema["resource_schemas"].items()},
            data_source_schemas={
                k: _schema_pb(v) for k, v in schema["data_source_schemas"].items()
            },
        )

    def ValidateProviderConfig(self, request: Any, context: Any) -> Any:
        return pb.ValidateProviderConfig.Response()

    def ValidateResourceConfig(self, request: Any, context: Any) -> Any:
        return pb.ValidateResourceConfig.Response()

    def ValidateDataResourceConfig(self, request: Any, context: Any) -> Any:
        return pb.ValidateDataResourceConfig.Response()

    def ConfigureProvider(self, request: Any, context: Any) -> Any:
        return pb.ConfigureProvider.Response()


def main(argv: list[str]) -> None:
    schema = json.loads(Path(argv[1]).read_text())
    # runner.run_provider builds `tf.provider.ProviderServicer`; serve ours instead.
    tf_provider.ProviderServicer = SchemaOnlyServicer
    runner.run_provider(SchemaOnlyProvider(schema), argv)


if __name__ == "__main__":
    main(sys.argv)

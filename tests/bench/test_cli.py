"""`nuanxin bench KIND`: every option of a kind reaches its benchmark's config."""

import argparse
import dataclasses
import importlib

import pytest

from cli import bench


@pytest.mark.parametrize("kind", sorted(bench.KINDS))
def test_every_option_fills_a_field_of_the_config(kind: str) -> None:
    parser = argparse.ArgumentParser()
    bench.register(parser.add_subparsers(dest="command"))
    options = set(vars(parser.parse_args(["bench", kind]))) - {"command", "kind"}
    module, config = bench.KINDS[kind]
    fields = {f.name for f in dataclasses.fields(getattr(importlib.import_module(module), config))}
    assert options <= fields

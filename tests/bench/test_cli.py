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
    variants = [bench.KINDS[kind], *(v for (k, _), v in bench.TRANSPORTS.items() if k == kind)]
    fields = {
        f.name
        for module, config in variants
        for f in dataclasses.fields(getattr(importlib.import_module(module), config))
    }
    # --transport picks the variant; every other option fills a field of one of them
    assert options - {"transport"} <= fields

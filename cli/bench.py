"""`nuanxin bench …`: benchmarks that print their figures as JSON."""

import argparse
import dataclasses
import importlib
from typing import Any

NAME = "bench"


def register(subparsers: "argparse._SubParsersAction[Any]") -> list[tuple[str, Any]]:
    parser = subparsers.add_parser(
        NAME,
        help="run a benchmark and print its figures as JSON",
        description="Benchmarks start their own PostgreSQL and Mosquitto on free ports.",
    )
    kinds = parser.add_subparsers(dest="kind", required=True, metavar="KIND")
    ingest = kinds.add_parser(
        "ingest",
        help="readings/s stored, per CPU-second, publish→commit latency, RSS, vs a baseline",
    )
    ingest.add_argument("--messages", type=int, default=50_000)
    ingest.add_argument("--devices", type=int, default=1_000, help="devices publishing")
    ingest.add_argument("--registered", type=int, default=100_000, help="devices registered")
    ingest.add_argument("--latency-rate", type=int, default=2_000, help="readings/s")
    ingest.add_argument("--latency-seconds", type=int, default=10)
    ingest.add_argument("--baseline-messages", type=int, default=5_000)
    ingest.add_argument(
        "--transport",
        choices=("mqtt", "ctwing"),
        default="mqtt",
        help="mqtt: devices through the broker; ctwing: CTWing HTTP pushes into the API's"
        " platform receiver (pushes stored/s, push→commit latency)",
    )
    ingest.add_argument("--senders", type=int, default=20, help="ctwing: concurrent senders")
    ingest.add_argument("--retries", type=int, default=1_000, help="ctwing: pushes sent twice")
    ingest.add_argument("--workers", type=int, default=1, help="ctwing: receiver processes")
    alerts = kinds.add_parser(
        "alerts",
        help="button press → first SMS latency and escalation timing under 1,000 readings/s",
    )
    alerts.add_argument("--presses", type=int, default=40)
    alerts.add_argument("--background-rate", type=int, default=1_000, help="readings/s")
    scale = kinds.add_parser(
        "scale",
        help="1, 2, 4 ingest processes on a shared subscription and 2 alert engines",
    )
    scale.add_argument("--homes", type=int, default=2_000)
    scale.add_argument("--messages", type=int, default=40_000)
    soak = kinds.add_parser(
        "soak",
        help="steady load from thousands of homes against nuanxin serve for N minutes: "
        "memory, connections, queues and latency drift, sampled every minute",
    )
    soak.add_argument("--minutes", type=float, default=30)
    soak.add_argument("--homes", type=int, default=2_000, help="homes of 4 devices each")
    soak.add_argument("--rate", type=int, default=500, help="readings/s from all homes")
    soak.add_argument("--sample-seconds", type=float, default=60)
    soak.add_argument("--press-seconds", type=float, default=5, help="a button press every …")
    faults = kinds.add_parser(
        "faults",
        help="broker and PostgreSQL restarts, ingest and engine SIGKILLs, a Twilio outage "
        "under load: lost, doubled, unalerted, unsent (must all be 0)",
    )
    faults.add_argument("--homes", type=int, default=2_000, help="homes of 4 devices each")
    faults.add_argument("--fault-seconds", type=float, default=10.0, help="how long each fault")
    faults.add_argument("--rate", type=int, default=500, help="readings/s from all homes")
    faults.add_argument("--presses", type=int, default=5, help="button presses per fault")
    return [(NAME, run)]


# Each kind: the module that runs it and its config class, whose fields the options of
# the same name fill. Imported when run: a benchmark pulls in all that it measures.
KINDS: dict[str, tuple[str, str]] = {
    "ingest": ("bench.ingest", "IngestBenchConfig"),
    "alerts": ("bench.alerts", "AlertsBenchConfig"),
    "scale": ("bench.scale", "ScaleBenchConfig"),
    "soak": ("bench.soak", "SoakConfig"),
    "faults": ("bench.faults", "FaultsBenchConfig"),
}


# Variants of a kind, chosen by its --transport.
TRANSPORTS: dict[tuple[str, str], tuple[str, str]] = {
    ("ingest", "ctwing"): ("bench.platform_push", "PushBenchConfig"),
}


def run(args: argparse.Namespace) -> int:
    variant = (args.kind, getattr(args, "transport", ""))
    module_name, config_name = TRANSPORTS.get(variant, KINDS[args.kind])
    module = importlib.import_module(module_name)
    config_class = getattr(module, config_name)
    options = {
        field.name: getattr(args, field.name)
        for field in dataclasses.fields(config_class)
        if hasattr(args, field.name)
    }
    return int(module.main(config_class(**options)))

"""`nuanxin bench …`: benchmarks that print their figures as JSON."""

import argparse
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
    return [(NAME, run)]


def run(args: argparse.Namespace) -> int:
    if args.kind == "ingest":
        from bench.ingest import IngestBenchConfig, main

        return main(
            IngestBenchConfig(
                messages=args.messages,
                devices=args.devices,
                registered=args.registered,
                latency_rate=args.latency_rate,
                latency_seconds=args.latency_seconds,
                baseline_messages=args.baseline_messages,
            )
        )
    if args.kind == "alerts":
        from bench.alerts import AlertsBenchConfig
        from bench.alerts import main as alerts_main

        return alerts_main(
            AlertsBenchConfig(presses=args.presses, background_rate=args.background_rate)
        )
    if args.kind == "scale":
        from bench.scale import ScaleBenchConfig
        from bench.scale import main as scale_main

        return scale_main(ScaleBenchConfig(homes=args.homes, messages=args.messages))
    raise AssertionError(args.kind)

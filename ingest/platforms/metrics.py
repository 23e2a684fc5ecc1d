"""Carrier-platform push metrics, exported at /metrics."""

from prometheus_client import Counter, Histogram

REFUSED = Counter(
    "nuanxin_platform_refused_total",
    "Pushes refused before decoding: wrong path token, bad or missing signature, too large",
    ["platform", "reason"],
)
PUSHES = Counter(
    "nuanxin_platform_pushes_total",
    "Pushes answered, by what became of them",
    ["platform", "outcome"],  # stored | quarantined | ignored | refused | unavailable
)
DUPLICATES = Counter(
    "nuanxin_platform_duplicates_total", "Readings and events of retried pushes, already stored"
)
COMMIT_SECONDS = Histogram(
    "nuanxin_platform_batch_seconds",
    "Time to decode, write and commit one group of pushes",
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)

"""Models that speak the native contract (docs/device-contract.md) themselves."""

from typing import Final

from core.catalog import Model, Transport
from core.types import DeviceType

_CONTRACT = "docs/device-contract.md (the native MQTT contract)"

MODELS: Final[tuple[Model, ...]] = tuple(
    Model(
        key=f"nuanxin-{kind.value.replace('_', '-')}",
        vendor="nuanxin reference firmware",
        model=f"nuanxin-{kind.value.replace('_', '-')}",
        kind=kind,
        transport=Transport.NATIVE,
        source=_CONTRACT,
        fixture=f"native/{kind.value}.json",
    )
    for kind in DeviceType
)

"""Models behind carrier IoT platforms (CTWing, OneNET, Huawei IoTDA): their coded
values, as the public parsers and vendor documents give them (see each row's source)."""

from typing import Final

from core.catalog import Model

MODELS: Final[tuple[Model, ...]] = ()

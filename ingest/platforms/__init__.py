"""Carrier IoT platforms (CTWing, OneNET, Huawei IoTDA): their envelopes decoded into our
message model. One module per platform for its envelope; `service_data` for what every
platform shares: a device's reported properties read through its catalogue model."""

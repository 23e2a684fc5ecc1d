"""How the IoTDA consumer is configured: one way to log in, each mistake named."""

import re
import time

import pytest

from cli.carrier_platforms import iotda_config
from core.errors import ConfigError
from core.masking import REDACTOR
from core.settings import Settings

URL = "amqps://abc123.iot-amqps.cn-north-4.myhuaweicloud.com:5671"


def settings(**values: object) -> Settings:
    return Settings(**values)  # type: ignore[arg-type]


def test_the_access_key_login_carries_a_fresh_timestamp_and_the_instance() -> None:
    config = iotda_config(
        settings(
            iotda_amqp_url=URL,
            iotda_access_key="AK1",
            iotda_access_code="access-code-secret",
            iotda_instance_id="inst-9",
        )
    )
    receiver = config.receiver
    assert receiver.url == "amqps://abc123.iot-amqps.cn-north-4.myhuaweicloud.com:5671"
    assert receiver.address == "DefaultQueue" and receiver.virtual_host == "default"
    assert receiver.password == "access-code-secret"
    match = re.fullmatch(
        r"accessKey=AK1\|timestamp=(\d{13})\|instanceId=inst-9", receiver.username()
    )
    assert match is not None
    assert abs(int(match[1]) - time.time() * 1000) < 60_000
    assert receiver.window == 2 * config.batch_max
    assert "access-code-secret" not in REDACTOR.redact("login with access-code-secret")


def test_a_user_in_the_url_logs_in_as_that_user() -> None:
    config = iotda_config(settings(iotda_amqp_url="amqp://guest:pa%40ss@127.0.0.1:5672"))
    assert config.receiver.username() == "guest" and config.receiver.password == "pa@ss"
    assert config.receiver.url == "amqp://127.0.0.1:5672"
    assert "pa@ss" not in REDACTOR.redact("password pa@ss")


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({}, "NUANXIN_IOTDA_AMQP_URL is not set"),
        ({"iotda_amqp_url": URL}, "NUANXIN_IOTDA_ACCESS_CODE"),
        ({"iotda_amqp_url": URL, "iotda_access_key": "AK1"}, "NUANXIN_IOTDA_ACCESS_CODE"),
        (
            {"iotda_amqp_url": "amqp://u:p@h:5672", "iotda_access_key": "AK1"},
            "use one way to log in",
        ),
    ],
)
def test_each_missing_or_conflicting_setting_is_named(
    values: dict[str, object], words: str
) -> None:
    with pytest.raises(ConfigError, match=words):
        iotda_config(settings(**values))


def test_only_amqp_urls_are_taken() -> None:
    with pytest.raises(ValueError, match="URL scheme"):
        settings(iotda_amqp_url="http://example.com")

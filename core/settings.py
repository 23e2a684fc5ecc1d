"""Configuration from NUANXIN_* environment variables.

`load_settings()` is the only way components get settings: it validates everything at
start and turns pydantic's report into a ConfigError that names the variable, so a typo
in a deployment fails in one line instead of a traceback minutes later.
"""

import os
from collections.abc import Iterator
from enum import StrEnum
from ipaddress import IPv4Network, IPv6Network, ip_network
from typing import Annotated, Any
from urllib.parse import unquote

from pydantic import (
    BeforeValidator,
    Field,
    PostgresDsn,
    SecretStr,
    UrlConstraints,
    ValidationError,
    field_validator,
)
from pydantic_core import Url
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from core.errors import ConfigError
from core.identity import platform_name_problem
from core.masking import REDACTOR

ENV_PREFIX = "NUANXIN_"

MqttUrl = Annotated[Url, UrlConstraints(allowed_schemes=["mqtt", "mqtts"], default_port=1883)]
AmqpUrl = Annotated[Url, UrlConstraints(allowed_schemes=["amqp", "amqps"])]


class TimescaleMode(StrEnum):
    """Whether migrations use TimescaleDB: `auto` uses it when the server offers it."""

    AUTO = "auto"
    ON = "on"
    OFF = "off"


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


class ProxyHeader(StrEnum):
    """The header the trusted reverse proxy writes the caller's address into."""

    X_FORWARDED_FOR = "x-forwarded-for"
    FORWARDED = "forwarded"


def _networks(value: object) -> object:
    """`10.0.0.0/8, 192.0.2.7` → networks; a single address is a /32 (or /128)."""
    if isinstance(value, str):
        return [ip_network(part.strip()) for part in value.split(",") if part.strip()]
    return value


Networks = Annotated[list[IPv4Network | IPv6Network], NoDecode, BeforeValidator(_networks)]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    database_url: PostgresDsn = Field(
        default=PostgresDsn("postgresql://postgres@127.0.0.1:5432/nuanxin"),
        description="PostgreSQL (or TimescaleDB) connection URL.",
    )
    mqtt_url: MqttUrl = Field(
        default=Url("mqtt://127.0.0.1:1883"),
        description="MQTT broker URL; mqtts:// for TLS.",
    )
    timescaledb: TimescaleMode = Field(
        default=TimescaleMode.AUTO,
        description="Use TimescaleDB: auto (when the server offers it), on, off.",
    )
    readings_retention_days: int = Field(
        default=400, ge=1, description="Days of raw readings kept; events are kept forever."
    )
    db_pool_max_size: int = Field(
        default=10, ge=1, le=200, description="Largest number of connections one pool opens."
    )
    mqtt_username: str = Field(
        default="nuanxin-ingest",
        description=(
            "Broker account of this process, under the reserved prefix nuanxin-; also its"
            " MQTT client id (the broker binds each account to one id): one per ingest process."
        ),
    )
    mqtt_platform_usernames: list[str] = Field(
        default=[],
        description=(
            "JSON list of the platform accounts `nuanxin broker sync` keeps, all with"
            " NUANXIN_MQTT_PASSWORD (empty: NUANXIN_MQTT_USERNAME alone)."
        ),
    )
    mqtt_password: SecretStr | None = Field(
        default=None, description="Its password (none: connect without credentials)."
    )
    mqtt_ca_file: str | None = Field(
        default=None, description="CA certificate for mqtts:// (default: system CAs)."
    )
    ingest_share_group: str | None = Field(
        default=None,
        description="Shared-subscription group: ingest processes with one group split the load.",
    )
    ingest_zigbee2mqtt: bool = Field(
        default=True,
        description=(
            "This process takes all Zigbee2MQTT traffic, outside the share group (alarm"
            " flags are per-device transitions); true on exactly one ingest process."
        ),
    )
    ingest_batch_max: int = Field(
        default=1000, ge=1, le=20000, description="Messages per batch at most."
    )
    ingest_batch_wait_ms: int = Field(
        default=25, ge=1, le=5000, description="How long a batch waits for more messages."
    )
    iotda_amqp_url: AmqpUrl | None = Field(
        default=None,
        description=(
            "Huawei IoTDA AMQP endpoint, amqps://HOST:5671 (console: instance → access"
            " details); unset: no IoTDA consumer. amqp://user:password@host:5672 logs in"
            " with that user instead of the access key (a local RabbitMQ in tests)."
        ),
    )
    iotda_access_key: str | None = Field(
        default=None, description="IoTDA access credential: the access key (accessKey)."
    )
    iotda_access_code: SecretStr | None = Field(
        default=None, description="IoTDA access credential: the access code (the password)."
    )
    iotda_instance_id: str | None = Field(
        default=None, description="IoTDA instance id, for a region with several instances."
    )
    iotda_queue: str = Field(
        default="DefaultQueue",
        min_length=1,
        description="The AMQP queue the forwarding rule fills (RabbitMQ: /amq/queue/NAME).",
    )
    iotda_amqp_vhost: str = Field(
        default="default", min_length=1, description="AMQP virtual host; IoTDA has only default."
    )
    iotda_ca_file: str | None = Field(
        default=None, description="CA certificate for amqps:// (default: system CAs)."
    )
    mqtt_admin_username: str = Field(
        default="nuanxin-admin",
        description="Broker account allowed to manage dynamic security (device accounts).",
    )
    mqtt_admin_password: SecretStr | None = Field(
        default=None,
        description="Its password; without it devices cannot be given MQTT accounts.",
    )
    api_host: str = Field(default="127.0.0.1", description="Address the API listens on.")
    api_port: int = Field(default=8000, ge=1, le=65535, description="Port the API listens on.")
    token_ttl_minutes: int = Field(
        default=720, ge=5, le=43200, description="How long a sign-in token is valid."
    )
    trusted_proxies: Networks = Field(
        default=[],
        description=(
            "Comma-separated addresses or CIDRs of reverse proxies whose forwarding header"
            " names the caller; from any other peer the header is ignored. Empty: none."
        ),
    )
    proxy_header: ProxyHeader = Field(
        default=ProxyHeader.X_FORWARDED_FOR,
        description="The header those proxies set: x-forwarded-for or forwarded (RFC 7239).",
    )
    public_base_url: str = Field(
        default="http://127.0.0.1:8000",
        description="How providers (Twilio) reach this API; webhook signatures cover it.",
    )
    twilio_account_sid: str | None = Field(default=None, description="Twilio account SID.")
    twilio_auth_token: SecretStr | None = Field(
        default=None, description="Twilio auth token; also verifies Twilio's webhooks."
    )
    twilio_from_number: str | None = Field(
        default=None, description="The Twilio number SMS and calls come from (E.164)."
    )
    twilio_api_base_url: str | None = Field(
        default=None, description="Send Twilio requests here instead (a local test server)."
    )
    aliyun_sms_access_key_id: str | None = Field(
        default=None, description="Alibaba Cloud SMS access key id (mainland numbers)."
    )
    aliyun_sms_access_key_secret: SecretStr | None = Field(default=None, description="Its secret.")
    aliyun_sms_sign_name: str = Field(
        default="暖心守护", description="The approved SMS signature, shown as 【…】."
    )
    aliyun_sms_template_alert: str | None = Field(
        default=None, description="Approved template code for alerts (SMS_…)."
    )
    aliyun_sms_template_reminder: str | None = Field(
        default=None, description="Approved template code for reminders (SMS_…)."
    )
    aliyun_sms_endpoint: str = Field(
        default="dysmsapi.aliyuncs.com", description="Alibaba Cloud SMS endpoint host[:port]."
    )
    aliyun_sms_protocol: str = Field(
        default="https", pattern=r"^https?$", description="https, or http for a local server."
    )
    webhook_urls: list[str] = Field(
        default=[],
        description="JSON list of WeCom/DingTalk robot or generic URLs alerts are posted to.",
    )
    ctwing_push_token: SecretStr | None = Field(
        default=None,
        description=(
            "Secret path token of the CTWing push route, /api/v1/platforms/ctwing/{token}:"
            " at least 32 random characters (none: the route answers 404)."
        ),
    )
    onenet_push_token: SecretStr | None = Field(
        default=None,
        description="The token of the OneNET push (signature key; none: the route answers 404).",
    )
    onenet_aes_key: SecretStr | None = Field(
        default=None,
        description=(
            "OneNET's message key for encrypted pushes: the classic EncodingAESKey (43"
            " characters) or the Studio security-mode key (16 characters)."
        ),
    )
    metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description=(
            "Port for /metrics of `nuanxin ingest` and `nuanxin alerting` run alone, on"
            " NUANXIN_API_HOST (none: they serve no HTTP; `serve` and `api` have /metrics)."
        ),
    )
    log_level: str = Field(
        default="INFO",
        pattern=r"^(DEBUG|INFO|WARNING|ERROR|CRITICAL)$",
        description="Lowest log level written.",
    )
    log_format: LogFormat = Field(
        default=LogFormat.TEXT, description="text for people, json for log collectors."
    )

    @field_validator("mqtt_username")
    @classmethod
    def _platform_name(cls, value: str) -> str:
        problem = platform_name_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    @field_validator("mqtt_platform_usernames")
    @classmethod
    def _platform_names(cls, values: list[str]) -> list[str]:
        for value in values:
            cls._platform_name(value)
        return values

    @property
    def platform_usernames(self) -> list[str]:
        """The platform accounts `nuanxin broker sync` creates and binds."""
        return self.mqtt_platform_usernames or [self.mqtt_username]

    def model_post_init(self, context: Any, /) -> None:
        # Whichever process holds these settings, its logs must never show their secrets:
        # registering here covers every way settings are made (environment, demo, tests).
        REDACTOR.add_secrets(self.secret_values())

    def secret_values(self) -> Iterator[str]:
        """Every secret these settings hold: the SecretStr fields and URL passwords."""
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                yield value.get_secret_value()
        for host in self.database_url.hosts():
            if host["password"]:
                yield unquote(host["password"])
        if self.mqtt_url.password:
            yield unquote(self.mqtt_url.password)
        if self.iotda_amqp_url is not None and self.iotda_amqp_url.password:
            yield unquote(self.iotda_amqp_url.password)


def env_name(field: str) -> str:
    return f"{ENV_PREFIX}{field.upper()}"


# Variables that no longer exist, and what to set instead: silently ignoring one would
# start a process with another identity than its operator meant.
REMOVED = {
    "NUANXIN_INGEST_CLIENT_ID": (
        "removed: a process's MQTT client id is its NUANXIN_MQTT_USERNAME (the broker binds"
        " each account to one client id); set NUANXIN_MQTT_USERNAME to the id instead and"
        " run `nuanxin broker sync`"
    ),
}


def load_settings() -> Settings:
    """Read and validate the environment; raise ConfigError naming each bad variable."""
    removed = [f"{name}: {why}" for name, why in REMOVED.items() if name in os.environ]
    if removed:
        raise ConfigError("invalid configuration: " + "; ".join(removed))
    try:
        return Settings()
    except ValidationError as exc:
        problems = [
            f"{env_name(str(err['loc'][0]))}: {err['msg']}" if err["loc"] else err["msg"]
            for err in exc.errors(include_url=False)
        ]
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from None

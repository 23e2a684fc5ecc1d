"""Every MQTT connection the project opens is built here: paho 2, MQTT 5, the version 2
callbacks, credentials, TLS and the session it connects with.

The session is chosen when the client is built, because MQTT 5 decides it on CONNECT:
`CLEAN` (the default) starts afresh and leaves nothing behind on the broker when the
connection ends — what a probe, an admin command, a simulated device or a test wants.
`Session(expiry_s=…)` resumes the broker's stored session and keeps it that long after a
disconnect, so QoS 1 messages that arrive meanwhile wait for the client — what ingest
wants, and nothing else should: every persistent session costs the broker memory and
keeps messages for a client that may never come back.
"""

import ssl
from dataclasses import dataclass
from typing import Final

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties


@dataclass(frozen=True)
class Session:
    """What a CONNECT asks of the broker about the client's session."""

    expiry_s: int = 0  # 0: the session ends with the connection
    receive_maximum: int | None = None  # QoS 1 messages in flight to us; None: MQTT's default
    # Ask to resume a stored session even when keeping none afterwards: a probe that
    # learns from CONNACK's session_present whether the broker still holds one.
    resume: bool = False

    @property
    def persistent(self) -> bool:
        return self.expiry_s > 0

    def connect_properties(self) -> Properties:
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        if self.persistent:
            properties.SessionExpiryInterval = self.expiry_s
        if self.receive_maximum is not None:
            properties.ReceiveMaximum = self.receive_maximum
        return properties


CLEAN: Final = Session()


class Client(mqtt.Client):
    """A paho client that always connects with the session it was built for."""

    def __init__(
        self, client_id: str, session: Session, *, reconnect_on_failure: bool, manual_ack: bool
    ) -> None:
        super().__init__(
            CallbackAPIVersion.VERSION2,
            client_id,
            protocol=mqtt.MQTTv5,
            reconnect_on_failure=reconnect_on_failure,
            manual_ack=manual_ack,
        )
        self.session = session

    def connect_async(
        self,
        host: str,
        port: int = 1883,
        keepalive: int = 60,
        bind_address: str = "",
        bind_port: int = 0,
        clean_start: mqtt.CleanStartOption = mqtt.MQTT_CLEAN_START_FIRST_ONLY,
        properties: Properties | None = None,
    ) -> None:
        """paho's `connect` comes here too. The session decides clean start and the
        CONNECT properties; a caller cannot ask for another by accident."""
        if clean_start is not mqtt.MQTT_CLEAN_START_FIRST_ONLY or properties is not None:
            raise ValueError("the session is chosen in core.mqtt.new_client, not at connect")
        super().connect_async(
            host,
            port,
            keepalive,
            bind_address,
            bind_port,
            clean_start=not (self.session.persistent or self.session.resume),
            properties=self.session.connect_properties(),
        )


def new_client(
    client_id: str,
    *,
    username: str | None = None,
    password: str | None = None,
    tls: ssl.SSLContext | None = None,
    session: Session = CLEAN,
    connect_timeout_s: float | None = None,
    reconnect_on_failure: bool = True,
    manual_ack: bool = False,
) -> Client:
    """An MQTT 5 client with the project's defaults. Not connected yet.

    `client_id`: the broker binds every account to its username as client id (dynamic
    security), so for an account it is the username. `reconnect_on_failure=False` for
    clients that must see exactly when they were cut (simulated devices, tests);
    `manual_ack=True` for ingest, which acknowledges only after the commit."""
    client = Client(
        client_id, session, reconnect_on_failure=reconnect_on_failure, manual_ack=manual_ack
    )
    if username is not None:
        client.username_pw_set(username, password)
    if tls is not None:
        client.tls_set_context(tls)
    if connect_timeout_s is not None:
        client.connect_timeout = connect_timeout_s
    return client

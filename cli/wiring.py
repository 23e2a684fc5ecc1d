"""Builds the long-lived parts (pools, the broker administration) from settings; the
one place the CLI commands and servers are wired together."""

import threading

from core.errors import ServiceUnavailable
from core.settings import Settings
from device_registry.provisioning import BrokerAdmin


class BrokerProvisioner:
    """Device MQTT accounts through the broker's dynamic security, connecting on first
    use so the API starts (and serves everything else) while the broker is down."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._admin: BrokerAdmin | None = None
        self._lock = threading.Lock()

    def provision_device(self, device_id: str) -> str:
        return self._connected().provision_device(device_id)

    def revoke_device(self, device_id: str) -> None:
        self._connected().revoke_device(device_id)

    def close(self) -> None:
        with self._lock:
            if self._admin is not None:
                self._admin.close()
                self._admin = None

    def _connected(self) -> BrokerAdmin:
        with self._lock:
            if self._admin is None:
                password = self._settings.mqtt_admin_password
                if password is None:
                    raise ServiceUnavailable(
                        "device MQTT accounts need the broker's dynamic-security admin: "
                        "set NUANXIN_MQTT_ADMIN_USERNAME and NUANXIN_MQTT_ADMIN_PASSWORD"
                    )
                admin = BrokerAdmin.from_url(
                    str(self._settings.mqtt_url),
                    self._settings.mqtt_admin_username,
                    password.get_secret_value(),
                )
                admin.connect()
                self._admin = admin
            return self._admin

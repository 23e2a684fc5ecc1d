#!/bin/sh
# Initialise Mosquitto's dynamic security once, before the broker first starts.
#
# deploy/compose.yaml runs this as the one-shot service `broker-init`, as root in the
# eclipse-mosquitto image, with the broker's data volume at /mosquitto/data. By hand:
#
#   NUANXIN_MQTT_ADMIN_USERNAME=nuanxin-admin NUANXIN_MQTT_ADMIN_PASSWORD=… \
#       MOSQUITTO_DATA_DIR=/path/to/data sh deploy/mosquitto/init.sh
#
# - A new data directory gets dynamic-security.json holding only the admin account
#   (the account the registry provisions devices with). An existing file is never
#   touched: it holds every device account, so running this at each start is safe.
#   (`mosquitto_ctrl dynsec init` refuses to overwrite a file but exits 0 all the
#   same, so the file is checked here rather than its exit code trusted.)
# - As root, it gives the data directory to the broker's user (uid 1883 in the image):
#   the plugin rewrites dynamic-security.json on every change, and Mosquitto 2.0.11
#   answers "ok" and logs nothing when it cannot, so device accounts created since
#   would be gone after the next restart.
#
# The platform's own account is created afterwards, with the broker running, by the
# `broker-accounts` service (BrokerAdmin.ensure_platform_account).
set -eu

data_dir="${MOSQUITTO_DATA_DIR:-/mosquitto/data}"
dynsec_file="$data_dir/dynamic-security.json"
broker_uid="${MOSQUITTO_UID:-1883}"
# Mosquitto 2.0 stores the admin password with only 101 PBKDF2 rounds: it must be
# long and random rather than memorable.
min_password_length=20

fail() {
    echo "init.sh: $*" >&2
    exit 1
}

mkdir -p "$data_dir"

if [ -e "$dynsec_file" ]; then
    [ -s "$dynsec_file" ] || fail "$dynsec_file exists but is empty; restore it from a backup"
    echo "init.sh: $dynsec_file exists; left as it is"
else
    username="${NUANXIN_MQTT_ADMIN_USERNAME:-}"
    password="${NUANXIN_MQTT_ADMIN_PASSWORD:-}"
    [ -n "$username" ] || fail "set NUANXIN_MQTT_ADMIN_USERNAME"
    [ "${#password}" -ge "$min_password_length" ] ||
        fail "NUANXIN_MQTT_ADMIN_PASSWORD must be at least $min_password_length characters (openssl rand -hex 32)"
    mosquitto_ctrl dynsec init "$dynsec_file" "$username" "$password" >/dev/null
    [ -s "$dynsec_file" ] || fail "mosquitto_ctrl dynsec init did not create $dynsec_file"
    chmod 600 "$dynsec_file"
    echo "init.sh: created $dynsec_file with the admin account '$username'"
fi

if [ "$(id -u)" = 0 ]; then
    chown -R "$broker_uid:$broker_uid" "$data_dir"
fi

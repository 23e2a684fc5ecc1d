"""The notifiers this deployment has, built from settings: a provider is on when its
credentials are set. The planner learns from the same place what it may plan."""

from psycopg_pool import ConnectionPool

from alerting.dispatch import NotifierKey
from alerting.notifiers.aliyun_sms import AliyunSmsConfig, AliyunSmsNotifier
from alerting.notifiers.base import Notifier
from alerting.notifiers.pg_push import PgPushNotifier
from alerting.notifiers.twilio_http import TwilioConfig
from alerting.notifiers.twilio_sms import TwilioSmsNotifier
from alerting.notifiers.twilio_voice import TwilioVoiceNotifier
from alerting.notifiers.webhook import WebhookNotifier
from alerting.planner import Channels
from core.settings import Settings


def twilio_config(settings: Settings) -> TwilioConfig | None:
    if not (
        settings.twilio_account_sid and settings.twilio_auth_token and settings.twilio_from_number
    ):
        return None
    return TwilioConfig(
        account_sid=settings.twilio_account_sid,
        auth_token=settings.twilio_auth_token.get_secret_value(),
        from_number=settings.twilio_from_number,
        callback_base_url=settings.public_base_url,
        api_base_url=settings.twilio_api_base_url,
    )


def aliyun_config(settings: Settings) -> AliyunSmsConfig | None:
    if not (settings.aliyun_sms_access_key_id and settings.aliyun_sms_access_key_secret):
        return None
    codes = {
        name: code
        for name, code in (
            ("alert", settings.aliyun_sms_template_alert),
            ("reminder", settings.aliyun_sms_template_reminder),
        )
        if code
    }
    return AliyunSmsConfig(
        access_key_id=settings.aliyun_sms_access_key_id,
        access_key_secret=settings.aliyun_sms_access_key_secret.get_secret_value(),
        sign_name=settings.aliyun_sms_sign_name,
        template_codes=codes,
        endpoint=settings.aliyun_sms_endpoint,
        protocol=settings.aliyun_sms_protocol,
    )


def build_notifiers(
    settings: Settings, pool: ConnectionPool
) -> tuple[dict[NotifierKey, Notifier], Channels]:
    notifiers: dict[NotifierKey, Notifier] = {("app", "push"): PgPushNotifier(pool)}
    twilio = twilio_config(settings)
    if twilio is not None:
        notifiers[("sms", "twilio")] = TwilioSmsNotifier(twilio)
        notifiers[("voice", "twilio")] = TwilioVoiceNotifier(twilio)
    aliyun = aliyun_config(settings)
    if aliyun is not None:
        notifiers[("sms", "aliyun")] = AliyunSmsNotifier(aliyun)
    if settings.webhook_urls:
        notifiers[("webhook", "webhook")] = WebhookNotifier()
    return notifiers, channels_for(settings)


def channels_for(settings: Settings) -> Channels:
    """What can be sent, without building the notifiers (an API process needs only this,
    to fall back the way the engine would when a provider reports a failure)."""
    sms = {
        name
        for name, config in (
            ("twilio", twilio_config(settings)),
            ("aliyun", aliyun_config(settings)),
        )
        if config
    }
    return Channels(
        sms_providers=frozenset(sms),
        voice=twilio_config(settings) is not None,
        webhook_urls=tuple(settings.webhook_urls),
    )

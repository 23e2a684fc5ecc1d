"""Masking of personal data and secrets: one implementation for API answers and logs.

Phone numbers keep their first digits and their last four (+86139****5678), ID-card
numbers their first three and last four (150***********0021), URLs shown to people lose
their query (robot keys live there).

`Redactor` applies the same masks to free text such as log lines, and replaces
credentials: bearer tokens and Authorization headers, `token=`-style parameters,
passwords inside URLs, and the literal value of every secret it was told about. Every
`Settings` object registers its secrets with `REDACTOR` when it is created, so a
process never needs to remember to do it.
"""

import re
import threading
from collections.abc import Callable, Iterable
from enum import StrEnum
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

HIDDEN = "***"

# --- values ----------------------------------------------------------------------------

_DIGIT_RUN = re.compile(r"\+?\d{7,15}")


def mask_phone(number: str) -> str:
    if len(number) < 11:
        return "****"
    return f"{number[:-8]}****{number[-4:]}"


def mask_id_card(value: str | None) -> str | None:
    return None if value is None else value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_hardware_id(value: str) -> str:
    """An IMEI or a platform's device id (CTWing's embed the IMEI): its first and last
    four characters, enough to tell devices apart on a list, not to address one."""
    if len(value) < 10:
        return "****"
    return f"{value[:4]}{'*' * (len(value) - 8)}{value[-4:]}"


def mask_url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, HIDDEN if parts.query else "", ""))


def mask_text(text: str) -> str:
    """Every run of 7-15 digits in text people read in the API (provider errors quote the
    number they refused); broad on purpose, where logs need the narrower `Redactor`."""
    return _DIGIT_RUN.sub(lambda m: mask_phone(m.group()), text)


def mask_free_text(value: Any) -> Any:
    """Text a provider or the timeline wrote, as a string or inside JSON: phone numbers
    masked, URLs without their query."""
    if isinstance(value, str):
        return mask_url(value) if value.startswith(("http://", "https://")) else mask_text(value)
    if isinstance(value, dict):
        return {key: mask_free_text(item) for key, item in value.items()}
    if isinstance(value, list):
        return [mask_free_text(item) for item in value]
    return value


# --- kinds of personal fields ----------------------------------------------------------


class FieldKind(StrEnum):
    """What a field of an answer holds, as far as who may read it is concerned. Which
    role sees which kind whole, masked or not at all is device_registry.access.EXPOSURE."""

    ELDER_PHONE = "elder_phone"
    CONTACT_PHONE = "contact_phone"  # contacts, and the numbers notifications went to
    ID_CARD = "id_card"
    HEALTH_NOTES = "health_notes"
    ADDRESS = "address"
    ACCESS_NOTES = "access_notes"  # how a responder gets in: key holders, door codes
    WEBHOOK_URL = "webhook_url"  # robot keys live in the query
    ACCOUNT_ID = "account_id"  # our own user id, where the app channel delivers
    PROVIDER_TEXT = "provider_text"  # errors and timeline details: may quote a number
    DESTINATION = "destination"  # where a notification went: one of the three above
    HARDWARE_ID = "hardware_id"  # a device's IMEI or carrier-platform id, in an elder's home


# kind → its masked form; None: the kind has none, so a role sees it whole or not at all.
MASKS: dict[FieldKind, Callable[[Any], Any] | None] = {
    FieldKind.ELDER_PHONE: mask_phone,
    FieldKind.CONTACT_PHONE: mask_phone,
    FieldKind.ID_CARD: mask_id_card,
    FieldKind.HEALTH_NOTES: None,
    FieldKind.ADDRESS: None,
    FieldKind.ACCESS_NOTES: None,
    FieldKind.WEBHOOK_URL: mask_url,
    FieldKind.ACCOUNT_ID: None,
    FieldKind.PROVIDER_TEXT: mask_free_text,
    FieldKind.DESTINATION: None,  # never applied: resolved by `concrete_kind` first
    FieldKind.HARDWARE_ID: mask_hardware_id,
}


def concrete_kind(kind: FieldKind, value: object) -> FieldKind:
    """A destination is a phone number, a webhook URL or an account id: its own kind."""
    if kind is not FieldKind.DESTINATION or not isinstance(value, str):
        return kind
    if value.startswith(("http://", "https://")):
        return FieldKind.WEBHOOK_URL
    if value[:1] == "+" or value[:1].isdigit():
        return FieldKind.CONTACT_PHONE
    return FieldKind.ACCOUNT_ID


# --- free text -------------------------------------------------------------------------

# Names of parameters whose value is a credential, alone or as the end of a longer name
# (access_token, api_key, client_secret, x-api-key): query strings, key=value logs,
# libpq connection strings. `key`/`sign` are the WeCom and DingTalk robots' URL secrets.
_CREDENTIAL_NAMES = r"token|password|passwd|pwd|secret|key|sign|signature"

# Credentials: (a cheap test that the text may hold one, the pattern). Each pattern's
# `keep` group stays and what follows it up to the match's end becomes ***. The test
# spares most log lines the regular expression.
_CREDENTIALS: tuple[tuple[Callable[[str], bool], str], ...] = (
    # scheme://user:password@host → scheme://user:***@host
    (
        lambda text: "://" in text,
        r"(?P<keep>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/?#@]*:)[^\s/?#@]+(?=@)",
    ),
    # Authorization: Basic QUM…= / 'authorization': 'Bearer …'
    (
        lambda text: "authorization" in text.lower(),
        r"(?P<keep>(?i:\b(?:proxy-)?authorization)['\"]?\s*[:=]\s*['\"]?)"
        r"(?:[A-Za-z]+\s+)?[\w.~+/=-]+",
    ),
    (
        lambda text: "bearer" in text.lower(),
        r"(?P<keep>(?i:\bbearer)\s+)[\w.~+/=-]+",
    ),
    # token=…, access_token=…, password=…, key=… in query strings and key=value text
    (
        lambda text: "=" in text,
        rf"(?P<keep>(?<![\w-])(?i:(?:[\w-]*[_-])?(?:{_CREDENTIAL_NAMES}))=)[^\s&#\"'<>]+",
    ),
)
_CREDENTIAL_RULES = tuple((test, re.compile(pattern)) for test, pattern in _CREDENTIALS)

# A phone number also reaches a log plainly transformed: URL-encoded by the client that
# sent it (uvicorn logs the request line as sent, `%2B86…`), JSON-escaped, grouped with
# spaces, dashes or dots. These are the plus signs and separators it may be written with.
_PLUS = r"(?:\+|%2[Bb]|\\u002[Bb])"
_SEPARATOR = r"(?:[ -]|%20)"
_PLUS_FORMS = re.compile(r"%2[Bb]|\\u002[Bb]")
_SEPARATOR_FORMS = re.compile(r"[ .()-]|%20")


def _plain_phone(text: str) -> str:
    """The number as E.164 digits (with its plus, if it had one), whatever the form."""
    return _SEPARATOR_FORMS.sub("", _PLUS_FORMS.sub("+", text))


# Numbers: group name → (pattern, mask). Tried left to right at each position, so an ID
# card is never masked as a phone number. The lookahead lets the engine skip quickly to
# the next digit, plus sign, percent sign or backslash.
_NUMBERS: dict[str, tuple[str, Callable[[str], str]]] = {
    # Chinese resident ID card: 17 digits and a check character (digit or X)
    "id_card": (r"(?<!\d)\d{17}[\dXx](?!\d)", lambda text: mask_id_card(text) or HIDDEN),
    # E.164, also grouped: +8613812345678, +1 415-555-0101, +86.138.1234.5678, %2B86…
    "e164": (
        rf"{_PLUS}[1-9](?:(?:{_SEPARATOR}|\.)?\d){{6,14}}(?!\d)",
        lambda text: mask_phone(_plain_phone(text)),
    ),
    # a mainland mobile without its plus: 13812345678, 138 1234 5678, 86 138 1234 5678
    # (no dots here: 192.168.100.12 is an address, not a phone number)
    "mainland_mobile": (
        rf"(?<![\d+])(?:86{_SEPARATOR}?)?1[3-9]\d(?:{_SEPARATOR}?\d){{8}}(?!\d)",
        lambda text: mask_phone(_plain_phone(text)),
    ),
}
_NUMBER_PATTERN = re.compile(
    r"(?=[+\d%\\])(?:" + "|".join(f"(?P<{name}>{p})" for name, (p, _) in _NUMBERS.items()) + ")"
)


def _mask_number(match: re.Match[str]) -> str:
    return _NUMBERS[str(match.lastgroup)][1](match.group())


def _hide_credential(match: re.Match[str]) -> str:
    return match["keep"] + HIDDEN


MIN_SECRET_LENGTH = 4


class Redactor:
    """Masks personal data and credentials in free text. Secrets are literal values,
    replaced wherever they appear (also URL-encoded) before anything else."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        # the secrets and their pattern, swapped as one so a reader never sees a mix
        self._secrets: tuple[tuple[str, ...], re.Pattern[str] | None] = ((), None)
        self.add_secrets(secrets)

    def add_secrets(self, values: Iterable[str]) -> None:
        # A secret of a few characters ("p" in amqp://u:p@h) would mask that text in
        # every line logged afterwards; credentials in URLs and after password= are
        # hidden by the credential rules whatever their length.
        forms = {
            form
            for value in values
            if value and len(value) >= MIN_SECRET_LENGTH
            for form in (value, quote(value, safe=""))
        }
        with self._lock:
            known = set(self._secrets[0])
            if forms <= known:
                return  # the usual case: the same settings again
            # longest first, so a secret that contains another is hidden whole
            ordered = tuple(sorted(forms | known, key=len, reverse=True))
            self._secrets = (ordered, re.compile("|".join(map(re.escape, ordered))))

    def redact(self, text: str) -> str:
        secrets, secret_pattern = self._secrets
        if secret_pattern is not None and any(secret in text for secret in secrets):
            text = secret_pattern.sub(HIDDEN, text)
        for may_hold, pattern in _CREDENTIAL_RULES:
            if may_hold(text):
                text = pattern.sub(_hide_credential, text)
        return _NUMBER_PATTERN.sub(_mask_number, text)


REDACTOR = Redactor()

"""Whether a new account password is hard enough to guess, judged by zxcvbn.

zxcvbn estimates how many guesses a password takes, knowing common passwords, words,
names, keyboard patterns, repeats, sequences and dates, and — given as `user_inputs` —
what an attacker knows about the person: the username, their name, phone number, the
elder they look after, and this product's own name. A score below `MIN_SCORE` (3: about
10^8 guesses or more) is refused with zxcvbn's reason and its suggestions, so the person
knows what to change. Length alone proves nothing: `aaaaaaaaaa` has ten characters.
"""

import re
from collections.abc import Iterable
from typing import Any, Final

from zxcvbn import zxcvbn

from core.errors import InvalidRequest

MIN_SCORE: Final = 3
# zxcvbn's own bound: beyond it, its matching time grows quadratically. Longer passwords are
# judged by their first 72 characters (a strong start is strong).
JUDGED_LENGTH: Final = 72
# Words anyone guessing a password here would try first.
SITE_WORDS: Final = ("nuanxin", "暖心", "暖心守护", "暖心智慧守护", "ordos", "erdos", "鄂尔多斯")
# The demo's accounts share one password, printed in the README: no real account may use it.
DEMO_PASSWORD: Final = "warm-heart-demo"  # 暖心; the product's own name is refused anyway
PUBLISHED = "It is the demo's password, published in nuanxin's README."
PERSONAL = "It contains the username, the person's name or phone number, or this service's name."


def personal_words(values: Iterable[str | None]) -> list[str]:
    """The values and their parts (`wang.xiuying` → also `wang`, `xiuying`, `wangxiuying`)."""
    words: list[str] = list(SITE_WORDS)
    for value in values:
        if not value:
            continue
        parts = [part for part in re.split(r"[\s._@+\-]+", value.lower()) if part]
        words += [value.lower(), "".join(parts), *parts]
        digits = re.sub(r"\D", "", value)
        if len(digits) >= 7:  # a phone number: as dialled at home, and its last digits
            words += [digits, digits[-11:], digits[-8:], digits[-4:]]
    return list(dict.fromkeys(words))


def require_strong(
    password: str, about: Iterable[str | None], field: str = "password", *, demo: bool = False
) -> None:
    """Raise InvalidRequest (on `field`) saying why, unless zxcvbn rates `password` hard
    to guess for someone who knows `about` (username, names, phone numbers). Only the demo's
    own accounts (`demo`) may have the published demo password."""
    if password.strip().lower() == DEMO_PASSWORD and not demo:
        raise InvalidRequest(f"password is too easy to guess: {PUBLISHED}", field=field)
    result: dict[str, Any] = zxcvbn(password[:JUDGED_LENGTH], user_inputs=personal_words(about))
    if result["score"] >= MIN_SCORE:
        return
    raise InvalidRequest(f"password is too easy to guess: {_reason(result)}", field=field)


def _reason(result: dict[str, Any]) -> str:
    feedback = result["feedback"]
    reasons = [feedback["warning"]] if feedback["warning"] else []
    if any(match.get("dictionary_name") == "user_inputs" for match in result["sequence"]):
        reasons.append(PERSONAL)
    if not reasons:
        guesses = result["crack_times_display"]["offline_slow_hashing_1e4_per_second"]
        reasons.append(f"A patient attacker would find it in {guesses}.")
    return " ".join(_sentence(text) for text in [*reasons, *feedback["suggestions"]])


def _sentence(text: str) -> str:
    return text if text.endswith((".", "!", "?")) else f"{text}."

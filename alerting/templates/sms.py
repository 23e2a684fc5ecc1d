"""How long an SMS is, in the units carriers bill, and how an address is shortened to fit.

Two ways of counting, one per provider kind:

- Twilio (and GSM carriers): a text made only of GSM-7 characters fits 160 septets in one
  segment (the extension characters ^{}[]~|€\\ take two); any other character switches
  the whole text to UCS-2, 70 UTF-16 code units. Longer texts are split into segments
  of 153 and 67 because each carries a concatenation header.
- Alibaba Cloud SMS counts characters, whatever they are, signature included: 70 in one
  message, 67 per part beyond that. Each template variable is limited to 35 characters.

Address shortening keeps what a responder needs: every recipient knows the city, so the
province and city go first; then whole administrative parts are dropped from the coarse
end (the district before the building, the building never before the room). Chinese
addresses run coarse → fine, so parts go from the front; addresses in Latin script run
fine → coarse, so parts go from the back.
"""

import math
import re
from collections.abc import Callable

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")

ALIYUN_SEGMENT = 70
ALIYUN_PART = 67
ALIYUN_PARAM_MAX = 35


def is_gsm7(text: str) -> bool:
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENDED for ch in text)


def sms_units(text: str) -> tuple[int, int, int]:
    """(units used, units in one segment, units per part of a longer message)."""
    if is_gsm7(text):
        return sum(2 if ch in GSM7_EXTENDED else 1 for ch in text), 160, 153
    return len(text.encode("utf-16-le")) // 2, 70, 67


def sms_segments(text: str) -> int:
    """Segments a carrier bills for `text` (Twilio's count)."""
    used, single, part = sms_units(text)
    return 1 if used <= single else math.ceil(used / part)


def aliyun_segments(text_with_signature: str) -> int:
    """Messages Alibaba Cloud bills for `text_with_signature` (signature included)."""
    n = len(text_with_signature)
    return 1 if n <= ALIYUN_SEGMENT else math.ceil(n / ALIYUN_PART)


# Everyone who receives an alert knows the elder lives in Ordos.
REGION_PREFIXES = ("内蒙古自治区", "内蒙古", "鄂尔多斯市")

# An administrative part ends with one of these words; longer words are tried first so
# "街道" is not cut at "街" nor "号楼" at "号".
_ZH_PART = re.compile(
    r".+?(?:自治区|街道|社区|小区|嘎查|苏木|号楼|号院|单元|省|市|区|旗|镇|乡|村|路|街|巷|号|栋|幢|楼|室)"
    r"|.+$"
)
_CJK = re.compile(r"[\u3400-\u9fff]")


def strip_region(address: str) -> str:
    stripped = address
    for prefix in REGION_PREFIXES:
        stripped = stripped.removeprefix(prefix)
    return stripped or address


def address_candidates(address: str) -> list[str]:
    """Ever shorter forms of `address`, most complete first, each still a real address."""
    address = address.strip()
    if _CJK.search(address):
        short = strip_region(address)
        parts = _ZH_PART.findall(short)
        tails = ["".join(parts[i:]) for i in range(1, len(parts))]
        forms = [address, short, *tails]
    else:
        parts = [p.strip() for p in address.split(",") if p.strip()]
        forms = [address, *(", ".join(parts[:i]) for i in range(len(parts) - 1, 0, -1))]
    return list(dict.fromkeys(forms))  # drop repeats, keep order


def cut_address(address: str, length: int) -> str:
    """The address cut to `length` characters, marked as cut, keeping its fine end."""
    if len(address) <= length:
        return address
    if _CJK.search(address):
        return "…" + address[-(length - 1) :]
    return address[: length - 3] + "..."  # "…" is not GSM-7 and would double the cost


MIN_ADDRESS = 8  # shorter than this an address no longer finds a door


def fit_address(address: str, fits: Callable[[str], bool], longest: int = ALIYUN_PARAM_MAX) -> str:
    """The most complete form of `address` for which `fits` holds.

    When no form fits (the fixed text alone nearly fills the segment, or it switched to
    UCS-2), the message goes out in more than one segment with the most complete form of
    at most `longest` characters: the acknowledgement instruction is never what is lost.
    """
    address = address.strip()
    forms = [f for f in address_candidates(address) if len(f) >= MIN_ADDRESS or f == address]
    for form in forms:
        if fits(form):
            return form
    short = strip_region(address)
    for length in range(min(len(short), longest), MIN_ADDRESS - 1, -1):
        cut = cut_address(short, length)
        if fits(cut):
            return cut
    for form in forms:
        if len(form) <= longest:
            return form
    return cut_address(short, longest)

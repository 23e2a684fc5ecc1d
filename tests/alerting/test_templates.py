"""Templates: every (key, locale, form) renders and says who, where, what, when and how
to acknowledge; zh-CN SMS fits one segment for real Ordos addresses; the address is what
gets shortened, never the acknowledgement."""

import re
from datetime import UTC, datetime

import pytest

from alerting.notifiers.base import Locale
from alerting.templates import (
    ALIYUN_TEMPLATES,
    KINDS,
    LOCALES,
    REMINDER_KEY,
    SMS_ANSWERS,
    SMS_FORMS,
    TEMPLATES,
    AckOutcome,
    AlertFacts,
    AlertKind,
    Choice,
    Form,
    alert_key,
    aliyun_segments,
    render,
    sms_answer,
    sms_segments,
)
from alerting.templates.catalog import ACK, Layout
from alerting.templates.sms import address_candidates, is_gsm7

AT = datetime(2026, 11, 28, 0, 15, 2, tzinfo=UTC)  # 08:15 in Ordos

ORDOS_ADDRESSES = [
    "东胜区天骄街道杭锦北路12号3单元502",
    "东胜区林荫街道鄂托克西街颐和苑小区7号楼2单元302室",
    "康巴什区哈巴格希街道康城社区康馨雅苑小区15号楼2单元1101室",
    "内蒙古自治区鄂尔多斯市伊金霍洛旗阿勒腾席热镇西环路锦绣苑小区8号楼1单元301室",
    "达拉特旗树林召镇王爱召路东方家园小区3号楼1单元602室",
    "准格尔旗薛家湾镇迎宾路阳光小区12栋2单元401",
    "鄂托克前旗敖勒召其镇乌兰胡同5号",
    "乌审旗嘎鲁图镇萨拉乌苏路金苑小区9号楼",
]
ELDERS = ["张秀英", "其其格", "乌云其木格"]  # Mongolian names run longer
KEYS = sorted({key for key, _, _ in TEMPLATES})
CODE = 123456  # an alert id a city reaches after years: the SMS budget must hold it


def test_the_table_is_complete() -> None:
    expected = {alert_key(k) for k in AlertKind} | {REMINDER_KEY}
    assert set(KEYS) == expected
    assert set(TEMPLATES) == {(k, loc, f) for k in expected for loc in LOCALES for f in Form}
    assert set(KINDS) == {(k, loc) for k in AlertKind for loc in LOCALES}


@pytest.mark.parametrize(("key", "locale", "form"), sorted(TEMPLATES))
def test_every_template_names_elder_address_event_time_and_ack(
    key: str, locale: str, form: Form
) -> None:
    kind = AlertKind.GAS if key == REMINDER_KEY else AlertKind(key.removeprefix("alert."))
    facts = AlertFacts(kind, "张秀英", ORDOS_ADDRESSES[2], AT, attempt=2, code=CODE)

    rendered = render(key, locale, form, facts)  # type: ignore[arg-type]

    text = rendered.text
    assert "张秀英" in text
    assert "1101室" in text  # the door a responder needs survives any shortening
    assert KINDS[(kind, locale)].event in text  # type: ignore[index]
    assert text.endswith(ACK[(locale, form)].format(code=CODE))  # type: ignore[index]
    time = "11月28日8点15分" if (locale, form) == ("zh-CN", Form.VOICE) else "11-28 08:15"
    if (locale, form) == ("en", Form.VOICE):
        time = "November 28 at 08:15"
    assert time in text
    if key == REMINDER_KEY:
        assert "2" in text and rendered.params["attempt"] == "2"
    assert "{" not in text and "}" not in text


@pytest.mark.parametrize("address", ORDOS_ADDRESSES)
@pytest.mark.parametrize("elder", ELDERS)
@pytest.mark.parametrize("form", sorted(SMS_FORMS))
def test_zh_sms_fits_one_segment(address: str, elder: str, form: Form) -> None:
    for kind in AlertKind:
        for key in (alert_key(kind), REMINDER_KEY):
            facts = AlertFacts(kind, elder, address, AT, attempt=3, code=CODE)
            rendered = render(key, "zh-CN", form, facts)

            assert rendered.segments == 1, rendered.text
            assert len(rendered.text) <= 70
            assert address[-4:] in rendered.text  # shortened from the coarse end
            assert all(len(v) <= 35 for v in rendered.params.values())


def test_address_is_cut_and_the_ack_survives() -> None:
    address = "内蒙古自治区鄂尔多斯市东胜区" + "很长很长的名字" * 8 + "路1号"
    for form in sorted(SMS_FORMS):
        rendered = render(
            alert_key(AlertKind.SMOKE),
            "zh-CN",
            form,
            AlertFacts(AlertKind.SMOKE, "张秀英", address, AT, code=CODE),
        )
        assert rendered.text.endswith(ACK[("zh-CN", form)].format(code=CODE))
        assert rendered.segments == 1
        assert "…" in rendered.params["address"] and rendered.params["address"].endswith("路1号")


def test_region_names_go_first() -> None:
    forms = address_candidates(ORDOS_ADDRESSES[3])
    assert forms[1] == "伊金霍洛旗阿勒腾席热镇西环路锦绣苑小区8号楼1单元301室"
    assert forms[2] == "阿勒腾席热镇西环路锦绣苑小区8号楼1单元301室"
    assert forms[-1] == "301室"


def test_english_with_a_latin_address_fits_one_gsm7_segment() -> None:
    address = "Room 502, Unit 3, Building 12, Hangjin North Road, Dongsheng District, Ordos"
    for key in (alert_key(AlertKind.EMERGENCY_CALL), REMINDER_KEY):
        facts = AlertFacts(
            AlertKind.EMERGENCY_CALL, "Zhang Xiuying", address, AT, attempt=2, code=CODE
        )
        rendered = render(key, "en", Form.SMS_REPLY, facts)
        assert is_gsm7(rendered.text)
        assert rendered.segments == 1, rendered.text
        assert "Room 502" in rendered.text
        assert rendered.text.endswith(f"Reply 1#{CODE} to acknowledge")


def test_english_with_a_chinese_address_takes_two_segments_at_most() -> None:
    # The address is stored in Chinese; UCS-2 leaves 70 characters, too few for English.
    facts = AlertFacts(AlertKind.GAS, "Zhang Xiuying", ORDOS_ADDRESSES[2], AT, code=CODE)
    rendered = render(alert_key(AlertKind.GAS), "en", Form.SMS_REPLY, facts)
    assert rendered.segments == 2
    assert rendered.text.endswith(f"Reply 1#{CODE} to acknowledge")


def test_two_way_sms_names_the_alerts_code_and_cannot_be_rendered_without_it() -> None:
    facts = AlertFacts(AlertKind.SMOKE, "张秀英", ORDOS_ADDRESSES[0], AT, code=23)
    assert render(alert_key(AlertKind.SMOKE), "zh-CN", Form.SMS_REPLY, facts).text.endswith(
        "回复1#23确认"
    )
    codeless = AlertFacts(AlertKind.SMOKE, "张秀英", ORDOS_ADDRESSES[0], AT)
    for key in (alert_key(AlertKind.SMOKE), REMINDER_KEY):
        for locale in LOCALES:
            with pytest.raises(ValueError, match="code"):
                render(key, locale, Form.SMS_REPLY, codeless)
    # one-way SMS is an approved template without it; voice is bound to its call
    assert "#" not in render(alert_key(AlertKind.SMOKE), "zh-CN", Form.SMS_NO_REPLY, codeless).text


def test_times_are_local_to_ordos_and_must_be_aware() -> None:
    rendered = render(
        alert_key(AlertKind.FAULT),
        "zh-CN",
        Form.CHAT,
        AlertFacts(
            AlertKind.FAULT, "张秀英", ORDOS_ADDRESSES[0], datetime(2026, 12, 31, 16, 5, tzinfo=UTC)
        ),
    )
    assert "01-01 00:05" in rendered.text
    with pytest.raises(ValueError, match="timezone-aware"):
        AlertFacts(AlertKind.FAULT, "张秀英", ORDOS_ADDRESSES[0], datetime(2026, 11, 28, 8, 15))


@pytest.mark.parametrize("layout", list(Layout))
def test_aliyun_templates_match_what_is_rendered(layout: Layout) -> None:
    template = ALIYUN_TEMPLATES[layout]
    assert set(re.findall(r"\$\{(\w+)\}", template.content)) == set(template.variables)
    assert not re.search(r"(?<!\$)\{", template.content)
    key = REMINDER_KEY if layout is Layout.REMINDER else alert_key(AlertKind.TAMPER)
    facts = AlertFacts(AlertKind.TAMPER, "其其格", ORDOS_ADDRESSES[1], AT, attempt=4)

    rendered = render(key, "zh-CN", Form.SMS_NO_REPLY, facts)

    filled = re.sub(r"\$\{(\w+)\}", lambda m: rendered.params[m[1]], template.content)
    assert rendered.text == "【暖心守护】" + filled
    assert set(rendered.params) == set(template.variables)


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 153 * 2, 2),
        ("[" * 80, 1),  # extension characters take two septets
        ("[" * 81, 2),
        ("暖" * 70, 1),
        ("暖" * 71, 2),
        ("a" * 69 + "暖", 1),  # one Chinese character makes all of it UCS-2
        ("a" * 70 + "暖", 2),
    ],
)
def test_sms_segments(text: str, segments: int) -> None:
    assert sms_segments(text) == segments


def test_aliyun_counts_characters_signature_included() -> None:
    assert aliyun_segments("【暖心守护】" + "好" * 64) == 1
    assert aliyun_segments("【暖心守护】" + "好" * 65) == 2


LONGEST_NAME: dict[Locale, str] = {"zh-CN": "欧阳慕容秀英", "en": "Wang Xiuying-Ouyang"}


@pytest.mark.parametrize(
    ("locale", "outcome"),
    sorted((loc, o) for loc in SMS_ANSWERS for o in SMS_ANSWERS[loc]),
)
def test_every_acknowledgement_answer_is_one_sms_segment(
    locale: Locale, outcome: AckOutcome
) -> None:
    choices = [
        Choice(CODE, LONGEST_NAME[locale], KINDS[(AlertKind.GAS, locale)].event),
        Choice(CODE + 1, LONGEST_NAME[locale], KINDS[(AlertKind.SMOKE, locale)].event),
    ]
    text = sms_answer(locale, outcome, code=CODE, elder=LONGEST_NAME[locale], choices=choices)
    assert text is not None and "{" not in text
    assert sms_segments(text) == 1, text


@pytest.mark.parametrize("locale", LOCALES)
def test_a_list_of_open_alerts_drops_detail_before_a_code(locale: Locale) -> None:
    event = KINDS[(AlertKind.EMERGENCY_CALL, locale)].event
    names = ("张秀英", "李建国") if locale == "zh-CN" else ("Zhang Xiuying", "Li Jianguo")
    few = [Choice(7, names[0], event), Choice(8, names[1], event)]
    text = sms_answer(locale, AckOutcome.AMBIGUOUS, choices=few)
    assert text is not None and sms_segments(text) == 1
    assert "#7" in text and "#8" in text and names[1] in text and event in text
    many = [Choice(CODE + i, LONGEST_NAME[locale], event) for i in range(6)]
    text = sms_answer(locale, AckOutcome.AMBIGUOUS, choices=many)
    assert text is not None and all(f"#{c.code}" in text for c in many)


def test_chatter_gets_no_sms() -> None:
    assert sms_answer("zh-CN", AckOutcome.NOT_AN_ACK) is None

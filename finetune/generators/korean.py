"""Korean questions with Korean final answers (the seed's own example question is Korean).

The model thinks and searches in English (the index is English: "I need to find the capital of
Japan." / ``capital of Japan``) and answers in Korean, names quoted so they stay separate words
("일본의 수도는 'Tokyo'입니다."). Structures: capital, population, area, currency, density,
two-country sum, comparison, not-found (a field the record lacks) ending with
``NOT_FOUND_ANSWER_KO``, and region (drawn only with ``NAMES_WEIGHTS``: the v3 mix's name-lexicon rows
over every country with a Korean name). The last form of every structure is held out of train.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from agent.country_names import KO_NAMES
from agent.prompt import SEARCH_NAME
from finetune.generators.base import Draft, Ending, Rejected, ToolRunner, build_row, not_found, plain
from finetune.generators.countries_broad import FIELDS, Lookup
from finetune.generators.negatives import ABSENT

GENERATOR = "korean"


def has_final_consonant(word: str) -> bool:
    """Whether the last Hangul syllable has a final consonant (picks 은/는, 이/가, 과/와)."""
    ch = word.strip()[-1]
    return "\uac00" <= ch <= "\ud7a3" and (ord(ch) - 0xAC00) % 28 != 0


def _wa(word: str) -> str:
    return word + ("과" if has_final_consonant(word) else "와")


def _eun(word: str) -> str:
    return word + ("은" if has_final_consonant(word) else "는")


def _eul(word: str) -> str:
    return word + ("을" if has_final_consonant(word) else "를")


FORMS: dict[str, tuple[str, ...]] = {
    "capital": (
        "{k}의 수도는 어디입니까?",
        "{k}의 수도는?",
        "{k} 수도가 어디야?",
        "{k}의 수도를 알려 주세요.",
        "{k}의 수도는 어느 도시인가요?",
    ),
    "population": (
        "{k}의 인구는 얼마입니까?",
        "{k}에는 몇 명이 살고 있나요?",
        "{k} 인구 알려줘",
        "{k}의 인구는 몇 명인가요?",
        "{k}에 사는 사람은 몇 명입니까?",
    ),
    "area_km2": (
        "{k}의 면적은 얼마입니까?",
        "{k}의 넓이는 몇 제곱킬로미터인가요?",
        "{k} 면적 알려줘",
        "{k}의 국토 면적은 얼마나 됩니까?",
    ),
    "currencies": (
        "{k}의 통화는 무엇입니까?",
        "{k}에서는 어떤 화폐를 쓰나요?",
        "{k} 화폐 단위가 뭐야?",
        "{k}의 공식 통화는 무엇인가요?",
    ),
    "density": (
        "{k}의 인구 밀도는 얼마입니까?",
        "{k}의 인구 밀도를 계산해 주세요.",
        "{kn} 제곱킬로미터당 몇 명이 사나요?",
        "{k}의 1제곱킬로미터당 인구는?",
    ),
    "sum": (
        "{ab} {b}의 인구를 합치면 몇 명입니까?",
        "{ab} {b}의 총인구는 얼마입니까?",
        "{ab} {b}에는 모두 몇 명이 사나요?",
        "{ab} {b}의 인구 합계를 알려 주세요.",
    ),
    "compare": (
        "{ab} {b} 중 어느 나라의 인구가 더 많습니까?",
        "{ab} {b} 중 인구가 더 많은 나라는?",
        "{ab} {b} 중 어디에 사람이 더 많이 사나요?",
        "인구가 더 많은 나라는 {a}입니까, {b}입니까?",
    ),
    "absent": (
        "{k}의 {fe} 무엇입니까?",
        "{k}의 {f}에 대해 알려 주세요.",
        "{k}의 {fl} 알려 주세요.",
        "{k}의 {fe} 뭐야?",
        "{k}의 {fl} 찾아 줘.",
    ),
    # the record's region: no eval set asks it in Korean, so the mixer may draw it over every country with a
    # Korean name (the name lexicon: 호주 -> Australia) without teaching an eval question's shape
    "region": (
        "{k}의 지역은 어디입니까?",
        "{ke} 어느 지역에 있나요?",
        "{k} 지역 알려줘",
        "{ke} 세계의 어느 지역에 속합니까?",
        "{k}의 소속 지역은?",
    ),
}
ANSWERS = {
    "capital": "{k}의 수도는 '{v}'입니다.",
    "population": "{k}의 인구는 {v}명입니다.",
    "area_km2": "{k}의 면적은 {v} 제곱킬로미터입니다.",
    "currencies": "{k}의 통화는 '{v}'입니다.",
    "region": "{ke} '{v}'에 있습니다.",
}
# absent fields with Korean names (ABSENT key -> Korean noun)
KO_ABSENT = {
    "president": "대통령", "prime_minister": "총리", "gdp": "국내총생산", "anthem": "국가", "animal": "국가 동물",
    "mountain": "가장 높은 산", "timezone": "시간대", "dish": "대표 음식", "life": "기대 수명", "religion": "주요 종교",
    "literacy": "문해율", "unemployment": "실업률", "export": "주요 수출품", "sport": "국민 스포츠",
}  # fmt: skip


NAME_ROWS = 3  # the v4 mix's region rows per Korean name (``name_forms``, ``name_row``)


def name_forms(split: str, rng: random.Random, per_name: int = NAME_ROWS) -> list[tuple[str, str]]:
    """``(country, form)`` for every country with a Korean name: ``per_name`` different region forms each, shuffled."""
    pairs = [(name, f) for name in sorted(KO_NAMES) for f in rng.sample(_forms("region", split), per_name)]
    rng.shuffle(pairs)
    return pairs


def _forms(kind: str, split: str) -> list[str]:
    forms = FORMS[kind]
    return list(forms[-1:]) if split == "heldout" else list(forms[:-1])


KIND_WEIGHTS = (18, 18, 10, 10, 10, 10, 10, 14, 0)  # of FORMS' kinds, the v2 candidate's mix (no region)
NAMES_WEIGHTS = (0, 0, 0, 0, 0, 0, 0, 0, 1)  # region only: the name-lexicon rows (``FORMS["region"]``)


def one(
    records: list[dict[str, Any]],
    run: ToolRunner,
    rng: random.Random,
    split: str,
    weights: Sequence[float] = KIND_WEIGHTS,
) -> dict[str, Any]:
    """One Korean trajectory over the split's countries that have a Korean name (``weights`` of FORMS' kinds)."""
    recs = [r for r in records if r["name"] in KO_NAMES]
    if len(recs) < 3:
        raise Rejected("too few countries with a Korean name in this split")
    kind = rng.choices(list(FORMS), weights=weights)[0]
    look, draft = Lookup(run), Draft(run)
    form = rng.choice(_forms(kind, split))
    template = f"{kind}:{FORMS[kind].index(form)}"
    pop, area = FIELDS["population"], FIELDS["area_km2"]
    if kind in ANSWERS:
        rec = rng.choice([r for r in recs if r.get(kind)])
        k = KO_NAMES[rec["name"]]
        question = form.format(k=k, ke=_eun(k))
        shown = look.record(draft, rec, FIELDS[kind], True)
        gold: Any = (
            list(rec[kind])
            if isinstance(rec[kind], list)
            else (float(rec[kind]) if FIELDS[kind].numeric else rec[kind])
        )
        ending = Ending(ANSWERS[kind].format(k=k, ke=_eun(k), v=shown), gold, 1e-6 if FIELDS[kind].numeric else None)
    elif kind == "density":
        rec = rng.choice([r for r in recs if r.get("population") and r.get("area_km2")])
        k = KO_NAMES[rec["name"]]
        question = form.format(k=k, kn=_eun(k))
        p = plain(look.record(draft, rec, pop, True))
        a = plain(look.record(draft, rec, area, False))
        result = draft.calculate("Now I need to divide the population by the area.", f"round({p} / {a})")
        value = rec["population"] / float(rec["area_km2"])
        ending = Ending(
            f"{k}의 인구 밀도는 제곱킬로미터당 약 {result}명입니다.", value, max(0.01, 0.51 / max(value, 1e-9))
        )
    elif kind in ("sum", "compare"):
        ra, rb = rng.sample([r for r in recs if r.get("population")], 2)
        ka, kb = KO_NAMES[ra["name"]], KO_NAMES[rb["name"]]
        question = form.format(ab=_wa(ka), a=ka, b=kb)
        x = plain(look.record(draft, ra, pop, True))
        y = plain(look.record(draft, rb, pop, False))
        if kind == "sum":
            result = draft.calculate("Now I need to add the two populations.", f"{x} + {y}")
            ending = Ending(
                f"{_wa(ka)} {kb}의 인구를 합치면 {result}명입니다.", float(ra["population"] + rb["population"]), 1e-6
            )
        else:
            best, kbest = (ra, ka) if ra["population"] > rb["population"] else (rb, kb)
            ending = Ending(f"{kbest}({best['name']})의 인구가 더 많습니다.", best["name"])
    else:  # absent field: the record comes back without it
        key = rng.choice(sorted(KO_ABSENT))
        rec = rng.choice(recs)
        k = KO_NAMES[rec["name"]]
        f = KO_ABSENT[key]
        question = form.format(k=k, f=f, fe=_eun(f), fl=_eul(f))
        label, keyword, _ = ABSENT[key]
        obs = draft.act(f"I need to find {label} of {rec['name']}.", SEARCH_NAME, f"{keyword} of {rec['name']}")
        if not obs.startswith(f"{rec['name']}:"):
            raise Rejected(f"first result is not {rec['name']}")
        ending = not_found(question)
        template += f":{key}"
    return build_row(
        question=question,
        draft=draft,
        ending=ending,
        kind=f"ko_{kind}",
        generator=GENERATOR,
        template=template,
        split=split,
        meta={"countries": [r["name"] for r in records if KO_NAMES.get(r["name"], "\0") in question]},
    )


# The v4 mix's name rows (attempt 4): every Korean name at least ``NAME_ROWS`` times, each a region question
# answered in a form that names the field and the English name ("호주(Australia)의 지역은 'Oceania'입니다.") —
# v3's "{ke} '{v}'에 있습니다." bled into a language answer ("페루는 'Portuguese'에 있습니다.")
NAME_ANSWER = "{k}({name})의 지역은 '{v}'입니다."


def name_row(
    rec: dict[str, Any], run: ToolRunner, rng: random.Random, split: str, form: str | None = None
) -> dict[str, Any]:
    """A region question about ``rec`` by its Korean name (``form``, or one of ``FORMS["region"]`` for the
    split: the last form held out)."""
    if rec["name"] not in KO_NAMES or not rec.get("region"):
        raise Rejected(f"{rec['name']}: no Korean name or no region")
    look, draft = Lookup(run), Draft(run)
    form = form or rng.choice(_forms("region", split))
    k = KO_NAMES[rec["name"]]
    question = form.format(k=k, ke=_eun(k))
    shown = look.record(draft, rec, FIELDS["region"], True)
    ending = Ending(NAME_ANSWER.format(k=k, name=rec["name"], v=shown), rec["region"])
    return build_row(
        question=question,
        draft=draft,
        ending=ending,
        kind="ko_region",
        generator=GENERATOR,
        template=f"region_named:{FORMS['region'].index(form)}",
        split=split,
        meta={"countries": [rec["name"]]},
    )

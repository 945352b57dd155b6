"""Korean names of the knowledge pack's countries (record title -> Hangul).

``KO_NAMES`` is the one name a generator writes for each country (``finetune.generators.korean``);
``KO_ALTERNATIVES`` are other common names a question may use instead. The grounding check reads both:
a question in Hangul that names none of a country's names is not about that country, whatever the
search query says (``agent.grounding.records.korean_query_allows``).
"""

from __future__ import annotations

KO_NAMES: dict[str, str] = {
    "Japan": "일본", "China": "중국", "United States": "미국", "United Kingdom": "영국", "France": "프랑스",
    "Germany": "독일", "Italy": "이탈리아", "Spain": "스페인", "Portugal": "포르투갈", "Netherlands": "네덜란드",
    "Belgium": "벨기에", "Switzerland": "스위스", "Austria": "오스트리아", "Sweden": "스웨덴", "Norway": "노르웨이",
    "Denmark": "덴마크", "Finland": "핀란드", "Poland": "폴란드", "Czech Republic": "체코", "Hungary": "헝가리",
    "Greece": "그리스", "Turkey": "터키", "Russia": "러시아", "Ukraine": "우크라이나", "India": "인도",
    "Pakistan": "파키스탄", "Bangladesh": "방글라데시", "Indonesia": "인도네시아", "Malaysia": "말레이시아",
    "Thailand": "태국", "Vietnam": "베트남", "Philippines": "필리핀", "Singapore": "싱가포르", "Mongolia": "몽골",
    "Canada": "캐나다", "Mexico": "멕시코", "Brazil": "브라질", "Argentina": "아르헨티나", "Chile": "칠레",
    "Peru": "페루", "Colombia": "콜롬비아", "Venezuela": "베네수엘라", "Egypt": "이집트", "Nigeria": "나이지리아",
    "Kenya": "케냐", "Ethiopia": "에티오피아", "South Africa": "남아프리카 공화국", "Morocco": "모로코",
    "Algeria": "알제리", "Australia": "호주", "New Zealand": "뉴질랜드", "Iran": "이란", "Iraq": "이라크",
    "Saudi Arabia": "사우디아라비아", "Israel": "이스라엘", "Ireland": "아일랜드", "Iceland": "아이슬란드",
    "Cuba": "쿠바", "Cambodia": "캄보디아", "Laos": "라오스", "Nepal": "네팔", "Sri Lanka": "스리랑카",
    "Romania": "루마니아", "Bulgaria": "불가리아", "Serbia": "세르비아", "Croatia": "크로아티아",
    "South Korea": "대한민국", "North Korea": "북한", "Ghana": "가나", "Tanzania": "탄자니아", "Uganda": "우간다",
    "Kazakhstan": "카자흐스탄", "Uzbekistan": "우즈베키스탄", "Syria": "시리아", "Jordan": "요르단",
    "Qatar": "카타르", "Kuwait": "쿠웨이트", "Myanmar": "미얀마", "Bolivia": "볼리비아", "Ecuador": "에콰도르",
    "Uruguay": "우루과이", "Paraguay": "파라과이", "Estonia": "에스토니아", "Latvia": "라트비아",
    "Lithuania": "리투아니아", "Slovakia": "슬로바키아", "Slovenia": "슬로베니아",
}  # fmt: skip

KO_ALTERNATIVES: dict[str, tuple[str, ...]] = {
    "United States": ("미합중국",), "United Kingdom": ("잉글랜드",), "Netherlands": ("홀란드",),
    "Turkey": ("튀르키예",), "Australia": ("오스트레일리아",), "South Korea": ("한국",),
    "North Korea": ("조선민주주의인민공화국",),
}  # fmt: skip


def korean_names(title: str) -> tuple[str, ...]:
    """Every Korean name of a country (the generators' first), or () for a country without one."""
    if title not in KO_NAMES:
        return ()
    return (KO_NAMES[title], *KO_ALTERNATIVES.get(title, ()))

"""Word-level variation: interchangeable words that each document picks independently.

Applied to every composed sentence after slot filling, once per occurrence, so two documents
that draw the same corpus sentence usually still differ inside it (breaking shared 5-gram
shingles). Keys never overlap with slot values; alternatives keep the grammar (same article
class in English, same position in Chinese).
"""

from __future__ import annotations

import random
import re

VARIANTS_EN: list[list[str]] = [
    ["about", "around", "roughly"], ["said", "stated", "noted"], ["large", "big", "sizable"],
    ["quickly", "rapidly", "fast"], ["help", "assist"], ["important", "essential"],
    ["expected", "anticipated"], ["residents", "locals", "inhabitants"], ["almost", "nearly"],
    ["usually", "typically", "normally"], ["mostly", "mainly", "largely"], ["whole", "entire"],
    ["cheap", "inexpensive"], ["found", "discovered"], ["study", "survey"], ["reduce", "cut", "lower"],
    ["problem", "issue"], ["city", "town"], ["children", "kids"], ["trip", "journey"],
    ["often", "frequently"], ["simple", "basic"], ["main", "primary", "principal"], ["buy", "purchase"],
    ["completely", "entirely", "totally"], ["finally", "eventually"], ["really", "truly"],
    ["beautiful", "lovely", "stunning"], ["excellent", "superb", "wonderful"], ["quiet", "calm", "peaceful"],
    ["several", "various", "a number of"], ["start", "begin"], ["people", "folks", "visitors"],
    ["reported", "recorded"], ["plans", "intends"], ["new", "new", "fresh"], ["shows", "indicates"],
    ["clear", "obvious"], ["increase", "rise"], ["recent", "latest"],
    ["because", "since"], ["although", "though", "even though"], ["probably", "likely"],
    ["support", "back"], ["area", "region", "district"], ["use", "employ"], ["results", "findings", "outcomes"],
    ["approach", "method"], ["previous", "earlier", "prior"], ["suggest", "indicate"],
    ["strongest", "largest", "clearest"], ["great", "fantastic"], ["whole day", "entire day"],
]

VARIANTS_ZH: list[list[str]] = [
    ["表示", "称", "指出"], ["目前", "眼下", "当前"], ["非常", "特别", "相当"], ["已经", "已"],
    ["可以", "能够", "可"], ["大约", "大概", "约"], ["然后", "接着", "随后"], ["最后", "最终"],
    ["居民", "市民"], ["附近", "周边"], ["因为", "由于"], ["之前", "以前"], ["现在", "如今"],
    ["每天", "每日"], ["一定要", "务必"], ["重要", "关键"], ["预计", "估计"], ["宣布", "公布"],
    ["研究人员", "科研人员", "研究者"], ["大大", "显著"], ["不少", "许多"], ["通常", "一般", "往往"],
    ["几乎", "差不多"], ["立刻", "马上", "立即"], ["计划", "打算"], ["希望", "期望"], ["提醒", "提示"],
    ["发现", "发觉"], ["结果", "结论"], ["影响", "作用"], ["比较", "对比"], ["问题", "状况"],
    ["一些", "若干"], ["主要", "首要"], ["简单", "简便"], ["其中", "这当中"],
    ["进行", "开展"], ["提高", "提升"], ["减少", "降低"], ["使用", "利用"], ["方法", "办法"],
    ["时间", "时长"], ["这种", "这类"], ["小时", "钟头"], ["特别", "格外"],
    ["所有", "全部"], ["每个", "每一个"], ["开始", "着手"], ["负责人", "主管"], ["城市", "都市"],
    ["地区", "区域"], ["一种", "一类"], ["温度", "气温"], ["朋友", "伙伴"], ["工作人员", "职员"],
    ["之后", "以后"], ["一起", "一同"], ["仍然", "依然", "仍"], ["只能", "只好"], ["比如", "例如"],
    ["这些", "这批"], ["不过", "但是", "然而"], ["所以", "因此"], ["总是", "一直"], ["能否", "是否能"],
]


class WordVariation:
    """Replaces each occurrence of a known word with a random interchangeable form."""

    def __init__(self, lang: str) -> None:
        groups = VARIANTS_ZH if lang == "zh" else VARIANTS_EN
        self.alternatives: dict[str, list[str]] = {}
        for group in groups:
            for word in group:
                self.alternatives.setdefault(word, group)
        keys = sorted(self.alternatives, key=len, reverse=True)
        alternation = "|".join(re.escape(k) for k in keys)
        # English: whole words only (no hyphenated compounds); Chinese: substring match.
        pattern = rf"(?<![\w-])(?:{alternation})(?![\w-])" if lang != "zh" else f"(?:{alternation})"
        self.pattern = re.compile(pattern)

    def apply(self, rng: random.Random, sentence: str) -> str:
        return self.pattern.sub(lambda m: rng.choice(self.alternatives[m.group(0)]), sentence)

    def split(self, text: str) -> list[str | list[str]]:
        """``text`` as literal pieces and alternative groups (lists), for fast repeated filling."""
        parts: list[str | list[str]] = []
        last = 0
        for match in self.pattern.finditer(text):
            parts += [text[last : match.start()], self.alternatives[match.group(0)]]
            last = match.end()
        parts.append(text[last:])
        return [p for p in parts if p != ""]

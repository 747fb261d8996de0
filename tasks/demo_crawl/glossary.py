"""Bilingual names and terms for the demo alignment data (``tasks/demo_crawl/alignment.py``).

``TOPIC_NAMES``: how each corpus topic is named in English and Chinese answers.
``TERMS``: English/Chinese pairs of words that occur in the corpus paragraphs (written for the
project). A "translate the key term" task picks a term that occurs in the paragraph's own language
and asks for the other side; ``terms_in`` finds them.
"""

from __future__ import annotations

import re

TOPIC_NAMES: dict[str, dict[str, str]] = {
    "news": {"en": "news", "zh": "新闻"},
    "encyclopedia": {"en": "encyclopedia", "zh": "百科"},
    "forum": {"en": "forum post", "zh": "论坛帖子"},
    "recipe": {"en": "recipe", "zh": "菜谱"},
    "science": {"en": "science", "zh": "科学"},
    "travel": {"en": "travel", "zh": "旅行"},
    "code": {"en": "programming tutorial", "zh": "编程教程"},
    "academic": {"en": "academic abstract", "zh": "学术摘要"},
}

# (English, Chinese); either side may appear in the corpus, not necessarily both
TERMS: list[tuple[str, str]] = [
    ("bus", "公交"), ("hospital", "医院"), ("marathon", "马拉松"), ("museum", "博物馆"), ("farmers", "农民"),
    ("wheat", "小麦"), ("river", "河流"), ("violin", "小提琴"), ("photosynthesis", "光合作用"), ("glacier", "冰川"),
    ("chess", "国际象棋"), ("honey bee", "蜜蜂"), ("printing press", "印刷机"), ("movable type", "活字"),
    ("router", "路由器"), ("firmware", "固件"), ("guitar", "吉他"), ("battery", "电池"), ("car battery", "电瓶"),
    ("oven", "烤箱"), ("garlic", "大蒜"), ("dumplings", "饺子"), ("lentil soup", "扁豆汤"), ("mung bean soup", "绿豆汤"), ("curry", "咖喱"),
    ("salad", "沙拉"), ("eggs", "鸡蛋"), ("tomato", "番茄"), ("cucumber", "黄瓜"), ("fish", "鱼"),
    ("bacterium", "细菌"), ("plastics", "塑料"), ("galaxy", "星系"), ("sleep", "睡眠"), ("memories", "记忆"),
    ("sodium", "钠"), ("lithium", "锂"), ("sea turtles", "海龟"), ("vaccines", "疫苗"), ("immune system", "免疫系统"),
    ("earthquake", "地震"), ("ferry", "渡轮"), ("island", "海岛"), ("lake", "湖泊"), ("station", "车站"),
    ("virtual environment", "虚拟环境"), ("branch", "分支"), ("index", "索引"), ("regular expressions", "正则表达式"),
    ("unit tests", "单元测试"), ("browser", "浏览器"), ("database", "数据库"), ("algorithm", "算法"),
    ("data stream", "数据流"), ("language models", "语言模型"), ("neural network", "神经网络"),
    ("scaling laws", "缩放定律"), ("corpus", "语料库"), ("satellite", "卫星"), ("subsidies", "补贴"),
    ("well-being", "幸福感"), ("temperature", "温度"), ("giant panda", "大熊猫"), ("bamboo", "竹子"),
    ("erhu", "二胡"), ("library", "图书馆"), ("Spanish", "西班牙语"), ("tap", "水龙头"), ("washer", "垫圈"),
    ("sourdough", "酸面包"), ("starter", "酵种"), ("kitchen", "厨房"), ("murals", "壁画"), ("oxygen", "氧气"),
    ("carbon dioxide", "二氧化碳"), ("drought", "干旱"), ("livestock", "牲畜"), ("noodle shop", "面馆"),
    ("prices", "价格"), ("police", "警察"), ("dam", "水坝"), ("Go", "围棋"), ("telescope", "望远镜"),
]


# whole words; "Go" (the game) only when capitalised
_EN_PATTERNS = [re.compile(rf"(?<![\w-]){re.escape(en)}(?![\w-])", 0 if en[0].isupper() else re.IGNORECASE) for en, _ in TERMS]


def terms_in(text: str, lang: str) -> list[tuple[str, str]]:
    """(term in ``lang``, its translation) for every glossary term that occurs in ``text``, longest first."""
    found: list[tuple[str, str]] = []
    lowered = text.lower()
    for (en, zh), pattern in zip(TERMS, _EN_PATTERNS):
        if lang == "en":
            if en.lower() in lowered and pattern.search(text):  # substring test first: cheap
                found.append((en, zh))
        elif zh in text:
            found.append((zh, en))
    found.sort(key=lambda pair: -len(pair[0]))
    # a term inside a longer found term ("battery" in "car battery") is not a separate answer
    return [p for i, p in enumerate(found) if not any(p[0] in q[0] for q in found[:i])]

"""Small hand-written documents for filter tests: clean English and Chinese pages plus junk."""

from __future__ import annotations

EN_SENTENCES = [
    "The river valley was settled by farmers who grew wheat and barley along the banks.",
    "Over the centuries the small village became a market town with a stone bridge.",
    "Merchants travelled from the coast to trade salt, wool and iron tools with the locals.",
    "In the winter the roads were often closed, so families stored food in deep cellars.",
    "A school was built near the church, and children learned to read and write there.",
    "The railway arrived in the last century and changed the rhythm of daily life.",
    "Today the town has a museum that tells the story of its people and their work.",
    "Visitors can walk along the old towpath and watch the boats pass under the bridge.",
]
ZH_SENTENCES = [
    "这座小城位于长江下游的平原上，历史上一直是重要的商业中心。",
    "每到春天，城外的油菜花盛开，吸引了许多游客前来观赏和拍照。",
    "当地的居民以种植水稻和养殖淡水鱼为生，生活节奏比较缓慢。",
    "老街上保存着许多明清时期的建筑，木门和石板路都很有特色。",
    "近年来，政府投入资金修复了古桥，并在河边建设了新的公园。",
    "学校的孩子们在课后常常到图书馆读书，也喜欢在操场上踢球。",
    "每逢节日，街上会举行舞龙表演，人们穿着传统服装一起庆祝。",
    "这里的美食也很有名，尤其是用本地河鲜做成的各种家常菜。",
]
EN_CLEAN = "\n".join(" ".join(EN_SENTENCES[i : i + 2]) for i in range(0, len(EN_SENTENCES), 2))
ZH_CLEAN = "\n".join("".join(ZH_SENTENCES[i : i + 2]) for i in range(0, len(ZH_SENTENCES), 2))
FR_CLEAN = (
    "La vallée de la rivière était habitée par des agriculteurs qui cultivaient le blé et l'orge. "
    "Au fil des siècles, le petit village est devenu une ville de marché avec un pont de pierre. "
    "Les marchands venaient de la côte pour échanger du sel, de la laine et des outils en fer."
)

"""Spam and junk pages for the demo crawl, one generator per ``junk_type``.

Every generator takes a seeded ``random.Random`` and a language ("en" or "zh") and returns the
page text. Junk is randomised (word picks, counts, numbers) so that junk pages are mostly not
near-duplicates of each other; the quality filter, not dedup, should remove them.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from tasks.demo_crawl.boilerplate import COOKIE_BANNERS, FOOTER_LINES, NAV_ITEMS, SHARE_LINES

SPAM_KEYWORDS = {
    "en": ["cheap", "best price", "discount", "buy now", "free shipping", "replica watches", "casino bonus",
           "online pharmacy", "weight loss", "payday loans", "click here", "limited offer", "win big",
           "crypto signals", "100% guaranteed", "hot deals", "luxury bags", "SEO services", "followers"],
    "zh": ["优惠", "特价", "免费领取", "代购", "高仿手表", "网赚", "日赚千元", "减肥神药", "包邮", "秒杀",
           "贷款秒批", "点击进入", "限时抢购", "彩票", "刷单", "正品保证", "加微信", "最低价", "代开发票"],
}

GIBBERISH_SYLLABLES = ["ka", "lo", "mi", "tre", "vu", "sen", "pha", "dor", "qui", "zal", "nep", "ro",
                       "sti", "ga", "bel", "un", "ox", "fre", "yan", "tol", "wum", "ez", "cri", "hap"]
GIBBERISH_HANZI = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处队南给色光门即保治北造百规热领七海口东导器压志世金增争济阶油思术极交受联什认六共权收证改清己美再采转更单风切打白教速花带安场身车例真务具万每目至达走积示议声报斗完类八离华名确才科张信马节话米整空元况今集温传土许步群广石记需段研界拉林律叫且究观越织装影算低持音众书布复容儿须际商非验连断深难近矿千周委素技备半办青省列习响约支般史感劳便团往酸历市克何除消构府称太准精值号率族维划选标写存候毛亲快效斯院查江型眼王按格养易置派层片始却专状育厂京识适属圆包火住调满县局照参红细引听该铁价严"


def keyword_spam(rng: random.Random, lang: str) -> str:
    words = SPAM_KEYWORDS[lang]
    sep = " " if lang == "en" else ""
    lines = []
    for _ in range(rng.randint(4, 9)):
        picks = [rng.choice(words) for _ in range(rng.randint(6, 14))]
        lines.append(sep.join(picks) + (" " if lang == "en" else "") + str(rng.randint(10, 999)))
    return "\n".join(lines)


def boilerplate_only(rng: random.Random, lang: str) -> str:
    site = rng.choice(["example-news", "daily-portal", "citylife"]) + str(rng.randint(1, 99))
    nav = (" | " if lang == "en" else " | ").join(rng.sample(NAV_ITEMS[lang], rng.randint(5, 9)))
    footer = [line.format(year=rng.randint(2012, 2024), site=site) for line in rng.sample(FOOTER_LINES[lang], 3)]
    share = rng.sample(SHARE_LINES[lang], 3)
    return "\n".join([nav, *share, *footer])


def short(rng: random.Random, lang: str) -> str:
    if lang == "zh":
        return rng.choice(["页面加载中……", "暂无内容", "该页面不存在", "请稍后再试", "登录后查看"]) + f"（{rng.randint(1, 9999)}）"
    return rng.choice(["Loading...", "Page not found.", "No content yet.", "Please log in.", "Coming soon!"]) + f" ({rng.randint(1, 9999)})"


def javascript(rng: random.Random, lang: str) -> str:
    notice = "请启用JavaScript以查看本页面。" if lang == "zh" else "Please enable JavaScript to view this page."
    var = rng.choice(["_q", "dataLayer", "cfg", "_tr", "ads"])
    code = [
        f"var {var} = window.{var} || [];",
        f"{var}.push(['init', 'UA-{rng.randint(100000, 999999)}-{rng.randint(1, 9)}']);",
        f"document.getElementById('app-{rng.randint(1, 99)}').style.display = 'none';",
        "if (typeof window !== 'undefined') { loadWidgets(); }",
        f"setTimeout(function() {{ refresh({rng.randint(100, 9000)}); }}, {rng.randint(100, 5000)});",
    ]
    rng.shuffle(code)
    return notice + "\n" + "\n".join(code)


def lorem_like_gibberish(rng: random.Random, lang: str) -> str:
    if lang == "zh":
        return "\n".join("".join(rng.choice(GIBBERISH_HANZI) for _ in range(rng.randint(40, 90)))
                         for _ in range(rng.randint(3, 6)))
    words = ["".join(rng.choice(GIBBERISH_SYLLABLES) for _ in range(rng.randint(1, 4))) for _ in range(rng.randint(80, 160))]
    return " ".join(words).capitalize() + "."


def repeated_lines(rng: random.Random, lang: str) -> str:
    if lang == "zh":
        line = rng.choice(["欢迎光临本店", "点击这里领取红包", "最新消息请关注公众号", "本站内容每日更新"]) + str(rng.randint(1, 99))
    else:
        line = rng.choice(["Welcome to our store", "Click here to claim your prize", "Subscribe for updates",
                           "Best deals of the week"]) + f" {rng.randint(1, 99)}"
    return "\n".join([line] * rng.randint(12, 30))


def symbol_heavy(rng: random.Random, lang: str) -> str:
    symbols = ["★", "☆", "$", "#", ">>>", "!!!", "***", "@", "%", "~~", "|", "+++", "◆", "♥"]
    word = rng.choice(SPAM_KEYWORDS[lang])
    parts = []
    for _ in range(rng.randint(30, 60)):
        parts.append(rng.choice(symbols) * rng.randint(1, 4))
        if rng.random() < 0.15:
            parts.append(word)
    return " ".join(parts)


def cookie_policy(rng: random.Random, lang: str) -> str:
    if lang == "zh":
        pool = COOKIE_BANNERS["zh"] + [
            "Cookie是网站存储在您浏览器中的小型文本文件。", "必要Cookie用于保证网站的基本功能，无法关闭。",
            "分析Cookie帮助我们了解访客如何使用本网站。", "您可以随时在浏览器设置中删除或禁用Cookie。",
            f"本政策最近一次更新于{rng.randint(2015, 2024)}年{rng.randint(1, 12)}月。", "如有疑问，请通过隐私邮箱与我们联系。"]
    else:
        pool = COOKIE_BANNERS["en"] + [
            "Cookies are small text files stored in your browser by the websites you visit.",
            "Strictly necessary cookies keep the site working and cannot be switched off.",
            "Analytics cookies help us understand how visitors use our pages.",
            "You can delete or block cookies at any time in your browser settings.",
            f"This policy was last updated in {rng.choice(['March', 'June', 'October'])} {rng.randint(2015, 2024)}.",
            "If you have questions, contact our data protection officer."]
    return "\n".join(rng.sample(pool, rng.randint(4, len(pool))))


def bullet_list(rng: random.Random, lang: str) -> str:
    items = NAV_ITEMS[lang] + SPAM_KEYWORDS[lang]
    bullet = rng.choice(["•", "-", "*", "·"])
    return "\n".join(f"{bullet} {rng.choice(items)} {rng.randint(1, 500)}" for _ in range(rng.randint(10, 25)))


def curly_braces(rng: random.Random, lang: str) -> str:
    intro = "模板渲染失败：" if lang == "zh" else "Template error:"
    fields = ["user.name", "item.price", "page.title", "cart.total", "post.author", "site.url"]
    lines = [intro] + [f"{{{{ {rng.choice(fields)} }}}} {{% if x{rng.randint(1, 50)} %}} {{ {rng.randint(1, 999)} }}"
                       for _ in range(rng.randint(4, 10))]
    return "\n".join(lines)


JUNK_GENERATORS: dict[str, Callable[[random.Random, str], str]] = {
    "keyword_spam": keyword_spam,
    "boilerplate_only": boilerplate_only,
    "short": short,
    "javascript": javascript,
    "lorem_like_gibberish": lorem_like_gibberish,
    "repeated_lines": repeated_lines,
    "symbol_heavy": symbol_heavy,
    "cookie_policy": cookie_policy,
    "bullet_list": bullet_list,
    "curly_braces": curly_braces,
}

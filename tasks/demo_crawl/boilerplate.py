"""Page boilerplate (navigation, footers, cookie banners, share bars) in English and Chinese.

Used twice: as HTML chrome around WARC pages (which main-text extraction should strip) and as
lines appended to near-duplicate JSONL texts ("boilerplate added" edit).
"""

from __future__ import annotations

import random

NAV_ITEMS = {
    "en": ["Home", "News", "World", "Business", "Science", "Travel", "Food", "Opinion", "Sports",
           "About us", "Contact", "Subscribe", "Log in", "Archive"],
    "zh": ["首页", "新闻", "国际", "财经", "科技", "旅游", "美食", "评论", "体育", "关于我们", "联系我们",
           "订阅", "登录", "往期回顾"],
}

COOKIE_BANNERS = {
    "en": ["We use cookies to improve your experience on our site. By continuing to browse, you agree to our use of cookies.",
           "This website uses cookies for analytics and personalised content. Accept all cookies or manage your preferences.",
           "Cookies help us deliver our services. Click OK to accept or read our cookie policy to learn more."],
    "zh": ["本网站使用Cookie来改善您的浏览体验。继续浏览即表示您同意我们使用Cookie。",
           "我们使用Cookie进行访问统计和个性化推荐。您可以接受全部Cookie或管理您的偏好设置。",
           "为了提供更好的服务，本站会使用Cookie。点击同意即表示接受，或查看隐私政策了解详情。"],
}

FOOTER_LINES = {
    "en": ["Copyright {year} {site}. All rights reserved.", "Privacy policy | Terms of use | Cookie settings",
           "Follow us on social media for daily updates.", "Advertise with us | Careers | Help center",
           "Sign up for our newsletter and never miss a story."],
    "zh": ["版权所有 © {year} {site} 保留所有权利", "隐私政策 | 使用条款 | Cookie设置",
           "关注我们的官方账号，获取每日更新。", "广告合作 | 加入我们 | 帮助中心",
           "订阅我们的电子报，第一时间获取最新内容。"],
}

SHARE_LINES = {
    "en": ["Share this article: Facebook | Twitter | Email", "Related articles", "Read more:",
           "Comments (0)", "Print this page", "Was this article helpful? Yes / No"],
    "zh": ["分享到：微信 | 微博 | QQ空间", "相关文章", "阅读更多：", "评论（0）", "打印本页",
           "这篇文章对您有帮助吗？有 / 没有"],
}


def boilerplate_lines(rng: random.Random, lang: str, site: str, year: int, num_lines: int) -> list[str]:
    """``num_lines`` boilerplate lines (share bar, footer, cookie notice) for appending to a text."""
    lang = "zh" if lang == "zh" else "en"
    pool = SHARE_LINES[lang] + [line.format(year=year, site=site) for line in FOOTER_LINES[lang]] + COOKIE_BANNERS[lang]
    return rng.sample(pool, min(num_lines, len(pool)))

"""Deterministic demo people shaped like Otog Banner's report, written as an HR export (Chinese headers).

126 certificate holders (37 intermediate 社会工作师, 89 assistant 助理社会工作师) among 225 workers, 99
of whom are community full-time workers (社区专职工作者), spread over the six township stations.
"""

from __future__ import annotations

import csv
import io
import random
from datetime import date, timedelta

from shared.validators import id_number_check_char

# The municipal HR system that imports the demo people; the dev stack trusts its certificates.
DEMO_HR_CLIENT = "hr-ordos"
CENTRE = "鄂托克旗社工服务指导中心"
TOWNSHIPS = ["乌兰镇社工站", "棋盘井镇社工站", "蒙西镇社工站", "木凯淖尔镇社工站", "苏米图苏木社工站",
             "阿尔巴斯苏木社工站"]
STAR_RATINGS = {"乌兰镇社工站": 10}
DIVISION = "150624"  # 鄂托克旗
HEADERS = ["姓名", "身份证号", "性别", "出生日期", "手机号", "学历", "政治面貌", "所在社工站", "岗位", "是否专职",
           "入职日期", "证书等级", "证书编号", "取得日期"]
SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
    "苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史"
    "顾侯邵孟龙万段漕钱汤尹黎易常武乔贺赖龚文"
)
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国志红玉梅宏博文晨阳凯鹏辉斌雪琳欣悦"
LEVEL_LABEL = {"intermediate": "社会工作师", "assistant": "助理社会工作师"}


def id_number(rng: random.Random, birth: date, female: bool) -> str:
    seq = rng.randrange(0, 50) * 2 + (0 if female else 1)
    first17 = f"{DIVISION}{birth:%Y%m%d}{rng.randrange(0, 10)}{seq:02d}"
    return first17 + id_number_check_char(first17)


def demo_people(seed: int = 2024) -> list[dict]:
    rng = random.Random(seed)
    levels = ["intermediate"] * 37 + ["assistant"] * 89 + [None] * 99
    rng.shuffle(levels)
    people, used = [], set()
    for i, level in enumerate(levels):
        female = rng.random() < 0.7
        birth = date(1970, 1, 1) + timedelta(days=rng.randrange(0, 365 * 30))
        number = id_number(rng, birth, female)
        while number in used:
            number = id_number(rng, birth, female)
        used.add(number)
        community_worker = level is None  # the 99 community full-time workers recruited in 2023
        obtained = date(2019, 1, 1) + timedelta(days=rng.randrange(0, 365 * 5)) if level else None
        people.append({
            "姓名": rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2)))),
            "身份证号": number, "性别": "女" if female else "男", "出生日期": birth.isoformat(),
            "手机号": f"13{rng.randrange(0, 10)}{rng.randrange(10**7, 10**8)}",
            "学历": rng.choice(["大专", "本科", "本科", "硕士研究生"]),
            "政治面貌": rng.choice(["群众", "中共党员", "共青团员"]),
            "所在社工站": TOWNSHIPS[i % len(TOWNSHIPS)],
            "岗位": "社区专职工作者" if community_worker else "社工站社工",
            "是否专职": "是",
            "入职日期": (date(2023, 1 + i % 12, 1) if community_worker
                     else date(2020 + i % 3, 1 + i % 12, 1)).isoformat(),
            "证书等级": LEVEL_LABEL[level] if level else "",
            "证书编号": f"{obtained.year}{rng.randrange(10**5, 10**6)}" if level else "",
            "取得日期": obtained.isoformat() if obtained else "",
        })
    return people


def as_csv(people: list[dict]) -> bytes:
    """UTF-8 with BOM and CRLF, as bureau staff export it from their spreadsheets."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=HEADERS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(people)
    return ("\ufeff" + out.getvalue()).encode("utf-8")

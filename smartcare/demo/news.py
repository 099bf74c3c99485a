"""Health news of the demo region: a few articles by the health authority and the first hospital, so that the
patient app's news page, its targeting and the Atom feed have something to show.

Written through the same service as the console (smartcare.patient.news.service), so they are validated,
sanitised, audited and published by the job worker like any author's. The texts are SmartCare's own; the advice
in them follows the sources named at the end of each article. Loading twice adds nothing.
"""

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from smartcare.demo.reference import load
from smartcare.patient.news import service
from smartcare.patient.news.models import news_article
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import AccessContext

SOURCE = "demo"
AUTHORITY = AccessContext(kind="user", name="admin.region", roles=frozenset({"regional_admin"}))
HOSPITAL = AccessContext(kind="user", name="admin.demo", roles=frozenset({"hospital_admin"}),
                         organization="Organization/org-hosp-1")

ARTICLES: tuple[tuple[AccessContext, service.Draft], ...] = (
    (AUTHORITY, service.Draft(
        category="vaccination",
        title_en="Free flu vaccination for people aged 60 and over",
        summary_en="Community health service centres give the seasonal flu vaccine free to residents aged 60 and over "
                   "this month.",
        body_en="<p>Flu is more dangerous for older people: it can lead to pneumonia and can make heart and lung "
                "conditions worse. The vaccine is the best protection, and this season's vaccine is free for "
                "residents aged 60 and over at every community health service centre.</p>"
                "<ul><li>Bring your resident ID card.</li><li>Tell the nurse if you have a fever today or have ever "
                "had a severe allergic reaction to a vaccine.</li><li>Wait 30 minutes after the injection before "
                "you leave.</li></ul>"
                "<p>Source: WHO, Vaccines against influenza: position paper (2022); China CDC technical guidelines "
                "for seasonal influenza vaccination.</p>",
        title_zh="60岁及以上居民免费接种流感疫苗",
        summary_zh="本月起，各社区卫生服务中心为60岁及以上居民免费接种季节性流感疫苗。",
        body_zh="<p>流感对老年人危害更大，可能引起肺炎，也会加重心肺疾病。接种疫苗是最好的保护。本季流感疫苗在各社区"
                "卫生服务中心对60岁及以上居民免费。</p>"
                "<ul><li>请携带居民身份证。</li><li>当天发热或曾对疫苗有严重过敏反应的，请告诉护士。</li>"
                "<li>接种后请留观30分钟再离开。</li></ul>"
                "<p>依据：世界卫生组织《流感疫苗立场文件》（2022）；中国疾病预防控制中心《中国流感疫苗预防接种技术指南》。</p>",
        age_min=60)),
    (AUTHORITY, service.Draft(
        category="chronic-disease",
        title_en="Living well with type 2 diabetes: five daily habits",
        summary_en="Small daily habits keep blood sugar steadier and protect your eyes, kidneys and feet.",
        body_en="<ol><li>Eat regular meals with vegetables, and swap some white rice for whole grains.</li>"
                "<li>Walk briskly for 30 minutes on most days.</li><li>Take your medicines at the same times every "
                "day.</li><li>Check your feet every evening for cuts or blisters.</li><li>Keep your follow-up visits "
                "and have your eyes and kidneys checked once a year.</li></ol>"
                "<p>Source: Chinese Diabetes Society, Guideline for the prevention and treatment of diabetes in "
                "China (2020 edition).</p>",
        title_zh="与2型糖尿病和平共处：每天五个好习惯",
        summary_zh="每天的小习惯，有助于稳定血糖，保护眼睛、肾脏和双脚。",
        body_zh="<ol><li>按时吃饭，多吃蔬菜，用部分粗粮代替白米饭。</li><li>大多数日子快走30分钟。</li>"
                "<li>每天固定时间服药。</li><li>每晚检查双脚有无破口或水泡。</li><li>按时复诊，每年检查一次眼底和肾功能。</li></ol>"
                "<p>依据：中华医学会糖尿病学分会《中国2型糖尿病防治指南（2020年版）》。</p>",
        icd10_prefixes=("E11",))),
    (AUTHORITY, service.Draft(
        category="health-tips",
        title_en="Know the signs of a stroke: BE FAST",
        summary_en="Sudden loss of balance, blurred eyes, a drooping face, a weak arm or slurred speech: call 120 at "
                   "once.",
        body_en="<p>A stroke needs treatment within hours. Remember <strong>BE FAST</strong>: Balance, Eyes, Face, "
                "Arm, Speech, Time to call 120. Note the time the signs began and do not give food, drink or "
                "medicines while you wait.</p>"
                "<p>Source: American Stroke Association, BE FAST; Chinese Stroke Association, Stroke 1-2-0.</p>",
        title_zh="识别中风：记住“中风120”",
        summary_zh="突然口角歪斜、一侧手臂无力、说话不清，请立即拨打120。",
        body_zh="<p>中风的治疗要争分夺秒。记住<strong>“中风120”</strong>：1看一张脸是否口角歪斜，2查两只手臂能否平举，"
                "0（聆）听说话是否清楚；有任何一项异常，立即拨打120。请记下症状开始的时间，等待时不要喂食、喂水或服药。</p>"
                "<p>依据：中国卒中学会“中风120”；美国卒中协会 BE FAST。</p>")),
    (HOSPITAL, service.Draft(
        category="hospital-announcement",
        title_en="Evening clinics on weekdays",
        summary_en="Internal medicine, paediatrics and general practice now see patients until 21:00 on weekdays.",
        body_en="<p>From this week, the outpatient building is open until 21:00 from Monday to Friday for internal "
                "medicine, paediatrics and general practice. Book an evening visit in the app; the emergency "
                "department stays open around the clock.</p>",
        title_zh="工作日开设夜间门诊",
        summary_zh="内科、儿科和全科医学科工作日门诊延长至21:00。",
        body_zh="<p>自本周起，门诊楼周一至周五开放至21:00，开设内科、儿科和全科医学科夜间门诊。可在本应用预约夜间号；"
                "急诊科24小时开放。</p>")),
    (HOSPITAL, service.Draft(
        category="mother-and-child",
        title_en="Free antenatal classes every Saturday",
        summary_en="Classes for expectant parents on pregnancy, birth, breastfeeding and caring for a newborn.",
        body_en="<p>Our obstetrics team runs free classes every Saturday at 9:30 in the outpatient building, "
                "third floor. Partners are welcome. Topics rotate: healthy pregnancy, warning signs, labour and "
                "birth, breastfeeding, and the first weeks at home.</p>",
        title_zh="每周六免费孕妇学校",
        summary_zh="面向准父母的课程：孕期保健、分娩、母乳喂养和新生儿护理。",
        body_zh="<p>产科团队每周六上午9:30在门诊楼三楼开设免费孕妇学校，欢迎准爸爸一同参加。主题轮换：健康孕期、危险信号、"
                "分娩过程、母乳喂养和产后居家护理。</p>")),
)


def load_news(engine: Engine) -> int:
    """Write the demo articles (none when they are there already); how many were written."""
    with unit_of_work(engine) as conn:
        if conn.execute(sa.select(sa.func.count()).select_from(news_article)
                        .where(news_article.c.source == SOURCE)).scalar():
            return 0
        names = {f"Organization/{o['id']}": o["name_en"] for o in load("facilities")["organizations"]}
        for ctx, draft in ARTICLES:
            service.create_article(conn, ctx=ctx, draft=draft, organization_name=names.get(ctx.organization or ""),
                                   source=SOURCE)
    return len(ARTICLES)

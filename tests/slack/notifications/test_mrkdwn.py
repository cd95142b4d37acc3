"""Coder's markdown as Slack shows it: bold, links, lists and code in Slack's own syntax, nothing of
markdown's left over, and nothing in a notification able to mention, link or format on its own.

The bodies are Coder's notification templates (coder/coder ``coderd/database/migrations``, e.g. 000226
autobuild failed, 000248 manual build failed, 000249 failed-builds report) with their labels filled in."""

from __future__ import annotations

import re

import pytest
from coder_slack.notifications.mrkdwn import mrkdwn_blocks, pack, safe_url, to_mrkdwn, to_plain
from hypothesis import given, settings
from hypothesis import strategies as st

AUTOBUILD_FAILED = (
    "Hi Alice,\n\nAutomatic build of your workspace **dev** failed.\n"
    'The specified reason was "**autostart**".'
)
MANUAL_BUILD_FAILED = (
    "Hi Alice,\n\nA manual build of the workspace **dev** using the template **python-ds** failed "
    "(version: **v1.2**).\n\nThe workspace build was initiated by **bob**."
)
FAILED_BUILDS_REPORT = """Hi Alice,

Template Python DS has failed to build 3/10 times over the last week and may be unstable.

**Report:**


  **v1** failed 2 times:

    * [alice / dev / #3](https://coder.example.com/@alice/dev/builds/3)

    * [bob / etl / #4](https://coder.example.com/@bob/etl/builds/4?x=1&y=2)


We recommend reviewing these issues to ensure future builds are successful."""

# What a link, a mention or a special mention looks like in Slack's syntax: any of these in the output
# that the converter did not write itself would be a notification pinging or linking on its own.
SLACK_TOKEN = re.compile(r"<[^>]*>")


def links_we_made(text: str) -> list[str]:
    return SLACK_TOKEN.findall(text)


def test_coder_bodies_read_as_slack_text() -> None:
    assert to_mrkdwn(AUTOBUILD_FAILED) == (
        "Hi Alice,\n\nAutomatic build of your workspace *dev* failed.\n"
        'The specified reason was "*autostart*".'
    )
    assert to_mrkdwn(MANUAL_BUILD_FAILED) == (
        "Hi Alice,\n\nA manual build of the workspace *dev* using the template *python-ds* failed "
        "(version: *v1.2*).\n\nThe workspace build was initiated by *bob*."
    )


def test_the_failed_builds_report_is_a_list_of_links_not_a_code_block() -> None:
    # The Go template indents the list by four spaces; CommonMark would make that a code block.
    text = to_mrkdwn(FAILED_BUILDS_REPORT)
    assert "```" not in text
    assert "*Report:*" in text and "*v1* failed 2 times:" in text
    assert "• <https://coder.example.com/@alice/dev/builds/3|alice / dev / #3>" in text
    assert "• <https://coder.example.com/@bob/etl/builds/4?x=1&amp;y=2|bob / etl / #4>" in text
    assert_no_markdown(text)


@pytest.mark.parametrize(
    ("markdown", "mrkdwn"),
    [
        ("**bold** and __bold__", "*bold* and *bold*"),
        ("*it* and _it_", "_it_ and _it_"),
        ("~~gone~~", "~gone~"),
        ("**bold _and it_**", "*bold _and it_*"),
        ("** spaced **", "** spaced **"),  # not bold in markdown either: left as the text it is
        ("a **b **c", "a **b **c"),
        ("[docs](https://coder.com/docs?a=1&b=2)", "<https://coder.com/docs?a=1&amp;b=2|docs>"),
        ("[**bold** link](https://x.example)", "<https://x.example|bold link>"),
        ("<https://auto.example/path>", "<https://auto.example/path>"),
        ("[mail](mailto:ops@example.com)", "<mailto:ops@example.com|mail>"),
        ("[rel](/relative/path)", "rel"),
        ("[ftp](ftp://example.com/f)", "ftp"),
        ("![diagram](https://x.example/d.png)", "<https://x.example/d.png|diagram>"),
        ("# Title **x**", "*Title x*"),
        ("### Small", "*Small*"),
        ("`a <b> & c`", "`a &lt;b&gt; &amp; c`"),
        ("```\n<!here> & *no* _marks_\n```", "```\n&lt;!here&gt; &amp; *no* _marks_\n```"),
        ("> quoted\n> twice", "> quoted\n> twice"),
        ("---", "───"),
        ("line one\nline two", "line one\nline two"),
        ("line one  \nline two", "line one\nline two"),
        ("5 > 3 & 2 < 4", "5 &gt; 3 &amp; 2 &lt; 4"),
        ("&lt;already&gt; &amp;", "&lt;already&gt; &amp;"),
        ("| a | b |\n|---|---|\n| 1 | 2 |", "*a | b*\n1 | 2"),
    ],
)
def test_markdown_becomes_mrkdwn(markdown: str, mrkdwn: str) -> None:
    assert to_mrkdwn(markdown) == mrkdwn


def test_lists_nest_with_their_own_bullets_and_numbers() -> None:
    markdown = "- one\n- two\n  - inner **b**\n    - deepest\n\n3. third\n4. fourth\n"
    assert to_mrkdwn(markdown) == ("• one\n• two\n    ◦ inner *b*\n        ▪ deepest\n\n3. third\n4. fourth")


def test_a_loose_list_item_keeps_its_paragraphs_together() -> None:
    markdown = "- first para\n\n  second para\n- next\n"
    assert to_mrkdwn(markdown) == "• first para\n    second para\n• next"


@pytest.mark.parametrize(
    "hostile",
    [
        "<!channel> please look",
        "<!here|here>",
        "<@U0ADMIN> was here",
        "<#C0GENERAL>",
        "<https://evil.example|https://coder.example.com>",
        "<!subteam^S123|@oncall>",
        "[click](javascript:alert(1))",
        "<script>alert(1)</script>",
        "`<!channel>`",
        "```\n<!channel>\n```",
        "**<!channel>**",
        "[<!channel>](https://x.example)",
    ],
)
def test_nothing_in_a_notification_can_mention_or_link_by_itself(hostile: str) -> None:
    for text in (to_mrkdwn(hostile), to_plain(hostile)):
        for token in links_we_made(text):
            assert token.startswith(("<https://", "<http://", "<mailto:")), (hostile, text)
        assert "<!" not in text and "<@" not in text and "<#" not in text


def test_a_link_cannot_smuggle_slack_syntax_through_its_url_or_text() -> None:
    text = to_mrkdwn("[a|b>c](https://x.example/p?q=a|b&r=<s>)")
    (token,) = links_we_made(text)
    url, _, label = token[1:-1].partition("|")
    assert url.startswith("https://x.example/p?q=a") and "|" not in url and ">" not in url
    assert label == "a|b&gt;c"
    assert safe_url("javascript:alert(1)") is None
    assert safe_url("https://x.example/a b") is None
    assert safe_url("https://x.example/a|b") == "https://x.example/a%7Cb"


def test_plain_text_has_no_marks_and_keeps_link_targets() -> None:
    plain = to_plain(MANUAL_BUILD_FAILED + "\n\nSee [the build](https://coder.example.com/b/3).")
    assert "*" not in plain and "_" not in plain
    assert "the workspace dev using the template python-ds" in plain
    assert "the build (https://coder.example.com/b/3)" in plain
    assert to_plain("<https://x.example>") == "https://x.example"
    assert to_plain("`code` & **b**") == "code &amp; b"


def assert_no_markdown(text: str) -> None:
    """The marks Slack does not understand, which a reader would see as stray characters."""
    assert "**" not in text and "__" not in text and "~~" not in text and "](" not in text
    for line in text.split("\n"):
        stripped = line.lstrip()
        assert not re.match(r"#{1,6} ", stripped), line
        assert not re.match(r"[-+*] ", stripped), line


@pytest.mark.parametrize(
    "markdown",
    [
        AUTOBUILD_FAILED,
        MANUAL_BUILD_FAILED,
        FAILED_BUILDS_REPORT,
        "# H\n\n* a\n+ b\n- c\n\n**x** __y__ ~~z~~",
    ],
)
def test_no_markdown_is_left_for_slack_to_show_raw(markdown: str) -> None:
    assert_no_markdown(to_mrkdwn(markdown))


MARKDOWNISH = st.lists(
    st.sampled_from([*"ab <>&!@#|*_~`[]()-+>\n:/.", "https://x.example", "<!channel>", "&amp;"]),
    max_size=80,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(MARKDOWNISH)
def test_any_text_stays_escaped(markdown: str) -> None:
    for text in (to_mrkdwn(markdown), to_plain(markdown)):
        for token in links_we_made(text):
            assert token.startswith(("<https://", "<http://", "<mailto:")), (markdown, text)
        # every & starts an entity we wrote: nothing of the input is read by Slack as its own escape
        assert re.fullmatch(r"(?:[^&]|&amp;|&lt;|&gt;)*", text, flags=re.DOTALL), (markdown, text)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from(list("abc &<>\n")), max_size=70), max_size=12))
def test_packing_keeps_every_piece_within_the_limit_and_all_the_text(words: list[str]) -> None:
    blocks = [block for block in mrkdwn_blocks("\n\n".join(words))]
    packed = pack(blocks, 40)
    assert all(0 < len(piece) <= 40 for piece in packed)
    assert "".join(packed).replace("\n", "") == "".join(blocks).replace("\n", "")


def test_a_code_block_split_for_length_stays_fenced_in_every_part() -> None:
    code = "```\n" + "\n".join(f"line {i} <{i}>" for i in range(400)) + "\n```"
    (block,) = mrkdwn_blocks(code)
    parts = pack([block], 3000)
    assert len(parts) > 1
    for part in parts:
        assert len(part) <= 3000
        assert part.startswith("```\n") and part.endswith("\n```")
        assert "&lt;" in part and "<" not in part.replace("&lt;", "")


def test_an_overlong_line_is_never_cut_inside_an_escape() -> None:
    line = "&" * 1000  # 5000 characters once escaped
    parts = pack(mrkdwn_blocks(line), 3000)
    assert len(parts) == 2 and all(len(p) <= 3000 for p in parts)
    assert all(re.fullmatch(r"(?:&amp;)+", part) for part in parts)

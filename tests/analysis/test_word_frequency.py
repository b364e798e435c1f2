"""Word counts of free-text answers, against hand counts and against jieba's own segmentation."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import jieba
import pytest

from app.analysis.word_frequency import MEANINGFUL_SINGLES, count_words, default_stop_words, segment

ROOT = Path(__file__).resolve().parents[2]

#: Sentences and the words a person counts in them once stop words (了, 太, 也, 社区, 希望 …),
#: punctuation and lone characters such as 多 are dropped; 坏 and 黑 are kept (MEANINGFUL_SINGLES).
SENTENCES = ["停车位太少了，停车难。", "路灯坏了，晚上太黑。", "停车位不够，路灯也坏了。"]
HAND_COUNT = {  # word: (times, answers using it)
    "停车位": (2, 2), "路灯": (2, 2), "坏": (2, 2),
    "太少": (1, 1), "停车难": (1, 1), "晚上": (1, 1), "黑": (1, 1), "不够": (1, 1),
}


def as_table(result) -> dict:
    return {w.word: (w.count, w.answers) for w in result.words}


def test_counts_equal_a_hand_count():
    result = count_words(SENTENCES)
    assert as_table(result) == HAND_COUNT
    assert result.answers == 3
    assert result.total_words == sum(n for n, _ in HAND_COUNT.values()) == 11
    assert result.distinct_words == 8
    # Ranked by count, then by answers, then by the word.
    assert [w.word for w in result.words[:3]] == sorted(["停车位", "路灯", "坏"])
    assert all(w.share == pytest.approx(w.answers / 3) for w in result.words)


def test_a_hand_cut_counts_occurrences_and_answers_apart():
    """With a fixed segmentation, counting alone: a word twice in one answer is 2 times, 1 answer."""
    cuts = {"a": ["停车位", "停车位", "不够"], "b": ["停车位"], "c": [], "d": ["路灯", "，", "2", "的", "多"]}
    result = count_words(["a", "b", "c", "d"], cut=cuts.__getitem__)
    assert as_table(result) == {"停车位": (3, 2), "不够": (1, 1), "路灯": (1, 1)}
    assert result.answers == 4  # an answer with no word still counts in the shares
    assert result.words[0].share == 0.5


def test_the_reference_is_jieba_lcut(tmp_path):
    """Our counts equal a recount from jieba's own lcut with the same rules written out here."""
    texts = ["小区里狗太多，到处是狗屎，环境卫生差。", "希望社区多组织老年人活动，老年人活动室太小。",
             "电梯经常坏，物业不管。", "WiFi 信号差；５０%的时间连不上", "停车难！停车难！停车难！", ""]
    reference = jieba.Tokenizer()
    reference.tmp_dir = str(tmp_path)  # its cache in the test's folder, not the shared /tmp
    stop = default_stop_words()
    times, answers = Counter(), Counter()
    for text in texts:
        words = [w.lower() for w in reference.lcut(text.replace("５０", "50"))
                 if w.strip() and any(ch.isalpha() for ch in w)]
        words = [w for w in words if w not in stop and (len(w) > 1 or w in MEANINGFUL_SINGLES)]
        times.update(words)
        answers.update(set(words))
    result = count_words(texts, top=100)
    assert as_table(result) == {w: (times[w], answers[w]) for w in times}
    assert result.answers == len(texts)
    assert as_table(result)["停车难"] == (3, 1)
    assert "wifi" in as_table(result)  # Latin words are lower-cased


def test_stop_words_punctuation_digits_and_lone_characters_are_dropped():
    words = as_table(count_words(["我们社区的停车位太少了!!! 123 ２０２６年 ……  ", "希望 建议 谢谢"]))
    # jieba cuts 我们/社区/的/停车位/太少/了/!/!/!/123/2026/年/......: only two words are left.
    assert words == {"停车位": (1, 1), "太少": (1, 1)}
    for stop in ("我们", "社区", "的", "了", "希望", "建议", "谢谢"):
        assert stop in default_stop_words()
    assert len(default_stop_words()) > 300


def test_own_stop_words_top_and_min_answers():
    result = count_words(SENTENCES, stop_words=["停车位"], top=2)
    assert [w.word for w in result.words] == sorted(["路灯", "坏"])
    # Our list replaces the default: 希望 etc. would count again, but 了, 太 and 也 stay out as lone characters.
    assert result.distinct_words == 7
    assert [w.word for w in count_words(["希望停车"], stop_words=[]).words] == ["停车", "希望"]
    assert as_table(count_words(SENTENCES, min_answers=2)) == {w: c for w, c in HAND_COUNT.items() if c[1] >= 2}


def test_a_residents_several_answers_count_once_as_a_response():
    """One resident writing a word in two questions (or twice in one answer) is one response using it:
    min_responses counts residents, min_answers counts answers."""
    cuts = {"a1": ["鼠", "路灯"], "a2": ["鼠", "鼠"], "b1": ["路灯"], "c1": ["路灯", "鼠"], "c2": []}
    texts, owners = ["a1", "a2", "b1", "c1", "c2"], ["A", "A", "B", "C", "C"]
    result = count_words(texts, responses=owners, cut=cuts.__getitem__)
    table = {w.word: (w.count, w.answers, w.responses) for w in result.words}
    assert table == {"鼠": (4, 3, 2), "路灯": (3, 3, 3)}
    assert (result.answers, result.responses) == (5, 3)
    # Resident A alone wrote 鼠 in two answers: two answers, one resident.
    only_a = count_words(["a1", "a2"], responses=["A", "A"], cut=cuts.__getitem__)
    assert [(w.word, w.answers, w.responses) for w in only_a.words] == [("鼠", 2, 1), ("路灯", 1, 1)]
    assert [w.word for w in count_words(["a1", "a2"], responses=["A", "A"], min_answers=2,
                                        cut=cuts.__getitem__).words] == ["鼠"]
    assert count_words(["a1", "a2"], responses=["A", "A"], min_responses=2, cut=cuts.__getitem__).words == ()
    assert [w.word for w in count_words(texts, responses=owners, min_responses=3, cut=cuts.__getitem__).words] \
        == ["路灯"]
    # Without responses each text is its own: the counts of answers.
    assert all(w.responses == w.answers for w in count_words(SENTENCES).words)
    assert count_words(SENTENCES).responses == 3


def test_responses_must_match_the_texts():
    with pytest.raises(ValueError, match="one response per text"):
        count_words(SENTENCES, responses=[1, 2])
    for bad in (0, True, 1.5):
        with pytest.raises(ValueError, match="min_responses"):
            count_words(SENTENCES, min_responses=bad)


def test_no_answers():
    result = count_words([])
    assert (result.answers, result.total_words, result.words) == (0, 0, ())


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "3"])
def test_bad_top_is_refused(bad):
    with pytest.raises(ValueError, match="top"):
        count_words(SENTENCES, top=bad)


def test_texts_must_be_strings():
    with pytest.raises(TypeError):
        count_words([None])


def test_segment_keeps_jiebas_words():
    assert segment("停车位不够，路灯也坏了。") == ["停车位", "不够", ",", "路灯", "也", "坏", "了", "。"]


def test_jieba_is_quiet_warning_free_and_caches_outside_the_repository(tmp_path):
    """A fresh interpreter, every warning an error, .py files compiled afresh (jieba's invalid
    escapes warn then): nothing on stderr, and the cache lands in a private folder of TMPDIR."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp), "PYTHONPYCACHEPREFIX": str(tmp_path / "pyc")}
    before = set(os.listdir(ROOT))
    done = subprocess.run(
        [sys.executable, "-W", "error", "-X", "dev", "-c",
         "from app.analysis.word_frequency import segment; print(segment('路灯坏了'))"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout.strip() == "['路灯', '坏', '了']"
    (folder,) = temp.iterdir()
    assert folder.name.startswith("minyi-jieba-") and (folder / "jieba.cache").is_file()
    assert folder.stat().st_mode & 0o077 == 0
    assert set(os.listdir(ROOT)) == before

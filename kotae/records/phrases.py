"""The words the record parser knows, in English and Japanese, and how it finds them in a question.

Lists are lower case and NFKC-normalised (as the parser sees the question). A phrase with spaces
also matches with ``_`` or ``-`` in their place; an ASCII phrase matches only as whole words; a
Japanese phrase matches anywhere, except that a one-kanji phrase (行, 版, 率) must not touch
another kanji, so that 銀行 is no row (the parser blanks out what it has recognised first, so
成功率 still has its 率). Whatever a question says beyond these words, its facet values, status
words and time phrases is what tells an FAQ question from a record question.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

COUNT = (
    "how many", "how mnay", "how meny", "number of", "count", "counts", "total number",
    "何件", "なんけん", "件数", "いくつ", "何個", "何レコード", "何行", "どれくらい", "どのくらい",
    "どれだけ", "総数",
)
LIST = (
    "which", "list", "lists", "show", "what are", "what were", "give me", "display",
    "どれ", "一覧", "教えて", "出して", "見せて", "リスト", "挙げて",
)
LATEST = ("latest", "lastest", "most recent", "newest", "last", "最新", "直近", "最後", "一番新しい", "いちばん新しい")
COMPARE = ("compare", "compared", "comparison", "vs", "versus", "against", "比較", "比べ", "違い")
BREAKDOWN = ("breakdown", "break down", "broken down", "most", "least", "worst", "内訳", "一番多い", "最も多い", "多い順")
RATE = ("rate", "rates", "ratio", "percentage", "率", "割合")
INTENTS = {"count": COUNT, "list": LIST, "latest": LATEST, "compare": COMPARE, "breakdown": BREAKDOWN, "rate": RATE}


def words(text: str) -> frozenset[str]:
    """A word list written as words separated by white space."""
    return frozenset(text.split())


# How-to questions ask for instructions, not for records, whatever records they mention.
HOW_TO = (
    "how do i", "how do we", "how do you", "how can i", "how can we", "how should i", "how should we",
    "how would i", "how to", "what should i", "what do i", "is there a way",
    "どうやって", "どうすれば", "どうしたら", "どうやったら", "方法", "手順", "やり方",
)
# Question words (in hiragana, which the leftover check otherwise lets through) no record answers.
NOT_RECORD_JA = ("どこ", "だれ", "どなた")

# Nouns that make a question about records rather than about anything else.
RECORD_NOUNS = (
    "record", "records", "row", "rows", "execution", "executions", "run", "runs", "entries",
    "レコード", "行", "実行", "実行結果", "データ",
)

# What people call the default record facets; any other facet is called by its own name.
FACET_ALIASES: dict[str, tuple[str, ...]] = {
    "execution_id": ("execution id", "execution ids", "exec id", "run id", "execution", "executions",
                     "run", "runs", "実行id", "実行", "エグゼキューション"),
    "task_name": ("task name", "task names", "task", "tasks", "タスク名", "タスク", "処理"),
    "status": ("status", "statuses", "state", "states", "ステータス", "状態"),
    "prompt_version": ("prompt version", "prompt versions", "prompt", "prompts", "version", "versions",
                       "プロンプトバージョン", "プロンプト", "バージョン", "版"),
    "record_id": ("record id", "record ids", "レコードid"),
}
GROUP_BEFORE = ("grouped by", "broken down by", "for each", "for every", "by", "per", "each", "across")
GROUP_AFTER = ("別", "ごと", "毎", "単位")

# Words that carry no subject of their own: a record question may contain them and nothing else.
FILLER_EN = words(
    """a an the of in on at for from to with within during into and or but is are was were be been
    being am do does did done doing have has had there here this that these those it its they them
    their i me my we us our you your what whats which how when why so far any anything some all
    every total overall please pls plz tell give get got see find can could would will just only now
    currently still yet ever up out one ones thing things about as many much number happen happened
    happens went go end ended turn turned marked also too hey hi hello thanks thank since after
    before until till through id ids result results outcome reason reasons detail details message
    messages theres hows whos recent recently between use used using right"""
)
FILLER_JA = words("何 全部 全体 全て 全 総 数 合計 今 現在 状況 件 個 確認 結果 内容 中 内 分 以外 理由 原因 詳細 出 見 知 下 頂戴 様 時 的 ヤツ "
                  "最近 件目 起 発生 残")

_KANJI = r"\u3400-\u4dbf\u4e00-\u9fff"
_ASCII_EDGE = re.compile(r"[a-z0-9]")


def phrase_pattern(phrases: Iterable[str]) -> re.Pattern[str] | None:
    """One regex that finds any of ``phrases``, longest first (None for no phrases)."""
    source = alternation(phrases)
    return re.compile(source) if source else None


def alternation(phrases: Iterable[str]) -> str:
    """The regex source of :func:`phrase_pattern` ("" for no phrases), to build larger patterns."""
    return "|".join(_phrase(p) for p in sorted({p.lower() for p in phrases if p.strip()}, key=len, reverse=True))


@lru_cache(maxsize=256)
def _phrase(phrase: str) -> str:
    body = r"[\s_\-]+".join(re.escape(w) for w in phrase.split())
    if _ASCII_EDGE.match(phrase[0]):
        body = r"(?<![a-z0-9])" + body
    if _ASCII_EDGE.match(phrase[-1]):
        body += r"(?![a-z0-9])"
    if len(phrase) == 1 and re.match(f"[{_KANJI}]", phrase):
        body = f"(?<![{_KANJI}]){body}(?![{_KANJI}])"
    return f"(?:{body})"


def phrase_key(phrase: str) -> str:
    """A phrase as its pattern matches it: lower case, with spaces, ``_`` and ``-`` alike."""
    return re.sub(r"[\s_\-]+", " ", phrase.lower()).strip()


def facet_aliases(facets: Sequence[str]) -> dict[str, str]:
    """Alias -> facet for the kind's facets: the defaults above, and every facet's own name."""
    aliases: dict[str, str] = {}
    for facet in facets:
        for alias in (*FACET_ALIASES.get(facet, ()), facet, facet.replace("_", " ")):
            aliases.setdefault(alias.lower(), facet)
    return aliases


# Real words one typo from a status word or record noun: never read as that typo.
NOT_TYPOS = words(
    """filed field fields mailed sailed nailed jailed tailed hailed wailed terror mirror errand preview
    renew views recorder"""
)


def close_enough(word: str, target: str) -> bool:
    """One typo apart (insert, delete, replace or swap two neighbours), for words of 5+ letters."""
    if word == target or min(len(word), len(target)) < 5 or abs(len(word) - len(target)) > 1:
        return word == target
    if len(word) == len(target):
        diff = [i for i, (a, b) in enumerate(zip(word, target, strict=True)) if a != b]
        if len(diff) != 2:
            return len(diff) == 1
        i, j = diff
        return j == i + 1 and (word[i], word[j]) == (target[j], target[i])
    short, long = sorted((word, target), key=len)
    return any(long[:i] + long[i + 1:] == short for i in range(len(long)))


HOW_TO_PATTERN = re.compile(alternation(HOW_TO))

"""Fixed user-facing sentences, in the asker's language."""

from __future__ import annotations

_TEXTS = {
    "not_found": {
        "en": "I couldn't find anything about that in the knowledge I can see here, so I won't guess. "
        "Try other words, or ask the team that owns the topic.",
        "ja": "この場所で参照できるナレッジには該当する情報が見つからなかったため、推測での回答は控えます。"
        "言い回しを変えるか、担当チームに確認してください。",
    },
    "guardrail_blocked": {
        "en": "I can't help with that request here: it was stopped by this workspace's content policy. "
        "Please rephrase it, or ask the team that owns the topic.",
        "ja": "このワークスペースのコンテンツポリシーにより、このご質問にはお答えできません。"
        "言い回しを変えるか、担当チームに確認してください。",
    },
    "extractive_intro": {
        "en": "No language model is configured (KOTAE_GENERATOR=extractive), so here are the most relevant "
        "entries from the knowledge base:",
        "ja": "言語モデルが設定されていないため (KOTAE_GENERATOR=extractive)、ナレッジから関連の高い項目を引用します:",
    },
    # Budgets (kotae.ops.budgets): who reached a limit, then when they can ask again.
    "budget_user": {
        "en": "You have reached your question limit for now.",
        "ja": "ご利用いただける質問数の上限に達しました。",
    },
    "budget_channel": {
        "en": "This channel has reached its question limit for now.",
        "ja": "このチャンネルの質問数の上限に達しました。",
    },
    "budget_workspace": {
        "en": "This workspace has reached its question limit for now.",
        "ja": "このワークスペースの質問数の上限に達しました。",
    },
    "budget_user_tokens": {
        "en": "You have reached your usage limit for today.",
        "ja": "本日ご利用いただける回答量の上限に達しました。",
    },
    "budget_channel_tokens": {
        "en": "This channel has reached its usage limit for today.",
        "ja": "このチャンネルの本日の回答量の上限に達しました。",
    },
    "budget_workspace_tokens": {
        "en": "This workspace has reached its usage limit for today.",
        "ja": "このワークスペースの本日の回答量の上限に達しました。",
    },
    "budget_again": {
        "en": "You can ask again {when}. Thank you for your patience.",
        "ja": "{when}にまた質問できます。しばらくお待ちください。",
    },
}
_WAIT = {
    "en": {"minutes": "in {n} minute{s}", "hours": "in about {n} hour{s}", "days": "in about {n} day{s}"},
    "ja": {"minutes": "{n}分後", "hours": "約{n}時間後", "days": "約{n}日後"},
}


def text(name: str, lang: str) -> str:
    options = _TEXTS[name]
    return options.get(lang, options["en"])


def wait_phrase(seconds: int, lang: str) -> str:
    """How long until something, rounded up so that the person is never told too early:
    minutes below 90 minutes, hours below two days, then days ("in 12 minutes", "12分後")."""
    minutes = -(-max(seconds, 1) // 60)
    if minutes < 90:
        unit, n = "minutes", minutes
    elif minutes < 48 * 60:
        unit, n = "hours", -(-minutes // 60)
    else:
        unit, n = "days", -(-minutes // (24 * 60))
    phrases = _WAIT.get(lang, _WAIT["en"])
    return phrases[unit].format(n=n, s="" if n == 1 else "s")


def budget_refusal(subject: str, kind: str, seconds: int, lang: str) -> str:
    """The reply to a question over budget: whose limit it reached (questions or the day's
    tokens), and when to ask again."""
    name = f"budget_{subject}" if kind == "questions" else f"budget_{subject}_tokens"
    again = text("budget_again", lang).format(when=wait_phrase(seconds, lang))
    return text(name, lang) + ("" if lang == "ja" else " ") + again

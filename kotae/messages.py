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
}


def text(name: str, lang: str) -> str:
    options = _TEXTS[name]
    return options.get(lang, options["en"])

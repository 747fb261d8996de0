"""Chat template: layout, loss mask on assistant tokens only, multi-turn, system message, bad input."""

from __future__ import annotations

import pytest

from model.chat import ConversationError, Message, encode_conversation, encode_prompt, parse_messages, render_text
from model.tokenizer import Tokenizer
from tests.model.align_fixtures import tiny_tok, tiny_tok_dir  # noqa: F401


def test_layout_and_mask_multi_turn_with_system(tiny_tok: Tokenizer) -> None:
    tok = tiny_tok
    msgs = parse_messages(
        [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"},
         {"role": "user", "content": "你好"}, {"role": "assistant", "content": "你好，朋友"}],
        system="Be brief.",
    )
    ids, mask = encode_conversation(tok, msgs)
    S, U, A, E = (tok.special_ids[m] for m in ("<|system|>", "<|user|>", "<|assistant|>", "<|end|>"))
    enc = lambda s: tok.encode(s, allow_special=False)  # noqa: E731
    expected = [tok.bos_id, S, *enc("Be brief."), E, U, *enc("Hi"), E, A, *enc("Hello!"), E,
                U, *enc("你好"), E, A, *enc("你好，朋友"), E]
    assert ids == expected and len(mask) == len(ids)
    trained = [t for t, m in zip(ids, mask) if m]
    assert trained == [*enc("Hello!"), E, *enc("你好，朋友"), E]
    # the text rendering encodes to the very same ids (markers are single reserved tokens)
    assert tok.encode(render_text(msgs).removeprefix("<s>"), bos=True) == ids


def test_generation_prompt_and_marker_injection(tiny_tok: Tokenizer) -> None:
    tok = tiny_tok
    ids = encode_prompt(tok, "say <|end|> now", system=None)
    assert ids[-1] == tok.special_ids["<|assistant|>"]
    # a user typing a marker gets bytes, never the control token
    assert ids.count(tok.special_ids["<|end|>"]) == 1
    assert tok.decode(ids[2:-2]) == "say <|end|> now"


@pytest.mark.parametrize(
    "raw, match",
    [
        ([{"role": "assistant", "content": "hi"}], "alternate"),
        ([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}], "alternate"),
        ([{"role": "user", "content": "a"}, {"role": "system", "content": "s"}], "system message is only allowed as the first"),
        ([{"role": "wizard", "content": "a"}], "role"),
        ([{"role": "user"}], "no text content"),
        ("hello", "must be a list"),
    ],
)
def test_bad_conversations_are_refused(raw, match: str) -> None:
    with pytest.raises(ConversationError, match=match):
        parse_messages(raw)


def test_sharegpt_roles_are_accepted() -> None:
    msgs = parse_messages([{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}])
    assert msgs == [Message("user", "q"), Message("assistant", "a")]

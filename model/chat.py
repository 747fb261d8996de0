"""The chat template: conversations -> token ids + a loss mask that covers assistant tokens only.

Layout (``S``, ``U``, ``A``, ``E`` are the tokenizer's reserved ids for ``<|system|>``, ``<|user|>``,
``<|assistant|>``, ``<|end|>``; ``BOS`` is the tokenizer's beginning-of-sequence id)::

    BOS [S system E] U user_1 E A assistant_1 E U user_2 E A assistant_2 E ...

As text (what ``render_text`` returns, and the ``chat_template`` written by the Hugging Face export)::

    <s><|system|>You are helpful.<|end|><|user|>Hi<|end|><|assistant|>Hello!<|end|>

- The system message is optional and only allowed first. Turns alternate user / assistant and the
  conversation must contain at least one assistant turn (else :class:`ConversationError`).
- Loss mask: 1 on the tokens of every assistant reply **and its closing** ``<|end|>`` (so the model
  learns to stop), 0 on BOS, markers, system and user tokens. ``mask[i]`` says whether token ``i`` is
  a training target (predicted from tokens ``< i``).
- Message contents are encoded with ``allow_special=False``: a user who types ``<|end|>`` gets plain
  bytes, never the control token (no prompt-injected turn boundaries).
- Generation prompt (``add_generation_prompt=True``): the layout up to and including the final ``A``;
  decoding stops at ``E`` (or EOS).

    ids, mask = encode_conversation(tok, [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

MARKERS = {"system": "<|system|>", "user": "<|user|>", "assistant": "<|assistant|>"}
END = "<|end|>"
ROLE_ALIASES = {"human": "user", "gpt": "assistant", "bot": "assistant", "model": "assistant"}


class ConversationError(ValueError):
    """A conversation that does not follow the template's rules (the message says which rule)."""


class ChatTokenizer(Protocol):
    bos_id: int
    eos_id: int
    special_ids: dict[str, int]

    def encode(self, text: str, bos: bool = False, eos: bool = False, allow_special: bool = True) -> list[int]: ...


@dataclass(frozen=True)
class Message:
    role: str  # "system" | "user" | "assistant"
    content: str


def parse_messages(raw: Any, system: str | None = None) -> list[Message]:
    """Validate ``[{role, content}, ...]`` (ShareGPT ``{from, value}`` accepted) into Messages.

    ``system`` (e.g. a record's top-level ``"system"`` field) is prepended when given and the
    conversation has no system message of its own.
    """
    if not isinstance(raw, Sequence) or isinstance(raw, (str, bytes)):
        raise ConversationError(f"messages must be a list of {{role, content}} objects, got {type(raw).__name__}")
    messages: list[Message] = []
    for i, m in enumerate(raw):
        if not isinstance(m, Mapping):
            raise ConversationError(f"message {i} is a {type(m).__name__}, expected an object with role and content")
        role = m.get("role", m.get("from"))
        content = m.get("content", m.get("value"))
        role = ROLE_ALIASES.get(str(role).lower(), str(role).lower()) if role is not None else None
        if role not in MARKERS:
            raise ConversationError(f"message {i} has role {role!r}; expected system, user or assistant")
        if not isinstance(content, str):
            raise ConversationError(f"message {i} ({role}) has no text content")
        messages.append(Message(role, content))
    if system and not (messages and messages[0].role == "system"):
        messages.insert(0, Message("system", system))
    check_turn_order(messages)
    return messages


def check_turn_order(messages: Sequence[Message], *, need_assistant: bool = False) -> None:
    body = list(messages)
    if body and body[0].role == "system":
        body = body[1:]
    if any(m.role == "system" for m in body):
        raise ConversationError("a system message is only allowed as the first message")
    for i, m in enumerate(body):
        expected = "user" if i % 2 == 0 else "assistant"
        if m.role != expected:
            raise ConversationError(f"turn {i} is {m.role!r} but turns must alternate user/assistant starting with user")
    if need_assistant and not any(m.role == "assistant" for m in body):
        raise ConversationError("the conversation has no assistant turn, so there is nothing to train on")


def marker_ids(tok: ChatTokenizer) -> dict[str, int]:
    missing = [m for m in (*MARKERS.values(), END) if m not in tok.special_ids]
    if missing:
        raise ValueError(f"tokenizer has no reserved ids for {missing}; retrain it with the chat markers as user symbols")
    return {role: tok.special_ids[mark] for role, mark in MARKERS.items()} | {"end": tok.special_ids[END]}


def encode_conversation(
    tok: ChatTokenizer,
    messages: Sequence[Message] | Sequence[Mapping[str, str]],
    *,
    add_generation_prompt: bool = False,
) -> tuple[list[int], list[int]]:
    """Token ids and loss mask (same length) of a conversation, following the layout above."""
    msgs = [m if isinstance(m, Message) else Message(m["role"], m["content"]) for m in messages]
    check_turn_order(msgs)
    ids_of = marker_ids(tok)
    ids: list[int] = [tok.bos_id] if tok.bos_id is not None and tok.bos_id >= 0 else []
    mask: list[int] = [0] * len(ids)
    for m in msgs:
        body = tok.encode(m.content, allow_special=False)
        ids.append(ids_of[m.role])
        mask.append(0)
        ids.extend(body)
        ids.append(ids_of["end"])
        trained = 1 if m.role == "assistant" else 0
        mask.extend([trained] * (len(body) + 1))
    if add_generation_prompt:
        ids.append(ids_of["assistant"])
        mask.append(0)
    return ids, mask


def encode_prompt(tok: ChatTokenizer, user: str, system: str | None = None) -> list[int]:
    """Ids of a single-turn chat prompt ready for generation (ends with the assistant marker)."""
    msgs = ([Message("system", system)] if system else []) + [Message("user", user)]
    return encode_conversation(tok, msgs, add_generation_prompt=True)[0]


def render_text(messages: Sequence[Message], *, add_generation_prompt: bool = False, bos: str = "<s>") -> str:
    """The conversation as text (for logs and docs); encodes to the same ids when contents hold no markers."""
    parts = [bos] + [f"{MARKERS[m.role]}{m.content}{END}" for m in messages]
    if add_generation_prompt:
        parts.append(MARKERS["assistant"])
    return "".join(parts)


# The same layout as a Jinja template for transformers' tokenizer.apply_chat_template.
HF_CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}<|system|>"
    "{% elif message['role'] == 'user' %}<|user|>"
    "{% elif message['role'] == 'assistant' %}<|assistant|>"
    "{% else %}{{ raise_exception('role must be system, user or assistant') }}{% endif %}"
    "{{ message['content'] }}<|end|>"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)

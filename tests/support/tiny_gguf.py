"""Write a tiny random-weight Llama GGUF so tests can drive a real ``llama_cpp.Llama``.

The model is useless as a language model (its weights are noise) but it is structurally a
complete Llama checkpoint: llama.cpp loads it in milliseconds, tokenizes any UTF-8 text via
SentencePiece byte fallback, and ``create_chat_completion`` renders the embedded Jinja chat
template. That lets the service's LLM code paths run end to end without downloading a model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from gguf import GGUFWriter, LlamaFileType, TokenType

ARCH = "llama"
N_LAYERS = 2
N_EMBD = 64
N_HEAD = 4
N_HEAD_KV = 4
N_FF = 128
N_CTX_TRAIN = 2048
RMS_EPS = 1e-5
ROPE_FREQ_BASE = 10000.0

UNK, BOS, EOS = "<unk>", "<s>", "</s>"
IM_START, IM_END = "<|im_start|>", "<|im_end|>"
SPACE = "\u2581"  # SentencePiece's "▁" marker for a preceding space.

# ChatML-like, but deliberately not byte-identical to llama-cpp-python's built-in CHATML
# template: an exact match would make it pick its hard-coded "chatml" handler instead of
# rendering the template stored in the GGUF, which is the path we want tests to exercise.
# It starts with bos_token because llama-cpp-python tokenizes Jinja-rendered prompts with
# add_bos=False, trusting the template to add it.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

_WORDS = ("the", "and", "is", "to", "of", "in", "it", "what", "how", "document")


def _vocab() -> tuple[list[str], list[float], list[int]]:
    """Build (tokens, scores, types) for a small SentencePiece-style vocab.

    All 256 ``<0xNN>`` BYTE tokens are present, so any text tokenizes via byte fallback.
    SPM merges greedily by score over adjacent pieces that exist in the vocab, so every
    prefix of a multi-character word piece is included to make the word reachable, and
    longer pieces score higher so they win.
    """
    tokens: list[str] = [UNK, BOS, EOS]
    types: list[int] = [TokenType.UNKNOWN, TokenType.CONTROL, TokenType.CONTROL]
    tokens += [f"<0x{b:02X}>" for b in range(256)]
    types += [TokenType.BYTE] * 256
    tokens += [IM_START, IM_END]
    types += [TokenType.CONTROL] * 2

    pieces: list[str] = [SPACE]
    pieces += [chr(c) for c in range(ord("a"), ord("z") + 1)]
    pieces += [str(d) for d in range(10)]
    pieces += list(".,?!")
    for word in _WORDS:
        full = SPACE + word
        pieces += [full[:i] for i in range(2, len(full) + 1)]
    pieces = list(dict.fromkeys(pieces))  # dedupe, keep order

    scores: list[float] = [0.0] * len(tokens)
    scores += [float(len(p)) for p in pieces]
    tokens += pieces
    types += [TokenType.NORMAL] * len(pieces)
    return tokens, scores, types


def _tensors(n_vocab: int, seed: int) -> dict[str, np.ndarray]:
    """Random weights keyed by llama.cpp tensor name.

    Shapes are numpy (rows, cols) = (out_features, in_features); GGUF stores dims reversed,
    so llama.cpp sees e.g. attn_q as ne = {n_embd, n_embd} and ffn_down as {n_ff, n_embd},
    which is what its Llama loader expects. Matrices are f16 (halves the file); norm vectors
    stay f32 as in real conversions.
    """
    rng = np.random.default_rng(seed)

    def mat(rows: int, cols: int) -> np.ndarray:
        return (rng.standard_normal((rows, cols)) * 0.02).astype(np.float16)

    def norm() -> np.ndarray:
        return np.ones(N_EMBD, dtype=np.float32)

    out: dict[str, np.ndarray] = {"token_embd.weight": mat(n_vocab, N_EMBD)}
    for i in range(N_LAYERS):
        p = f"blk.{i}."
        out[p + "attn_norm.weight"] = norm()
        out[p + "attn_q.weight"] = mat(N_EMBD, N_EMBD)
        out[p + "attn_k.weight"] = mat(N_EMBD // N_HEAD * N_HEAD_KV, N_EMBD)
        out[p + "attn_v.weight"] = mat(N_EMBD // N_HEAD * N_HEAD_KV, N_EMBD)
        out[p + "attn_output.weight"] = mat(N_EMBD, N_EMBD)
        out[p + "ffn_norm.weight"] = norm()
        out[p + "ffn_gate.weight"] = mat(N_FF, N_EMBD)
        out[p + "ffn_up.weight"] = mat(N_FF, N_EMBD)
        out[p + "ffn_down.weight"] = mat(N_EMBD, N_FF)
    out["output_norm.weight"] = norm()
    out["output.weight"] = mat(n_vocab, N_EMBD)
    return out


def write_tiny_llama_gguf(path: Path, seed: int = 0) -> Path:
    """Write a ~260 KB random-weight Llama GGUF to ``path`` and return ``path``.

    Same seed gives identical weights. Loads with ``llama_cpp.Llama(model_path=str(path))``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tokens, scores, types = _vocab()

    writer = GGUFWriter(path, ARCH)
    writer.add_name("enclave-tiny-llama-test")
    writer.add_file_type(LlamaFileType.MOSTLY_F16)
    writer.add_context_length(N_CTX_TRAIN)
    writer.add_embedding_length(N_EMBD)
    writer.add_block_count(N_LAYERS)
    writer.add_feed_forward_length(N_FF)
    writer.add_head_count(N_HEAD)
    writer.add_head_count_kv(N_HEAD_KV)
    writer.add_layer_norm_rms_eps(RMS_EPS)
    writer.add_rope_dimension_count(N_EMBD // N_HEAD)
    writer.add_rope_freq_base(ROPE_FREQ_BASE)
    writer.add_vocab_size(len(tokens))

    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_unk_token_id(tokens.index(UNK))
    writer.add_bos_token_id(tokens.index(BOS))
    writer.add_eos_token_id(tokens.index(EOS))
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)
    # Without a space prefix, detokenize(tokenize(s)) == s exactly, which keeps tests simple.
    writer.add_add_space_prefix(False)
    writer.add_chat_template(CHAT_TEMPLATE)

    for name, tensor in _tensors(len(tokens), seed).items():
        writer.add_tensor(name, tensor)

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path

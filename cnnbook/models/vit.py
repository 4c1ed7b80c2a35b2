"""A tiny Vision Transformer (chapters 7 and 7c): patch embedding, multi-head self-attention, blocks."""

from __future__ import annotations

import torch
import torch.nn as nn

from .. import _validate

class PatchEmbedding(nn.Module):
    """Cut the image into p×p patches and map each to a D-vector: (N, C, H, W) -> (N, T, D), T = (H/p)·(W/p).

    One Linear(C·p·p, D) applied to every patch, written as a conv with kernel = stride = p.
    """

    def __init__(self, patch_size: int, in_channels: int, dim: int):
        super().__init__()
        self.proj = nn.Conv2d(in_channels, dim, patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)          # (N, D, H/p, W/p) -> (N, T, D)


class MultiHeadSelfAttention(nn.Module):
    """softmax(Q Kᵀ / sqrt(d)) V for h heads of width d = D/h, then an output Linear(D, D).

    x: (N, T, D) -> (N, T, D). `attention(x)` returns the weights (N, h, T, T); each row sums to 1.
    MACs besides the two Linears: Q Kᵀ and A V cost T·T·d each per head, 2·T²·D in all.
    """

    def __init__(self, dim: int, heads: int):
        super().__init__()
        dim = _validate.positive_int(dim, "dim", "the token width", "MultiHeadSelfAttention")
        heads = _validate.positive_int(heads, "heads", "attention heads", "MultiHeadSelfAttention")
        if dim % heads:
            raise ValueError(f"dim ({dim}) must be divisible by heads ({heads}) so every head gets dim/heads.")
        self.heads, self.head_dim = heads, dim // heads
        self.qkv = nn.Linear(dim, 3 * dim)                       # W_Q, W_K, W_V stacked
        self.out = nn.Linear(dim, dim)

    def _qkv(self, x):
        n, t, _ = x.shape
        qkv = self.qkv(x).reshape(n, t, 3, self.heads, self.head_dim)   # (N, T, 3, h, d)
        return qkv.permute(2, 0, 3, 1, 4)                                # (3, N, h, T, d)

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        """(N, T, D) -> A: (N, h, T, T), A = softmax(Q Kᵀ / sqrt(d)) over the last axis."""
        q, k, _ = self._qkv(x)
        return torch.softmax(q @ k.transpose(-2, -1) / self.head_dim ** 0.5, dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, t, dim = x.shape
        q, k, v = self._qkv(x)                                           # each (N, h, T, d)
        a = torch.softmax(q @ k.transpose(-2, -1) / self.head_dim ** 0.5, dim=-1)   # (N, h, T, T)
        y = (a @ v).transpose(1, 2).reshape(n, t, dim)                   # (N, h, T, d) -> (N, T, D)
        return self.out(y)


class TransformerBlock(nn.Module):
    """Pre-norm transformer encoder block: x + MHSA(LN(x)), then x + MLP(LN(x)); (N, T, D) -> (N, T, D)."""

    def __init__(self, dim: int, heads: int, mlp_ratio: int = 2):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = MultiHeadSelfAttention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_ratio * dim), nn.GELU(), nn.Linear(mlp_ratio * dim, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class TinyViT(nn.Module):
    """A Vision Transformer (Dosovitskiy et al. 2021) small enough for a CPU.

    x: (N, C, H, W) -> logits (N, num_classes).
    patches (N, T, D) [+ class token -> T+1] + learned position embeddings → `depth` TransformerBlocks
    → LayerNorm → the class token's output (pooling="cls") or the mean over patch tokens ("mean") → Linear.
    `tokens(x)` returns the patch tokens after the last block, (N, T, D), for probing.
    position=False drops the position embeddings (then the model cannot tell where a patch came from).
    """

    def __init__(self, image_size: int = 28, patch_size: int = 7, in_channels: int = 1, num_classes: int = 10,
                 dim: int = 32, depth: int = 2, heads: int = 4, mlp_ratio: int = 2, pooling: str = "cls",
                 position: bool = True):
        super().__init__()
        for value, name in ((image_size, "image_size"), (patch_size, "patch_size"), (in_channels, "in_channels"),
                            (num_classes, "num_classes"), (dim, "dim"), (depth, "depth"), (heads, "heads"),
                            (mlp_ratio, "mlp_ratio")):
            _validate.positive_int(value, name, who="TinyViT")
        if image_size % patch_size:
            raise ValueError(f"image_size ({image_size}) must be a multiple of patch_size ({patch_size}).")
        _validate.choice(pooling, "pooling", ("cls", "mean"), "TinyViT")
        position = _validate.flag(position, "position", "TinyViT")
        self.pooling, self.num_patches = pooling, (image_size // patch_size) ** 2
        self.patch_embed = PatchEmbedding(patch_size, in_channels, dim)
        n_tokens = self.num_patches + (pooling == "cls")
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim)) if pooling == "cls" else None
        self.pos_embed = nn.Parameter(0.02 * torch.randn(1, n_tokens, dim)) if position else None
        self.blocks = nn.Sequential(*[TransformerBlock(dim, heads, mlp_ratio) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        t = self.patch_embed(x)                                          # (N, T, D)
        if self.cls_token is not None:
            t = torch.cat([self.cls_token.expand(len(t), -1, -1), t], dim=1)   # (N, T+1, D)
        if self.pos_embed is not None:
            t = t + self.pos_embed
        return self.norm(self.blocks(t))

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """Patch tokens after the encoder: (N, C, H, W) -> (N, T, D) (the class token removed)."""
        t = self._encode(x)
        return t[:, 1:] if self.cls_token is not None else t

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = self._encode(x)
        return self.head(t[:, 0] if self.pooling == "cls" else t.mean(dim=1))

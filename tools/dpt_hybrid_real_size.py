"""A real-size DPT-Hybrid (the structure and widths of Intel/dpt-hybrid-midas, random weights) for timing and a
parity check at full size; nothing of it is committed.

Run: /tmp/torchenv/bin/python tools/dpt_hybrid_real_size.py OUT_DIR
Writes OUT_DIR/model (config.json, model.safetensors) and OUT_DIR/reference.safetensors (pixel_values [1, 3, 384,
384], predicted_depth), and prints transformers' forward time on this machine.
"""
import sys
import time
from pathlib import Path

import torch
from safetensors.torch import save_file
from transformers import BitConfig, DPTConfig, DPTForDepthEstimation

out = Path(sys.argv[1])
torch.manual_seed(0)
config = DPTConfig(
    is_hybrid=True,
    backbone_config=BitConfig(embedding_size=64, hidden_sizes=[256, 512, 1024, 2048], depths=[3, 4, 9],
                              layer_type="bottleneck", global_padding="SAME", num_groups=32,
                              embedding_dynamic_padding=True, out_features=["stage1", "stage2", "stage3"]),
    backbone_featmap_shape=[1, 1024, 24, 24], hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
    intermediate_size=3072, image_size=384, patch_size=16, backbone_out_indices=[2, 5, 8, 11], readout_type="project",
    reassemble_factors=[1, 1, 1, 0.5], neck_hidden_sizes=[256, 512, 768, 768], neck_ignore_stages=[0, 1],
    fusion_hidden_size=256)
model = DPTForDepthEstimation(config).eval()
with torch.no_grad():
    for name, p in model.named_parameters():
        if name.endswith("cls_token") or name.endswith("position_embeddings"):
            p.normal_(0, 0.02)
    model.head.head[4].weight.abs_()
    model.head.head[4].bias.fill_(0.1)
model.save_pretrained(out / "model", safe_serialization=True)
pixels = torch.randn(1, 3, 384, 384, generator=torch.Generator().manual_seed(1))
with torch.no_grad():
    model(pixel_values=pixels)
    t = time.perf_counter()
    depth = model(pixel_values=pixels).predicted_depth
    print(f"transformers forward {time.perf_counter() - t:.2f} s, torch threads {torch.get_num_threads()}")
print("depth", tuple(depth.shape), depth.min().item(), depth.max().item())
save_file({"pixel_values": pixels, "predicted_depth": depth.contiguous()}, out / "reference.safetensors")

"""The reference for the speed target: the lecture's step in a minimal PyTorch script."""

import json

import torch

x = torch.tensor([1.0, 0.0, 1.0], dtype=torch.float64)
t = torch.tensor([1.0], dtype=torch.float64)
W1 = torch.tensor([[0.2, 0.4, -0.5], [-0.3, 0.1, 0.2]], dtype=torch.float64, requires_grad=True)
b1 = torch.tensor([-0.4, 0.2], dtype=torch.float64, requires_grad=True)
W2 = torch.tensor([[-0.3, -0.2]], dtype=torch.float64, requires_grad=True)
b2 = torch.tensor([0.1], dtype=torch.float64, requires_grad=True)
o1 = torch.sigmoid(W1 @ x + b1)
o2 = torch.sigmoid(W2 @ o1 + b2)
loss = 0.5 * ((t - o2) ** 2).sum()
loss.backward()
with torch.no_grad():
    update = [(p - 0.9 * p.grad).tolist() for p in (W1, b1, W2, b2)]
print(json.dumps({"loss": loss.item(), "forward": o1.tolist() + o2.tolist(), "update": update}))

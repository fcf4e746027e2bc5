"""Fit y = 3x + 2 by gradient descent with deepling's autograd: the smallest end-to-end training loop."""

import deepling as dl

dl.manual_seed(0)
x = dl.linspace(-1, 1, 100).reshape(100, 1)
y = 3 * x + 2 + 0.1 * dl.randn(100, 1)

w = dl.zeros(1, 1, requires_grad=True)
b = dl.zeros(1, requires_grad=True)
lr = 0.5
for step in range(101):
    loss = ((x @ w + b - y) ** 2).mean()
    loss.backward()
    with dl.no_grad():
        w -= lr * w.grad
        b -= lr * b.grad
    w.grad = None
    b.grad = None
    if step % 20 == 0:
        print(f"step {step:3d}  loss {loss.item():.4f}")
print(f"w = {w.item():.3f} (true 3), b = {b.item():.3f} (true 2)")

"""A PyTorch training script ports by changing the import: the same source runs on both frameworks."""

import importlib

import pytest

SCRIPT = '''
torch.manual_seed(0)

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(8 * 4 * 4, 10)
        self.drop = nn.Dropout(0.1)

    def forward(self, x):
        x = self.pool(F.relu(self.bn(self.conv1(x))))
        return self.fc(self.drop(torch.flatten(x, 1)))

X = torch.randn(128, 1, 8, 8)
y = torch.randint(0, 10, (128,))
loader = DataLoader(TensorDataset(X, y), batch_size=32, shuffle=True)
model = Net()
opt = torch.optim.Adam(model.parameters(), lr=1e-2, weight_decay=1e-4)
sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
losses = []
for epoch in range(4):
    model.train()
    total = 0.0
    for xb, yb in loader:
        opt.zero_grad()
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        total += loss.item() * xb.size(0)
    sched.step()
    losses.append(total / len(loader.dataset))
model.eval()
with torch.no_grad():
    acc = (model(X).argmax(dim=1) == y).float().mean().item()
torch.save(model.state_dict(), PATH)
state = torch.load(PATH)
model.load_state_dict(state)
keys = sorted(state.keys())
lr = sched.get_last_lr()[0]
'''


@pytest.mark.parametrize("framework", ["deepling", "torch"])
def test_same_script_runs_on_both(framework, tmp_path):
    root = importlib.import_module(framework)
    env = {
        "torch": root, "nn": importlib.import_module(f"{framework}.nn"),
        "F": importlib.import_module(f"{framework}.nn.functional"),
        "PATH": str(tmp_path / "model.pt"),
    }
    data = importlib.import_module(f"{framework}.utils.data")
    env.update(DataLoader=data.DataLoader, TensorDataset=data.TensorDataset)
    exec(SCRIPT, env)
    assert env["losses"][-1] < env["losses"][0]  # it learns
    assert env["keys"] == ["bn.bias", "bn.num_batches_tracked", "bn.running_mean", "bn.running_var", "bn.weight",
                           "conv1.bias", "conv1.weight", "fc.bias", "fc.weight"]
    assert env["lr"] == pytest.approx(0.0025)

"""cnnbook.parallel: the launcher of torchrun, the state-dict comparison and the BatchNorm -> GroupNorm swap.

The chapter (07_architectures) proves DDP equal to one process; these tests check the pieces it stands on,
with one small launch in all (two processes that all-reduce over loopback, one of which then fails).
"""

import socket
import textwrap

import pytest
import torch
import torch.nn as nn

from cnnbook.models import tiny_cnn
from cnnbook.parallel import LaunchError, batchnorm_to_groupnorm, launch, loopback_interface, max_abs_difference


# ----------------------------------------------------------------------------- max_abs_difference
def test_max_abs_difference_is_the_largest_entry_difference_by_hand():
    a = {"w": torch.tensor([[1.0, 2.0], [3.0, 4.0]]), "b": torch.tensor([0.5]), "n": torch.tensor(3)}
    b = {"w": torch.tensor([[1.0, 2.25], [3.0, 3.0]]), "b": torch.tensor([0.0]), "n": torch.tensor(3)}
    assert max_abs_difference(a, b) == 1.0                         # |4 - 3| beats |2 - 2.25| and |0.5 - 0|
    assert max_abs_difference(a, a) == 0.0


def test_max_abs_difference_compares_networks_through_their_state_dicts():
    net = nn.Linear(3, 2)
    other = nn.Linear(3, 2)
    expected = max((p.double() - q.double()).abs().max().item() for p, q in zip(net.parameters(), other.parameters()))
    assert max_abs_difference(net, other) == expected                   # compared in float64
    assert max_abs_difference(net, net.state_dict()) == 0.0


def test_max_abs_difference_names_entries_and_shapes_that_do_not_match():
    with pytest.raises(ValueError, match=r"only in a: \['extra'\].*same architecture"):
        max_abs_difference({"w": torch.zeros(2), "extra": torch.zeros(1)}, {"w": torch.zeros(2)})
    with pytest.raises(ValueError, match=r"w has shape \(2,\) in a but \(3,\) in b"):
        max_abs_difference({"w": torch.zeros(2)}, {"w": torch.zeros(3)})
    with pytest.raises(TypeError, match="state dict"):
        max_abs_difference([torch.zeros(2)], {"w": torch.zeros(2)})
    with pytest.raises(ValueError, match="empty"):
        max_abs_difference({}, {})


# ----------------------------------------------------------------------------- batchnorm_to_groupnorm
def test_batchnorm_to_groupnorm_swaps_every_batchnorm_and_keeps_the_other_weights():
    net = tiny_cnn(channels=4, batch_norm=True).double()
    swapped = batchnorm_to_groupnorm(net, groups=2)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in swapped.modules())
    norms = [m for m in swapped.modules() if isinstance(m, nn.GroupNorm)]
    assert [(m.num_groups, m.num_channels) for m in norms] == [(2, 4), (2, 8)]
    assert all(m.weight.dtype == torch.float64 for m in norms)
    assert torch.equal(swapped[0].weight, net[0].weight) and swapped[0].weight is not net[0].weight   # a copy
    assert isinstance(net[1], nn.BatchNorm2d)                                        # the original is untouched


def test_groupnorm_output_of_an_example_does_not_depend_on_the_rest_of_the_batch():
    """Why the swap restores data-parallel equality: normalising half a batch gives the same numbers for it."""
    torch.manual_seed(0)
    net = batchnorm_to_groupnorm(tiny_cnn(channels=4, batch_norm=True).double(), groups=2).train()
    x = torch.randn(8, 1, 14, 14, dtype=torch.float64)
    assert torch.allclose(net(x)[0::2], net(x[0::2]), atol=1e-12, rtol=0)
    bn = tiny_cnn(channels=4, batch_norm=True).double().train()
    assert not torch.allclose(bn(x)[0::2], bn(x[0::2]), atol=1e-6)                   # BatchNorm's does


def test_batchnorm_to_groupnorm_explains_bad_groups_and_missing_batchnorm():
    with pytest.raises(ValueError, match="3 groups do not divide"):
        batchnorm_to_groupnorm(tiny_cnn(channels=4, batch_norm=True), groups=3)
    with pytest.raises(ValueError, match="no BatchNorm2d"):
        batchnorm_to_groupnorm(tiny_cnn(channels=4), groups=2)
    with pytest.raises(TypeError, match="nn.Module"):
        batchnorm_to_groupnorm([nn.BatchNorm2d(4)], groups=2)
    assert isinstance(batchnorm_to_groupnorm(nn.BatchNorm2d(4), groups=2), nn.GroupNorm)


# ----------------------------------------------------------------------------- launch
def test_loopback_interface_is_an_interface_of_this_machine():
    assert loopback_interface() in [name for _, name in socket.if_nameindex()]


def test_launch_checks_its_arguments_before_starting_anything(tmp_path):
    script = tmp_path / "train.py"
    script.write_text("print('hello')\n")
    with pytest.raises(FileNotFoundError, match="write the training script first"):
        launch(tmp_path / "missing.py")
    (tmp_path / "notes.txt").write_text("")
    with pytest.raises(ValueError, match="give the script a .py name"):
        launch(tmp_path / "notes.txt")
    with pytest.raises(ValueError, match="nproc must be an int >= 1"):
        launch(script, nproc=0)
    with pytest.raises(TypeError, match="nproc=2"):
        launch(script, nproc=2.0)
    with pytest.raises(TypeError, match="args must be a list of strings"):
        launch(script, args="--lr 0.1")
    with pytest.raises(ValueError, match="timeout must be > 0"):
        launch(script, timeout=0)
    with pytest.raises(TypeError, match="path of a Python file"):
        launch(42)


def test_launch_all_reduces_over_loopback_and_quotes_a_failing_worker(tmp_path):
    """One launch: two gloo processes sum their ranks + 1 (= 3 on both), then rank 1 fails on purpose."""
    script = tmp_path / "allreduce.py"
    script.write_text(textwrap.dedent("""
        import os
        import sys
        import torch
        import torch.distributed as dist

        dist.init_process_group("gloo")
        total = torch.tensor([dist.get_rank() + 1.0])
        dist.all_reduce(total)
        # one write per line: two processes share stdout, and print() writes the text and its newline apart
        sys.stdout.write(f"rank {dist.get_rank()} of {dist.get_world_size()}: sum {total.item()}, "
                         f"interface {os.environ['GLOO_SOCKET_IFNAME']}\\n")
        sys.stdout.flush()
        dist.barrier()
        if dist.get_rank() == 1:
            raise RuntimeError("rank 1 fails on purpose")
        dist.destroy_process_group()
    """))
    with pytest.raises(LaunchError, match=r"(?s)exited with code 1 running allreduce\.py on 2 processes.*"
                                          r"rank 1 fails on purpose") as failure:
        launch(script, nproc=2, timeout=120)
    lines = sorted(line for line in failure.value.stdout.splitlines() if line.startswith("rank "))
    interface = loopback_interface()
    assert lines == [f"rank 0 of 2: sum 3.0, interface {interface}", f"rank 1 of 2: sum 3.0, interface {interface}"]
    assert failure.value.returncode == 1

"""Chapter 7c: the architecture searches (budgets, seeds, REINFORCE) and the equivariance measurement."""

import pytest
import torch
import torch.nn as nn

from cnnbook import nas

pytestmark = pytest.mark.usefixtures("one_thread")  # training on one thread, as the chapters do

SPACE = {"depth": (1,), "width": (2, 4), "kernel": (3, 5)}


def _toy_data():
    g = torch.Generator().manual_seed(0)
    y = torch.arange(64) % 2
    x = torch.randn(64, 1, 8, 8, generator=g) * 0.1 + y[:, None, None, None].float()
    return x, y


def test_search_space_has_18_candidates_and_build_follows_them():
    cands = nas.all_candidates()
    assert len(cands) == 3 * 3 * 2
    model = nas.build({"depth": 2, "width": 4, "kernel": 5})
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [4, 8] and convs[0].kernel_size == (5, 5)


def test_build_names_the_missing_keys():
    with pytest.raises(ValueError, match="kernel"):
        nas.build({"depth": 1, "width": 4})


def test_balanced_subset_takes_disjoint_equal_shares_of_every_class():
    x = torch.arange(100, dtype=torch.float32)[:, None]
    y = torch.arange(100) % 5
    a, b = nas.balanced_subset((x, y), 4, offset=0), nas.balanced_subset((x, y), 4, offset=4)
    assert torch.bincount(a[1]).tolist() == [4] * 5 and torch.bincount(b[1]).tolist() == [4] * 5
    assert not set(a[0].flatten().tolist()) & set(b[0].flatten().tolist())
    assert torch.equal(y[a[0].flatten().long()], a[1])                # each image keeps its own label
    with pytest.raises(ValueError, match="class"):
        nas.balanced_subset((x, y), 19, offset=4)


def test_evaluate_candidate_learns_separable_data_and_leaves_the_global_rng_alone():
    data = _toy_data()
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    acc = nas.evaluate_candidate({"depth": 1, "width": 4, "kernel": 3}, data, data, 30, batch_size=16, lr=0.05,
                                 optimizer="sgd", momentum=0.9)
    assert torch.equal(torch.random.get_rng_state(), before)
    assert acc > 0.9


def test_evaluate_candidate_is_a_function_of_its_arguments_and_the_cache_knows_the_settings():
    data, cache = _toy_data(), {}
    c = {"depth": 1, "width": 2, "kernel": 3}
    a = nas.evaluate_candidate(c, data, data, 3, cache=cache, batch_size=16)
    assert nas.evaluate_candidate(c, data, data, 3, batch_size=16) == a          # recomputed: same value
    nas.evaluate_candidate(c, data, data, 3, cache=cache, batch_size=16, lr=0.5)
    assert len(cache) == 2                              # another learning rate is another evaluation


def test_searches_stay_within_their_step_budget_and_count_every_step():
    data = _toy_data()
    rs = nas.random_search(data, data, budget=20, steps_per_candidate=5, space=SPACE, batch_size=16)
    sh = nas.successive_halving(data, data, budget=20, n_candidates=4, space=SPACE, batch_size=16)
    rl = nas.reinforce_search(data, data, budget=20, steps_per_candidate=5, space=SPACE, batch_size=16)
    for result in (rs, sh, rl):
        assert result["steps_used"] <= 20
        assert result["steps_used"] == sum(t[1] for t in result["trials"])
        assert result["best_val"] == max(t[2] for t in result["trials"] if t[0] == result["best"])
    assert len(rs["trials"]) == 4 and len(sh["trials"]) == 4 + 2 and len(rl["trials"]) == 4


@pytest.mark.parametrize("budget,n", [(6, 3), (14, 7), (24, 8), (25, 8), (100, 16)])
def test_successive_halving_never_overspends_and_keeps_the_best(budget, n, monkeypatch):
    space = {"depth": (1,), "width": (1, 2, 3, 4), "kernel": (1, 3, 5, 7)}       # 16 candidates
    calls = []

    def counting(c, train, val, steps, *args, **kw):                 # a score without training
        calls.append(steps)
        return float(c["width"] * 10 + c["kernel"])
    monkeypatch.setattr(nas, "evaluate_candidate", counting)
    result = nas.successive_halving(None, None, budget, n_candidates=n, space=space)
    assert sum(calls) == result["steps_used"] <= budget
    assert result["best"] == max((t[0] for t in result["trials"]), key=lambda c: c["width"] * 10 + c["kernel"])


def test_successive_halving_refuses_a_budget_that_cannot_give_each_candidate_a_step():
    # the old code charged 8 + 4 + 2 = 14 steps for a budget of 2
    with pytest.raises(ValueError, match="at least 24 steps"):
        nas.successive_halving(_toy_data(), _toy_data(), budget=2, n_candidates=8)
    with pytest.raises(ValueError, match="at least 64 steps"):   # the old code spent 16 + 8 + 4 + 6 = 34 of 30
        nas.successive_halving(_toy_data(), _toy_data(), budget=30, n_candidates=16)


def test_halving_rounds_counts_until_one_is_left():
    assert [nas.halving_rounds(n) for n in (2, 3, 4, 6, 8, 9)] == [1, 1, 2, 2, 3, 3]
    assert nas.halving_rounds(9, eta=3) == 2
    with pytest.raises(ValueError, match="eta"):
        nas.halving_rounds(8, eta=1)


def test_searches_depend_on_the_search_seed_only_through_their_picks():
    data = _toy_data()
    a = nas.random_search(data, data, 10, 5, seed=1, space=SPACE, batch_size=16)
    b = nas.random_search(data, data, 10, 5, seed=1, space=SPACE, batch_size=16)
    assert a["trials"] == b["trials"]


def test_controller_update_follows_the_softmax_gradient():
    controller = nas.Controller(SPACE)
    c = {"depth": 1, "width": 4, "kernel": 3}
    logits = {k: v.clone().requires_grad_(True) for k, v in controller.logits.items()}
    logp = sum(torch.log_softmax(logits[k], 0)[SPACE[k].index(c[k])] for k in SPACE)
    logp.backward()
    controller.update(c, advantage=0.5, lr=2.0)
    for k in SPACE:
        assert torch.allclose(controller.logits[k], logits[k].detach() + 2.0 * 0.5 * logits[k].grad)
    assert controller.log_prob(c) > float(logp.detach())               # a positive advantage makes c more likely


def test_reinforce_concentrates_on_the_best_arm_of_a_toy_reward():
    space = {"arm": (0, 1, 2, 3, 4)}
    reward = {0: 0.1, 1: 0.3, 2: 0.9, 3: 0.2, 4: 0.4}
    run = nas.reinforce(lambda c: reward[c["arm"]], episodes=150, space=space, lr=2.0, seed=0)
    p = run["controller"].probabilities()["arm"]
    assert int(p.argmax()) == 2 and p[2] > 0.8
    late = [c["arm"] for c, _ in run["trials"][-30:]]
    assert late.count(2) > 20
    assert abs(sum(p).item() - 1) < 1e-6


def test_reinforce_is_reproducible_and_validates_its_settings():
    space = {"arm": (0, 1)}
    a = nas.reinforce(lambda c: c["arm"], 10, space, seed=3)["trials"]
    b = nas.reinforce(lambda c: c["arm"], 10, space, seed=3)["trials"]
    assert a == b
    with pytest.raises(ValueError, match="baseline_decay"):
        nas.reinforce(lambda c: 0.0, 5, space, baseline_decay=1.0)
    with pytest.raises(ValueError, match="space"):
        nas.Controller({})


# ---------------------------------------------------------------------------- the chapter's figure
def test_plot_mean_and_spread_draws_mean_and_sample_std_and_needs_two_seeds():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from cnnbook import viz
    fig = viz.plot_mean_and_spread([100, 200], {"a": [[1.0, 3.0], [3.0, 5.0]]}, "digits", "accuracy (%)",
                                   title="t", logx=True)
    line = fig.axes[0].containers[0].lines[0]
    assert line.get_ydata().tolist() == [2.0, 4.0]                        # the mean over seeds
    bars = fig.axes[0].containers[0].lines[2][0].get_segments()
    assert abs((bars[0][1][1] - bars[0][0][1]) / 2 - 2 ** 0.5) < 1e-9      # ± sample std (ddof=1)
    plt.close(fig)
    with pytest.raises(ValueError, match="seeds"):
        viz.plot_mean_and_spread([100, 200], {"a": [[1.0, 3.0]]}, "x", "y")


def test_balanced_subset_takes_n_of_every_class_and_offsets_never_overlap():
    y = torch.arange(10).repeat_interleave(30)  # sorted by class, like the embedded split
    x = torch.arange(300).float().view(300, 1, 1, 1)  # each image remembers its index
    xa, ya = nas.balanced_subset((x, y), 5, offset=0, seed=1)
    xb, yb = nas.balanced_subset((x, y), 5, offset=5, seed=1)
    assert torch.equal(torch.bincount(ya, minlength=10), torch.full((10,), 5))
    assert torch.equal(y[xa.flatten().long()], ya)  # images and labels stay paired
    assert not set(xa.flatten().tolist()) & set(xb.flatten().tolist())
    assert (ya[:10] != ya[0]).any()  # shuffled, not class after class
    with pytest.raises(ValueError, match="cannot take"):
        nas.balanced_subset((x, y), 20, offset=20)


def test_balanced_subset_rejects_a_negative_offset_and_the_wrong_kinds():
    y = torch.arange(10).repeat_interleave(30)
    x = torch.zeros(300, 1, 1, 1)
    with pytest.raises(ValueError, match="offset must be an int >= 0"):
        nas.balanced_subset((x, y), 5, offset=-5)  # was: classes' last examples, silently
    with pytest.raises(TypeError, match="n_per_class|per_class must be an int"):
        nas.balanced_subset((x, y), 2.5)
    with pytest.raises(TypeError, match="pair"):
        nas.balanced_subset(x, 5)


def test_the_cache_key_includes_the_device(monkeypatch):
    data, cache = _toy_data(), {}
    c = {"depth": 1, "width": 2, "kernel": 3}
    nas.evaluate_candidate(c, data, data, 2, cache=cache, device="cpu", batch_size=16)
    [key] = cache
    assert "cpu" in key                                # a GPU run of the same candidate is another evaluation
    cache[key] = -1.0
    assert nas.evaluate_candidate(c, data, data, 2, cache=cache, device="cpu", batch_size=16) == -1.0
    assert nas.evaluate_candidate(c, data, data, 2, cache=cache, device=None, batch_size=16) == -1.0  # None = CPU


def test_evaluate_candidate_never_seeds_cuda_on_the_cpu_and_leaves_the_caller_rng(cuda_seed_calls):
    data = _toy_data()
    state = torch.get_rng_state()
    nas.evaluate_candidate({"depth": 1, "width": 2, "kernel": 3}, data, data, 2, batch_size=16)
    assert cuda_seed_calls == [] and torch.equal(torch.get_rng_state(), state)


def test_search_space_is_read_only_and_extends_by_copy():
    with pytest.raises(TypeError):
        nas.SEARCH_SPACE["depth"] = (9,)
    bigger = dict(nas.SEARCH_SPACE, batch_norm=(True, False))
    assert len(nas.all_candidates(bigger)) == 2 * len(nas.all_candidates())


# ---------------------------------------------------------------------------- regularised evolution, train_seed
def _fake_scores(monkeypatch, score=lambda c: float(c["width"] * 10 + c["kernel"])):
    """Replace training by a fixed score and record (candidate, steps, train_seed) of every evaluation."""
    calls = []

    def fake(c, train, val, steps, seed=0, *args, **kw):
        calls.append((dict(c), steps, seed))
        return score(c)
    monkeypatch.setattr(nas, "evaluate_candidate", fake)
    return calls


GRID16 = {"depth": (1,), "width": (1, 2, 3, 4), "kernel": (1, 3, 5, 7)}


def test_mutate_changes_exactly_one_decision_to_another_option():
    rng = __import__("random").Random(0)
    parent = {"depth": 2, "width": 8, "kernel": 3}
    for _ in range(50):
        child = nas.mutate(parent, rng)
        changed = [k for k in parent if child[k] != parent[k]]
        assert len(changed) == 1 and child[changed[0]] in nas.SEARCH_SPACE[changed[0]]
    assert nas.mutate({"depth": 1, "width": 2, "kernel": 3}, rng, SPACE)["depth"] == 1   # single option: kept
    with pytest.raises(TypeError, match="random.Random"):
        nas.mutate(parent, 0)
    with pytest.raises(ValueError, match="two options"):
        nas.mutate({"depth": 1}, rng, {"depth": (1,)})


def test_regularised_evolution_follows_real_et_al_tournament_mutation_and_ageing(monkeypatch):
    calls = _fake_scores(monkeypatch)
    run = nas.regularised_evolution(None, None, budget=100, steps_per_candidate=10, population=4, sample=4,
                                    seed=3, space=GRID16)
    assert run["steps_used"] == 100 == sum(t[1] for t in run["trials"]) == sum(c[1] for c in calls)
    assert len(run["trials"]) == 10 and run["children"] == 6
    first = [t[0] for t in run["trials"][:4]]
    assert len({tuple(c.values()) for c in first}) == 4                       # a distinct random start
    assert run["population"] == [t[0] for t in run["trials"][-4:]]            # ageing: the 4 youngest survive
    for i in range(4, 10):                                                    # every child is one mutation away
        alive = run["trials"][i - 4:i]                                        # from a member alive at its birth
        child = run["trials"][i][0]
        assert any(sum(child[k] != m[0][k] for k in child) == 1 for m in alive)
    assert run["best_val"] == max(t[2] for t in run["trials"])


def test_regularised_evolution_climbs_a_landscape_where_one_mutation_is_one_step_uphill(monkeypatch):
    # 8 yes/no decisions, score = how many are yes: the best is 1 of 256 candidates, and every mutation
    # flips one decision, so selection + mutation climb where random search can only hope to draw it
    _fake_scores(monkeypatch, score=lambda c: float(sum(c.values())))
    bits = {f"b{i}": (0, 1) for i in range(8)}
    found = [nas.regularised_evolution(None, None, 400, 10, population=4, sample=3, seed=s, space=bits)["best_val"]
             for s in range(100)]
    drawn = [nas.random_search(None, None, 400, 10, seed=s, space=bits)["best_val"] for s in range(100)]
    assert sum(f == 8 for f in found) > 2 * sum(d == 8 for d in drawn)        # 40 evaluations each
    assert sum(found) > sum(drawn)


def test_regularised_evolution_refuses_a_budget_smaller_than_its_population():
    with pytest.raises(ValueError, match="a budget of 240 fills it"):
        nas.regularised_evolution(_toy_data(), _toy_data(), budget=180, steps_per_candidate=60, population=4)
    with pytest.raises(ValueError, match="population"):
        nas.regularised_evolution(_toy_data(), _toy_data(), budget=100, steps_per_candidate=5, population=5,
                                  space=SPACE)


def test_train_seed_reaches_every_evaluation_and_leaves_the_picks_alone(monkeypatch):
    calls = _fake_scores(monkeypatch)
    for train_seed in (0, 7):
        nas.random_search(None, None, 40, 10, seed=1, space=GRID16, train_seed=train_seed)
        nas.successive_halving(None, None, 48, 4, seed=1, space=GRID16, train_seed=train_seed)
        nas.reinforce_search(None, None, 40, 10, seed=1, space=GRID16, train_seed=train_seed)
        nas.regularised_evolution(None, None, 60, 10, seed=1, space=GRID16, train_seed=train_seed)
    half = len(calls) // 2
    assert {c[2] for c in calls[:half]} == {0} and {c[2] for c in calls[half:]} == {7}
    assert [c[:2] for c in calls[:half]] == [c[:2] for c in calls[half:]]   # same candidates, other training


def test_train_seed_changes_the_training_of_a_real_candidate():
    data, cache = _toy_data(), {}
    nas.random_search(data, data, 3, 3, space={"depth": (1,), "width": (2,), "kernel": (3,)}, cache=cache,
                      batch_size=16, train_seed=0)
    nas.random_search(data, data, 3, 3, space={"depth": (1,), "width": (2,), "kernel": (3,)}, cache=cache,
                      batch_size=16, train_seed=5)
    assert sorted(key[2] for key in cache) == [0, 5]          # two trainings, keyed by their seed

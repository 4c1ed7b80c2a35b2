"""Grading cannot be gamed: the attacks of issues 16 and 25, tried through the real commands on the real
`a4_receptive_fields`, in three submissions (each costs a kernel start): a correct answer with honest idioms
by a student whose id has Unicode, a space, an apostrophe and `+` earns full marks; every attack the scan
refuses sits in one cell of its own after stub answers, and each is blanked while the tests still run;
always-equal answers and probes of the host's limits (tampering, processes, memory of one process and of
the whole tree, scratch space, /dev/shm, the socket folder, records sent after their cell's reply, display
updates, an output flood) score 0 and leave the course folder, HOME and /tmp untouched. Plus, without a
kernel: the static scan against each assignment's shortcuts, the slicing of test cells (no reference
implementation in a student's run), and the course command installed outside the checkout."""

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from cnnbook import course as course_cli
from cnnbook.course import grader, recording, scan
from cnnbook.course.sandbox import BWRAP_RESERVE_MB, missing_tools

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENTS_DIR = ROOT / "notebooks" / "assignments"
A4 = "a4_receptive_fields"

needs_sandbox = pytest.mark.skipif(bool(missing_tools()), reason=f"sandbox tools missing: {missing_tools()} "
                                   "(apt-get install bubblewrap; .ci/run installs it)")

STUB_RF = ("def output_size(n, kernel, stride=1, padding=0, dilation=1):\n    return 0\n\n\n"
           "def receptive_field(layers):\n    return [(1, 1) for _ in layers]\n")
HONEST = "José O'Brien+1"
ALWAYS_EQUAL = ("class Same(int):\n    def __eq__(self, other):\n        return True\n    __hash__ = int.__hash__\n\n\n"
                "def output_size(n, kernel, stride=1, padding=0, dilation=1):\n    return Same(0)\n\n\n"
                "def receptive_field(layers):\n    return [(Same(0), Same(0)) for _ in layers]\n")


WARN_IN_TESTS = ("\n\n_output_size = output_size\n\n\ndef output_size(*args, **kwargs):\n"
                 "    warnings.warn('a harmless warning, on stderr')\n    return _output_size(*args, **kwargs)\n")


def submission(base, rf=None, extra_cells=(), depth=None, last_cells=()):
    """A copy of notebook `base` with the `rf` answer cell (and optionally `depth_experiment`) replaced,
    `extra_cells` inserted after the rf cell (before every test) and `last_cells` appended at the end."""
    nb = copy_nb(base)
    out = []
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid == "rf" and rf is not None:
            cell.source = rf
        if gid == "depth_experiment" and depth is not None:
            cell.source = depth
        out.append(cell)
        if gid == "rf":
            out.extend(nbformat.v4.new_code_cell(src) for src in extra_cells)
    nb.cells = out + [nbformat.v4.new_code_cell(src) for src in last_cells]
    for n, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{n}"
    return nb


def copy_nb(nb):
    return nbformat.from_dict(nbformat.reads(nbformat.writes(nb), as_version=4))


def snapshot(folder: Path) -> dict:
    return {p: p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def attacked(tmp_path_factory):
    """Release a4, hand in one honest, one untouched and one submission per attack, autograde them all."""
    home, jupyter = tmp_path_factory.mktemp("home"), tmp_path_factory.mktemp("jupyter")
    (home / "notes.txt").write_text("the instructor's own file")
    mp = pytest.MonkeyPatch()
    mp.setenv("HOME", str(home))
    for var, sub in (("JUPYTER_CONFIG_DIR", "jc"), ("JUPYTER_DATA_DIR", "jd"), ("JUPYTER_RUNTIME_DIR", "jr"),
                     ("IPYTHONDIR", "ip"), ("MPLCONFIGDIR", "mpl")):
        mp.setenv(var, str(jupyter / sub))
    mp.delenv("JUPYTER_PATH", raising=False)
    root = tmp_path_factory.mktemp("course")
    course_cli.main(["release", str(root), str(ASSIGNMENTS_DIR / A4)])
    source = nbformat.read(root / "source" / A4 / f"{A4}.ipynb", as_version=4)
    released = nbformat.read(root / "release" / A4 / f"{A4}.ipynb", as_version=4)
    solution = next(c.source for c in source.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "rf")
    gradebook = root / "gradebook.db"
    canary = Path("/tmp") / f"cnnbook-canary-{os.getpid()}"
    detached = (f"import time, sqlite3; time.sleep(3); db = sqlite3.connect({str(gradebook)!r}); "
                "db.execute('update grade set manual_score = 99'); db.commit()")
    tamper = (
        "import os, sqlite3, subprocess\n"
        f"for path in ({str(canary)!r}, os.path.expanduser('~/owned'), {str(root / 'source' / A4 / (A4 + '.ipynb'))!r}):\n"
        "    try:\n        open(path, 'w').write('owned')\n    except OSError as e:\n        print('refused', path, type(e).__name__)\n"
        "try:\n"
        f"    db = sqlite3.connect({str(gradebook)!r}); db.execute('update grade set manual_score = 99'); db.commit()\n"
        "except Exception as e:\n    print('gradebook refused', type(e).__name__)\n"
        "try:\n"
        f"    subprocess.Popen(['python3', '-c', {detached!r}], start_new_session=True)\n"
        "    print('detached process started')\n"
        "except OSError as e:\n    print('detached process refused', type(e).__name__)\n"
    )
    resources = (
        "import subprocess\nchildren = []\ntry:\n    for _ in range(40):\n"
        "        children.append(subprocess.Popen(['sleep', '5']))\nexcept OSError as e:\n"
        "    print('fork refused after', len(children), type(e).__name__)\n"
        "try:\n    hog = bytearray(3 * 2**30)\n    print('allocated 3 GiB')\nexcept MemoryError:\n    print('3 GiB refused')\n"
    )
    flood = "# sandbox probe\nfor _ in range(200):\n    print('x' * 2**20, flush=True)"  # 200 messages of 1 MiB
    # probes of the sandbox itself: the scan would refuse them, so the fixture lets cells marked "# sandbox probe"
    # through the scan (as if it had a hole) to prove the host's limits hold on their own
    updates = ("# sandbox probe\nfrom IPython.display import display\nh = display('x', display_id=True)\n"
               "for _ in range(300):\n    h.update('y' * 2**20)\n")
    scratch = ("# sandbox probe\ntry:\n    open('/dev/shm/x', 'wb').write(b'x')\n    print('/dev/shm writable')\n"
               "except OSError as e:\n    print('/dev/shm refused', type(e).__name__)\nwritten = 0\ntry:\n    with open('big.bin', 'wb') as f:\n"
               "        for _ in range(400):\n            f.write(b'x' * 2**20); f.flush(); written += 1\n"
               "except OSError as e:\n    print('scratch full after', written, 'MiB', type(e).__name__)\n"
               "import os\nos.remove('big.bin')\n")
    ipc = ("# sandbox probe\nimport os, sys\nprint('seed offset', os.environ.get('CNNBOOK_SEED_OFFSET'))\n"
           "folder = os.path.dirname(sys.argv[sys.argv.index('-f') + 1])\n"
           "try:\n    open(os.path.join(folder, 'junk'), 'w').write('x')\n    print('ipc writable')\n"
           "except OSError as e:\n    print('ipc refused', type(e).__name__)\n")
    tree_memory = (  # a child would hold memory of its own: refused; four threads take 64 MiB blocks at once
        "# sandbox probe\nimport subprocess, sys, threading\n"
        "try:\n    subprocess.Popen([sys.executable, '-c', 'pass'])\n    print('tree: fork allowed')\n"
        "except OSError as e:\n    print('tree: fork refused', type(e).__name__)\n"
        "hogs, refusals = [], []\n"
        "def grab():\n    try:\n        while True:\n            hogs.append(b'x' * (64 * 2**20))\n"
        "    except MemoryError:\n        refusals.append(1)\n"
        "threads = [threading.Thread(target=grab) for _ in range(4)]\n[t.start() for t in threads]\n"
        "[t.join() for t in threads]\n"
        "peak = next(int(line.split()[1]) for line in open('/proc/self/status') if line.startswith('VmHWM:'))\n"
        "print('tree memory held', 64 * len(hogs), 'MiB, peak', peak // 1024, 'MiB, refusals', len(refusals))\n"
        "del hogs\n")
    # records keyed to their own test cell: a thread (started before the tests) sends, each time a new request
    # starts, a record under the header of the request that just replied, and a display update of it
    late_records = (
        "# sandbox probe\nimport threading, time\nfrom IPython import get_ipython\nkernel = get_ipython().kernel\n"
        "forged = {'application/vnd.cnnbook.record+json': {'kind': 'equal', 'name': 'forged after its reply', "
        "'got': {'t': 'int', 'v': 1}}}\nsent = []\n"
        "def forge():\n    last = None\n    while True:\n"
        "        header = kernel.get_parent().get('header') or {}\n"
        "        if header.get('msg_id') and last and header['msg_id'] != last['msg_id']:\n"
        "            content = {'data': forged, 'metadata': {}, 'transient': {'display_id': 'forged'}}\n"
        "            kernel.session.send(kernel.iopub_socket, 'display_data', content, parent={'header': last})\n"
        "            kernel.session.send(kernel.iopub_socket, 'update_display_data', content, parent={'header': header})\n"
        "            sent.append(last['msg_id'])\n"
        "        last = header if header.get('msg_id') else last\n        time.sleep(0.002)\n"
        "threading.Thread(target=forge, daemon=True).start()\n")
    honest = ("import sys\nimport time\nimport warnings\nimport math\n" + solution
              + "\n\nstarted = time.perf_counter()\nprint('a note on stderr', file=sys.stderr)\n"
              + "assert math.isclose(time.perf_counter() - started, 0, abs_tol=60)\n" + WARN_IN_TESTS)
    source_path = str(root / "source" / A4 / (A4 + ".ipynb"))
    # Attacks the scan refuses: each is one cell after the stub answers, most with the full solution in it, so
    # one that got through would score. A refused cell is blanked, so together they cost one kernel start.
    refused = {
        "rebind_checks": "check_equal = lambda *a, **k: None\n_cnnbook_record = lambda *a, **k: None\n",
        "patch_grading": "import cnnbook.course.student_checks as c\nc.check_equal = c.equal_problem = lambda *a: None\n",
        "exec_source": f"exec(open({source_path!r}).read())",
        "shortcut": "from cnnbook import rf as library\n" + solution,
        "magic_line": "d = %pwd\nfrom cnnbook.rf import receptive_field\n" + solution,
        "sys_modules": "import typing\nlib = typing.sys.modules['importlib'].import_module('cnnbook.rf')\n" + solution,
        "forge_display": "from IPython.display import display\n" + solution,
        "swallow_errors": "get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)\n" + solution,
        "unparsable": "x = (\n" + solution,
        "reference_helper": "def receptive_field(layers):\n"
                            "    return [(measured_receptive_field(layers[:i + 1]), 1) for i in range(len(layers))]",
    }
    visible = ("# sandbox probe\nimport os\nfor p in (" + repr(str(ASSIGNMENTS_DIR / A4 / (A4 + ".ipynb"))) + ", "
               + repr(source_path) + "):\n    print('found' if os.path.exists(p) else 'absent', p)")
    submissions = {
        # an id with Unicode, a space, an apostrophe and +; honest idioms, a warning on stderr in the test cells
        HONEST: submission(source, rf=honest),
        "refused": submission(released, rf=STUB_RF, extra_cells=[f"# attack {k}\n" + v for k, v in refused.items()]),
        # runtime attacks and probes of the host's limits: always-equal answers, then the probes
        "probes": submission(released, rf=ALWAYS_EQUAL, extra_cells=[
            late_records, "# sandbox probe\n" + tamper, "# sandbox probe\n" + resources, tree_memory, visible, ipc,
            scratch, updates], last_cells=["# sandbox probe\nprint('forged after a reply:', len(sent))", flood]),
    }
    original_scan = grader.refused_cells
    mp.setattr(grader, "refused_cells", lambda nb, *a, **k: {
        i: p for i, p in original_scan(nb, *a, **k).items() if not nb.cells[i].source.startswith("# sandbox probe")})
    others_before = None
    inbox = tmp_path_factory.mktemp("inbox")
    for student, nb in submissions.items():
        nbformat.write(nb, inbox / f"{student}.ipynb")
    assert course_cli.main(["collect", str(root), A4, str(inbox)]) == 0
    assert (root / "submitted" / HONEST / A4).is_dir()
    outside = {"source": snapshot(root / "source"), "release": snapshot(root / "release"),
               "home": snapshot(home), "submitted": snapshot(root / "submitted")}
    started = time.time()
    mp.setenv("CNNBOOK_SEED_OFFSET", "7919")  # grading must not pass it on: seeds are the notebook's own
    scores = course_cli.autograde(root, [A4], timeout=60)
    yield {"root": root, "scores": scores, "outside": outside, "home": home, "canary": canary,
           "seconds": time.time() - started, "others_before": others_before, "refused": list(refused)}
    mp.undo()


def autograded(root, student):
    return nbformat.read(root / "autograded" / student / A4 / f"{A4}.ipynb", as_version=4)


def auto_scores(root, student) -> float:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        sub = gb.find_submission_notebook(A4, A4, student)
        return sum(g.auto_score or 0 for g in sub.grades), sum(g.manual_score or 0 for g in sub.grades)


@needs_sandbox
def test_a_correct_answer_with_honest_idioms_and_an_unusual_id_earns_every_autograded_point(attacked):
    root = attacked["root"]
    graded = autograded(root, HONEST)
    tests = [c for c in graded.cells if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"]
    assert any(o.get("name") == "stderr" for c in tests for o in c.get("outputs", [])), "no stderr in a test cell"
    assert auto_scores(root, HONEST) == (8.0, 0.0)


@needs_sandbox
@pytest.mark.parametrize("attack", ["refused", "probes"])
def test_an_attack_scores_no_more_than_the_stub_answers(attacked, attack):
    """Stub answers score 0 (tests/test_grading.py grades the untouched student versions of every assignment)."""
    assert auto_scores(attacked["root"], attack) == (0.0, 0.0), f"{attack} scored above the stub answers' 0"


@needs_sandbox
def test_every_refused_attack_cell_was_blanked_with_its_reasons_and_the_tests_still_ran(attacked):
    root = attacked["root"]
    graded = autograded(root, "refused")
    for name in attacked["refused"]:
        (cell,) = [c for c in graded.cells if c.source.startswith(f"# attack {name}\n")]
        assert len(cell.outputs) == 1 and cell.outputs[0]["text"].startswith("[grader] this cell was not run: "), name
    text = "".join(o.get("text", "") for c in graded.cells for o in c.get("outputs", []))
    assert "IPython magics" in text and "cannot be read as Python" in text and "typing.sys" in text
    assert "measured_receptive_field is the instructor's reference" in text
    tests = [c for c in graded.cells if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"]
    assert all(c.get("execution_count") for c in tests), "every test cell still runs, on the stub answers"


@needs_sandbox
def test_the_sandbox_keeps_the_course_home_and_tmp_untouched_and_the_gradebook_out_of_reach(attacked):
    root, outside = attacked["root"], attacked["outside"]
    assert snapshot(root / "source") == outside["source"] and snapshot(root / "release") == outside["release"]
    assert snapshot(root / "submitted") == outside["submitted"]
    assert snapshot(attacked["home"]) == outside["home"] and not attacked["canary"].exists()
    text = "".join(o.get("text", "") for c in autograded(root, "probes").cells for o in c.get("outputs", []))
    assert "gradebook refused" in text and "refused" in text and "detached process refused PermissionError" in text
    assert "absent" in text and "found" not in text, "an instructor notebook was visible in the sandbox"
    for student in ("probes", HONEST, "refused"):  # no manual score was forged, for anyone
        assert auto_scores(root, student)[1] == 0.0


@needs_sandbox
def test_memory_processes_and_output_are_limited(attacked):
    root = attacked["root"]
    path = root / "autograded" / "probes" / A4 / f"{A4}.ipynb"
    assert path.stat().st_size < 20 * 2**20, f"graded notebook is {path.stat().st_size / 2**20:.0f} MiB"
    text = "".join(o.get("text", "") for c in nbformat.read(path, as_version=4).cells for o in c.get("outputs", []))
    assert "dropped]" in text
    assert "3 GiB refused" in text and "fork refused after 0 " in text and "tree: fork refused" in text
    held, peak, refusals = (int(w) for w in re.search(r"tree memory held (\d+) MiB, peak (\d+) MiB, refusals (\d+)",
                                                      text).groups())
    assert held >= 512 and refusals == 4, (held, refusals)  # it did allocate quickly, on four threads, to the cap
    assert peak <= 3072 - BWRAP_RESERVE_MB, f"the kernel (its whole tree: it cannot fork) held {peak} MiB"
    assert "scratch full after" in text and int(text.split("scratch full after ")[1].split()[0]) <= 256
    assert "/dev/shm refused" in text and "ipc refused" in text and "seed offset None" in text


@needs_sandbox
def test_a_record_counts_only_during_its_own_test_cell_and_nothing_updates_it_after_the_reply(attacked):
    """The probe's thread sent, after each cell's reply, a forged record under that cell's request and a display
    update of it under the next one: none reached any cell, so no test cell got a record more than its checks."""
    graded = autograded(attacked["root"], "probes")
    text = "".join(o.get("text", "") + json.dumps(o.get("data", {})) for c in graded.cells for o in c.get("outputs", []))
    sent = int(re.search(r"forged after a reply: (\d+)", text).group(1))
    tests = sum(1 for c in graded.cells if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code")
    assert sent >= tests, f"the probe sent {sent} forged records, fewer than the {tests} test cells"
    assert "forged after its reply" not in text and "more than the test makes" not in text


def test_static_scan_catches_the_shortcut_bypasses_of_every_assignment():
    lists = {p.parent.name: scan.forbidden_list(nbformat.read(p, as_version=4))
             for p in sorted(ASSIGNMENTS_DIR.glob("*/*.ipynb"))}
    bypasses = {
        "a1_convolution": ["_conv = F.conv2d", "out = torch.ops.aten.conv2d(x, w)", "import cnnbook.conv",
                           "from cnnbook.conv import _conv2d_loops", "f = getattr(F, 'con' + 'v2d')",
                           "exec('y = F.conv' + '2d(x, w)')", "m = __import__('torch').nn.functional",
                           "import importlib", "y = torch.nn.Conv2d(3, 4, 3)(x)", "g = F.__dict__['conv2d']"],
        "a2_five_components": ["y = F.max_pool2d(x, 2)", "from cnnbook.layers import max_pool2d",
                               "x.requires_grad_(); F.max_pool2d(x, 2).sum().backward()", "p = nn.MaxPool2d(2)"],
        "a3_training": ["loss = F.cross_entropy(z, y)", "opt = torch.optim.SGD(params, lr)", "torch.logsumexp(z, 1)"],
        "a4_receptive_fields": ["from cnnbook.rf import receptive_field as rf", "import cnnbook"],
        "a5_cam": ["from captum.attr import LayerGradCam", "import cnnbook.cam as c",
                   "from cnnbook.cam import grad_cam as g", "%run ../../source/a5_cam/a5_cam.ipynb"],
        "a6_architectures": ["import torchvision", "from cnnbook.models import SEBlock"],
    }
    assert set(bypasses) <= set(lists), "every assignment needs a forbidden list in its metadata"
    for name, codes in bypasses.items():
        assert lists[name], f"{name} has an empty forbidden list"
        for code in codes:
            assert scan.scan_cell(code, lists[name]), f"{name}: the scan missed {code!r}"
    assert lists["a5_cam"].count("cnnbook.cam.grad_cam") == 1


def test_every_instructor_solution_passes_the_static_scan_and_helpers_are_locked():
    for path in sorted(ASSIGNMENTS_DIR.glob("*/*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        assert scan.refused_cells(nb, scan.forbidden_list(nb), scan.locked_sources(nb), scan.allowed_list(nb)) == {}
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if cell.cell_type == "code":
                assert meta.get("solution") or meta.get("locked"), \
                    f"{path.name}: a plain code cell would be student code; lock it (nbgrader read-only)"
            if cell.cell_type == "code" and meta.get("grade"):
                assert any(f in cell.source for f in recording.CHECKERS), \
                    f"{path.name}: test cell {meta['grade_id']} must use the checks (the grader compares their values)"
        assert "**How it is graded.**" in nb.cells[0].source, f"{path.name}: the header must say how it is graded"


def test_record_only_drops_the_expected_values_from_test_cells():
    source = ("for k in cases:\n    check_tensor(conv2d(x, **k), F.conv2d(x, **k), f'conv {k}', atol=1e-4)\n"
              "check_between(acc, 0.5, reference_accuracy(), 'acc')\n")
    out = recording.record_only(source)
    assert "F.conv2d" not in out and "reference_accuracy" not in out
    assert "_cnnbook_record('tensor', f'conv {k}', conv2d(x, **k))" in out


def student_run_cells(name: str) -> dict:
    """{grade id or cell number: source} of the locked cells of assignment `name` as a student's run executes them."""
    nb = nbformat.read(ASSIGNMENTS_DIR / name / f"{name}.ipynb", as_version=4)
    cells = [c for c in nb.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("locked")
             and not c.metadata["nbgrader"].get("solution") and not c.metadata.get("cnnbook", {}).get("reference_only")]
    sources = recording.record_only_cells([(c.source, bool(c.metadata["nbgrader"].get("grade"))) for c in cells])
    return {c.metadata["nbgrader"].get("grade_id"): s for c, s in zip(cells, sources)}


def test_a_students_run_of_the_test_cells_holds_no_reference_implementation():
    """Test cells are sliced: a statement stays only if a record (or a later locked cell) needs it, so the
    reference helpers and expected values a test cell computes never exist where an answer could call them."""
    import ast

    gone = {("a9_beyond_2d", "test_circular_conv_fft"): {"circular_by_definition"},
            ("a2_five_components", "test_relu_dropout"): {"torch_relu_grad"},
            ("a7_feature_maps", "test_class_selectivity_hidden"): {"reference", "mu", "top", "second"},
            ("a7_feature_maps", "test_response_correlation_hidden"): {"ra", "rb"},
            ("a8_training_well", "test_batch_norm_hidden"): {"refs"},
            ("a10_cam_photographs", "test_window_and_step"): {"seen", "net"}}
    for (name, gid), names in gone.items():
        source = student_run_cells(name)[gid]
        defined = {n.id for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        defined |= {n.name for n in ast.walk(ast.parse(source)) if isinstance(n, ast.FunctionDef)}
        assert not names & defined, f"{name} {gid} still computes {names & defined} in a student's run:\n{source}"
        assert "_cnnbook_record(" in source and "check_" not in source
    # an answer that calls the test cell's reference: it worked against the original cell, it fails now
    nb = nbformat.read(ASSIGNMENTS_DIR / "a9_beyond_2d" / "a9_beyond_2d.ipynb", as_version=4)
    setup = next(c.source for c in nb.cells if c.cell_type == "code")
    cheat = "def circular_conv_fft(x, k):\n    return circular_by_definition(x, k)\n"
    test = next(c.source for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_circular_conv_fft")
    before = {}
    exec(setup + "\n" + cheat, before)
    exec(test, before)  # the cheat passes the instructor's own (visible and hidden) checks
    records, after = [], {"_cnnbook_record": lambda kind, name, got: records.append(name)}
    exec(setup + "\n" + cheat, after)
    with pytest.raises(NameError, match="circular_by_definition"):
        exec(student_run_cells("a9_beyond_2d")["test_circular_conv_fft"], after)
    assert records == []


GLOBAL_RNG = re.compile(r"torch\.(randn|rand|randint|randperm|normal|bernoulli)\((?![^)]*generator)|nn\.[A-Z]\w*\(|"
                        r"tiny_cnn\(|manual_seed\(")


def test_slicing_never_changes_the_random_inputs_a_test_gives_to_the_answers():
    """A dropped statement that draws from the global generator (a layer's initialisation, torch.randn) would
    shift every later draw, so a correct answer would meet other inputs than the reference did: in every
    assignment, no statement kept after a dropped draw in the same cell draws again (each locked cell starts
    from its own seed)."""
    import ast

    for path in sorted(ASSIGNMENTS_DIR.glob("*/*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        sliced = student_run_cells(path.parent.name)
        for cell in nb.cells:
            gid = cell.metadata.get("nbgrader", {}).get("grade_id")
            if cell.cell_type != "code" or not cell.metadata.get("nbgrader", {}).get("grade"):
                continue
            full = [ast.unparse(n) for n in recording._RecordOnly().visit(ast.parse(cell.source)).body]
            kept = {ast.unparse(n) for n in ast.parse(sliced[gid]).body}
            for i, statement in enumerate(full):
                if statement not in kept and GLOBAL_RNG.search(statement):
                    later = [s for s in full[i + 1:] if s in kept and GLOBAL_RNG.search(s)]
                    assert not later, f"{path.name} {gid}: dropping {statement[:60]!r} shifts the draws of {later}"


def test_slicing_keeps_what_the_records_need_across_cells_and_the_seeding():
    setup = "import torch"
    first = ("torch.manual_seed(0)\nx = torch.randn(3)\nexpected = x * 2\n"
             "def reference(t):\n    return t * 2\n"
             "check_tensor(double(x), reference(x), 'double')")
    second = ("pairs = []\nfor k in range(3):\n    pairs.append((k, double(x + k)))\n"
              "helper = [reference(p) for _, p in pairs]\n"
              "for k, p in pairs:\n    check_tensor(p, helper[k], f'double {k}')")
    out = recording.record_only_cells([(setup, False), (first, True), (second, True)])
    assert out[0] == setup
    assert "torch.manual_seed(0)" in out[1] and "x = torch.randn(3)" in out[1]  # `second` needs x
    assert "expected" not in out[1] and "def reference" not in out[1] and "reference" not in out[2]
    assert "pairs.append((k, double(x + k)))" in out[2] and "helper" not in out[2]
    assert "_cnnbook_record('tensor', f'double {k}', p)" in out[2]


def test_the_course_command_works_from_a_regular_install_outside_the_checkout(tmp_path):
    """`pip install .` (no deps, offline; the dependencies come from this environment's site-packages) into a
    fresh venv outside the checkout: the CLI answers --help and releases an assignment folder given as an
    argument; no notebook (no solution) is installed with the package."""
    import sysconfig

    build = tmp_path / "src"
    build.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, build / name)
    shutil.copytree(ROOT / "cnnbook", build / "cnnbook", ignore=shutil.ignore_patterns("__pycache__"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    site = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")  # torch, nbgrader, pip, setuptools...
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    subprocess.run([str(py), "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index", "-q",
                    str(build)], check=True, cwd=tmp_path, env=env, capture_output=True)
    installed = site / "cnnbook"
    assert installed.is_dir() and not list(installed.rglob("*.ipynb")), "the package must carry no notebooks"
    where = subprocess.run([str(py), "-c", "import cnnbook; print(cnnbook.__file__)"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, check=True).stdout
    assert where.startswith(str(installed)), where
    helped = subprocess.run([str(py), "-m", "cnnbook.course", "--help"], cwd=tmp_path, env=env,
                            capture_output=True, text=True)
    assert helped.returncode == 0 and "release" in helped.stdout and "autograde" in helped.stdout
    old = subprocess.run([str(py), "-m", "cnnbook.grading", "--help"], cwd=tmp_path, env=env,
                         capture_output=True, text=True)  # the deprecated command, for one release
    assert old.returncode == 0 and "release" in old.stdout and "python -m cnnbook.course" in old.stderr
    folder = tmp_path / "my_assignments" / A4
    shutil.copytree(ASSIGNMENTS_DIR / A4, folder)
    env = dict(env, HOME=str(tmp_path), JUPYTER_CONFIG_DIR=str(tmp_path / "jc"), JUPYTER_DATA_DIR=str(tmp_path / "jd"))
    done = subprocess.run([str(py), "-m", "cnnbook.course", "release", str(tmp_path / "course"), str(folder)],
                          cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "course" / "release" / A4 / f"{A4}.ipynb").is_file()

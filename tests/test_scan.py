"""The grader's static scan (`cnnbook.course.scan`), as a catalogue: bypass ideas a determined student
would try (every one must be refused) and honest idioms (every one must pass), against a1's rules with the
names a1's locked setup cell binds (`torch`, `F`, the checks). No kernel runs: the scan reads code only."""

from pathlib import Path

import nbformat
import pytest

from cnnbook.course import scan

ROOT = Path(__file__).resolve().parents[1]
A1 = ROOT / "notebooks" / "assignments" / "a1_convolution" / "a1_convolution.ipynb"


@pytest.fixture(scope="module")
def a1():
    nb = nbformat.read(A1, as_version=4)
    rules = scan.rules_for(nb)
    aliases = scan.module_aliases(scan.locked_sources(nb))
    return lambda source: scan.scan_cell(source, rules, aliases=aliases)


BYPASSES = {  # idea -> code (each must be refused, with a1's forbidden list: convolution, unfold, autograd ...)
    "plain shortcut": "y = F.conv2d(x, w)",
    "torch-level shortcut": "y = torch.conv2d(x, w)",
    "alias of the function": "c = F.conv2d",
    "import under another name": "from torch.nn.functional import conv2d as c",
    "module imported under another name": "import torch.nn.functional as G\ny = G.conv2d(x, w)",
    "other entry point: conv3d": "y = F.conv3d(x[:, :, None], w[:, :, None])",
    "other entry point: conv1d": "y = torch.conv1d(x, w)",
    "other entry point: convolution": "y = torch.convolution(x, w, None, [1, 1], [0, 0], [1, 1], False, [0, 0], 1)",
    "nn layer": "layer = torch.nn.Conv2d(3, 4, 3)",
    "unfold method": "p = x.unfold(2, 3, 1)",
    "as_strided": "p = x.as_strided((1, 1, 2, 2), (1, 1, 1, 1))",
    "torch.ops": "y = torch.ops.aten.conv2d(x, w)",
    "private module": "y = torch._C._nn.im2col(x, (3, 3), (1, 1), (0, 0), (1, 1))",
    "autograd.grad for the backward": "g = torch.autograd.grad(y, x)",
    "autograd.functional.vjp": "g = torch.autograd.functional.vjp(f, x)",
    "backward()": "y.sum().backward()",
    "torch.func": "g = torch.func.grad(f)(x)",
    "sys.modules through torch": "m = torch.sys.modules",
    "sys.modules through typing": "import typing\nm = typing.sys.modules",
    "sys.modules through warnings": "import warnings\nm = warnings.sys.modules['torch']",
    "sys.modules directly": "import sys\nF2 = sys.modules['torch.nn.functional']",
    "from sys import modules": "from sys import modules",
    "operator.attrgetter": "import operator\nf = operator.attrgetter('conv' + '2d')(F)",
    "builtins": "import builtins",
    "importlib": "import importlib\nm = importlib.import_module('torch.nn.functional')",
    "subprocess": "import subprocess",
    "os": "import os\nos.system('id')",
    "getattr by string": "f = getattr(F, 'con' + 'v2d')",
    "exec": "exec('y = F.conv' + '2d(x, w)')",
    "eval": "y = eval('F.conv2d')(x, w)",
    "__import__": "m = __import__('torch').nn.functional",
    "__dict__": "f = F.__dict__['conv2d']",
    "vars()": "f = vars(F)['conv2d']",
    "globals()": "g = globals()",
    "module as a value": "m = torch\ny = m.nn.functional.conv3d",
    "module as a default argument": "def f(x, m=F):\n    return m.conv3d(x)",
    "module passed to a function": "def f(m):\n    return m\nf(F)",
    "decorator reaching the shortcut": "@torch.nn.functional.conv2d\ndef f():\n    pass",
    "default argument reaching the shortcut": "def conv(x, w, impl=F.conv2d):\n    return impl(x, w)",
    "annotation reaching the shortcut": "y: F.conv2d = 0",
    "monkeypatching a library": "torch.allclose = lambda *a, **k: True",
    "dunder globals of a function": "g = conv2d.__globals__",
    "frame of a generator": "f = (i for i in ()).gi_frame.f_globals",
    "traceback frame": "try:\n    1 / 0\nexcept Exception as e:\n    f = e.__traceback__.tb_frame",
    "class hierarchy walk": "subs = object.__subclasses__()",
    "threads": "import threading",
    "gc": "import gc\nobjs = gc.get_objects()",
    "inspect": "import inspect",
    "ctypes through numpy": "import numpy as np\np = np.zeros(3).ctypes",
    "numpy convolution": "import numpy as np\ny = np.convolve(a, b)",
    "pickle via torch.load": "m = torch.load('x.pt')",
    "torch.jit": "f = torch.jit.script(g)",
    "IPython magic": "%run ../../source/a1_convolution/a1_convolution.ipynb",
    "magic in an assignment": "d = %pwd",
    "shell escape in an assignment": "d = !cat /etc/passwd",
    "help syntax": "F.conv2d?",
    "autocall": "/print F",
    "cell magic": "%%bash\nls",
    "get_ipython": "get_ipython().run_line_magic('pwd', '')",
    "display forges a record": "display({'application/vnd.cnnbook.record+json': {}}, raw=True)",
    "IPython history In": "print(In[-1])",
    "IPython history _ih": "print(_ih[-1])",
    "IPython output cache": "print(_3)",
    "the harness's record": "_cnnbook_record('equal', 'n', 14)",
    "cnnbook's own solution": "from cnnbook.conv import conv2d",
    "cnnbook as a module": "import cnnbook",
    "star import": "from torch.nn.functional import *",
    "class pattern reaching an attribute": "match F:\n    case object(conv2d=c):\n        pass",
    "stdout internals forge a message": "import sys\nsys.stdout.session.send(sys.stdout.pub_thread, 'display_data')",
    "unparsable cell": "def f(:\n    return F.conv2d(x, w)",
    "open a file": "text = open('/etc/passwd').read()",
    "private attribute": "x._version",
    "object.__getattribute__": "f = object.__getattribute__(F, 'conv2d')",
    "typing evaluates a string": "import typing\n\n\ndef f(x: \"__import__('os')\"):\n    pass\n\n\n"
                                 "os = typing.get_type_hints(f)['x']",
}

HONEST = {  # idiom -> code (each must pass)
    "loops and indexing": "def conv2d(x, w):\n    out = x.new_zeros(1)\n    for u in range(3):\n        out += x[:, u].sum()\n"
                          "    return out",
    "torch creation": "z = torch.zeros(2, 3)\no = torch.ones_like(z)\nr = torch.arange(6).reshape(2, 3)",
    "tensor arithmetic and reductions": "y = (x * 2 + 1).sum(dim=1).mean()\nm = torch.maximum(x, torch.zeros_like(x))",
    "F.pad": "xp = F.pad(x, (1, 1, 1, 1))",
    "einsum": "y = torch.einsum('nchw,oc->nohw', x, w)",
    "timing with perf_counter": "import time\nstart = time.perf_counter()\nelapsed = time.perf_counter() - start",
    "print to stderr": "import sys\nprint('note', file=sys.stderr)",
    "sys.stderr.write": "import sys\nsys.stderr.write('note\\n')",
    "warnings.warn": "import warnings\nwarnings.warn('slow path')",
    "helper function": "def _helper(a, b):\n    return a + b\n\n\ndef area(h, w):\n    return _helper(h, 0) * w",
    "helper class": "class Box:\n    def __init__(self, h, w):\n        self._h, self.w = h, w\n\n    def area(self):\n"
                    "        return self._h * self.w",
    "dataclass": "from dataclasses import dataclass\n\n\n@dataclass\nclass Layer:\n    k: int\n    s: int = 1",
    "comprehensions": "sizes = [k * k for k in range(1, 4)]\npairs = {k: v for k, v in zip('ab', (1, 2))}\n"
                      "total = sum(i for i in range(10))",
    "math conversions": "import math\nn = math.floor(7 / 2) + math.ceil(0.5) + int(math.sqrt(16))",
    "numpy conversions": "import numpy as np\na = np.asarray([1.0, 2.0], dtype=np.float32)\nt = torch.from_numpy(a)\n"
                         "m = float(np.mean(a))",
    "own asserts": "assert x.shape == (1, 3, 5, 5), 'unexpected shape'\nassert abs(1.0 - 0.999) < 1e-2",
    "item and float": "v = x.sum().item()\nf = float(x.mean())",
    "no_grad": "with torch.no_grad():\n    y = x * 2",
    "lambda and sorted": "order = sorted(range(5), key=lambda i: -i)",
    "itertools and functools": "import itertools\nimport functools\npairs = list(itertools.product(range(2), "
                               "range(2)))\ntotal = functools.reduce(lambda a, b: a + b, range(5))",
    "collections": "from collections import Counter, defaultdict\nc = Counter('abca')\nd = defaultdict(list)",
    "underscore loop variable": "for _ in range(3):\n    pass",
    "f-strings and print": "print(f'{x.shape} {3.14159:.2f}')",
    "try/except of one's own": "try:\n    v = int('12')\nexcept ValueError as error:\n    print(error)",
    "super().__init__ in a module": "class Net(torch.nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                                    "        self.w = torch.nn.Parameter(torch.zeros(3))\n\n"
                                    "    def forward(self, x):\n        return x * self.w",
    "random seed of one's own": "import random\nrandom.seed(0)\nk = random.randint(1, 3)",
    "isinstance and type": "ok = isinstance(x, torch.Tensor) and type(3) is int",
    "if __name__": "if __name__ == '__main__':\n    print('run')",
    "attribute names a library also uses": "class Conv:\n    def __init__(self, kernel, ops):\n"
                                           "        self.kernel, self.ops = kernel, ops\n\n\n"
                                           "n = sum(1 for m in torch.nn.Sequential().modules())",
}


@pytest.mark.parametrize("idea", BYPASSES)
def test_every_bypass_idea_is_refused(a1, idea):
    assert a1(BYPASSES[idea]), f"the scan let through {idea!r}: {BYPASSES[idea]!r}"


@pytest.mark.parametrize("idiom", HONEST)
def test_every_honest_idiom_passes(a1, idiom):
    assert a1(HONEST[idiom]) == [], idiom


def test_the_catalogues_are_large_enough():
    assert len(BYPASSES) >= 40 and len(HONEST) >= 20


def test_a_refusal_names_the_line_and_what_to_use_instead(a1):
    problems = a1("x = 1\nimport os\nprint(x)")
    assert problems and problems[0].startswith("line 2: os is not allowed")
    (problem,) = a1("import sys\nsys.exit(0)")
    assert "line 2" in problem and "sys.stderr" in problem
    (problem,) = a1("def f(:\n  pass")
    assert "cannot be read as Python" in problem and "not run" in problem


def test_every_instructor_solution_passes_its_own_scan():
    for path in sorted((ROOT / "notebooks" / "assignments").glob("*/*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        refused = scan.refused_cells(nb, scan.forbidden_list(nb), scan.locked_sources(nb), scan.allowed_list(nb))
        assert refused == {}, f"{path.name}: {refused}"


def test_an_assignment_allow_list_opens_only_what_it_names():
    rules = scan._Rules(["torch.nn.functional.conv1d"], ["torch.nn.functional.relu"])
    aliases = {"F": "torch.nn.functional", "torch": "torch"}
    assert scan.scan_cell("y = F.relu(x)", rules, aliases=aliases) == []
    assert scan.scan_cell("y = F.gelu(x)", rules, aliases=aliases)
    assert scan.scan_cell("y = F.conv1d(x, w)", rules, aliases=aliases)
    assert "torch:" in scan.allowed_summary() and "sys: " in scan.allowed_summary()


def test_the_instructors_reference_helpers_are_off_limits_to_answers():
    nb = nbformat.read(A1, as_version=4)
    helpers = scan.reference_only_sources(nb)
    assert helpers and "torch_gradients" in scan.defined_names(helpers)
    answer = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "conv2d_backward")
    answer.source = "def conv2d_backward(grad_out, x, weight, stride=1, padding=0):\n" \
                    "    return torch_gradients(x, weight, torch.zeros(weight.shape[0]), grad_out, stride=stride)"
    refused = scan.refused_cells(nb, scan.forbidden_list(nb), scan.locked_sources(nb), scan.allowed_list(nb), helpers)
    (problems,) = refused.values()
    assert "torch_gradients is the instructor's reference" in problems[0]


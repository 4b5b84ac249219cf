"""viz.graph and viz.outline: the DOT text and the outline of a small known graph, names, sharing, deep chains."""

import re

import numpy as np
import pytest

import scratchnet as sn

NODE = re.compile(r"^  ([ft]\d+) \[label=\"([^\"]*)\"", re.MULTILINE)
EDGE = re.compile(r"^  ([ft]\d+) -> ([ft]\d+)( \[label=\"(\d+)\"\])?;$", re.MULTILINE)


def small():
    """loss = sum((x * w + b).relu()) with x data, w and b requiring grad: ops Mul, Add, ReLU, Sum."""
    x = sn.tensor(np.ones((3, 2), dtype=np.float32))
    w = sn.tensor(np.full((3, 2), 0.5, dtype=np.float32), requires_grad=True)
    b = sn.tensor(np.zeros(2, dtype=np.float32), requires_grad=True)
    return (x * w + b).relu().sum(), x, w, b


def test_dot_has_one_node_per_op_and_leaf_and_an_edge_per_input():
    loss, *_ = small()
    dot = sn.viz.graph(loss)
    assert dot.startswith("digraph scratchnet {\n") and dot.rstrip().endswith("}")
    assert dot.count("{") == dot.count("}") == 1
    nodes = dict(NODE.findall(dot))
    assert len(nodes) == 4 + 3  # Mul, Add, ReLU, Sum + x, w, b
    ops = sorted(label.split("\\n")[0] for n, label in nodes.items() if n.startswith("f"))
    assert ops == ["Add", "Mul", "ReLU", "Sum"]
    assert sum(label.endswith("requires grad") for label in nodes.values()) == 2
    edges = EDGE.findall(dot)
    assert len(edges) == 2 + 2 + 1 + 1
    assert all(src in nodes and dst in nodes for src, dst, _, _ in edges)
    by_label = {label.split("\\n")[0]: n for n, label in nodes.items()}
    assert (by_label["ReLU"], by_label["Sum"], "", "") in edges  # one input: no position label
    assert nodes[by_label["Sum"]] == "Sum\\n() float32"
    assert nodes[by_label["Mul"]] == "Mul\\n(3, 2) float32"
    labels_of_mul_inputs = sorted(i for _, dst, _, i in edges if dst == by_label["Mul"])
    assert labels_of_mul_inputs == ["0", "1"]
    assert "dot -Tsvg" in dot


def test_parameter_names_from_a_dict_pairs_or_a_module():
    loss, _, w, b = small()
    dot = sn.viz.graph(loss, {"layer.weight": w, "layer.bias": b})
    assert 'label="layer.weight\\n(3, 2) float32\\nrequires grad"' in dot
    assert 'label="layer.bias\\n(2,) float32\\nrequires grad"' in dot
    text = sn.viz.outline(loss, [("W", w)])
    assert "W: (3, 2) float32  parameter, requires grad" in text
    model = sn.nn.Sequential(sn.nn.Linear(2, 3), sn.nn.Tanh())
    out = model(sn.randn(4, 2)).mean()
    for params in (model, model.named_parameters()):
        dot = sn.viz.graph(out, params)
        assert 'label="0.weight\\n(3, 2) float32' in dot and 'label="0.bias\\n(3,) float32' in dot


def test_outline_lines_and_shared_subgraphs_printed_once():
    x = sn.tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    a = x.exp()
    y = (a * a + a).sum()  # a is used three times
    lines = sn.viz.outline(y, {"x": x}).splitlines()
    assert lines[0] == "graph of a () float32 tensor: 4 ops, 1 leaves (1 require grad)"
    assert lines[1:] == [
        "#1 Sum () float32",
        "  #2 Add (2,) float32",
        "    #3 Mul (2,) float32",
        "      #4 Exp (2,) float32",
        "        x: (2,) float32  parameter, requires grad",
        "      #4 Exp (2,) float32  (shown above)",
        "    #4 Exp (2,) float32  (shown above)",
    ]
    assert sn.viz.graph(y, format="text") == sn.viz.outline(y)


def test_a_leaf_and_a_freed_graph():
    x = sn.tensor(np.zeros((2, 3)), requires_grad=True)
    assert sn.viz.outline(x).splitlines()[1] == "(2, 3) float64  leaf, requires grad"
    assert len(NODE.findall(sn.viz.graph(x))) == 1
    y = (x * 2).sum()
    y.backward()
    assert "(inputs freed by backward)" in sn.viz.outline(y)
    assert "(inputs freed by backward)" in sn.viz.graph(y)


def test_a_10000_op_chain_needs_no_recursion():
    x = sn.tensor(np.ones(2, dtype=np.float32), requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0
    dot = sn.viz.graph(y)
    assert len(NODE.findall(dot)) == 10_000 + 1 + 10_000  # the ops, x, and each op's constant 1.0
    lines = sn.viz.outline(y).splitlines()
    assert len(lines) == 1 + 10_000 + 10_001
    assert max(len(s) for s in lines) < 200  # deep lines carry their depth, not 20,000 spaces
    assert lines[10_001].strip() == "[depth 10000] (2,) float32  leaf, requires grad"  # x, deepest of all
    assert lines[-1] == "  () float32  leaf"  # the constant of the last op, one level under it


def test_bad_arguments():
    loss, *_ = small()
    with pytest.raises(TypeError, match="expected a Tensor"):
        sn.viz.graph(np.ones(2))
    with pytest.raises(ValueError, match="format must be 'dot' or 'text'"):
        sn.viz.graph(loss, format="svg")
    with pytest.raises(TypeError, match=r"params\['w'\] is a ndarray"):
        sn.viz.outline(loss, {"w": np.ones(2)})


def test_names_with_quotes_are_escaped():
    loss, _, w, _ = small()
    dot = sn.viz.graph(loss, {'the "w"': w})
    assert 'label="the \\"w\\"\\n' in dot

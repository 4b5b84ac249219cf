"""The graph behind a tensor, for readers: Graphviz DOT text and a plain-text outline.

    loss = F.cross_entropy(model(x), y)
    open("graph.dot", "w").write(sn.viz.graph(loss, model))   # then: dot -Tsvg graph.dot -o graph.svg
    print(sn.viz.outline(loss, model))

Each op (``Function``) is a node labelled with its class name and the shape
and dtype of its output; each leaf tensor is a node with its shape, dtype and
whether it requires grad, and with its name when ``params`` names it (a dict
name -> Tensor, an iterable of (name, Tensor) pairs such as
``model.named_parameters()``, or a Module). Edges follow the data, from an
op's inputs to the op; for ops of several inputs they are labelled with the
input's position. No Graphviz is needed to make the text, only to draw it.

The walk is iterative (a 10,000-op chain is fine) and must happen before
``backward()`` frees the graph (or after one with ``retain_graph=True``): an
op whose inputs were freed is drawn without them.
"""

from .tensor import Tensor

MAX_INDENT = 40  # outline levels indented; deeper lines carry their depth instead


def graph(tensor, params=None, *, format="dot"):
    """The graph that computed ``tensor`` as Graphviz DOT (``format="dot"``) or as ``outline`` (``"text"``).

    Render the DOT with ``dot -Tsvg graph.dot -o graph.svg`` (or ``-Tpng``).
    Ops are grey boxes (the output's op is green), leaves that require grad
    are blue ellipses, other leaves (data, constants) white ones.
    """
    if format == "text":
        return outline(tensor, params)
    if format != "dot":
        raise ValueError(f"graph: format must be 'dot' or 'text', got {format!r}")
    funcs, leaves, edges, out_meta = _walk(tensor, "graph")
    names = _names(params, "graph")
    lines = [
        "digraph scratchnet {",
        "  // render: dot -Tsvg graph.dot -o graph.svg",
        '  node [fontname="Helvetica", fontsize=10];',
        '  edge [fontname="Helvetica", fontsize=8];',
    ]
    for f, node in funcs.items():
        shape, dtype = out_meta[f]
        label = f"{type(f).__name__}\\n{shape} {dtype}"
        if f.inputs is None:
            label += "\\n(inputs freed by backward)"
        color = "darkolivegreen1" if f is tensor.creator else "lightgrey"
        lines.append(f'  {node} [label="{label}", shape=box, style=filled, fillcolor={color}];')
    for node, t in leaves.values():
        label = _escape(names[id(t)][0]) + "\\n" if id(t) in names else ""
        label += f"{tuple(t.shape)} {t.dtype}" + ("\\nrequires grad" if t._rg else "")
        color = "lightblue" if t._rg else "white"
        lines.append(f'  {node} [label="{label}", shape=ellipse, style=filled, fillcolor={color}];')
    for src, dst, index in edges:
        lines.append(f"  {src} -> {dst}" + (f' [label="{index}"];' if index is not None else ";"))
    lines.append("}")
    return "\n".join(lines) + "\n"


def outline(tensor, params=None):
    """The graph as indented text: one line per op or leaf, depth first from the output.

    An op's inputs are the lines indented under it, in argument order. Ops
    are numbered (#n); an op reached again (a shared subgraph) is printed as
    ``#n ... (shown above)`` instead of being expanded twice.
    """
    funcs, leaves, _, out_meta = _walk(tensor, "outline")
    names = _names(params, "outline")
    n_grad = sum(t._rg for _, t in leaves.values())
    lines = [
        (
            f"graph of a {tuple(tensor.shape)} {tensor.dtype} tensor: {len(funcs)} ops, {len(leaves)} leaves "
            f"({n_grad} require grad)"
        )
    ]
    numbers = {}
    stack = [(tensor, 0)]
    while stack:
        t, depth = stack.pop()
        indent = "  " * min(depth, MAX_INDENT) + (f"[depth {depth}] " if depth > MAX_INDENT else "")
        f = t.creator
        if f is None:
            name = f"{names[id(t)][0]}: " if id(t) in names else ""
            kind = ("parameter" if id(t) in names else "leaf") + (", requires grad" if t._rg else "")
            lines.append(f"{indent}{name}{tuple(t.shape)} {t.dtype}  {kind}")
            continue
        shape, dtype = out_meta[f]
        if f in numbers:
            lines.append(f"{indent}#{numbers[f]} {type(f).__name__} {shape} {dtype}  (shown above)")
            continue
        numbers[f] = len(numbers) + 1
        freed = "  (inputs freed by backward)" if f.inputs is None else ""
        lines.append(f"{indent}#{numbers[f]} {type(f).__name__} {shape} {dtype}{freed}")
        for x in reversed(f.inputs or ()):
            stack.append((x, depth + 1))
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- the walk


def _walk(tensor, caller):
    """Every op and leaf behind ``tensor``: ({Function: node id}, {id(leaf): (node id, leaf)},
    [(source node, op node, input position or None)], {Function: (output shape, dtype)})."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{caller}: expected a Tensor, got {type(tensor).__name__}")
    funcs, leaves, edges = {}, {}, []
    out_meta = {}
    if tensor.creator is None:
        leaves[id(tensor)] = ("t0", tensor)
        return funcs, leaves, edges, out_meta
    root = tensor.creator
    funcs[root] = "f0"
    out_meta[root] = (tuple(tensor.shape), tensor.dtype)
    stack = [root]
    while stack:
        f = stack.pop()
        inputs = f.inputs or ()
        for i, x in enumerate(inputs):
            index = i if len(inputs) > 1 else None
            c = x.creator
            if c is None:
                if id(x) not in leaves:
                    leaves[id(x)] = (f"t{len(leaves)}", x)
                edges.append((leaves[id(x)][0], funcs[f], index))
                continue
            if c not in funcs:
                funcs[c] = f"f{len(funcs)}"
                out_meta[c] = (tuple(x.shape), x.dtype)
                stack.append(c)
            edges.append((funcs[c], funcs[f], index))
    return funcs, leaves, edges, out_meta


def _names(params, caller):
    """{id(tensor): (name, tensor)} from a dict, (name, tensor) pairs or a Module (its named_parameters)."""
    if params is None:
        return {}
    if hasattr(params, "named_parameters"):
        params = params.named_parameters()
    items = params.items() if isinstance(params, dict) else params
    names = {}
    for item in items:
        try:
            name, t = item
        except (TypeError, ValueError):
            raise TypeError(
                f"{caller}: params must be a dict name -> Tensor, (name, Tensor) pairs or a Module, got an item "
                f"{item!r}"
            ) from None
        if not isinstance(t, Tensor):
            raise TypeError(f"{caller}: params[{name!r}] is a {type(t).__name__}, not a Tensor")
        names[id(t)] = (str(name), t)  # the tensor is kept so its id stays its own
    return names


def _escape(text):
    return text.replace("\\", "\\\\").replace('"', '\\"')

"""Documents: what each command shows, as plain data that render/ lays out.

The fourth stage of the data flow (DESIGN.md): spec -> symbolic -> numeric -> documents ->
render.  Each builder gathers values already computed (by derive.symbolic and derive.numeric)
into dicts and frozen dataclasses; nothing here formats a number or writes LaTeX, Markdown or
HTML, and nothing here imports render.

    worked.py       the worked example of one training step (`derive example`; the network
                    problems' solutions)
    derivations.py  an activation's or a loss's derivation (`derive activation`, `derive loss`)
    training.py     a training run, or the three modes side by side (`derive train`)
    descent.py      a fit or a minimisation by gradient descent (`derive descend`)

Problem sets (derive.problemset) and marking (derive.marking, derive.grading) build their own
plain data beside the computing they do.  Importing this package imports none of them.
"""

"""logship's benchmark suite: ``python -m bench`` (``--quick`` for a tiny run, ``--shapes`` for the matrix alone).

Modules: :mod:`bench.floor` (the unavoidable work, in one tight loop: the
standard library's floor and the fastest floor), :mod:`bench.seed` (the
original Lambda's approach), :mod:`bench.intake` (the Datadog intake emulator
in its own process), :mod:`bench.harness` (what every measurement shares:
running the contenders, timing, stolen CPU), :mod:`bench.matrix` (the shape
matrix: every log shape against both floors), :mod:`bench.child`
(fresh-interpreter measurements: imports, first invocation, memory),
:mod:`bench.run` (the runner: table, JSON, plots), :mod:`bench.instructions`
(instructions per invocation under valgrind, for comparing builds on a noisy
machine), :mod:`bench.price` (Lambda GB-seconds and dollars per TB from the
measured CPU time).
"""

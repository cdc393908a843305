"""logship's benchmark suite: ``python -m bench`` (``--quick`` for a tiny run).

Modules: :mod:`bench.floor` (the unavoidable work, in one tight loop),
:mod:`bench.seed` (the original Lambda's approach), :mod:`bench.intake`
(the Datadog intake emulator in its own process), :mod:`bench.child`
(fresh-interpreter measurements: imports, first invocation, memory),
:mod:`bench.run` (the runner: table, JSON, plot), :mod:`bench.instructions`
(instructions per invocation under valgrind, for comparing builds on a noisy machine).
"""

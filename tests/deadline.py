"""How long a test waits for a state or an event before it counts as a failure.

A deadline only catches a test that hangs; it never judges speed. It is set for a
machine many times slower than a quiet one: two cores shared with other work, as on a
busy CI runner or a laptop with CPU burners beside the suite.
"""

DEADLINE_S = 900.0

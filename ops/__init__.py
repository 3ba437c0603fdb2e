"""Operator commands, run from a checkout against a deployed bridge: `python -m ops.replay` (dead
letters and poison messages) and `python -m ops.golive` (the go-live check). Not part of the Function
App package (.funcignore); they may start the local stack from devtools/, never the other way round."""

"""The real `dermagraph serve` in a subprocess: the helper lives in ``evals.live_server`` (the load benchmark
uses it too); the tests import it from here."""

from evals.live_server import DERMAGRAPH, START_TIMEOUT_S, AppServer, free_port, isolated_var_dir

__all__ = ["DERMAGRAPH", "START_TIMEOUT_S", "AppServer", "free_port", "isolated_var_dir"]

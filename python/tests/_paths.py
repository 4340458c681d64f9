"""Where the tests find the repository's data and (under ctest) the cokv-profile binary."""
import os

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.environ.get("COKV_TEST_DATA") or os.path.join(HERE, "..", "..", "tests", "data")
REAL_TABLE = os.path.join(DATA, "tables", "synthetic.cokv-ssv.budget.json")
COKV_PROFILE = os.environ.get("COKV_PROFILE", "")

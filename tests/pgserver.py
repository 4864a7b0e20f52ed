"""``python -m tests.pgserver -- CMD [ARGS...]``: run CMD with ``DATABASE_URL`` set to a
throwaway PostgreSQL cluster (the noxfile's PostgreSQL session). The code, and its
documentation, are in :mod:`tests.harness.postgres`.
"""

import sys

from tests.harness.postgres import PostgresError, find_pg_bin, main, running_postgres

__all__ = ["PostgresError", "find_pg_bin", "main", "running_postgres"]

if __name__ == "__main__":
    sys.exit(main())

"""``python -m rag_plugins.cli``."""

import sys

from rag_plugins.cli import main

if __name__ == "__main__":
    sys.exit(main())

import sys

from bankmarketing_client.cli import main

sys.exit(main())

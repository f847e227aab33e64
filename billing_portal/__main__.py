import sys

from billing_portal.cli import main

sys.exit(main())

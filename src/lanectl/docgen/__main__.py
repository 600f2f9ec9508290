from __future__ import annotations

import sys

from lanectl.docgen import main

sys.exit(main())

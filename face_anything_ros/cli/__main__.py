"""``python -m face_anything_ros.cli``: the same entry point as the ``face-anything`` script."""

import sys

from face_anything_ros.cli.main import main

sys.exit(main())

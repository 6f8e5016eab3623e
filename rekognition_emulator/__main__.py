"""`python -m rekognition_emulator serve | models ...`"""

import sys

from rekognition_emulator.emulator.cli import main

sys.exit(main())

# expect: compile
# Relative imports have nothing to import.
from . import secrets
def handler(event, context):
    return 1
